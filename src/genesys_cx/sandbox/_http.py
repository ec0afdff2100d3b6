"""The request/answer vocabulary the emulated APIs share.

A handler receives a ``Call`` (the matched operation, path parameters, the raw body and its parsed
form, the caller's bearer token if one was valid) and returns a Starlette ``Response`` or raises
``ErrorReply`` for a documented error. ``envelope`` builds the ``{"status": {"code", "message"}}``
body every Genesys API answers with (the Introduction's "Responses and errors"); ``parse_multipart``
reads ``multipart/form-data`` without touching the bytes of its parts, so an uploaded file comes
back exactly as it was sent.
"""

from __future__ import annotations

import asyncio
import email.message
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ._specs import Operation

__all__ = ["Call", "Dropped", "ErrorReply", "Part", "drop_connection", "envelope", "json_response", "parse_multipart"]


class ErrorReply(Exception):
    """A documented error answer: ``status`` with the envelope (or the given JSON ``body``)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body = self.body if self.body is not None else {"status": {"code": self.status, "message": self.message}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body: its exact bytes and what its headers said."""

    name: str
    data: bytes = field(repr=False)
    filename: str | None = None
    content_type: str | None = None


@dataclass
class Call:
    """What a handler needs to know about one request."""

    request: Request
    op: Operation
    params: dict[str, str]
    body: bytes
    parsed: Any = None
    token: Any = None  # the caller's valid bearer token record (``_auth.IssuedToken``), if any

    @property
    def query(self) -> Mapping[str, str]:
        """The query parameters; one given more than once is its values joined by commas."""
        params = self.request.query_params
        return {name: ",".join(params.getlist(name)) for name in params}

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def envelope(code: int = 0, message: str | None = None, **extra: Any) -> dict[str, Any]:
    """``{"status": {"code": code, "message": message}, **extra}`` (message omitted when None)."""
    status: dict[str, Any] = {"code": code}
    if message is not None:
        status["message"] = message
    return {"status": status, **extra}


def _header_param(value: str, header: str, param: str) -> str | None:
    message = email.message.Message()
    message[header] = value
    found = message.get_param(param, header=header)
    return found if isinstance(found, str) else None


def parse_multipart(body: bytes, content_type: str) -> dict[str, Part]:
    """The parts of a ``multipart/form-data`` body by field name; ``ValueError`` if malformed."""
    boundary = _header_param(content_type, "content-type", "boundary")
    if not boundary:
        raise ValueError("multipart/form-data without a boundary parameter")
    delimiter = b"--" + boundary.encode("latin-1")
    sections = body.split(delimiter)
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise ValueError("multipart body is not terminated by its closing boundary")
    parts: dict[str, Part] = {}
    for section in sections[1:-1]:
        if not section.startswith(b"\r\n") or not section.endswith(b"\r\n"):
            raise ValueError("multipart part is not delimited by CRLF")
        head, separator, data = section[2:-2].partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("multipart part has no header/body separator")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "content-disposition", "name")
        if name is None:
            raise ValueError("multipart part without a form-data name")
        filename = _header_param(disposition, "content-disposition", "filename")
        parts[name] = Part(name, data, filename, headers.get("content-type"))
    return parts


async def drop_connection(send: Send) -> None:
    """Close the connection without answering (the client sees the server disconnect).

    uvicorn hands the application a bound ``send`` of its request cycle; aborting that cycle's
    transport and letting ``connection_lost`` run leaves no answer on the wire. Elsewhere, start an
    answer and never finish it: the client sees the peer close mid-response.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()
        for _ in range(10):
            if getattr(cycle, "disconnected", False):
                return
            await asyncio.sleep(0)
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})


class Dropped(Response):
    """No answer at all: the connection is closed under the client (``drop_connection``).

    The pipeline passes it through unchecked: there is no answer to check against the spec.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await drop_connection(send)
