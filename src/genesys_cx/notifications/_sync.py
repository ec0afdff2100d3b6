"""``SyncCometdClient``: the async client on an event loop of its own, for synchronous programs.

A daemon thread runs an asyncio loop; the ``CometdClient`` and its ``httpx.AsyncClient`` live
there, and every method of the sync client hands its work to that loop and waits for the result.
Readers get a ``BlockingStream`` (``for notification in stream``, or ``stream.get(timeout=...)``);
callbacks run on the notifications thread. ``close()`` (or leaving ``with``) disconnects, closes
the httpx client and stops the thread; a program that forgets it is not kept alive by the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, cast, overload

import httpx

from ..errors import SessionEnded
from ._client import DEFAULT_PATH, CometdClient, State
from ._messages import Notification
from ._streams import Listener, maybe_await

__all__ = ["BlockingStream", "SyncCometdClient"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _AsyncStream(Protocol[T_co]):
    def __anext__(self) -> Awaitable[T_co]: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class _LoopThread:
    """An asyncio loop in a daemon thread; ``call(fn, *args)`` runs *fn* there and waits."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @overload
    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float | None = None) -> T: ...

    @overload
    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T: ...

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        if threading.current_thread() is self._thread:
            raise RuntimeError("a blocking call cannot be made from the notifications thread (e.g. in a callback)")
        if not self._thread.is_alive():
            raise SessionEnded("the notifications client is closed", operation="cometd")

        async def run() -> Any:
            return await maybe_await(fn(*args))

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def drain() -> None:
            current = asyncio.current_task()
            tasks = [task for task in asyncio.all_tasks() if task is not current]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
            await self._loop.shutdown_asyncgens()
            await self._loop.shutdown_default_executor()

        self.call(drain)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _next(stream: _AsyncStream[T], timeout: float | None) -> tuple[bool, T | None]:
    await stream.start()  # never under the timeout: a subscription half made is worse than a slow one
    try:
        return True, await asyncio.wait_for(stream.__anext__(), timeout)
    except StopAsyncIteration:
        return False, None


class BlockingStream(Generic[T]):
    """A blocking iterator over an async stream living on a ``SyncCometdClient``'s loop.

    ``next()`` waits as long as it takes; ``get(timeout)`` raises ``TimeoutError`` instead of
    waiting longer (nothing is lost: the item stays for the next call). ``close()`` may be called
    from any thread and makes a waiting ``next()`` stop.
    """

    def __init__(self, call: Callable[..., Any], stream: _AsyncStream[T]) -> None:
        self._call = call
        self._stream = stream
        self._closed = False

    def start(self) -> None:
        """Subscribe now rather than on the first ``next()`` (errors are raised here)."""
        self._call(self._stream.start)

    def get(self, timeout: float | None = None) -> T:
        """The next item; ``StopIteration`` once the stream ended, ``TimeoutError`` after *timeout* s."""
        if self._closed:
            raise StopIteration
        found, item = self._call(_next, self._stream, timeout)
        if not found:
            raise StopIteration
        return cast(T, item)

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        return self.get()

    def close(self) -> None:
        """End the stream (for a statistics subscription: delete it). Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(SessionEnded):  # the client closed first: the stream is over already
            self._call(self._stream.aclose)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SyncCometdClient:
    """The synchronous twin of ``CometdClient`` (see the module docstring).

    Args:
        http: builds the ``httpx.AsyncClient`` to use (called on the notifications thread, and closed
            by ``close()``), or a base URL string for a plain client.
        path, headers, **options: as for ``CometdClient``; a sync *headers* provider runs on the
            notifications thread.
    """

    def __init__(
        self,
        http: Callable[[], httpx.AsyncClient] | str,
        path: str = DEFAULT_PATH,
        *,
        headers: Callable[[], Mapping[str, str]] | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        request_timeout: float = 30.0,
        poll_margin: float = 15.0,
    ) -> None:
        factory: Callable[[], httpx.AsyncClient] = (
            (lambda: httpx.AsyncClient(base_url=http)) if isinstance(http, str) else http
        )
        self._loop = _LoopThread("genesys-cx-notifications")
        self._closed = False
        try:
            self._http = self._loop.call(factory)
            self._client = self._loop.call(
                lambda: CometdClient(
                    self._http,
                    path,
                    headers=headers,
                    backoff_base=backoff_base,
                    backoff_cap=backoff_cap,
                    request_timeout=request_timeout,
                    poll_margin=poll_margin,
                )
            )
        except BaseException:
            self._loop.stop()
            raise

    @property
    def async_client(self) -> CometdClient:
        """The ``CometdClient`` on the notifications loop (use it only inside ``call``)."""
        return self._client

    @property
    def state(self) -> State:
        return self._client.state

    @property
    def client_id(self) -> str | None:
        return self._client.client_id

    @property
    def channels(self) -> tuple[str, ...]:
        return self._client.channels

    @overload
    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float | None = None) -> T: ...

    @overload
    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T: ...

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run *fn(*args)* (sync or async) on the notifications loop and return its result."""
        return self._loop.call(fn, *args, timeout=timeout)

    def stream(self, stream: _AsyncStream[T]) -> BlockingStream[T]:
        """A blocking iterator over an async stream created on the notifications loop."""
        return BlockingStream(self.call, stream)

    def start(self) -> None:
        self._loop.call(self._client.start)

    def subscribe(self, *channels: str) -> None:
        self._loop.call(self._client.subscribe, *channels)

    def unsubscribe(self, *channels: str) -> None:
        self._loop.call(self._client.unsubscribe, *channels)

    def updates(self, *channels: str) -> BlockingStream[Notification]:
        """A blocking iterator of the notifications of *channels* (see ``CometdClient.updates``)."""
        return BlockingStream(self.call, self._loop.call(self._client.updates, *channels))

    def add_listener(self, channel: str | None, callback: Callable[[Notification], None]) -> Callable[[], None]:
        """*callback* runs on the notifications thread for each notification on *channel*."""
        listener: Listener = callback
        remove = self._loop.call(self._client.add_listener, channel, listener)
        return lambda: self._loop.call(remove)

    def close(self) -> None:
        """Disconnect, close the httpx client and stop the notifications thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.call(self._client.close)
            self._loop.call(self._http.aclose)
        finally:
            self._loop.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SyncCometdClient state={self.state} channels={list(self.channels)}>"
