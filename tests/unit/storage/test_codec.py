"""CodecStore: one resource's objects kept under another's prefix, in the other's form."""

from __future__ import annotations

from typing import Any

from kajitori.storage import codec
from kajitori.storage.interface import Store

Obj = dict[str, Any]


def encode(obj: Obj) -> Obj:
    return {**{k: v for k, v in obj.items() if k != "note"}, "message": obj.get("note")}


def decode(obj: Obj) -> Obj:
    return {**{k: v for k, v in obj.items() if k != "message"}, "note": obj.get("message")}


def view(store: Store) -> codec.CodecStore:
    return codec.CodecStore(store, prefix="/registry/events.k8s.io/events/",
                            storage_prefix="/registry/events/", encode=encode, decode=decode)


def event(name: str, note: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns"}, "note": note}


async def test_writes_land_under_the_storage_prefix_in_storage_form(store: Store) -> None:
    created = await view(store).create("/registry/events.k8s.io/events/ns/a", event("a", "hi"))
    assert created["note"] == "hi"
    stored = await store.get("/registry/events/ns/a")
    assert stored["message"] == "hi"
    assert "note" not in stored


async def test_reads_of_the_other_form_are_decoded(store: Store) -> None:
    await store.create("/registry/events/ns/a", {"metadata": {"name": "a"}, "message": "m"})
    served = view(store)
    assert (await served.get("/registry/events.k8s.io/events/ns/a"))["note"] == "m"
    page = await served.list("/registry/events.k8s.io/events/ns/",
                             predicate=lambda obj: obj["note"] == "m")
    assert [obj["note"] for obj in page.items] == ["m"]


async def test_update_and_delete_go_through_the_storage_key(store: Store) -> None:
    served = view(store)
    created = await served.create("/registry/events.k8s.io/events/ns/a", event("a", "one"))
    revision = int(created["metadata"]["resourceVersion"])
    updated = await served.update("/registry/events.k8s.io/events/ns/a", event("a", "two"),
                                  expected_revision=revision)
    assert (await store.get("/registry/events/ns/a"))["message"] == "two"
    deleted = await served.delete("/registry/events.k8s.io/events/ns/a",
                                  expected_revision=int(updated["metadata"]["resourceVersion"]))
    assert deleted["note"] == "two"


async def test_watch_events_are_decoded_with_served_keys(store: Store) -> None:
    served = view(store)
    since = store.current_revision()
    await store.create("/registry/events/ns/a", {"metadata": {"name": "a"}, "message": "m"})
    async for watched in served.watch("/registry/events.k8s.io/events/ns/", since=since):
        assert (watched.type, watched.object["note"], watched.key) == (
            "ADDED", "m", "/registry/events.k8s.io/events/ns/a")
        break
