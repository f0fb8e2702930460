"""DefaultStorageClass: a new PersistentVolumeClaim that names no class gets the default one.

Mirrors plugin/pkg/admission/storage/storageclass/setdefault/admission.go: only on CREATE of a
claim whose `spec.storageClassName` is absent (an explicit `""` means "no class" and is kept) and
which has no beta `volume.beta.kubernetes.io/storage-class` annotation; the default is the newest
class marked `storageclass.kubernetes.io/is-default-class: "true"`
(`kajitori.api.storageclass.get_default_class`). No default class: the claim is left as it is
(the PersistentVolume binder assigns one retroactively if a default appears later).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kajitori.admission.interface import Attributes
from kajitori.api import meta, storageclass

Obj = dict[str, Any]

log = logging.getLogger(__name__)

PLUGIN_NAME = "DefaultStorageClass"


class DefaultStorageClass:
    name = PLUGIN_NAME

    def __init__(self, *, list_storage_classes: Callable[[], Awaitable[list[Obj]]]) -> None:
        """`list_storage_classes` lists every StorageClass, from the apiserver's own store."""
        self._list_storage_classes = list_storage_classes

    async def admit(self, attrs: Attributes) -> None:
        resource = attrs.resource
        if (resource.group, resource.plural) != ("", "persistentvolumeclaims") \
                or attrs.operation != "CREATE" or attrs.subresource or attrs.obj is None:
            return
        claim = attrs.obj
        spec = claim.setdefault("spec", {})
        if spec.get("storageClassName") is not None \
                or storageclass.BETA_STORAGE_CLASS_ANNOTATION in meta.annotations(claim):
            return
        classes = await self._list_storage_classes()
        default = storageclass.get_default_class(classes)
        if default is None:
            return
        defaults = sum(1 for c in classes if storageclass.is_default_annotation(c))
        if defaults > 1:
            log.info("%d default StorageClasses were found; choosing the newest: %s",
                     defaults, meta.name(default))
        spec["storageClassName"] = meta.name(default)
