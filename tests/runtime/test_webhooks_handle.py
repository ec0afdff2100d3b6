"""``handle_webhook`` / ``ahandle_webhook``: the contract without a web framework."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import pytest
from genesys_cx_api.interactions.models import EventsPayload
from genesys_cx_api.messaging.models import OutgoingSmsMessage
from hypothesis import given
from hypothesis import strategies as st

from genesys_cx.signing import sign
from genesys_cx.webhooks import (
    Claim,
    MemoryStore,
    OutgoingMessage,
    UnknownMessage,
    WebhookResponse,
    ahandle_webhook,
    handle_webhook,
)

from ._webhook_helpers import SECRET, encode, events, signed, sms


class Recorder:
    def __init__(self, result: Any = None, fail: int = 0) -> None:
        self.calls: list[Any] = []
        self.result, self.fail = result, fail

    def __call__(self, payload: Any) -> Any:
        self.calls.append(payload)
        if self.fail:
            self.fail -= 1
            raise RuntimeError("downstream unavailable")
        return self.result


def answer(response: WebhookResponse) -> tuple[int, Any]:
    assert response.content_type == "application/json" and response.headers == {"Content-Type": "application/json"}
    return response.status, json.loads(response.body)


def test_a_signed_message_reaches_the_handler_and_is_answered_with_its_id() -> None:
    body = encode(sms("m-1"))
    handler = Recorder()
    assert answer(handle_webhook(body, signed(body), secret=SECRET, on_message=handler)) == (200, {"messageId": "m-1"})
    (message,) = handler.calls
    assert isinstance(message, OutgoingSmsMessage) and message.text == "Agent message text"


def test_the_handler_may_choose_the_message_id_and_headers_are_case_insensitive() -> None:
    body = encode(sms("m-1"))
    headers = {"x-hub-signature": sign(SECRET, body)}
    response = handle_webhook(body, headers, secret=SECRET, on_message=Recorder(result="my-own-id"))
    assert answer(response) == (200, {"messageId": "my-own-id"})


def test_a_bad_signature_is_401_and_the_handler_never_runs() -> None:
    body = encode(sms())
    handler = Recorder()
    for headers in ({}, {"X-Hub-Signature": "sha1=nothex"}, signed(body, "wrong-secret")):
        status, document = answer(handle_webhook(body, headers, secret=SECRET, on_message=handler))
        assert status == 401 and "X-Hub-Signature" in document["error"]
    assert handler.calls == []


def test_a_malformed_body_is_400_with_the_reason() -> None:
    body = b"{oops"
    status, document = answer(handle_webhook(body, signed(body), secret=SECRET, on_message=Recorder()))
    assert status == 400
    assert document["error"].startswith("body is not valid JSON: Expecting property name enclosed in double quotes")


def test_an_unknown_message_type_reaches_the_handler() -> None:
    document = {"type": "Location", "channel": {"messageId": "loc-1"}, "lat": 1.5}
    body = encode(document)
    handler = Recorder()
    assert answer(handle_webhook(body, signed(body), secret=SECRET, on_message=handler)) == (
        200,
        {"messageId": "loc-1"},
    )
    assert handler.calls == [UnknownMessage("Location", document)]


def test_a_failed_handler_runs_again_on_redelivery_and_a_done_one_does_not() -> None:
    body = encode(sms("m-7"))
    store = MemoryStore()
    handler = Recorder(result="reply-7", fail=1)
    assert handle_webhook(body, signed(body), secret=SECRET, on_message=handler, store=store).status == 500
    assert answer(handle_webhook(body, signed(body), secret=SECRET, on_message=handler, store=store)) == (
        200,
        {"messageId": "reply-7"},
    )
    again = handle_webhook(body, signed(body), secret=SECRET, on_message=handler, store=store)
    assert answer(again) == (200, {"messageId": "reply-7"})  # the id answered the first time
    assert len(handler.calls) == 2


def test_interaction_events_are_answered_with_the_documented_envelope() -> None:
    body = encode(events("op-1"))
    handler = Recorder()
    response = handle_webhook(body, signed(body), secret=SECRET, on_message=handler, kind="events")
    assert answer(response) == (200, {"status": {"code": 0}, "data": {"ids": [{"id": "op-1"}]}})
    assert isinstance(handler.calls[0], EventsPayload)
    no_id = encode({"data": {"entities": []}})
    response = handle_webhook(no_id, signed(no_id), secret=SECRET, on_message=handler, kind="events")
    assert answer(response) == (200, {"status": {"code": 0}, "data": {"ids": []}})


def test_a_handler_returning_something_odd_still_counts_as_handled() -> None:
    body = encode(sms("m-1"))
    response = handle_webhook(body, signed(body), secret=SECRET, on_message=Recorder(result=12345))
    assert answer(response) == (200, {"messageId": "m-1"})


class BrokenStore:
    def __init__(self, fail_on: str) -> None:
        self.fail_on = fail_on
        self.inner = MemoryStore()

    def claim(self, key: str) -> Claim:
        if self.fail_on == "claim":
            raise ConnectionError("store down")
        return self.inner.claim(key)

    def complete(self, claim: Claim, response_id: str | None) -> None:
        raise ConnectionError("store down")

    def release(self, claim: Claim) -> None:
        raise ConnectionError("store down")

    def renew(self, claim: Claim) -> bool:
        raise ConnectionError("store down")


def test_an_unreachable_store_means_503_before_the_handler_and_200_after_it() -> None:
    body = encode(sms("m-1"))
    handler = Recorder()

    def status(handler: Recorder, store: BrokenStore) -> int:
        return handle_webhook(body, signed(body), secret=SECRET, on_message=handler, store=store).status

    assert status(handler, BrokenStore("claim")) == 503
    assert handler.calls == []
    assert status(handler, BrokenStore("complete")) == 200
    assert status(Recorder(fail=1), BrokenStore("release")) == 500


def test_programming_errors_are_typed() -> None:
    body = encode(sms())

    async def coroutine_handler(message: OutgoingMessage) -> None:
        return None

    with pytest.raises(TypeError, match="use ahandle_webhook"):
        handle_webhook(body, signed(body), secret=SECRET, on_message=coroutine_handler)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind must be"):
        handle_webhook(body, signed(body), secret=SECRET, on_message=Recorder(), kind="receipts")  # type: ignore[call-overload]


@given(
    body=st.binary(max_size=200)
    | st.builds(
        encode, st.dictionaries(st.sampled_from(["type", "channel"]), st.sampled_from(["Text", "Foo", 1, None]))
    )
)
def test_any_signed_body_gets_200_or_400_and_the_handler_runs_only_on_200(body: bytes) -> None:
    handler = Recorder()
    response = handle_webhook(body, signed(body), secret=SECRET, on_message=handler)
    assert response.status in (200, 400)
    assert len(handler.calls) == (1 if response.status == 200 else 0)


def test_no_secret_or_signature_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    body = encode(sms())
    good = sign(SECRET, body)
    with caplog.at_level(logging.DEBUG):
        handle_webhook(body, {"X-Hub-Signature": sign("other", body)}, secret=SECRET, on_message=Recorder())
        handle_webhook(body, {"X-Hub-Signature": good}, secret=SECRET, on_message=Recorder(fail=1))
        handle_webhook(b"{", signed(b"{"), secret=SECRET, on_message=Recorder())
    assert caplog.records  # the rejections and the failure were logged ...
    assert SECRET not in caplog.text and good[5:] not in caplog.text and sign("other", body)[5:] not in caplog.text


# -- async --------------------------------------------------------------------------------------


async def test_async_handlers_are_awaited_and_sync_ones_run_in_a_thread() -> None:
    body = encode(sms("m-2"))
    seen: list[str] = []

    async def on_message(message: OutgoingMessage) -> str:
        seen.append("async")
        return "a-2"

    def blocking(message: OutgoingMessage) -> None:
        seen.append(threading.current_thread().name)

    response = await ahandle_webhook(body, signed(body), secret=SECRET, on_message=on_message)
    assert answer(response) == (200, {"messageId": "a-2"})
    response = await ahandle_webhook(body, signed(body), secret=SECRET, on_message=blocking)
    assert answer(response) == (200, {"messageId": "m-2"})
    assert seen[0] == "async" and seen[1] != threading.current_thread().name


async def test_a_slow_handler_is_answered_503_and_is_neither_lost_nor_run_twice() -> None:
    body = encode(sms("m-slow"))
    store = MemoryStore()
    release = asyncio.Event()
    runs: list[int] = []

    async def slow(message: OutgoingMessage) -> str:
        runs.append(1)
        await release.wait()
        return "slow-done"

    first = await ahandle_webhook(body, signed(body), secret=SECRET, on_message=slow, store=store, timeout=0.05)
    assert first.status == 503 and b"did not finish" in first.body
    redelivered = await ahandle_webhook(body, signed(body), secret=SECRET, on_message=slow, store=store, timeout=0.05)
    assert redelivered.status == 503 and runs == [1]  # still running: not started twice
    release.set()
    for _ in range(3000):  # upper bound only: until the background run has recorded its result
        response = await ahandle_webhook(body, signed(body), secret=SECRET, on_message=slow, store=store, timeout=5)
        if response.status != 503:
            break
        await asyncio.sleep(0.01)
    assert answer(response) == (200, {"messageId": "slow-done"}) and runs == [1]


async def test_a_slow_handler_that_fails_frees_the_message_for_redelivery() -> None:
    body = encode(sms("m-slow-fail"))
    store = MemoryStore()
    release = asyncio.Event()
    runs: list[int] = []

    async def flaky(message: OutgoingMessage) -> None:
        runs.append(1)
        if len(runs) == 1:
            await release.wait()
            raise RuntimeError("gave up")

    first = await ahandle_webhook(body, signed(body), secret=SECRET, on_message=flaky, store=store, timeout=0.05)
    assert first.status == 503
    release.set()
    for _ in range(3000):
        response = await ahandle_webhook(body, signed(body), secret=SECRET, on_message=flaky, store=store, timeout=5)
        if response.status != 503:
            break
        await asyncio.sleep(0.01)
    assert response.status == 200 and runs == [1, 1]


async def test_async_configuration_errors() -> None:
    body = encode(sms())
    with pytest.raises(ValueError, match="timeout"):
        await ahandle_webhook(body, signed(body), secret=SECRET, on_message=Recorder(), timeout=0)
    with pytest.raises(TypeError, match="callable"):
        await ahandle_webhook(body, signed(body), secret=SECRET, on_message="nope")  # type: ignore[call-overload]
