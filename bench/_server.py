"""A minimal, fast HTTP/1.1 server for the loopback figures: asyncio protocol, keep-alive, TCP_NODELAY.

It reads each request whole (headers and ``Content-Length`` body) and answers a fixed JSON body, so
the server adds as little as possible to the round trip both contenders pay. Run in a subprocess
(``python -m bench._server``: prints the port, serves until stdin closes) so client and server use
the machine's two cores instead of one GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator

__all__ = ["BODY", "fast_server", "python_server"]

BODY = b'{"status":{"code":0},"data":{"ids":["m-1"]}}'
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class _Http(asyncio.Protocol):
    def __init__(self) -> None:
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in bytes(buf[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = end + 4 + length
            if len(buf) < total:
                return  # the body is not all here yet
            del buf[:total]
            assert self._transport is not None
            self._transport.write(_RESPONSE)


async def _main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    # Serve until the parent closes our stdin.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def fast_server() -> contextlib.AbstractContextManager[str]:
    """``with fast_server() as url:`` the server runs in a subprocess; *url* is ``http://127.0.0.1:<port>``."""
    return _subprocess_server([sys.executable, "-m", "bench._server"])


def python_server(
    code: str, *args: str, cwd: str | None = None, env: dict[str, str] | None = None
) -> contextlib.AbstractContextManager[str]:
    """Run *code* (``python -c``) in a subprocess that prints its URL, then serves until stdin closes."""
    return _subprocess_server([sys.executable, "-c", code, *args], cwd=cwd, env=env)


@contextlib.contextmanager
def _subprocess_server(command: list[str], cwd: str | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the server subprocess ({' '.join(command[1:3])}) did not start")
        yield url
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    asyncio.run(_main())
