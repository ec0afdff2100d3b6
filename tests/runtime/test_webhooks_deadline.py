"""The 10-second rule as an invariant: every delivery is answered by the deadline, whatever hangs.

Real uvicorn on loopback, real HTTP. No timing assertions: each test proves an answer came *before*
something finished (a handler still blocked, a store call still blocked) by what the answer says
and by what has not happened yet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from genesys_cx._serve import serve
from genesys_cx.webhooks import (
    Claim,
    ClaimState,
    HandlerPool,
    MemoryStore,
    OutgoingMessage,
    SQLiteStore,
    handle_webhook,
    webhook_app,
)

from ._webhook_helpers import SECRET, encode, signed, sms

WAIT = 60.0  # an upper bound for anything that waits, never an expectation


def message_id(message: OutgoingMessage) -> str:
    return message.channel.message_id  # type: ignore[union-attr]


class Gate:
    """A handler that blocks deliveries whose id starts with ``slow`` until ``open()``."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.started: list[str] = []
        self.finished: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, message: OutgoingMessage) -> None:
        with self.lock:
            self.started.append(message_id(message))
        if message_id(message).startswith("slow"):
            self.released.wait(WAIT)
        with self.lock:
            self.finished.append(message_id(message))


def deliver_all(url: str, ids: list[str]) -> dict[str, httpx.Response]:
    """POST each message concurrently (one thread each), as Genesys would; the answers by id."""
    answers: dict[str, httpx.Response] = {}

    def one(mid: str) -> None:
        body = encode(sms(mid))
        answers[mid] = httpx.post(url, content=body, headers=signed(body), timeout=WAIT)

    threads = [threading.Thread(target=one, args=(mid,)) for mid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    return answers


def wait_until(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("condition not reached")


def test_slow_handlers_do_not_delay_ordinary_messages() -> None:
    gate = Gate()
    with serve(webhook_app(SECRET, gate, timeout=0.5, max_concurrency=16)) as server:
        slow = deliver_all(server.url, [f"slow-{n}" for n in range(8)])
        assert {r.status_code for r in slow.values()} == {503}  # answered while their handlers block
        assert all("did not finish" in r.json()["error"] for r in slow.values())
        ordinary = deliver_all(server.url, [f"quick-{n}" for n in range(5)])
        assert {mid: r.status_code for mid, r in ordinary.items()} == {f"quick-{n}": 200 for n in range(5)}
        assert not gate.released.is_set() and len(gate.finished) == 5  # only the quick ones are done
        gate.released.set()
        wait_until(lambda: len(gate.finished) == 13)
        again = deliver_all(server.url, [f"slow-{n}" for n in range(8)])  # Genesys redelivers the 503s
        assert {r.status_code for r in again.values()} == {200}
    assert sorted(gate.started) == sorted(gate.finished)  # each ran exactly once
    assert len(gate.started) == 13


def test_a_full_pool_answers_503_at_once_and_claims_nothing() -> None:
    gate = Gate()
    store = MemoryStore()
    app = webhook_app(SECRET, gate, store=store, timeout=0.5, max_concurrency=3)
    with serve(app) as server:
        deliver_all(server.url, [f"slow-{n}" for n in range(3)])
        busy = deliver_all(server.url, [f"quick-{n}" for n in range(4)])
        assert {r.status_code for r in busy.values()} == {503}
        assert all("3 handler slots are busy" in r.json()["error"] for r in busy.values())
        assert len(gate.started) == 3  # the busy ones never reached the handler ...
        assert len(store) == 3  # ... nor claimed anything
        gate.released.set()
        # the handler records "finished" before its slot is given back: wait for the slots too
        wait_until(lambda: len(gate.finished) == 3 and app.state.webhook_pool.busy == 0)
        done = deliver_all(server.url, [f"quick-{n}" for n in range(4)])  # ... and are handled on redelivery
        assert {r.status_code for r in done.values()} == {200}
    assert sorted(gate.finished) == sorted([f"slow-{n}" for n in range(3)] + [f"quick-{n}" for n in range(4)])


class HangingStore:
    """A store whose ``claim`` blocks until ``unblock`` is set (a network store that stopped answering)."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.unblock = threading.Event()
        self.lease = self.inner.lease

    def claim(self, key: str) -> Claim:
        self.unblock.wait(WAIT)
        return self.inner.claim(key)

    def complete(self, claim: Claim, response_id: str | None) -> None:
        self.inner.complete(claim, response_id)

    def release(self, claim: Claim) -> None:
        self.inner.release(claim)

    def renew(self, claim: Claim) -> bool:
        return self.inner.renew(claim)


def test_a_hung_store_is_answered_503_in_time_and_the_message_is_still_handled() -> None:
    store = HangingStore()
    handled: list[str] = []
    with serve(webhook_app(SECRET, lambda m: handled.append(message_id(m)), store=store, timeout=0.5)) as server:
        answers = deliver_all(server.url, ["m-1", "m-2"])
        assert {r.status_code for r in answers.values()} == {503}
        assert all("store did not answer in time" in r.json()["error"] for r in answers.values())
        assert not store.unblock.is_set() and handled == []
        store.unblock.set()  # the store comes back: the claims taken late are used
        wait_until(lambda: len(handled) == 2)
        again = deliver_all(server.url, ["m-1", "m-2"])
        assert {r.status_code for r in again.values()} == {200}
    assert sorted(handled) == ["m-1", "m-2"]


def test_a_handler_that_never_returns_is_answered_and_keeps_its_claim() -> None:
    never = threading.Event()
    started = threading.Event()

    def stuck(message: OutgoingMessage) -> None:
        started.set()
        never.wait(WAIT)

    store = MemoryStore(lease=0.3)  # much shorter than the handler: only the heartbeat keeps the claim
    with serve(webhook_app(SECRET, stuck, store=store, timeout=0.5)) as server:
        first = deliver_all(server.url, ["stuck-1"])["stuck-1"]
        assert first.status_code == 503 and started.is_set()
        for _ in range(5):  # well past the lease: redeliveries still find it in progress
            threading.Event().wait(0.3)
            again = deliver_all(server.url, ["stuck-1"])["stuck-1"]
            assert again.status_code == 503 and "being handled" in again.json()["error"]
        never.set()


def test_a_handler_stuck_past_max_hold_leaves_its_message_to_a_redelivery(caplog: pytest.LogCaptureFixture) -> None:
    stuck_until = threading.Event()
    runs: list[str] = []

    def handler(message: OutgoingMessage) -> None:
        runs.append(message_id(message))
        if len(runs) == 1:  # the first run hangs; a later one is the redelivery's
            stuck_until.wait(WAIT)

    store = MemoryStore(lease=0.2, max_hold=0.6)
    try:
        with serve(webhook_app(SECRET, handler, store=store, timeout=0.3)) as server:
            assert deliver_all(server.url, ["stuck-2"])["stuck-2"].status_code == 503
            answers = []
            for _ in range(int(WAIT / 0.2)):  # Genesys keeps redelivering; stop at the first 200
                answer = deliver_all(server.url, ["stuck-2"])["stuck-2"]
                answers.append(answer.status_code)
                if answer.status_code == 200:
                    break
                threading.Event().wait(0.2)
    finally:
        stuck_until.set()
    assert answers[-1] == 200 and set(answers[:-1]) <= {503}
    assert runs == ["stuck-2", "stuck-2"]
    assert "held its claim for longer than max_hold" in caplog.text


def test_the_sync_receiver_keeps_a_slow_handlers_claim_alive(tmp_path: Any) -> None:
    body = encode(sms("slow-sync"))
    seen: list[ClaimState] = []
    with SQLiteStore(tmp_path / "store.sqlite3", lease=1.0) as store:

        def slow(message: OutgoingMessage) -> None:
            for _ in range(5):  # 2.5 s in all, two and a half leases
                threading.Event().wait(0.5)
                seen.append(store.claim("message:slow-sync").state)

        assert handle_webhook(body, signed(body), secret=SECRET, on_message=slow, store=store).status == 200
        assert store.claim("message:slow-sync").state is ClaimState.DONE
    assert seen == [ClaimState.IN_PROGRESS] * 5


def test_a_pool_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        HandlerPool(0)
    with pytest.raises(ValueError, match="at least one slot"):
        webhook_app(SECRET, print, max_concurrency=0)
