"""Restarts and crashes: what was acknowledged is still there, unchanged.

Each test owns its data directory and starts servers on it with
`kajitori.testing.running`: a clean stop (SIGTERM, as the context manager does) and a
crash (`Cluster.kill()`, SIGKILL) must both keep every object a client was told about with the
uid and resourceVersion it was told, since controllers and watchers compare exactly those.
"""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from kubectlrunner import eventually
from test_bad_input import RawClient

from kajitori.testing import harness as testing_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STORM_WRITERS = 8
STORM_ACKS_BEFORE_KILL = 1000
"""The crash comes once this many creates have been acknowledged, while all writers are busy."""
STORM_TIMEOUT = 60.0
WATCH_TIMEOUT_SECONDS = 3

COLLECTIONS = ("/api/v1/namespaces", "/api/v1/configmaps", "/api/v1/secrets", "/api/v1/pods",
               "/apis/apps/v1/deployments")
"""What the restart test compares (Services and Endpoints are left out: the `kubernetes` Service
endpoints follow the port, which a restart on port 0 changes)."""


def identities(raw: RawClient, paths: tuple[str, ...] = COLLECTIONS) -> dict[str, tuple[str, str]]:
    """`collection/namespace/name` → (uid, resourceVersion) for every stored object."""
    found: dict[str, tuple[str, str]] = {}
    for path in paths:
        listed = raw.request("GET", path)
        assert listed.status == 200, listed.body
        for item in listed.json()["items"]:
            md = item["metadata"]
            found[f"{path}/{md.get('namespace', '')}/{md['name']}"] = (md["uid"],
                                                                       md["resourceVersion"])
    return found


def create(raw: RawClient, path: str, obj: dict[str, Any]) -> dict[str, Any]:
    response = raw.request("POST", path, obj)
    assert response.status == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def populate(raw: RawClient, ns: str) -> None:
    """A namespace with a few kinds, an updated object and a deleted one."""
    create(raw, "/api/v1/namespaces", namespace(ns))
    for i in range(5):
        create(raw, f"/api/v1/namespaces/{ns}/configmaps", configmap(f"cm{i}", {"i": str(i)}))
    create(raw, f"/api/v1/namespaces/{ns}/secrets",
           {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"password": "aHVudGVyMg=="}})
    create(raw, f"/api/v1/namespaces/{ns}/pods",
           {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    labels = {"app": "web"}
    create(raw, f"/apis/apps/v1/namespaces/{ns}/deployments",
           {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    patched = raw.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/cm1",
                          b'{"data": {"i": "one"}}', content_type="application/merge-patch+json")
    assert patched.status == 200, patched.body
    deleted = raw.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/cm2")
    assert deleted.status == 200, deleted.body


def test_clean_restart_keeps_every_object_with_its_uid_and_resource_version(
        tmp_path: Path) -> None:
    with testing_cluster.running(tmp_path) as first:
        raw = RawClient.from_kubeconfig(first.kubeconfig)
        populate(raw, "keep")
        before = identities(raw)
        list_rv = int(raw.request("GET", "/api/v1/configmaps").json()["metadata"][
            "resourceVersion"])
    assert first.process.returncode == 0  # SIGTERM is a clean stop
    with testing_cluster.running(tmp_path) as second:
        raw = RawClient.from_kubeconfig(second.kubeconfig)
        assert identities(raw) == before
        assert raw.request("GET", "/api/v1/namespaces/keep/configmaps/cm2").status == 404
        cm1 = raw.request("GET", "/api/v1/namespaces/keep/configmaps/cm1").json()
        assert cm1["data"] == {"i": "one"}
        secret = raw.request("GET", "/api/v1/namespaces/keep/secrets/s").json()
        assert secret["data"] == {"password": "aHVudGVyMg=="}
        # The revision counter never goes back: a new write is newer than all before it.
        later = create(raw, "/api/v1/namespaces/keep/configmaps", configmap("later", {}))
        assert int(later["metadata"]["resourceVersion"]) > list_rv


class Storm:
    """Concurrent creates, each writer on its own keep-alive connection, recording every
    create the server acknowledged with 201 until the connection breaks."""

    def __init__(self, raw: RawClient, ns: str) -> None:
        self.raw, self.ns = raw, ns
        self.acked: dict[str, tuple[str, str]] = {}
        self.lock = threading.Lock()
        self.enough = threading.Event()
        self.unexpected: list[str] = []

    def write(self, writer: int) -> None:
        connection = self.raw.connect(timeout=10)
        path = f"/api/v1/namespaces/{self.ns}/configmaps"
        try:
            for i in range(1_000_000):
                body = json.dumps(configmap(f"w{writer}-{i}", {"v": str(i)})).encode()
                connection.request("POST", path, body=body, headers=self.raw.headers(
                    "application/json"))
                response = connection.getresponse()
                payload = response.read()
                if response.status != 201:
                    with self.lock:
                        self.unexpected.append(f"{response.status}: {payload[:300]!r}")
                    return
                md = json.loads(payload)["metadata"]
                with self.lock:
                    self.acked[md["name"]] = (md["uid"], md["resourceVersion"])
                    if len(self.acked) >= STORM_ACKS_BEFORE_KILL:
                        self.enough.set()
        except (OSError, http.client.HTTPException):
            return  # the server died under us: this create was never acknowledged
        finally:
            connection.close()


def test_kill_during_a_write_storm_loses_no_acknowledged_write(tmp_path: Path) -> None:
    with testing_cluster.running(tmp_path) as first:
        raw = RawClient.from_kubeconfig(first.kubeconfig)
        create(raw, "/api/v1/namespaces", namespace("storm"))
        storm = Storm(raw, "storm")
        writers = [threading.Thread(target=storm.write, args=(n,)) for n in range(STORM_WRITERS)]
        for writer in writers:
            writer.start()
        reached = storm.enough.wait(STORM_TIMEOUT)
        first.kill()
        for writer in writers:
            writer.join(STORM_TIMEOUT)
        assert reached, f"only {len(storm.acked)} creates acknowledged in {STORM_TIMEOUT}s"
        assert storm.unexpected == []
    with testing_cluster.running(tmp_path) as second:
        raw = RawClient.from_kubeconfig(second.kubeconfig)
        listed = raw.request("GET", "/api/v1/namespaces/storm/configmaps").json()
        stored = {item["metadata"]["name"]: (item["metadata"]["uid"],
                                             item["metadata"]["resourceVersion"])
                  for item in listed["items"]}
        lost = {name: ack for name, ack in storm.acked.items() if stored.get(name) != ack}
        assert lost == {}, f"{len(lost)} of {len(storm.acked)} acknowledged creates lost"
        revisions = [int(rv) for _, rv in stored.values()]
        assert len(set(revisions)) == len(revisions)  # one revision per write
        # And the server goes on writing after recovery.
        after = create(raw, "/api/v1/namespaces/storm/configmaps", configmap("after", {}))
        assert int(after["metadata"]["resourceVersion"]) > max(revisions)


def read_watch(raw: RawClient, path: str) -> tuple[int, list[dict[str, Any]]]:
    """The HTTP status and the events of a watch that the server ends after
    WATCH_TIMEOUT_SECONDS."""
    connection = raw.connect(timeout=WATCH_TIMEOUT_SECONDS + 30)
    try:
        connection.request("GET", f"{path}&timeoutSeconds={WATCH_TIMEOUT_SECONDS}",
                           headers=raw.headers(None))
        response = connection.getresponse()
        if response.status != 200:
            return response.status, [json.loads(response.read())]
        return 200, [json.loads(line) for line in response.read().splitlines() if line.strip()]
    finally:
        connection.close()


def test_watch_from_a_resource_version_before_a_restart(
        tmp_path: Path, record_property: Any) -> None:
    """Either the watch replays what happened after the old resourceVersion, or it answers
    410 Expired (`too old resource version`) as upstream does past its window: both are correct
    for a client, which relists on 410. Which one the server chose is recorded."""
    with testing_cluster.running(tmp_path) as first:
        raw = RawClient.from_kubeconfig(first.kubeconfig)
        create(raw, "/api/v1/namespaces", namespace("w"))
        eventually(lambda: raw.request(
            "GET", "/api/v1/namespaces/w/configmaps/kube-root-ca.crt").status == 200,
            what="kube-root-ca.crt in the new namespace")
        create(raw, "/api/v1/namespaces/w/configmaps", configmap("before", {}))
        since = raw.request("GET", "/api/v1/namespaces/w/configmaps").json()["metadata"][
            "resourceVersion"]
        after = create(raw, "/api/v1/namespaces/w/configmaps", configmap("after", {}))
    with testing_cluster.running(tmp_path) as second:
        raw = RawClient.from_kubeconfig(second.kubeconfig)
        status, events = read_watch(
            raw, f"/api/v1/namespaces/w/configmaps?watch=true&resourceVersion={since}")
    if status == 200 and events and events[0]["type"] == "ERROR":
        outcome = "410 Expired as an ERROR event"
        assert events[0]["object"]["code"] == 410
        assert events[0]["object"]["reason"] == "Expired"
        assert events[0]["object"]["message"].startswith("too old resource version: ")
        assert len(events) == 1
    elif status == 410:
        outcome = "410 Expired as the HTTP status"
        assert events[0]["reason"] == "Expired"
    else:
        outcome = "replayed"
        assert status == 200
        assert [(e["type"], e["object"]["metadata"]["name"],
                 e["object"]["metadata"]["resourceVersion"]) for e in events] == [
            ("ADDED", "after", after["metadata"]["resourceVersion"])]
    record_property("watch_after_restart", outcome)
    print(f"watch from resourceVersion {since} after a restart: {outcome}")
