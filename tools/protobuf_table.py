"""Build src/kajitori/api/data/protobuf.json from upstream's API source trees.

Usage: python tools/protobuf_table.py OUT.json ROOT...

Each ROOT is an extracted source tree (k8s.io/api, k8s.io/apimachinery,
k8s.io/apiextensions-apiserver at one release tag). Every directory under a ROOT that holds a
`generated.proto` contributes its messages; the Go files beside it (`types.go` and friends) give
what the .proto file does not say: the JSON name of each field (`uID` in proto is `uid` in JSON),
whether the Go field is a pointer (present on the wire means set, even when zero), whether JSON
omits its zero value (`omitempty`) and whether it is inlined (`json:",inline"`). `register.go`
gives the API group of the directory. The shipped table was built from tag v0.33.13 of all three.

The table it writes (read by kajitori.api.protobuf):
  {"groups": {"apps/v1": "k8s.io.api.apps.v1", ...},
   "wrappers": ["<message>", ...],            # `+protobuf.nullable=true`: JSON is the items list
   "messages": {"<package>.<Message>": {"<number>": [json_name, type, kind(, flag)]}}}
`type` is a scalar proto type or a message name without the leading dot (short within the
message's own package, else full); for kind "map" it is [key_type, value_type]. `flag` is
"pointer", "always" (a scalar JSON never omits), "inline" or "skip" (json:"-"); absent means a
non-pointer field JSON omits when zero.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SCALARS = frozenset({"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double",
                     "float", "fixed32", "fixed64", "sfixed32", "sfixed64", "sint32", "sint64"})
TREES = ("api", "apimachinery/pkg/apis", "apimachinery/pkg/api", "apimachinery/pkg/util",
         "apimachinery/pkg/runtime", "apiextensions-apiserver/pkg/apis")
EXCLUDED_DIRS = ("testapigroup",)

PACKAGE_RE = re.compile(r"^package\s+([\w.]+);")
MESSAGE_RE = re.compile(r"^message\s+(\w+)\s*\{")
FIELD_RE = re.compile(r"^\s*(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)")
MAP_RE = re.compile(r"^\s*map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)")
GO_STRUCT_RE = re.compile(r"^type\s+(\w+)\s+struct\s*\{\s*$")
GO_FIELD_RE = re.compile(r"^\s+(?:(\w+)\s+)?(\S+)\s+`([^`]*)`")
GO_GROUP_RE = re.compile(r'^const\s+GroupName\s*=\s*"([^"]*)"', re.MULTILINE)
TAG_RE = re.compile(r'(\w+):"([^"]*)"')


def resolve(package: str, name: str) -> str:
    if name in SCALARS:
        return name
    if name.startswith("."):
        return name[1:]
    return f"{package}.{name}"


def parse_proto(text: str) -> tuple[str, dict[str, dict[int, list]], list[str]]:
    package = ""
    messages: dict[str, dict[int, list]] = {}
    wrappers: list[str] = []
    current: dict[int, list] | None = None
    nullable = False
    for line in text.splitlines():
        stripped = line.strip()
        if m := PACKAGE_RE.match(stripped):
            package = m.group(1)
        elif stripped.startswith("//"):
            nullable = nullable or "+protobuf.nullable=true" in stripped
        elif m := MESSAGE_RE.match(stripped):
            current = messages.setdefault(f"{package}.{m.group(1)}", {})
            if nullable:
                wrappers.append(f"{package}.{m.group(1)}")
            nullable = False
        elif stripped == "}":
            current = None
        elif current is not None and (m := MAP_RE.match(line)):
            key, value, name, number = m.groups()
            current[int(number)] = [name, [resolve(package, key), resolve(package, value)], "map"]
        elif current is not None and (m := FIELD_RE.match(line)):
            label, type_name, name, number = m.groups()
            kind = "repeated" if label == "repeated" else "optional"
            current[int(number)] = [name, resolve(package, type_name), kind]
        elif not stripped:
            continue
        else:
            nullable = False
    return package, messages, wrappers


def parse_go(directory: Path) -> dict[tuple[str, int], tuple[str, str, str]]:
    """(struct, field number) -> (Go type, json name, json options) for protobuf-tagged fields."""
    fields: dict[tuple[str, int], tuple[str, str, str]] = {}
    for path in sorted(directory.glob("*.go")):
        if path.name.endswith("_test.go") or path.name.startswith(("zz_", "generated")):
            continue
        struct = None
        for line in path.read_text().splitlines():
            if m := GO_STRUCT_RE.match(line):
                struct = m.group(1)
            elif line.startswith("}"):
                struct = None
            elif struct and (m := GO_FIELD_RE.match(line)):
                _, go_type, tag = m.groups()
                tags = dict(TAG_RE.findall(tag))
                proto = tags.get("protobuf", "-").split(",")
                if len(proto) < 2 or not proto[1].isdigit():
                    continue
                json_name, _, options = tags.get("json", "").partition(",")
                fields[(struct, int(proto[1]))] = (go_type, json_name, options)
    return fields


def flag_for(entry: list, go_type: str, json_name: str, options: str) -> str | None:
    if json_name == "-":
        return "skip"
    if not json_name and "inline" in options:
        return "inline"
    if entry[2] != "optional":
        return None
    if go_type.startswith("*"):
        return "pointer"
    if "omitempty" not in options.split(",") and entry[1] in SCALARS:
        return "always"
    return None


def shorten(entry: list, package: str) -> list:
    """Write same-package message types by their short name: the table is shipped in the wheel."""
    def short(type_name: str) -> str:
        prefix, _, name = type_name.rpartition(".")
        return name if prefix == package else type_name

    types = entry[1]
    entry[1] = [short(t) for t in types] if isinstance(types, list) else short(types)
    return entry


def build(roots: list[Path]) -> dict:
    groups: dict[str, str] = {}
    messages: dict[str, dict[str, list]] = {}
    wrappers: list[str] = []
    unmatched = 0
    for root in roots:
        for proto in sorted(root.rglob("generated.proto")):
            relative = str(proto.parent.relative_to(root.parent))
            if not relative.startswith(TREES) or any(d in relative for d in EXCLUDED_DIRS):
                continue
            package, parsed, nullable = parse_proto(proto.read_text())
            wrappers.extend(nullable)
            go_fields = parse_go(proto.parent)
            register = proto.parent / "register.go"
            if register.exists() and (m := GO_GROUP_RE.search(register.read_text())):
                group, version = m.group(1), proto.parent.name
                groups[f"{group}/{version}" if group else version] = package
            for message, fields in parsed.items():
                struct = message.rsplit(".", 1)[1]
                table: dict[str, list] = {}
                for number, entry in sorted(fields.items()):
                    go = go_fields.get((struct, number))
                    if go is None:
                        unmatched += 1
                    else:
                        go_type, json_name, options = go
                        entry = [json_name or entry[0], *entry[1:]]
                        if flag := flag_for(entry, go_type, json_name, options):
                            entry.append(flag)
                    table[str(number)] = shorten(entry, package)
                messages[message] = table
    print(f"{len(messages)} messages, {unmatched} fields without a Go tag", file=sys.stderr)
    return {"groups": dict(sorted(groups.items())), "wrappers": sorted(wrappers),
            "messages": dict(sorted(messages.items()))}


def main() -> None:
    out, *roots = sys.argv[1:]
    table = build([Path(r) for r in roots])
    Path(out).write_text(json.dumps(table, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
