"""The root CA publisher: `kube-root-ca.crt` with the CA and the description, repaired if
changed, left alone if right."""

from __future__ import annotations

import fakecluster

from kajitori.client import rest
from kajitori.controllers import rootcacertpublisher

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
AT = fakecluster.path("", "v1", "configmaps", namespace="default", name="kube-root-ca.crt")
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
               "internal endpoints such as the internal service IP or kubernetes.default.svc. "
               "No other usage is guaranteed across distributions of Kubernetes clusters.")


def publisher(client: rest.RESTClient, *config_maps: dict) -> rootcacertpublisher.Publisher:
    return rootcacertpublisher.Publisher(
        client=client, namespaces=fakecluster.seeded(),
        config_maps=fakecluster.seeded(*config_maps), root_ca=CA)


async def test_creates_the_config_map(client: rest.RESTClient) -> None:
    await publisher(client).sync("default")
    made = await client.get(AT)
    assert made["data"] == {"ca.crt": CA}
    assert made["metadata"]["annotations"] == {"kubernetes.io/description": DESCRIPTION}


async def test_repairs_changed_data_and_keeps_other_annotations(client: rest.RESTClient) -> None:
    changed = await client.create(fakecluster.path("", "v1", "configmaps", namespace="default"), {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "annotations": {"mine": "yes"}},
        "data": {"ca.crt": "tampered", "extra": "x"}})
    await publisher(client, changed).sync("default")
    repaired = await client.get(AT)
    assert repaired["data"] == {"ca.crt": CA}
    assert repaired["metadata"]["annotations"] == {"mine": "yes",
                                                   "kubernetes.io/description": DESCRIPTION}


async def test_leaves_a_correct_config_map_alone(client: rest.RESTClient) -> None:
    await publisher(client).sync("default")
    current = await client.get(AT)
    await publisher(client, current).sync("default")
    assert (await client.get(AT))["metadata"]["resourceVersion"] == \
        current["metadata"]["resourceVersion"]


async def test_missing_namespace_is_not_an_error(client: rest.RESTClient) -> None:
    await publisher(client).sync("nowhere")


def test_only_its_own_config_map_queues_the_namespace() -> None:
    ctl = publisher(None)  # type: ignore[arg-type]
    ctl._config_map_changed({"metadata": {"name": "other", "namespace": "a"}})
    ctl._config_map_changed({"metadata": {"name": "kube-root-ca.crt", "namespace": "b"}})
    ctl._namespace_updated({}, {"metadata": {"name": "c"}, "status": {"phase": "Terminating"}})
    assert len(ctl.queue) == 1
