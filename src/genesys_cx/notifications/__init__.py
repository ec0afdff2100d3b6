"""CometD (Bayeux) notifications for the Statistics API, built to run for days.

The Statistics service delivers value changes (``StatisticUpdate`` on ``/statistics/v3/updates``)
and its own state (``ServiceStateChange`` on ``/statistics/v3/service``) only through CometD. There
is no maintained CometD client for Python, and the Genesys clients never refresh the token on
reconnect; this one does, and survives dropped connections, server restarts and service outages::

    async with CometdClient(http, headers=lambda: {"x-api-key": key, "Authorization": f"Bearer {tok()}"}) as cometd:
        async for update in cometd.updates(UPDATES_CHANNEL):
            ...

Most code never builds one: ``genesys.statistics.subscribe([...])`` (``AsyncStatisticsClient``)
creates a statistics subscription, follows it through CometD and yields its values, re-creating
it when the service comes back from an outage.

- ``CometdClient`` — async long-polling session: handshake, connect loop, subscribe/unsubscribe,
  advice, re-handshake on ``402::Unknown client``, backoff, fresh credentials on every request.
- ``SyncCometdClient`` — the same on a background thread; ``BlockingStream`` iterators.
- ``AsyncStatisticsSubscription`` / ``StatisticsSubscription`` — one statistics subscription
  (REST + CometD) that yields ``UpdatedStatisticValue`` and ``SubscriptionEvent``.
- ``parse_notification`` / ``RawMessage`` — typed notifications with the generated models;
  anything unknown is kept raw, never dropped.
"""

from ..errors import HandshakeFailed, NotificationError, SessionEnded, SubscribeFailed
from ._client import DEFAULT_PATH, CometdClient, HeadersProvider, State
from ._messages import SERVICE_CHANNEL, UPDATES_CHANNEL, Notification, RawMessage, parse_notification
from ._streams import Listener, NotificationStream, Subscriber
from ._subscription import (
    AsyncStatisticsSubscription,
    CreateSubscription,
    DeleteSubscription,
    StatisticsItem,
    StatisticsSubscription,
    SubscriptionEvent,
    SubscriptionEventKind,
)
from ._sync import BlockingStream, SyncCometdClient

__all__ = [
    "DEFAULT_PATH",
    "SERVICE_CHANNEL",
    "UPDATES_CHANNEL",
    "AsyncStatisticsSubscription",
    "BlockingStream",
    "CometdClient",
    "CreateSubscription",
    "DeleteSubscription",
    "HandshakeFailed",
    "HeadersProvider",
    "Listener",
    "Notification",
    "NotificationError",
    "NotificationStream",
    "RawMessage",
    "SessionEnded",
    "State",
    "StatisticsItem",
    "StatisticsSubscription",
    "SubscribeFailed",
    "Subscriber",
    "SubscriptionEvent",
    "SubscriptionEventKind",
    "SyncCometdClient",
    "parse_notification",
]
