"""Bayeux 1.0 as the CometD server speaks it: one test per deviation found by probing the sandbox.

Each test sends, over a real socket, what a third-party CometD client (or a hand-written one)
sends, and checks the answer a CometD server gives. The official JavaScript client itself runs in
``tests/node`` (``test_node_clients.py``).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from genesys_cx.notifications import SERVICE_CHANNEL, UPDATES_CHANNEL
from genesys_cx.sandbox import (
    Sandbox,
    SandboxConfig,
)

from ._helpers import bearer_headers, eventually

HANDSHAKE = {"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}


class Peer:
    """A hand-driven Bayeux client with its own cookie jar, on ``/statistics/v3/notifications``."""

    def __init__(self, sb: Sandbox, headers: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=sb.base_url("statistics"), headers=headers, timeout=20)
        self.client_id = ""

    def send(self, *messages: dict[str, Any], suffix: str = "", status: int = 200) -> list[dict[str, Any]]:
        answer = self.http.post("/notifications" + suffix, json=list(messages))
        assert answer.status_code == status, answer.text
        replies: list[dict[str, Any]] = answer.json()
        return replies

    def handshake(self, **fields: Any) -> dict[str, Any]:
        (reply,) = self.send({**HANDSHAKE, **fields}, suffix="/handshake")
        self.client_id = reply.get("clientId", "")
        return reply

    def message(self, channel: str, **fields: Any) -> dict[str, Any]:
        return {"channel": channel, "clientId": self.client_id, **fields}

    def connect(self, **fields: Any) -> list[dict[str, Any]]:
        return self.send(self.message("/meta/connect", connectionType="long-polling", **fields), suffix="/connect")


@pytest.fixture(scope="module")
def slow_sb() -> Iterator[Sandbox]:
    """A sandbox that would hold a connect for 10 minutes unless the client advises otherwise."""
    with Sandbox(SandboxConfig(statistics_tick_interval=None, cometd_timeout=600)) as sb:
        yield sb
        assert sb.state.response_violations == []


@pytest.fixture
def peer(slow_sb: Sandbox) -> Iterator[Peer]:
    client = Peer(slow_sb, bearer_headers(slow_sb))
    yield client
    client.http.close()


def test_the_clients_advice_timeout_on_connect_is_honoured(peer: Peer) -> None:
    # CometD's first connect advises timeout 0: answered at once (the 600 s server timeout would
    # make this request run into the client's 20 s timeout).
    peer.handshake()
    (reply,) = peer.connect(advice={"timeout": 0})
    assert reply["successful"] is True and reply["advice"]["timeout"] == 600_000


def test_sessions_expire_by_max_interval_on_a_timer(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(SandboxConfig(statistics_tick_interval=None, cometd_max_interval=0.2))
    peer = Peer(sb, bearer_headers(sb))
    assert peer.handshake()["advice"]["maxInterval"] == 200
    bayeux = sb.state.statistics.bayeux
    eventually(lambda: bayeux.client_ids() == [])  # nothing else happens on the server meanwhile
    (reply,) = peer.connect()
    assert reply["error"] == "402::Unknown client" and reply["advice"]["reconnect"] == "handshake"


def test_a_client_that_keeps_polling_does_not_expire(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(SandboxConfig(statistics_tick_interval=None, cometd_timeout=0.5, cometd_max_interval=0.3))
    peer = Peer(sb, bearer_headers(sb))
    peer.handshake()
    for _ in range(3):  # each connect is held longer than maxInterval: a held connect is not idle
        (reply,) = peer.connect()
        assert reply["successful"] is True


@pytest.mark.parametrize("missing", ["version", "supportedConnectionTypes"])
def test_a_handshake_without_a_mandatory_field_is_refused(peer: Peer, slow_sb: Sandbox, missing: str) -> None:
    before = slow_sb.state.statistics.bayeux.handshakes
    message = {k: v for k, v in HANDSHAKE.items() if k != missing}
    (reply,) = peer.send(message, suffix="/handshake")
    assert reply["successful"] is False and reply["error"] == f"400:{missing}:missing required field"
    assert "clientId" not in reply and slow_sb.state.statistics.bayeux.handshakes == before


def test_a_connect_without_connection_type_is_refused(peer: Peer) -> None:
    peer.handshake()
    (reply,) = peer.send(peer.message("/meta/connect", advice={"timeout": 0}), suffix="/connect")
    assert reply["successful"] is False and reply["error"] == "400:connectionType:missing required field"


@pytest.mark.parametrize("message_id", [7, 2.5, "abc", "12"])
def test_the_message_id_is_echoed_as_sent(peer: Peer, message_id: Any) -> None:
    reply = peer.handshake(id=message_id)
    assert reply["successful"] is True and reply["id"] == message_id and type(reply["id"]) is type(message_id)
    (subscribed,) = peer.send(peer.message("/meta/subscribe", subscription=UPDATES_CHANNEL, id=message_id))
    assert subscribed["id"] == message_id


def test_subscribing_to_an_array_of_channels_gets_one_reply(peer: Peer, slow_sb: Sandbox) -> None:
    peer.handshake()
    channels = [UPDATES_CHANNEL, SERVICE_CHANNEL]
    (reply,) = peer.send(peer.message("/meta/subscribe", subscription=channels, id="s"), suffix="/subscribe")
    assert reply == {
        "channel": "/meta/subscribe",
        "id": "s",
        "clientId": peer.client_id,
        "subscription": channels,
        "successful": True,
    }
    assert peer.client_id in slow_sb.state.statistics.bayeux.subscribers(SERVICE_CHANNEL)
    (reply,) = peer.send(peer.message("/meta/unsubscribe", subscription=channels), suffix="/unsubscribe")
    assert reply["successful"] is True and reply["subscription"] == channels
    assert peer.client_id not in slow_sb.state.statistics.bayeux.subscribers(SERVICE_CHANNEL)


def test_an_array_with_a_refused_channel_subscribes_nothing(peer: Peer, slow_sb: Sandbox) -> None:
    peer.handshake()
    channels = [UPDATES_CHANNEL, "/statistics/v3/unknown"]
    (reply,) = peer.send(peer.message("/meta/subscribe", subscription=channels))
    assert reply["successful"] is False and reply["error"] == "403:/statistics/v3/unknown:unknown channel"
    assert peer.client_id not in slow_sb.state.statistics.bayeux.subscribers(UPDATES_CHANNEL)


def test_a_handshake_batched_with_other_messages_is_answered_alone(peer: Peer, slow_sb: Sandbox) -> None:
    peer.handshake()
    old = peer.client_id
    replies = peer.send(
        peer.message("/meta/subscribe", subscription=UPDATES_CHANNEL),
        {**HANDSHAKE, "id": "h"},
        peer.message("/meta/disconnect"),
    )
    assert [(r["channel"], r["successful"]) for r in replies] == [("/meta/handshake", True)]
    bayeux = slow_sb.state.statistics.bayeux
    assert old in bayeux.client_ids() and old not in bayeux.subscribers(UPDATES_CHANNEL)


def test_form_encoded_message_bodies_are_accepted(peer: Peer) -> None:
    answer = peer.http.post("/notifications/handshake", data={"message": json.dumps([HANDSHAKE])})
    assert answer.status_code == 200
    (reply,) = answer.json()
    assert reply["successful"] is True
    peer.client_id = reply["clientId"]
    message = peer.message("/meta/connect", connectionType="long-polling", advice={"timeout": 0})
    answer = peer.http.post("/notifications/connect", data={"message": json.dumps(message)})
    assert answer.status_code == 200 and answer.json()[0]["successful"] is True


def test_a_form_without_a_message_field_is_a_bayeux_400(peer: Peer) -> None:
    answer = peer.http.post("/notifications", data={"messages": "[]"})
    assert answer.status_code == 400
    assert answer.json()[0]["successful"] is False and answer.json()[0]["error"].startswith("400::")


def test_websocket_is_refused_the_bayeux_way(peer: Peer, slow_sb: Sandbox) -> None:
    # Offered first by CometD clients: the handshake negotiates long-polling instead ...
    reply = peer.handshake(supportedConnectionTypes=["websocket", "long-polling"])
    assert reply["successful"] is True and reply["supportedConnectionTypes"] == ["long-polling"]
    # ... a connect over another transport is refused with 301 ...
    (refused,) = peer.send(peer.message("/meta/connect", connectionType="websocket"))
    assert refused["successful"] is False and refused["error"].startswith("301:websocket:")
    # ... and an upgrade request is refused at the HTTP level (never 101 Switching Protocols).
    host, port = slow_sb.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            b"GET /statistics/v3/notifications HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        status_line = raw.recv(1024).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 4"), status_line


@pytest.mark.parametrize("suffix", ["/", "/handshake", "/handshake/", "/connect/"])
def test_the_endpoint_takes_the_message_type_and_a_trailing_slash(peer: Peer, suffix: str) -> None:
    # The CometD JavaScript client appends the message type, or a bare "/", to the URL.
    (reply,) = peer.send(HANDSHAKE, suffix=suffix)
    assert reply["successful"] is True
