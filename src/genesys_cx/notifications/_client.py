"""``CometdClient``: a Bayeux long-polling session that keeps itself alive.

The session follows the Bayeux 1.0 long-polling transport as the Statistics service serves it:
each meta message is POSTed to ``<path>/<type>`` (``/notifications/handshake``, ``/connect``,
``/subscribe``, ``/unsubscribe``, ``/disconnect``, as CometD's ``appendMessageTypeToURL`` does).

``start()`` handshakes (errors are raised there, so a wrong key or URL fails at once) and starts
the connect loop, a background task that long-polls ``/meta/connect`` and dispatches what comes
back. From then on nothing short of ``close()`` stops it:

* the server's ``advice`` is followed: ``interval`` before the next connect, ``timeout`` as the
  length of a long poll (the read timeout is that plus ``poll_margin``), ``reconnect: handshake``
  and the error ``402::Unknown client`` (the server restarted or expired the session) lead to a
  new handshake, after which every subscribed channel is subscribed again; ``reconnect: none``
  ends the session (``SessionEnded`` is raised to the readers);
* a broken connection (``ConnectError``, ``ReadError``, ``RemoteProtocolError``, a read timeout),
  a 5xx, a 401 or any other bad answer is retried with exponential backoff and full jitter
  (``backoff_base`` doubling up to ``backoff_cap`` seconds), reset by the first good connect;
* the credentials are fresh on every request: ``headers`` (sync or async) is called each time, so
  a token refreshed by the token manager is on the very next connect or handshake. Without
  ``headers``, the httpx client's own ``auth`` applies (the facade's per-API clients have it);
* the session cookies the server sets (``BAYEUX_BROWSER``, load-balancer stickiness) are kept in a
  jar of this session and sent with every request.

Notifications reach callbacks (``add_listener``) and async iterators (``updates``), parsed with the
generated models (``_messages``). ``close()`` stops the loop, says ``/meta/disconnect``, ends every
reader, and leaves no task behind. Logs go to ``genesys_cx.notifications`` and never contain a
header, a cookie or a token.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from .._redact import get_logger
from .._response import error_for_response, transport_error
from .._retry import RetryPolicy
from ..errors import GenesysError, HandshakeFailed, InvalidResponse, SessionEnded, SubscribeFailed
from ._messages import (
    CONNECT,
    DISCONNECT,
    HANDSHAKE,
    META_PREFIX,
    SUBSCRIBE,
    UNSUBSCRIBE,
    Notification,
    RawMessage,
    check_channels,
    parse_notification,
)
from ._streams import Listener, NotificationStream, Subscriber, maybe_await

__all__ = ["DEFAULT_PATH", "CometdClient", "HeadersProvider", "State"]

logger = get_logger("notifications")


def describe(exc: BaseException) -> str:
    """*exc* for a log line: an SDK error's text, otherwise only its type (an unknown error may hold anything)."""
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, GenesysError) else type(exc).__name__


#: The Statistics notifications endpoint, relative to a client whose base URL is the API host.
DEFAULT_PATH = "/statistics/v3/notifications"

#: Returns the headers of the next request (``x-api-key``, ``Authorization: Bearer <fresh token>``).
HeadersProvider = Callable[[], Mapping[str, str] | Awaitable[Mapping[str, str]]]

State = Literal["idle", "connected", "reconnecting", "closed"]

_DEFAULT_TIMEOUT_MS = 30_000
_LONG_POLLING = "long-polling"


def _milliseconds(value: object, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return default
    return int(value)


def _error_code(reply: Mapping[str, Any] | None) -> str | None:
    error = None if reply is None else reply.get("error")
    return error if isinstance(error, str) else None


class _Callback:
    """A listener function as a ``Subscriber``."""

    def __init__(self, channel: str | None, callback: Listener) -> None:
        self.channels = None if channel is None else frozenset((channel,))
        self._callback = callback

    def deliver(self, notification: Notification) -> Awaitable[None] | None:
        return self._callback(notification)

    def end(self, error: BaseException | None) -> None:
        return None


class CometdClient:
    """An async Bayeux (CometD) client over an ``httpx.AsyncClient`` (see the module docstring).

    Args:
        http: the client requests go through; its ``base_url`` joins *path*. It is not closed here.
        path: the notifications endpoint: ``/statistics/v3/notifications`` from the API host, or
            ``/notifications`` from a client whose base URL already ends with ``/statistics/v3``.
        headers: called before every request for the headers to send (sync or async); give
            ``x-api-key`` and a fresh ``Authorization: Bearer`` token. None: the client's ``auth`` applies.
        backoff_base: first reconnect delay ceiling, in seconds (doubles per failure, full jitter).
        backoff_cap: the longest reconnect delay, in seconds.
        request_timeout: timeout of handshake, subscribe, unsubscribe and disconnect requests.
        poll_margin: extra seconds a long poll may take beyond the server's advised ``timeout``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        path: str = DEFAULT_PATH,
        *,
        headers: HeadersProvider | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        request_timeout: float = 30.0,
        poll_margin: float = 15.0,
    ) -> None:
        if not isinstance(path, str) or not path.startswith(("/", "http://", "https://")):
            raise ValueError(f"path must be a URL path such as {DEFAULT_PATH!r}, not {path!r}")
        for name, value in (("request_timeout", request_timeout), ("poll_margin", poll_margin)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0 seconds, not {value!r}")
        self._http = http
        self._path = path.rstrip("/")
        self._headers = headers
        self._backoff = RetryPolicy(backoff_base=backoff_base, backoff_cap=backoff_cap)
        self._request_timeout = request_timeout
        self._poll_margin = poll_margin
        self._cookies = httpx.Cookies()
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._client_id: str | None = None
        self._interval_ms = 0
        self._timeout_ms = _DEFAULT_TIMEOUT_MS
        self._channels: dict[str, None] = {}  # subscribed by the user, in order
        self._session_channels: set[str] = set()  # subscribed in the current Bayeux session
        self._subscribers: list[Subscriber] = []
        self._task: asyncio.Task[None] | None = None
        self._state: State = "idle"
        self._ended: BaseException | None = None
        self._closed = False
        self._rehandshake = False

    # ------------------------------------------------------------------------------- public API

    @property
    def state(self) -> State:
        """``idle`` before ``start``, ``connected`` / ``reconnecting`` while running, ``closed`` after."""
        return "closed" if self._closed else self._state

    @property
    def client_id(self) -> str | None:
        """The Bayeux ``clientId`` of the current session (None before the handshake and after close)."""
        return self._client_id

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels subscribed with ``subscribe`` (subscribed again after every re-handshake)."""
        return tuple(self._channels)

    async def start(self) -> None:
        """Handshake and start the connect loop; no-op when running.

        Raises:
            HandshakeFailed: the server refused the handshake.
            genesys_cx.errors.ApiError: an error answer (``Unauthorized`` for a bad token...).
            genesys_cx.errors.TransportError: the endpoint could not be reached.
            SessionEnded: the client is closed.
        """
        self._check_open()
        async with self._lock:
            if self._task is not None:
                return
            await self._handshake()
            self._task = asyncio.create_task(self._run(), name="genesys-cx cometd connect loop")
            self._state = "connected"

    async def subscribe(self, *channels: str) -> None:
        """Subscribe to *channels* (starting the session if needed); kept across re-handshakes.

        Raises:
            SubscribeFailed: the server refused a channel (it is not kept).
            ValueError / TypeError: a channel is not a channel name.
        """
        wanted = check_channels(channels)
        await self.start()
        async with self._lock:
            new = [channel for channel in wanted if channel not in self._channels]
            self._channels.update(dict.fromkeys(new))
            try:
                refused = await self._subscribe_session(list(self._channels))
            except BaseException:
                for channel in new:
                    self._channels.pop(channel, None)
                raise
            for channel, _ in refused:
                self._channels.pop(channel, None)
        if refused:
            channel, code = refused[0]
            message = f"the server refused the subscription to {channel}: {code}"
            raise SubscribeFailed(message, channel=channel, code=code)

    async def unsubscribe(self, *channels: str) -> None:
        """Stop receiving *channels* (listeners stay attached; nothing more arrives for them)."""
        gone = check_channels(channels)
        async with self._lock:
            for channel in gone:
                self._channels.pop(channel, None)
            sent = [channel for channel in gone if channel in self._session_channels]
            self._session_channels.difference_update(gone)
            if sent and self._client_id is not None:
                messages = [self._message(UNSUBSCRIBE, subscription=channel) for channel in sent]
                await self._exchange("unsubscribe", messages, timeout=self._request_timeout)

    def updates(self, *channels: str) -> NotificationStream:
        """An async iterator of the notifications of *channels* (all non-meta channels when none).

        The channels are subscribed when iteration starts. Meta channels (``/meta/connect``...) may
        be named to watch the protocol replies; they need no subscription.
        """
        named = check_channels(channels, meta=True)
        to_subscribe = [channel for channel in named if not channel.startswith(META_PREFIX)]

        async def start() -> None:
            if to_subscribe:
                await self.subscribe(*to_subscribe)
            else:
                await self.start()

        stream = NotificationStream(named or None, start=start, detach=self.detach)
        self.attach(stream)
        return stream

    def add_listener(self, channel: str | None, callback: Listener) -> Callable[[], None]:
        """Call *callback* for each notification on *channel* (None: every non-meta channel).

        Subscribing stays explicit (``await client.subscribe(channel)``). Returns a function that
        removes the listener.
        """
        if channel is not None:
            check_channels([channel], meta=True)
        subscriber = _Callback(channel, callback)
        self.attach(subscriber)
        return lambda: self.detach(subscriber)

    def attach(self, subscriber: Subscriber) -> None:
        """Deliver to *subscriber* from now on (a ``Subscriber``: channels, deliver, end)."""
        self._check_open()
        self._subscribers.append(subscriber)

    def detach(self, subscriber: Subscriber) -> None:
        """Stop delivering to *subscriber* (no error if it is not attached)."""
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    async def close(self) -> None:
        """Stop the connect loop, disconnect, and end every reader. Idempotent."""
        if self._closed and self._task is None and not self._subscribers:
            return
        self._closed = True
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task})
        if self._client_id is not None:
            try:
                await self._exchange("disconnect", [self._message(DISCONNECT)], timeout=self._request_timeout)
            except Exception as exc:  # best effort: the server expires the session anyway
                logger.debug("CometD disconnect failed (%s); the server will expire the session", describe(exc))
            self._client_id = None
        await self._end_all(None)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<CometdClient {self._path} state={self._state} channels={list(self._channels)}>"

    # ------------------------------------------------------------------------------- requests

    def _check_open(self) -> None:
        if self._closed:
            raise SessionEnded("the notifications client is closed", operation="cometd") from self._ended

    def _message(self, channel: str, **fields: Any) -> dict[str, Any]:
        message: dict[str, Any] = {"channel": channel, "id": str(next(self._ids))}
        if channel != HANDSHAKE:
            message["clientId"] = self._client_id
        message.update(fields)
        return message

    async def _exchange(
        self, kind: str, messages: list[dict[str, Any]], *, timeout: float | httpx.Timeout
    ) -> list[dict[str, Any]]:
        """POST *messages* to ``<path>/<kind>``; the answer's messages, or a typed error."""
        operation = f"cometd_{kind}"
        headers = dict(await maybe_await(self._headers())) if self._headers is not None else {}
        request = self._http.build_request(
            "POST", f"{self._path}/{kind}", json=messages, headers=headers, cookies=self._cookies, timeout=timeout
        )
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            raise transport_error(exc, operation=operation) from exc
        self._cookies.extract_cookies(response)
        if response.status_code != 200:
            raise error_for_response(response, operation)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise InvalidResponse(
                "the answer is not a JSON array of Bayeux messages",
                body=response.content,
                status=response.status_code,
                operation=operation,
                response=response,
            )
        return body

    async def _reply(self, messages: list[dict[str, Any]], channel: str) -> dict[str, Any] | None:
        """Dispatch every message of an answer; return the first reply on *channel* (meta)."""
        reply: dict[str, Any] | None = None
        for message in messages:
            if reply is None and message.get("channel") == channel:
                reply = message
                advice = message.get("advice")
                if isinstance(advice, Mapping):
                    self._interval_ms = _milliseconds(advice.get("interval"), self._interval_ms)
                    self._timeout_ms = _milliseconds(advice.get("timeout"), self._timeout_ms)
            await self._dispatch(message)
        return reply

    async def _handshake(self) -> None:
        message = self._message(
            HANDSHAKE, version="1.0", minimumVersion="1.0", supportedConnectionTypes=[_LONG_POLLING]
        )
        answer = await self._exchange("handshake", [message], timeout=self._request_timeout)
        reply = await self._reply(answer, HANDSHAKE)
        client_id = None if reply is None else reply.get("clientId")
        types = [] if reply is None else reply.get("supportedConnectionTypes", [_LONG_POLLING])
        if reply is None or reply.get("successful") is not True or not isinstance(client_id, str):
            code = _error_code(reply) or "no successful /meta/handshake reply"
            raise HandshakeFailed(f"the server refused the handshake: {code}", code=code, operation="cometd_handshake")
        if not isinstance(types, list) or _LONG_POLLING not in types:
            raise HandshakeFailed("the server does not offer long-polling", operation="cometd_handshake")
        self._client_id = client_id
        self._session_channels.clear()
        logger.debug("CometD handshake done")

    async def _subscribe_session(self, channels: list[str]) -> list[tuple[str, str]]:
        """Subscribe the channels not yet subscribed in this session; the (channel, error) refused.

        Called with the lock held. A ``402::Unknown client`` reply is not a refusal: the connect
        loop re-handshakes and subscribes everything again.
        """
        missing = [channel for channel in channels if channel not in self._session_channels]
        if not missing or self._client_id is None:
            return []
        messages = [self._message(SUBSCRIBE, subscription=channel) for channel in missing]
        answer = await self._exchange("subscribe", messages, timeout=self._request_timeout)
        replies = {m.get("subscription"): m for m in answer if m.get("channel") == SUBSCRIBE}
        for message in answer:
            if message.get("channel") != SUBSCRIBE:
                await self._dispatch(message)
        refused: list[tuple[str, str]] = []
        for channel in missing:
            reply = replies.get(channel)
            if reply is not None and reply.get("successful") is True:
                self._session_channels.add(channel)
                continue
            code = _error_code(reply) or "no /meta/subscribe reply"
            if code.startswith("402"):
                self._rehandshake = True
            else:
                refused.append((channel, code))
        return refused

    # ------------------------------------------------------------------------------- the loop

    async def _run(self) -> None:
        failures = 0
        while not self._closed:
            try:
                if self._rehandshake:
                    await self._renew_session()
                reply = await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop never dies of a failure: it backs off and retries
                failures += 1
                delay = self._backoff.backoff(failures)
                self._state = "reconnecting"
                logger.warning(
                    "CometD %s failed (%s); retrying in %.2f s (attempt %d)",
                    "handshake" if self._rehandshake else "connect",
                    describe(exc),
                    delay,
                    failures,
                )
                await asyncio.sleep(delay)
                continue
            advice = reply.get("advice") if reply is not None else None
            reconnect = advice.get("reconnect", "retry") if isinstance(advice, Mapping) else "retry"
            code = _error_code(reply)
            if reconnect == "none":
                await self._finish(SessionEnded(f"the server ended the session: {code or 'reconnect none'}"))
                return
            if reply is not None and reply.get("successful") is True and reconnect != "handshake":
                if failures:
                    logger.info("CometD connection restored after %d failed attempt(s)", failures)
                failures = 0
                self._state = "connected"
                delay = self._interval_ms / 1000
            elif reconnect == "handshake" or (code or "").startswith("402"):
                logger.info("CometD session unknown to the server (%s): handshaking again", code or "advice")
                self._rehandshake = True
                self._state = "reconnecting"
                delay = self._interval_ms / 1000
            else:
                failures += 1
                delay = self._backoff.backoff(failures)
                self._state = "reconnecting"
                logger.warning("CometD connect unsuccessful (%s); retrying in %.2f s", code, delay)
            if delay > 0 and not self._closed:
                await asyncio.sleep(delay)

    async def _renew_session(self) -> None:
        async with self._lock:
            self._client_id = None
            await self._handshake()
            self._rehandshake = False
            try:
                refused = await self._subscribe_session(list(self._channels))
            except BaseException:
                self._rehandshake = True
                raise
        for channel, code in refused:
            logger.warning("CometD re-subscription to %s refused after a new handshake: %s", channel, code)
        logger.info("CometD session renewed; %d channel(s) subscribed again", len(self._session_channels))

    async def _connect(self) -> dict[str, Any] | None:
        message = self._message(CONNECT, connectionType=_LONG_POLLING)
        timeout = httpx.Timeout(self._request_timeout, read=self._timeout_ms / 1000 + self._poll_margin)
        reply = await self._reply(await self._exchange("connect", [message], timeout=timeout), CONNECT)
        if reply is None:
            raise InvalidResponse("the connect answer has no /meta/connect reply", operation="cometd_connect")
        return reply

    # ------------------------------------------------------------------------------- delivery

    async def _dispatch(self, message: dict[str, Any]) -> None:
        notification = parse_notification(message)
        channel = message.get("channel")
        if isinstance(notification, RawMessage) and notification.error is not None:
            logger.warning("notification on %s kept as a RawMessage: %s", channel, notification.error)
        is_meta = isinstance(channel, str) and channel.startswith(META_PREFIX)
        for subscriber in list(self._subscribers):
            wanted = subscriber.channels
            if (wanted is None and not is_meta) or (wanted is not None and channel in wanted):
                try:
                    await maybe_await(subscriber.deliver(notification))
                except Exception:
                    logger.exception("a notification listener failed on %s", channel)

    async def _finish(self, error: SessionEnded) -> None:
        logger.error("CometD session ended: %s", error.message)
        self._ended = error
        self._closed = True
        self._client_id = None
        await self._end_all(error)

    async def _end_all(self, error: BaseException | None) -> None:
        subscribers, self._subscribers = self._subscribers, []
        for subscriber in subscribers:
            try:
                await maybe_await(subscriber.end(error))
            except Exception:
                logger.exception("a notification listener failed while ending")
