"""The Statistics API and its CometD notifications, emulated (``/statistics/v3``).

``StatisticsEmulator.routes`` serves, relative to ``/statistics/v3``, the five REST operations of
``specs/statistics.yaml`` and the six CometD endpoints (``/notifications`` and
``/notifications/{handshake,connect,subscribe,unsubscribe,disconnect}``, a ``BayeuxServer``). Every
request needs a known ``x-api-key`` (else 403) and a valid ``Authorization: Bearer`` token (else
401), CometD included, so an expired token shows on the very next long poll.

Statistic values change over time: every ``tick_interval`` seconds (and on ``publish_now()``) each
statistic of each subscription gets a new value, published as a ``StatisticUpdate`` on
``/statistics/v3/updates``. Current-state statistics (``CurrentAgentState``, category
``CurrentState``) carry an object (``{"state": "Ready", ...}``), the others a growing number.
``set_service_state(False)`` publishes ``ServiceStateChange`` UNAVAILABLE and drops every
subscription (REST answers 503 until ``set_service_state(True)`` publishes AVAILABLE), as the
documentation says the service does.
``forget_clients()`` and ``drop_next_connect()`` come from the Bayeux server. ``seen`` records the
last requests (path, status, the token they carried) for tests to look at.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._cometd import BayeuxServer
from ._http import envelope, json_response
from ._messages import schema_message as _schema_message
from ._specs import load_spec

__all__ = ["SERVICE_CHANNEL", "UPDATES_CHANNEL", "SeenRequest", "StatisticsEmulator"]

UPDATES_CHANNEL = "/statistics/v3/updates"
SERVICE_CHANNEL = "/statistics/v3/service"
_STATES = ("Ready", "NotReady", "Busy", "AfterCallWork", "LoggedOut")
_VERBOSE = ("OFF", "INFO")
_SEEN_LIMIT = 1000

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class SeenRequest:
    """One request the emulator answered (the token is kept out of ``repr``)."""

    method: str
    path: str
    status: int
    token: str | None = field(repr=False)
    cookies: frozenset[str] = frozenset()


class _Invalid(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@cache
def _validator(schema: str) -> Draft202012Validator:
    """A validator of ``statistics.yaml``'s component *schema* (request bodies are checked as documented)."""
    registry = Registry().with_resource(
        "urn:statistics",
        Resource.from_contents(load_spec("statistics"), default_specification=DRAFT202012),
    )
    return Draft202012Validator({"$ref": f"urn:statistics#/components/schemas/{schema}"}, registry=registry)


def _body_problem(schema: str, body: object) -> str | None:
    """Why *body* is not a documented *schema* (the first problem), or None."""
    error = next(iter(sorted(_validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))), None)
    return None if error is None else _schema_message("body", error)


def _error(status: int, message: str) -> Response:
    return json_response(envelope(status, message), status)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(item: Mapping[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise _Invalid(400, f"{where}.{name} is required (a non-empty string)")
    return value


def _statistics(body: object, where: str) -> list[Mapping[str, Any]]:
    data = body.get("data") if isinstance(body, Mapping) else None
    items = data.get("statistics") if isinstance(data, Mapping) else None
    if not isinstance(items, list) or not items or not all(isinstance(item, Mapping) for item in items):
        raise _Invalid(400, f"{where}: data.statistics must be a non-empty array of objects")
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
        is_valid_token: whether a bearer token (None when absent) is valid now.
        api_keys: the accepted ``x-api-key`` values.
        tick_interval: seconds between value updates (None: only ``publish_now()``).
        long_poll_timeout: how long a CometD connect is held, in seconds (the advised ``timeout``).
        max_interval: a CometD session whose client has not polled for this long expires, in seconds.
        seed: seeds the value generator (for reproducible values).
    """

    def __init__(
        self,
        *,
        is_valid_token: Callable[[str | None], bool],
        api_keys: Collection[str],
        tick_interval: float | None = 1.0,
        long_poll_timeout: float = 30.0,
        max_interval: float = 10.0,
        seed: int | None = None,
    ) -> None:
        self._is_valid_token = is_valid_token
        self._api_keys = frozenset(api_keys)
        self._tick_interval = tick_interval
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._subscriptions: dict[str, dict[str, _Statistic]] = {}
        self._available = True
        self._ticker: asyncio.Task[None] | None = None
        self._seen: deque[SeenRequest] = deque(maxlen=_SEEN_LIMIT)
        self.bayeux = BayeuxServer(
            channels=(UPDATES_CHANNEL, SERVICE_CHANNEL),
            timeout_ms=int(long_poll_timeout * 1000),
            max_interval_ms=int(max_interval * 1000),
        )
        rest: list[tuple[str, str, Endpoint]] = [
            ("/operations/get-statistic-ex", "POST", self._get_statistic_values),
            ("/statistic-values/{statisticName}", "GET", self._get_statistic_value),
            ("/subscriptions", "POST", self._create_subscription),
            ("/subscriptions/{id}", "DELETE", self._delete_subscription),
            ("/subscriptions/{id}/statistic-values", "GET", self._get_subscription_statistic_values),
        ]
        cometd = ["", "/handshake", "/connect", "/subscribe", "/unsubscribe", "/disconnect"]
        rest += [(f"/notifications{suffix}", "POST", self._cometd) for suffix in cometd]
        self.routes: list[BaseRoute] = [Route(path, self._guard(fn), methods=[method]) for path, method, fn in rest]

    # ------------------------------------------------------------------------------- controls

    @property
    def available(self) -> bool:
        return self._available

    @property
    def seen(self) -> list[SeenRequest]:
        """The last requests answered, oldest first."""
        with self._lock:
            return list(self._seen)

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

    def _guard(self, endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            self._start_ticker()
            authorization = request.headers.get("authorization", "")
            scheme, _, token = authorization.partition(" ")
            bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
            if request.headers.get("x-api-key") not in self._api_keys:
                response = _error(403, "Forbidden: missing or unknown x-api-key")
            elif not self._is_valid_token(bearer):
                response = _error(401, "Unauthorized: the access token is missing, invalid or expired")
            else:
                try:
                    response = await endpoint(request)
                except _Invalid as exc:
                    response = _error(exc.status, str(exc))
                except ClientDisconnect:  # the client gave up mid-request (a cancelled poll): nobody to answer
                    return Response(status_code=499)
            with self._lock:
                self._seen.append(
                    SeenRequest(
                        request.method,
                        request.url.path,
                        response.status_code,
                        bearer,
                        frozenset(request.cookies),
                    )
                )
            return response

        return guarded

    def _start_ticker(self) -> None:
        if self._tick_interval is not None and self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(self._tick_interval))

    async def _tick(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.publish_now()

    def _check_available(self) -> None:
        if not self._available:
            raise _Invalid(503, "Service Unavailable: the Statistics service cannot reach Stat Server")

    @staticmethod
    async def _json(request: Request, schema: str) -> object:
        try:
            body: object = json.loads(await request.body())
        except ValueError as exc:
            raise _Invalid(400, "the body is not JSON") from exc
        if (problem := _body_problem(schema, body)) is not None:
            raise _Invalid(400, problem)
        return body

    async def _cometd(self, request: Request) -> Response:
        """A CometD endpoint: a body that is not a documented ``BayeuxRequest`` gets a Bayeux 400."""
        try:
            problem = _body_problem("BayeuxRequest", json.loads(await request.body()))
        except ValueError:
            problem = None  # the Bayeux server answers unreadable JSON itself
        if problem is not None:
            return BayeuxServer._bad_request(problem)
        return await self.bayeux.endpoint(request)

    def _peek(self, name: str, object_id: str, object_type: str) -> dict[str, Any]:
        statistic = _Statistic({"name": name, "objectId": object_id, "objectType": object_type})
        with self._lock:
            statistic.advance(self._rng)
        return statistic.as_value(verbose=True)

    # ------------------------------------------------------------------------------- operations

    async def _get_statistic_values(self, request: Request) -> Response:
        items = _statistics(await self._json(request, "GetStatisticValuesRequest"), "get-statistic-ex")
        self._check_available()
        values = []
        for index, item in enumerate(items):
            where = f"data.statistics[{index}]"
            values.append(
                self._peek(_text(item, "name", where), _text(item, "objectId", where), _text(item, "objectType", where))
            )
        return json_response(envelope(0, data={"statistics": values}))

    async def _get_statistic_value(self, request: Request) -> Response:
        query = request.query_params
        object_id, object_type = query.get("objectId"), query.get("objectType")
        if not object_id or not object_type:
            raise _Invalid(400, "the query parameters objectId and objectType are required")
        self._check_available()
        statistic = self._peek(request.path_params["statisticName"], object_id, object_type)
        return json_response(envelope(0, data={"statistic": statistic}))

    async def _create_subscription(self, request: Request) -> Response:
        verbose = self._verbose(request)
        body = await self._json(request, "CreateSubscriptionRequest")
        items = _statistics(body, "subscriptions")
        operation_id = body.get("operationId") if isinstance(body, Mapping) else None
        if operation_id is not None and (not isinstance(operation_id, str) or not operation_id):
            raise _Invalid(400, "operationId must be a non-empty string")
        statistics: dict[str, _Statistic] = {}
        for index, item in enumerate(items):
            where = f"data.statistics[{index}]"
            statistic_id = _text(item, "statisticId", where)
            for required in ("objectId", "objectType"):
                _text(item, required, where)
            if not isinstance(item.get("name"), str) and not isinstance(item.get("definition"), Mapping):
                raise _Invalid(400, f"{where} needs a name or a definition")
            if statistic_id in statistics:
                raise _Invalid(400, f"{where}.statisticId {statistic_id!r} is not unique in the subscription")
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

    async def _delete_subscription(self, request: Request) -> Response:
        with self._lock:
            self._subscriptions.pop(request.path_params["id"], None)
        return json_response(envelope(0))

    async def _get_subscription_statistic_values(self, request: Request) -> Response:
        verbose = self._verbose(request)
        self._check_available()
        subscription_id = request.path_params["id"]
        wanted = request.query_params.get("statisticIds")
        ids = None if wanted is None else {part.strip() for part in wanted.split(",") if part.strip()}
        with self._lock:
            statistics = self._subscriptions.get(subscription_id)
            if statistics is None:
                raise _Invalid(500, f"subscription {subscription_id!r} does not exist")
            values = [s.as_value(verbose=verbose) for sid, s in statistics.items() if ids is None or sid in ids]
        return json_response(envelope(0, data={"subscriptionId": subscription_id, "statistics": values}))

    @staticmethod
    def _verbose(request: Request) -> bool:
        verbose = request.query_params.get("verbose", "INFO")
        if verbose not in _VERBOSE:
            raise _Invalid(400, f"verbose must be one of {', '.join(_VERBOSE)}")
        return verbose == "INFO"
