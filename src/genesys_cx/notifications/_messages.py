"""Bayeux messages as the Statistics service sends them, and their typed forms.

A CometD answer is a JSON array of messages. Messages on ``/meta/...`` channels are protocol
replies; every other message carries a notification in ``data``. ``parse_notification`` turns a
message into the generated model of its channel — ``StatisticUpdate`` on ``/statistics/v3/updates``,
``ServiceStateChange`` on ``/statistics/v3/service`` — and anything else (an unknown channel, a meta
reply, a payload the model rejects) into a ``RawMessage`` that keeps the whole message. Nothing the
server sends is lost, and no payload can stop the connect loop.

One leniency: the documentation's own "service is available again" sample spells the topic
``statistics/v3/service`` (no leading slash). A topic that differs from its channel only by that
slash is read as the channel, so the AVAILABLE notification is never missed for a typo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from genesys_cx_api.statistics.models import ServiceStateChange, StatisticUpdate

__all__ = [
    "SERVICE_CHANNEL",
    "UPDATES_CHANNEL",
    "Notification",
    "RawMessage",
    "check_channels",
    "parse_notification",
]

#: Statistic value updates (``StatisticUpdate``).
UPDATES_CHANNEL = "/statistics/v3/updates"
#: Statistics service state changes (``ServiceStateChange``).
SERVICE_CHANNEL = "/statistics/v3/service"

HANDSHAKE = "/meta/handshake"
CONNECT = "/meta/connect"
SUBSCRIBE = "/meta/subscribe"
UNSUBSCRIBE = "/meta/unsubscribe"
DISCONNECT = "/meta/disconnect"
META_PREFIX = "/meta/"


@dataclass(frozen=True)
class RawMessage:
    """A Bayeux message delivered as received: an unknown channel, a meta reply, or a payload no model fits.

    Attributes:
        channel: the message's channel ("" when the server sent none).
        data: the message's ``data`` (None when absent).
        message: the whole Bayeux message.
        error: why the payload did not parse into its channel's model (None when no model applies).
    """

    channel: str
    data: Any
    message: Mapping[str, Any] = field(repr=False)
    error: str | None = None


#: What a notification listener receives.
Notification = StatisticUpdate | ServiceStateChange | RawMessage

_MODELS: dict[str, type[StatisticUpdate] | type[ServiceStateChange]] = {
    UPDATES_CHANNEL: StatisticUpdate,
    SERVICE_CHANNEL: ServiceStateChange,
}


def _topic_fixed(channel: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
    topic = data.get("topic")
    if isinstance(topic, str) and topic != channel and topic.strip("/") == channel.strip("/"):
        return {**data, "topic": channel}
    return data


def parse_notification(message: Mapping[str, Any]) -> Notification:
    """The typed form of one Bayeux message; never raises (see the module docstring)."""
    channel = message.get("channel")
    name = channel if isinstance(channel, str) else ""
    data = message.get("data")
    model = _MODELS.get(name)
    if model is None:
        return RawMessage(name, data, message)
    if not isinstance(data, Mapping):
        return RawMessage(name, data, message, error=f"data is {type(data).__name__}, not an object")
    try:
        return model.from_dict(_topic_fixed(name, data))
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        return RawMessage(name, data, message, error=f"{type(exc).__name__}: {exc}")


def check_channels(channels: Iterable[object], *, meta: bool = False) -> tuple[str, ...]:
    """*channels* as a tuple, or ``ValueError``/``TypeError`` naming the first bad one.

    A channel is a string starting with ``/``; ``/meta/...`` channels are refused unless *meta*
    (listening to protocol replies needs no subscription, so only listeners may name them).
    """
    checked: list[str] = []
    for channel in channels:
        if not isinstance(channel, str):
            raise TypeError(f"a channel is a string such as {UPDATES_CHANNEL!r}, not {type(channel).__name__}")
        if not channel.startswith("/") or channel == "/":
            raise ValueError(f"channel {channel!r} must start with '/', e.g. {UPDATES_CHANNEL!r}")
        if channel.startswith(META_PREFIX) and not meta:
            raise ValueError(f"{channel!r} is a Bayeux meta channel: it cannot be subscribed to")
        checked.append(channel)
    return tuple(checked)
