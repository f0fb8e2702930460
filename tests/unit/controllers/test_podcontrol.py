"""Pod control: pods from templates with their controllerRef, upstream's events, and the fake
that controller tests use."""

from __future__ import annotations

import asyncio

import fakecluster
import pytest

from kajitori.api import errors, meta
from kajitori.client import EventRecorder, rest
from kajitori.controllers import podcontrol

OWNER = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "web-5d9", "namespace": "default", "uid": "rs-uid"}}
TEMPLATE = {"metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"},
                         "finalizers": ["example.com/f"]},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def test_controller_ref_blocks_owner_deletion() -> None:
    assert podcontrol.new_controller_ref(OWNER) == {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9", "uid": "rs-uid",
        "controller": True, "blockOwnerDeletion": True}


def test_pod_from_template_copies_and_names_after_the_controller() -> None:
    ref = podcontrol.new_controller_ref(OWNER)
    pod = podcontrol.get_pod_from_template(TEMPLATE, OWNER, ref)
    assert pod["metadata"] == {"generateName": "web-5d9-", "labels": {"app": "web"},
                               "annotations": {"a": "b"}, "finalizers": ["example.com/f"],
                               "ownerReferences": [ref]}
    pod["spec"]["containers"][0]["image"] = "changed"
    assert TEMPLATE["spec"]["containers"][0]["image"] == "nginx"
    assert podcontrol.get_controller_of(pod) == ref


def test_overlong_controller_name_is_its_own_prefix() -> None:
    assert podcontrol.pods_prefix("x" * 253) == "x" * 253
    assert podcontrol.pods_prefix("x" * 252) == "x" * 252 + "-"


async def test_real_pod_control_creates_and_deletes_with_events(
        client: rest.RESTClient) -> None:
    recorder = EventRecorder(client, component="replicaset-controller")
    control = podcontrol.RealPodControl(client, recorder=recorder)
    pods = fakecluster.path("", "v1", "pods", namespace="default")
    ref = podcontrol.new_controller_ref(OWNER)
    writer = asyncio.create_task(recorder.run())
    try:
        plain = {"metadata": {"labels": {"app": "web"}}, "spec": TEMPLATE["spec"]}
        await control.create_pods("default", plain, controller_object=OWNER,
                                  controller_ref=ref)
        [created] = (await client.get(pods))["items"]
        assert meta.name(created).startswith("web-5d9-")
        assert meta.owner_references(created) == [ref]
        await control.delete_pod("default", meta.name(created), controller_object=OWNER)
        with pytest.raises(errors.StatusError) as raised:
            await control.delete_pod("default", meta.name(created), controller_object=OWNER)
        assert raised.value.code == 404
        await recorder.flush()
    finally:
        writer.cancel()
    listed = await client.get(fakecluster.path("", "v1", "events", namespace="default"))
    assert [(e["reason"], e["message"]) for e in listed["items"]] == [
        ("SuccessfulCreate", f"Created pod: {meta.name(created)}"),
        ("SuccessfulDelete", f"Deleted pod: {meta.name(created)}")]


async def test_template_without_labels_is_refused(client: rest.RESTClient) -> None:
    control = podcontrol.RealPodControl(client, recorder=EventRecorder(client, component="x"))
    with pytest.raises(podcontrol.NoLabelsError, match="unable to create pods, no labels"):
        await control.create_pods("default", {"spec": TEMPLATE["spec"]},
                                  controller_object=OWNER,
                                  controller_ref=podcontrol.new_controller_ref(OWNER))


async def test_fake_records_calls_and_enforces_its_limit() -> None:
    fake = podcontrol.FakePodControl(create_limit=1)
    ref = podcontrol.new_controller_ref(OWNER)
    await fake.create_pods_with_generate_name("default", TEMPLATE, controller_object=OWNER,
                                              controller_ref=ref, generate_name="web-0-")
    with pytest.raises(errors.StatusError, match="not creating pod, limit 1 already reached "
                                                 r"\(create call 2\)"):
        await fake.create_pods("default", TEMPLATE, controller_object=OWNER, controller_ref=ref)
    await fake.delete_pod("default", "web-0-abc", controller_object=OWNER)
    await fake.patch_pod("default", "web-0-abc", {"metadata": {"labels": {"x": "y"}}})
    assert [t["metadata"]["generateName"] for t in fake.templates] == ["web-0-"]
    assert fake.controller_refs == [ref]
    assert fake.delete_pod_names == ["web-0-abc"]
    assert fake.patches == [{"metadata": {"labels": {"x": "y"}}}]
    fake.clear()
    assert (fake.templates, fake.create_call_count) == ([], 0)
