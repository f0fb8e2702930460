"""Discovery documents as kubectl reads them: aggregated v2/v2beta1 and the legacy fallback."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from kajitori.api import catalogue
from kajitori.apiserver import discovery

SERVER = "10.0.0.1:6443"
V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
KUBECTL_ACCEPT = f"{V2},{V2BETA1},application/json"  # what kubectl sends for /api and /apis
FULL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]


@pytest.fixture
def docs() -> discovery.DiscoveryDocuments:
    return discovery.DiscoveryDocuments(catalogue.builtin(), server_address=SERVER)


def render(docs: discovery.DiscoveryDocuments, path: str, accept: str = "application/json",
           ) -> tuple[discovery.Rendered, Any]:
    rendered = docs.render(path, accept)
    assert rendered is not None, path
    return rendered, json.loads(rendered.body)


def by_name(entries: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {entry[key]: entry for entry in entries}


# --- aggregated ---------------------------------------------------------------------------------

def test_api_aggregated_v2_for_kubectl(docs: discovery.DiscoveryDocuments) -> None:
    rendered, body = render(docs, "/api", KUBECTL_ACCEPT)
    assert rendered.content_type == V2
    assert body["kind"] == "APIGroupDiscoveryList"
    assert body["apiVersion"] == "apidiscovery.k8s.io/v2"
    assert body["metadata"] == {}
    [core] = body["items"]
    assert core["metadata"] == {"name": ""}
    [v1] = core["versions"]
    assert (v1["version"], v1["freshness"]) == ("v1", "Current")
    resources = by_name(v1["resources"], "resource")
    assert resources["namespaces"] == {
        "resource": "namespaces",
        "responseKind": {"group": "", "version": "v1", "kind": "Namespace"},
        "scope": "Cluster",
        "singularResource": "namespace",
        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        "shortNames": ["ns"],
        "subresources": [
            {"subresource": "finalize",
             "responseKind": {"group": "", "version": "v1", "kind": "Namespace"},
             "verbs": ["update"]},
            {"subresource": "status",
             "responseKind": {"group": "", "version": "v1", "kind": "Namespace"},
             "verbs": STATUS_VERBS},
        ],
    }


def test_aggregated_pods_entry(docs: discovery.DiscoveryDocuments) -> None:
    _, body = render(docs, "/api", V2)
    pods = by_name(body["items"][0]["versions"][0]["resources"], "resource")["pods"]
    assert pods["scope"] == "Namespaced"
    assert pods["shortNames"] == ["po"]
    assert pods["categories"] == ["all"]
    assert pods["verbs"] == FULL_VERBS
    subs = by_name(pods["subresources"], "subresource")
    assert list(subs) == ["attach", "binding", "ephemeralcontainers", "eviction", "exec", "log",
                          "portforward", "proxy", "resize", "status"]
    assert subs["eviction"] == {
        "subresource": "eviction",
        "responseKind": {"group": "policy", "version": "v1", "kind": "Eviction"},
        "verbs": ["create"]}
    assert subs["exec"]["responseKind"]["kind"] == "PodExecOptions"


def test_apis_aggregated_lists_named_groups_in_priority_order(
        docs: discovery.DiscoveryDocuments) -> None:
    rendered, body = render(docs, "/apis", KUBECTL_ACCEPT)
    assert rendered.content_type == V2
    names = [item["metadata"]["name"] for item in body["items"]]
    assert names[:5] == ["apiregistration.k8s.io", "apps", "events.k8s.io",
                         "authentication.k8s.io", "authorization.k8s.io"]
    assert names[-3:] == ["discovery.k8s.io", "resource.k8s.io", "flowcontrol.apiserver.k8s.io"]
    assert "" not in names
    groups = {item["metadata"]["name"]: item for item in body["items"]}
    assert [v["version"] for v in groups["autoscaling"]["versions"]] == ["v2", "v1"]
    assert [v["version"] for v in groups["resource.k8s.io"]["versions"]] == ["v1beta2", "v1beta1"]


def test_apis_aggregated_deployments_entry(docs: discovery.DiscoveryDocuments) -> None:
    _, body = render(docs, "/apis", V2)
    apps = next(item for item in body["items"] if item["metadata"]["name"] == "apps")
    deployments = by_name(apps["versions"][0]["resources"], "resource")["deployments"]
    assert deployments == {
        "resource": "deployments",
        "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "scope": "Namespaced",
        "singularResource": "deployment",
        "verbs": FULL_VERBS,
        "shortNames": ["deploy"],
        "categories": ["all"],
        "subresources": [
            {"subresource": "scale",
             "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
             "verbs": STATUS_VERBS},
            {"subresource": "status",
             "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
             "verbs": STATUS_VERBS},
        ],
    }


def test_v2beta1_when_only_v2beta1_is_acceptable(docs: discovery.DiscoveryDocuments) -> None:
    rendered, body = render(docs, "/apis", f"{V2BETA1},application/json")
    assert rendered.content_type == V2BETA1
    assert body["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    v2, _ = render(docs, "/apis", V2)
    assert json.loads(v2.body)["items"] == body["items"]


# --- negotiation --------------------------------------------------------------------------------

@pytest.mark.parametrize(("accept", "expected"), [
    (KUBECTL_ACCEPT, "v2"),
    ("application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io", "v2"),
    ("application/json ; g=apidiscovery.k8s.io ; v=v2 ; as=APIGroupDiscoveryList", "v2"),
    (f"{V2BETA1}, {V2}", "v2beta1"),
    (f"application/json, {V2}", None),
    ("application/json", None),
    ("application/json, */*", None),
    ("", None),
    ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList," + V2BETA1,
     "v2beta1"),
    ("application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
     + V2BETA1, "v2beta1"),
    ("application/vnd.kubernetes.protobuf,application/json", None),
    ("application/json;as=Table;v=v1;g=meta.k8s.io", None),
])
def test_aggregated_version_takes_the_first_acceptable(accept: str, expected: str | None) -> None:
    assert discovery.aggregated_version(accept) == expected


def test_legacy_when_client_prefers_plain_json(docs: discovery.DiscoveryDocuments) -> None:
    rendered, body = render(docs, "/apis", f"application/json, {V2}")
    assert rendered.content_type == "application/json"
    assert body["kind"] == "APIGroupList"


def test_group_and_version_documents_are_always_legacy(docs: discovery.DiscoveryDocuments) -> None:
    rendered, body = render(docs, "/apis/apps/v1", KUBECTL_ACCEPT)
    assert rendered.content_type == "application/json"
    assert body["kind"] == "APIResourceList"


# --- legacy -------------------------------------------------------------------------------------

def test_api_versions(docs: discovery.DiscoveryDocuments) -> None:
    rendered, body = render(docs, "/api")
    assert rendered.content_type == "application/json"
    assert body == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": SERVER}],
    }


def test_api_group_list(docs: discovery.DiscoveryDocuments) -> None:
    _, body = render(docs, "/apis")
    assert (body["kind"], body["apiVersion"]) == ("APIGroupList", "v1")
    groups = by_name(body["groups"], "name")
    assert next(iter(groups)) == "apiregistration.k8s.io"
    assert "" not in groups
    assert groups["apps"] == {
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }
    assert groups["resource.k8s.io"]["preferredVersion"] == {
        "groupVersion": "resource.k8s.io/v1beta2", "version": "v1beta2"}


def test_api_group(docs: discovery.DiscoveryDocuments) -> None:
    _, body = render(docs, "/apis/autoscaling")
    assert body == {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "autoscaling",
        "versions": [{"groupVersion": "autoscaling/v2", "version": "v2"},
                     {"groupVersion": "autoscaling/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "autoscaling/v2", "version": "v2"},
    }


def test_core_resource_list(docs: discovery.DiscoveryDocuments) -> None:
    _, body = render(docs, "/api/v1")
    assert (body["kind"], body["apiVersion"], body["groupVersion"]) == (
        "APIResourceList", "v1", "v1")
    names = [entry["name"] for entry in body["resources"]]
    assert names == sorted(names)
    assert names[names.index("pods"):names.index("podtemplates") + 1] == [
        "pods", "pods/attach", "pods/binding", "pods/ephemeralcontainers", "pods/eviction",
        "pods/exec", "pods/log", "pods/portforward", "pods/proxy", "pods/resize", "pods/status",
        "podtemplates"]
    entries = by_name(body["resources"], "name")
    assert entries["pods"] == {
        "name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
        "verbs": FULL_VERBS, "shortNames": ["po"], "categories": ["all"]}
    assert entries["pods/eviction"] == {
        "name": "pods/eviction", "singularName": "", "namespaced": True,
        "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}
    assert entries["pods/status"] == {
        "name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod",
        "verbs": STATUS_VERBS}
    assert entries["nodes/proxy"]["namespaced"] is False
    assert entries["serviceaccounts/token"]["group"] == "authentication.k8s.io"


def test_group_resource_list_names_foreign_subresource_kinds_only(
        docs: discovery.DiscoveryDocuments) -> None:
    _, body = render(docs, "/apis/apps/v1")
    assert body["groupVersion"] == "apps/v1"
    entries = by_name(body["resources"], "name")
    assert entries["deployments/scale"] == {
        "name": "deployments/scale", "singularName": "", "namespaced": True,
        "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": STATUS_VERBS}
    assert "group" not in entries["deployments/status"]
    assert entries["deployments"]["shortNames"] == ["deploy"]


def test_beta_resource_list(docs: discovery.DiscoveryDocuments) -> None:
    _, body = render(docs, "/apis/resource.k8s.io/v1beta1")
    assert body["groupVersion"] == "resource.k8s.io/v1beta1"
    assert [entry["name"] for entry in body["resources"]] == [
        "deviceclasses", "resourceclaims", "resourceclaims/status", "resourceclaimtemplates",
        "resourceslices"]


@pytest.mark.parametrize("path", [
    "/", "/healthz", "/apis/nope", "/apis/nope/v1", "/apis/apps/v1beta1", "/api/v2",
    "/apis/apps/v1/deployments", "/api/v1/pods", "/apis//v1", "/apiz",
])
def test_other_paths_are_not_discovery(docs: discovery.DiscoveryDocuments, path: str) -> None:
    assert docs.render(path, KUBECTL_ACCEPT) is None


@pytest.mark.parametrize("path", ["/api/", "/apis/", "/api/v1/", "/apis/apps/"])
def test_trailing_slash_is_the_same_document(docs: discovery.DiscoveryDocuments,
                                             path: str) -> None:
    assert docs.render(path, KUBECTL_ACCEPT) == docs.render(path.rstrip("/"), KUBECTL_ACCEPT)


# --- ETag and caching ---------------------------------------------------------------------------

def test_etag_is_a_quoted_hash_of_the_body(docs: discovery.DiscoveryDocuments) -> None:
    rendered, _ = render(docs, "/apis", V2)
    assert re.fullmatch(r'"[0-9A-F]{32}"', rendered.etag)
    again = discovery.DiscoveryDocuments(catalogue.builtin(), server_address=SERVER)
    assert again.render("/apis", V2) == rendered


def test_each_form_has_its_own_etag(docs: discovery.DiscoveryDocuments) -> None:
    etags = {docs.render("/apis", accept).etag  # type: ignore[union-attr]
             for accept in (V2, V2BETA1, "application/json")}
    assert len(etags) == 3


def test_server_address_changes_the_api_versions_etag() -> None:
    one = discovery.DiscoveryDocuments(catalogue.builtin(), server_address="10.0.0.1:6443")
    two = discovery.DiscoveryDocuments(catalogue.builtin(), server_address="10.0.0.2:6443")
    assert one.render("/api", "").etag != two.render("/api", "").etag  # type: ignore[union-attr]


def test_rendered_once_per_document(docs: discovery.DiscoveryDocuments) -> None:
    assert docs.render("/apis", V2) is docs.render("/apis", KUBECTL_ACCEPT)
    assert docs.render("/api/v1", "") is docs.render("/api/v1", V2)


class SwappableCatalogue:
    """A catalogue whose contents a test replaces, as CRDs will change the real one."""

    def __init__(self, inner: catalogue.Catalogue) -> None:
        self.inner = inner

    def groups(self) -> list[tuple[str, list[catalogue.GroupVersion]]]:
        return self.inner.groups()

    def group_versions(self, group: str) -> list[catalogue.GroupVersion]:
        return self.inner.group_versions(group)


def with_group(name: str) -> catalogue.Catalogue:
    document = json.loads(json.dumps(catalogue.discovery_document()))
    document["items"].append({"metadata": {"name": name}, "versions": [{
        "version": "v1", "freshness": "Current", "resources": [{
            "resource": "widgets", "responseKind": {"group": "", "version": "", "kind": "Widget"},
            "scope": "Namespaced", "singularResource": "widget", "verbs": FULL_VERBS,
            "subresources": [{"subresource": "status",
                              "responseKind": {"group": "", "version": "", "kind": "Widget"},
                              "verbs": STATUS_VERBS}]}]}]})
    return catalogue.Catalogue(document)


def test_catalogue_changed_drops_the_cache() -> None:
    cat = SwappableCatalogue(catalogue.builtin())
    docs = discovery.DiscoveryDocuments(cat, server_address=SERVER)  # type: ignore[arg-type]
    before = docs.render("/apis", V2)
    assert docs.render("/apis/example.com/v1", "") is None
    cat.inner = with_group("example.com")
    docs.catalogue_changed()
    after = docs.render("/apis", V2)
    assert before is not None
    assert after is not None
    assert after.etag != before.etag
    assert json.loads(after.body)["items"][-1]["metadata"]["name"] == "example.com"
    widgets = json.loads(after.body)["items"][-1]["versions"][0]["resources"][0]
    # upstream's empty responseKind group/version means the listed group-version
    assert widgets["subresources"][0]["responseKind"] == {
        "group": "example.com", "version": "v1", "kind": "Widget"}
    _, body = render(docs, "/apis/example.com/v1")
    assert by_name(body["resources"], "name")["widgets/status"] == {
        "name": "widgets/status", "singularName": "", "namespaced": True, "kind": "Widget",
        "verbs": STATUS_VERBS}
