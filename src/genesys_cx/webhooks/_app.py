"""``webhook_app``: the receiving contract as a Starlette ASGI application.

Run it with any ASGI server (``uvicorn module:app``) or mount it in a bigger Starlette/FastAPI app.
Per request, on ``POST path``:

1. The body is read as raw bytes, at most ``max_body`` of them: a larger ``Content-Length`` is
   answered ``413`` before anything is read, a streamed body is cut off at the limit (``413``).
2. Everything else is ``handle_webhook``'s contract (401 bad signature -- the handler never runs;
   400 malformed; 200 with the ``messageId``; 500 the handler raised; 503 busy or too slow).
3. Sync handlers run in a worker thread, async ones are awaited; after ``timeout`` seconds
   (default 8, under Genesys's 10) the delivery is answered 503 while the handler keeps running
   and keeps its claim (see ``ahandle_webhook``). Without a ``store`` a ``MemoryStore`` is used.

Given both ``on_message`` and ``on_events`` on the same path, a body with a ``type`` or
``channel`` field goes to ``on_message``, any other to ``on_events``. Starlette (the ``server``
extra) is imported when the app is built, not when ``genesys_cx.webhooks`` is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from genesys_cx_api.interactions.models.events_payload import EventsPayload

from .._extras import require
from ._handle import Handler, dispatch, error_response
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
) -> Starlette:
    """An ASGI app receiving Genesys webhooks on ``POST path`` (see the module docstring)."""
    require("server", "webhook_app")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    check_secrets(secret)
    handlers: dict[Kind, Handler] = {}
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

    def answer(status: int, message: str) -> Response:
        reply = error_response(status, message)
        return Response(reply.body, reply.status, media_type=reply.content_type)

    async def receive(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return answer(400, "the Content-Length header is not a number")
            if int(declared) > max_body:
                return answer(413, _TOO_LARGE.format(max_body))
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return answer(413, _TOO_LARGE.format(max_body))
        reply = await dispatch(bytes(body), request.headers, secret, handlers, chosen_store, timeout)
        return Response(reply.body, reply.status, media_type=reply.content_type)

    app = Starlette(routes=[Route(path, receive, methods=["POST"])])
    app.state.webhook_store = chosen_store
    return app
