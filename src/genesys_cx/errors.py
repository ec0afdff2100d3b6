"""Every exception the SDK raises, in one tree rooted at ``GenesysError``.

Catch ``GenesysError`` to handle any failure of the SDK; catch a branch to handle one kind::

    GenesysError                  message, status, code, detail, trace_id, operation, response
    ├── TransportError            no answer: the connection failed (``__cause__`` is httpx's error)
    │   ├── Timeout
    │   └── DownloadInterrupted   a download kept failing mid-file (the .part file is kept)
    ├── ApiError                  the API answered, and the answer is an error
    │   ├── BadRequest 400, Unauthorized 401, Forbidden 403, NotFound 404, Conflict 409,
    │   │   UnsupportedMediaType 415, RateLimited 429 (retry_after), ServerError 5xx
    │   ├── UnexpectedStatus      any other status, including ones HTTP does not list
    │   ├── InvalidResponse       a 2xx whose body is not the documented JSON (raw body, JSON path)
    │   └── PartialSuccess        envelope code 2: .result (parsed) and .errors (failed parts)
    ├── LoginRequired             no way left to get a token without the user signing in again
    ├── MissingCredentials        the operation needs credentials the client was not given (nothing sent)
    ├── UnknownChannel            (also a LookupError) no secret for the channel to sign for (nothing sent)
    ├── NotificationError         a CometD (Bayeux) exchange failed
    │   ├── HandshakeFailed       the server refused /meta/handshake
    │   ├── SubscribeFailed       the server refused /meta/subscribe (.channel)
    │   └── SessionEnded          the client was closed, or the server ended the session for good
    ├── WebhookError              an incoming webhook was rejected
    │   ├── InvalidSignature      X-Hub-Signature missing, malformed or wrong (the body was not parsed)
    │   └── InvalidPayload        (also a ValueError) an authentic body that is not the documented JSON (.body, .data)
    ├── DeliveryFailed            (also a RuntimeError) the sandbox gave up delivering an agent reply (.delivery)
    ├── CorruptDownload           a downloaded file's size or checksum is not the announced one
    ├── ExportFailed              an export job was cancelled or failed (job_id, job_status)
    ├── ExportTimeout             an export job did not finish in time (also a TimeoutError)
    ├── MissingExtra              (also an ImportError) a feature needs an extra: pip install "genesys-cx[<extra>]"
    └── ConfigurationError        (also a ValueError) a variable or configuration key has a value that cannot work

Misusing the SDK itself (an argument of the wrong type or value) raises Python's own ``TypeError``
or ``ValueError`` at the call, as any Python library does; those are bugs to fix, not failures to
handle.

This module is the only place an exception class of the SDK is defined, and it imports nothing
from the rest of the package (like httpx's ``_exceptions`` and stripe's ``_error``), so every
module can import it. The code that turns an HTTP answer into one of these lives in
``genesys_cx._response`` (``handle_response``, ``error_for_response``, ``transport_error``); it
redacts registered secrets from every message it builds out of what a server said. The raw
``httpx.Response`` stays on ``error.response`` and is never part of ``str()`` or ``repr()``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ApiError",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "CorruptDownload",
    "DeliveryFailed",
    "DownloadInterrupted",
    "ExportFailed",
    "ExportTimeout",
    "Forbidden",
    "GenesysError",
    "HandshakeFailed",
    "InvalidPayload",
    "InvalidResponse",
    "InvalidSignature",
    "LoginRequired",
    "MissingCredentials",
    "MissingExtra",
    "NotFound",
    "NotificationError",
    "PartialSuccess",
    "RateLimited",
    "ServerError",
    "SessionEnded",
    "SubscribeFailed",
    "Timeout",
    "TransportError",
    "Unauthorized",
    "UnexpectedStatus",
    "UnknownChannel",
    "UnsupportedMediaType",
    "WebhookError",
]


class GenesysError(Exception):
    """The root of every error the SDK raises.

    Attributes:
        status: the HTTP status, or None when no answer came.
        code: the envelope's ``status.code`` (an integer in most APIs, a string in Secure Email).
        message: what went wrong, in words (the envelope's message when there is one).
        detail: the envelope's ``detail`` (or the start of a body that is not JSON).
        trace_id: the request's ``X-B3-TraceId``: quote it to Genesys support.
        operation: the operationId of the call, when known.
        response: the raw ``httpx.Response``, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        detail: object = None,
        trace_id: str | None = None,
        operation: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.detail = detail
        self.trace_id = trace_id
        self.operation = operation
        self.response = response
        super().__init__(message)

    def __str__(self) -> str:
        # No class name here: a traceback, a log record's exc_info and our CLI already print it before this.
        text = ""
        if self.operation:
            text += f"{self.operation} -> "
        if self.status is not None:
            text += f"{self.status}: "
        text += self.message
        extras = []
        if self.code is not None:
            extras.append(f"code {self.code}")
        if self.trace_id:
            extras.append(f"trace {self.trace_id[:8]}...")
        if extras:
            text += f" ({', '.join(extras)})"
        return text

    def __repr__(self) -> str:
        fields = {"status": self.status, "code": self.code, "operation": self.operation, "trace_id": self.trace_id}
        shown = ", ".join(f"{name}={value!r}" for name, value in fields.items() if value is not None)
        return f"{type(self).__name__}({self.message!r}{', ' if shown else ''}{shown})"


class LoginRequired(GenesysError):
    """No token can be obtained without the user signing in again (an authorization code is single-use)."""


class TransportError(GenesysError):
    """The request got no answer: the connection could not be made, or broke (``__cause__`` is httpx's error)."""


class Timeout(TransportError):
    """The request timed out (connecting, writing, reading, or waiting for a pooled connection)."""


class ApiError(GenesysError):
    """The API answered, and the answer is an error for the caller."""


class BadRequest(ApiError):
    """400: the request is invalid (see ``message`` and ``detail``)."""


class Unauthorized(ApiError):
    """401: the credentials (token, client id/secret) are missing, wrong or expired."""


class Forbidden(ApiError):
    """403: the API key or the token does not allow this request."""


class NotFound(ApiError):
    """404: the resource (channel, interaction, ...) does not exist."""


class Conflict(ApiError):
    """409: the request conflicts with the current state of the resource."""


class UnsupportedMediaType(ApiError):
    """415: the body's media type is not accepted."""


class RateLimited(ApiError):
    """429: too many requests. ``retry_after`` is the server's requested wait in seconds, when given."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: Genesys failed; retrying later may help."""


class UnexpectedStatus(ApiError):
    """A status the SDK has no specific type for (3xx, 418, 299 given to ``error_for_response``, 600...)."""


class InvalidResponse(ApiError):
    """A 2xx whose body is malformed or does not parse into the documented model; ``body`` keeps the raw bytes,
    ``path`` names where the JSON stops matching the model (``data.ids[0]``), when it decoded."""

    def __init__(self, message: str, *, body: bytes = b"", path: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.body = body
        self.path = path


class PartialSuccess(ApiError):
    """Envelope code 2: parts of a bulk operation failed; ``result`` is the parsed answer, ``errors`` the failures."""

    def __init__(self, message: str, *, result: object = None, errors: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.result = result
        self.errors = errors if errors is not None else []


# ----------------------------------------------------------------------------------- credentials


class MissingCredentials(GenesysError):
    """An operation needs credentials this client was not configured with (the request was not sent)."""


class UnknownChannel(GenesysError, LookupError):
    """No secret is configured for the channel a request is addressed to (nothing was sent)."""

    def __init__(self, channel_id: str | None) -> None:
        self.channel_id = channel_id
        where = f"channel {channel_id!r}" if channel_id else "a request that names no channel"
        super().__init__(f"no channel secret is configured for {where}; add it to channel_secrets")


# --------------------------------------------------------------------------------- notifications


class NotificationError(GenesysError):
    """A CometD (Bayeux) exchange with the notifications endpoint failed.

    HTTP answers that are errors (an expired token, a 5xx from the gateway) surface as the usual
    ``ApiError`` subclasses and broken connections as ``TransportError``; these are what is
    specific to Bayeux. None of their messages ever carries a header value.
    """


class HandshakeFailed(NotificationError):
    """The server answered ``/meta/handshake`` unsuccessfully (``code`` is the Bayeux error, e.g. ``403::...``)."""


class SubscribeFailed(NotificationError):
    """The server refused ``/meta/subscribe`` for ``channel`` (``code`` is the Bayeux error)."""

    def __init__(self, message: str, *, channel: str, code: str | None = None) -> None:
        super().__init__(message, code=code, operation="cometd_subscribe")
        self.channel = channel


class SessionEnded(NotificationError):
    """The session is over: the client was closed, or the server advised ``reconnect: none``."""


# -------------------------------------------------------------------------------------- webhooks


class WebhookError(GenesysError):
    """An incoming webhook was rejected. Messages say what was wrong and never contain a secret or a signature."""


class InvalidSignature(WebhookError):
    """``X-Hub-Signature`` is missing, malformed, or not the HMAC of the body with any configured secret."""


class InvalidPayload(WebhookError, ValueError):
    """The (authentic) body is not JSON, not a JSON object, or does not match the documented shape.

    ``body`` is the raw request body; ``data`` the decoded JSON value, or ``None`` if it did not
    decode; ``path`` where the JSON stops matching the model (``channel.from.id``), when known.
    Nothing is lost: log it or park it for a human.
    """

    def __init__(self, message: str, *, body: bytes, data: Any = None, path: str | None = None) -> None:
        super().__init__(message)
        self.body = body
        self.data = data
        self.path = path

    def __repr__(self) -> str:
        return f"InvalidPayload({self.message!r}, body=<{len(self.body)} bytes>)"


# --------------------------------------------------------------------------------------- sandbox


class DeliveryFailed(GenesysError, RuntimeError):
    """The sandbox gave up delivering an agent reply (attempts exhausted, or the webhook answered 4xx).

    ``delivery`` is the ``genesys_cx.sandbox.Delivery`` record, with every attempt.
    """

    def __init__(self, message: str, *, delivery: Any) -> None:
        super().__init__(message)
        self.delivery = delivery


# ------------------------------------------------------------------------- files and export jobs


class DownloadInterrupted(TransportError):
    """A download kept failing mid-file; what arrived stays in ``<name>.part`` and the next attempt resumes it."""


class CorruptDownload(GenesysError):
    """A downloaded file is not what its metadata announced (size or checksum); it was not put in place."""


class ExportFailed(GenesysError):
    """An export job ended without its files (failed or cancelled); ``job_id`` and ``job_status`` say which."""

    def __init__(self, message: str, *, job_id: int | str | None = None, job_status: str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.job_id = job_id
        self.job_status = job_status


class ExportTimeout(GenesysError, TimeoutError):
    """An export job did not finish within the time given to wait for it (it may still be running)."""

    def __init__(self, message: str, *, job_id: int | str | None = None, progress: int | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.job_id = job_id
        self.progress = progress


# ------------------------------------------------------------------------------------- set-up
# Raised before any request: the installation or the configuration cannot work as it is.


class MissingExtra(GenesysError, ImportError):
    """A feature needs an optional extra that is not installed; the message says what to install.

    ``extra`` is its name (``"sandbox"``, ``"server"``, ``"redis"``): ``pip install "genesys-cx[<extra>]"``.
    """

    def __init__(self, message: str, *, extra: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.extra = extra


class ConfigurationError(GenesysError, ValueError):
    """A setting (an environment variable, a configuration file's key) has a value that cannot work.

    The message names the variable or key and what it expects.
    """


# ------------------------------------------------------------------------- deprecated (0.1.0)

_MOVED = {
    "handle_response": "genesys_cx.handle_response",
    "error_for_response": "genesys_cx._response.error_for_response",
    "transport_error": "genesys_cx._response.transport_error",
}


if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name stays an error there

    def __getattr__(name: str) -> Any:
        """0.1.0 kept the answer handling here; it lives in ``genesys_cx._response`` now (deprecated aliases)."""
        if name not in _MOVED:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        warnings.warn(
            f"genesys_cx.errors.{name} is deprecated; use {_MOVED[name]} (genesys_cx.errors holds exceptions only)",
            DeprecationWarning,
            stacklevel=2,
        )
        from . import _response  # only when a deprecated name is used: this module imports nothing at import time

        return getattr(_response, name)
