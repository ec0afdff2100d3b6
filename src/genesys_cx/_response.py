"""Every HTTP answer becomes a result or a typed ``GenesysError``: the handler the API classes call.

The generated API classes call ``handle_response(response, parse, operation)`` for every answer:
a 2xx is parsed with the documented model, and so is a redirect the operation documents as its
answer (``redirects``: e.g. ``/oauth/authorize``'s 302, read from ``Location``, never followed; the
secrets its URL carries are registered for redaction first); envelope code 1 (accepted, the outcome arrives through
CometD) is returned like any success and logged at INFO; code 2 raises ``PartialSuccess`` so a
partly failed bulk operation is never mistaken for a success. Anything else goes through
``error_for_response``, which reads the Genesys envelope leniently: ``{"status": {"code": 404,
"message": ..., "detail": ...}}`` (integer codes, or Secure Email's string codes such as
``"INVALID_PARAMETER"``), the gateway's ``{"message": "Forbidden"}``, OAuth2's ``{"error",
"error_description"}``, and bodies that are not JSON at all. ``transport_error`` is the
``TransportError`` (``Timeout``) for a connection that gave no answer.

Nothing is lost: the raw ``httpx.Response`` stays on ``error.response``. What a server said passes
through the SDK's secret redaction before it becomes an error's message, so ``str(error)`` can be
logged anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

import httpx
from genesys_cx_api.errors import InvalidData

from . import errors
from ._headers import RETRY_AFTER_HEADER, TRACE_HEADER, parse_retry_after
from ._redact import get_logger, redact, register_url_secrets

__all__ = ["error_for_response", "handle_response", "transport_error"]

logger = get_logger()

_DETAIL_TEXT_LIMIT = 2048


_BY_STATUS: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    415: errors.UnsupportedMediaType,
    429: errors.RateLimited,
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


def error_for_response(response: httpx.Response, operation: str | None) -> errors.ApiError:
    """The typed error for an error answer: by status, with the envelope's code, message and detail.

    Never raises, whatever the status (even one HTTP does not list) and whatever the body.
    """
    status = response.status_code
    content = _body(response)
    payload = _json(content)
    code, message, detail = _envelope(payload)
    if payload is None and content:
        detail = content[:_DETAIL_TEXT_LIMIT].decode("utf-8", "replace")
    message = redact(message or response.reason_phrase or "unknown status")
    kind: type[errors.ApiError]
    if status in _BY_STATUS:
        kind = _BY_STATUS[status]
    elif 500 <= status <= 599:
        kind = errors.ServerError
    else:
        kind = errors.UnexpectedStatus
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "detail": detail,
        "trace_id": _trace_id(response),
        "operation": operation,
        "response": response,
    }
    if kind is errors.RateLimited:
        return errors.RateLimited(
            message, retry_after=parse_retry_after(response.headers.get(RETRY_AFTER_HEADER)), **common
        )
    return kind(message, **common)


_TRANSPORT_WORDS: tuple[tuple[type[httpx.TransportError], str], ...] = (
    (httpx.ConnectTimeout, "timed out connecting to {host}"),
    (httpx.ReadTimeout, "timed out waiting for the answer of {host}"),
    (httpx.WriteTimeout, "timed out sending the request to {host}"),
    (httpx.PoolTimeout, "timed out waiting for a free connection to {host}"),
    (httpx.ConnectError, "could not connect to {host}"),
    (httpx.RemoteProtocolError, "{host} broke the connection"),
    (httpx.ReadError, "the connection to {host} broke while reading the answer"),
    (httpx.WriteError, "the connection to {host} broke while sending the request"),
)


def transport_error(
    exc: httpx.TransportError,
    *,
    trace_id: str | None = None,
    operation: str | None = None,
    request: httpx.Request | None = None,
) -> errors.TransportError:
    """The ``TransportError`` (``Timeout`` for timeouts) for a failed connection; raise it ``from exc``.

    One line naming what failed and where: ``could not connect to gapi.example.com:443 (ConnectError:
    [Errno 111] Connection refused)``; ``str()`` adds the operation and the trace id.
    """
    kind = errors.Timeout if isinstance(exc, httpx.TimeoutException) else errors.TransportError
    if request is None:
        try:
            request = exc.request
        except RuntimeError:  # an error raised without its request
            request = None
    host = "the server"
    if request is not None:
        url = request.url
        host = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        operation = operation or f"{request.method} {url.path}"
    words = next((text for cls, text in _TRANSPORT_WORDS if isinstance(exc, cls)), "the request to {host} failed")
    detail = str(exc) or "no details"
    message = redact(f"{words.format(host=host)} ({type(exc).__name__}: {detail})")
    return kind(message, trace_id=trace_id, operation=operation)


def handle_response(
    response: httpx.Response, parse: Callable[[], Any], operation: str, *, redirects: Collection[int] = ()
) -> Any:
    """The handler of the generated API classes: the parsed 2xx answer, or a ``GenesysError``.

    *redirects*: statuses the operation documents as redirect answers; they are parsed too (into a
    model with the ``Location``), not raised. The envelope code of a 2xx answer is read from the
    parsed model (its ``status``, or an undocumented ``status`` kept in ``additional_properties``),
    so the body is decoded once.
    """
    if response.status_code in redirects:
        register_url_secrets(response.headers.get("location", ""))
    elif not 200 <= response.status_code < 300:
        raise error_for_response(response, operation)
    try:
        result = parse()
    except Exception as exc:
        raise errors.InvalidResponse(
            redact(f"the answer does not match the documented model ({type(exc).__name__}: {exc})"),
            path=exc.path if isinstance(exc, InvalidData) else None,
            body=_body(response),
            status=response.status_code,
            trace_id=_trace_id(response),
            operation=operation,
            response=response,
        ) from exc
    typed_code = getattr(getattr(result, "status", None), "code", None)
    if type(typed_code) is int and typed_code not in (1, 2):
        return result  # the common case, a typed envelope with a plain code: nothing to log or raise
    code, message, detail = _envelope({"status": _status_of(result)})
    if code == 1:
        logger.info(
            "%s accepted (code 1): the outcome arrives through CometD (trace %s)", operation, _trace_id(response)
        )
    elif code == 2:
        failed = getattr(result, "errors", None)
        if not isinstance(failed, list):
            extra = getattr(result, "additional_properties", None)
            raw = extra.get("errors") if isinstance(extra, dict) else None
            failed = raw if isinstance(raw, list) else []
        raise errors.PartialSuccess(
            redact(message or f"partial success: {len(failed)} part(s) failed"),
            result=result,
            errors=failed,
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
