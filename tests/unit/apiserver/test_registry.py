"""The generic registry over a real SQLite store: create, read, update, patch, delete, list."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from kajitori.admission import interface as admission
from kajitori.admission import namespacelifecycle
from kajitori.api import catalogue, errors, meta
from kajitori.apiserver import registry
from kajitori.storage import errors as storage_errors
from kajitori.storage.sqlite import SQLiteStore

Obj = dict[str, Any]

CATALOGUE = catalogue.builtin()
NS = "ns"
OBJECT_MODIFIED = ("the object has been modified; please apply your changes to the latest "
                   "version and try again")


def registry_for(store: SQLiteStore, group: str, version: str, plural: str, *,
                 chain: admission.Chain | None = None) -> registry.Registry:
    resource = CATALOGUE.get(group, version, plural)
    assert resource is not None
    return registry.Registry(resource=resource, store=store,
                             admission=chain or admission.Chain([]))


def configmaps(store: SQLiteStore) -> registry.Registry:
    return registry_for(store, "", "v1", "configmaps")


def pods(store: SQLiteStore) -> registry.Registry:
    return registry_for(store, "", "v1", "pods")


def deployments(store: SQLiteStore) -> registry.Registry:
    return registry_for(store, "apps", "v1", "deployments")


def configmap(name: str, **metadata: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **metadata},
            "data": {"k": "v"}}


def pod(name: str, *, node: str = "", **metadata: Any) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **metadata},
            "spec": spec}


def deployment(name: str, *, replicas: int = 1) -> Obj:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


async def status_error(awaitable: Any) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as caught:
        await awaitable
    return caught.value


# --- create -------------------------------------------------------------------------------------

async def test_create_stamps_system_fields(store: SQLiteStore) -> None:
    created = await configmaps(store).create(NS, configmap("c"))
    md = created["metadata"]
    assert (created["apiVersion"], created["kind"]) == ("v1", "ConfigMap")
    assert (md["name"], md["namespace"]) == ("c", NS)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", md["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", md["creationTimestamp"])
    assert md["resourceVersion"] == str(store.current_revision())
    assert await configmaps(store).get(NS, "c") == created


async def test_create_ignores_client_set_system_fields(store: SQLiteStore) -> None:
    body = configmap("c", uid="mine", creationTimestamp="2000-01-01T00:00:00Z",
                     deletionTimestamp="2000-01-01T00:00:00Z", selfLink="/x")
    created = await configmaps(store).create(NS, body)
    md = created["metadata"]
    assert md["uid"] != "mine"
    assert md["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert "deletionTimestamp" not in md
    assert "selfLink" not in md


async def test_create_applies_defaults_and_initial_status(store: SQLiteStore) -> None:
    created = await pods(store).create(NS, pod("p"))
    spec = created["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["containers"][0]["imagePullPolicy"] == "Always"  # :latest implied
    assert created["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


async def test_create_deployment_starts_at_generation_one(store: SQLiteStore) -> None:
    body = deployment("d")
    body["metadata"]["generation"] = 7
    body["status"] = {"replicas": 5}
    created = await deployments(store).create(NS, body)
    assert created["metadata"]["generation"] == 1
    assert created.get("status", {}) == {}
    assert created["spec"]["strategy"]["type"] == "RollingUpdate"


async def test_generate_name(store: SQLiteStore) -> None:
    body = configmap("")
    body["metadata"] = {"generateName": "web-"}
    created = await configmaps(store).create(NS, body)
    name = created["metadata"]["name"]
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", name)
    assert created["metadata"]["generateName"] == "web-"
    assert (await configmaps(store).get(NS, name))["metadata"]["uid"] == \
        created["metadata"]["uid"]


async def test_name_or_generate_name_required(store: SQLiteStore) -> None:
    exc = await status_error(configmaps(store).create(NS, {"metadata": {}}))
    assert exc.code == 422
    assert str(exc) == ('ConfigMap "" is invalid: metadata.name: Required value: name or '
                        "generateName is required")


async def test_create_existing_name_is_already_exists(store: SQLiteStore) -> None:
    reg = configmaps(store)
    await reg.create(NS, configmap("c"))
    exc = await status_error(reg.create(NS, configmap("c")))
    assert exc.code == 409
    assert exc.reason == "AlreadyExists"
    assert str(exc) == 'configmaps "c" already exists'
    assert exc.status["details"] == {"name": "c", "kind": "configmaps"}


async def test_already_exists_names_the_group(store: SQLiteStore) -> None:
    reg = deployments(store)
    await reg.create(NS, deployment("d"))
    exc = await status_error(reg.create(NS, deployment("d")))
    assert str(exc) == 'deployments.apps "d" already exists'
    assert exc.status["details"] == {"name": "d", "group": "apps", "kind": "deployments"}


async def test_body_for_another_kind_is_bad_request(store: SQLiteStore) -> None:
    body = configmap("c")
    body["kind"] = "Secret"
    exc = await status_error(configmaps(store).create(NS, body))
    assert exc.code == 400
    assert str(exc) == "the kind in the data (Secret) does not match the expected kind (ConfigMap)"


async def test_body_in_another_namespace_is_bad_request(store: SQLiteStore) -> None:
    exc = await status_error(configmaps(store).create(NS, configmap("c", namespace="other")))
    assert exc.code == 400
    assert str(exc) == ("the namespace of the provided object does not match the namespace sent "
                        "on the request")


async def test_dry_run_create_stores_nothing(store: SQLiteStore) -> None:
    reg = configmaps(store)
    revision = store.current_revision()
    created = await reg.create(NS, configmap("c"), dry_run=True)
    assert created["metadata"]["name"] == "c"
    assert created["metadata"]["uid"]
    assert store.current_revision() == revision
    exc = await status_error(reg.get(NS, "c"))
    assert exc.code == 404
    assert str(exc) == 'configmaps "c" not found'


async def test_dry_run_create_still_refuses_an_existing_name(store: SQLiteStore) -> None:
    reg = configmaps(store)
    await reg.create(NS, configmap("c"))
    exc = await status_error(reg.create(NS, configmap("c"), dry_run=True))
    assert exc.reason == "AlreadyExists"


async def test_create_in_missing_namespace_with_namespace_lifecycle(store: SQLiteStore) -> None:
    async def get_namespace(name: str) -> Obj | None:
        try:
            return await store.get(f"/registry/namespaces/{name}")
        except storage_errors.KeyNotFound:
            return None

    chain = admission.Chain([namespacelifecycle.NamespaceLifecycle(get_namespace=get_namespace)])
    reg = registry_for(store, "", "v1", "configmaps", chain=chain)
    exc = await status_error(reg.create("nowhere", configmap("c")))
    assert exc.code == 404
    assert str(exc) == 'namespaces "nowhere" not found'
    await registry_for(store, "", "v1", "namespaces", chain=chain).create(
        "", {"metadata": {"name": "nowhere"}})
    assert (await reg.create("nowhere", configmap("c")))["metadata"]["namespace"] == "nowhere"


# --- update -------------------------------------------------------------------------------------

async def test_update_with_stale_resource_version_is_conflict(store: SQLiteStore) -> None:
    reg = configmaps(store)
    created = await reg.create(NS, configmap("c"))
    first = copy.deepcopy(created)
    first["data"] = {"k": "first"}
    await reg.update(NS, "c", first)
    stale = copy.deepcopy(created)
    stale["data"] = {"k": "second"}
    exc = await status_error(reg.update(NS, "c", stale))
    assert exc.code == 409
    assert exc.reason == "Conflict"
    assert str(exc) == f'Operation cannot be fulfilled on configmaps "c": {OBJECT_MODIFIED}'
    assert (await reg.get(NS, "c"))["data"] == {"k": "first"}


async def test_update_without_resource_version_is_unconditional(store: SQLiteStore) -> None:
    reg = configmaps(store)
    created = await reg.create(NS, configmap("c"))
    body = configmap("c")
    body["data"] = {"k": "new"}
    updated = await reg.update(NS, "c", body)
    assert updated["data"] == {"k": "new"}
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


async def test_update_of_missing_object_is_not_found(store: SQLiteStore) -> None:
    exc = await status_error(configmaps(store).update(NS, "c", configmap("c")))
    assert exc.code == 404
    assert str(exc) == 'configmaps "c" not found'


async def test_update_name_mismatch_is_bad_request(store: SQLiteStore) -> None:
    reg = configmaps(store)
    await reg.create(NS, configmap("c"))
    exc = await status_error(reg.update(NS, "c", configmap("d")))
    assert exc.code == 400
    assert str(exc) == "the name of the object (d) does not match the name on the URL (c)"


async def test_no_op_update_keeps_resource_version(store: SQLiteStore) -> None:
    reg = configmaps(store)
    created = await reg.create(NS, configmap("c"))
    again = await reg.update(NS, "c", copy.deepcopy(created))
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_client_cannot_set_generation_on_update(store: SQLiteStore) -> None:
    # upstream's rest.BeforeUpdate: "Ensure requests cannot update generation", for every kind
    reg = configmaps(store)
    await reg.create(NS, configmap("c"))
    updated = await reg.update(NS, "c", configmap("c", generation=99))
    assert "generation" not in updated["metadata"]


async def test_dry_run_update_stores_nothing(store: SQLiteStore) -> None:
    reg = configmaps(store)
    created = await reg.create(NS, configmap("c"))
    body = copy.deepcopy(created)
    body["data"] = {"k": "dry"}
    assert (await reg.update(NS, "c", body, dry_run=True))["data"] == {"k": "dry"}
    assert await reg.get(NS, "c") == created


async def test_main_resource_update_keeps_status_and_bumps_generation_on_spec_change(
        store: SQLiteStore) -> None:
    reg = deployments(store)
    created = await reg.create(NS, deployment("d"))
    with_status = copy.deepcopy(created)
    with_status["status"] = {"replicas": 1, "observedGeneration": 1}
    stored = await reg.update(NS, "d", with_status, subresource="status")
    assert stored["status"] == {"replicas": 1, "observedGeneration": 1}

    scaled = copy.deepcopy(stored)
    scaled["spec"]["replicas"] = 3
    scaled["status"] = {"replicas": 99}
    updated = await reg.update(NS, "d", scaled)
    assert updated["spec"]["replicas"] == 3
    assert updated["status"] == {"replicas": 1, "observedGeneration": 1}
    assert updated["metadata"]["generation"] == 2

    labelled = copy.deepcopy(updated)
    labelled["metadata"]["labels"] = {"team": "a"}
    relabelled = await reg.update(NS, "d", labelled)
    assert relabelled["metadata"]["labels"] == {"team": "a"}
    assert relabelled["metadata"]["generation"] == 2


async def test_status_update_ignores_spec_and_keeps_generation(store: SQLiteStore) -> None:
    reg = deployments(store)
    created = await reg.create(NS, deployment("d"))
    body = copy.deepcopy(created)
    body["spec"]["replicas"] = 5
    body["status"] = {"replicas": 1}
    updated = await reg.update(NS, "d", body, subresource="status")
    assert updated["spec"]["replicas"] == 1
    assert updated["status"] == {"replicas": 1}
    assert updated["metadata"]["generation"] == 1


# --- patch --------------------------------------------------------------------------------------

async def test_patch_retries_on_a_lost_race(store: SQLiteStore) -> None:
    reg = configmaps(store)
    await reg.create(NS, configmap("c"))
    calls = 0

    async def apply(current: Obj) -> Obj:
        nonlocal calls
        calls += 1
        if calls == 1:  # another writer gets in between the read and the write
            racer = copy.deepcopy(current)
            racer["metadata"]["labels"] = {"racer": "yes"}
            await reg.update(NS, "c", racer)
        patched = copy.deepcopy(current)
        patched["data"] = {"k": "patched"}
        return patched

    result = await reg.patch(NS, "c", apply)
    assert calls == 2
    assert result["data"] == {"k": "patched"}
    assert result["metadata"]["labels"] == {"racer": "yes"}


async def test_patch_carrying_a_stale_resource_version_is_conflict(store: SQLiteStore) -> None:
    reg = configmaps(store)
    created = await reg.create(NS, configmap("c"))
    await reg.update(NS, "c", configmap("c", labels={"a": "b"}))
    calls = 0

    def apply(current: Obj) -> Obj:
        nonlocal calls
        calls += 1
        patched = copy.deepcopy(current)
        patched["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
        return patched

    exc = await status_error(reg.patch(NS, "c", apply))
    assert str(exc) == f'Operation cannot be fulfilled on configmaps "c": {OBJECT_MODIFIED}'
    assert calls == 1


async def test_patch_of_missing_object_is_not_found(store: SQLiteStore) -> None:
    exc = await status_error(configmaps(store).patch(NS, "c", lambda obj: obj))
    assert str(exc) == 'configmaps "c" not found'


# --- delete -------------------------------------------------------------------------------------

async def test_delete_without_finalizers_removes_at_once(store: SQLiteStore) -> None:
    reg = configmaps(store)
    created = await reg.create(NS, configmap("c"))
    obj, gone = await reg.delete(NS, "c", registry.DeleteOptions())
    assert gone
    assert obj["metadata"]["uid"] == created["metadata"]["uid"]
    assert (await status_error(reg.get(NS, "c"))).code == 404


async def test_delete_of_missing_object_is_not_found(store: SQLiteStore) -> None:
    exc = await status_error(configmaps(store).delete(NS, "c", registry.DeleteOptions()))
    assert exc.code == 404
    assert str(exc) == 'configmaps "c" not found'


async def test_finalizers_hold_the_object_until_removed(store: SQLiteStore) -> None:
    reg = configmaps(store)
    await reg.create(NS, configmap("c", finalizers=["example.com/hold"]))
    obj, gone = await reg.delete(NS, "c", registry.DeleteOptions())
    assert not gone
    assert obj["metadata"]["deletionTimestamp"]
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 0
    assert obj["metadata"]["finalizers"] == ["example.com/hold"]
    held = await reg.get(NS, "c")
    assert held["metadata"]["deletionTimestamp"] == obj["metadata"]["deletionTimestamp"]

    released = copy.deepcopy(held)
    released["metadata"]["finalizers"] = []
    await reg.update(NS, "c", released)
    assert (await status_error(reg.get(NS, "c"))).code == 404


async def test_deleting_again_keeps_the_first_deletion_timestamp(store: SQLiteStore) -> None:
    reg = configmaps(store)
    await reg.create(NS, configmap("c", finalizers=["example.com/hold"]))
    first, _ = await reg.delete(NS, "c", registry.DeleteOptions())
    second, gone = await reg.delete(NS, "c", registry.DeleteOptions())
    assert not gone
    assert second["metadata"]["deletionTimestamp"] == first["metadata"]["deletionTimestamp"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


@pytest.mark.parametrize(("policy", "finalizer"), [
    ("Foreground", "foregroundDeletion"), ("Orphan", "orphan"),
])
async def test_propagation_policy_adds_its_finalizer(store: SQLiteStore, policy: str,
                                                     finalizer: str) -> None:
    reg = deployments(store)
    await reg.create(NS, deployment("d"))
    obj, gone = await reg.delete(NS, "d", registry.DeleteOptions(propagation_policy=policy))
    assert not gone
    assert obj["metadata"]["finalizers"] == [finalizer]
    assert obj["metadata"]["deletionTimestamp"]
    assert (await reg.get(NS, "d"))["metadata"]["finalizers"] == [finalizer]


async def test_background_propagation_removes_at_once(store: SQLiteStore) -> None:
    reg = deployments(store)
    await reg.create(NS, deployment("d"))
    _, gone = await reg.delete(NS, "d", registry.DeleteOptions(propagation_policy="Background"))
    assert gone


async def test_bound_pod_is_deleted_gracefully(store: SQLiteStore) -> None:
    reg = pods(store)
    await reg.create(NS, pod("p", node="n1"))
    obj, gone = await reg.delete(NS, "p", registry.DeleteOptions())
    assert not gone
    md = obj["metadata"]
    assert md["deletionGracePeriodSeconds"] == 30
    deadline = meta.parse_time(md["deletionTimestamp"])
    created = meta.parse_time(md["creationTimestamp"])
    assert 29 <= (deadline - created).total_seconds() <= 31
    assert (await reg.get(NS, "p"))["metadata"]["deletionTimestamp"] == md["deletionTimestamp"]


async def test_bound_pod_honours_an_explicit_grace_period(store: SQLiteStore) -> None:
    reg = pods(store)
    await reg.create(NS, pod("p", node="n1"))
    obj, gone = await reg.delete(NS, "p", registry.DeleteOptions(grace_period_seconds=5))
    assert not gone
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 5
    # the kubelet's confirmation: grace period 0 removes it
    _, gone = await reg.delete(NS, "p", registry.DeleteOptions(grace_period_seconds=0))
    assert gone
    assert (await status_error(reg.get(NS, "p"))).code == 404


async def test_unbound_pod_is_deleted_at_once(store: SQLiteStore) -> None:
    reg = pods(store)
    await reg.create(NS, pod("p"))
    obj, gone = await reg.delete(NS, "p", registry.DeleteOptions())
    assert gone
    assert "deletionTimestamp" not in obj["metadata"]


async def test_terminating_pod_survives_a_status_update(store: SQLiteStore) -> None:
    # Upstream's ShouldDeleteDuringUpdate: an update only finishes a deletion whose grace period
    # is 0; a terminating pod's kubelet still reports status during its grace period.
    reg = pods(store)
    await reg.create(NS, pod("p", node="n1"))
    terminating, _ = await reg.delete(NS, "p", registry.DeleteOptions())
    report = copy.deepcopy(terminating)
    report["status"] = {"phase": "Running", "qosClass": "BestEffort"}
    updated = await reg.update(NS, "p", report, subresource="status")
    assert updated["status"]["phase"] == "Running"
    assert (await reg.get(NS, "p"))["metadata"]["deletionTimestamp"]


async def test_namespace_deletion_waits_for_its_finalizers(store: SQLiteStore) -> None:
    # Upstream's namespace storage: with spec.finalizers left the namespace only turns
    # Terminating; the namespace controller empties it and then calls finalize.
    reg = registry_for(store, "", "v1", "namespaces")
    await reg.create("", {"metadata": {"name": "doomed"}})
    obj, gone = await reg.delete("", "doomed", registry.DeleteOptions())
    assert not gone
    assert obj["status"]["phase"] == "Terminating"
    assert obj["metadata"]["deletionTimestamp"]
    assert (await reg.get("", "doomed"))["status"]["phase"] == "Terminating"


async def test_delete_precondition_on_uid(store: SQLiteStore) -> None:
    reg = configmaps(store)
    created = await reg.create(NS, configmap("c"))
    uid = created["metadata"]["uid"]
    exc = await status_error(reg.delete(NS, "c", registry.DeleteOptions(
        preconditions_uid="other")))
    assert exc.code == 409
    assert exc.reason == "Conflict"
    assert str(exc) == (
        'Operation cannot be fulfilled on ConfigMap "c": the UID in the precondition (other) '
        f"does not match the UID in record ({uid}). The object might have been deleted and then "
        "recreated")
    _, gone = await reg.delete(NS, "c", registry.DeleteOptions(preconditions_uid=uid))
    assert gone


async def test_delete_precondition_on_resource_version(store: SQLiteStore) -> None:
    reg = configmaps(store)
    created = await reg.create(NS, configmap("c"))
    rv = created["metadata"]["resourceVersion"]
    exc = await status_error(reg.delete(NS, "c", registry.DeleteOptions(
        preconditions_resource_version="999")))
    assert exc.code == 409
    assert str(exc) == (
        'Operation cannot be fulfilled on ConfigMap "c": the ResourceVersion in the precondition '
        f"(999) does not match the ResourceVersion in record ({rv}). The object might have been "
        "modified")
    _, gone = await reg.delete(NS, "c", registry.DeleteOptions(
        preconditions_resource_version=rv))
    assert gone


async def test_dry_run_delete_keeps_the_object(store: SQLiteStore) -> None:
    reg = configmaps(store)
    created = await reg.create(NS, configmap("c"))
    _, gone = await reg.delete(NS, "c", registry.DeleteOptions(), dry_run=True)
    assert gone
    assert await reg.get(NS, "c") == created


async def test_delete_collection_deletes_what_the_selector_picks(store: SQLiteStore) -> None:
    reg = configmaps(store)
    await reg.create(NS, configmap("a", labels={"app": "x"}))
    await reg.create(NS, configmap("b", labels={"app": "y"}))
    await reg.create("other", configmap("c", labels={"app": "x"}))
    deleted = await reg.delete_collection(NS, registry.ListOptions(label_selector="app=x"),
                                          registry.DeleteOptions())
    assert [meta.name(o) for o in deleted["items"]] == ["a"]
    remaining = await reg.list("", registry.ListOptions())
    assert sorted(meta.name(o) for o in remaining["items"]) == ["b", "c"]


# --- list ---------------------------------------------------------------------------------------

async def test_list_one_namespace_or_all(store: SQLiteStore) -> None:
    reg = configmaps(store)
    await reg.create("a", configmap("x"))
    await reg.create("ab", configmap("y"))
    listed = await reg.list("a", registry.ListOptions())
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "ConfigMapList")
    assert [meta.name(o) for o in listed["items"]] == ["x"]
    assert listed["items"][0]["kind"] == "ConfigMap"
    assert listed["metadata"] == {"resourceVersion": str(store.current_revision())}
    everywhere = await reg.list("", registry.ListOptions())
    assert [(meta.namespace(o), meta.name(o)) for o in everywhere["items"]] == [
        ("a", "x"), ("ab", "y")]


async def test_list_with_label_selector(store: SQLiteStore) -> None:
    reg = configmaps(store)
    await reg.create(NS, configmap("a", labels={"tier": "web", "env": "prod"}))
    await reg.create(NS, configmap("b", labels={"tier": "db", "env": "prod"}))
    await reg.create(NS, configmap("c"))
    names = [meta.name(o) for o in (await reg.list(NS, registry.ListOptions(
        label_selector="env=prod,tier!=db")))["items"]]
    assert names == ["a"]
    names = [meta.name(o) for o in (await reg.list(NS, registry.ListOptions(
        label_selector="!tier")))["items"]]
    assert names == ["c"]


async def test_list_with_field_selector(store: SQLiteStore) -> None:
    reg = pods(store)
    await reg.create(NS, pod("a", node="n1"))
    await reg.create(NS, pod("b", node="n2"))
    await reg.create(NS, pod("c"))
    names = [meta.name(o) for o in (await reg.list(NS, registry.ListOptions(
        field_selector="spec.nodeName=n1")))["items"]]
    assert names == ["a"]
    names = [meta.name(o) for o in (await reg.list(NS, registry.ListOptions(
        field_selector="spec.nodeName=")))["items"]]
    assert names == ["c"]
    names = [meta.name(o) for o in (await reg.list(NS, registry.ListOptions(
        field_selector="metadata.name!=a,status.phase=Pending")))["items"]]
    assert names == ["b", "c"]


async def test_list_with_field_selector_alias(store: SQLiteStore) -> None:
    # spec.host is the older name of spec.nodeName, still accepted for pods
    reg = pods(store)
    await reg.create(NS, pod("a", node="n1"))
    await reg.create(NS, pod("b", node="n2"))
    names = [meta.name(o) for o in (await reg.list(NS, registry.ListOptions(
        field_selector="spec.host=n1")))["items"]]
    assert names == ["a"]


async def test_list_with_unsupported_field_is_bad_request(store: SQLiteStore) -> None:
    exc = await status_error(configmaps(store).list(NS, registry.ListOptions(
        field_selector="data.k=v")))
    assert exc.code == 400
    assert str(exc) == '"data.k" is not a known field selector: only "metadata.name", ' \
        '"metadata.namespace"'


async def test_list_pages_with_limit_and_continue(store: SQLiteStore) -> None:
    reg = configmaps(store)
    for name in ("a", "b", "c", "d", "e"):
        await reg.create(NS, configmap(name))
    first = await reg.list(NS, registry.ListOptions(limit=2))
    assert [meta.name(o) for o in first["items"]] == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 3
    second = await reg.list(NS, registry.ListOptions(
        limit=2, continue_token=first["metadata"]["continue"]))
    assert [meta.name(o) for o in second["items"]] == ["c", "d"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    third = await reg.list(NS, registry.ListOptions(
        limit=2, continue_token=second["metadata"]["continue"]))
    assert [meta.name(o) for o in third["items"]] == ["e"]
    assert "continue" not in third["metadata"]
    assert "remainingItemCount" not in third["metadata"]


async def test_list_with_garbage_continue_token_is_bad_request(store: SQLiteStore) -> None:
    exc = await status_error(configmaps(store).list(NS, registry.ListOptions(
        limit=1, continue_token="garbage")))
    assert exc.code == 400
