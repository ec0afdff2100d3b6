"""Test helpers of the runtime core: a scripted loopback server, a dead port, and isolation of the secret registry."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from genesys_cx import _redact


@dataclass
class Answer:
    """One scripted answer: status, a JSON value or raw bytes, headers, and an optional delay before it."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def response(self) -> Response:
        if self.body is not None:
            return Response(self.body, status_code=self.status, headers=self.headers)
        if self.json is None:
            return Response(b"", status_code=self.status, headers=self.headers)
        return Response(
            json.dumps(self.json).encode(),
            status_code=self.status,
            headers=self.headers,
            media_type="application/json",
        )


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Scripted:
    """A Starlette app answering every path from a script (the last answer repeats) and recording requests."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers) or [Answer()]
        self.seen: list[Seen] = []
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])])

    async def _handle(self, request: Request) -> Response:
        self.seen.append(Seen(request.method, request.url.path, dict(request.headers), await request.body()))
        answer = self.answers[min(len(self.seen), len(self.answers)) - 1]
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return answer.response()


def dead_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def isolated_secrets() -> Iterator[None]:
    """Secrets registered inside the block are forgotten afterwards (drawn secrets must not mask other tests' logs)."""
    registry = _redact._secrets
    with registry._lock:
        saved, saved_transient = registry._values.copy(), registry._transient.copy()
    try:
        yield
    finally:
        with registry._lock:
            registry._values, registry._transient = saved, saved_transient
            registry._pattern = None
