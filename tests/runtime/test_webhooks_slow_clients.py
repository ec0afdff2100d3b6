"""Slow and silent clients are cut off: header and body read deadlines, over real sockets.

Each client trickles its request one byte at a time for up to ``TRICKLE`` seconds (an upper bound:
without the deadlines they would hold their connections that long). The test asserts that the
*server* closed every one of them (or answered 408 and closed) while the client was still sending.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest

from genesys_cx._serve import ServerThread
from genesys_cx.webhooks import HeaderDeadlineProtocol, OutgoingMessage, webhook_app

from ._webhook_helpers import SECRET, encode, signed, sms

TRICKLE = 30.0  # how long a client keeps trickling if nobody stops it (never an expectation)
CLIENTS = 20


class QuickHeaderDeadline(HeaderDeadlineProtocol):
    header_timeout = 0.5


async def _trickle(port: int, head: bytes, rest: bytes) -> bytes:
    """Send *head* at once, then *rest* one byte every 0.1 s; what the server sent before closing.

    Returns ``b"<still open>"`` if the client ran out of bytes or time with the connection open.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    try:
        writer.write(head)
        await writer.drain()
        loop = asyncio.get_running_loop()
        give_up = loop.time() + TRICKLE
        for byte in rest:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 0.1)
            except TimeoutError:
                chunk = None
            except ConnectionError:  # closed with our bytes unread: the kernel resets the connection
                return received or b"<closed>"
            if chunk == b"":
                return received or b"<closed>"
            if chunk:
                received += chunk
            if loop.time() > give_up:
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                return received or b"<closed>"
        return b"<still open>"
    finally:
        writer.close()


def _run_clients(port: int, head: bytes, rest: bytes) -> list[bytes]:
    async def main() -> list[bytes]:
        return await asyncio.gather(*(_trickle(port, head, rest) for _ in range(CLIENTS)))

    return asyncio.run(main())


@pytest.fixture
def server() -> Iterator[ServerThread]:
    handled: list[OutgoingMessage] = []
    app = webhook_app(SECRET, handled.append, timeout=0.5)
    thread = ServerThread(app, protocol=QuickHeaderDeadline).start()
    yield thread
    thread.stop()
    assert handled == []  # no trickled request ever reached the handler (none was answered 200)


def test_clients_trickling_headers_are_cut_off(server: ServerThread) -> None:
    endless_headers = b"X-Padding: " + b"a" * 100_000
    outcomes = _run_clients(server.port, b"POST / HTTP/1.1\r\nHost: x\r\n", endless_headers)
    assert outcomes == [b"<closed>"] * CLIENTS


def test_silent_connections_are_cut_off(server: ServerThread) -> None:
    async def silent() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            return await asyncio.wait_for(reader.read(65536), TRICKLE) or b"<closed>"
        except TimeoutError:
            return b"<still open>"
        finally:
            writer.close()

    async def main() -> list[bytes]:
        return await asyncio.gather(*(silent() for _ in range(CLIENTS)))

    assert asyncio.run(main()) == [b"<closed>"] * CLIENTS


def test_clients_trickling_a_body_get_408_and_are_closed(server: ServerThread) -> None:
    body = encode(sms("trickled"))
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += f"X-Hub-Signature: {signed(body)['X-Hub-Signature']}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    outcomes = _run_clients(server.port, head, body * 100)
    # the server answered 408 and closed; closing with the client's bytes unread makes the kernel
    # reset the connection, which may discard the 408 (or the end of it) before the client reads it
    answered = [outcome for outcome in outcomes if outcome != b"<closed>"]
    assert all(outcome.startswith(b"HTTP/1.1 408 ") for outcome in answered), outcomes
    for headers, text in (_split(outcome) for outcome in answered):
        assert headers is None or b"connection: close" in headers.lower(), headers
        assert text is None or b"did not arrive within" in text, text


def _split(answer: bytes) -> tuple[bytes | None, bytes | None]:
    """(headers, body) of *answer*, each None when the connection reset cut it short."""
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return None, None
    length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
    return head, body if length and len(body) >= int(length.group(1)) else None
