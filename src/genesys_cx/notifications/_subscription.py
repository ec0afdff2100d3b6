"""Statistics subscriptions that outlive service restarts.

A statistics subscription is two things: a REST resource (``create_subscription``) and the
``StatisticUpdate`` notifications CometD delivers for it. ``AsyncStatisticsSubscription`` holds
both: ``start()`` subscribes the CometD client to ``/statistics/v3/updates`` and
``/statistics/v3/service`` first (so no update is missed), then creates the subscription and
yields the current value of every statistic, then each change, as ``UpdatedStatisticValue``.

The Statistics service drops every subscription when it reports ``UNAVAILABLE`` on
``/statistics/v3/service``. The subscription then yields a ``SubscriptionEvent`` (``DROPPED``);
on ``AVAILABLE`` it re-creates itself with the same statistics and id through the *create*
callable (retrying with backoff until it succeeds) and yields ``RECREATED`` followed by the
fresh values, or, when ``recreate_on_service_restart`` is False, ``SERVICE_AVAILABLE`` and
leaves re-creating to the caller. Both are logged at INFO on ``genesys_cx.notifications``.

Closing (``aclose()``, leaving ``async with``, or the CometD client closing) deletes the REST
subscription. ``StatisticsSubscription`` is the blocking twin for ``SyncCometdClient``.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from genesys_cx_api.statistics.models import (
    CreateSubscriptionRequest,
    ServiceState,
    ServiceStateChange,
    StatisticData,
    StatisticDescriptor,
    StatisticUpdate,
    UpdatedStatisticValue,
)
from genesys_cx_api.types import Unset

from .._redact import get_logger
from .._retry import RetryPolicy
from ._client import CometdClient, describe
from ._messages import SERVICE_CHANNEL, UPDATES_CHANNEL, Notification
from ._streams import Inbox, maybe_await
from ._sync import BlockingStream

__all__ = [
    "AsyncStatisticsSubscription",
    "CreateSubscription",
    "DeleteSubscription",
    "StatisticsItem",
    "StatisticsSubscription",
    "SubscriptionEvent",
    "SubscriptionEventKind",
]

logger = get_logger("notifications")

#: Creates the REST subscription (``create_subscription``); sync or async. Its answer's values are yielded.
CreateSubscription = Callable[[CreateSubscriptionRequest], Any]
#: Deletes the REST subscription by id (``delete_subscription``); sync or async.
DeleteSubscription = Callable[[str], Any]


class SubscriptionEventKind(enum.StrEnum):
    """What happened to a statistics subscription (see ``SubscriptionEvent``)."""

    #: The service reported UNAVAILABLE and dropped the subscription: no updates until it is re-created.
    DROPPED = "dropped"
    #: The subscription was re-created after the service became AVAILABLE; its current values follow.
    RECREATED = "recreated"
    #: An attempt to re-create it failed (``error``); it is retried with backoff.
    RECREATE_FAILED = "recreate_failed"
    #: The service is AVAILABLE again and the subscription was not re-created (opted out).
    SERVICE_AVAILABLE = "service_available"


@dataclass(frozen=True)
class SubscriptionEvent:
    """A change in a statistics subscription's life, yielded between its values."""

    kind: SubscriptionEventKind
    subscription_id: str
    error: BaseException | None = None


#: What a statistics subscription yields.
StatisticsItem = UpdatedStatisticValue | SubscriptionEvent

_Phase = Literal["new", "active", "dropped", "closed"]


def _values(response: object, subscription_id: str) -> tuple[str, list[UpdatedStatisticValue]]:
    """(subscription id, current values) from a ``create_subscription`` answer."""
    data = getattr(response, "data", None)
    if not isinstance(data, StatisticData):
        return subscription_id, []
    if isinstance(data.subscription_id, str) and data.subscription_id:
        subscription_id = data.subscription_id
    statistics = [] if isinstance(data.statistics, Unset) else data.statistics
    return subscription_id, [
        UpdatedStatisticValue(
            subscription_id=subscription_id,
            statistic_id=value.statistic_id,
            value=value.value,
            timestamp=value.timestamp,
        )
        for value in statistics
    ]


class AsyncStatisticsSubscription:
    """``async for item in subscription``: a statistics subscription's values and events.

    Args:
        cometd: the notifications client (started and subscribed on ``start()``).
        request: the ``create_subscription`` body; its ``operationId`` is the subscription id.
        create: sends *request* (sync or async) and returns the answer.
        delete: deletes a subscription by id (sync or async).
        recreate_on_service_restart: re-create the subscription when the service is AVAILABLE again.
        backoff_base, backoff_cap: delays between failed re-creation attempts, in seconds.
    """

    def __init__(
        self,
        cometd: CometdClient,
        request: CreateSubscriptionRequest,
        *,
        create: CreateSubscription,
        delete: DeleteSubscription,
        recreate_on_service_restart: bool = True,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
    ) -> None:
        if not isinstance(request.operation_id, str) or not request.operation_id:
            raise ValueError("the subscription request needs an operationId: it becomes the subscription id")
        self._cometd = cometd
        self._request = request
        self._id = request.operation_id
        self._create_fn = create
        self._delete_fn = delete
        self._recreate = recreate_on_service_restart
        self._backoff = RetryPolicy(backoff_base=backoff_base, backoff_cap=backoff_cap)
        self._inbox: Inbox[StatisticsItem] = Inbox()
        self._held: list[UpdatedStatisticValue] | None = None  # updates arriving while a create is in flight
        self._phase: _Phase = "new"
        self._created = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def subscription_id(self) -> str:
        return self._id

    @property
    def statistics(self) -> list[StatisticDescriptor]:
        return list(self._request.data.statistics)

    @property
    def active(self) -> bool:
        """True while the service holds the subscription (False before start, once dropped, after close)."""
        return self._phase == "active"

    @property
    def channels(self) -> frozenset[str]:
        return frozenset((UPDATES_CHANNEL, SERVICE_CHANNEL))

    async def start(self) -> None:
        """Subscribe the CometD channels, create the subscription, queue its current values. Once."""
        if self._phase != "new" or self._created:
            return
        self._cometd.attach(self)
        try:
            await self._cometd.subscribe(UPDATES_CHANNEL, SERVICE_CHANNEL)
            await self._create(None)
        except BaseException:
            await self._shutdown(None, discard=True)
            raise

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StatisticsItem:
        await self.start()
        return await self._inbox.get()

    async def aclose(self) -> None:
        """Stop and delete the subscription; a reader waiting in ``__anext__`` stops. Idempotent."""
        await self._shutdown(None, discard=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<AsyncStatisticsSubscription {self._id} {self._phase} statistics={len(self._request.data.statistics)}>"

    # ------------------------------------------------------------------------------- Subscriber

    def deliver(self, notification: Notification) -> None:
        if isinstance(notification, StatisticUpdate):
            values = notification.data.statistics
            for value in [] if isinstance(values, Unset) else values:
                if value.subscription_id == self._id:
                    if self._held is not None:
                        self._held.append(value)
                    else:
                        self._inbox.put(value)
        elif isinstance(notification, ServiceStateChange):
            self._on_service_state(notification.data.service_state)

    async def end(self, error: BaseException | None) -> None:
        await self._shutdown(error, discard=False)

    # ------------------------------------------------------------------------------- lifecycle

    def _on_service_state(self, state: ServiceState) -> None:
        if self._phase not in ("active", "dropped"):
            return
        if state is ServiceState.UNAVAILABLE:
            self._cancel_tasks()
            if self._phase == "active":
                self._phase = "dropped"
                self._inbox.put(SubscriptionEvent(SubscriptionEventKind.DROPPED, self._id))
                logger.info("statistics subscription %s dropped: the Statistics service is UNAVAILABLE", self._id)
        elif state is ServiceState.AVAILABLE:
            self._cancel_tasks()
            self._phase = "dropped"
            if self._recreate:
                task = asyncio.get_running_loop().create_task(self._recreate_until_done())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self._inbox.put(SubscriptionEvent(SubscriptionEventKind.SERVICE_AVAILABLE, self._id))
                logger.info(
                    "the Statistics service is AVAILABLE again; subscription %s is not re-created "
                    "(recreate_on_service_restart=False)",
                    self._id,
                )
        else:
            logger.warning("unknown Statistics service state %r ignored", str(state))

    async def _create(self, event: SubscriptionEvent | None) -> None:
        self._held = []
        self._created = True
        try:
            response = await maybe_await(self._create_fn(self._request))
        except BaseException:
            self._held = None
            raise
        held, self._held = self._held, None
        self._id, values = _values(response, self._id)
        if event is not None:
            self._inbox.put(event)
        for value in [*values, *held]:
            self._inbox.put(value)
        self._phase = "active"

    async def _recreate_until_done(self) -> None:
        failures = 0
        while True:
            try:
                await self._create(SubscriptionEvent(SubscriptionEventKind.RECREATED, self._id))
            except Exception as exc:
                failures += 1
                delay = self._backoff.backoff(failures)
                self._inbox.put(SubscriptionEvent(SubscriptionEventKind.RECREATE_FAILED, self._id, exc))
                logger.warning(
                    "re-creating statistics subscription %s failed (%s); retrying in %.1f s",
                    self._id,
                    describe(exc),
                    delay,
                )
                await asyncio.sleep(delay)
            else:
                logger.info(
                    "statistics subscription %s re-created: the Statistics service is AVAILABLE again", self._id
                )
                return

    def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _shutdown(self, error: BaseException | None, *, discard: bool) -> None:
        if self._phase == "closed":
            return
        self._phase = "closed"
        self._cometd.detach(self)
        self._inbox.end(error, discard=discard)
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._created:
            try:
                await maybe_await(self._delete_fn(self._id))
            except Exception as exc:
                logger.warning("could not delete statistics subscription %s (%s)", self._id, describe(exc))


class StatisticsSubscription(BlockingStream[StatisticsItem]):
    """The blocking twin of ``AsyncStatisticsSubscription`` (``for item in subscription``)."""

    def __init__(self, call: Callable[..., Any], subscription: AsyncStatisticsSubscription) -> None:
        super().__init__(call, subscription)
        self._subscription = subscription

    @property
    def subscription_id(self) -> str:
        return self._subscription.subscription_id

    @property
    def active(self) -> bool:
        return self._subscription.active

    def __repr__(self) -> str:
        return repr(self._subscription).replace("AsyncStatisticsSubscription", "StatisticsSubscription", 1)
