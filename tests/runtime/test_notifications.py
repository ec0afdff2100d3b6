"""The CometD client and ``StatisticsClient.subscribe`` against the Statistics emulator, over real sockets.

Each test drives a real network failure or server event (a long poll cut short, a server restart,
an expired token, a service outage) and checks what a dashboard author sees: the updates keep coming.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypedDict

import httpx
import pytest
from genesys_cx_api.statistics.models import ServiceState, ServiceStateChange, StatisticUpdate, UpdatedStatisticValue
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_cx._statistics_client import AsyncStatisticsClient, StatisticsClient, subscription_request
from genesys_cx.errors import Forbidden, Unauthorized
from genesys_cx.notifications import (
    SERVICE_CHANNEL,
    UPDATES_CHANNEL,
    CometdClient,
    Notification,
    RawMessage,
    SessionEnded,
    StatisticsItem,
    SubscribeFailed,
    SubscriptionEvent,
    SubscriptionEventKind,
    SyncCometdClient,
    parse_notification,
)
from genesys_cx.sandbox import DEMO_CLIENT_ID, DEMO_USERNAME, Sandbox, SandboxConfig

API_KEY = "notif-api-key-0123"
WAIT = 10.0  # upper bound for anything to arrive; never a timing assertion
STATS = [
    {"statisticId": "state", "objectId": "agent1", "objectType": "Agent", "name": "CurrentAgentState"},
    {"statisticId": "login", "objectId": "agent1", "objectType": "Agent", "name": "TotalLoginTime"},
]


class _Backoff(TypedDict):
    backoff_base: float
    backoff_cap: float


FAST: _Backoff = {"backoff_base": 0.01, "backoff_cap": 0.1}


class ValidTokens:
    """The access tokens the sandbox accepts, by value (tests choose readable ones)."""

    def __init__(self, sb: Sandbox) -> None:
        self._tokens = sb.state.tokens

    def add(self, token: str) -> None:
        self._tokens.issue(DEMO_CLIENT_ID, DEMO_USERNAME, "*", refresh=False, access_token=token)

    def clear(self) -> None:
        self._tokens.expire_all()


class Env:
    """A sandbox, its valid tokens, the token the client's provider hands out, and what was sent."""

    def __init__(self, sb: Sandbox) -> None:
        self.emulator, self.url, self.valid = sb.state.statistics, sb.url, ValidTokens(sb)
        self.token = "token-one-0001"
        self.valid.add(self.token)
        self.calls = 0
        self.seen: list[tuple[str, str | None, int]] = []  # (path, bearer token, status) of CometD requests

    def headers(self) -> dict[str, str]:
        self.calls += 1
        return {"x-api-key": API_KEY, "Authorization": f"Bearer {self.token}"}

    async def record(self, response: httpx.Response) -> None:
        scheme, _, token = response.request.headers.get("authorization", "").partition(" ")
        self.seen.append((response.request.url.path, token if scheme == "Bearer" else None, response.status_code))

    def tokens_seen(self, path: str, status: int = 200) -> list[str | None]:
        return [token for seen, token, answer in self.seen if seen.endswith(path) and answer == status]

    def rest(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url + "/statistics/v3", headers=self.headers(), timeout=httpx.Timeout(10)
        )

    def rest_sync(self) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/statistics/v3", headers=self.headers(), timeout=httpx.Timeout(10))


@pytest.fixture
def env() -> Iterator[Env]:
    config = SandboxConfig(api_keys=[API_KEY], statistics_tick_interval=None, cometd_timeout=1.0)
    with Sandbox(config) as sb:
        yield Env(sb)


@pytest.fixture
async def cometd(env: Env) -> AsyncIterator[CometdClient]:
    async with httpx.AsyncClient(base_url=env.url, event_hooks={"response": [env.record]}) as http:
        client = CometdClient(http, headers=env.headers, **FAST)
        yield client
        await client.close()


async def next_item(stream: Any) -> Any:
    return await asyncio.wait_for(anext(stream), WAIT)


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


def update_payload(subscription: str = "sub") -> dict[str, Any]:
    return {
        "name": "StatisticUpdate",
        "topic": UPDATES_CHANNEL,
        "data": {"statistics": [{"subscriptionId": subscription, "statisticId": "s", "value": 7, "timestamp": 1}]},
    }


# ------------------------------------------------------------------------------------- the session


async def test_updates_arrive_typed_and_odd_payloads_arrive_raw(env: Env, cometd: CometdClient) -> None:
    async with cometd.updates(UPDATES_CHANNEL, SERVICE_CHANNEL) as stream:
        env.emulator.publish(UPDATES_CHANNEL, update_payload())
        env.emulator.publish(UPDATES_CHANNEL, {"name": "StatisticUpdate", "data": "not an object"})
        env.emulator.publish(
            SERVICE_CHANNEL,
            {"name": "ServiceStateChange", "topic": "statistics/v3/service", "data": {"serviceState": "AVAILABLE"}},
        )
        env.emulator.publish(
            SERVICE_CHANNEL,
            {"name": "ServiceStateChange", "topic": SERVICE_CHANNEL, "data": {"serviceState": "DEGRADED"}},
        )
        update, raw, available, unknown = [await next_item(stream) for _ in range(4)]
    assert isinstance(update, StatisticUpdate)
    assert update.data.statistics[0].value == 7  # type: ignore[index]
    assert isinstance(raw, RawMessage) and raw.channel == UPDATES_CHANNEL and raw.error
    assert raw.message["data"] == {"name": "StatisticUpdate", "data": "not an object"}
    assert isinstance(available, ServiceStateChange)  # the docs' topic typo does not hide AVAILABLE
    assert available.data.service_state is ServiceState.AVAILABLE
    assert isinstance(unknown, ServiceStateChange) and not unknown.data.service_state.is_known
    assert cometd.state == "connected"


async def test_callbacks_receive_notifications_and_a_failing_one_does_not_stop_the_loop(
    env: Env, cometd: CometdClient
) -> None:
    received: list[Notification] = []

    def broken(notification: Notification) -> None:
        raise RuntimeError("listener bug")

    async def good(notification: Notification) -> None:
        received.append(notification)

    cometd.add_listener(UPDATES_CHANNEL, broken)
    remove = cometd.add_listener(None, good)
    await cometd.subscribe(UPDATES_CHANNEL)
    env.emulator.publish(UPDATES_CHANNEL, update_payload())
    await until(lambda: len(received) == 1)
    remove()
    env.emulator.publish(UPDATES_CHANNEL, update_payload())
    async with cometd.updates(UPDATES_CHANNEL) as stream:
        env.emulator.publish(UPDATES_CHANNEL, update_payload())
        assert isinstance(await next_item(stream), StatisticUpdate)
    assert len(received) == 1


async def test_a_refused_channel_is_a_typed_error_and_not_kept(cometd: CometdClient) -> None:
    with pytest.raises(SubscribeFailed) as caught:
        await cometd.subscribe(UPDATES_CHANNEL, "/statistics/v3/nope")
    assert caught.value.channel == "/statistics/v3/nope" and caught.value.code is not None
    assert cometd.channels == (UPDATES_CHANNEL,)
    with pytest.raises(ValueError, match="meta channel"):
        await cometd.subscribe("/meta/connect")
    with pytest.raises(TypeError):
        cometd.updates(42)  # type: ignore[arg-type]


async def test_a_dropped_long_poll_reconnects_and_loses_nothing_the_server_holds(
    env: Env, cometd: CometdClient, caplog: pytest.LogCaptureFixture
) -> None:
    async with cometd.updates(SERVICE_CHANNEL) as stream:
        await until(lambda: env.emulator.bayeux.is_polling(cometd.client_id or ""))
        client_id = cometd.client_id
        env.emulator.drop_next_connect()
        env.emulator.set_service_state(False)  # queued while the poll carrying it breaks
        change = await next_item(stream)
    assert isinstance(change, ServiceStateChange) and change.data.service_state is ServiceState.UNAVAILABLE
    assert cometd.client_id == client_id  # a network failure is not a new session
    assert "RemoteProtocolError" in caplog.text


async def test_a_forgotten_client_handshakes_again_resubscribes_and_updates_resume(
    env: Env, cometd: CometdClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="genesys_cx")
    async with cometd.updates(UPDATES_CHANNEL) as stream:
        old = cometd.client_id
        env.emulator.forget_clients()  # a server restart
        await until(lambda: env.emulator.bayeux.subscribers(UPDATES_CHANNEL) not in ([], [old]))
        env.emulator.publish(UPDATES_CHANNEL, update_payload())
        assert isinstance(await next_item(stream), StatisticUpdate)
    assert cometd.client_id not in (None, old)
    assert env.emulator.bayeux.handshakes == 2
    assert "handshaking again" in caplog.text


async def test_an_expired_token_is_replaced_on_the_next_connect(
    env: Env, cometd: CometdClient, caplog: pytest.LogCaptureFixture
) -> None:
    async with cometd.updates(UPDATES_CHANNEL) as stream:
        env.valid.clear()  # the token expires; the provider still hands out the old one for a while
        await until(lambda: bool(env.tokens_seen("/notifications/connect", 401)))
        env.token = "token-two-0002"  # the token manager refreshed
        env.valid.add(env.token)
        await until(lambda: "token-two-0002" in env.tokens_seen("/notifications/connect"))
        env.emulator.publish(UPDATES_CHANNEL, update_payload())
        assert isinstance(await next_item(stream), StatisticUpdate)
    assert set(env.tokens_seen("/notifications/connect", 401)) == {"token-one-0001"}
    assert "token-one-0001" not in caplog.text and "token-two-0002" not in caplog.text
    assert API_KEY not in caplog.text


async def test_a_token_rotated_before_expiry_is_used_on_the_next_connect(env: Env, cometd: CometdClient) -> None:
    await cometd.subscribe(UPDATES_CHANNEL)
    env.token = "token-three-03"
    env.valid.add(env.token)
    await until(lambda: "token-three-03" in env.tokens_seen("/notifications/connect"))


async def test_handshake_errors_are_typed_and_carry_no_secret(env: Env) -> None:
    async with httpx.AsyncClient(base_url=env.url) as http:
        wrong_key = CometdClient(http, headers=lambda: {"x-api-key": "wrong-key-999", "Authorization": "Bearer x"})
        with pytest.raises(Forbidden) as forbidden:
            await wrong_key.start()
        env.token = "expired-token-77"
        expired = CometdClient(http, headers=env.headers)
        with pytest.raises(Unauthorized) as unauthorized:
            await expired.subscribe(UPDATES_CHANNEL)
        await wrong_key.close()
        await expired.close()
        with pytest.raises(SessionEnded):
            await expired.start()
    for error in (forbidden.value, unauthorized.value):
        assert error.operation == "cometd_handshake"
        for secret in ("wrong-key-999", "expired-token-77", API_KEY):
            assert secret not in str(error) and secret not in repr(error)
    assert "expired-token-77" not in repr(expired)


def scripted(*connect_answers: httpx.Response) -> httpx.MockTransport:
    """A CometD server in a function: handshakes succeed, connects get *connect_answers* in turn."""
    answers = iter(connect_answers)

    def answer(request: httpx.Request) -> httpx.Response:
        (message,) = json.loads(request.content)
        if message["channel"] == "/meta/handshake":
            return httpx.Response(200, json=[{**message, "successful": True, "clientId": "c1"}])
        return next(answers)

    return httpx.MockTransport(answer)


async def test_5xx_and_garbage_are_retried_with_backoff_and_reconnect_none_ends_the_readers() -> None:
    update = {"channel": UPDATES_CHANNEL, "data": update_payload()}
    server = scripted(
        httpx.Response(503, json={"status": {"code": 503, "message": "busy"}}),
        httpx.Response(200, content=b"<html>proxy error</html>"),
        httpx.Response(200, json=[update, {"channel": "/meta/connect", "successful": True}]),
        httpx.Response(
            200,
            json=[
                {
                    "channel": "/meta/connect",
                    "successful": False,
                    "error": "403::shutting down",
                    "advice": {"reconnect": "none"},
                }
            ],
        ),
    )
    async with httpx.AsyncClient(base_url="http://cometd.test", transport=server) as http:
        client = CometdClient(http, **FAST)
        stream = client.updates()
        assert isinstance(await next_item(stream), StatisticUpdate)
        with pytest.raises(SessionEnded, match="shutting down"):
            await next_item(stream)
        assert client.state == "closed"
        await client.close()


# ------------------------------------------------------------------------------------- statistics


async def test_subscribe_yields_values_and_survives_a_service_restart(
    env: Env, cometd: CometdClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="genesys_cx")
    rest = env.rest()
    statistics = AsyncStatisticsClient(rest, notifications=lambda: cometd)
    async with statistics.subscribe(STATS, subscription_id="dash-1") as subscription:
        initial = [await next_item(subscription) for _ in STATS]
        assert {v.statistic_id for v in initial} == {"state", "login"}
        assert all(v.subscription_id == "dash-1" for v in initial)

        env.emulator.publish_now()
        changed = [await next_item(subscription) for _ in STATS]
        assert all(isinstance(v, UpdatedStatisticValue) for v in changed)
        assert {v.timestamp for v in changed}.isdisjoint({v.timestamp for v in initial})

        env.emulator.set_service_state(False)
        dropped = await next_item(subscription)
        assert dropped == SubscriptionEvent(SubscriptionEventKind.DROPPED, "dash-1")
        assert not subscription.active and env.emulator.subscription_ids() == []

        env.emulator.set_service_state(True)
        recreated = await next_item(subscription)
        assert recreated == SubscriptionEvent(SubscriptionEventKind.RECREATED, "dash-1")
        fresh = [await next_item(subscription) for _ in STATS]
        assert {v.statistic_id for v in fresh} == {"state", "login"}
        assert env.emulator.subscription_ids() == ["dash-1"] and subscription.active

        env.emulator.publish_now()
        resumed = await next_item(subscription)
        assert isinstance(resumed, UpdatedStatisticValue) and resumed.subscription_id == "dash-1"
    assert env.emulator.subscription_ids() == []  # closing deleted it
    assert "dash-1 dropped" in caplog.text and "dash-1 re-created" in caplog.text
    await rest.aclose()


async def test_an_opted_out_subscription_is_only_told_the_service_is_back(env: Env, cometd: CometdClient) -> None:
    rest = env.rest()
    statistics = AsyncStatisticsClient(rest, notifications=lambda: cometd)
    subscription = statistics.subscribe(STATS, recreate_on_service_restart=False)
    items: list[StatisticsItem] = [await next_item(subscription) for _ in STATS]
    env.emulator.set_service_state(False)
    env.emulator.set_service_state(True)
    items += [await next_item(subscription) for _ in range(2)]
    assert [i.kind for i in items[2:] if isinstance(i, SubscriptionEvent)] == [
        SubscriptionEventKind.DROPPED,
        SubscriptionEventKind.SERVICE_AVAILABLE,
    ]
    assert env.emulator.subscription_ids() == []
    await subscription.aclose()
    await rest.aclose()


async def test_closing_the_client_ends_subscriptions_and_leaves_no_task(
    env: Env, recwarn: pytest.WarningsRecorder
) -> None:
    rest = env.rest()
    async with httpx.AsyncClient(base_url=env.url) as http:
        cometd = CometdClient(http, headers=env.headers, **FAST)
        subscription = AsyncStatisticsClient(rest, notifications=lambda: cometd).subscribe(STATS)
        await next_item(subscription)
        env.emulator.set_service_state(False)
        env.emulator.set_service_state(True)  # a re-creation task may be running while we close
        await cometd.close()
        await cometd.close()
        remaining = [item async for item in subscription]  # what was received, then the end
        assert all(isinstance(item, UpdatedStatisticValue | SubscriptionEvent) for item in remaining)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert env.emulator.subscription_ids() == []
    assert env.emulator.bayeux.client_ids() == []  # disconnected
    await rest.aclose()
    assert [str(w.message) for w in recwarn] == []


def test_bad_statistics_are_refused_before_any_request(env: Env) -> None:
    statistics = AsyncStatisticsClient(env.rest(), notifications=lambda: pytest.fail("no CometD for bad input"))
    with pytest.raises(TypeError, match="wrap it"):
        statistics.subscribe(STATS[0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"statistics\[1\] needs a non-empty string 'objectType'"):
        statistics.subscribe([STATS[0], {"statisticId": "x", "objectId": "a", "name": "N"}])
    with pytest.raises(ValueError, match="appears twice"):
        statistics.subscribe([STATS[0], STATS[0]])
    with pytest.raises(ValueError, match="at least one"):
        statistics.subscribe([])
    with pytest.raises(RuntimeError, match="notifications="):
        AsyncStatisticsClient(env.rest()).subscribe(STATS)
    assert env.emulator.subscription_ids() == [] and env.emulator.bayeux.client_ids() == []


spec_fields = st.sampled_from(["statisticId", "objectId", "objectType", "name", "definition"])
spec_values = st.none() | st.text(max_size=3) | st.integers() | st.dictionaries(st.text(max_size=3), st.integers())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(spec_fields, spec_values), max_size=4))
def test_any_statistics_input_is_a_request_or_a_clear_error(specs: list[dict[str, Any]]) -> None:
    try:
        request = subscription_request(specs)
    except (ValueError, TypeError) as exc:
        assert str(exc)
    else:
        assert [d.statistic_id for d in request.data.statistics] == [s["statisticId"] for s in specs]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    channel=st.sampled_from([UPDATES_CHANNEL, SERVICE_CHANNEL, "/other", "/meta/connect"]) | json_values,
    data=json_values
    | st.fixed_dictionaries(
        {"name": st.just("StatisticUpdate"), "topic": st.just(UPDATES_CHANNEL), "data": json_values}
    ),
)
def test_any_message_parses_to_its_model_or_a_raw_message_that_keeps_it(channel: Any, data: Any) -> None:
    message = {"channel": channel, "data": data}
    parsed = parse_notification(message)
    if isinstance(parsed, RawMessage):
        assert parsed.message is message and parsed.data is data
    else:
        expected = StatisticUpdate if channel == UPDATES_CHANNEL else ServiceStateChange
        assert channel in (UPDATES_CHANNEL, SERVICE_CHANNEL) and isinstance(parsed, expected)


# ------------------------------------------------------------------------------------- sync


def test_the_sync_client_delivers_and_closes_its_thread(env: Env) -> None:
    received: list[Notification] = []
    with SyncCometdClient(env.url, headers=env.headers, **FAST) as client:
        client.add_listener(SERVICE_CHANNEL, received.append)
        with client.updates(UPDATES_CHANNEL, SERVICE_CHANNEL) as stream:
            env.emulator.publish(UPDATES_CHANNEL, update_payload())
            assert isinstance(stream.get(timeout=WAIT), StatisticUpdate)
            with pytest.raises(TimeoutError):
                stream.get(timeout=0.05)
            env.emulator.set_service_state(False)
            assert isinstance(stream.get(timeout=WAIT), ServiceStateChange)  # nothing lost to the timeout
        assert client.state == "connected"
    state: str = client.state  # (a property: mypy narrows it as if it could not change)
    assert state == "closed" and len(received) == 1
    assert not [t for t in threading.enumerate() if t.name == "genesys-cx-notifications"]
    with pytest.raises(SessionEnded):
        client.subscribe(UPDATES_CHANNEL)


def test_the_sync_statistics_client_subscribes_end_to_end(env: Env) -> None:
    rest = env.rest_sync()
    with SyncCometdClient(env.url, headers=env.headers, **FAST) as cometd:
        statistics = StatisticsClient(rest, notifications=lambda: cometd)
        with statistics.subscribe(STATS, subscription_id="sync-dash") as subscription:
            assert env.emulator.subscription_ids() == ["sync-dash"]
            initial = [subscription.get(timeout=WAIT) for _ in STATS]
            env.emulator.publish_now()
            update = subscription.get(timeout=WAIT)
            assert isinstance(update, UpdatedStatisticValue) and update.subscription_id == "sync-dash"
            assert {v.statistic_id for v in initial} == {"state", "login"}  # type: ignore[union-attr]
        assert env.emulator.subscription_ids() == []
        assert list(subscription) == []
    rest.close()


def test_closing_a_blocking_iterator_from_another_thread_stops_a_waiting_reader(env: Env) -> None:
    with SyncCometdClient(env.url, headers=env.headers, **FAST) as client:
        stream = client.updates(UPDATES_CHANNEL)
        stream.start()
        threading.Timer(0.1, stream.close).start()
        assert list(stream) == []


def test_no_task_or_unclosed_warning_at_interpreter_exit(env: Env) -> None:
    script = textwrap.dedent(f"""
        import asyncio, httpx
        from genesys_cx.notifications import CometdClient, UPDATES_CHANNEL
        async def main():
            async with httpx.AsyncClient(base_url={env.url!r}) as http:
                client = CometdClient(http, headers=lambda: {{"x-api-key": {API_KEY!r},
                                                              "Authorization": "Bearer token-one-0001"}})
                async with client:
                    stream = client.updates(UPDATES_CHANNEL)
                    await stream.start()
                    await asyncio.sleep(0.2)
        asyncio.run(main())
        print("done")
    """)
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    for marker in ("Task was destroyed", "Unclosed", "never awaited", "Warning"):
        assert marker not in result.stderr
