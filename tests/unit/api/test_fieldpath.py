"""FieldsV1 sets: parsed and written as a v1.33 apiserver writes them, and their algebra."""

from __future__ import annotations

import json

import pytest

from kajitori.api import fieldpath
from kajitori.api.fieldpath import Set

# A Deployment created by `kubectl create deployment`, as a v1.33 cluster records it.
CREATED = json.loads(r'''{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{
"f:progressDeadlineSeconds":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},
"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},
"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{
"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},
"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},
"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},
"f:terminationGracePeriodSeconds":{}}}}}''')


def fields(text: str) -> Set:
    return Set.from_fields_v1(json.loads(text))


def test_fields_v1_round_trips_byte_for_byte() -> None:
    parsed = Set.from_fields_v1(CREATED)
    assert json.dumps(parsed.to_fields_v1()) == json.dumps(CREATED)


def test_keys_are_written_in_upstream_order() -> None:
    s = Set()
    for path in [("v:\"b\"",), ("i:0",), ('k:{"port":8080}',), ('k:{"port":80}',), ("f:z",),
                 ("f:a",), ('k:{"port":443}',), ("v:\"a\"",), ("v:5",)]:
        s.insert(path)
    # Fields, then keys by value (numerically: 80 < 443 < 8080), then values (numbers before
    # strings), then indexes.
    assert list(s.to_fields_v1()) == ["f:a", "f:z", 'k:{"port":80}', 'k:{"port":443}',
                                      'k:{"port":8080}', "v:5", 'v:"a"', 'v:"b"', "i:0"]


def test_member_with_children_carries_a_dot() -> None:
    s = Set()
    s.insert(("f:spec", "f:ports", 'k:{"port":80}'))
    s.insert(("f:spec", "f:ports", 'k:{"port":80}', "f:name"))
    assert s.to_fields_v1() == {"f:spec": {"f:ports": {'k:{"port":80}': {".": {},
                                                                          "f:name": {}}}}}


def test_empty_object_is_a_member_and_dot_marks_membership() -> None:
    s = fields('{"f:a":{},"f:b":{"f:c":{}},"f:d":{".":{},"f:e":{}}}')
    assert s.has(("f:a",))
    assert not s.has(("f:b",))
    assert s.has(("f:b", "f:c"))
    assert s.has(("f:d",))
    assert s.has(("f:d", "f:e"))


def test_unknown_element_types_are_dropped_and_malformed_ones_refused() -> None:
    assert fields('{"f:a":{},"x:future":{}}').to_fields_v1() == {"f:a": {}}
    with pytest.raises(fieldpath.FieldsError):
        fields('{"a":{}}')
    with pytest.raises(fieldpath.FieldsError):
        fields('{"k:{notjson":{}}')
    with pytest.raises(fieldpath.FieldsError):
        Set.from_fields_v1([])


def test_elements_are_canonical() -> None:
    # Keys sorted by name, integral floats as integers, HTML characters escaped as Go does.
    assert fieldpath.canonical_element('k:{"protocol":"TCP","containerPort":80.0}') == \
        'k:{"containerPort":80,"protocol":"TCP"}'
    assert fieldpath.value_element("a<b&c") == 'v:"a\\u003cb\\u0026c"'
    assert fields('{"k:{\\"b\\":1,\\"a\\":2}":{}}').has(('k:{"a":2,"b":1}',))


def test_path_strings_name_fields_keys_values_and_indexes() -> None:
    path = ("f:spec", "f:containers", 'k:{"name":"nginx"}', "f:ports",
            'k:{"containerPort":80,"protocol":"TCP"}', "f:hostPort")
    assert fieldpath.path_string(path) == \
        '.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].hostPort'
    assert fieldpath.path_string(("f:metadata", "f:finalizers", 'v:"x"')) == \
        '.metadata.finalizers[="x"]'
    assert fieldpath.path_string(("f:args", "i:2")) == ".args[2]"


def test_union_intersection_difference() -> None:
    a = fields('{"f:a":{},"f:b":{"f:c":{},"f:d":{}}}')
    b = fields('{"f:b":{"f:d":{},"f:e":{}},"f:f":{}}')
    assert a.union(b).to_fields_v1() == {"f:a": {}, "f:b": {"f:c": {}, "f:d": {}, "f:e": {}},
                                         "f:f": {}}
    assert a.intersection(b).to_fields_v1() == {"f:b": {"f:d": {}}}
    assert a.difference(b).to_fields_v1() == {"f:a": {}, "f:b": {"f:c": {}}}
    assert b.difference(a).to_fields_v1() == {"f:b": {"f:e": {}}, "f:f": {}}


def test_difference_keeps_children_of_a_removed_member_recursive_difference_drops_them() -> None:
    a = fields('{"f:status":{".":{},"f:phase":{}},"f:spec":{}}')
    status = fields('{"f:status":{}}')
    assert a.difference(status).to_fields_v1() == {"f:spec": {}, "f:status": {"f:phase": {}}}
    assert a.recursive_difference(status).to_fields_v1() == {"f:spec": {}}


def test_operations_leave_their_operands_alone() -> None:
    a = fields('{"f:a":{"f:b":{}}}')
    b = fields('{"f:a":{"f:c":{}}}')
    a.union(b)
    a.difference(b)
    assert a.to_fields_v1() == {"f:a": {"f:b": {}}}
    assert b.to_fields_v1() == {"f:a": {"f:c": {}}}


def test_paths_iterate_members_before_children() -> None:
    s = fields('{"f:spec":{"f:template":{"f:x":{}},"f:replicas":{}}}')
    assert list(s.paths()) == [("f:spec", "f:replicas"), ("f:spec", "f:template", "f:x")]


def test_empty_and_equality() -> None:
    assert Set().empty()
    assert not fields('{"f:a":{}}').empty()
    assert fields('{"f:a":{},"f:b":{}}') == fields('{"f:b":{},"f:a":{}}')
    assert fields('{"f:a":{}}') != fields('{"f:a":{"f:b":{}}}')
