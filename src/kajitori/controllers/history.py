"""ControllerRevisions: the stored history of a DaemonSet's or StatefulSet's pod template.

Mirrors pkg/controller/history (`HashControllerRevision`, `ControllerRevisionName`,
`NewControllerRevision`, `FindEqualRevisions`, `SortControllerRevisions`) and the
`controller-revision-hash` label both controllers put on their pods. A revision's `data` is
the strategic merge patch that turns any object of the owner's kind into this revision's
template (`{"spec": {"template": {..., "$patch": "replace"}}}`); its name is
`<owner>-<hash>`, the hash taken over that data and the owner's collisionCount, so a name
taken by a foreign revision is stepped around by bumping collisionCount.
"""

from __future__ import annotations

from typing import Any

import orjson

from kajitori.api import errors, meta
from kajitori.client import rest
from kajitori.controllers import podcontrol
from kajitori.controllers.deployment import podtemplatehash

Obj = dict[str, Any]

CONTROLLER_REVISIONS = ("apps", "v1", "controllerrevisions")
CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"
DEFAULT_REVISION_HISTORY_LIMIT = 10


def template_patch(owner: Obj) -> Obj:
    """The revision data of `owner` (upstream's getPatch): its template, replacing whatever
    template the object it is applied to has."""
    template = dict((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def hash_revision(data: Obj, collision_count: int | None) -> str:
    """upstream's HashControllerRevision: fnv32a of the data (and the collision count)."""
    value = podtemplatehash.fnv32a(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        value = podtemplatehash.fnv32a(
            (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4), start=value)
    return podtemplatehash.safe_encode_string(str(value))


def new_revision(owner: Obj, *, revision: int, collision_count: int | None,
                 template_labels: dict[str, str]) -> Obj:
    """An unsaved ControllerRevision of `owner` numbered `revision`, labelled with the
    template's labels and its hash, owned through a controllerRef."""
    data = template_patch(owner)
    hash_ = hash_revision(data, collision_count)
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": f"{meta.name(owner)}-{hash_}",
                         "namespace": meta.namespace(owner),
                         "labels": {**template_labels, CONTROLLER_REVISION_HASH_LABEL: hash_},
                         "ownerReferences": [podcontrol.new_controller_ref(owner)]},
            "data": data, "revision": revision}


def revision_hash(revision: Obj) -> str:
    return meta.labels(revision).get(CONTROLLER_REVISION_HASH_LABEL) or \
        meta.name(revision).rsplit("-", 1)[-1]


def owned_revisions(revisions: list[Obj], owner: Obj) -> list[Obj]:
    """`revisions` controlled by `owner`, oldest revision number first."""
    owned = [r for r in revisions
             if (podcontrol.get_controller_of(r) or {}).get("uid") == meta.uid(owner)]
    return sorted(owned, key=lambda r: (int(r.get("revision") or 0), meta.name(r)))


def equal_data(a: Obj, b: Obj) -> bool:
    return (a.get("data") or {}) == (b.get("data") or {})


async def create_revision(client: rest.RESTClient, revision: Obj, *, owner: Obj,
                          collision_count: int) -> tuple[Obj, int]:
    """Create `revision`; when its name is taken by a revision with other data, bump the
    collision count and try the next name (upstream's CreateControllerRevision). Returns the
    stored revision and the collision count used; an existing equal revision is returned."""
    path = rest.resource_path(*CONTROLLER_REVISIONS, namespace=meta.namespace(owner))
    while True:
        hash_ = hash_revision(revision["data"], collision_count)
        revision["metadata"]["name"] = f"{meta.name(owner)}-{hash_}"
        revision["metadata"]["labels"][CONTROLLER_REVISION_HASH_LABEL] = hash_
        try:
            return await client.create(path, revision), collision_count
        except errors.StatusError as exc:
            if exc.code != 409:
                raise
        existing = await client.get(f"{path}/{revision['metadata']['name']}")
        if equal_data(existing, revision) and \
                (podcontrol.get_controller_of(existing) or {}).get("uid") == meta.uid(owner):
            return existing, collision_count
        collision_count += 1


async def sync_update_revision(client: rest.RESTClient, owner: Obj, *, owned: list[Obj],
                               collision_count: int) -> tuple[Obj, int]:
    """The revision of `owner`'s current template, creating it (numbered after the newest of
    `owned`) or renumbering an equal older one to the newest (a rollback), as upstream's
    DaemonSet `constructHistory` and StatefulSet `getStatefulSetRevisions` do. Returns it and
    the collision count to store in status."""
    data = template_patch(owner)
    newest = max((int(r.get("revision") or 0) for r in owned), default=0)
    equal = [r for r in owned if (r.get("data") or {}) == data]
    if equal:
        found = equal[-1]
        if int(found.get("revision") or 0) < newest:
            path = rest.resource_path(*CONTROLLER_REVISIONS, namespace=meta.namespace(owner),
                                      name=meta.name(found))
            found = await client.patch(path, {"revision": newest + 1})
        return found, collision_count
    template_labels = ((owner.get("spec") or {}).get("template") or {}).get("metadata", {}) \
        .get("labels") or {}
    revision = new_revision(owner, revision=newest + 1, collision_count=collision_count,
                            template_labels=dict(template_labels))
    return await create_revision(client, revision, owner=owner,
                                 collision_count=collision_count)


async def truncate_history(client: rest.RESTClient, owned: list[Obj], *, live: set[str],
                           limit: int) -> None:
    """Delete the oldest of `owned` whose names are not in `live` (the current and update
    revisions and those pods still run) until at most `limit` such remain."""
    dead = [r for r in owned if meta.name(r) not in live]
    for revision in dead[:max(0, len(dead) - limit)]:
        path = rest.resource_path(*CONTROLLER_REVISIONS, namespace=meta.namespace(revision),
                                  name=meta.name(revision))
        with errors.ignore_not_found():
            await client.delete(path)


async def write_status(client: rest.RESTClient, path: str, *, cached: Obj, status: Obj) -> Obj:
    """PUT `status` on the object at `path`; after a conflict (a cache behind the server)
    re-read it and try once more, as upstream's DaemonSet and StatefulSet status updaters do.
    The status stays the one computed from `cached`."""
    try:
        return await client.update(f"{path}/status", {**cached, "status": status})
    except errors.StatusError as exc:
        if exc.code != 409:
            raise
    fresh = await client.get(path)
    return await client.update(f"{path}/status", {**fresh, "status": status})
