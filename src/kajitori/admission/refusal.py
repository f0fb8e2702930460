"""admission.NewForbidden: a plugin's refusal of a write, named as upstream names it."""

from __future__ import annotations

from kajitori.admission.interface import Attributes
from kajitori.api import errors

# The name NewForbidden reports for an object that has neither name nor generateName yet.
UNKNOWN_NAME = "Unknown"


def forbidden(attrs: Attributes, detail: str) -> errors.StatusError:
    """403 `<resource> "<name>" is forbidden: <detail>`; the name is the request's, else the
    object's, else its generateName (names are generated after admission), else `Unknown`."""
    metadata = (attrs.obj or {}).get("metadata") or {}
    name = attrs.name or metadata.get("name") or metadata.get("generateName") or UNKNOWN_NAME
    return errors.forbidden(attrs.resource.qualified, name, detail)
