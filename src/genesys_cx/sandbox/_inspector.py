"""The sandbox inspector: a live web page of every request, signature check, delivery and CometD session.

``Inspector`` is the sandbox's outermost ASGI layer. It records each API request as it passes
(method, path, operation, status, latency, trace id, the validation verdict or the fault that
answered instead, and a masked beginning of both bodies: a streamed body is never held, only its
first ``CAPTURE_LIMIT`` bytes are seen), and serves the inspector:

=======  ================================  =====================================================
GET      /_sandbox/  (Accept: text/html)   the page (programs asking for JSON keep the overview)
GET      /_sandbox/inspector/              the page, whatever the Accept header
GET      /_sandbox/inspector/events        the buffered events, oldest first (``?after=ID``)
GET      /_sandbox/inspector/events/{id}   one event with its detail (headers, masked bodies)
GET      /_sandbox/inspector/stream        server-sent events: every new event as it happens
                                           (``Last-Event-ID`` / ``?after=ID`` replays the ring)
GET      /_sandbox/inspector/cometd        CometD sessions, subscriptions, last messages, service
GET      /_sandbox/inspector/static/NAME   the page's CSS and JavaScript (shipped in the wheel)
=======  ================================  =====================================================

The page's actions (faults, agent replies) are plain calls of the control API (``_control``), so
they follow its rules. The inspector itself answers loopback clients only, and only under a
loopback host name (a DNS-rebinding page cannot read it), unless ``SandboxConfig.inspector_remote``
is set. Its page loads nothing from outside (no CDN) and runs under a strict Content-Security-Policy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import AsyncIterator
from functools import cache
from importlib import resources
from typing import Any

import httpx
from genesys_cx_api._registry import APIS
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genesys_cx._redact import get_logger, redact_url

from ._events import CALL_KEY, CALL_STATE_KEY, CAPTURE_LIMIT, EventLog, InspectorEvent, clip
from ._inspector_cometd import CometdTracker

__all__ = ["INSPECTOR_PATH", "Inspector", "wants_html"]

logger = get_logger("sandbox")

INSPECTOR_PATH = "/_sandbox/"
_STATIC = {"inspector.css": "text/css", "inspector.js": "text/javascript"}
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
_KEEP_ALIVE = 15.0
#: Base paths, longest first, to name the API of a request no operation matched.
_BASES = sorted(((api.base_path, name) for name, api in APIS.items()), key=lambda x: -len(x[0]))


def wants_html(accept: str | None) -> bool:
    """True when an ``Accept`` header prefers ``text/html`` to JSON (a browser, not a program)."""
    quality: dict[str, float] = {}
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    html = quality.get("text/html", 0.0)
    return html > 0 and html > quality.get("application/json", 0.0)


@cache
def _static(name: str) -> bytes:
    return resources.files("genesys_cx.sandbox").joinpath("_inspector_static", name).read_bytes()


class _Capture:
    """The first ``CAPTURE_LIMIT`` bytes of a body passing through, and its total size."""

    __slots__ = ("chunks", "kept", "total")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.kept < CAPTURE_LIMIT and chunk:
            piece = chunk[: CAPTURE_LIMIT - self.kept]
            self.chunks.append(piece)
            self.kept += len(piece)

    def whole(self) -> bytes | None:
        """The body if it was captured whole."""
        return b"".join(self.chunks) if self.total == self.kept else None

    def data(self) -> bytes:
        return b"".join(self.chunks)


class _Sending:
    """Wraps the server's ``send``, capturing the answer; stands in for the server's request cycle.

    ``send`` of uvicorn is a bound method of its request cycle, and the fault layer's "drop the
    connection" reaches the cycle's transport through it (``send.__self__.transport``): attributes
    this object lacks are read from that cycle, so a drop still leaves no answer on the wire.
    """

    def __init__(self, send: Send, answer: _Capture, head: dict[str, Any]) -> None:
        self._send, self._answer, self._head = send, answer, head

    def __getattr__(self, name: str) -> Any:
        return getattr(getattr(self._send, "__self__", None), name)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._head.update(status=message["status"], headers=list(message.get("headers", ())))
        elif message["type"] == "http.response.body":
            self._answer.feed(message.get("body", b""))
        await self._send(message)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class Inspector:
    """The recording layer and the inspector's routes (see the module docstring)."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state
        self.log: EventLog = state.events
        self.cometd = CometdTracker(self.log)
        self._notifications = APIS["statistics"].base_path + "/notifications"
        self._router = Router(
            routes=[
                Route("/_sandbox/inspector/", self._page, methods=["GET"]),
                Route("/_sandbox/inspector/events", self._events, methods=["GET"]),
                Route("/_sandbox/inspector/events/{event_id:int}", self._event, methods=["GET"]),
                Route("/_sandbox/inspector/stream", self._stream, methods=["GET"]),
                Route("/_sandbox/inspector/cometd", self._cometd, methods=["GET"]),
                Route("/_sandbox/inspector/static/{name}", self._asset, methods=["GET"]),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/_sandbox/inspector") or (
            path in ("/_sandbox", "/_sandbox/")
            and scope["method"] == "GET"
            and wants_html(Headers(scope=scope).get("accept"))
        ):
            refusal = self._refusal(scope)
            if refusal is not None:
                await PlainTextResponse(refusal, status_code=403)(scope, receive, send)
            elif path.startswith("/_sandbox/inspector"):
                await self._router(scope, receive, send)
            else:
                await (await self._page(Request(scope)))(scope, receive, send)
            return
        if path.startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        await self._record(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        if self.state.config.inspector_remote:
            return None
        client = scope.get("client")
        if client and not _is_loopback(str(client[0])):
            return "The sandbox inspector answers loopback clients only (SandboxConfig.inspector_remote).\n"
        host = _host_name(Headers(scope=scope).get("host", ""))
        if host and not _is_loopback(host):
            return f"The sandbox inspector answers under a loopback host name only, not {clip(host, 80)!r}.\n"
        return None

    # -- recording --------------------------------------------------------------------------------

    async def _record(self, scope: Scope, receive: Receive, send: Send) -> None:
        notes: dict[str, Any] = {}
        scope[CALL_KEY] = call = self.log.next_call()
        scope[CALL_STATE_KEY] = notes
        request, answer = _Capture(), _Capture()
        answer_head: dict[str, Any] = {}
        started = time.perf_counter()

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request.feed(message.get("body", b""))
            return message

        error: str | None = None
        try:
            await self.app(scope, receiving, _Sending(send, answer, answer_head).send)
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            took = (time.perf_counter() - started) * 1000
            try:
                self._finish(scope, call, notes, request, answer, answer_head, took, error)
            except Exception:  # the inspector never breaks a request it watches
                logger.exception("sandbox inspector: could not record %s %s", scope["method"], scope["path"])

    def _finish(
        self,
        scope: Scope,
        call: int,
        notes: dict[str, Any],
        request: _Capture,
        answer: _Capture,
        head: dict[str, Any],
        took: float,
        error: str | None,
    ) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        op = getattr(scope.get("endpoint"), "op", None)  # set by the router (in a copy of the scope when a
        if op is None:  # layer rewrote the path, e.g. without its trailing slash): then look it up
            found = self.state.specs.find(method, path.rstrip("/") or "/")
            op = found[0] if found else None
        api = op.api if op is not None else next((name for base, name in _BASES if path.startswith(base)), None)
        status: int | None = head.get("status")
        check, rule = None, None
        if "refused" in notes:
            check, rule = "failed", notes["refused"][1]
        elif op is not None and status is not None and "fault" not in notes:
            check = "passed"
        masker = self.log.masker
        request_headers = Headers(scope=scope)
        answer_headers = Headers(raw=head.get("headers", []))
        query = scope.get("query_string", b"")
        try:
            shown_path = redact_url(httpx.URL(path=path, query=query)) if query else path
        except httpx.InvalidURL:  # a path httpx refuses (control characters): shown without its query
            shown_path = path
        summary = {
            "call": call,
            "api": api,
            "operation": op.operation_id if op is not None else (_bayeux_label(path) if api == "statistics" else None),
            "method": method,
            "path": clip(masker.text(shown_path), 300),
            "status": status,
            "ms": round(took, 1),
            "trace": request_headers.get("x-b3-traceid"),
            "check": check,
            "rule": rule,
            "fault": notes.get("fault"),
            "error": error if status is None else None,
            "sent": request.total,
            "received": answer.total,
        }
        detail = {
            "request": {
                "headers": masker.headers(scope.get("headers", ())),
                "body": masker.body(request.data(), request.total, request_headers.get("content-type")),
            },
            "answer": {
                "headers": masker.headers(head.get("headers", ())),
                "body": masker.body(answer.data(), answer.total, answer_headers.get("content-type")),
            },
        }
        self.log.add("request", summary, detail)
        if path.startswith(self._notifications):
            sent, got = request.whole(), answer.whole()
            if sent is not None and got is not None:
                self.cometd.observe(sent, request_headers.get("content-type"), got, status)

    # -- the inspector's routes -------------------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        return Response(_static("index.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)

    async def _asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return PlainTextResponse("no such file", status_code=404)
        return Response(_static(name), media_type=_STATIC[name] + "; charset=utf-8", headers=_HEADERS)

    async def _events(self, request: Request) -> Response:
        after = _int(request.query_params.get("after"))
        kind = request.query_params.get("kind")
        return JSONResponse(
            {
                "capacity": self.log.capacity,
                "dropped": self.log.dropped,
                "events": [e.summary for e in self.log.events(after, kind)],
            },
            headers={"Cache-Control": "no-store"},
        )

    async def _event(self, request: Request) -> Response:
        event = self.log.get(request.path_params["event_id"])
        if event is None:
            return JSONResponse({"error": "no such event (it may have left the ring buffer)"}, status_code=404)
        return JSONResponse({**event.summary, "detail": event.detail}, headers={"Cache-Control": "no-store"})

    async def _cometd(self, request: Request) -> Response:
        emulator = self.state.statistics
        bayeux = getattr(emulator, "bayeux", None)
        client_ids = getattr(bayeux, "client_ids", None)
        live = set(client_ids()) if callable(client_ids) else None
        available = getattr(emulator, "available", None)
        service = None if available is None else "AVAILABLE" if available else "UNAVAILABLE"
        return JSONResponse(self.cometd.snapshot(live, service), headers={"Cache-Control": "no-store"})

    async def _stream(self, request: Request) -> Response:
        after = _int(request.headers.get("last-event-id") or request.query_params.get("after"))
        queue = self.log.subscribe()

        async def frames() -> AsyncIterator[str]:
            try:
                last = after
                yield "retry: 1000\n\n"
                for kept in self.log.events(after):
                    last = kept.id
                    yield _frame(kept)
                while True:
                    try:
                        new = await asyncio.wait_for(queue.get(), _KEEP_ALIVE)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if new is None:  # fell behind: the browser reconnects and replays from the ring
                        return
                    if new.id > last:
                        last = new.id
                        yield _frame(new)
            finally:
                self.log.unsubscribe(queue)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)


def _frame(event: InspectorEvent) -> str:
    return f"id: {event.id}\ndata: {json.dumps(event.summary, separators=(',', ':'))}\n\n"


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def _bayeux_label(path: str) -> str | None:
    if "/notifications" not in path:
        return None
    kind = path.rsplit("/notifications", 1)[1].strip("/")
    return f"cometd {kind}" if kind else "cometd"
