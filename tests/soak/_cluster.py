"""Real receiver processes, a loopback round-robin in front of them, and a Genesys-like sender.

Shared by the crash test, the multi-instance test and the soak run. Everything is loopback only,
bounded in count and time, and stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from runtime._webhook_helpers import sms

from genesys_cx.signing import sign

RECEIVER = Path(__file__).with_name("_receiver.py")
SECRET = "soak-channel-secret"
#: Gaps between a Genesys-like sender's 8 attempts: 8 deliveries over 30 s.
GENESYS_GAPS = (0.0, 2.0, 2.0, 3.0, 3.0, 5.0, 6.0, 9.0)
#: Genesys waits 10 s for an answer; an attempt without one by then is "unanswered within deadline".
ANSWER_DEADLINE = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def message(message_id: str, text: str = "hello") -> bytes:
    """The documented SMS webhook body with this id and text."""
    return json.dumps(sms(message_id, text)).encode()


class Receiver:
    """One ``_receiver.py`` process on a fixed port (so a restart takes the same address)."""

    def __init__(self, store: str, log: Path, port: int | None = None, *, hang: bool = False) -> None:
        self.store, self.log, self.port, self.hang = store, log, port or free_port(), hang
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Receiver:
        command = [sys.executable, str(RECEIVER), "--store", self.store, "--log", str(self.log)]
        command += ["--port", str(self.port)] + (["--hang"] if self.hang else [])
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60  # an upper bound only
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"receiver on port {self.port} did not start")
            time.sleep(0.05)

    def kill(self) -> int:
        """SIGKILL the process (no cleanup of any kind runs); its pid."""
        assert self.process is not None
        pid = self.process.pid
        os.kill(pid, signal.SIGKILL)
        self.process.wait(30)
        return pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)


class RoundRobin:
    """A loopback TCP front: each connection goes to the next receiver that accepts it."""

    def __init__(self, ports: Sequence[int]) -> None:
        self.ports = list(ports)
        self.port = 0
        self._next = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="round-robin", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> RoundRobin:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        self._thread.join(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        for _ in range(len(self.ports)):
            port = self.ports[self._next % len(self.ports)]
            self._next += 1
            with contextlib.suppress(OSError):
                upstream = await asyncio.open_connection("127.0.0.1", port)
                break
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@dataclass
class Delivery:
    """What a Genesys-like sender saw for one message: one outcome per attempt."""

    message_id: str
    outcomes: list[str] = field(default_factory=list)  # "200", "503", ..., "dropped", "no answer"

    @property
    def acknowledged(self) -> bool:
        return any(outcome.startswith("2") for outcome in self.outcomes)

    @property
    def unanswered(self) -> int:
        return self.outcomes.count("no answer")


_CLIENT: httpx.Client | None = None
_CLIENT_LOCK = threading.Lock()


def _client() -> httpx.Client:
    """One client for every sender thread (building one per attempt costs more CPU than the test
    can spare on 2 cores); no keep-alive, so each attempt is a new connection, as Genesys's are."""
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is None:
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
            _CLIENT = httpx.Client(timeout=ANSWER_DEADLINE, limits=limits)
        return _CLIENT


def attempt(url: str, body: bytes, *, drop: bool = False) -> str:
    """One delivery attempt; ``drop=True`` sends the request and hangs up without reading the answer."""
    headers = {"Content-Type": "application/json", "X-Hub-Signature": sign(SECRET, body)}
    if drop:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_DEADLINE) as sock:
            head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
            sock.sendall(head.encode() + body)
        return "dropped by the sender"
    try:
        response = _client().post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return "no answer"
    except httpx.TransportError:
        return "dropped"
    return str(response.status_code)


def deliver(
    url: str, message_id: str, body: bytes, gaps: Sequence[float] = GENESYS_GAPS, drop_first: bool = False
) -> Delivery:
    """Deliver like Genesys: up to ``len(gaps)`` attempts, each after its gap, until a 2xx."""
    delivery = Delivery(message_id)
    for number, gap in enumerate(gaps):
        time.sleep(gap)
        delivery.outcomes.append(attempt(url, body, drop=drop_first and number == 0))
        if delivery.acknowledged:
            break
    return delivery


@dataclass
class Tally:
    """The handler log read back: what ran where, and the counts the issue asks for."""

    processed: Counter[str]
    processed_by: dict[str, list[int]]

    @classmethod
    def read(cls, log: Path) -> Tally:
        processed: Counter[str] = Counter()
        by: dict[str, list[int]] = {}
        for line in log.read_text().splitlines():
            what, message_id, pid = line.split()
            if what == "processed":
                processed[message_id] += 1
                by.setdefault(message_id, []).append(int(pid))
        return cls(processed, by)

    def lost(self, message_ids: Sequence[str]) -> list[str]:
        return [m for m in message_ids if self.processed[m] == 0]

    def twice(self, killed: set[int]) -> tuple[list[str], list[str]]:
        """Messages processed more than once: (inside the crash window, outside it).

        Inside: every run but the last was in a process SIGKILLed afterwards -- it did the work and
        died before the store recorded it. Outside: anything else (must never happen).
        """
        inside: list[str] = []
        outside: list[str] = []
        for message_id, pids in self.processed_by.items():
            if len(pids) > 1:
                (inside if all(pid in killed for pid in pids[:-1]) else outside).append(message_id)
        return inside, outside


@contextlib.contextmanager
def receivers(stores: Sequence[str], log: Path, **options: bool) -> Iterator[list[Receiver]]:
    started = [Receiver(store, log, **options).start() for store in stores]
    try:
        yield started
    finally:
        for receiver in started:
            receiver.stop()
