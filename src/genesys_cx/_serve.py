"""Run an ASGI application with uvicorn on a loopback port, in a background thread.

Used by the sandbox (``with Sandbox() as sb``), the demo's webhook receiver and the tests: real
sockets, real HTTP, no mocks. The port is chosen by the OS (port 0) unless given, and the server
is ready when the context manager yields.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["ServerThread", "serve"]


class ServerThread:
    """A uvicorn server for *app* on ``host:port`` in a daemon thread; ``start()`` / ``stop()``."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "warning",
        protocol: type[asyncio.Protocol] | None = None,
    ) -> None:
        import uvicorn  # the server extra; imported here so the SDK's import stays cheap

        from .webhooks._server import HeaderDeadlineProtocol

        # uvicorn binds the port itself: a socket handed in pre-bound loses TCP_NODELAY on the
        # accepted connections, and every small answer then waits ~40 ms for a delayed ACK.
        self.host, self.port = host, port
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=2,
            http=protocol or HeaderDeadlineProtocol,  # a client that never finishes its headers is cut off
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="uvicorn-server", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve())
        except BaseException as exc:  # reported by start()/stop()
            self._error = exc

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} failed to start") from self._error
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {self.url} did not start within {timeout} s")
            time.sleep(0.005)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


@contextlib.contextmanager
def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[ServerThread]:
    """``with serve(app) as server: httpx.get(server.url + "/...")``."""
    server = ServerThread(app, host, port).start()
    try:
        yield server
    finally:
        server.stop()
