"""DefaultStorageClass: a new claim without a class gets the (newest) default class."""

from __future__ import annotations

import asyncio
from typing import Any

from kajitori.admission import defaultstorageclass, interface
from kajitori.api import catalogue

Obj = dict[str, Any]

CATALOGUE = catalogue.builtin()
DEFAULT = {"storageclass.kubernetes.io/is-default-class": "true"}


def storage_class(name: str, *, created: str = "2025-01-01T00:00:00Z",
                  annotations: dict[str, str] | None = None) -> Obj:
    return {"metadata": {"name": name, "creationTimestamp": created,
                         "annotations": annotations or {}},
            "provisioner": "example.com/x"}


def claim(**spec: Any) -> Obj:
    return {"metadata": {"name": "data", "namespace": "ns"},
            "spec": {"resources": {"requests": {"storage": "1Gi"}}, **spec}}


def admit(classes: list[Obj], obj: Obj, *, plural: str = "persistentvolumeclaims",
          operation: str = "CREATE") -> Obj:
    async def list_storage_classes() -> list[Obj]:
        return classes

    resource = CATALOGUE.get("", "v1", plural)
    assert resource is not None
    plugin = defaultstorageclass.DefaultStorageClass(list_storage_classes=list_storage_classes)
    asyncio.run(plugin.admit(interface.Attributes(
        operation=operation, resource=resource, namespace="ns", name="data", obj=obj,
        old=None)))
    return obj


def test_claim_without_class_gets_the_default() -> None:
    classes = [storage_class("slow"), storage_class("fast", annotations=DEFAULT)]
    assert admit(classes, claim())["spec"]["storageClassName"] == "fast"


def test_newest_of_several_defaults_wins_and_the_name_breaks_ties() -> None:
    classes = [storage_class("old", annotations=DEFAULT),
               storage_class("new-b", created="2025-06-01T00:00:00Z", annotations=DEFAULT),
               storage_class("new-a", created="2025-06-01T00:00:00Z", annotations=DEFAULT)]
    assert admit(classes, claim())["spec"]["storageClassName"] == "new-a"


def test_beta_default_annotation_counts_and_other_values_do_not() -> None:
    classes = [storage_class("beta", annotations={
                   "storageclass.beta.kubernetes.io/is-default-class": "true"}),
               storage_class("yes", created="2026-01-01T00:00:00Z", annotations={
                   "storageclass.kubernetes.io/is-default-class": "yes"})]
    assert admit(classes, claim())["spec"]["storageClassName"] == "beta"


def test_explicit_class_or_empty_class_or_beta_annotation_is_kept() -> None:
    classes = [storage_class("fast", annotations=DEFAULT)]
    assert admit(classes, claim(storageClassName="gold"))["spec"]["storageClassName"] == "gold"
    assert admit(classes, claim(storageClassName=""))["spec"]["storageClassName"] == ""
    annotated = claim()
    annotated["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "x"}
    assert "storageClassName" not in admit(classes, annotated)["spec"]


def test_no_default_class_leaves_the_claim_alone() -> None:
    assert "storageClassName" not in admit([storage_class("slow")], claim())["spec"]


def test_only_claims_on_create_are_defaulted() -> None:
    classes = [storage_class("fast", annotations=DEFAULT)]
    assert "storageClassName" not in admit(classes, claim(), operation="UPDATE")["spec"]
    pod = {"metadata": {"name": "data"}, "spec": {}}
    assert admit(classes, pod, plural="pods")["spec"] == {}
