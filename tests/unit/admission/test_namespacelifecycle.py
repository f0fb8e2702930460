"""NamespaceLifecycle: nothing new in a missing or terminating namespace; immortal ones stay."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kajitori.admission import interface, namespacelifecycle
from kajitori.api import catalogue, errors

Obj = dict[str, Any]

CATALOGUE = catalogue.builtin()
TERMINATING_MESSAGE = ("unable to create new content in namespace {ns} because it is being "
                       "terminated")


class Namespaces:
    """The namespaces the plugin may look up, and which it asked for."""

    def __init__(self, **phases: str) -> None:
        self._phases = phases
        self.asked: list[str] = []

    async def get(self, name: str) -> Obj | None:
        self.asked.append(name)
        phase = self._phases.get(name)
        if phase is None:
            return None
        return {"metadata": {"name": name}, "status": {"phase": phase}}


def attrs(operation: str, plural: str, *, namespace: str = "", name: str = "x",
          group: str = "", version: str = "v1", obj: Obj | None = None) -> interface.Attributes:
    resource = CATALOGUE.get(group, version, plural)
    assert resource is not None
    if obj is None and operation in ("CREATE", "UPDATE"):
        obj = {"metadata": {"name": name, "namespace": namespace}}
    return interface.Attributes(operation=operation, resource=resource, namespace=namespace,
                                name=name, obj=obj, old=None)


def admit(namespaces: Namespaces, attributes: interface.Attributes) -> None:
    plugin = namespacelifecycle.NamespaceLifecycle(get_namespace=namespaces.get)
    asyncio.run(plugin.admit(attributes))


def refused(namespaces: Namespaces, attributes: interface.Attributes) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as caught:
        admit(namespaces, attributes)
    return caught.value


def test_plugin_name() -> None:
    assert namespacelifecycle.NamespaceLifecycle.name == "NamespaceLifecycle"


@pytest.mark.parametrize("operation", ["CREATE", "UPDATE"])
def test_write_in_missing_namespace_is_not_found(operation: str) -> None:
    exc = refused(Namespaces(), attrs(operation, "configmaps", namespace="gone", name="c"))
    assert exc.code == 404
    assert exc.reason == "NotFound"
    assert str(exc) == 'namespaces "gone" not found'
    assert exc.status["details"] == {"name": "gone", "kind": "namespaces"}


@pytest.mark.parametrize("operation", ["CREATE", "UPDATE"])
def test_write_in_active_namespace_is_admitted(operation: str) -> None:
    namespaces = Namespaces(app="Active")
    admit(namespaces, attrs(operation, "configmaps", namespace="app"))
    assert namespaces.asked == ["app"]


def test_create_in_terminating_namespace_is_forbidden() -> None:
    exc = refused(Namespaces(app="Terminating"),
                  attrs("CREATE", "configmaps", namespace="app", name="c"))
    assert exc.code == 403
    assert exc.reason == "Forbidden"
    assert str(exc) == ('configmaps "c" is forbidden: ' + TERMINATING_MESSAGE.format(ns="app"))


def test_terminating_refusal_carries_the_namespace_terminating_cause() -> None:
    # Clients (the garbage collector, controllers) recognise this refusal by its cause.
    exc = refused(Namespaces(app="Terminating"),
                  attrs("CREATE", "configmaps", namespace="app", name="c"))
    assert exc.status["details"]["causes"] == [{
        "reason": "NamespaceTerminating", "message": "namespace app is being terminated",
        "field": "metadata.namespace"}]


def test_terminating_refusal_names_a_generated_object_by_its_prefix() -> None:
    # The name is not generated yet; upstream's admission.NewForbidden names it by generateName.
    obj = {"metadata": {"generateName": "web-", "namespace": "app"}}
    exc = refused(Namespaces(app="Terminating"),
                  attrs("CREATE", "pods", namespace="app", name="", obj=obj))
    assert str(exc) == ('pods "web-" is forbidden: ' + TERMINATING_MESSAGE.format(ns="app"))


def test_terminating_refusal_of_a_nameless_object_says_unknown() -> None:
    obj = {"metadata": {"namespace": "app"}}
    exc = refused(Namespaces(app="Terminating"),
                  attrs("CREATE", "configmaps", namespace="app", name="", obj=obj))
    assert str(exc) == ('configmaps "Unknown" is forbidden: '
                        + TERMINATING_MESSAGE.format(ns="app"))


def test_terminating_refusal_names_the_group() -> None:
    exc = refused(Namespaces(app="Terminating"),
                  attrs("CREATE", "deployments", group="apps", namespace="app", name="d"))
    assert str(exc) == ('deployments.apps "d" is forbidden: '
                        + TERMINATING_MESSAGE.format(ns="app"))


def test_events_are_refused_in_terminating_namespace_too() -> None:
    # Upstream exempts only access reviews, not events.
    exc = refused(Namespaces(app="Terminating"),
                  attrs("CREATE", "events", namespace="app", name="e"))
    assert exc.code == 403


def test_update_in_terminating_namespace_is_admitted() -> None:
    admit(Namespaces(app="Terminating"), attrs("UPDATE", "configmaps", namespace="app"))


@pytest.mark.parametrize("phase", [None, "Terminating"])
def test_delete_is_always_admitted_without_a_lookup(phase: str | None) -> None:
    namespaces = Namespaces(**({"app": phase} if phase else {}))
    admit(namespaces, attrs("DELETE", "configmaps", namespace="app"))
    assert namespaces.asked == []


@pytest.mark.parametrize("phase", [None, "Terminating"])
def test_local_access_review_is_admitted_without_a_lookup(phase: str | None) -> None:
    # Upstream skips every check: the answer must not tell whether the namespace exists.
    namespaces = Namespaces(**({"app": phase} if phase else {}))
    admit(namespaces, attrs("CREATE", "localsubjectaccessreviews",
                            group="authorization.k8s.io", namespace="app", name=""))
    assert namespaces.asked == []


def test_cluster_scoped_resources_are_not_checked() -> None:
    namespaces = Namespaces()
    admit(namespaces, attrs("CREATE", "nodes", name="n1"))
    assert namespaces.asked == []


def test_namespaces_themselves_may_be_created_and_updated() -> None:
    namespaces = Namespaces()
    admit(namespaces, attrs("CREATE", "namespaces", name="new"))
    admit(namespaces, attrs("UPDATE", "namespaces", name="new"))
    assert namespaces.asked == []


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_immortal_namespaces_cannot_be_deleted(name: str) -> None:
    exc = refused(Namespaces(), attrs("DELETE", "namespaces", name=name))
    assert exc.code == 403
    assert str(exc) == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    assert exc.status["details"] == {"name": name, "kind": "namespaces"}


def test_other_namespaces_may_be_deleted() -> None:
    admit(Namespaces(), attrs("DELETE", "namespaces", name="kube-node-lease"))
    admit(Namespaces(), attrs("DELETE", "namespaces", name="app"))
