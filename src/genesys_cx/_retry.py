"""When to retry: transient failures are retried, and a request is never sent twice by accident.

The SDK's transport (``genesys_cx._transport``: ``Transport``, or ``RetryTransport`` for retries
alone) runs the attempts; a ``RetryPolicy`` and ``next_delay`` decide:

* a failure to *establish* a connection (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``)
  means the request never reached the server, so it is retried whatever the method;
* a retryable status (429, 502, 503, 504 by default) or a failure after the request may have been
  sent (read/write errors, read timeouts, a dropped connection) is retried only for the idempotent
  methods (GET, HEAD, OPTIONS, PUT, DELETE). A POST that may have reached Genesys (send a message,
  create an interaction) is retried only inside ``with retry_safe():``, where the caller vouches
  that a duplicate is harmless. ``retry_safe`` is a context variable: it holds for the thread or
  asyncio task that entered it (tasks it creates and ``asyncio.to_thread`` inherit it), never for
  concurrent callers elsewhere;
* delays grow exponentially with full jitter (``uniform(0, min(cap, base * 2**n))``); a
  ``Retry-After`` header (seconds or an HTTP date) is honoured when it asks for no more than
  ``retry_after_cap`` seconds. A server asking for longer gets its answer returned at once, as a
  ``RateLimited`` with ``retry_after``, instead of a thread blocked for minutes.

Each retry is logged at INFO (method, path, attempt, reason, delay), never with a header or a body.

Why hand-written: httpx-retries (0.6) decides once per request whether its method may be retried at
all, so it cannot retry a POST refused at connect time while refusing to repeat a POST whose read
failed, has no per-call opt-in and sleeps with ``time.sleep`` only; stamina and tenacity retry
whole callables, and the decision here needs the method, the failure phase and the response of
each attempt, which only a transport sees. The loop that remains is short (it lives in the one
transport that also traces and logs), so the SDK keeps one dependency fewer.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

import httpx

from ._headers import RETRY_AFTER_HEADER, parse_retry_after
from ._redact import get_logger

__all__ = ["RetryPolicy", "adiscard", "asyncio_sleep", "discard", "next_delay", "retry_safe"]

logger = get_logger()

_safe: contextvars.ContextVar[bool] = contextvars.ContextVar("genesys_cx_retry_safe", default=False)

#: Failures that prove the request never reached the server.
_NOT_SENT: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Failures after which the server may or may not have acted on the request.
_MAYBE_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ReadError,
    httpx.ReadTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
)


@contextlib.contextmanager
def retry_safe(safe: bool = True) -> Iterator[None]:
    """Within this block, requests of any method (POST too) are retried like idempotent ones.

    Use it around a call whose repetition is harmless (for example a send the receiver
    de-duplicates by message id). ``retry_safe(False)`` switches it off again in a nested block.
    """
    token = _safe.set(safe)
    try:
        yield
    finally:
        _safe.reset(token)


def _methods(values: Collection[str]) -> frozenset[str]:
    return frozenset(value.upper() for value in values)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and when to retry. ``RetryPolicy()`` retries twice more; ``RetryPolicy.off()`` never.

    Attributes:
        attempts: total tries, the first one included (1 = no retry).
        backoff_base: the first retry waits up to this many seconds; each further one doubles it.
        backoff_cap: no backoff delay exceeds this.
        jitter: full jitter (a uniform draw below the exponential delay); False waits the full delay.
        statuses: HTTP statuses worth retrying (stored as a frozenset).
        methods: methods retried after a retryable status or a failure once the request was sent
            (stored as a frozenset of upper-case names).
        respect_retry_after: follow the server's ``Retry-After`` header.
        retry_after_cap: the longest ``Retry-After`` slept; longer requests end the retries.
    """

    attempts: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    jitter: bool = True
    statuses: Collection[int] = field(default=frozenset({429, 502, 503, 504}))
    methods: Collection[str] = field(default=frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}))
    respect_retry_after: bool = True
    retry_after_cap: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(f"attempts must be an integer >= 1 (1 disables retries), not {self.attempts!r}")
        for name in ("backoff_base", "backoff_cap", "retry_after_cap"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)!r}")
        object.__setattr__(self, "statuses", frozenset(self.statuses))
        object.__setattr__(self, "methods", _methods(self.methods))

    @classmethod
    def off(cls) -> RetryPolicy:
        """A policy that sends every request exactly once."""
        return cls(attempts=1)

    def backoff(self, retry: int, draw: Callable[[float, float], float] = random.uniform) -> float:
        """The delay before retry number *retry* (1 for the first retry) when the server gives none."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (retry - 1))
        return draw(0.0, ceiling) if self.jitter else ceiling

    def reason_to_retry(self, request: httpx.Request, outcome: httpx.Response | Exception) -> str | None:
        """Why *outcome* of *request* deserves another attempt (None: it does not). Attempts are not counted here."""
        replayable = request.method.upper() in self.methods or _safe.get()
        if isinstance(outcome, httpx.Response):
            if outcome.status_code in self.statuses and replayable:
                return f"status {outcome.status_code}"
            return None
        if isinstance(outcome, _NOT_SENT) or (isinstance(outcome, _MAYBE_SENT) and replayable):
            return type(outcome).__name__
        return None

    def delay(self, outcome: httpx.Response | Exception, retry: int) -> float | None:
        """Seconds to wait before retry number *retry*, or None when the server asks for too long a wait."""
        if isinstance(outcome, httpx.Response) and self.respect_retry_after:
            asked = parse_retry_after(outcome.headers.get(RETRY_AFTER_HEADER))
            if asked is not None:
                return asked if asked <= self.retry_after_cap else None
        return self.backoff(retry)


def next_delay(
    policy: RetryPolicy, request: httpx.Request, outcome: httpx.Response | Exception, tries: int
) -> float | None:
    """The delay before attempt *tries* + 1 of *request*, or None when *outcome* is final; logs the decision.

    The retry loop itself is the transport's (``genesys_cx._transport``): it asks here only about an
    outcome that may deserve another attempt (a failure, or a status in ``policy.statuses``).
    """
    if tries >= policy.attempts:
        return None
    reason = policy.reason_to_retry(request, outcome)
    if reason is None:
        return None
    delay = policy.delay(outcome, tries)
    if delay is None:
        logger.info(
            "not retrying %s %s: %s asks to wait longer than %.0f s",
            request.method,
            request.url.path,
            reason,
            policy.retry_after_cap,
        )
        return None
    logger.info(
        "retrying %s %s (attempt %d of %d) after %s in %.2f s",
        request.method,
        request.url.path,
        tries + 1,
        policy.attempts,
        reason,
        delay,
    )
    return delay


def discard(response: httpx.Response) -> None:
    """Drain (so the connection goes back to the pool) and close an answer that will be retried."""
    with contextlib.suppress(httpx.HTTPError):
        response.read()
    response.close()


async def adiscard(response: httpx.Response) -> None:
    """The async twin of ``discard``."""
    with contextlib.suppress(httpx.HTTPError):
        await response.aread()
    await response.aclose()


async def asyncio_sleep(delay: float) -> None:
    """``asyncio.sleep``, imported on first use (only async users pay for importing asyncio)."""
    import asyncio

    await asyncio.sleep(delay)
