"""Bayeux software nobody here wrote, in node: the official CometD client, and the Faye server.

* The official CometD JavaScript client (npm ``cometd`` + ``cometd-nodejs-client``) in its DEFAULT
  configuration (it tries ``websocket`` first and appends the message type to the URL) against the
  sandbox: handshake, subscribe to both statistics channels, an update after a value changes, a
  service outage and recovery, ``402::Unknown client`` -> re-handshake -> updates again,
  disconnect (``tests/node/cometd_client.mjs``).
* ``genesys_cx``'s own ``CometdClient`` against Faye (npm ``faye``), a Bayeux server we did not
  write, including a server restart (SIGKILL, then a new process on the same port)
  (``tests/node/faye_server.mjs``).

Versions are pinned by ``tests/node/package-lock.json`` (``npm ci`` in ``.ci/run``). Without node or
``tests/node/node_modules`` these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from genesys_cx_api.statistics.models import StatisticUpdate

from genesys_cx.notifications import UPDATES_CHANNEL, CometdClient
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    Sandbox,
    SandboxConfig,
)

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
WAIT = 30.0


def _require_node() -> str:
    node = shutil.which("node")
    missing = "node is not on PATH" if node is None else None
    if node is not None and not (NODE_DIR / "node_modules" / "cometd").is_dir():
        missing = f"{NODE_DIR}/node_modules is missing (run `npm ci` in {NODE_DIR})"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the node tests: {missing}")
        pytest.skip(missing)
    assert node is not None
    return node


class NodeProcess:
    """A node script whose stdout is JSON lines (events), read in the background."""

    def __init__(self, script: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [_require_node(), str(NODE_DIR / script), *args],
            cwd=NODE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def expect(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """The next event matching *predicate* (earlier ones are kept in ``seen``)."""
        while True:
            try:
                event = self.events.get(timeout=WAIT)
            except queue.Empty:
                stderr = self.stop()
                raise AssertionError(f"no {what} within {WAIT} s; events: {self.seen}; stderr: {stderr}") from None
            self.seen.append(event)
            if predicate(event):
                return event

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self, sig: int = signal.SIGTERM) -> str:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            _, stderr = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return stderr or ""


def _token(sb: Sandbox) -> str:
    answer = httpx.post(
        sb.base_url("auth") + "/oauth/token",
        data={"grant_type": "password", "username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        headers={"x-api-key": DEMO_API_KEY},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    )
    return str(answer.json()["access_token"])


def _event(name: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["event"] == name and all(e.get(k) == v for k, v in fields.items())


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    _require_node()
    with Sandbox(SandboxConfig(statistics_tick_interval=None)) as sb:
        yield sb


def test_the_official_cometd_client_with_its_defaults(sandbox: Sandbox) -> None:
    token = _token(sandbox)
    statistics = sandbox.state.statistics
    client = NodeProcess("cometd_client.mjs", sandbox.base_url("statistics") + "/notifications", DEMO_API_KEY, token)
    try:
        # The websocket attempt is refused; the client falls back to long-polling by itself.
        client.expect(_event("handshake", successful=True, transport="long-polling"), "a long-polling handshake")
        for channel in ("/statistics/v3/updates", "/statistics/v3/service"):
            client.expect(_event("subscribed", channel=channel, successful=True), f"a subscription to {channel}")

        rest = httpx.Client(
            base_url=sandbox.base_url("statistics"),
            headers={"x-api-key": DEMO_API_KEY, "Authorization": f"Bearer {token}"},
            timeout=10,
        )
        statistic = {"statisticId": "s1", "objectId": "agent1", "objectType": "Agent", "name": "TotalLoginTime"}
        created = rest.post("/subscriptions", json={"operationId": "dash", "data": {"statistics": [statistic]}})
        assert created.status_code == 200, created.text
        statistics.publish_now()  # the value changes
        update = client.expect(_event("update"), "a StatisticUpdate")
        assert update["data"]["name"] == "StatisticUpdate"
        assert [v["statisticId"] for v in update["data"]["data"]["statistics"]] == ["s1"]

        statistics.set_service_state(False)
        outage = client.expect(_event("service"), "ServiceStateChange UNAVAILABLE")
        assert outage["data"]["data"] == {"serviceState": "UNAVAILABLE"}
        statistics.set_service_state(True)
        recovery = client.expect(_event("service"), "ServiceStateChange AVAILABLE")
        assert recovery["data"]["data"] == {"serviceState": "AVAILABLE"}

        statistics.forget_clients()  # 402::Unknown client on the next connect
        client.expect(_event("handshake", successful=True), "a re-handshake after 402")
        for channel in ("/statistics/v3/updates", "/statistics/v3/service"):
            client.expect(_event("subscribed", channel=channel, successful=True), f"a new subscription to {channel}")
        assert rest.post("/subscriptions", json={"operationId": "dash", "data": {"statistics": [statistic]}}).is_success
        statistics.publish_now()
        client.expect(_event("update"), "a StatisticUpdate after the re-handshake")
        assert statistics.bayeux.handshakes == 2

        client.send("disconnect")
        assert client.expect(_event("disconnected"), "the disconnect")["successful"] is True
        assert client.process.wait(timeout=WAIT) == 0
        assert statistics.bayeux.client_ids() == []
        rest.close()
    finally:
        client.stop()
    assert sandbox.state.response_violations == []


class Faye:
    """A Faye server process on a fixed port; ``restart()`` kills it (SIGKILL) and starts another."""

    def __init__(self) -> None:
        self.server = NodeProcess("faye_server.mjs", "0")
        self.port = self.server.expect(_event("listening"), "faye listening")["port"]

    def restart(self) -> None:
        self.server.stop(signal.SIGKILL)
        self.server = NodeProcess("faye_server.mjs", str(self.port))
        self.server.expect(_event("listening"), "faye listening again")

    def publish(self, channel: str, data: Any) -> None:
        self.server.send(json.dumps({"channel": channel, "data": data}))


def _update(value: int) -> dict[str, Any]:
    return {
        "name": "StatisticUpdate",
        "topic": UPDATES_CHANNEL,
        "data": {"statistics": [{"subscriptionId": "sub", "statisticId": "s", "value": value, "timestamp": value}]},
    }


async def test_our_cometd_client_against_faye_across_a_server_restart() -> None:
    _require_node()
    faye = Faye()
    subscribed = _event("subscribe", channel=UPDATES_CHANNEL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{faye.port}/statistics/v3") as http:
            client = CometdClient(http, "/notifications", backoff_base=0.05, backoff_cap=0.5)
            async with client.updates(UPDATES_CHANNEL) as stream:
                # (waits run in a thread: the client runs on this event loop meanwhile)
                first = await asyncio.to_thread(faye.server.expect, subscribed, "a subscription")
                faye.publish(UPDATES_CHANNEL, _update(1))
                update = await _next(stream)
                assert isinstance(update, StatisticUpdate) and _values(update) == [1]

                await asyncio.to_thread(faye.restart)  # every session is gone: "401::Unknown client"
                again = await asyncio.to_thread(faye.server.expect, subscribed, "a new subscription")
                assert again["clientId"] != first["clientId"]
                faye.publish(UPDATES_CHANNEL, _update(2))
                update = await _next(stream)
                assert isinstance(update, StatisticUpdate) and _values(update) == [2]
            await client.close()
    finally:
        faye.server.stop()


def _values(update: StatisticUpdate) -> list[Any]:
    return [value.value for value in update.data.statistics or []]


async def _next(stream: Any) -> Any:
    return await asyncio.wait_for(anext(stream), WAIT)
