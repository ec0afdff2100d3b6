"""Agent replies through a flaky integrator: everything acknowledged eventually, nothing twice.

The sandbox delivers agent messages to a receiver built with ``genesys_cx.webhooks`` whose handler
fails 30 % of its runs at random (seeded). Genesys's contract (a 5xx means "deliver again") plus the
receiver's idempotency store must add up to: every message processed, each exactly once.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from genesys_cx._serve import serve
from genesys_cx.sandbox import (
    DEMO_CHANNEL_ID,
    DEMO_CHANNEL_SECRET,
    DeliveryPolicy,
    Sandbox,
    SandboxChannel,
    SandboxConfig,
)
from genesys_cx.webhooks import MemoryStore, OutgoingMessage, UnknownMessage, webhook_app


class FlakyIntegrator:
    def __init__(self, failure_rate: float, seed: int) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.failure_rate = failure_rate
        self.runs = 0
        self.processed: Counter[str] = Counter()

    def on_message(self, message: OutgoingMessage) -> None:
        with self._lock:
            self.runs += 1
            if self._random.random() < self.failure_rate:
                raise RuntimeError("downstream SMS gateway unavailable")
            data = message.raw if isinstance(message, UnknownMessage) else message.to_dict()
            self.processed[data["channel"]["messageId"]] += 1


def test_every_agent_message_is_processed_exactly_once() -> None:
    integrator = FlakyIntegrator(failure_rate=0.3, seed=20261123)
    app = webhook_app(DEMO_CHANNEL_SECRET, on_message=integrator.on_message, store=MemoryStore())
    with serve(app) as receiver:
        config = SandboxConfig(
            channels=[SandboxChannel(DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET, webhook_url=receiver.url + "/")],
            delivery=DeliveryPolicy(attempts=12, backoff=0.01, multiplier=1.5, max_backoff=0.05, timeout=5.0),
        )
        with Sandbox(config) as sb:
            replies = [sb.agent_reply(DEMO_CHANNEL_ID, f"agent message {i}", to="16504661149") for i in range(30)]
            delivered = [sb.wait_delivered(reply.id, timeout=60) for reply in replies]

    ids = {reply.id for reply in replies}
    assert set(integrator.processed) == ids  # every message processed...
    assert all(count == 1 for count in integrator.processed.values())  # ...exactly once
    assert integrator.runs > len(ids)  # some runs failed and were redelivered
    attempts = sum(len(message.attempts) for message in delivered)
    assert attempts == integrator.runs  # each failed run was answered 5xx and delivered again
    for message in delivered:
        assert message.attempts[-1].outcome == "delivered"
        assert all(a.status_code == 500 for a in message.attempts[:-1])


def test_a_slow_first_run_is_not_repeated_when_genesys_delivers_again() -> None:
    processed: Counter[str] = Counter()
    release = threading.Event()

    def slow_once(message: OutgoingMessage) -> None:
        data = message.raw if isinstance(message, UnknownMessage) else message.to_dict()
        release.wait(5)  # the first run outlives the receiver's answer deadline
        processed[data["channel"]["messageId"]] += 1

    app = webhook_app(DEMO_CHANNEL_SECRET, on_message=slow_once, store=MemoryStore(), timeout=0.2)
    with serve(app) as receiver:
        config = SandboxConfig(
            channels=[SandboxChannel(DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET, webhook_url=receiver.url + "/")],
            delivery=DeliveryPolicy(attempts=20, backoff=0.1, multiplier=1.0, max_backoff=0.1, timeout=5.0),
        )
        with Sandbox(config) as sb:
            reply = sb.agent_reply(DEMO_CHANNEL_ID, "are you still there?", to="16504661149")
            threading.Timer(0.6, release.set).start()
            delivered = sb.wait_delivered(reply.id, timeout=30)

    assert processed == {reply.id: 1}
    assert len(delivered.attempts) >= 2  # answered 503 at the deadline, delivered again
    assert delivered.attempts[0].status_code == 503
