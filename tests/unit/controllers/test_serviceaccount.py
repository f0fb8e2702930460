"""The ServiceAccount controller: `default` in every active namespace, nothing elsewhere."""

from __future__ import annotations

import fakecluster

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import serviceaccount


def ns(name: str, phase: str = "Active") -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
            "status": {"phase": phase}}


async def accounts(client: rest.RESTClient, namespace: str) -> list[str]:
    listed = await client.get(fakecluster.path("", "v1", "serviceaccounts",
                                               namespace=namespace))
    return [meta.name(i) for i in listed["items"]]


def controller(client: rest.RESTClient, namespaces: list[dict], service_accounts: list[dict]
               ) -> serviceaccount.ServiceAccountsController:
    return serviceaccount.ServiceAccountsController(
        client=client, namespaces=fakecluster.seeded(*namespaces),
        service_accounts=fakecluster.seeded(*service_accounts))


async def test_active_namespace_gets_a_default_account(client: rest.RESTClient) -> None:
    live = await client.get(fakecluster.path("", "v1", "namespaces", name="default"))
    await controller(client, [live], []).sync("default")
    assert await accounts(client, "default") == ["default"]
    await controller(client, [live], []).sync("default")  # AlreadyExists is success
    assert await accounts(client, "default") == ["default"]


async def test_account_already_in_the_cache_is_not_created(client: rest.RESTClient) -> None:
    cached = {"metadata": {"name": "default", "namespace": "team"}}
    await controller(client, [ns("team")], [cached]).sync("team")
    assert await accounts(client, "team") == []


async def test_terminating_or_unknown_namespace_gets_nothing(client: rest.RESTClient) -> None:
    await controller(client, [ns("team", "Terminating")], []).sync("team")
    await controller(client, [], []).sync("team")
    assert await accounts(client, "team") == []


async def test_namespace_gone_from_the_server_is_not_retried(client: rest.RESTClient) -> None:
    await controller(client, [ns("vanished")], []).sync("vanished")  # 404: no error


def test_handlers_queue_namespaces_and_deleted_accounts() -> None:
    ctl = controller(None, [], [])  # type: ignore[arg-type]
    ctl._enqueue_namespace(ns("a"))
    ctl._service_account_deleted({"metadata": {"name": "default", "namespace": "b"}})
    assert len(ctl.queue) == 2
