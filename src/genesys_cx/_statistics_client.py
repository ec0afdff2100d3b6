"""``StatisticsClient`` / ``AsyncStatisticsClient``: the Statistics API plus ``subscribe``.

Both are the generated ``StatisticsApi`` / ``AsyncStatisticsApi`` (every REST operation, same
constructor) with one more keyword, ``notifications``: a callable returning the CometD client the
subscriptions use (``CometdClient`` for the async class, ``SyncCometdClient`` for the sync one).
The facade passes its own; it owns and closes that client.

``subscribe`` is how a dashboard reads statistics::

    async with genesys.statistics.subscribe([
        {"statisticId": "ready", "objectId": "agent1", "objectType": "Agent", "name": "CurrentAgentState"},
    ]) as subscription:
        async for item in subscription:
            match item:
                case UpdatedStatisticValue(statistic_id=sid, value=value):
                    show(sid, value)
                case SubscriptionEvent(kind=kind):
                    banner(kind)

It creates the REST subscription, makes sure CometD is connected and subscribed to
``/statistics/v3/updates`` and ``/statistics/v3/service``, yields the current value of every
statistic and then each change, and re-creates the subscription when the service comes back from
an outage (``recreate_on_service_restart``). Closing the iterator (``aclose()`` / ``close()``, or
leaving ``with``) deletes the subscription. Statistics are ``StatisticDescriptor`` models or plain
mappings with the spec's field names; a bad one is a ``ValueError`` naming it, before any request.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
from genesys_cx_api._runtime import Ambient, Handler, no_ambient
from genesys_cx_api.statistics.api import AsyncStatisticsApi, StatisticsApi
from genesys_cx_api.statistics.models import (
    CreateSubscriptionRequest,
    CreateSubscriptionRequestData,
    StatisticDescriptor,
    Verbose,
)
from genesys_cx_api.types import UNSET, Unset

from ._response import handle_response
from .notifications import AsyncStatisticsSubscription, CometdClient, StatisticsSubscription, SyncCometdClient

__all__ = ["AsyncStatisticsClient", "StatisticSpec", "StatisticsClient", "subscription_request"]

#: A statistic to subscribe to: the generated model, or a mapping with its JSON field names.
StatisticSpec = StatisticDescriptor | Mapping[str, Any]

_REQUIRED = ("statisticId", "objectId", "objectType")


def _descriptor(index: int, spec: object) -> StatisticDescriptor:
    if isinstance(spec, StatisticDescriptor):
        return spec
    if not isinstance(spec, Mapping):
        raise TypeError(f"statistics[{index}] is a {type(spec).__name__}; give a StatisticDescriptor or a mapping")
    for name in _REQUIRED:
        if not isinstance(spec.get(name), str) or not spec[name]:
            raise ValueError(f"statistics[{index}] needs a non-empty string {name!r}")
    if "name" not in spec and "definition" not in spec:
        raise ValueError(f"statistics[{index}] needs a 'name' (pre-configured statistic) or a 'definition'")
    try:
        return StatisticDescriptor.from_dict(spec)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"statistics[{index}] is not a valid statistic: {type(exc).__name__}: {exc}") from exc


def subscription_request(
    statistics: Iterable[StatisticSpec], subscription_id: str | None = None
) -> CreateSubscriptionRequest:
    """The ``create_subscription`` body for *statistics*; its ``operationId`` is the subscription id.

    Raises:
        TypeError: *statistics* is a single statistic or a string rather than a collection of them.
        ValueError: no statistics, a statistic without its required fields, a repeated ``statisticId``,
            or an empty *subscription_id*.
    """
    if isinstance(statistics, (str, bytes, Mapping, StatisticDescriptor)):
        raise TypeError("statistics is a list of statistics, not a single one: wrap it in [...]")
    descriptors = [_descriptor(index, spec) for index, spec in enumerate(statistics)]
    if not descriptors:
        raise ValueError("a subscription needs at least one statistic")
    seen: set[str] = set()
    for descriptor in descriptors:
        if descriptor.statistic_id in seen:
            raise ValueError(f"statisticId {descriptor.statistic_id!r} appears twice: ids are unique in a subscription")
        seen.add(descriptor.statistic_id)
    if subscription_id is None:
        subscription_id = str(uuid.uuid4())
    elif not isinstance(subscription_id, str) or not subscription_id:
        raise ValueError(f"subscription_id must be a non-empty string, not {subscription_id!r}")
    return CreateSubscriptionRequest(
        operation_id=subscription_id, data=CreateSubscriptionRequestData(statistics=descriptors)
    )


def _missing_notifications() -> Any:
    raise RuntimeError(
        "this Statistics client has no CometD client: construct it with notifications=<callable returning one> "
        "(the Genesys facade does)"
    )


class AsyncStatisticsClient(AsyncStatisticsApi):
    """The async Statistics API with ``subscribe`` (see the module docstring).

    Args:
        http, handler, ambient: as for the generated ``AsyncStatisticsApi``.
        notifications: returns the ``CometdClient`` subscriptions use (called on each ``subscribe``;
            return the same client every time). Without it, ``subscribe`` raises ``RuntimeError``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        handler: Handler = handle_response,
        ambient: Ambient = no_ambient,
        notifications: Callable[[], CometdClient] | None = None,
    ) -> None:
        super().__init__(http, handler=handler, ambient=ambient)
        self._notifications = notifications or _missing_notifications

    def subscribe(
        self,
        statistics: Iterable[StatisticSpec],
        *,
        subscription_id: str | None = None,
        verbose: Verbose | Unset = UNSET,
        recreate_on_service_restart: bool = True,
    ) -> AsyncStatisticsSubscription:
        """A subscription to *statistics*: ``async with`` / ``async for`` it (created on first use).

        Args:
            statistics: ``StatisticDescriptor`` models or mappings (``statisticId``, ``objectId``,
                ``objectType`` and ``name`` or ``definition``).
            subscription_id: the id to use (a UUID by default).
            verbose: the ``verbose`` query parameter of ``create_subscription``.
            recreate_on_service_restart: re-create the subscription when the service is AVAILABLE
                after an outage (False: only a ``SERVICE_AVAILABLE`` event is yielded).
        """
        request = subscription_request(statistics, subscription_id)

        async def create(body: CreateSubscriptionRequest) -> object:
            return await self.create_subscription(body=body, verbose=verbose)

        return AsyncStatisticsSubscription(
            self._notifications(),
            request,
            create=create,
            delete=self.delete_subscription,
            recreate_on_service_restart=recreate_on_service_restart,
        )


class StatisticsClient(StatisticsApi):
    """The synchronous Statistics API with ``subscribe`` (see the module docstring).

    Args:
        http, handler, ambient: as for the generated ``StatisticsApi``.
        notifications: returns the ``SyncCometdClient`` subscriptions use (called on each
            ``subscribe``; return the same client every time). Without it, ``subscribe`` raises.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        handler: Handler = handle_response,
        ambient: Ambient = no_ambient,
        notifications: Callable[[], SyncCometdClient] | None = None,
    ) -> None:
        super().__init__(http, handler=handler, ambient=ambient)
        self._notifications = notifications or _missing_notifications

    def subscribe(
        self,
        statistics: Iterable[StatisticSpec],
        *,
        subscription_id: str | None = None,
        verbose: Verbose | Unset = UNSET,
        recreate_on_service_restart: bool = True,
    ) -> StatisticsSubscription:
        """A blocking subscription to *statistics*: ``with`` / ``for`` it (see ``AsyncStatisticsClient``).

        The REST calls run in a worker thread of the notifications loop, so CometD keeps polling.
        """
        request = subscription_request(statistics, subscription_id)
        cometd = self._notifications()

        def build() -> AsyncStatisticsSubscription:
            async def create(body: CreateSubscriptionRequest) -> object:
                return await asyncio.to_thread(lambda: self.create_subscription(body=body, verbose=verbose))

            async def delete(id: str) -> object:
                return await asyncio.to_thread(self.delete_subscription, id)

            return AsyncStatisticsSubscription(
                cometd.async_client,
                request,
                create=create,
                delete=delete,
                recreate_on_service_restart=recreate_on_service_restart,
            )

        return StatisticsSubscription(cometd.call, cometd.call(build))
