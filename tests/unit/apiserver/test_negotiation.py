"""Content negotiation: Accept headers as kubectl and client-go send them, and Content-Type."""

from __future__ import annotations

import pytest

from kajitori.apiserver import negotiation

TABLE_V1 = "application/json;as=Table;v=v1;g=meta.k8s.io"
TABLE_V1BETA1 = "application/json;as=Table;v=v1beta1;g=meta.k8s.io"
# what `kubectl get` sends
KUBECTL_GET = f"{TABLE_V1},{TABLE_V1BETA1},application/json"
# what client-go sends when it prefers protobuf (kubectl's own typed requests, controllers)
PROTOBUF_FIRST = "application/vnd.kubernetes.protobuf,application/json"


def test_parse_accept_keeps_order_and_params() -> None:
    parsed = negotiation.parse_accept(
        "application/json;as=Table;v=v1;g=meta.k8s.io, Application/YAML ;q=0.5,,*/*")
    assert parsed == [
        negotiation.MediaType("application/json", {"as": "Table", "v": "v1",
                                                   "g": "meta.k8s.io"}),
        negotiation.MediaType("application/yaml", {"q": "0.5"}),
        negotiation.MediaType("*/*", {}),
    ]


@pytest.mark.parametrize("accept", [
    "", "application/json", "*/*", "application/*", PROTOBUF_FIRST,
    "application/vnd.kubernetes.protobuf", "application/yaml",
])
def test_plain_object(accept: str) -> None:
    assert negotiation.rendering(accept) == negotiation.Rendering()


def test_kubectl_get_asks_for_a_v1_table() -> None:
    assert negotiation.rendering(KUBECTL_GET) == negotiation.Rendering(as_="Table", version="v1")


def test_v1beta1_table_when_asked_first() -> None:
    assert negotiation.rendering(f"{TABLE_V1BETA1},application/json") == negotiation.Rendering(
        as_="Table", version="v1beta1")


def test_protobuf_table_is_served_as_json_table() -> None:
    accept = ("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,"
              "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert negotiation.rendering(accept) == negotiation.Rendering(as_="Table", version="v1")


@pytest.mark.parametrize("as_", ["PartialObjectMetadata", "PartialObjectMetadataList"])
def test_partial_object_metadata(as_: str) -> None:
    accept = f"application/json;as={as_};v=v1;g=meta.k8s.io,application/json"
    assert negotiation.rendering(accept) == negotiation.Rendering(as_=as_, version="v1")


def test_client_order_wins_over_later_table() -> None:
    assert negotiation.rendering(f"application/json,{TABLE_V1}") == negotiation.Rendering()


@pytest.mark.parametrize("accept", [
    "application/json;as=Table;v=v2;g=meta.k8s.io",  # unknown version
    "application/json;as=Table;v=v1;g=example.com",  # other group
    "application/json;as=Unknown;v=v1;g=meta.k8s.io",
])
def test_unservable_conversion_falls_through_to_next_choice(accept: str) -> None:
    assert negotiation.rendering(f"{accept},{TABLE_V1}") == negotiation.Rendering(
        as_="Table", version="v1")


@pytest.mark.parametrize(("header", "media"), [
    (None, "application/json"),
    ("", "application/json"),
    ("application/json", "application/json"),
    ("application/json; charset=utf-8", "application/json"),
    ("Application/YAML", "application/yaml"),
    ("application/vnd.kubernetes.protobuf", "application/vnd.kubernetes.protobuf"),
    ("application/strategic-merge-patch+json", "application/strategic-merge-patch+json"),
])
def test_content_type(header: str | None, media: str) -> None:
    assert negotiation.content_type(header) == media
