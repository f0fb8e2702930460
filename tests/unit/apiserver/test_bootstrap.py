"""What bootstrap does for metrics.k8s.io: the APIService comes back Available, and the
simulator's former metrics CRDs (and only those) are deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kajitori.apiserver import bootstrap, metricsapi

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
APISERVICE = f"/apis/apiregistration.k8s.io/v1/apiservices/{metricsapi.APISERVICE_NAME}"


def metrics_crd(plural: str, kind: str, *, approval: str) -> Obj:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.metrics.k8s.io",
                         "annotations": {"api-approved.kubernetes.io": approval}},
            "spec": {"group": "metrics.k8s.io", "scope": "Cluster",
                     "names": {"plural": plural, "kind": kind},
                     "versions": [{"name": "v1beta1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object",
                                       "x-kubernetes-preserve-unknown-fields": True}}}]}}


async def rerun(api: API) -> None:
    await bootstrap.ensure_defaults(api.server.registry_for, service_ip="10.96.0.1",
                                    advertise_address="127.0.0.1", port=api.server.port)


async def test_the_simulators_metrics_crds_are_deleted_and_others_kept(api: API) -> None:
    for crd in (metrics_crd("nodes", "NodeMetrics",
                            approval=bootstrap.SIMULATED_METRICS_APPROVAL),
                metrics_crd("pods", "PodMetrics", approval="https://example.com/pr/1")):
        async with api.session.post(api.url(CRDS), json=crd) as resp:
            assert resp.status == 201, await resp.text()
    await rerun(api)
    async with api.session.get(api.url(f"{CRDS}/nodes.metrics.k8s.io")) as resp:
        gone = resp.status == 404 or "deletionTimestamp" in (await resp.json())["metadata"]
    assert gone
    async with api.session.get(api.url(f"{CRDS}/pods.metrics.k8s.io")) as resp:
        kept = await resp.json()
    assert "deletionTimestamp" not in kept["metadata"]


async def test_the_apiservice_becomes_available_again(api: API) -> None:
    async with api.session.get(api.url(APISERVICE)) as resp:
        service = await resp.json()
    service["status"] = {"conditions": [{"type": "Available", "status": "False",
                                         "lastTransitionTime": "2026-01-01T00:00:00Z",
                                         "reason": "Broken", "message": "x"}]}
    async with api.session.put(api.url(f"{APISERVICE}/status"), json=service) as resp:
        assert resp.status == 200, await resp.text()
    await rerun(api)
    async with api.session.get(api.url(APISERVICE)) as resp:
        (condition,) = (await resp.json())["status"]["conditions"]
    assert (condition["status"], condition["reason"]) == ("True", "Local")
