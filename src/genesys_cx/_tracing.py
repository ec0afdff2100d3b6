"""Trace ids, request logging and redaction: what the SDK writes to logs, and what it never writes.

Every request leaves with an ``X-B3-TraceId`` header (32 lowercase hex, B3 propagation): a caller's
own id is kept, otherwise the SDK's transport (``genesys_cx._transport``, via ``Tracer``) draws one
before the first attempt, so all attempts of one call share one id, the id the API's support staff
can look up and the one every ``GenesysError`` carries.

The same transport logs each call at DEBUG on the ``genesys_cx`` logger: method, URL (query values
with secret-looking names masked), status, elapsed time and trace id, headers through
``redact_headers``, and at most the first 2 KiB of a JSON or form body with secret-looking fields
masked. Bodies are never logged above DEBUG. A connection failure leaves the transport as a typed
``genesys_cx.errors.TransportError`` (``Timeout`` for timeouts), so callers never need ``httpx``
exception types.

What may be logged and what is masked is decided in ``_redact``; building a transport also puts
the SDK's ``SecretFilter`` on httpx's and httpcore's loggers (``protect_http_loggers``).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse

import httpx
from genesys_cx_api._runtime import OPERATION_EXTENSION

from ._headers import TRACE_HEADER
from ._redact import get_logger, mask_fields, redact_headers, redact_url
from ._response import transport_error

__all__ = ["TRACE_HEADER", "Tracer", "describe_body", "new_trace_id"]

#: How much of a body a DEBUG record may show.
BODY_LOG_LIMIT = 2048


def new_trace_id() -> str:
    """A fresh B3 trace id: 32 lowercase hex digits (128 random bits)."""
    return secrets.token_hex(16)


logger = get_logger()


# --------------------------------------------------------------------------------- what is logged


def _clip(text: str) -> str:
    return text if len(text) <= BODY_LOG_LIMIT else text[:BODY_LOG_LIMIT] + f"... ({len(text)} characters)"


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def describe_body(content: bytes, content_type: str | None) -> str:
    """What a DEBUG record may say about a body: masked JSON or form fields, else only its size."""
    kind = _media_type(content_type)
    if not content:
        return "<empty>"
    try:
        if _is_json(kind):
            return _clip(json.dumps(mask_fields(json.loads(content)), ensure_ascii=False))
        if kind == "application/x-www-form-urlencoded":
            fields = urllib.parse.parse_qsl(content.decode("utf-8"), keep_blank_values=True)
            return _clip(urllib.parse.urlencode(mask_fields(dict(fields), form=True), safe="*"))
    except (ValueError, UnicodeDecodeError):
        return f"<{len(content)} bytes of malformed {kind}>"
    return f"<{len(content)} bytes of {kind or 'unknown type'}>"


def _request_body(request: httpx.Request) -> str:
    try:
        content = request.content
    except httpx.RequestNotRead:
        return "<streamed>"
    return describe_body(content, request.headers.get("content-type"))


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


class Tracer:
    """What the transports (``genesys_cx._transport``) do before and after the inner transport runs."""

    @staticmethod
    def start(request: httpx.Request, debug: bool) -> str:
        """The request's trace id (added when it has none); logs the request when *debug* (the logger is enabled)."""
        trace_id: str | None = request.headers.get(TRACE_HEADER)
        if not trace_id:
            trace_id = new_trace_id()
            request.headers[TRACE_HEADER] = trace_id
        if debug:
            logger.debug(
                "request %s %s trace=%s headers=%s body=%s",
                request.method,
                redact_url(request.url),
                trace_id,
                redact_headers(request.headers),
                _request_body(request),
            )
        return trace_id

    @staticmethod
    def loggable(response: httpx.Response) -> bool:
        """Whether a DEBUG record may show *response*'s body (JSON only: it is buffered for that)."""
        return _is_json(_media_type(response.headers.get("content-type")))

    @staticmethod
    def buffered(response: httpx.Response, raw: bytes) -> httpx.Response:
        """A fresh, unread copy of *response* over its raw (still encoded) bytes, so it can be logged.

        Reading the original here would leave httpx's client a consumed stream (no ``elapsed``).
        """
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            extensions=response.extensions,
        )

    @staticmethod
    def finish(request: httpx.Request, response: httpx.Response, trace_id: str, started: float) -> None:
        body = "<not logged>"
        if isinstance(response.stream, httpx.ByteStream):  # buffered: decode a throwaway copy
            decoded = httpx.Response(200, headers=response.headers, stream=response.stream).read()
            body = describe_body(decoded, response.headers.get("content-type"))
        logger.debug(
            "response %s %s -> %d in %.1f ms trace=%s headers=%s body=%s",
            request.method,
            redact_url(request.url),
            response.status_code,
            (time.perf_counter() - started) * 1000,
            trace_id,
            redact_headers(response.headers),
            body,
        )

    @staticmethod
    def failed(request: httpx.Request, exc: httpx.TransportError, trace_id: str, started: float) -> Exception:
        logger.debug(
            "request %s %s failed after %.1f ms trace=%s: %s",
            request.method,
            redact_url(request.url),
            (time.perf_counter() - started) * 1000,
            trace_id,
            type(exc).__name__,
        )
        operation = request.extensions.get(OPERATION_EXTENSION)
        # The httpx error stays the __cause__, but without its frames inside httpx/httpcore nor
        # httpcore's twin of it (kept as __context__): a traceback shows it as one line.
        exc.__traceback__ = None
        exc.__cause__, exc.__suppress_context__ = None, True
        named = operation if isinstance(operation, str) else None
        return transport_error(exc, trace_id=trace_id, operation=named, request=request)
