"""OpenAPI v3 documents: what kubectl's validation and explain look for."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kajitori.api import catalogue, openapi, version

DEPLOYMENT_ITEM = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


@pytest.fixture(scope="module")
def documents() -> openapi.OpenAPIDocuments:
    return openapi.OpenAPIDocuments(catalogue.builtin())


def load(documents: openapi.OpenAPIDocuments, path: str) -> dict[str, Any]:
    found = documents.document(path)
    assert found is not None
    return orjson.loads(found[0])


def test_index_lists_every_catalogue_group_version(
        documents: openapi.OpenAPIDocuments) -> None:
    body, _ = documents.index()
    paths = orjson.loads(body)["paths"]
    expected = {f"apis/{gv.api_version}" if gv.group else f"api/{gv.version}"
                for _, versions in catalogue.builtin().groups() for gv in versions}
    assert set(paths) == expected
    assert "api/v1" in paths
    assert "apis/apps/v1" in paths


def test_index_url_hash_is_the_document_etag(documents: openapi.OpenAPIDocuments) -> None:
    url = orjson.loads(documents.index()[0])["paths"]["apis/apps/v1"]["serverRelativeURL"]
    path, _, query = url.partition("?")
    assert path == "/openapi/v3/apis/apps/v1"
    found = documents.document(path)
    assert found is not None
    assert query == f"hash={found[1]}"


def test_unknown_group_version_has_no_document(documents: openapi.OpenAPIDocuments) -> None:
    assert documents.document("apis/example.com/v1") is None


def test_document_ignores_query_and_prefix(documents: openapi.OpenAPIDocuments) -> None:
    assert documents.document("/openapi/v3/apis/apps/v1?hash=x") == \
        documents.document("apis/apps/v1")


def test_document_header(documents: openapi.OpenAPIDocuments) -> None:
    doc = load(documents, "apis/apps/v1")
    assert doc["openapi"] == "3.0.0"
    assert doc["info"] == {"title": "Kubernetes", "version": version.KUBERNETES_VERSION}


def test_deployment_patch_is_found_by_kubectl_validation(
        documents: openapi.OpenAPIDocuments) -> None:
    patch = load(documents, "apis/apps/v1")["paths"][DEPLOYMENT_ITEM]["patch"]
    assert patch["operationId"] == "patchAppsV1NamespacedDeployment"
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps", "version": "v1", "kind": "Deployment"}
    names = [(p["name"], p["in"]) for p in patch["parameters"]]
    assert names == [("dryRun", "query"), ("fieldManager", "query"),
                     ("fieldValidation", "query"), ("force", "query")]
    assert "requestBody" not in patch


def test_create_and_update_take_field_validation(documents: openapi.OpenAPIDocuments) -> None:
    paths = load(documents, "apis/apps/v1")["paths"]
    create = paths["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]
    replace = paths[DEPLOYMENT_ITEM]["put"]
    for op in (create, replace):
        assert [p["name"] for p in op["parameters"]] == [
            "dryRun", "fieldManager", "fieldValidation"]
    assert create["operationId"] == "createAppsV1NamespacedDeployment"
    assert replace["operationId"] == "replaceAppsV1NamespacedDeployment"


def test_core_operation_ids_and_scopes(documents: openapi.OpenAPIDocuments) -> None:
    paths = load(documents, "api/v1")["paths"]
    assert paths["/api/v1/namespaces/{namespace}/pods/{name}"]["get"]["operationId"] == \
        "readCoreV1NamespacedPod"
    assert paths["/api/v1/pods"]["get"]["operationId"] == "listCoreV1PodForAllNamespaces"
    assert paths["/api/v1/nodes/{name}"]["get"]["operationId"] == "readCoreV1Node"
    assert "/api/v1/namespaces/{namespace}/nodes" not in paths
    assert paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]["patch"][
        "operationId"] == "patchCoreV1NamespacedPodStatus"
    assert not any(p.endswith(("/exec", "/log", "/attach")) for p in paths)


def test_group_names_in_operation_ids() -> None:
    assert openapi.operation_prefix("rbac.authorization.k8s.io", "v1") == "RbacAuthorizationV1"
    assert openapi.operation_prefix("flowcontrol.apiserver.k8s.io", "v1") == \
        "FlowcontrolApiserverV1"
    assert openapi.operation_prefix("resource.k8s.io", "v1beta2") == "ResourceV1beta2"
    assert openapi.operation_prefix("", "v1") == "CoreV1"


def test_scale_subresource_has_the_scale_kind(documents: openapi.OpenAPIDocuments) -> None:
    doc = load(documents, "apis/apps/v1")
    get = doc["paths"][DEPLOYMENT_ITEM + "/scale"]["get"]
    assert get["operationId"] == "readAppsV1NamespacedDeploymentScale"
    assert get["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]


def test_responses_reference_the_kind(documents: openapi.OpenAPIDocuments) -> None:
    doc = load(documents, "apis/apps/v1")
    get = doc["paths"][DEPLOYMENT_ITEM]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.apps.v1.Deployment"}
    listing = doc["paths"]["/apis/apps/v1/deployments"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentList"}


def test_container_schema_has_merge_metadata(documents: openapi.OpenAPIDocuments) -> None:
    container = load(documents, "api/v1")["components"]["schemas"][
        "io.k8s.api.core.v1.Container"]
    assert container["type"] == "object"
    assert container["required"] == ["name"]
    assert container["properties"]["name"]["type"] == "string"
    ports = container["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    assert ports["x-kubernetes-patch-strategy"] == "merge"
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert ports["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.ContainerPort"}


def test_refs_with_siblings_are_wrapped_in_all_of(documents: openapi.OpenAPIDocuments) -> None:
    deployment = load(documents, "apis/apps/v1")["components"]["schemas"][
        "io.k8s.api.apps.v1.Deployment"]
    spec = deployment["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]
    assert spec["description"]
    assert "$ref" not in spec


def test_kind_schema_carries_gvk_list_and_no_injected_enums(
        documents: openapi.OpenAPIDocuments) -> None:
    deployment = load(documents, "apis/apps/v1")["components"]["schemas"][
        "io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert deployment["properties"]["apiVersion"] == {
        "description": deployment["properties"]["apiVersion"]["description"], "type": "string"}
    assert "enum" not in deployment["properties"]["kind"]


def test_every_ref_resolves_within_the_document(documents: openapi.OpenAPIDocuments) -> None:
    for key in ("api/v1", "apis/apps/v1", "apis/batch/v1"):
        body = documents.document(key)
        assert body is not None
        text = body[0].decode()
        doc = orjson.loads(body[0])
        refs = {part.split('"', 1)[0] for part in text.split('"$ref":"#/components/schemas/')[1:]}
        assert refs <= set(doc["components"]["schemas"]), key
        assert '"null"' not in text.replace('\\"null\\"', "")


def test_int_or_string_and_quantity_are_one_of(documents: openapi.OpenAPIDocuments) -> None:
    schemas_ = load(documents, "api/v1")["components"]["schemas"]
    assert schemas_[openapi.INT_OR_STRING]["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    assert schemas_[openapi.INT_OR_STRING]["format"] == "int-or-string"
    assert schemas_[openapi.QUANTITY]["oneOf"] == [{"type": "string"}, {"type": "number"}]
    assert "type" not in schemas_[openapi.QUANTITY]


def test_catalogue_changed_rebuilds(documents: openapi.OpenAPIDocuments) -> None:
    fresh = openapi.OpenAPIDocuments(catalogue.builtin())
    first = fresh.document("apis/apps/v1")
    fresh.catalogue_changed()
    second = fresh.document("apis/apps/v1")
    assert first == second
    assert first is not second
