"""A Bayeux (CometD) long-polling server, as the Statistics notifications endpoint speaks it.

``BayeuxServer.answer`` answers one POST to ``/notifications[/<type>]`` (the CometD clients append
the message type, or a bare ``/``, to the URL): a JSON array of Bayeux messages in, an array of
replies out, following Bayeux 1.0 as the CometD server implements it:

* the body is ``application/json`` or, as the long-polling transport allows, a form whose
  ``message`` fields carry the JSON text. A body that is not an array of messages with a
  ``channel`` is answered HTTP 400 with a Bayeux error reply. The message ``id`` is the client's
  choice (a string or a number) and is echoed back as it came;
* ``/meta/handshake`` needs ``version`` and ``supportedConnectionTypes`` (else an unsuccessful
  reply ``400:<field>:missing required field``) and creates a session: a ``clientId``,
  ``supportedConnectionTypes: ["long-polling"]``, the advice (``reconnect: retry``, ``interval``,
  ``timeout``, ``maxInterval``) and a ``BAYEUX_BROWSER`` cookie. The session is bound to that
  cookie, as a sticky load balancer binds it to one node: a request without it is answered as for
  an unknown client. A handshake batched with other messages is answered alone; the others are
  ignored;
* ``/meta/connect`` needs ``connectionType`` (``long-polling``; ``websocket`` and the others get
  ``301``). It is held until a message is queued for the session or the timeout passes: the
  client's ``advice.timeout`` when it sends one (CometD's first connect sends ``0``), else the
  server's. An unknown, expired or forgotten ``clientId`` gets ``402::Unknown client`` with advice
  ``reconnect: handshake``;
* a session whose client has no connect held expires ``maxInterval`` after its last request, on a
  timer (nothing else needs to happen on the server for it to go);
* ``/meta/subscribe`` / ``/meta/unsubscribe`` take a channel or an array of channels and get one
  reply echoing ``subscription``; a channel outside ``channels`` (or a meta channel) makes the
  reply unsuccessful (``403:<channel>:unknown channel``) and nothing is subscribed.
  ``/meta/disconnect`` ends the session. Clients may not publish (``403``).

WebSocket is not offered: the Genesys documentation describes the notifications as HTTP POST
endpoints only, so the handshake answers ``supportedConnectionTypes: ["long-polling"]`` and an
upgrade request is refused at the HTTP level; CometD clients then negotiate long-polling, which is
the documented Bayeux way to refuse a transport.

``publish(channel, data)`` queues a message for every session subscribed to the channel and wakes
its long poll. Test hooks: ``forget_clients()`` (a server restart: every client gets 402 next) and
``drop_next_connect()`` (the next long poll breaks at the network level: the connection is closed
without an answer, so the client sees ``RemoteProtocolError``; queued messages stay queued).
Everything here may be called from any thread: state is under a lock and long polls are woken on
their own event loop.
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
from urllib.parse import parse_qs

from starlette.responses import JSONResponse, Response

from ._http import Dropped

__all__ = ["COOKIE", "FORM", "BayeuxServer", "bayeux_error", "form_messages"]

COOKIE = "BAYEUX_BROWSER"
_LONG_POLLING = "long-polling"
#: The media type of form-encoded Bayeux requests (``message=<JSON>``).
FORM = "application/x-www-form-urlencoded"
_SUBSCRIPTIONS = ("/meta/subscribe", "/meta/unsubscribe")


def bayeux_error(status: int, reason: str) -> list[dict[str, Any]]:
    """The body of an HTTP error answer of a Bayeux endpoint: one unsuccessful reply."""
    return [{"channel": "/meta/unknown", "successful": False, "error": f"{status}::{reason}"}]


class _Malformed(ValueError):
    """A body that is not an array of Bayeux messages."""


def form_messages(body: bytes) -> list[Any]:
    """The messages of a form body: its ``message`` fields' JSON (arrays or single messages), in one array.

    ``ValueError`` (``RecursionError`` for JSON nested too deeply) when a field is not JSON, or
    there is no ``message`` field.
    """
    texts = parse_qs(body.decode("utf-8"), keep_blank_values=True).get("message", [])
    if not texts:
        raise _Malformed("a form body needs a message field")
    decoded = [json.loads(text) for text in texts]
    return [m for part in decoded for m in (part if isinstance(part, list) else [part])]


def _messages(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """The Bayeux messages of a request body (JSON, or a form of ``message`` fields)."""
    try:
        if content_type.split(";")[0].strip().lower() == FORM:
            found: Any = form_messages(body)
        else:
            found = json.loads(body)
    except _Malformed:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _Malformed("the body is not JSON") from exc
    if not isinstance(found, list) or not found or not all(isinstance(m, dict) for m in found):
        raise _Malformed("the body is not a non-empty array of Bayeux messages")
    if not all(isinstance(m.get("channel"), str) for m in found):
        raise _Malformed("every Bayeux message needs a channel")
    return found


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
    expiry: asyncio.TimerHandle | None = None


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
    reply: dict[str, Any] = {"channel": message["channel"]}
    if message.get("id") is not None:
        reply["id"] = message["id"]
    reply.update(fields)
    return reply


def _missing(message: Mapping[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    return _reply(message, successful=False, error=f"400:{name}:missing required field", **fields)


def _client_timeout(message: Mapping[str, Any]) -> int | None:
    advice = message.get("advice")
    timeout = advice.get("timeout") if isinstance(advice, Mapping) else None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        return None
    return int(min(timeout, 2**31))


class BayeuxServer:
    """Bayeux sessions, subscriptions and long polls (see the module docstring).

    Args:
        channels: the channels clients may subscribe to (None: any non-meta channel).
        timeout_ms: how long a ``/meta/connect`` is held unless the client advises otherwise.
        interval_ms: the advised ``interval`` between connects.
        max_interval_ms: a session whose client has no connect held for this long expires.
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

    async def answer(self, body: bytes, content_type: str, cookies: Mapping[str, str]) -> Response:
        """The answer to one POST of *body* to the endpoint, with the request's *cookies*."""
        try:
            messages = _messages(body, content_type)
        except _Malformed as exc:
            return JSONResponse(bayeux_error(400, str(exc)), 400)
        handshake = next((m for m in messages if m["channel"] == "/meta/handshake"), None)
        if handshake is not None:  # the handshake is answered alone (CometD ignores the rest of its batch)
            browser = cookies.get(COOKIE) or secrets.token_hex(16)
            response = JSONResponse([self._handshake(handshake, browser)])
            if browser != cookies.get(COOKIE):
                response.set_cookie(COOKIE, browser, httponly=True, path="/")
            return response
        known = cookies.get(COOKIE)
        replies: list[dict[str, Any]] = []
        connect: tuple[dict[str, Any], _Session] | None = None
        for message in messages:
            channel = message["channel"]
            session = self._session(message.get("clientId"), known)
            if session is None:
                replies.append(self._unknown_client(message))
            elif channel == "/meta/connect" and connect is None:
                if (refused := self._connect_refusal(message, session)) is not None:
                    replies.append(refused)
                else:
                    connect = (message, session)
            elif channel in _SUBSCRIPTIONS:
                replies.append(self._subscription(message, session, subscribe=channel == _SUBSCRIPTIONS[0]))
            elif channel == "/meta/disconnect":
                replies.append(self._disconnect(message, session))
            else:
                replies.append(_reply(message, successful=False, error=f"403:{channel}:publishing is not allowed"))
        if connect is not None:
            held = await self._long_poll(*connect)
            if held is None:
                return Dropped()
            replies.extend(held)
        return JSONResponse(replies)

    # ------------------------------------------------------------------------------- meta channels

    def _advice(self, reconnect: str = "retry") -> dict[str, Any]:
        return {"reconnect": reconnect, "interval": self.interval_ms, "timeout": self.timeout_ms}

    def _handshake(self, message: Mapping[str, Any], browser: str) -> dict[str, Any]:
        refused = {"advice": {"reconnect": "none", "interval": 0}}
        if not isinstance(message.get("version"), str):
            return _missing(message, "version", **refused)
        offered = message.get("supportedConnectionTypes")
        if not isinstance(offered, list):
            return _missing(message, "supportedConnectionTypes", **refused)
        if _LONG_POLLING not in offered:
            return _reply(
                message,
                successful=False,
                supportedConnectionTypes=[_LONG_POLLING],
                error="301::long-polling is the only connection type",
                **refused,
            )
        session = _Session(secrets.token_hex(13), browser, asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._sessions[session.client_id] = session
            self.handshakes += 1
            self._schedule_expiry(session)
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
            if not session.polling:
                self._schedule_expiry(session)
            return session

    def _unknown_client(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return _reply(
            message, successful=False, error="402::Unknown client", advice={"reconnect": "handshake", "interval": 0}
        )

    def _connect_refusal(self, message: Mapping[str, Any], session: _Session) -> dict[str, Any] | None:
        kind = message.get("connectionType")
        if not isinstance(kind, str):
            return _missing(message, "connectionType", clientId=session.client_id)
        if kind != _LONG_POLLING:
            return _reply(
                message,
                clientId=session.client_id,
                successful=False,
                error=f"301:{kind}:long-polling is the only connection type",
                advice={"reconnect": "handshake", "interval": 0},
            )
        return None

    def _subscription(self, message: Mapping[str, Any], session: _Session, *, subscribe: bool) -> dict[str, Any]:
        wanted = message.get("subscription")
        channels = [wanted] if isinstance(wanted, str) else wanted
        fields: dict[str, Any] = {"clientId": session.client_id}
        if wanted is not None:
            fields["subscription"] = wanted
        if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
            return _reply(message, **fields, successful=False, error="400:subscription:a channel or channels needed")
        for channel in channels:
            if channel.startswith("/meta/") or (self._allowed is not None and channel not in self._allowed):
                return _reply(message, **fields, successful=False, error=f"403:{channel}:unknown channel")
        with self._lock:
            if subscribe:
                session.channels.update(channels)
            else:
                session.channels.difference_update(channels)
        return _reply(message, **fields, successful=True)

    def _disconnect(self, message: Mapping[str, Any], session: _Session) -> dict[str, Any]:
        with self._lock:
            self._end(session)
        _wake(session)
        return _reply(message, clientId=session.client_id, successful=True)

    async def _long_poll(self, message: Mapping[str, Any], session: _Session) -> list[dict[str, Any]] | None:
        """The messages and the connect reply, once there is something or the timeout passed; None: cut."""
        loop = asyncio.get_running_loop()
        timeout = _client_timeout(message)
        deadline = loop.time() + (self.timeout_ms if timeout is None else timeout) / 1000
        with self._lock:
            session.polls += 1
            poll = session.polls
            session.polling = True
            if session.expiry is not None:
                session.expiry.cancel()
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
                    self._schedule_expiry(session)

    # ------------------------------------------------------------------------------- expiry

    def _schedule_expiry(self, session: _Session) -> None:
        """(Re)arm the session's ``maxInterval`` timer (called with the lock held, on its loop)."""
        if session.expiry is not None:
            session.expiry.cancel()
        if self._sessions.get(session.client_id) is session:
            session.expiry = session.loop.call_later(self.max_interval_ms / 1000, self._expire, session)

    def _expire(self, session: _Session) -> None:
        with self._lock:
            idle = time.monotonic() - session.last_seen
            if session.polling or self._sessions.get(session.client_id) is not session:
                return
            if idle * 1000 < self.max_interval_ms:  # seen again since the timer was armed
                session.expiry = session.loop.call_later(self.max_interval_ms / 1000 - idle, self._expire, session)
                return
            self._end(session)

    def _end(self, session: _Session) -> None:
        """Forget *session* (called with the lock held)."""
        if self._sessions.get(session.client_id) is session:
            del self._sessions[session.client_id]
        if session.expiry is not None:
            session.expiry.cancel()
            session.expiry = None
