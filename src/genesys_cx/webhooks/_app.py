"""``webhook_app``: the receiving contract as a Starlette ASGI application.

Run it with any ASGI server (``uvicorn module:app``) or mount it in a bigger Starlette/FastAPI app.
Per request, on ``POST path``:

1. A deadline starts: every request is answered within ``timeout`` seconds (default 8, under
   Genesys's 10) of reaching the app, whatever the client, the store or the handler do.
2. The body is read as raw bytes, at most ``max_body`` of them: a larger ``Content-Length`` is
   answered ``413`` before anything is read, a streamed body is cut off at the limit (``413``), a
   body still arriving at the deadline is answered ``408`` and the connection closed.
3. Everything else is ``ahandle_webhook``'s contract (401 bad signature -- the handler never runs;
   400 malformed; 200 with the ``messageId``; 500 the handler raised; 503 busy, store unreachable
   or too slow). Handlers run in the app's own ``HandlerPool`` of ``max_concurrency`` slots (sync
   ones on its threads, async ones awaited); with every slot busy a delivery is answered 503 at
   once. A handler still running at the deadline keeps running and keeps its claim (heartbeat).
   Without a ``store`` a ``MemoryStore`` is used.

Slow clients whose *headers* never finish never reach an ASGI app: run it under the server settings
of ``genesys_cx.webhooks.HeaderDeadlineProtocol`` (see the README) to cut them off.

Given both ``on_message`` and ``on_events`` on the same path, a body with a ``type`` or
``channel`` field goes to ``on_message``, any other to ``on_events``. Starlette (the ``server``
extra) is imported when the app is built, not when ``genesys_cx.webhooks`` is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from genesys_cx_api.interactions.models.events_payload import EventsPayload

from .._extras import require
from ._handle import HandlerPool, WebhookCallback, dispatch, error_response
from ._parse import Kind, OutgoingMessage, Secrets, check_secrets
from ._stores import IdempotencyStore, MemoryStore

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["webhook_app"]

_TOO_LARGE = "the body is larger than the {} bytes this receiver accepts"


def webhook_app(
    secret: Secrets,
    on_message: Callable[[OutgoingMessage], Awaitable[str | None] | str | None] | None = None,
    on_events: Callable[[EventsPayload], Awaitable[str | None] | str | None] | None = None,
    *,
    store: IdempotencyStore | None = None,
    timeout: float = 8.0,
    max_body: int = 1_048_576,
    path: str = "/",
    max_concurrency: int = 32,
) -> Starlette:
    """An ASGI app receiving Genesys webhooks on ``POST path`` (see the module docstring)."""
    require("server", "webhook_app")
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import Response
    from starlette.routing import Route

    check_secrets(secret)
    handlers: dict[Kind, WebhookCallback] = {}
    if on_message is not None:
        handlers["message"] = on_message
    if on_events is not None:
        handlers["events"] = on_events
    if not handlers:
        raise ValueError("webhook_app needs on_message and/or on_events")
    for handler in handlers.values():
        if not callable(handler):
            raise TypeError(f"a webhook handler must be callable, not {type(handler).__name__}")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if max_body < 0:
        raise ValueError(f"max_body must be a number of bytes, not {max_body!r}")
    chosen_store: IdempotencyStore = MemoryStore() if store is None else store
    pool = HandlerPool(max_concurrency)

    def answer(status: int, message: str, *, close: bool = False) -> Response:
        reply = error_response(status, message)
        headers = {"Connection": "close"} if close else None
        return Response(reply.body, reply.status, headers=headers, media_type=reply.content_type)

    async def read(request: Request) -> bytes | None:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return None
        return bytes(body)

    async def receive(request: Request) -> Response:
        deadline = asyncio.get_running_loop().time() + timeout
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return answer(400, "the Content-Length header is not a number", close=True)
            if int(declared) > max_body:
                return answer(413, _TOO_LARGE.format(max_body), close=True)
        try:
            body = await asyncio.wait_for(read(request), timeout)
        except TimeoutError:
            return answer(408, f"the body did not arrive within {timeout:g} s", close=True)
        except ClientDisconnect:
            return answer(400, "the client disconnected before the body arrived", close=True)
        if body is None:
            return answer(413, _TOO_LARGE.format(max_body), close=True)
        reply = await dispatch(body, request.headers, secret, handlers, chosen_store, deadline, pool)
        return Response(reply.body, reply.status, media_type=reply.content_type)

    app = Starlette(routes=[Route(path, receive, methods=["POST"])])
    app.state.webhook_store = chosen_store
    app.state.webhook_pool = pool
    return app
