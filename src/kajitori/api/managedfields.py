"""metadata.managedFields: who owns which fields, kept up to date on every write.

Mirrors staging/src/k8s.io/apimachinery/pkg/util/managedfields/internal: the FieldManager
(fieldmanager.go) and the managers it chains, outermost first: versioncheck.go (an applied
object is of the resource's kind), lastappliedupdater.go and lastappliedmanager.go (kubectl's
move from client-side to server-side apply), skipnonapplied.go, capmanagers.go (at most ten
Update entries, older ones merged into `ancient-changes`), buildmanagerinfo.go (a manager is
its name, operation, apiVersion and subresource), managedfieldsupdater.go (a write that changed
fields becomes its manager's, stamped with the time), stripmeta.go (identity and system
metadata are nobody's) and structuredmerge.go, whose merge is `kajitori.api.serversideapply`.
Also managedfields.go (the wire format of entries, their order) and conflict.go (the 409).

The registry calls `update` on every create and update once the object is defaulted and
prepared (a write through a subresource passes it), and the PATCH handler calls `apply` for
`application/apply-patch+yaml`. Both change nothing but `metadata.managedFields` (and, for
kubectl's apply, the last-applied annotation); both take the stored object as `live`.

Departures from upstream: entries of other apiVersions are not converted (see
`serversideapply`); the fields reset by a kind's strategy are `status` for the main resource
of a kind with a status subresource, and everything but `status` and `metadata` for the status
subresource (upstream lists them per kind, mostly the same).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, fieldpath, meta
from kajitori.api import serversideapply as ssa

Obj = dict[str, Any]

APPLY = "Apply"
UPDATE = "Update"
FIELDS_V1 = "FieldsV1"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
# kubectl's own server-side apply manager: the only one the last-applied annotation follows.
KUBECTL_MANAGER = "kubectl"
UNKNOWN_MANAGER = "unknown"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10
FIELD_MANAGER_MAX_LENGTH = 128
LAST_APPLIED_MAX_BYTES = 256 * 1024

CONFLICT_CAUSE = "FieldManagerConflict"
MANAGED_FIELDS_MUST_BE_NIL = "metadata.managedFields must be nil"
INVALID_OBJECT_TYPE = "invalid object type: {gvk}"
TYPED_PATCH_FAILED = "failed to create typed patch object ({object}): {error}"

# Fields no manager owns: the object's identity and what the server sets.
STRIPPED = fieldpath.Set(
    {"f:apiVersion", "f:kind", "f:metadata"},
    {"f:metadata": fieldpath.Set({"f:name", "f:namespace", "f:creationTimestamp", "f:selfLink",
                                  "f:uid", "f:clusterName", "f:generation", "f:managedFields",
                                  "f:resourceVersion"})})

# The manager key of this write while it is being computed (managedfieldsupdater.go).
_CURRENT = ("current-operation", UPDATE, "", "")


@dataclass(frozen=True, order=True)
class ManagerId:
    """buildmanagerinfo.go's identifier: appliers are one manager whatever their apiVersion."""

    manager: str
    operation: str
    api_version: str
    subresource: str


def manager_from_user_agent(user_agent: str) -> str:
    """prefixFromUserAgent: the User-Agent up to its first `/`, printable characters only, at
    most 128 bytes (`kubectl/v1.33.1 (linux/amd64) ...` -> `kubectl`)."""
    out: list[str] = []
    size = 0
    for char in user_agent.split("/", 1)[0]:
        if not _printable(char):
            continue
        size += len(char.encode())
        if size > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(char)
    return "".join(out)


def _printable(char: str) -> bool:
    """Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space."""
    return char == " " or unicodedata.category(char)[0] in "LMNPS"


def manager_name(field_manager: str | None, user_agent: str | None) -> str:
    """managerOrUserAgent: the `fieldManager` parameter, else the User-Agent's program."""
    return field_manager or manager_from_user_agent(user_agent or "")


# ---- the wire format (managedfields.go) ---------------------------------------------------------

@dataclass
class Managed:
    """Decoded managedFields: each manager's fields and the time of its last change."""

    fields: ssa.ManagedFields
    times: dict[Any, str | None]


def decode(entries: Any) -> Managed:
    """Decode `metadata.managedFields`. Raises ValueError (fieldpath.FieldsError) on an entry
    upstream refuses: a bad operation, apiVersion or fieldsType, or fields that do not parse."""
    managed = Managed({}, {})
    if entries is None:
        return managed
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"managed fields entry {i} is not an object")
        operation = entry.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type != FIELDS_V1:
            raise ValueError(f"missing fieldsType in managed fields entry {i}" if not fields_type
                             else f'invalid fieldsType "{fields_type}" in managed fields '
                                  f"entry {i}")
        manager = ManagerId(entry.get("manager") or "", operation,
                            "" if operation == APPLY else api_version,
                            entry.get("subresource") or "")
        fields = fieldpath.Set.from_fields_v1(entry.get("fieldsV1") or {})
        managed.fields[manager] = ssa.VersionedSet(fields, api_version, operation == APPLY)
        managed.times[manager] = entry.get("time")
    return managed


def encode(managed: Managed) -> list[Obj]:
    """The entries in upstream's order: Apply before Update, then by time (seconds), manager,
    apiVersion and subresource."""
    entries = []
    for manager, versioned in managed.fields.items():
        entry: Obj = {"manager": manager.manager,
                      "operation": APPLY if versioned.applied else UPDATE,
                      "apiVersion": versioned.api_version}
        moment = managed.times.get(manager)
        if moment:
            entry["time"] = moment
        entry["fieldsType"] = FIELDS_V1
        entry["fieldsV1"] = versioned.fields.to_fields_v1()
        if manager.subresource:
            entry["subresource"] = manager.subresource
        entries.append(entry)
    entries.sort(key=lambda e: (e["operation"], _seconds(e.get("time")), e["manager"],
                                e["apiVersion"], e.get("subresource", "")))
    return entries


def _seconds(moment: str | None) -> float:
    return meta.parse_time(moment).timestamp() if moment else 0.0


def _is_reset(entries: Any) -> bool:
    """isResetManagedFields: `[]` or `[{}]` in a request clears the managed fields."""
    return entries == [] or entries == [{}]


# ---- conflicts (conflict.go) --------------------------------------------------------------------

def print_manager(manager: ManagerId, *, time: str | None = None) -> str:
    text = json.dumps(manager.manager, ensure_ascii=False)
    if manager.subresource:
        text += f" with subresource {json.dumps(manager.subresource, ensure_ascii=False)}"
    if manager.operation == UPDATE:
        text += f" using {manager.api_version}"
        if time:
            text += f" at {time}"
    return text


def conflict_error(conflicts: ssa.Conflicts) -> errors.StatusError:
    """errors.NewApplyConflict: 409 Conflict, one cause per conflicting field."""
    found = conflicts.conflicts
    causes = [{"reason": CONFLICT_CAUSE, "message": f"conflict with {print_manager(m)}",
               "field": fieldpath.path_string(p)} for m, p in found]
    if len(found) == 1:
        manager, path = found[0]
        message = (f"Apply failed with 1 conflict: conflict with {print_manager(manager)}: "
                   f"{fieldpath.path_string(path)}")
    else:
        lines: list[str] = []
        current = None
        for manager, path in found:
            if manager != current:
                lines.append(f"conflicts with {print_manager(manager)}:")
                current = manager
            lines.append(f"- {fieldpath.path_string(path)}")
        message = f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)
    return errors.StatusError(errors.status(409, "Conflict", message, {"causes": causes}))


# ---- the field manager ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """What the field manager of one resource (and subresource) needs to know."""

    group: str
    version: str
    kind: str
    subresource: str = ""
    has_status: bool = False

    @property
    def api_version(self) -> str:
        return meta.api_version(self.group, self.version)

    @property
    def schema(self) -> ssa.Node:
        return ssa.schema_for(self.group, self.version, self.kind)

    def ignored(self, node: ssa.Node) -> fieldpath.Set | None:
        """The fields the strategy resets for this (sub)resource: never owned."""
        if self.subresource == "status":
            return fieldpath.Set({"f:" + f for f in node.fields
                                  if f not in ("apiVersion", "kind", "metadata", "status")})
        if not self.subresource and self.has_status:
            return fieldpath.Set({"f:status"})
        return None


def _without_managed_fields(obj: Obj) -> Obj:
    md = obj.get("metadata")
    if not isinstance(md, dict) or "managedFields" not in md:
        return obj
    return {**obj, "metadata": {k: v for k, v in md.items() if k != "managedFields"}}


def _strip(managed: ssa.ManagedFields, manager: Any) -> None:
    versioned = managed.get(manager)
    if versioned is None:
        return
    rest = versioned.fields.difference(STRIPPED)
    if rest.empty():
        del managed[manager]
    else:
        managed[manager] = ssa.VersionedSet(rest, versioned.api_version, versioned.applied)


def update(live: Obj | None, new: Obj, *, manager: str, scope: Scope) -> None:
    """Record a non-apply write from `live` (None for a create) to `new` by `manager`: set
    `new`'s `metadata.managedFields`. Managed fields sent in `new` replace the stored ones
    (`[]` clears them) except through a subresource. Never raises: when the fields cannot be
    computed, `live`'s entries are kept (upstream's UpdateNoErrors)."""
    md = new.setdefault("metadata", {})
    live_entries = meta.metadata(live).get("managedFields") if live is not None else None
    try:
        managed = _decode_live_or_new(live_entries, md.get("managedFields"),
                                      ignore_new=bool(scope.subresource))
        md.pop("managedFields", None)
        if not managed.fields and live is not None and meta.uid(live):
            return  # skipnonapplied: an existing untracked object stays untracked
        managed = _track_update(_without_managed_fields(live) if live is not None else {},
                                new, managed, manager=manager, scope=scope)
    except ValueError:
        md.pop("managedFields", None)
        if live_entries:
            md["managedFields"] = live_entries
        return
    if managed.fields:
        md["managedFields"] = encode(managed)


def _decode_live_or_new(live_entries: Any, new_entries: Any, *, ignore_new: bool) -> Managed:
    if not ignore_new:
        if _is_reset(new_entries):
            return Managed({}, {})
        try:
            managed = decode(new_entries)
        except ValueError:
            managed = Managed({}, {})
        if managed.fields:
            return managed
    try:
        return decode(live_entries)
    except ValueError:
        return Managed({}, {})


def _track_update(live: Obj, new: Obj, managed: Managed, *, manager: str,
                  scope: Scope) -> Managed:
    """buildmanagerinfo -> managedfieldsupdater -> stripmeta -> structured merge, then
    capmanagers. `live` and `new` are without managed fields."""
    node = scope.schema
    identity = ManagerId(manager or UNKNOWN_MANAGER, UPDATE, scope.api_version,
                         scope.subresource)
    fields = ssa.update(live, new, node, managed.fields, _CURRENT, api_version=scope.api_version,
                        ignored=scope.ignored(node))
    _strip(fields, _CURRENT)
    times = dict(managed.times)
    taken = fields.pop(_CURRENT, None)
    if taken is not None:
        previous = fields.get(identity)
        mine = taken.fields if previous is None else taken.fields.union(previous.fields)
        fields[identity] = ssa.VersionedSet(mine, taken.api_version, False)
        times[identity] = meta.now()
    return _cap_update_managers(Managed(fields, times))


def _cap_update_managers(managed: Managed) -> Managed:
    """At most MAX_UPDATE_MANAGERS Update entries: the oldest merge into `ancient-changes`
    (one per apiVersion), keeping the newest time among them."""
    updaters = [m for m, v in managed.fields.items() if not v.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managed
    updaters.sort(key=lambda m: (_seconds(managed.times.get(m)), m))
    first_of_version: dict[str, Any] = {}
    count = len(updaters)
    for manager in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        versioned = managed.fields[manager]
        version = versioned.api_version
        bucket = ManagerId(ANCIENT_CHANGES, UPDATE, version, "")
        if version not in first_of_version:
            first_of_version[version] = manager
            continue
        if bucket not in managed.fields:
            managed.fields[bucket] = managed.fields.pop(first_of_version[version])
        managed.fields[bucket] = ssa.VersionedSet(
            versioned.fields.union(managed.fields[bucket].fields), version, False)
        del managed.fields[manager]
        managed.times[bucket] = managed.times.pop(manager, None)
        count -= 1
    return managed


def apply(live: Obj | None, config: Any, *, manager: str, force: bool, scope: Scope) -> Obj:
    """Server-side apply of `config` (the decoded body) to `live` (None when the object does
    not exist): the object to store, with its managed fields. When nothing changes the result
    equals `live`, so the registry writes nothing.

    Raises StatusError: 400 for a body that is not an object of the resource's kind or that
    sets managedFields, 409 for conflicts (unless `force`), 500 (reason Unknown, as upstream)
    when the body does not fit the schema.
    """
    if config is None:
        config = {}  # `null` decodes to an empty map
    if not isinstance(config, dict):
        raise errors.bad_request("error decoding YAML: error unmarshaling JSON: while decoding "
                                 "JSON: json: cannot unmarshal "
                                 f"{_json_kind(config)} into Go value of type "
                                 "map[string]interface {}")
    group, version = meta.split_api_version(str(config.get("apiVersion") or ""))
    kind = str(config.get("kind") or "")
    if (group, version, kind) != (scope.group, scope.version, scope.kind):
        raise errors.bad_request(INVALID_OBJECT_TYPE.format(gvk=f"{group}/{version}, "
                                                                f"Kind={kind}"))
    live_obj = live if live is not None else {}
    try:
        managed = decode(meta.metadata(live_obj).get("managedFields"))
    except ValueError as exc:
        raise errors.unknown(f"failed to decode managed fields: {exc}") from exc
    if not isinstance(config.get("metadata") or {}, dict):
        raise errors.unknown(TYPED_PATCH_FAILED.format(
            object=_describe(config, group, version, kind),
            error=".metadata: expected map, got " + json.dumps(config["metadata"])))
    if meta.metadata(config).get("managedFields") is not None:
        raise errors.bad_request(MANAGED_FIELDS_MUST_BE_NIL)
    node = scope.schema
    try:
        ssa.validate(config, node)
    except ssa.ValidationError as exc:
        raise errors.unknown(TYPED_PATCH_FAILED.format(
            object=_describe(config, group, version, kind), error=exc)) from exc
    base = _without_managed_fields(live_obj)
    if not managed.fields and live is not None and meta.uid(live):
        # skipnonapplied: what an untracked object holds becomes "before-first-apply"'s.
        managed = _track_update({}, base, managed, manager=BEFORE_FIRST_APPLY, scope=scope)
    try:
        merged = _apply(base, config, managed, manager=manager, force=force, scope=scope)
    except ssa.Conflicts as conflicts:
        if manager != KUBECTL_MANAGER or not _conflicts_allowed_by_last_applied(
                base, conflicts, node):
            raise conflict_error(_outside_last_applied(base, conflicts, node, manager)) \
                from conflicts
        merged = _apply(base, config, managed, manager=manager, force=True, scope=scope)
    if manager == KUBECTL_MANAGER and meta.annotations(base).get(LAST_APPLIED_ANNOTATION):
        _set_last_applied(merged, config)
    return merged


def _apply(base: Obj, config: Obj, managed: Managed, *, manager: str, force: bool,
           scope: Scope) -> Obj:
    """buildmanagerinfo -> managedfieldsupdater -> stripmeta -> structured merge."""
    node = scope.schema
    identity = ManagerId(manager, APPLY, "", scope.subresource)
    result, fields = ssa.apply(base, config, node, managed.fields, identity,
                               api_version=scope.api_version, force=force,
                               ignored=scope.ignored(node))
    _strip(fields, identity)
    times = dict(managed.times)
    obj = result if result is not None else dict(base)
    if result is not None:
        times[identity] = meta.now()
    out = Managed(fields, times)
    md = dict(obj.get("metadata") or {})
    if out.fields:
        md["managedFields"] = encode(out)
    else:
        md.pop("managedFields", None)
    obj["metadata"] = md
    return obj


def _json_kind(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "array"


def _describe(config: Obj, group: str, version: str, kind: str) -> str:
    """objectGVKNN: `namespace/name; group/version, Kind=kind`."""
    md = meta.metadata(config)
    return f"{md.get('namespace') or ''}/{md.get('name') or ''}; {group}/{version}, Kind={kind}"


# ---- client-side apply migration (lastappliedmanager.go, lastappliedupdater.go) -----------------

def _last_applied_fields(live: Obj, node: ssa.Node) -> fieldpath.Set | None:
    """The fields of the last-applied annotation that still hold their applied values."""
    text = meta.annotations(live).get(LAST_APPLIED_ANNOTATION)
    if not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != live.get("apiVersion"):
        return None
    try:
        ssa.validate(last, node)
        fields = ssa.to_field_set(last, node)
        cmp = ssa.compare(last, live, node)
    except ValueError:
        return None
    return fields.difference(cmp.modified).difference(cmp.added).difference(cmp.removed)


def _conflicts_allowed_by_last_applied(live: Obj, conflicts: ssa.Conflicts,
                                       node: ssa.Node) -> bool:
    allowed = _last_applied_fields(live, node)
    return allowed is not None and all(allowed.has(path) for _, path in conflicts.conflicts)


def _outside_last_applied(live: Obj, conflicts: ssa.Conflicts, node: ssa.Node,
                          manager: str) -> ssa.Conflicts:
    """kubectl's conflicts less those its last-applied configuration accounts for."""
    if manager != KUBECTL_MANAGER:
        return conflicts
    allowed = _last_applied_fields(live, node)
    if allowed is None:
        return conflicts
    return ssa.Conflicts([(m, p) for m, p in conflicts.conflicts if not allowed.has(p)])


def _set_last_applied(obj: Obj, config: Obj) -> None:
    """kubectl's server-side apply keeps the annotation of its client-side past in step."""
    applied = json.loads(json.dumps(config))
    annotations = (applied.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED_ANNOTATION, None)
    text = fieldpath.go_json(applied) + "\n"
    md = obj.setdefault("metadata", {})
    current = dict(md.get("annotations") or {})
    if len(text) > LAST_APPLIED_MAX_BYTES:
        current.pop(LAST_APPLIED_ANNOTATION, None)
    else:
        current[LAST_APPLIED_ANNOTATION] = text
    md["annotations"] = current
