"""Serving ``webhook_app``: the uvicorn settings that keep slow or silent clients from holding on.

An ASGI app only sees a request once its headers are complete, so a client that opens a connection
and trickles header bytes -- or sends nothing at all -- is the server's to cut off, and uvicorn does
not: every byte received cancels its keep-alive timer. ``HeaderDeadlineProtocol`` is uvicorn's
HTTP/1.1 protocol (h11) with one more timer: from the moment a connection is open, or a response on
it is complete, the next request's headers must arrive within ``header_timeout`` seconds (default
5), else the connection is closed. The body is ``webhook_app``'s to bound (its ``timeout`` covers
reading it: 408 and the connection closed).

``server_config(app)`` is a ``uvicorn.Config`` with the recommended settings (this protocol, a
5-second keep-alive, a cap on connections): ``uvicorn.Server(server_config(app, port=8080)).run()``.
``genesys_cx._serve`` (the sandbox, the demo, the tests) serves with the same protocol. With the
uvicorn command line::

    uvicorn myapp:app --http genesys_cx.webhooks:HeaderDeadlineProtocol --timeout-keep-alive 5 \\
        --limit-concurrency 1000

uvicorn (the ``server`` extra) is imported when this module is.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HeaderDeadlineProtocol", "server_config"]

#: Seconds a connection may take to deliver a request's headers (or stay idle between requests).
HEADER_TIMEOUT = 5.0
#: Recommended uvicorn settings for a webhook receiver (see ``server_config``).
RECOMMENDED: dict[str, Any] = {
    "timeout_keep_alive": 5,
    "limit_concurrency": 1000,
    "backlog": 2048,
    "timeout_graceful_shutdown": 10,
    "access_log": False,
}


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers take over ``header_timeout`` s."""

    header_timeout: float = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request's headers are complete: its body is the app's to time
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            self.logger.info("closing a connection whose request headers did not arrive in %g s", self.header_timeout)
            if self.conn.our_state != h11.ERROR:
                with contextlib.suppress(h11.LocalProtocolError):
                    self.conn.send(h11.ConnectionClosed())
            self.transport.close()


def server_config(app: Any, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> uvicorn.Config:
    """A ``uvicorn.Config`` for *app* with ``RECOMMENDED`` settings and ``HeaderDeadlineProtocol``.

    *options* override any setting (``limit_concurrency=...``, ``log_level=...``).
    """
    settings: dict[str, Any] = {**RECOMMENDED, "http": HeaderDeadlineProtocol, **options}
    return uvicorn.Config(app, host=host, port=port, **settings)
