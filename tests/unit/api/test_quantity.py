"""Quantities: parsing, exact arithmetic and upstream's canonical printing."""

import pytest

from kajitori.api import quantity


@pytest.mark.parametrize(("text", "printed"), [
    ("1536Mi", "1536Mi"), ("100m", "100m"), ("1500m", "1500m"), ("0.5", "500m"),
    ("1024Ki", "1Mi"), ("1000", "1k"), ("1.5Gi", "1536Mi"), ("0.5Gi", "512Mi"),
    ("1e3", "1e3"), ("12e2", "1200"), ("0.1n", "1n"), ("-1.5", "-1500m"),
    ("2048", "2048"), ("0.5Ki", "512"), ("1000000m", "1k"), ("0", "0"), ("+1", "+1"),
    ("0.0001", "100u"), ("5G", "5G"), ("10Gi", "10Gi"),
])
def test_prints_like_upstream(text, printed):
    assert str(quantity.parse(text)) == printed


@pytest.mark.parametrize("text", ["abc", "1 ", "", "1.5.5", "1.5Gi "])
def test_malformed_is_format_error(text):
    with pytest.raises(quantity.QuantityError) as info:
        quantity.parse(text)
    assert str(info.value) == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def test_unknown_suffix():
    with pytest.raises(quantity.QuantityError, match="unable to parse quantity's suffix"):
        quantity.parse("1kk")


def test_value_and_milli_value_round_up():
    assert quantity.parse("1500m").value() == 2
    assert quantity.parse("-1500m").value() == -2
    assert quantity.parse("1.5").milli_value() == 1500
    assert quantity.parse("1Ki").value() == 1024


def test_comparison_and_arithmetic_are_exact():
    assert quantity.parse("1Ki") == quantity.parse("1024")
    assert quantity.parse("500m") < quantity.parse("1")
    total = quantity.parse("100m") + quantity.parse("0.2")
    assert str(total) == "300m"
    assert str(quantity.parse("1Gi") - quantity.parse("512Mi")) == "512Mi"
    assert str(quantity.from_int(0) + quantity.parse("1Ki")) == "1Ki"


def test_json_numbers_are_quantities():
    assert str(quantity.from_json(0.5)) == "500m"
    assert str(quantity.from_json(2)) == "2"
