"""Trace ids, request logging and redaction: what the SDK writes to logs, and what it never writes.

Every request leaves with an ``X-B3-TraceId`` header (32 lowercase hex, B3 propagation): a caller's
own id is kept, otherwise ``TracingTransport`` / ``AsyncTracingTransport`` draw one. Tracing wraps
the retry transport, so all attempts of one call share one id, the id the API's support staff can
look up and the one every ``GenesysError`` carries.

The same transports log each call at DEBUG on the ``genesys_cx`` logger: method, URL (query values
with secret-looking names masked), status, elapsed time and trace id, headers through
``redact_headers``, and at most the first 2 KiB of a JSON or form body with secret-looking fields
masked. Bodies are never logged above DEBUG. A connection failure leaves the transport as a typed
``genesys_cx.errors.TransportError`` (``Timeout`` for timeouts), so callers never need ``httpx``
exception types.

Under all of that lies a net: ``register_secret`` records every secret the SDK is given (API keys,
client secrets, passwords, tokens, channel secrets) and ``SecretFilter``, installed on the
``genesys_cx`` logger and on every logger ``get_logger`` hands out, replaces those values and any
``Bearer``/``Basic`` credential in a record's message, arguments and traceback with ``***``.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from ._headers import TRACE_HEADER

__all__ = [
    "AsyncTracingTransport",
    "SecretFilter",
    "TracingTransport",
    "get_logger",
    "new_trace_id",
    "redact",
    "redact_headers",
    "register_secret",
]

MASK = "***"
#: How much of a body a DEBUG record may show.
BODY_LOG_LIMIT = 2048
#: Registered secrets shorter than this are ignored: masking every "a" or "12" would make logs
#: unreadable without protecting anything worth the name.
MIN_SECRET_LENGTH = 4
#: Transient secrets (access and refresh tokens) kept; older ones expired long ago.
_MAX_TRANSIENT = 1024

_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-hub-signature", "cookie", "set-cookie"}
)
_SECRET_FIELDS = frozenset({"password", "client_secret", "access_token", "refresh_token", "secret", "token"})
_SECRET_FIELD_PARTS = ("password", "secret", "token", "apikey", "api_key", "signature")
_SECRET_QUERY = frozenset({"code", "key", "sig"})
_CREDENTIAL = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)


def new_trace_id() -> str:
    """A fresh B3 trace id: 32 lowercase hex digits (128 random bits)."""
    return secrets.token_hex(16)


# ----------------------------------------------------------------------------------- the secret net


class _Secrets:
    """The registered secret values and the pattern that finds them.

    Lasting secrets (keys, client secrets, passwords) are kept for the life of the process;
    transient ones (tokens, renewed all the time) only the most recent ``_MAX_TRANSIENT``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._transient: OrderedDict[str, None] = OrderedDict()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str | bytes, transient: bool) -> None:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if len(text) < MIN_SECRET_LENGTH:
            return
        forms = {text, urllib.parse.quote(text, safe=""), urllib.parse.quote_plus(text), json.dumps(text)[1:-1]}
        with self._lock:
            if not transient:
                self._values |= forms
            else:
                for form in forms:
                    self._transient[form] = None
                    self._transient.move_to_end(form)
                while len(self._transient) > _MAX_TRANSIENT:
                    self._transient.popitem(last=False)
            self._pattern = None

    def pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and (self._values or self._transient):
                alternatives = sorted(self._values.union(self._transient), key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, alternatives)))
            return self._pattern


_secrets = _Secrets()


def register_secret(value: str | bytes, *, transient: bool = False) -> None:
    """Never let *value* reach a log record: ``SecretFilter`` replaces it with ``***`` from now on.

    Its URL- and JSON-escaped forms are registered too. Values shorter than 4 characters are
    ignored (see ``MIN_SECRET_LENGTH``). ``transient=True`` is for values renewed all the time
    (access and refresh tokens): only the most recent 1024 of those are kept.
    """
    _secrets.add(value, transient)


def redact(text: str) -> str:
    """*text* with every registered secret and every ``Bearer``/``Basic`` credential replaced by ``***``."""
    text = _CREDENTIAL.sub(lambda m: f"{m.group(1)} {MASK}", text)
    pattern = _secrets.pattern()
    if pattern is not None:
        # Until nothing is left: a mask next to the rest of a string can spell a secret again
        # ("x" + "***" for the secret "x***"). Each pass shortens the text, so this ends.
        while pattern.search(text):
            text = pattern.sub(MASK, text)
    return text


class SecretFilter(logging.Filter):
    """A ``logging.Filter`` that masks secrets in a record (message, arguments, traceback) in place.

    It never drops a record. The message is rendered with its arguments first, so a secret passed
    as ``%s`` argument is caught too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw pieces, redacted
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = SecretFilter()


def get_logger(name: str | None = None) -> logging.Logger:
    """The ``genesys_cx`` logger (or its child ``genesys_cx.<name>``) with ``SecretFilter`` installed.

    Filters on a logger do not apply to records of its children, so every module of the SDK gets
    its logger here rather than from ``logging.getLogger``.
    """
    logger = logging.getLogger("genesys_cx" if not name else f"genesys_cx.{name}")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


logger = get_logger()


# --------------------------------------------------------------------------------- what is logged


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_FIELDS or any(part in lowered for part in _SECRET_FIELD_PARTS)


def redact_headers(headers: Mapping[str, str] | httpx.Headers | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of *headers* with credentials (Authorization, x-api-key, X-Hub-Signature, cookies) as ``***``."""
    items = headers.items() if isinstance(headers, (Mapping, httpx.Headers)) else headers
    return {name: MASK if name.lower() in _SECRET_HEADERS else value for name, value in items}


def redact_url(url: httpx.URL | str) -> str:
    """*url* with the values of secret-looking query parameters (``access_token``, ``code``...) masked."""
    url = httpx.URL(url)
    if not url.query:
        return str(url)
    params = [
        (name, MASK if _secret_name(name) or name.lower() in _SECRET_QUERY else value)
        for name, value in url.params.multi_items()
    ]
    return str(url.copy_with(query=urllib.parse.urlencode(params, safe="*").encode("ascii")))


def _mask_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: MASK if _secret_name(str(key)) else _mask_fields(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_fields(item) for item in value]
    return value


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
            return _clip(json.dumps(_mask_fields(json.loads(content)), ensure_ascii=False))
        if kind == "application/x-www-form-urlencoded":
            fields = urllib.parse.parse_qsl(content.decode("utf-8"), keep_blank_values=True)
            return _clip(urllib.parse.urlencode(_mask_fields(dict(fields)), safe="*"))
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


def _loggable_response(response: httpx.Response) -> bool:
    return _is_json(_media_type(response.headers.get("content-type")))


class _Tracer:
    """What both transports do before and after the inner transport runs."""

    @staticmethod
    def start(request: httpx.Request) -> str:
        trace_id: str | None = request.headers.get(TRACE_HEADER)
        if not trace_id:
            trace_id = new_trace_id()
            request.headers[TRACE_HEADER] = trace_id
        if logger.isEnabledFor(logging.DEBUG):
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
        from ._response import transport_error  # _response imports this module for redaction

        logger.debug(
            "request %s %s failed after %.1f ms trace=%s: %s",
            request.method,
            redact_url(request.url),
            (time.perf_counter() - started) * 1000,
            trace_id,
            type(exc).__name__,
        )
        return transport_error(exc, trace_id=trace_id)


class TracingTransport(httpx.BaseTransport):
    """Add ``X-B3-TraceId`` when absent, log the call at DEBUG, turn connection failures into ``TransportError``."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        trace_id = _Tracer.start(request)
        started = time.perf_counter()
        try:
            response = self._inner.handle_request(request)
        except httpx.TransportError as exc:
            raise _Tracer.failed(request, exc, trace_id, started) from exc
        if logger.isEnabledFor(logging.DEBUG):
            if _loggable_response(response):
                response = _Tracer.buffered(response, b"".join(response.iter_raw()))
            _Tracer.finish(request, response, trace_id, started)
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncTracingTransport(httpx.AsyncBaseTransport):
    """The async twin of ``TracingTransport``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trace_id = _Tracer.start(request)
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError as exc:
            raise _Tracer.failed(request, exc, trace_id, started) from exc
        if logger.isEnabledFor(logging.DEBUG):
            if _loggable_response(response):
                response = _Tracer.buffered(response, b"".join([chunk async for chunk in response.aiter_raw()]))
            _Tracer.finish(request, response, trace_id, started)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
