"""Redaction: no secret the SDK handles ever reaches a log record, ours or httpx's.

Two layers. The first is precise: what the SDK logs on purpose goes through ``redact_headers``
(credential headers, ``X-Hub-Signature``, cookies and ``x-ccid`` -- it identifies the tenant --
become ``***``; in ``Location`` only the secret parameters do), ``redact_url`` (the values of
secret-looking query *and fragment* parameters: ``code``, ``access_token``, ``client_secret``...)
and ``mask_fields`` (secret-looking fields of a JSON or form body).

The second is a net under every record: ``register_secret`` records every secret the SDK is given
or obtains (API keys, client secrets, passwords, tokens, authorization codes, channel secrets) and
``SecretFilter`` masks, in a record's message, arguments and traceback, those values and whatever
*looks* like a secret: a ``Bearer``/``Basic`` credential, ``sha1=<40 hex>`` (a hub signature), a
secret-named parameter of a URL or form (``?code=...``, ``#access_token=...``, ``&password=...``)
and a secret-named pair in a repr or JSON (``'x-ccid': '...'``, ``(b'authorization', b'...')``,
``"refresh_token": "..."``). The filter sits on the ``genesys_cx`` logger and every logger
``get_logger`` hands out, and -- because httpx and httpcore log URLs and raw response headers (a
302's ``Location: ...?code=...``) at DEBUG -- ``protect_http_loggers`` puts it on theirs too; the
SDK's transports call it when they are built.

This module imports nothing from the package, so every other module can use it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

__all__ = [
    "MASK",
    "SecretFilter",
    "get_logger",
    "mask_fields",
    "protect_http_loggers",
    "redact",
    "redact_headers",
    "redact_url",
    "register_secret",
    "register_url_secrets",
]

MASK = "***"
#: Registered secrets shorter than this are ignored: masking every "a" or "12" would make logs
#: unreadable without protecting anything worth the name.
MIN_SECRET_LENGTH = 4
#: Transient secrets (access and refresh tokens, codes) kept; older ones expired long ago.
_MAX_TRANSIENT = 1024

#: Headers whose whole value is a secret (or, for ``x-ccid``, identifies the tenant).
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-hub-signature", "cookie", "set-cookie", "x-ccid"}
)
#: Headers that are URLs: only their secret parameters are masked.
_URL_HEADERS = frozenset({"location", "content-location", "referer", "refresh"})
_SECRET_FIELDS = frozenset({"password", "client_secret", "access_token", "refresh_token", "secret", "token"})
_SECRET_FIELD_PARTS = ("password", "secret", "token", "apikey", "api_key", "signature", "ccid", "contactcenterid")
#: Names with a secret-looking part that say what kind a credential is, not what it is ("bearer").
_NOT_SECRET_FIELDS = frozenset({"token_type", "tokentype"})
#: Parameter names that are secrets in a URL or a form, though not in a JSON body (an error
#: envelope's ``code`` is a status, an OAuth redirect's ``code`` a credential).
_SECRET_PARAMS = frozenset({"code", "key", "sig", "assertion"})

_SECRET_NAME = r"(?:[\w.-]*(?:token|secret|password|passwd|signature|api_?key|ccid|contactcenterid))"
_SECRET_PAIR_NAME = (
    rf"(?:x-ccid|x-api-key|authorization|proxy-authorization|x-hub-signature|cookie|set-cookie|{_SECRET_NAME})"
)
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer abc / Basic abc
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE), rf"\1 {MASK}"),
    # X-Hub-Signature values: sha1=<40 hex>
    (re.compile(r"\b(sha1=)[0-9a-fA-F]{40}\b"), rf"\g<1>{MASK}"),
    # ?code=..., &password=..., #access_token=... in URLs and forms
    (
        re.compile(rf"([?&#;](?:code|key|sig|assertion|{_SECRET_NAME})=)[^&#\s'\"<>\\]+", re.IGNORECASE),
        rf"\g<1>{MASK}",
    ),
    # 'x-ccid': '...' and "refresh_token": "..." in reprs and JSON
    (re.compile(rf"""(['"]{_SECRET_PAIR_NAME}['"]\s*:\s*['"])[^'"]*""", re.IGNORECASE), rf"\g<1>{MASK}"),
    # (b'authorization', b'...') in httpcore's header lists
    (re.compile(rf"""(\(\s*b?['"]{_SECRET_PAIR_NAME}['"]\s*,\s*b?['"])[^'"]*""", re.IGNORECASE), rf"\g<1>{MASK}"),
)


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
    (access and refresh tokens, authorization codes): only the most recent 1024 of those are kept.
    """
    _secrets.add(value, transient)


def redact(text: str) -> str:
    """*text* with every registered secret, and everything that looks like one, replaced by ``***``."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    registered = _secrets.pattern()
    if registered is not None:
        # Until nothing is left: a mask next to the rest of a string can spell a secret again
        # ("x" + "***" for the secret "x***"). Each pass shortens the text, so this ends.
        while registered.search(text):
            text = registered.sub(MASK, text)
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

#: The loggers of the HTTP stack under the SDK that log URLs or raw headers. A filter on a logger
#: does not see its children's records, so each is named.
HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "hpack",
    "hpack.hpack",
    "hpack.table",
)


def _protect(logger: logging.Logger) -> logging.Logger:
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def get_logger(name: str | None = None) -> logging.Logger:
    """The ``genesys_cx`` logger (or its child ``genesys_cx.<name>``) with ``SecretFilter`` installed.

    Filters on a logger do not apply to records of its children, so every module of the SDK gets
    its logger here rather than from ``logging.getLogger``.
    """
    return _protect(logging.getLogger("genesys_cx" if not name else f"genesys_cx.{name}"))


def protect_http_loggers() -> None:
    """Put ``SecretFilter`` on httpx's, httpcore's and hpack's loggers (idempotent)."""
    for name in HTTP_LOGGERS:
        _protect(logging.getLogger(name))


# ------------------------------------------------------------------------ what is logged on purpose


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    if lowered in _NOT_SECRET_FIELDS:
        return False
    return lowered in _SECRET_FIELDS or any(part in lowered for part in _SECRET_FIELD_PARTS)


def _secret_param(name: str) -> bool:
    return _secret_name(name) or name.lower() in _SECRET_PARAMS


def redact_headers(headers: Mapping[str, str] | httpx.Headers | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of *headers* with credentials and ``x-ccid`` as ``***`` and secrets masked in ``Location``."""
    items = headers.items() if isinstance(headers, (Mapping, httpx.Headers)) else headers
    masked = {}
    for name, value in items:
        lowered = name.lower()
        masked[name] = MASK if lowered in SECRET_HEADERS else redact_url(value) if lowered in _URL_HEADERS else value
    return masked


def _masked_params(text: str) -> str:
    params = urllib.parse.parse_qsl(text, keep_blank_values=True)
    return urllib.parse.urlencode([(name, MASK if _secret_param(name) else value) for name, value in params], safe="*")


def redact_url(url: httpx.URL | str) -> str:
    """*url* with the values of secret-looking query and fragment parameters masked.

    ``...?code=abc&state=x`` becomes ``...?code=***&state=x``; the implicit grant's
    ``...#access_token=abc&token_type=bearer`` becomes ``...#access_token=***&token_type=bearer``.
    """
    try:
        parts = urllib.parse.urlsplit(str(url))
    except ValueError:  # not a URL we can take apart: fall back to the text patterns
        return redact(str(url))
    if not parts.query and "=" not in parts.fragment:
        return str(url)
    query = _masked_params(parts.query) if parts.query else ""
    fragment = _masked_params(parts.fragment) if "=" in parts.fragment else parts.fragment
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment))


def register_url_secrets(url: str) -> None:
    """Register (transient) the values of the secret-looking query and fragment parameters of *url*:
    the authorization code or the implicit grant's token of a redirect the SDK hands back."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return
    for text in (parts.query, parts.fragment):
        for name, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
            if _secret_param(name):
                register_secret(value, transient=True)


def mask_fields(value: Any, *, form: bool = False) -> Any:
    """*value* (decoded JSON, or a form's fields with ``form=True``) with secret-looking fields as ``***``."""
    secret = _secret_param if form else _secret_name
    if isinstance(value, dict):
        return {key: MASK if secret(str(key)) else mask_fields(item, form=form) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_fields(item, form=form) for item in value]
    return value
