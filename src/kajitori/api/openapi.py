"""The OpenAPI v3 documents: `/openapi/v3` (the index) and one document per group-version.

Mirrors what upstream's kube-openapi handler (k8s.io/kube-openapi/pkg/handler3) serves from the
definitions the apiserver generates: per group-version, `paths` for every resource with its
operations (`operationId` as `readAppsV1NamespacedDeployment`, `x-kubernetes-action`,
`x-kubernetes-group-version-kind`, query parameters) and `components.schemas` holding every
definition those operations reach. kubectl reads them for `--validate=strict` (it looks for the
`fieldValidation` parameter of the kind's PATCH operation and then leaves validation to the
server) and for `explain`; see docs kubectl-protocol.md §4.

Schemas come from kubernetes-validate's v1.33 definitions (`kajitori.api.schemas`), converted
to the shape upstream publishes: `$ref` to `#/components/schemas/...`, wrapped in `allOf` when it
has siblings; single types instead of `[type, "null"]`; no `enum` on apiVersion and kind;
IntOrString and Quantity as `oneOf`, as kube-openapi's v3 generator writes them. Departures,
because that source lacks them: no `default` values, and no `enum` or "Possible enum values"
text on enumerated string fields, so `kubectl explain` omits those lines.

The PATCH operations carry no `requestBody`: were `application/strategic-merge-patch+json`
listed, kubectl would compute client-side apply patches from these schemas instead of its
compiled-in types, which are exact for built-in kinds. Watch paths (`/watch/...`, deprecated)
and connect subresources (exec, attach, portforward, proxy, log) are left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from kajitori.api import catalogue, schemas, version

Obj = dict[str, Any]

OPENAPI_VERSION = "3.0.0"
TITLE = "Kubernetes"
COMPONENTS_PREFIX = "#/components/schemas/"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

# Subresources served by connect handlers or as plain text: not described by a schema.
CONNECT_SUBRESOURCES = frozenset({"attach", "exec", "portforward", "proxy", "log"})
MEDIA_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
WATCH_MEDIA_TYPES = ("application/json;stream=watch",
                     "application/vnd.kubernetes.protobuf;stream=watch")

# kube-openapi's v3 schemas of the types with OpenAPIV3OneOfTypes (transcribed from upstream).
INT_OR_STRING_SCHEMA: Obj = {
    "description": "IntOrString is a type that can hold an int32 or a string.  When used in "
    "JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This "
    "allows you to have, for example, a JSON field that can accept a name or number.",
    "format": "int-or-string",
    "oneOf": [{"type": "integer"}, {"type": "string"}],
}
QUANTITY_SCHEMA: Obj = {
    "description": "Quantity is a fixed-point representation of a number. It provides "
    "convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() "
    "accessors.\n\nThe serialization format is:\n\n``` <quantity>        ::= "
    "<signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the \"\" case in "
    "<decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= <digit> | "
    "<digit><digits> <number>          ::= <digits> | <digits>.<digits> | <digits>. | "
    ".<digits> <sign>            ::= \"+\" | \"-\" <signedNumber>    ::= <number> | "
    "<sign><number> <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI> "
    "<binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t(International System of units; "
    "See: http://physics.nist.gov/cuu/Units/binary.html)\n\n<decimalSI>       ::= m | \"\" | "
    "k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki but 1000 = 1k; I didn't choose the "
    "capitalization.)\n\n<decimalExponent> ::= \"e\" <signedNumber> | \"E\" <signedNumber> "
    "```\n\nNo matter which of the three exponent forms is used, no quantity may represent a "
    "number greater than 2^63-1 in magnitude, nor may it have more than 3 decimal places. "
    "Numbers larger or more precise will be capped or rounded up. (E.g.: 0.1m will rounded up "
    "to 1m.) This may be extended in the future if we require larger or smaller quantities.\n\n"
    "When a Quantity is parsed from a string, it will remember the type of suffix it had, and "
    "will use the same type again when it is serialized.\n\nBefore serializing, Quantity will "
    "be put in \"canonical form\". This means that Exponent/suffix will be adjusted up or down "
    "(with a corresponding increase or decrease in Mantissa) such that:\n\n- No precision is "
    "lost - No fractional digits will be emitted - The exponent (or suffix) is as large as "
    "possible.\n\nThe sign will be omitted unless the number is negative.\n\nExamples:\n\n- "
    "1.5 will be serialized as \"1500m\" - 1.5Gi will be serialized as \"1536Mi\"\n\nNote that "
    "the quantity will NEVER be internally represented by a floating point number. That is the "
    "whole point of this exercise.\n\nNon-canonical values will still parse as long as they are "
    "well formed, but will be re-emitted in their canonical form. (So always use canonical "
    "form, or don't diff.)\n\nThis format is intended to make it difficult to use these numbers "
    "without writing some sort of special handling code in the hopes that that will cause "
    "implementors to also use a fixed point implementation.",
    "oneOf": [{"type": "string"}, {"type": "number"}],
}
_REPLACED_SCHEMAS = {INT_OR_STRING: INT_OR_STRING_SCHEMA, QUANTITY: QUANTITY_SCHEMA}


def _query(name: str, description: str, *, type_: str = "string") -> Obj:
    return {"description": description, "in": "query", "name": name,
            "schema": {"type": type_, "uniqueItems": True}}


# Query parameters, in upstream's words (the ones kubectl reads are fieldValidation and force).
DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be "
                 "persisted. An invalid or unrecognized dryRun directive will result in an error "
                 "response and no further processing of the request. Valid values are: - All: "
                 "all dry run stages will be processed")
FIELD_MANAGER = _query("fieldManager", "fieldManager is a name associated with the actor or "
                       "entity that is making these changes. The value must be less than or 128 "
                       "characters long, and only contain printable characters, as defined by "
                       "https://golang.org/pkg/unicode/#IsPrint.")
PATCH_FIELD_MANAGER = _query(
    "fieldManager", FIELD_MANAGER["description"] + " This field is required for apply requests "
    "(application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, "
    "StrategicMergePatch).")
FIELD_VALIDATION = _query(
    "fieldValidation", "fieldValidation instructs the server on how to handle objects in the "
    "request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - "
    "Ignore: This will ignore any unknown fields that are silently dropped from the object, and "
    "will ignore all but the last duplicate field that the decoder encounters. This is the "
    "default behavior prior to v1.23. - Warn: This will send a warning via the standard warning "
    "response header for each unknown field that is dropped from the object, and for each "
    "duplicate field that is encountered. The request will still succeed if there are no other "
    "errors, and will only persist the last of any duplicate fields. This is the default in "
    "v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields "
    "would be dropped from the object, or if any duplicate fields are present. The error "
    "returned from the server will contain all unknown and duplicate fields encountered.")
FORCE = _query("force", "Force is going to \"force\" Apply requests. It means user will "
               "re-acquire conflicting fields owned by other people. Force flag must be unset "
               "for non-apply patch requests.", type_="boolean")
PRETTY = _query("pretty", "If 'true', then the output is pretty printed. Defaults to 'false' "
                "unless the user-agent indicates a browser or command-line HTTP tool (curl and "
                "wget).")
LIST_PARAMETERS = (
    _query("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type "
           "\"BOOKMARK\".", type_="boolean"),
    _query("continue", "The continue option should be set when retrieving more results from "
           "the server."),
    _query("fieldSelector", "A selector to restrict the list of returned objects by their "
           "fields. Defaults to everything."),
    _query("labelSelector", "A selector to restrict the list of returned objects by their "
           "labels. Defaults to everything."),
    _query("limit", "limit is a maximum number of responses to return for a list call.",
           type_="integer"),
    _query("resourceVersion", "resourceVersion sets a constraint on what resource versions a "
           "request may be served from."),
    _query("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is "
           "applied to list calls."),
    _query("sendInitialEvents", "`sendInitialEvents=true` may be set together with "
           "`watch=true`.", type_="boolean"),
    _query("timeoutSeconds", "Timeout for the list/watch call.", type_="integer"),
    _query("watch", "Watch for changes to the described resources and return them as a stream "
           "of add, update, and remove notifications.", type_="boolean"),
)
DELETE_PARAMETERS = (
    DRY_RUN,
    _query("gracePeriodSeconds", "The duration in seconds before the object should be deleted.",
           type_="integer"),
    _query("ignoreStoreReadErrorWithClusterBreakingPotential", "if set to true, it will "
           "trigger an unsafe deletion of the resource in case the normal deletion flow fails "
           "with a corrupt object error.", type_="boolean"),
    _query("orphanDependents", "Deprecated: please use the PropagationPolicy, this field will "
           "be deprecated in 1.7.", type_="boolean"),
    _query("propagationPolicy", "Whether and how garbage collection will be performed."),
)


def _path_parameter(name: str, description: str) -> Obj:
    return {"description": description, "in": "path", "name": name, "required": True,
            "schema": {"type": "string", "uniqueItems": True}}


NAMESPACE_PARAMETER = _path_parameter(
    "namespace", "object name and auth scope, such as for teams and projects")


class OpenAPIDocuments:
    """The `/openapi/v3` index and per-group-version documents for a catalogue.

    Documents are built on first request and kept: startup costs nothing, and the first
    `kubectl apply` pays once (tens of milliseconds for `api/v1`). Bodies are JSON with sorted
    keys, as upstream's. The ETag of a document is the hash the index puts in its
    `serverRelativeURL`; it is derived from what the document is built from, so the index
    needs no document built. Not thread-safe: call from the event loop.
    """

    def __init__(self, catalogue_: catalogue.Catalogue, *,
                 custom_document: Callable[[catalogue.GroupVersion], Obj | None] | None = None
                 ) -> None:
        self._catalogue = catalogue_
        # The document of a custom resource group-version, None for a built-in one (the
        # apiserver's CustomResourceDefinitions; None when there are none).
        self._custom_document = custom_document
        self._index: tuple[bytes, str] | None = None
        self._documents: dict[str, tuple[bytes, str]] = {}

    def catalogue_changed(self) -> None:
        """Forget every built document (a CustomResourceDefinition changed the catalogue)."""
        self._index = None
        self._documents.clear()

    def index(self) -> tuple[bytes, str]:
        """(body, etag) for `GET /openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL":
        "/openapi/v3/api/v1?hash=<HASH>"}, "apis/apps/v1": ...}}`."""
        if self._index is None:
            paths = {key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={self._etag(key, gv)}"}
                     for key, gv in self._group_versions().items()}
            body = orjson.dumps({"paths": paths}, option=orjson.OPT_SORT_KEYS)
            self._index = (body, hashlib.sha512(body).hexdigest().upper())
        return self._index

    def document(self, path: str) -> tuple[bytes, str] | None:
        """(body, etag) for `GET /openapi/v3/<path>` (`api/v1`, `apis/apps/v1`; a leading
        `/openapi/v3/` and a query are ignored), or None if no such group-version is served."""
        key = path.split("?", 1)[0].removeprefix("/openapi/v3").strip("/")
        cached = self._documents.get(key)
        if cached is not None:
            return cached
        gv = self._group_versions().get(key)
        if gv is None:
            return None
        custom = self._custom_document(gv) if self._custom_document is not None else None
        if custom is None:
            body = orjson.dumps(build_document(gv), option=orjson.OPT_SORT_KEYS)
            self._documents[key] = (body, _hash(gv))
        else:
            body = orjson.dumps(custom, option=orjson.OPT_SORT_KEYS)
            self._documents[key] = (body, hashlib.sha512(body).hexdigest().upper())
        return self._documents[key]

    def _etag(self, key: str, gv: catalogue.GroupVersion) -> str:
        """A built-in document's hash needs no document; a custom one's is its body's."""
        if self._custom_document is None or self._custom_document(gv) is None:
            return _hash(gv)
        found = self.document(key)
        return found[1] if found is not None else _hash(gv)

    def _group_versions(self) -> dict[str, catalogue.GroupVersion]:
        found: dict[str, catalogue.GroupVersion] = {}
        for group, versions in self._catalogue.groups():
            for gv in versions:
                found[f"apis/{group}/{gv.version}" if group else f"api/{gv.version}"] = gv
        return found


def _hash(gv: catalogue.GroupVersion) -> str:
    """A digest of everything a group-version's document is built from, upper-case hex like
    upstream's (which digests the document itself)."""
    source = orjson.dumps([version.KUBERNETES_VERSION, schemas.SCHEMA_VERSION, gv.group, gv.version,
                           gv.resources])
    return hashlib.sha512(source).hexdigest().upper()


DefinitionName = Callable[[str, str, str], str | None]
"""(group, version, kind) -> the definition describing that kind, None when there is none."""


def build_document(gv: catalogue.GroupVersion, *,
                   definition_name: DefinitionName = schemas.definition_name,
                   extra_schemas: Obj | None = None, extra_roots: tuple[str, ...] = ()) -> Obj:
    """The OpenAPI 3.0 document of one group-version. Custom resources
    (`kajitori.api.apiextensions.openapibuilder`) name their kinds' definitions with
    `definition_name` and bring them in `extra_schemas` (already in OpenAPI 3.0 form), with
    the built-in definitions those reference as `extra_roots`."""
    paths: Obj = {}
    roots: set[str] = {STATUS, *extra_roots}
    for resource in gv.resources:
        _add_resource_paths(paths, resource, roots, definition_name=definition_name)
    components = component_schemas(roots)
    components.update(extra_schemas or {})
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": version.KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": dict(sorted(components.items()))},
    }


def operation_prefix(group: str, version: str) -> str:
    """`CoreV1`, `AppsV1`, `RbacAuthorizationV1`: how operation ids name a group-version."""
    words = group.removesuffix(".k8s.io").split(".") if group else ["core"]
    return "".join(w[:1].upper() + w[1:] for w in words) + version[:1].upper() + version[1:]


def _tag(group: str, version: str) -> str:
    prefix = operation_prefix(group, version)
    return f"{prefix[:1].lower()}{prefix[1:-len(version)]}_{version}"


def _add_resource_paths(paths: Obj, resource: catalogue.Resource, roots: set[str], *,
                        definition_name: DefinitionName) -> None:
    definition = definition_name(resource.group, resource.version, resource.kind)
    list_definition = definition_name(resource.group, resource.version, resource.list_kind)
    prefix = f"/apis/{resource.group}/{resource.version}" if resource.group \
        else f"/api/{resource.version}"
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    namespaced = "Namespaced" if resource.namespaced else ""
    op = operation_prefix(resource.group, resource.version)
    gvk = {"group": resource.group, "kind": resource.kind, "version": resource.version}
    tags = [_tag(resource.group, resource.version)]
    kind, verbs = resource.kind, set(resource.verbs)
    for name in (definition, list_definition):
        if name:
            roots.add(name)

    def operation(action: str, op_id: str, description: str, response: str | None, *,
                  codes: tuple[str, ...] = ("200",), parameters: tuple[Obj, ...] = (),
                  body: str | None = None, gvk_: Obj = gvk) -> Obj:
        result: Obj = {"description": description, "operationId": op_id,
                       "responses": _responses(response, codes), "tags": tags,
                       "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk_}
        if parameters:
            result["parameters"] = list(parameters)
        if body:
            result["requestBody"] = {"content": {"*/*": {"schema": _ref(body)}},
                                     "required": True}
        return result

    path_params = [NAMESPACE_PARAMETER] if resource.namespaced else []
    collection: Obj = {"parameters": [*path_params, PRETTY]}
    if "list" in verbs:
        collection["get"] = operation(
            "list", f"list{op}{namespaced}{kind}", f"list or watch objects of kind {kind}",
            list_definition, parameters=LIST_PARAMETERS)
    if "create" in verbs:
        collection["post"] = operation(
            "post", f"create{op}{namespaced}{kind}", f"create {_article(kind)} {kind}",
            definition, codes=("200", "201", "202"),
            parameters=(DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION), body=definition)
    if "deletecollection" in verbs:
        roots.add(DELETE_OPTIONS)
        collection["delete"] = operation(
            "deletecollection", f"delete{op}Collection{namespaced}{kind}",
            f"delete collection of {kind}", STATUS,
            parameters=(*DELETE_PARAMETERS, *LIST_PARAMETERS[1:-1]), body=DELETE_OPTIONS)
    if len(collection) > 1:
        paths[f"{prefix}{scope}/{resource.plural}"] = collection

    name_param = _path_parameter("name", f"name of the {kind}")
    item: Obj = {"parameters": [name_param, *path_params, PRETTY]}
    if "get" in verbs:
        item["get"] = operation("get", f"read{op}{namespaced}{kind}",
                                f"read the specified {kind}", definition)
    if "update" in verbs:
        item["put"] = operation(
            "put", f"replace{op}{namespaced}{kind}", f"replace the specified {kind}",
            definition, codes=("200", "201"),
            parameters=(DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION), body=definition)
    if "patch" in verbs:
        item["patch"] = operation(
            "patch", f"patch{op}{namespaced}{kind}", f"partially update the specified {kind}",
            definition, codes=("200", "201"),
            parameters=(DRY_RUN, PATCH_FIELD_MANAGER, FIELD_VALIDATION, FORCE))
    if "delete" in verbs:
        roots.add(DELETE_OPTIONS)
        item["delete"] = operation(
            "delete", f"delete{op}{namespaced}{kind}", f"delete {_article(kind)} {kind}",
            STATUS, codes=("200", "202"), parameters=DELETE_PARAMETERS, body=DELETE_OPTIONS)
    if len(item) > 1:
        paths[f"{prefix}{scope}/{resource.plural}/{{name}}"] = item

    if resource.namespaced and "list" in verbs:
        paths[f"{prefix}/{resource.plural}"] = {
            "parameters": [PRETTY],
            "get": operation("list", f"list{op}{kind}ForAllNamespaces",
                             f"list or watch objects of kind {kind}", list_definition,
                             parameters=LIST_PARAMETERS)}

    for sub in resource.subresources:
        sub_definition = definition_name(sub.group, sub.version, sub.kind)
        if sub.name in CONNECT_SUBRESOURCES or sub_definition is None:
            continue
        roots.add(sub_definition)
        sub_gvk = {"group": sub.group, "kind": sub.kind, "version": sub.version}
        suffix = sub.name[:1].upper() + sub.name[1:]
        sub_verbs = set(sub.verbs)
        entry: Obj = {"parameters": [name_param, *path_params, PRETTY]}
        if "get" in sub_verbs:
            entry["get"] = operation(
                "get", f"read{op}{namespaced}{kind}{suffix}",
                f"read {sub.name} of the specified {kind}", sub_definition, gvk_=sub_gvk)
        if "update" in sub_verbs:
            entry["put"] = operation(
                "put", f"replace{op}{namespaced}{kind}{suffix}",
                f"replace {sub.name} of the specified {kind}", sub_definition,
                codes=("200", "201"), parameters=(DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION),
                body=sub_definition, gvk_=sub_gvk)
        if "patch" in sub_verbs:
            entry["patch"] = operation(
                "patch", f"patch{op}{namespaced}{kind}{suffix}",
                f"partially update {sub.name} of the specified {kind}", sub_definition,
                codes=("200", "201"),
                parameters=(DRY_RUN, PATCH_FIELD_MANAGER, FIELD_VALIDATION, FORCE),
                gvk_=sub_gvk)
        if "create" in sub_verbs:
            entry["post"] = operation(
                "post", f"create{op}{namespaced}{kind}{suffix}",
                f"create {sub.name} of {_article(kind)} {kind}", sub_definition,
                codes=("200", "201", "202"),
                parameters=(DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION), body=sub_definition,
                gvk_=sub_gvk)
        paths[f"{prefix}{scope}/{resource.plural}/{{name}}/{sub.name}"] = entry


def _article(kind: str) -> str:
    return "an" if kind[:1] in "AEIOU" else "a"


_CODE_DESCRIPTIONS = {"200": "OK", "201": "Created", "202": "Accepted"}


def _responses(definition: str | None, codes: tuple[str, ...]) -> Obj:
    responses: Obj = {}
    for code in codes:
        response: Obj = {"description": _CODE_DESCRIPTIONS[code]}
        if definition:
            media = MEDIA_TYPES + (WATCH_MEDIA_TYPES if definition.endswith("List") else ())
            response["content"] = {m: {"schema": _ref(definition)} for m in media}
        responses[code] = response
    responses["401"] = {"description": "Unauthorized"}
    return responses


def _ref(definition: str) -> Obj:
    return {"$ref": COMPONENTS_PREFIX + definition}


def component_schemas(roots: set[str]) -> Obj:
    """The named definitions and every definition they reach, in OpenAPI 3.0 form."""
    defs = schemas.definitions()
    result: Obj = {}
    pending = sorted(roots)
    while pending:
        name = pending.pop()
        if name in result or name not in defs:
            continue
        result[name] = convert_definition(name)
        pending.extend(_refs(defs[name]))
    return dict(sorted(result.items()))


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [v[len(schemas.REF_PREFIX):] for k, v in schema.items()
                 if k == "$ref" and isinstance(v, str) and v.startswith(schemas.REF_PREFIX)]
        for v in schema.values():
            found.extend(_refs(v))
        return found
    if isinstance(schema, list):
        return [r for v in schema for r in _refs(v)]
    return []


def convert_definition(name: str) -> Obj:
    """One kubernetes-validate definition as upstream's v3 document has it."""
    replaced = _REPLACED_SCHEMAS.get(name)
    if replaced is not None:
        return replaced
    converted = _convert(schemas.definitions()[name])
    if "x-kubernetes-group-version-kind" in converted:
        for field in ("apiVersion", "kind"):
            converted.get("properties", {}).get(field, {}).pop("enum", None)
    return converted


def _convert(schema: Obj) -> Obj:
    out: Obj = {}
    for key, value in schema.items():
        if key == "$ref":
            continue
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if not types:
                continue
            value = types[0]
        elif key == "properties":
            value = {k: _convert(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = _convert(value)
        elif key in ("allOf", "oneOf", "anyOf"):
            value = [_convert(v) for v in value]
        out[key] = value
    ref = schemas.ref_name(schema) if "$ref" in schema else None
    if ref is None:
        return out
    if not out:
        return _ref(ref)
    return {"allOf": [_ref(ref)], **out}
