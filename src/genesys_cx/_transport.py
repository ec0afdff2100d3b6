"""The transport under every ``Genesys`` client: trace id, DEBUG log, retries and typed errors in one frame.

``Transport`` / ``AsyncTransport`` wrap the connection pool. For each request they:

* add an ``X-B3-TraceId`` when the request has none (``_tracing``), so every attempt of one call
  carries the same id, the one every ``GenesysError`` reports;
* log the call at DEBUG with secrets masked (``_tracing``), never doing any of that work when the
  ``genesys_cx`` logger is not enabled for DEBUG;
* retry by a ``RetryPolicy`` (``_retry``: which failures, which methods, backoff, ``Retry-After``);
* turn a connection that gave no answer into ``genesys_cx.errors.TransportError`` (``Timeout``);
* with ``credentials_origin`` (the facade passes the API's base URL), send no credential header
  (``x-api-key``, ``Authorization``, ``X-Hub-Signature``, ``x-ccid``, cookies) to any other origin:
  a file download's 303 leads to storage that must not see them, and httpx, following a redirect,
  drops only ``Authorization``.

They do it in one call frame per request: a call through the SDK costs one wrapper over httpx's
own transport, whatever the number of concerns. ``TracingTransport`` (no retries) and
``RetryTransport`` (retries only; httpx's exceptions left as they are) are the same transport
configured for one concern, to compose with other httpx transports.

Every ``Genesys`` client holds one connection pool (``SharedPool``, built on the first request) and
gives each per-API httpx client its own ``Transport`` over it: closing one of those clients leaves
the pool open; the facade closes the pool itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from ._redact import SECRET_HEADERS, get_logger, protect_http_loggers
from ._retry import RetryPolicy, adiscard, asyncio_sleep, discard, next_delay
from ._tracing import Tracer

__all__ = [
    "AsyncRetryTransport",
    "AsyncTracingTransport",
    "AsyncTransport",
    "RetryTransport",
    "SharedPool",
    "TracingTransport",
    "Transport",
]

logger = get_logger()

_DEBUG = logging.DEBUG
_Send = Callable[[httpx.Request], Any]


class SharedPool(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """One connection pool for several transports, built by *factory* on the first request.

    Building the pool loads the CA bundle into an SSL context (tens of milliseconds): a service that
    creates its client at start-up should not pay for that before it sends anything. A ``Transport``
    over a shared pool never closes it; ``close()`` / ``aclose()`` here do, once it was built.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._pool: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The pool (an ``httpx.BaseTransport`` or ``httpx.AsyncBaseTransport``), built on first use."""
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = self._factory()
        return self._pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self.get().handle_request(request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self.get().handle_async_request(request)
        return response

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


class _Core:
    """What both transports hold: the inner transport (or shared pool), the policy, and whether to trace."""

    def __init__(self, inner: Any, policy: RetryPolicy | None, trace: bool, credentials_origin: str | None) -> None:
        self._inner = inner
        origin = httpx.URL(credentials_origin) if credentials_origin is not None else None
        #: (scheme, netloc) the credentials are for; a request elsewhere leaves without them
        self._origin = (origin.raw_scheme, origin.netloc) if origin is not None else None
        self.policy = policy or RetryPolicy()
        #: statuses the policy may retry: any other answer is returned without a further look
        self._statuses = self.policy.statuses if self.policy.attempts > 1 else frozenset()
        self._retries = self.policy.attempts > 1
        self._trace = trace
        if trace:
            protect_http_loggers()

    def _pool(self) -> Any:
        return self._inner.get() if isinstance(self._inner, SharedPool) else self._inner

    def _guard(self, request: httpx.Request) -> None:
        """Strip the credential headers of a request to another origin than ``credentials_origin``."""
        if self._origin is not None and (request.url.raw_scheme, request.url.netloc) != self._origin:
            for name in _CREDENTIAL_HEADERS:
                if name in request.headers:
                    del request.headers[name]


_CREDENTIAL_HEADERS = tuple(sorted(SECRET_HEADERS - {"set-cookie"}))


class Transport(_Core, httpx.BaseTransport):
    """Trace, log and retry each request through *inner* (a transport, or a ``SharedPool`` it never closes).

    Args:
        inner: the transport that sends (httpx's connection pool in the SDK).
        policy: when to retry (``RetryPolicy()`` by default; ``RetryPolicy.off()`` sends once).
        trace: add the trace id, log at DEBUG and raise ``TransportError`` (False: retries only,
            httpx's exceptions unchanged).
        sleep: waits between attempts (injectable for tests).
        credentials_origin: the URL whose origin alone receives credential headers (None: any).
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: RetryPolicy | None = None,
        *,
        trace: bool = True,
        sleep: Callable[[float], object] = time.sleep,
        credentials_origin: str | None = None,
    ) -> None:
        super().__init__(inner, policy, trace, credentials_origin)
        self._sleep = sleep
        self._send: _Send | None = None if isinstance(inner, SharedPool) else inner.handle_request

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        send = self._send
        if send is None:
            send = self._send = self._pool().handle_request
        self._guard(request)
        debug = logger.isEnabledFor(_DEBUG)
        trace_id = Tracer.start(request, debug) if self._trace else None
        started = time.perf_counter()
        tries = 1
        while True:
            try:
                response: httpx.Response = send(request)
            except httpx.TransportError as exc:
                delay = next_delay(self.policy, request, exc, tries) if self._retries else None
                if delay is None:
                    if trace_id is None:
                        raise
                    raise Tracer.failed(request, exc, trace_id, started) from exc
            else:
                if response.status_code not in self._statuses:
                    break
                delay = next_delay(self.policy, request, response, tries)
                if delay is None:
                    break
                discard(response)
            tries += 1
            self._sleep(delay)
        if debug and trace_id is not None:
            if Tracer.loggable(response):
                response = Tracer.buffered(response, b"".join(response.iter_raw()))
            Tracer.finish(request, response, trace_id, started)
        return response

    def close(self) -> None:
        if not isinstance(self._inner, SharedPool):
            self._inner.close()


class AsyncTransport(_Core, httpx.AsyncBaseTransport):
    """The async twin of ``Transport`` (``sleep`` defaults to ``asyncio.sleep``)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        policy: RetryPolicy | None = None,
        *,
        trace: bool = True,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        credentials_origin: str | None = None,
    ) -> None:
        super().__init__(inner, policy, trace, credentials_origin)
        self._sleep = sleep or asyncio_sleep
        self._send: _Send | None = None if isinstance(inner, SharedPool) else inner.handle_async_request

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        send = self._send
        if send is None:
            send = self._send = self._pool().handle_async_request
        self._guard(request)
        debug = logger.isEnabledFor(_DEBUG)
        trace_id = Tracer.start(request, debug) if self._trace else None
        started = time.perf_counter()
        tries = 1
        while True:
            try:
                response: httpx.Response = await send(request)
            except httpx.TransportError as exc:
                delay = next_delay(self.policy, request, exc, tries) if self._retries else None
                if delay is None:
                    if trace_id is None:
                        raise
                    raise Tracer.failed(request, exc, trace_id, started) from exc
            else:
                if response.status_code not in self._statuses:
                    break
                delay = next_delay(self.policy, request, response, tries)
                if delay is None:
                    break
                await adiscard(response)
            tries += 1
            await self._sleep(delay)
        if debug and trace_id is not None:
            if Tracer.loggable(response):
                response = Tracer.buffered(response, b"".join([chunk async for chunk in response.aiter_raw()]))
            Tracer.finish(request, response, trace_id, started)
        return response

    async def aclose(self) -> None:
        if not isinstance(self._inner, SharedPool):
            await self._inner.aclose()


class TracingTransport(Transport):
    """Add ``X-B3-TraceId`` when absent, log the call at DEBUG, turn connection failures into ``TransportError``."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        super().__init__(inner, RetryPolicy.off())


class AsyncTracingTransport(AsyncTransport):
    """The async twin of ``TracingTransport``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        super().__init__(inner, RetryPolicy.off())


class RetryTransport(Transport):
    """Retry requests through *inner* by *policy*; ``sleep`` is injectable for tests. Closing closes *inner*."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        super().__init__(inner, policy, trace=False, sleep=sleep)


class AsyncRetryTransport(AsyncTransport):
    """The async twin of ``RetryTransport`` (``sleep`` defaults to ``asyncio.sleep``)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        super().__init__(inner, policy, trace=False, sleep=sleep)
