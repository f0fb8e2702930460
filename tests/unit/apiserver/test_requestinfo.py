"""RequestInfo: verbs from method and path shape, as upstream's requestinfo.go derives them."""

from __future__ import annotations

import pytest

from kajitori.apiserver import requestinfo


def parse(method: str, path: str, **query: str) -> requestinfo.RequestInfo:
    return requestinfo.parse(method, path, query)


@pytest.mark.parametrize(("method", "path", "query", "verb"), [
    ("GET", "/api/v1/namespaces/ns/pods", {}, "list"),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "true"}, "watch"),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "1"}, "watch"),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "false"}, "list"),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "0"}, "list"),
    ("HEAD", "/api/v1/namespaces/ns/pods", {}, "list"),
    ("GET", "/api/v1/namespaces/ns/pods/p", {}, "get"),
    ("POST", "/api/v1/namespaces/ns/pods", {}, "create"),
    ("PUT", "/api/v1/namespaces/ns/pods/p", {}, "update"),
    ("PATCH", "/api/v1/namespaces/ns/pods/p", {}, "patch"),
    ("DELETE", "/api/v1/namespaces/ns/pods/p", {}, "delete"),
    ("DELETE", "/api/v1/namespaces/ns/pods", {}, "deletecollection"),
    ("GET", "/api/v1/pods", {}, "list"),
    ("GET", "/api/v1/pods", {"watch": "true"}, "watch"),
    ("OPTIONS", "/api/v1/namespaces/ns/pods/p", {}, ""),
])
def test_verb_from_method_and_path_shape(method: str, path: str, query: dict[str, str],
                                         verb: str) -> None:
    info = requestinfo.parse(method, path, query)
    assert info.is_resource_request
    assert info.verb == verb


def test_watch_query_is_true_unless_false_or_zero() -> None:
    # Upstream: "Any query value that is not 0 or false is considered true", case-insensitively.
    assert parse("GET", "/api/v1/namespaces/ns/pods", watch="True").verb == "watch"
    assert parse("GET", "/api/v1/namespaces/ns/pods", watch="FALSE").verb == "list"


def test_get_of_a_named_object_stays_get_with_watch_query() -> None:
    # Upstream only turns a GET into a watch when the path names no object.
    assert parse("GET", "/api/v1/namespaces/ns/pods/p", watch="true").verb == "get"


@pytest.mark.parametrize("value", ["", "yes", "2"])
def test_any_other_watch_value_is_a_watch(value: str) -> None:
    assert parse("GET", "/api/v1/pods", watch=value).verb == "watch"


@pytest.mark.parametrize("selector", ["metadata.name=web", "metadata.name==web",
                                      "status.phase=Running,metadata.name=web"])
def test_field_selector_on_a_name_names_the_object(selector: str) -> None:
    # kubectl get pod web -w: a watch of the collection, authorized as a watch of "web"
    info = parse("GET", "/api/v1/namespaces/ns/pods", fieldSelector=selector, watch="true")
    assert (info.verb, info.resource, info.name) == ("watch", "pods", "web")
    assert parse("GET", "/api/v1/namespaces/ns/pods", fieldSelector=selector).verb == "list"


@pytest.mark.parametrize("query", [
    {"fieldSelector": "metadata.name!=web"},
    {"fieldSelector": "spec.nodeName=web"},
    {"fieldSelector": "metadata.name=a%2Fb"},
    {"fieldSelector": "metadata.name=.."},
    {"fieldSelector": "metadata.name"},  # does not parse
    {"fieldSelector": "metadata.name=web", "limit": "ten"},  # the options do not decode
    {"fieldSelector": "metadata.name=web", "labelSelector": "a in"},
])
def test_no_name_unless_the_selector_pins_a_valid_one(query: dict[str, str]) -> None:
    info = requestinfo.parse("GET", "/api/v1/namespaces/ns/pods", query)
    assert (info.verb, info.name) == ("list", "")


def test_field_selector_does_not_name_a_deletecollection() -> None:
    info = parse("DELETE", "/api/v1/namespaces/ns/pods", fieldSelector="metadata.name=web")
    assert (info.verb, info.name) == ("deletecollection", "")


def test_namespaced_collection() -> None:
    info = parse("GET", "/api/v1/namespaces/ns/pods")
    assert (info.api_prefix, info.group, info.version) == ("api", "", "v1")
    assert (info.namespace, info.resource, info.name, info.subresource) == ("ns", "pods", "", "")
    assert info.parts == ("pods",)


def test_group_resource_with_name_and_subresource() -> None:
    info = parse("PUT", "/apis/apps/v1/namespaces/ns/deployments/web/scale")
    assert (info.api_prefix, info.group, info.version) == ("apis", "apps", "v1")
    assert (info.namespace, info.resource, info.name, info.subresource) == (
        "ns", "deployments", "web", "scale")
    assert info.verb == "update"


def test_cluster_scoped_resource() -> None:
    info = parse("GET", "/api/v1/nodes/n1")
    assert (info.namespace, info.resource, info.name, info.verb) == ("", "nodes", "n1", "get")
    info = parse("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles")
    assert (info.group, info.resource, info.verb) == ("rbac.authorization.k8s.io", "clusterroles",
                                                     "list")


def test_namespaces_collection_is_cluster_scoped() -> None:
    info = parse("GET", "/api/v1/namespaces")
    assert (info.namespace, info.resource, info.name, info.verb) == ("", "namespaces", "", "list")
    info = parse("POST", "/api/v1/namespaces")
    assert (info.namespace, info.resource, info.verb) == ("", "namespaces", "create")


def test_namespace_path_is_the_namespace_itself() -> None:
    info = parse("GET", "/api/v1/namespaces/x")
    # upstream reports the namespace's own name as the request's namespace too
    assert (info.namespace, info.resource, info.name, info.subresource) == (
        "x", "namespaces", "x", "")
    assert info.verb == "get"
    assert parse("DELETE", "/api/v1/namespaces/x").verb == "delete"


@pytest.mark.parametrize("subresource", ["status", "finalize"])
def test_namespace_subresources(subresource: str) -> None:
    info = parse("PUT", f"/api/v1/namespaces/x/{subresource}")
    assert (info.namespace, info.resource, info.name, info.subresource) == (
        "x", "namespaces", "x", subresource)
    assert info.verb == "update"


def test_pod_subresource() -> None:
    info = parse("GET", "/api/v1/namespaces/ns/pods/p/log")
    assert (info.resource, info.name, info.subresource, info.verb) == ("pods", "p", "log", "get")
    info = parse("POST", "/api/v1/namespaces/ns/serviceaccounts/default/token")
    assert (info.resource, info.name, info.subresource, info.verb) == (
        "serviceaccounts", "default", "token", "create")


def test_legacy_watch_prefix() -> None:
    info = parse("GET", "/api/v1/watch/namespaces/ns/pods")
    assert (info.verb, info.namespace, info.resource, info.name) == ("watch", "ns", "pods", "")
    info = parse("GET", "/api/v1/watch/namespaces/ns/pods/p")
    assert (info.verb, info.namespace, info.resource, info.name) == ("watch", "ns", "pods", "p")
    info = parse("GET", "/apis/apps/v1/watch/deployments")
    assert (info.verb, info.group, info.namespace, info.resource) == (
        "watch", "apps", "", "deployments")


@pytest.mark.parametrize("path", [
    "/", "/healthz", "/version", "/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1",
    "/openapi/v3", "/openapi/v3/api/v1", "/metrics",
])
def test_non_resource_paths(path: str) -> None:
    info = parse("GET", path)
    assert not info.is_resource_request
    assert info.verb == "get"
    assert info.path == path


def test_non_resource_verb_is_lower_cased_method() -> None:
    assert parse("POST", "/healthz").verb == "post"
    assert parse("DELETE", "/apis").verb == "delete"
