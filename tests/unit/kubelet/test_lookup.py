"""kajitori.kubelet.lookup.APIObjectLookup: reads through the API (a real in-process server)
and service account tokens cached until 80% of their lifetime (a fake client and clock)."""

from __future__ import annotations

import contextlib
import datetime
from pathlib import Path
from typing import Any

import inprocessserver
import pytest

from kajitori.api import errors, meta
from kajitori.client import rest
from kajitori.kubelet import lookup

Obj = dict[str, Any]
POD = {"metadata": {"name": "web", "namespace": "shop", "uid": "uid-7"},
       "spec": {"serviceAccountName": "robot"}}


@pytest.fixture
def client(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[rest.RESTClient]:
    return inprocessserver.open_client(tmp_path)


async def test_objects_are_read_and_missing_ones_are_none(client: rest.RESTClient) -> None:
    await client.create("/api/v1/namespaces/default/configmaps",
                        {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    await client.create("/api/v1/namespaces/default/secrets",
                        {"metadata": {"name": "creds"}, "stringData": {"pw": "x"}})
    await client.create("/api/v1/namespaces/default/services",
                        {"metadata": {"name": "db"},
                         "spec": {"ports": [{"port": 5432}]}})
    objects = lookup.APIObjectLookup(client)
    found = await objects.config_map("default", "cfg")
    assert found is not None
    assert found["data"] == {"a": "1"}
    secret = await objects.secret("default", "creds")
    assert secret is not None
    assert secret["data"] == {"pw": "eA=="}
    assert await objects.config_map("default", "nope") is None
    assert await objects.secret("default", "nope") is None
    assert await objects.persistent_volume_claim("default", "nope") is None
    assert await objects.persistent_volume("nope") is None
    assert "db" in [meta.name(s) for s in await objects.services("default")]
    assert await objects.services("empty") == []


class TokenClient:
    """Answers TokenRequests as the apiserver does, recording them."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Obj]] = []

    async def create(self, path: str, obj: Obj) -> Obj:
        self.requests.append((path, obj))
        seconds = obj["spec"]["expirationSeconds"]
        return {**obj, "status": {"token": f"jwt-{len(self.requests)}",
                                  "expirationTimestamp": meta.format_time(
                                      meta.parse_time("2026-01-01T00:00:00Z")
                                      + datetime.timedelta(seconds=seconds))}}


START = meta.parse_time("2026-01-01T00:00:00Z").timestamp()


async def test_tokens_are_bound_to_the_pod_and_cached_until_80_percent() -> None:
    now = [START]
    client = TokenClient()
    objects = lookup.APIObjectLookup(client, clock=lambda: now[0])  # type: ignore[arg-type]
    token = await objects.service_account_token(POD, audience="vault",
                                                expiration_seconds=3600)
    assert token == "jwt-1"
    path, request = client.requests[0]
    assert path == "/api/v1/namespaces/shop/serviceaccounts/robot/token"
    assert request["spec"] == {
        "audiences": ["vault"], "expirationSeconds": 3600,
        "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "uid-7"}}
    now[0] = START + 2800  # under 80% of the hour, even with 10 s of jitter
    assert await objects.service_account_token(POD, audience="vault",
                                                expiration_seconds=3600) == "jwt-1"
    assert await objects.service_account_token(POD, audience="",
                                               expiration_seconds=3600) == "jwt-2"
    assert "audiences" not in client.requests[1][1]["spec"]
    now[0] = START + 2881  # past 80%
    assert await objects.service_account_token(POD, audience="vault",
                                                expiration_seconds=3600) == "jwt-3"
    objects.forget_pod("uid-7")
    assert await objects.service_account_token(POD, audience="vault",
                                                expiration_seconds=3600) == "jwt-4"


async def test_a_failed_read_other_than_not_found_raises() -> None:
    class Failing:
        async def get(self, path: str) -> Obj:
            raise errors.StatusError(errors.status(403, "Forbidden", "no"))

    objects = lookup.APIObjectLookup(Failing())  # type: ignore[arg-type]
    with pytest.raises(errors.StatusError):
        await objects.config_map("default", "cfg")
