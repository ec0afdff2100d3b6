"""The Statistics API and its CometD notifications, emulated (``/statistics/v3``).

``StatisticsEmulator.handlers()`` gives the sandbox pipeline (``_app``) a handler for each of the
five REST operations of ``specs/statistics.yaml`` and the six CometD operations
(``/notifications`` and ``/notifications/{handshake,connect,subscribe,unsubscribe,disconnect}``,
answered by a ``BayeuxServer``). Credentials (``x-api-key`` and a bearer token, CometD included, so
an expired token shows on the very next long poll), request validation and the check of every
answer are the pipeline's, as for every other API; the handlers here add what a schema cannot say
(unique ``statisticId``s, a ``name`` or a ``definition``, the service state).

Statistic values change over time: every ``tick_interval`` seconds (and on ``publish_now()``) each
statistic of each subscription gets a new value, published as a ``StatisticUpdate`` on
``/statistics/v3/updates``. Current-state statistics (``CurrentAgentState``, category
``CurrentState``) carry an object (``{"state": "Ready", ...}``), the others a growing number.
``set_service_state(False)`` publishes ``ServiceStateChange`` UNAVAILABLE and drops every
subscription (REST answers 503 until ``set_service_state(True)`` publishes AVAILABLE), as the
documentation says the service does.
``forget_clients()`` and ``drop_next_connect()`` come from the Bayeux server.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ..notifications._messages import SERVICE_CHANNEL, UPDATES_CHANNEL
from ._coercion import split_values
from ._cometd import BayeuxServer
from ._http import Call, ErrorReply, envelope, json_response

__all__ = ["StatisticsEmulator"]

_STATES = ("Ready", "NotReady", "Busy", "AfterCallWork", "LoggedOut")
_COMETD = (
    "cometd_notifications",
    "cometd_handshake",
    "cometd_connect",
    "cometd_subscribe",
    "cometd_unsubscribe",
    "cometd_disconnect",
)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(item: Mapping[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise ErrorReply(400, f"{where}.{name} is required (a non-empty string)")
    return value


def _statistics(body: object, where: str) -> list[Mapping[str, Any]]:
    data = body.get("data") if isinstance(body, Mapping) else None
    items = data.get("statistics") if isinstance(data, Mapping) else None
    if not isinstance(items, list) or not items:
        raise ErrorReply(400, f"{where}: data.statistics must be a non-empty array of objects")
    return items


@dataclass
class _Statistic:
    descriptor: dict[str, Any]
    value: Any = None
    timestamp: int = 0

    @property
    def stateful(self) -> bool:
        definition = self.descriptor.get("definition")
        category = definition.get("category") if isinstance(definition, Mapping) else None
        name = self.descriptor.get("name")
        return category == "CurrentState" or (isinstance(name, str) and name.startswith("Current") and "State" in name)

    def advance(self, rng: random.Random) -> None:
        if self.stateful:
            self.value = {"state": rng.choice(_STATES), "objectId": self.descriptor.get("objectId")}
        else:
            previous = self.value if isinstance(self.value, int) else 0
            self.value = previous + rng.randint(1, 30)
        self.timestamp = max(_now_ms(), self.timestamp + 1)

    def as_value(self, *, verbose: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if verbose:
            out.update({k: self.descriptor[k] for k in ("name", "objectId", "objectType") if k in self.descriptor})
        if "statisticId" in self.descriptor:
            out["statisticId"] = self.descriptor["statisticId"]
        out.update(value=self.value, timestamp=self.timestamp)
        return out


class StatisticsEmulator:
    """The Statistics REST API and CometD endpoint of the sandbox (see the module docstring).

    Args:
        tick_interval: seconds between value updates (None: only ``publish_now()``).
        long_poll_timeout: how long a CometD connect is held, in seconds (the advised ``timeout``).
        max_interval: a CometD session whose client has not polled for this long expires, in seconds.
        seed: seeds the value generator (for reproducible values).
    """

    def __init__(
        self,
        *,
        tick_interval: float | None = 1.0,
        long_poll_timeout: float = 30.0,
        max_interval: float = 10.0,
        seed: int | None = None,
    ) -> None:
        self._tick_interval = tick_interval
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._subscriptions: dict[str, dict[str, _Statistic]] = {}
        self._available = True
        self._ticker: asyncio.Task[None] | None = None
        self.bayeux = BayeuxServer(
            channels=(UPDATES_CHANNEL, SERVICE_CHANNEL),
            timeout_ms=int(long_poll_timeout * 1000),
            max_interval_ms=int(max_interval * 1000),
        )

    def handlers(self) -> dict[str, Any]:
        """The handler of each operation of ``specs/statistics.yaml``, by operationId."""
        return {
            "get_statistic_values": self._get_statistic_values,
            "get_statistic_value": self._get_statistic_value,
            "create_subscription": self._create_subscription,
            "delete_subscription": self._delete_subscription,
            "get_subscription_statistic_values": self._get_subscription_statistic_values,
            **dict.fromkeys(_COMETD, self._cometd),
        }

    # ------------------------------------------------------------------------------- controls

    @property
    def available(self) -> bool:
        return self._available

    def subscription_ids(self) -> list[str]:
        with self._lock:
            return list(self._subscriptions)

    def set_service_state(self, available: bool) -> None:
        """Publish ``ServiceStateChange`` (when the state changes); UNAVAILABLE drops every subscription."""
        with self._lock:
            if available == self._available:
                return
            self._available = available
            if not available:
                self._subscriptions.clear()
        state = "AVAILABLE" if available else "UNAVAILABLE"
        self.bayeux.publish(
            SERVICE_CHANNEL,
            {
                "name": "ServiceStateChange",
                "topic": SERVICE_CHANNEL,
                "data": {"serviceState": state},
            },
        )

    def publish_now(self) -> int:
        """Give every subscribed statistic a new value and publish the updates now; how many published."""
        with self._lock:
            batches = []
            for subscription_id, statistics in self._subscriptions.items():
                for statistic in statistics.values():
                    statistic.advance(self._rng)
                batches.append(
                    [
                        {"subscriptionId": subscription_id, **statistic.as_value(verbose=False)}
                        for statistic in statistics.values()
                    ]
                )
        for batch in batches:
            self.bayeux.publish(
                UPDATES_CHANNEL,
                {
                    "name": "StatisticUpdate",
                    "topic": UPDATES_CHANNEL,
                    "data": {"statistics": batch},
                },
            )
        return len(batches)

    def publish(self, channel: str, data: Any) -> int:
        """Publish any payload on *channel* to its subscribers (to test clients with odd messages)."""
        return self.bayeux.publish(channel, data)

    def forget_clients(self) -> None:
        """A server restart: every CometD client gets ``402::Unknown client`` next."""
        self.bayeux.forget_clients()

    def drop_next_connect(self, count: int = 1) -> None:
        """Break the next *count* CometD long polls at the network level (queued messages are kept)."""
        self.bayeux.drop_next_connect(count)

    async def aclose(self) -> None:
        """Stop the ticker and answer every held long poll."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None and not ticker.done():
            ticker.cancel()
            if ticker.get_loop() is asyncio.get_running_loop():
                await asyncio.wait({ticker})
        await self.bayeux.aclose()

    # ------------------------------------------------------------------------------- plumbing

    def start(self) -> None:
        """Start the value ticker on the running loop (the sandbox's startup)."""
        if self._tick_interval is not None and self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(self._tick_interval))

    async def _tick(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.publish_now()

    def _check_available(self) -> None:
        if not self._available:
            raise ErrorReply(503, "Service Unavailable: the Statistics service cannot reach Stat Server")

    async def _cometd(self, call: Call) -> Response:
        request = call.request
        return await self.bayeux.answer(call.body, request.headers.get("content-type", ""), request.cookies)

    def _peek(self, name: str, object_id: str, object_type: str) -> dict[str, Any]:
        statistic = _Statistic({"name": name, "objectId": object_id, "objectType": object_type})
        with self._lock:
            statistic.advance(self._rng)
        return statistic.as_value(verbose=True)

    # ------------------------------------------------------------------------------- operations

    async def _get_statistic_values(self, call: Call) -> Response:
        items = _statistics(call.parsed, "get-statistic-ex")
        self._check_available()
        values = []
        for index, item in enumerate(items):
            where = f"data.statistics[{index}]"
            values.append(
                self._peek(_text(item, "name", where), _text(item, "objectId", where), _text(item, "objectType", where))
            )
        return json_response(envelope(0, data={"statistics": values}))

    async def _get_statistic_value(self, call: Call) -> Response:
        object_id, object_type = call.query["objectId"], call.query["objectType"]
        self._check_available()
        statistic = self._peek(call.params["statisticName"], object_id, object_type)
        return json_response(envelope(0, data={"statistic": statistic}))

    async def _create_subscription(self, call: Call) -> Response:
        verbose = self._verbose(call)
        body = call.parsed
        items = _statistics(body, "subscriptions")
        operation_id = body.get("operationId")
        if operation_id is not None and not operation_id:
            raise ErrorReply(400, "operationId must be a non-empty string")
        statistics: dict[str, _Statistic] = {}
        for index, item in enumerate(items):
            where = f"data.statistics[{index}]"
            statistic_id = _text(item, "statisticId", where)
            for required in ("objectId", "objectType"):
                _text(item, required, where)
            if not isinstance(item.get("name"), str) and not isinstance(item.get("definition"), Mapping):
                raise ErrorReply(400, f"{where} needs a name or a definition")
            if statistic_id in statistics:
                raise ErrorReply(400, f"{where}.statisticId {statistic_id!r} is not unique in the subscription")
            statistics[statistic_id] = _Statistic(dict(item))
        self._check_available()
        subscription_id = operation_id or str(uuid.uuid4())
        with self._lock:
            for statistic in statistics.values():
                statistic.advance(self._rng)
            self._subscriptions[subscription_id] = statistics
            values = [statistic.as_value(verbose=verbose) for statistic in statistics.values()]
        data: dict[str, Any] = {"subscriptionId": subscription_id, "statistics": values}
        if operation_id is not None:
            data["operationId"] = operation_id
        return json_response(envelope(0, data=data))

    async def _delete_subscription(self, call: Call) -> Response:
        with self._lock:
            self._subscriptions.pop(call.params["id"], None)
        return json_response(envelope(0))

    async def _get_subscription_statistic_values(self, call: Call) -> Response:
        verbose = self._verbose(call)
        self._check_available()
        subscription_id = call.params["id"]
        wanted = call.query.get("statisticIds")
        ids = None if wanted is None else set(split_values([wanted]))
        with self._lock:
            statistics = self._subscriptions.get(subscription_id)
            if statistics is None:
                raise ErrorReply(500, "Resource not found")
            values = [s.as_value(verbose=verbose) for sid, s in statistics.items() if ids is None or sid in ids]
        return json_response(envelope(0, data={"subscriptionId": subscription_id, "statistics": values}))

    @staticmethod
    def _verbose(call: Call) -> bool:
        return call.query.get("verbose", "INFO") == "INFO"
