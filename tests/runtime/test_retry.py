"""Retries against servers that fail on purpose: what is retried, how long it waits, and what is never repeated."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import logging
import threading

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesys_cx._headers import parse_retry_after
from genesys_cx._retry import RetryPolicy, retry_safe
from genesys_cx._serve import serve
from genesys_cx._transport import AsyncRetryTransport, RetryTransport

from ._core_helpers import Answer, Scripted, dead_port

FAST = RetryPolicy(attempts=3, backoff_base=0.01, backoff_cap=0.02)


class Sleeps:
    """A fake sleep recording the delays asked for (sync and async)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)

    async def asleep(self, delay: float) -> None:
        self.delays.append(delay)


class DeadFirst(httpx.BaseTransport):
    """Sends the first *dead* attempts to a port nothing listens on (connection refused), then to the real server."""

    def __init__(self, dead: int) -> None:
        self.dead, self.calls, self.inner = dead, 0, httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= self.dead:
            request = httpx.Request(request.method, request.url.copy_with(port=dead_port()), content=request.content)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncDeadFirst(httpx.AsyncBaseTransport):
    def __init__(self, dead: int) -> None:
        self.dead, self.calls, self.inner = dead, 0, httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= self.dead:
            request = httpx.Request(request.method, request.url.copy_with(port=dead_port()), content=request.content)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _client(policy: RetryPolicy, sleeps: Sleeps, inner: httpx.BaseTransport | None = None) -> httpx.Client:
    return httpx.Client(transport=RetryTransport(inner or httpx.HTTPTransport(), policy, sleep=sleeps))


def _aclient(policy: RetryPolicy, sleeps: Sleeps, inner: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    transport = AsyncRetryTransport(inner or httpx.AsyncHTTPTransport(), policy, sleep=sleeps.asleep)
    return httpx.AsyncClient(transport=transport)


# ------------------------------------------------------------------------------------------- sync


def test_get_is_retried_until_it_succeeds() -> None:
    app = Scripted(Answer(503), Answer(502), Answer(200, {"ok": True}))
    sleeps = Sleeps()
    with serve(app.app) as server, _client(FAST, sleeps) as client:
        response = client.get(server.url + "/stats")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert len(app.seen) == 3
    assert len(sleeps.delays) == 2
    assert 0 <= sleeps.delays[0] <= 0.01 and 0 <= sleeps.delays[1] <= 0.02


def test_the_last_answer_is_returned_when_attempts_run_out() -> None:
    app = Scripted(Answer(503, {"status": {"code": 503}}))
    sleeps = Sleeps()
    with serve(app.app) as server, _client(FAST, sleeps) as client:
        response = client.get(server.url + "/stats")
    assert response.status_code == 503 and len(app.seen) == 3 and len(sleeps.delays) == 2


def test_retry_after_seconds_is_the_delay() -> None:
    app = Scripted(Answer(429, headers={"Retry-After": "7"}), Answer(200))
    sleeps = Sleeps()
    with serve(app.app) as server, _client(FAST, sleeps) as client:
        assert client.get(server.url + "/x").status_code == 200
    assert sleeps.delays == [7.0]


def test_retry_after_http_date_is_the_delay() -> None:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    app = Scripted(Answer(503, headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)}), Answer(200))
    sleeps = Sleeps()
    with serve(app.app) as server, _client(FAST, sleeps) as client:
        assert client.get(server.url + "/x").status_code == 200
    assert len(sleeps.delays) == 1 and 20 <= sleeps.delays[0] <= 30


def test_a_retry_after_beyond_the_cap_returns_the_answer_at_once() -> None:
    app = Scripted(Answer(429, headers={"Retry-After": "3600"}), Answer(200))
    sleeps = Sleeps()
    with serve(app.app) as server, _client(FAST, sleeps) as client:
        assert client.get(server.url + "/x").status_code == 429
    assert sleeps.delays == [] and len(app.seen) == 1


def test_post_answered_503_is_not_sent_again() -> None:
    app = Scripted(Answer(503), Answer(200))
    sleeps = Sleeps()
    with serve(app.app) as server, _client(FAST, sleeps) as client:
        response = client.post(server.url + "/channels/c/messages", json={"messages": []})
    assert response.status_code == 503 and len(app.seen) == 1 and sleeps.delays == []


def test_post_is_retried_inside_retry_safe() -> None:
    app = Scripted(Answer(503), Answer(200))
    sleeps = Sleeps()
    with serve(app.app) as server, _client(FAST, sleeps) as client:
        with retry_safe():
            response = client.post(server.url + "/channels/c/messages", json={"messages": [1]})
        assert response.status_code == 200
        assert [seen.body for seen in app.seen] == [b'{"messages":[1]}'] * 2
        # outside the block again: not retried
        app.seen.clear()
        app.answers = [Answer(503), Answer(200)]
        assert client.post(server.url + "/x", json={}).status_code == 503 and len(app.seen) == 1


def test_refused_connection_is_retried_even_for_post_and_the_server_sees_one_request() -> None:
    app = Scripted(Answer(201, {"id": 1}))
    sleeps = Sleeps()
    inner = DeadFirst(dead=2)
    with serve(app.app) as server, _client(FAST, sleeps, inner) as client:
        response = client.post(server.url + "/interactions", json={"a": 1})
    assert response.status_code == 201 and inner.calls == 3 and len(app.seen) == 1 and len(sleeps.delays) == 2


def test_refused_connection_raises_connect_error_after_all_attempts() -> None:
    sleeps = Sleeps()
    with _client(FAST, sleeps) as client, pytest.raises(httpx.ConnectError):
        client.post(f"http://127.0.0.1:{dead_port()}/x", json={})
    assert len(sleeps.delays) == 2


def _failing_after_send(errors: list[Exception]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if errors:
            raise errors.pop(0)
        return httpx.Response(200)

    return httpx.MockTransport(handler)


def test_a_read_failure_is_retried_for_get_but_never_for_post() -> None:
    sleeps = Sleeps()
    get = _failing_after_send([httpx.ReadError("reset"), httpx.RemoteProtocolError("closed")])
    with _client(FAST, sleeps, get) as client:
        assert client.get("http://genesys.test/x").status_code == 200
    post = _failing_after_send([httpx.ReadTimeout("slow")])
    with _client(FAST, sleeps, post) as client, pytest.raises(httpx.ReadTimeout):
        client.post("http://genesys.test/x", json={})
    assert len(sleeps.delays) == 2


def test_off_sends_once_and_bad_policies_are_refused() -> None:
    app = Scripted(Answer(503), Answer(200))
    with serve(app.app) as server, _client(RetryPolicy.off(), Sleeps()) as client:
        assert client.get(server.url + "/x").status_code == 503
    assert len(app.seen) == 1
    for bad in ({"attempts": 0}, {"attempts": 1.5}, {"backoff_base": -1.0}, {"retry_after_cap": float("nan")}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)
    assert RetryPolicy(methods={"get"}).methods == frozenset({"GET"})


def test_retry_safe_is_per_thread() -> None:
    app = Scripted(Answer(503))
    outcome: dict[str, int] = {}
    with serve(app.app) as server, _client(FAST, Sleeps()) as client:

        def unsafe_post() -> None:
            before = len(app.seen)
            client.post(server.url + "/x", json={})
            outcome["other thread"] = len(app.seen) - before

        with retry_safe():
            worker = threading.Thread(target=unsafe_post)
            worker.start()
            worker.join(30)
    assert outcome == {"other thread": 1}


def test_each_retry_is_logged_without_the_query(caplog: pytest.LogCaptureFixture) -> None:
    app = Scripted(Answer(503), Answer(200))
    with serve(app.app) as server, _client(FAST, Sleeps()) as client, caplog.at_level(logging.INFO, "genesys_cx"):
        client.get(server.url + "/stats/values?access_token=tok-abcdef")
    (record,) = [r for r in caplog.records if "retrying" in r.getMessage()]
    message = record.getMessage()
    assert "GET /stats/values" in message and "attempt 2 of 3" in message and "status 503" in message
    assert "tok-abcdef" not in message


def test_closing_the_retry_transport_closes_the_inner_one() -> None:
    closed: list[bool] = []

    class Inner(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200)

        def close(self) -> None:
            closed.append(True)

    with httpx.Client(transport=RetryTransport(Inner())):
        pass
    assert closed == [True]


# ------------------------------------------------------------------------------------------ async


async def test_async_get_is_retried_until_it_succeeds() -> None:
    app = Scripted(Answer(504), Answer(200, {"ok": 1}))
    sleeps = Sleeps()
    with serve(app.app) as server:
        async with _aclient(FAST, sleeps) as client:
            response = await client.get(server.url + "/x")
    assert response.json() == {"ok": 1} and len(app.seen) == 2 and len(sleeps.delays) == 1


async def test_async_retry_after_and_post_rules() -> None:
    app = Scripted(Answer(429, headers={"Retry-After": "2"}), Answer(200))
    sleeps = Sleeps()
    with serve(app.app) as server:
        async with _aclient(FAST, sleeps) as client:
            assert (await client.post(server.url + "/x", json={})).status_code == 429
            assert len(app.seen) == 1
            with retry_safe():
                app.seen.clear()
                assert (await client.post(server.url + "/x", json={})).status_code == 200
    assert len(app.seen) == 2 and sleeps.delays == [2.0]


async def test_async_refused_connection_is_retried_for_post() -> None:
    app = Scripted(Answer(200))
    inner = AsyncDeadFirst(dead=1)
    with serve(app.app) as server:
        async with _aclient(FAST, Sleeps(), inner) as client:
            assert (await client.post(server.url + "/x", json={})).status_code == 200
    assert inner.calls == 2 and len(app.seen) == 1


async def test_retry_safe_follows_into_tasks_but_not_into_other_tasks() -> None:
    app = Scripted(Answer(503))
    with serve(app.app) as server:
        async with _aclient(FAST, Sleeps()) as client:

            async def post() -> int:
                before = len(app.seen)
                await client.post(server.url + "/x", json={})
                return len(app.seen) - before

            outsider = asyncio.Event()

            async def unsafe() -> int:
                await outsider.wait()
                return await post()

            unsafe_task = asyncio.create_task(unsafe())  # created outside retry_safe
            with retry_safe():
                inherited = await asyncio.create_task(post())
                outsider.set()
                not_inherited = await unsafe_task
    assert (inherited, not_inherited) == (3, 1)


# ---------------------------------------------------------------------------------------- pure parts


@given(
    retry=st.integers(min_value=1, max_value=60),
    base=st.floats(min_value=0, max_value=100, allow_nan=False),
    cap=st.floats(min_value=0, max_value=100, allow_nan=False),
)
def test_backoff_stays_within_full_jitter_bounds(retry: int, base: float, cap: float) -> None:
    policy = RetryPolicy(backoff_base=base, backoff_cap=cap)
    ceiling = min(cap, base * 2 ** (retry - 1))
    assert 0 <= policy.backoff(retry) <= ceiling
    assert RetryPolicy(backoff_base=base, backoff_cap=cap, jitter=False).backoff(retry) == ceiling


@given(seconds=st.integers(min_value=0, max_value=10**9))
def test_parse_retry_after_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == float(seconds)
    assert parse_retry_after(f"  {seconds} ") == float(seconds)


@given(text=st.text(max_size=40))
def test_parse_retry_after_never_raises(text: str) -> None:
    value = parse_retry_after(text)
    assert value is None or value >= 0


def test_parse_retry_after_dates() -> None:
    now = datetime.datetime(2024, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
