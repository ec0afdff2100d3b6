"""Agent replies: signed webhook deliveries, redelivery per policy, and the records of every attempt."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genesys_cx._serve import serve
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CHANNEL_ID,
    DEMO_CHANNEL_SECRET,
    DeliveryFailed,
    DeliveryPolicy,
    SandboxChannel,
    SandboxConfig,
)
from genesys_cx.sandbox._specs import load_spec, spec_set

from ._helpers import Receiver, signed_post
from .conftest import SandboxFactory

FAST = DeliveryPolicy(attempts=10, backoff=0.01, multiplier=1.5, max_backoff=0.05, timeout=5)


def _config(url: str, policy: DeliveryPolicy = FAST, channel_type: str = "sms") -> SandboxConfig:
    return SandboxConfig(
        channels=[SandboxChannel(DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET, url, type=channel_type)], delivery=policy
    )


def _outgoing_problems(payload: dict[str, object]) -> list[str]:
    specs = spec_set()
    op = next(op for op in specs.operations if op.operation_id == "send_message")
    assert load_spec("messaging")["components"]["schemas"]["OutgoingMessage"]
    return specs.body_problems(op, {"$ref": "#/components/schemas/OutgoingMessage"}, payload)


def test_agent_reply_is_delivered_signed_and_as_documented(make_sandbox: SandboxFactory, receiver: Receiver) -> None:
    sb = make_sandbox(_config(receiver.url))
    reply = sb.agent_reply(DEMO_CHANNEL_ID, "Agent message text", to="16504661149")
    delivered = sb.wait_delivered(reply.id, timeout=10)

    assert delivered.status == "delivered"
    assert [(a.number, a.outcome, a.status_code, a.acknowledged_id) for a in delivered.attempts] == [
        (1, "delivered", 200, reply.id)
    ]
    (received,) = receiver.received
    payload = json.loads(received["body"])
    assert payload == {
        "channel": {
            "id": DEMO_CHANNEL_ID,
            "type": "sms",
            "from": {"id": DEMO_CHANNEL_ID},
            "to": {"id": "16504661149"},
            "messageId": reply.id,
        },
        "type": "Text",
        "text": "Agent message text",
    }
    assert _outgoing_problems(payload) == []
    assert receiver.bad_signatures == 0


def test_reply_goes_to_the_last_consumer_by_default(make_sandbox: SandboxFactory, receiver: Receiver) -> None:
    sb = make_sandbox(_config(receiver.url))
    with pytest.raises(ValueError, match="no consumer"):
        sb.agent_reply(DEMO_CHANNEL_ID, "hello?")
    sms = {
        "messages": [
            {"channel": {"from": {"id": "16504661149"}, "to": {"id": DEMO_CHANNEL_ID}}, "type": "Text", "text": "hi"}
        ]
    }
    with httpx.Client(base_url=sb.url, headers={"x-api-key": DEMO_API_KEY}, timeout=10) as client:
        assert (
            signed_post(client, f"/nexus/v3/channels/{DEMO_CHANNEL_ID}/messages", json.dumps(sms).encode()).status_code
            == 200
        )
    reply = sb.agent_reply(DEMO_CHANNEL_ID, "hello!")
    assert reply.payload["channel"]["to"] == {"id": "16504661149"}


def test_agent_email_matches_the_outgoing_email_schema(make_sandbox: SandboxFactory, receiver: Receiver) -> None:
    sb = make_sandbox(_config(receiver.url, channel_type="email"))
    reply = sb.agent_email(
        DEMO_CHANNEL_ID,
        "Plain text email body",
        subject="Subject",
        html="<p>Html</p>",
        to="recipient-1@mail.com",
        sender_name="Sender",
        reply_to="reply-to@company.com",
    )
    sb.wait_delivered(reply.id, timeout=10)
    payload = json.loads(receiver.received[0]["body"])
    assert payload["type"] == "Email" and payload["channel"]["to"] == [{"id": "recipient-1@mail.com"}]
    assert payload["content"] == [
        {"type": "text", "text": "Plain text email body"},
        {"type": "html", "text": "<p>Html</p>"},
    ]
    assert _outgoing_problems(payload) == []


def test_flaky_receiver_every_message_eventually_acknowledged(make_sandbox: SandboxFactory, receiver: Receiver) -> None:
    receiver.failure_rate = 0.3
    receiver._random.seed(1234)
    sb = make_sandbox(_config(receiver.url))
    replies = [sb.agent_reply(DEMO_CHANNEL_ID, f"message {i}", to="16504661149") for i in range(20)]
    for reply in replies:
        sb.wait_delivered(reply.id, timeout=30)

    records = {m.id: m for m in sb.deliveries(DEMO_CHANNEL_ID)}
    total_attempts = sum(len(records[r.id].attempts) for r in replies)
    assert total_attempts == len(receiver.received)  # every POST the receiver saw is recorded
    assert total_attempts > len(replies)  # with a 30 % failure rate some were redelivered
    for reply in replies:
        attempts = records[reply.id].attempts
        assert [a.number for a in attempts] == list(range(1, len(attempts) + 1))
        assert all(a.outcome == "retry" and a.status_code == 503 for a in attempts[:-1])
        assert attempts[-1].outcome == "delivered" and attempts[-1].acknowledged_id == reply.id


def test_attempts_exhausted_means_failed(make_sandbox: SandboxFactory, receiver: Receiver) -> None:
    receiver.failure_rate = 1.0
    sb = make_sandbox(_config(receiver.url, DeliveryPolicy(attempts=3, backoff=0.01, timeout=5)))
    reply = sb.agent_reply(DEMO_CHANNEL_ID, "x", to="1")
    with pytest.raises(DeliveryFailed, match="3 attempt"):
        sb.wait_delivered(reply.id, timeout=10)
    assert [a.outcome for a in sb.deliveries()[0].attempts] == ["retry", "retry", "retry"]
    assert len(receiver.received) == 3


def test_a_4xx_answer_is_not_redelivered(make_sandbox: SandboxFactory, receiver: Receiver) -> None:
    receiver.secret = "another-secret"  # the receiver refuses our signature with 401
    sb = make_sandbox(_config(receiver.url))
    reply = sb.agent_reply(DEMO_CHANNEL_ID, "x", to="1")
    with pytest.raises(DeliveryFailed):
        sb.wait_delivered(reply.id, timeout=10)
    assert [(a.outcome, a.status_code) for a in sb.deliveries()[0].attempts] == [("failed", 401)]


def test_no_answer_within_the_timeout_is_redelivered(make_sandbox: SandboxFactory) -> None:
    calls: list[bytes] = []

    async def slow_then_fine(request: Request) -> Response:
        body = await request.body()
        calls.append(body)
        if len(calls) == 1:
            await asyncio.sleep(5)
        return JSONResponse({"messageId": json.loads(body)["channel"]["messageId"]})

    app = Starlette(routes=[Route("/hook", slow_then_fine, methods=["POST"])])
    with serve(app) as server:
        policy = DeliveryPolicy(attempts=3, backoff=0.01, timeout=0.3)
        sb = make_sandbox(_config(server.url + "/hook", policy))
        reply = sb.agent_reply(DEMO_CHANNEL_ID, "x", to="1")
        delivered = sb.wait_delivered(reply.id, timeout=10)
    first, second = delivered.attempts
    assert first.outcome == "retry" and first.status_code is None and "0.3" in (first.error or "")
    assert second.outcome == "delivered"
    assert calls[0] == calls[1]  # the same bytes (and signature) are redelivered


def test_unreachable_webhook_is_recorded_as_transport_errors(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(_config("http://127.0.0.1:9/hook", DeliveryPolicy(attempts=2, backoff=0.01, timeout=2)))
    reply = sb.agent_reply(DEMO_CHANNEL_ID, "x", to="1")
    with pytest.raises(DeliveryFailed):
        sb.wait_delivered(reply.id, timeout=10)
    assert all(a.error and a.status_code is None for a in sb.deliveries()[0].attempts)


def test_control_routes_send_and_list_deliveries(make_sandbox: SandboxFactory, receiver: Receiver) -> None:
    sb = make_sandbox(_config(receiver.url))
    with httpx.Client(base_url=sb.url + "/_sandbox", timeout=10) as control:
        created = control.post(f"/channels/{DEMO_CHANNEL_ID}/agent-replies", json={"text": "hi", "to": "42"})
        assert created.status_code == 202
        message_id = created.json()["id"]
        sb.wait_delivered(message_id, timeout=10)
        listed = control.get("/deliveries", params={"channel": DEMO_CHANNEL_ID}).json()["messages"]
        assert [(m["id"], m["status"], len(m["attempts"])) for m in listed] == [(message_id, "delivered", 1)]
        assert control.get(f"/deliveries/{message_id}").json()["payload"]["text"] == "hi"
        assert control.post("/channels/nope/agent-replies", json={"text": "x"}).status_code == 404
        bad = control.post(f"/channels/{DEMO_CHANNEL_ID}/agent-replies", json={"txt": "x"})
        assert bad.status_code == 400 and "text" in bad.json()["error"]


def test_agent_reply_returns_before_the_webhook_answers(make_sandbox: SandboxFactory) -> None:
    gate = threading.Event()

    async def waits(request: Request) -> Response:
        body = await request.body()
        await asyncio.to_thread(gate.wait, 10)
        return JSONResponse({"messageId": json.loads(body)["channel"]["messageId"]})

    app = Starlette(routes=[Route("/hook", waits, methods=["POST"])])
    with serve(app) as server:
        sb = make_sandbox(_config(server.url + "/hook"))
        reply = sb.agent_reply(DEMO_CHANNEL_ID, "x", to="1")
        assert sb.deliveries()[0].status == "pending"  # the webhook has not answered yet
        gate.set()
        assert sb.wait_delivered(reply.id, timeout=10).status == "delivered"
