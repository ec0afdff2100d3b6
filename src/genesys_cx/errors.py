"""The exceptions of the SDK, and the handler that turns every HTTP answer into a result or one of them.

Every failure is a ``GenesysError``, with what a user needs to act on it or to report it::

    GenesysError                  status, code, message, detail, trace_id, operation, response
    ├── TransportError            no answer: the connection failed
    │   └── Timeout
    ├── ApiError                  the API answered, and the answer is an error
    │   ├── BadRequest 400, Unauthorized 401, Forbidden 403, NotFound 404, Conflict 409,
    │   │   UnsupportedMediaType 415, RateLimited 429 (retry_after), ServerError 5xx
    │   ├── UnexpectedStatus      any other status, including ones HTTP does not list
    │   ├── InvalidResponse       a 2xx whose body is not the documented JSON (raw body, JSON path)
    │   └── PartialSuccess        envelope code 2: .result (parsed) and .errors (failed parts)
    └── LoginRequired             no way left to get a token without the user signing in again

The generated API classes call ``handle_response(response, parse, operation)`` for every answer:
a 2xx is parsed with the documented model; envelope code 1 (accepted, the outcome arrives through
CometD) is returned like any success and logged at INFO; code 2 raises ``PartialSuccess`` so a
partly failed bulk operation is never mistaken for a success. Anything else goes through
``error_for_response``, which reads the Genesys envelope leniently: ``{"status": {"code": 404,
"message": ..., "detail": ...}}`` (integer codes, or Secure Email's string codes such as
``"INVALID_PARAMETER"``), the gateway's ``{"message": "Forbidden"}``, OAuth2's ``{"error",
"error_description"}``, and bodies that are not JSON at all.

Nothing is lost: the raw ``httpx.Response`` stays on ``error.response`` (it is never part of
``str()`` or ``repr()``), and messages pass through the SDK's secret redaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from genesys_cx_api.errors import InvalidData

from ._retry import parse_retry_after
from ._tracing import TRACE_HEADER, get_logger, redact

__all__ = [
    "ApiError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "GenesysError",
    "InvalidResponse",
    "LoginRequired",
    "NotFound",
    "PartialSuccess",
    "RateLimited",
    "ServerError",
    "Timeout",
    "TransportError",
    "Unauthorized",
    "UnexpectedStatus",
    "UnsupportedMediaType",
    "error_for_response",
    "handle_response",
    "transport_error",
]

logger = get_logger()

_DETAIL_TEXT_LIMIT = 2048


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
        text = f"{type(self).__name__}: "
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
        return redact(text)

    def __repr__(self) -> str:
        fields = {"status": self.status, "code": self.code, "operation": self.operation, "trace_id": self.trace_id}
        shown = ", ".join(f"{name}={value!r}" for name, value in fields.items() if value is not None)
        return redact(f"{type(self).__name__}({self.message!r}{', ' if shown else ''}{shown})")


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
    """A 2xx whose body is malformed or does not parse into the documented model; ``body`` keeps the raw bytes."""

    def __init__(self, message: str, *, body: bytes = b"", path: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.body = body
        #: Where in the JSON the answer stops matching (``data.ids[0]``), when the model says so.
        self.path = path


class PartialSuccess(ApiError):
    """Envelope code 2: parts of a bulk operation failed; ``result`` is the parsed answer, ``errors`` the failures."""

    def __init__(self, message: str, *, result: object = None, errors: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.result = result
        self.errors = errors if errors is not None else []


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    415: UnsupportedMediaType,
    429: RateLimited,
}


# ------------------------------------------------------------------------------- reading answers


def _body(response: httpx.Response) -> bytes:
    try:
        return response.content
    except httpx.ResponseNotRead:
        try:
            return response.read()
        except (httpx.HTTPError, RuntimeError):  # an async stream, or a broken one: no body to read
            return b""


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None


def _trace_id(response: httpx.Response) -> str | None:
    try:
        sent: str | None = response.request.headers.get(TRACE_HEADER)
    except RuntimeError:  # a response built without a request
        sent = None
    echoed: str | None = response.headers.get(TRACE_HEADER)
    return sent or echoed


def _code(value: object) -> int | str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, str)):
        return value
    return str(value)


def _envelope(payload: Any) -> tuple[int | str | None, str | None, object]:
    """(code, message, detail) from any of the error bodies Genesys sends; Nones when it is none of them."""
    if not isinstance(payload, dict):
        return None, None, None
    status = payload.get("status")
    if isinstance(status, dict):
        message = status.get("message")
        return _code(status.get("code")), None if message is None else str(message), status.get("detail")
    if "error" in payload:  # OAuth2 (RFC 6749 section 5.2)
        error = payload.get("error")
        description = payload.get("error_description")
        return _code(error), str(description if description is not None else error), None
    if "message" in payload:  # the API gateway
        return None, str(payload["message"]), None
    return None, None, None


def error_for_response(response: httpx.Response, operation: str | None) -> ApiError:
    """The typed error for an error answer: by status, with the envelope's code, message and detail.

    Never raises, whatever the status (even one HTTP does not list) and whatever the body.
    """
    status = response.status_code
    content = _body(response)
    payload = _json(content)
    code, message, detail = _envelope(payload)
    if payload is None and content:
        detail = content[:_DETAIL_TEXT_LIMIT].decode("utf-8", "replace")
    if not message:
        message = response.reason_phrase or "unknown status"
    kind: type[ApiError]
    if status in _BY_STATUS:
        kind = _BY_STATUS[status]
    elif 500 <= status <= 599:
        kind = ServerError
    else:
        kind = UnexpectedStatus
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "detail": detail,
        "trace_id": _trace_id(response),
        "operation": operation,
        "response": response,
    }
    if kind is RateLimited:
        return RateLimited(message, retry_after=parse_retry_after(response.headers.get("Retry-After")), **common)
    return kind(message, **common)


def transport_error(
    exc: httpx.TransportError, *, trace_id: str | None = None, operation: str | None = None
) -> TransportError:
    """The ``TransportError`` (``Timeout`` for timeouts) for a failed connection; raise it ``from exc``."""
    kind = Timeout if isinstance(exc, httpx.TimeoutException) else TransportError
    words = str(exc) or "no details"
    return kind(f"{type(exc).__name__}: {words}", trace_id=trace_id, operation=operation)


def handle_response(response: httpx.Response, parse: Callable[[], Any], operation: str) -> Any:
    """The handler of the generated API classes: the parsed 2xx answer, or a ``GenesysError``.

    The envelope code of a 2xx answer is read from the parsed model (its ``status``, or an
    undocumented ``status`` kept in ``additional_properties``), so the body is decoded once.
    """
    if not 200 <= response.status_code < 300:
        raise error_for_response(response, operation)
    try:
        result = parse()
    except Exception as exc:
        path = exc.path if isinstance(exc, InvalidData) else None
        raise InvalidResponse(
            f"the answer does not match the documented model ({type(exc).__name__}: {exc})",
            path=path,
            body=_body(response),
            status=response.status_code,
            trace_id=_trace_id(response),
            operation=operation,
            response=response,
        ) from exc
    code, message, detail = _envelope({"status": _status_of(result)})
    if code == 1:
        logger.info(
            "%s accepted (code 1): the outcome arrives through CometD (trace %s)", operation, _trace_id(response)
        )
    elif code == 2:
        errors = getattr(result, "errors", None)
        if not isinstance(errors, list):
            extra = getattr(result, "additional_properties", None)
            raw = extra.get("errors") if isinstance(extra, dict) else None
            errors = raw if isinstance(raw, list) else []
        raise PartialSuccess(
            message or f"partial success: {len(errors)} part(s) failed",
            result=result,
            errors=errors,
            code=code,
            detail=detail,
            status=response.status_code,
            trace_id=_trace_id(response),
            operation=operation,
            response=response,
        )
    return result


def _status_of(result: object) -> object:
    """The envelope ``status`` of a parsed answer, as plain data (None when it has none)."""
    status = getattr(result, "status", None)
    if status is None or not (isinstance(status, dict) or hasattr(status, "to_dict")):
        extra = getattr(result, "additional_properties", None)
        status = extra.get("status") if isinstance(extra, dict) else None
    to_dict = getattr(status, "to_dict", None)
    return to_dict() if callable(to_dict) else status
