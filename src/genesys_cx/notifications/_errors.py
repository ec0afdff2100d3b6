"""The errors of the notifications client, in the SDK's ``GenesysError`` tree.

HTTP answers that are errors (an expired token, a 5xx from the gateway) surface as the SDK's usual
``ApiError`` subclasses (``Unauthorized``, ``ServerError``...) and broken connections as
``TransportError``; what is specific to Bayeux is here: the server refused a handshake or a
subscription, or ended the session for good. None of these messages ever carries a header value.
"""

from __future__ import annotations

from ..errors import GenesysError

__all__ = ["HandshakeFailed", "NotificationError", "SessionEnded", "SubscribeFailed", "describe"]


class NotificationError(GenesysError):
    """A CometD (Bayeux) exchange with the notifications endpoint failed."""


class HandshakeFailed(NotificationError):
    """The server answered ``/meta/handshake`` unsuccessfully (``code`` is the Bayeux error, e.g. ``403::...``)."""


class SubscribeFailed(NotificationError):
    """The server refused ``/meta/subscribe`` for ``channel`` (``code`` is the Bayeux error)."""

    def __init__(self, message: str, *, channel: str, code: str | None = None) -> None:
        super().__init__(message, code=code, operation="cometd_subscribe")
        self.channel = channel


class SessionEnded(NotificationError):
    """The session is over: the client was closed, or the server advised ``reconnect: none``."""


def describe(exc: BaseException) -> str:
    """*exc* for a log line: an SDK error's (redacted) text, otherwise only its type."""
    return str(exc) if isinstance(exc, GenesysError) else type(exc).__name__
