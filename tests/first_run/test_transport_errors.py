"""A connection that fails is one line naming the operation, the host and the trace id.

Real sockets: a port nobody listens on, a name that cannot resolve (``.invalid``), a server that
accepts and never answers. The httpx error stays the ``__cause__``, without the frames inside httpx
and httpcore and without httpcore's copy of the same error, so a traceback shows it once.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import traceback
from collections.abc import Iterator

import httpx
import pytest
from runtime._core_helpers import dead_port

from genesys_cx import AsyncGenesys, Genesys, RetryPolicy
from genesys_cx.errors import Timeout, TransportError


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    server.close()


def _client(base_url: str, **options: object) -> Genesys:
    return Genesys(base_url=base_url, api_key="k", ccid="c", retry=RetryPolicy.off(), **options)  # type: ignore[arg-type]


def _assert_one_line(error: TransportError, host: str, words: str) -> None:
    text = str(error)
    assert "\n" not in text
    assert error.operation == "get_interaction" and error.trace_id and len(error.trace_id) == 32
    assert "get_interaction" in text and host in text and words in text and error.trace_id[:8] in text
    assert isinstance(error.__cause__, httpx.TransportError)
    printed = "".join(traceback.format_exception(error))
    assert printed.count("Traceback (most recent call last)") == 1, printed
    cause = f"{type(error.__cause__).__name__}: {error.__cause__}"
    assert printed.count(cause) == 2, printed  # the cause's one line, and inside our message
    assert "httpcore" not in printed, printed


def test_a_refused_connection_names_host_operation_and_trace() -> None:
    port = dead_port()
    with _client(f"http://127.0.0.1:{port}") as genesys, pytest.raises(TransportError) as caught:
        genesys.open_media.get_interaction("workitem", "42")
    _assert_one_line(caught.value, f"127.0.0.1:{port}", "could not connect to")


def test_an_unknown_host_names_it() -> None:
    with _client("https://no-such-host.invalid") as genesys, pytest.raises(TransportError) as caught:
        genesys.open_media.get_interaction("workitem", "42")
    _assert_one_line(caught.value, "no-such-host.invalid:443", "could not connect to")


def test_a_server_that_never_answers_is_a_timeout_naming_it(silent_server: int) -> None:
    with _client(f"http://127.0.0.1:{silent_server}", timeout=0.3) as genesys, pytest.raises(Timeout) as caught:
        genesys.open_media.get_interaction("workitem", "42")
    _assert_one_line(caught.value, f"127.0.0.1:{silent_server}", "timed out waiting for the answer of")


def test_the_async_client_says_the_same() -> None:
    port = dead_port()

    async def call() -> None:
        async with AsyncGenesys(base_url=f"http://127.0.0.1:{port}", api_key="k", retry=RetryPolicy.off()) as genesys:
            await genesys.open_media.get_interaction("workitem", "42")

    with pytest.raises(TransportError) as caught:
        asyncio.run(call())
    _assert_one_line(caught.value, f"127.0.0.1:{port}", "could not connect to")
