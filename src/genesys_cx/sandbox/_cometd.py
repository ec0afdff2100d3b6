"""A Bayeux (CometD) long-polling server, as the Statistics notifications endpoint speaks it.

``BayeuxServer.endpoint`` answers every ``/notifications[/<type>]`` POST: a JSON array of Bayeux
messages (a single object is accepted too) in, an array of replies out, like a CometD server:

* ``/meta/handshake`` creates a session: a ``clientId``, ``supportedConnectionTypes:
  ["long-polling"]``, the advice (``reconnect: retry``, ``interval``, ``timeout``) and a
  ``BAYEUX_BROWSER`` cookie. The session is bound to that cookie, as a sticky load balancer binds
  it to one node: a request without it is answered as for an unknown client;
* ``/meta/connect`` is held until a message is queued for the session or the advised ``timeout``
  passes; an unknown or forgotten ``clientId`` gets ``402::Unknown client`` with advice
  ``reconnect: handshake``. A session whose client stops polling for ``max_interval`` expires;
* ``/meta/subscribe`` / ``/meta/unsubscribe`` are acknowledged per channel (channels outside
  ``channels`` are refused with ``403``), ``/meta/disconnect`` ends the session.

``publish(channel, data)`` queues a message for every session subscribed to the channel and wakes
its long poll. Test hooks: ``forget_clients()`` (a server restart: every client gets 402 next) and
``drop_next_connect()`` (the next long poll breaks at the network level: the connection is closed
without an answer, so the client sees ``RemoteProtocolError``; queued messages stay queued). Everything here may be
called from any thread: state is under a lock and long polls are woken on their own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ._app import _drop_connection as drop_connection

__all__ = ["BayeuxServer"]

COOKIE = "BAYEUX_BROWSER"
_LONG_POLLING = "long-polling"


class _CutShort(Response):
    """No answer: the connection is closed under the client (the sandbox's fault layer does the same)."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await drop_connection(send)


@dataclass(eq=False)
class _Session:
    client_id: str
    browser: str
    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event
    channels: set[str] = field(default_factory=set)
    queue: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0  # long polls started (a newer poll ends an older one)
    polling: bool = False
    last_seen: float = field(default_factory=time.monotonic)


def _wake(session: _Session) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is session.loop:
        session.wake.set()
        return
    with contextlib.suppress(RuntimeError):  # the server's loop is closed: nobody is waiting
        session.loop.call_soon_threadsafe(session.wake.set)


def _reply(message: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    channel = message.get("channel")
    reply: dict[str, Any] = {"channel": channel if isinstance(channel, str) else "/meta/unknown"}
    if isinstance(message.get("id"), str):
        reply["id"] = message["id"]
    reply.update(fields)
    return reply


class BayeuxServer:
    """Bayeux sessions, subscriptions and long polls (see the module docstring).

    Args:
        channels: the channels clients may subscribe to (None: any non-meta channel).
        timeout_ms: how long a ``/meta/connect`` is held (the advised ``timeout``).
        interval_ms: the advised ``interval`` between connects.
        max_interval_ms: a session whose client has not polled for this long expires.
    """

    def __init__(
        self,
        *,
        channels: Collection[str] | None = None,
        timeout_ms: int = 30_000,
        interval_ms: int = 0,
        max_interval_ms: int = 10_000,
    ) -> None:
        self._allowed = None if channels is None else frozenset(channels)
        self.timeout_ms = timeout_ms
        self.interval_ms = interval_ms
        self.max_interval_ms = max_interval_ms
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._drops = 0
        self._closing = False
        self.handshakes = 0

    # ------------------------------------------------------------------------------- controls

    def publish(self, channel: str, data: Any) -> int:
        """Queue ``{"channel": channel, "data": data}`` for every subscribed session; how many."""
        with self._lock:
            self._expire_idle()
            targets = [s for s in self._sessions.values() if channel in s.channels]
            for session in targets:
                session.queue.append({"channel": channel, "data": data})
        for session in targets:
            _wake(session)
        return len(targets)

    def forget_clients(self) -> None:
        """Forget every session (a server restart): each client gets ``402::Unknown client`` next."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            _wake(session)

    def drop_next_connect(self, count: int = 1) -> None:
        """Break the next *count* long polls (held now or to come) at the network level."""
        with self._lock:
            self._drops += count
            sessions = [s for s in self._sessions.values() if s.polling]
        for session in sessions:
            _wake(session)

    def client_ids(self) -> list[str]:
        """The ``clientId`` of every live session."""
        with self._lock:
            return list(self._sessions)

    def is_polling(self, client_id: str) -> bool:
        """True while a long poll of *client_id* is held."""
        with self._lock:
            session = self._sessions.get(client_id)
            return session is not None and session.polling

    def subscribers(self, channel: str) -> list[str]:
        """The ``clientId`` of every session subscribed to *channel*."""
        with self._lock:
            return [s.client_id for s in self._sessions.values() if channel in s.channels]

    async def aclose(self) -> None:
        """Answer every held long poll now and hold no more (server shutdown)."""
        with self._lock:
            self._closing = True
            sessions = list(self._sessions.values())
        for session in sessions:
            _wake(session)

    # ------------------------------------------------------------------------------- HTTP

    async def endpoint(self, request: Request) -> Response:
        """The ASGI endpoint of ``/notifications`` and ``/notifications/<type>``."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._bad_request("the body is not JSON")
        messages = [body] if isinstance(body, dict) else body
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return self._bad_request("the body is not a non-empty array of Bayeux messages")
        browser = request.cookies.get(COOKIE)
        new_browser: str | None = None
        replies: list[dict[str, Any]] = []
        connect: tuple[dict[str, Any], _Session] | None = None
        for message in messages:
            channel = message.get("channel")
            if channel == "/meta/handshake":
                if browser is None:
                    browser = new_browser = secrets.token_hex(16)
                replies.append(self._handshake(message, browser))
                continue
            session = self._session(message.get("clientId"), browser)
            if not isinstance(channel, str):
                replies.append(_reply(message, successful=False, error="400::a message needs a channel"))
            elif session is None:
                replies.append(self._unknown_client(message))
            elif channel == "/meta/connect" and connect is None:
                connect = (message, session)
            elif channel in ("/meta/subscribe", "/meta/unsubscribe"):
                replies.extend(self._subscription(message, session, subscribe=channel == "/meta/subscribe"))
            elif channel == "/meta/disconnect":
                replies.append(self._disconnect(message, session))
            else:
                replies.append(_reply(message, successful=False, error=f"403:{channel}:publishing is not allowed"))
        if connect is not None:
            held = await self._long_poll(*connect)
            if held is None:
                return _CutShort()
            replies.extend(held)
        response = JSONResponse(replies)
        if new_browser is not None:
            response.set_cookie(COOKIE, new_browser, httponly=True, path="/")
        return response

    @staticmethod
    def _bad_request(reason: str) -> Response:
        return JSONResponse([{"channel": "/meta/unknown", "successful": False, "error": f"400::{reason}"}], 400)

    # ------------------------------------------------------------------------------- meta channels

    def _advice(self, reconnect: str = "retry") -> dict[str, Any]:
        return {"reconnect": reconnect, "interval": self.interval_ms, "timeout": self.timeout_ms}

    def _handshake(self, message: Mapping[str, Any], browser: str) -> dict[str, Any]:
        offered = message.get("supportedConnectionTypes")
        if not isinstance(offered, list) or _LONG_POLLING not in offered:
            return _reply(
                message,
                successful=False,
                supportedConnectionTypes=[_LONG_POLLING],
                error="301::long-polling is the only connection type",
                advice={"reconnect": "none", "interval": 0},
            )
        session = _Session(secrets.token_hex(13), browser, asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._expire_idle()
            self._sessions[session.client_id] = session
            self.handshakes += 1
        return _reply(
            message,
            version="1.0",
            minimumVersion="1.0",
            supportedConnectionTypes=[_LONG_POLLING],
            clientId=session.client_id,
            successful=True,
            advice={**self._advice(), "maxInterval": self.max_interval_ms},
        )

    def _session(self, client_id: object, browser: str | None) -> _Session | None:
        with self._lock:
            session = self._sessions.get(client_id) if isinstance(client_id, str) else None
            if session is None or session.browser != browser:
                return None
            session.last_seen = time.monotonic()
            return session

    def _unknown_client(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return _reply(
            message, successful=False, error="402::Unknown client", advice={"reconnect": "handshake", "interval": 0}
        )

    def _subscription(self, message: Mapping[str, Any], session: _Session, *, subscribe: bool) -> list[dict[str, Any]]:
        wanted = message.get("subscription")
        channels = [wanted] if isinstance(wanted, str) else wanted
        if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
            return [
                _reply(
                    message,
                    clientId=session.client_id,
                    successful=False,
                    error="400::subscription must be a channel or a list of channels",
                )
            ]
        replies = []
        for channel in channels:
            refused = channel.startswith("/meta/") or (self._allowed is not None and channel not in self._allowed)
            if refused:
                replies.append(
                    _reply(
                        message,
                        clientId=session.client_id,
                        subscription=channel,
                        successful=False,
                        error=f"403:{channel}:unknown channel",
                    )
                )
                continue
            with self._lock:
                if subscribe:
                    session.channels.add(channel)
                else:
                    session.channels.discard(channel)
            replies.append(_reply(message, clientId=session.client_id, subscription=channel, successful=True))
        return replies

    def _disconnect(self, message: Mapping[str, Any], session: _Session) -> dict[str, Any]:
        with self._lock:
            self._sessions.pop(session.client_id, None)
        _wake(session)
        return _reply(message, clientId=session.client_id, successful=True)

    async def _long_poll(self, message: Mapping[str, Any], session: _Session) -> list[dict[str, Any]] | None:
        """The messages and the connect reply, once there is something or the timeout passed; None: cut."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_ms / 1000
        with self._lock:
            session.polls += 1
            poll = session.polls
            session.polling = True
        session.wake.set()  # an older poll of this session answers now, leaving the queue to this one
        try:
            while True:
                with self._lock:
                    if self._drops > 0:
                        self._drops -= 1
                        return None
                    if self._sessions.get(session.client_id) is not session:
                        return [self._unknown_client(message)]
                    superseded = session.polls != poll
                    queued: list[dict[str, Any]] = []
                    if not superseded:
                        queued, session.queue = session.queue, []
                    if queued or superseded or self._closing or loop.time() >= deadline:
                        ok = _reply(message, clientId=session.client_id, successful=True, advice=self._advice())
                        return [*queued, ok]
                    session.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(session.wake.wait(), max(0.0, deadline - loop.time()))
        finally:
            with self._lock:
                if session.polls == poll:
                    session.polling = False
                session.last_seen = time.monotonic()

    def _expire_idle(self) -> None:
        """Drop sessions whose client stopped polling (called with the lock held)."""
        limit = time.monotonic() - self.max_interval_ms / 1000
        for client_id in [c for c, s in self._sessions.items() if not s.polling and s.last_seen < limit]:
            del self._sessions[client_id]
