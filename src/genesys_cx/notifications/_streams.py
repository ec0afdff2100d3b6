"""Delivery: how notifications leave the connect loop for the code that waits for them.

The connect loop hands every message to the ``Subscriber`` objects attached to the client whose
channels match. Two kinds come with the SDK: a callback (``CometdClient.add_listener``) and a
``NotificationStream`` (``CometdClient.updates``), an async iterator backed by an unbounded
``Inbox``, so a slow reader never makes the loop drop or block on a message. When the client
closes, every subscriber is ended: a stream then yields what it still holds and stops
(``StopAsyncIteration``), or raises the error that ended the session.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from ._messages import Notification

__all__ = ["Inbox", "Listener", "NotificationStream", "Subscriber"]

T = TypeVar("T")

#: A notification callback: sync, or async (awaited by the connect loop, so keep it short).
Listener = Callable[[Notification], Awaitable[None] | None]


class Subscriber(Protocol):
    """What ``CometdClient.attach`` accepts: receives the notifications of some channels.

    ``channels`` None means every non-meta channel. ``deliver`` and ``end`` may be sync or async;
    an exception they raise is logged and never stops the connect loop.
    """

    @property
    def channels(self) -> frozenset[str] | None: ...

    def deliver(self, notification: Notification) -> Awaitable[None] | None: ...

    def end(self, error: BaseException | None) -> Awaitable[None] | None: ...


async def maybe_await(value: Awaitable[T] | T) -> T:
    """*value*, awaited when it is awaitable (the result of a sync-or-async callable)."""
    if inspect.isawaitable(value):
        return await value
    return value


class Inbox(Generic[T]):
    """An unbounded FIFO with an end: ``put`` from the loop, ``await get()`` from one reader."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._event = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def ended(self) -> bool:
        return self._ended

    def put(self, item: T) -> None:
        if not self._ended:
            self._items.append(item)
            self._event.set()

    def end(self, error: BaseException | None = None, *, discard: bool = False) -> None:
        """No more items: ``get`` drains what is held (unless *discard*), then stops or raises *error*."""
        if discard:
            self._items.clear()
        if not self._ended:
            self._ended = True
            self._error = error
        self._event.set()

    async def get(self) -> T:
        """The next item; ``StopAsyncIteration`` (or the ending error) once ended and drained."""
        while True:
            if self._items:
                return self._items.popleft()
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._event.clear()
            await self._event.wait()


class NotificationStream:
    """``async for notification in client.updates(channel, ...)``: the notifications of some channels.

    The channels are subscribed on the first ``__anext__`` (or ``async with``); messages that arrive
    from the moment the stream was created are kept. ``aclose()`` (or leaving ``async with``) stops
    delivery to this stream; the channels stay subscribed on the client (``unsubscribe`` them there).
    """

    def __init__(
        self,
        channels: Collection[str] | None,
        *,
        start: Callable[[], Awaitable[None]],
        detach: Callable[[Any], None],
    ) -> None:
        self._channels = None if channels is None else frozenset(channels)
        self._start = start
        self._detach = detach
        self._inbox: Inbox[Notification] = Inbox()
        self._started = False

    @property
    def channels(self) -> frozenset[str] | None:
        return self._channels

    @property
    def pending(self) -> int:
        """Notifications received and not read yet."""
        return len(self._inbox)

    def deliver(self, notification: Notification) -> None:
        self._inbox.put(notification)

    def end(self, error: BaseException | None) -> None:
        self._inbox.end(error)

    async def start(self) -> None:
        """Subscribe the stream's channels (done by the first ``__anext__`` otherwise)."""
        if self._started or self._inbox.ended:
            return
        try:
            await self._start()
        except Exception:  # a refusal ends the stream; a cancellation leaves it to be started again
            await self.aclose()
            raise
        self._started = True

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Notification:
        await self.start()
        return await self._inbox.get()

    async def aclose(self) -> None:
        """Stop delivering to this stream; a reader waiting in ``__anext__`` gets ``StopAsyncIteration``."""
        self._detach(self)
        self._inbox.end(discard=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        channels = "all" if self._channels is None else sorted(self._channels)
        return f"<NotificationStream channels={channels} pending={len(self._inbox)}>"
