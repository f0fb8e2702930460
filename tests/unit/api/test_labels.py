"""Label selector grammar, matching and errors, as upstream's labels package answers."""

import pytest

from kajitori.api import errors, labels

QNAME_HELP = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
              "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
              "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def _parse_error(text: str) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as info:
        labels.parse(text)
    assert info.value.code == 400
    return info.value


@pytest.mark.parametrize(("text", "have", "expected"), [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "web"}, True),
    ("app!=web", {"app": "db"}, True),
    ("app!=web", {}, True),
    ("app in (web,db)", {"app": "db"}, True),
    ("app notin (web,db)", {"app": "db"}, False),
    ("app notin (web,db)", {}, True),
    ("app", {"app": ""}, True),
    ("!app", {"app": "x"}, False),
    ("tier=fe,app", {"tier": "fe"}, False),
    ("n>3", {"n": "4"}, True),
    ("n<3", {"n": "4"}, False),
    ("n>3", {"n": "four"}, False),
    ("", {"anything": "x"}, True),
])
def test_selector_matches_like_upstream(text, have, expected):
    assert labels.parse(text).matches(have) is expected


def test_selector_prints_sorted_by_key_with_sorted_values():
    assert str(labels.parse("z=1, a in (y,x), !b")) == "a in (x,y),!b,z=1"


def test_missing_operator_names_the_operators():
    assert _parse_error("a b").status["message"] == (
        "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt")


def test_trailing_garbage_after_value_is_reported_without_prefix():
    assert _parse_error("a=b c").status["message"] == (
        "found 'c', expected: ',' or 'end of string'")


def test_leading_comma_expects_identifier():
    assert _parse_error(",a").status["message"] == (
        "found ',', expected: !, identifier, or 'end of string'")


def test_invalid_key_prints_nil_path_as_go_does():
    assert _parse_error("k+v=1").status["message"] == (
        f'unable to parse requirement: <nil>: Invalid value: "k+v": {QNAME_HELP}')


def test_invalid_value_is_reported_at_its_index_and_key():
    message = _parse_error("a=-x").status["message"]
    assert message.startswith('unable to parse requirement: values[0][a]: Invalid value: "-x": '
                              "a valid label must be an empty string")


def test_gt_needs_an_integer():
    assert _parse_error("a>x").status["message"] == (
        "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' "
        "operators, the value must be an integer")


def test_label_selector_dict_conversion():
    sel = labels.from_label_selector({"matchLabels": {"app": "web"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["fe", "be"]},
        {"key": "canary", "operator": "DoesNotExist"}]})
    assert sel.matches({"app": "web", "tier": "fe"})
    assert not sel.matches({"app": "web", "tier": "fe", "canary": "1"})
    assert labels.from_label_selector({}).matches({"x": "y"})
    assert not labels.from_label_selector(None).matches({})


def test_label_selector_unknown_operator():
    with pytest.raises(errors.StatusError) as info:
        labels.from_label_selector({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
    assert info.value.status["message"] == '"Foo" is not a valid label selector operator'


def test_label_selector_in_without_values():
    with pytest.raises(errors.StatusError) as info:
        labels.from_label_selector({"matchExpressions": [{"key": "a", "operator": "In"}]})
    assert info.value.status["message"] == (
        "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't "
        "be empty")


def test_label_key_and_value_rules():
    assert labels.is_qualified_name("example.com/app") == []
    assert labels.is_qualified_name("a" * 64) == [
        "name part must be no more than 63 characters"]
    assert labels.is_qualified_name("/app") == ["prefix part must be non-empty"]
    assert labels.is_qualified_name("Ex.com/app")[0].startswith(
        "prefix part a lowercase RFC 1123 subdomain must consist of")
    assert labels.is_valid_label_value("") == []
    assert labels.is_valid_label_value("x" * 64) == ["must be no more than 63 characters"]
