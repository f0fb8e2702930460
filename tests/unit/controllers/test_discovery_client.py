"""Discovery as controllers use it (controllers/discovery.py; the basename avoids the apiserver's
test_discovery), against the real in-process server."""

from __future__ import annotations

import pytest

from kajitori.client import rest
from kajitori.controllers import discovery


async def test_preferred_namespaced_resources_list_each_resource_once(
        client: rest.RESTClient) -> None:
    found = await discovery.server_preferred_resources(client, namespaced_only=True)
    by_name = {(r.group, r.name): r for r in found}
    assert len(by_name) == len(found)
    assert by_name[("", "pods")].verbs >= {"list", "delete", "deletecollection"}
    assert by_name[("apps", "deployments")].api_version == "apps/v1"
    assert ("", "namespaces") not in by_name
    assert all("/" not in r.name for r in found)
    deletable = discovery.supporting_all_verbs(found, ["delete"])
    assert ("", "configmaps") in {(r.group, r.name) for r in deletable}


async def test_rest_mapper_finds_kinds_by_api_version(client: rest.RESTClient) -> None:
    mapper = discovery.RESTMapper(await discovery.server_resources(client))
    deployments = mapper.mapping("apps/v1", "Deployment")
    assert deployments.path(namespace="ns", name="web") == \
        "/apis/apps/v1/namespaces/ns/deployments/web"
    assert mapper.mapping("v1", "Node").path(namespace="ignored", name="n1") == \
        "/api/v1/nodes/n1"
    with pytest.raises(discovery.RESTMappingError, match='no matches for kind "Gadget"'):
        mapper.mapping("apps/v1", "Gadget")


def test_group_versions_parse_as_upstream() -> None:
    assert discovery.parse_group_version("v1") == ("", "v1")
    assert discovery.parse_group_version("apps/v1") == ("apps", "v1")
    with pytest.raises(discovery.GroupVersionParsingFailed,
                       match="unexpected GroupVersion string: a/b/c"):
        discovery.parse_group_version("a/b/c")


def test_partial_discovery_failure_names_each_group_version() -> None:
    failure = discovery.GroupDiscoveryFailed(
        {"b.io/v1": OSError("refused"), "a.io/v1": TimeoutError("slow")}, [])
    assert str(failure) == ("unable to retrieve the complete list of server APIs: "
                            "a.io/v1: slow, b.io/v1: refused")
