"""CustomResourceDefinitions through the full HTTP stack: established by the apiserver's own
loop, then served (discovery, OpenAPI, objects with their schema, subresources, Tables) until
the CRD's deletion removes its objects."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
MERGE = {"Content-Type": "application/merge-patch+json"}

SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "size": {"type": "string", "enum": ["S", "M"]},
        "replicas": {"type": "integer", "default": 2}}},
    "status": {"type": "object", "properties": {"ready": {"type": "integer"}}}}}


def widget_crd(*, plural: str = "widgets", kind: str = "Widget") -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": plural, "kind": kind, "shortNames": ["wd"],
                           "categories": ["all"]},
                 "versions": [
                     {"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
                      "subresources": {"status": {}, "scale": {
                          "specReplicasPath": ".spec.replicas",
                          "statusReplicasPath": ".status.ready"}},
                      "additionalPrinterColumns": [
                          {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
                          {"name": "Replicas", "type": "integer",
                           "jsonPath": ".spec.replicas"}]},
                     {"name": "v1beta1", "served": True, "storage": False,
                      "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)}}]}}


def widget(name: str, **spec: Any) -> Obj:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": spec}


async def wait_for_crd(api: API, name: str, condition: str, status: str = "True") -> Obj:
    """Watch the CRD until `condition` has `status` (an event, never a timer)."""
    url = api.url(f"{CRDS}?watch=1&fieldSelector=metadata.name={name}")
    async with api.session.get(url) as resp:
        async for line in resp.content:
            crd: Obj = orjson.loads(line)["object"]
            for found in (crd.get("status") or {}).get("conditions") or []:
                if found["type"] == condition and found["status"] == status:
                    return crd
    raise AssertionError(f"the watch of {name} ended")


async def wait_until_gone(api: API, name: str) -> None:
    url = api.url(f"{CRDS}?watch=1&fieldSelector=metadata.name={name}")
    async with api.session.get(url) as resp:
        async for line in resp.content:
            if orjson.loads(line)["type"] == "DELETED":
                return
    raise AssertionError(f"the watch of {name} ended")


async def install(api: API, crd: Obj | None = None) -> Obj:
    crd = crd or widget_crd()
    async with api.session.post(api.url(CRDS), json=crd) as resp:
        assert resp.status == 201, await resp.text()
    return await wait_for_crd(api, crd["metadata"]["name"], "Established")


async def create(api: API, obj: Obj, *, query: str = "") -> tuple[int, Obj, list[str]]:
    async with api.session.post(api.url(WIDGETS + query), json=obj) as resp:
        return resp.status, await resp.json(), resp.headers.getall("Warning", [])


async def test_a_new_crd_gets_accepted_names_and_conditions(api: API) -> None:
    crd = await install(api)
    assert crd["status"]["acceptedNames"] == {
        "plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList",
        "shortNames": ["wd"], "categories": ["all"]}
    assert [(c["type"], c["status"], c["reason"]) for c in crd["status"]["conditions"]] == [
        ("NamesAccepted", "True", "NoConflicts"), ("Established", "True", "InitialNamesAccepted")]
    assert crd["status"]["storedVersions"] == ["v1"]


async def test_discovery_lists_the_group_and_its_etag_changes(api: API) -> None:
    async with api.session.get(api.url("/apis"), headers={"Accept": AGGREGATED}) as resp:
        before = resp.headers["ETag"]
    await install(api)
    async with api.session.get(api.url("/apis"), headers={"Accept": AGGREGATED}) as resp:
        assert resp.headers["ETag"] != before
        groups = (await resp.json())["items"]
    # Custom groups come after the built-in ones, before metrics.k8s.io (priority 100).
    assert [g["metadata"]["name"] for g in groups[-2:]] == ["example.com", "metrics.k8s.io"]
    assert [v["version"] for v in groups[-2]["versions"]] == ["v1", "v1beta1"]
    (resource,) = groups[-2]["versions"][0]["resources"]
    assert resource["resource"] == "widgets"
    assert resource["shortNames"] == ["wd"]
    assert resource["categories"] == ["all"]
    assert [s["subresource"] for s in resource["subresources"]] == ["scale", "status"]
    async with api.session.get(api.url("/apis/example.com")) as resp:
        group = await resp.json()
    assert group["preferredVersion"] == {"groupVersion": "example.com/v1", "version": "v1"}


async def test_objects_are_defaulted_pruned_and_warned_about(api: API) -> None:
    await install(api)
    status, created, warnings = await create(api, widget("a", size="S", bogus=1))
    assert status == 201, created
    assert created["spec"] == {"size": "S", "replicas": 2}
    assert created["metadata"]["generation"] == 1
    assert warnings == ['299 - "unknown field \\"spec.bogus\\""']


async def test_strict_field_validation_refuses_unknown_fields(api: API) -> None:
    await install(api)
    status, body, _ = await create(api, widget("a", bogus=1),
                                   query="?fieldValidation=Strict")
    assert status == 400
    assert body["message"] == ('Widget in version "v1" cannot be handled as a Widget: strict '
                               'decoding error: unknown field "spec.bogus"')


async def test_schema_violations_are_422_naming_the_field(api: API) -> None:
    await install(api)
    status, body, _ = await create(api, widget("a", size="XL"))
    assert status == 422
    assert body["message"] == ('Widget.example.com "a" is invalid: spec.size: Unsupported '
                               'value: "XL": supported values: "S", "M"')
    assert body["details"]["causes"] == [{"reason": "FieldValueNotSupported", "field":
                                          "spec.size", "message": 'Unsupported value: "XL": '
                                          'supported values: "S", "M"'}]


async def test_status_writes_ignore_spec_and_spec_writes_ignore_status(api: API) -> None:
    await install(api)
    await create(api, widget("a", size="S"))
    async with api.session.patch(api.url(f"{WIDGETS}/a/status"), headers=MERGE,
                                 data=b'{"spec":{"size":"M"},"status":{"ready":1}}') as resp:
        assert resp.status == 200, await resp.text()
        after_status = await resp.json()
    assert after_status["spec"]["size"] == "S"
    assert after_status["status"] == {"ready": 1}
    assert after_status["metadata"]["generation"] == 1
    async with api.session.patch(api.url(f"{WIDGETS}/a"), headers=MERGE,
                                 data=b'{"spec":{"size":"M"},"status":{"ready":5}}') as resp:
        after_spec = await resp.json()
    assert after_spec["spec"]["size"] == "M"
    assert after_spec["status"] == {"ready": 1}
    assert after_spec["metadata"]["generation"] == 2


async def test_strategic_merge_patch_is_unsupported(api: API) -> None:
    await install(api)
    await create(api, widget("a"))
    async with api.session.patch(api.url(f"{WIDGETS}/a"), data=b'{"spec":{}}', headers={
            "Content-Type": "application/strategic-merge-patch+json"}) as resp:
        assert resp.status == 415


async def test_scale_subresource_reads_and_writes_the_replicas_path(api: API) -> None:
    await install(api)
    await create(api, widget("a"))
    async with api.session.patch(api.url(f"{WIDGETS}/a/scale"), headers=MERGE,
                                 data=b'{"spec":{"replicas":4}}') as resp:
        assert resp.status == 200, await resp.text()
        scale = await resp.json()
    assert (scale["kind"], scale["spec"], scale["status"]) == (
        "Scale", {"replicas": 4}, {"replicas": 0, "selector": ""})
    async with api.session.get(api.url(f"{WIDGETS}/a")) as resp:
        obj = await resp.json()
    assert obj["spec"]["replicas"] == 4
    assert obj["metadata"]["generation"] == 2


async def test_every_served_version_serves_the_same_objects(api: API) -> None:
    await install(api)
    await create(api, widget("a", size="S"))
    async with api.session.get(api.url("/apis/example.com/v1beta1/namespaces/default/widgets/a")
                               ) as resp:
        beta = await resp.json()
    assert beta["apiVersion"] == "example.com/v1beta1"
    assert beta["spec"] == {"size": "S", "replicas": 2}
    stored = await api.server.store.get("/registry/example.com/widgets/default/a")
    assert stored["apiVersion"] == "example.com/v1"


async def test_tables_use_the_printer_columns(api: API) -> None:
    await install(api)
    await create(api, widget("a", size="M"))
    async with api.session.get(api.url(WIDGETS), headers={"Accept": TABLE}) as resp:
        table = await resp.json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Replicas"]
    assert table["rows"][0]["cells"] == ["a", "M", 2]


async def test_openapi_v3_publishes_the_schema(api: API) -> None:
    await install(api)
    async with api.session.get(api.url("/openapi/v3")) as resp:
        index = await resp.json()
    url = index["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    async with api.session.get(api.url(url)) as resp:
        document = await resp.json()
    widget_schema = document["components"]["schemas"]["com.example.v1.Widget"]
    assert widget_schema["properties"]["spec"] == SCHEMA["properties"]["spec"]
    assert widget_schema["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in document["components"]["schemas"]
    patch = document["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"][
        "patch"]
    assert patch["operationId"] == "patchExampleComV1NamespacedWidget"
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]


async def test_a_conflicting_plural_is_not_accepted(api: API) -> None:
    await install(api)
    other = widget_crd(plural="gadgets", kind="Gadget")
    other["spec"]["names"]["shortNames"] = ["wd"]
    async with api.session.post(api.url(CRDS), json=other) as resp:
        assert resp.status == 201
    crd = await wait_for_crd(api, "gadgets.example.com", "NamesAccepted", "False")
    conditions = {c["type"]: c for c in crd["status"]["conditions"]}
    assert (conditions["NamesAccepted"]["reason"],
            conditions["NamesAccepted"]["message"]) == ("ShortNamesConflict",
                                                        '"wd" is already in use')
    assert (conditions["Established"]["status"], conditions["Established"]["reason"]) == (
        "False", "NotAccepted")


async def test_deleting_the_crd_deletes_its_objects_then_stops_serving(api: API) -> None:
    await install(api)
    await create(api, widget("a"))
    async with api.session.delete(api.url(f"{CRDS}/widgets.example.com")) as resp:
        assert resp.status == 200
        deleting = await resp.json()
    assert deleting["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    assert deleting["metadata"]["deletionTimestamp"]
    await wait_until_gone(api, "widgets.example.com")
    assert (await api.server.store.list("/registry/example.com/")).items == []
    async with api.session.get(api.url(WIDGETS)) as resp:
        assert resp.status == 404
    async with api.session.get(api.url("/apis/example.com/v1")) as resp:
        assert resp.status == 404


async def test_a_non_structural_schema_is_refused(api: API) -> None:
    crd = widget_crd()
    bad = copy.deepcopy(crd)
    del bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["type"]
    async with api.session.post(api.url(CRDS), json=bad) as resp:
        assert resp.status == 422
        body = await resp.json()
    assert body["message"] == (
        'CustomResourceDefinition.apiextensions.k8s.io "widgets.example.com" is invalid: '
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must "
        "not be empty for specified object fields")
    assert (await api.server.store.list(
        "/registry/apiextensions.k8s.io/customresourcedefinitions/")).items == []


async def test_a_restarted_server_serves_stored_crds_before_it_is_ready(make_api) -> None:
    async with make_api() as first:
        await install(first)
        await create(first, widget("a"))
    async with make_api() as second, second.session.get(second.url(f"{WIDGETS}/a")) as resp:
        assert resp.status == 200


async def test_cluster_scoped_resources_have_no_namespace(api: API) -> None:
    crd = widget_crd()
    crd["spec"]["scope"] = "Cluster"
    await install(api, crd)
    async with api.session.post(api.url("/apis/example.com/v1/widgets"),
                                json=widget("c")) as resp:
        assert resp.status == 201, await resp.text()
        created = await resp.json()
    assert "namespace" not in created["metadata"]
    async with api.session.get(api.url(f"{WIDGETS}/c")) as resp:
        assert resp.status == 404


async def test_creates_are_refused_while_the_crd_is_terminating(api: API) -> None:
    await install(api)
    await create(api, widget("held"))
    async with api.session.patch(api.url(f"{WIDGETS}/held"), headers=MERGE,
                                 data=b'{"metadata":{"finalizers":["example.com/hold"]}}'):
        pass
    async with api.session.delete(api.url(f"{CRDS}/widgets.example.com")) as resp:
        assert resp.status == 200
    await wait_for_crd(api, "widgets.example.com", "Terminating")
    # The cleanup deletes the instance, which waits for its finalizer.
    url = api.url(f"{WIDGETS}?watch=1&fieldSelector=metadata.name=held")
    async with api.session.get(url) as resp:
        async for line in resp.content:
            if orjson.loads(line)["object"]["metadata"].get("deletionTimestamp"):
                break
    status, body, _ = await create(api, widget("late"))
    assert (status, body["message"]) == (
        405, 'create is not supported on resources of kind "widgets.example.com"')
    async with api.session.patch(api.url(f"{WIDGETS}/held"), headers=MERGE,
                                 data=b'{"metadata":{"finalizers":null}}') as resp:
        assert resp.status == 200
    await wait_until_gone(api, "widgets.example.com")
