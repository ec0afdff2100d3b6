"""Receive Genesys webhooks: verify the signature, parse the body, run your handler once.

Digital Channels POSTs agent replies (the Third-Party Messaging webhook) and interaction events
(the Interactions webhook) to your URL, signed with ``X-Hub-Signature: sha1=<HMAC-SHA1 of the raw
body with the channel secret>``. It expects an answer within 10 seconds: 2xx with the
``messageId`` when the message was processed, 5xx when it should be delivered again.

Three levels, pick one:

``parse_message(body, signature, secret)`` / ``parse_interaction_events(...)``
    Verify first (constant time; a list of secrets is accepted during rotation), then decode.
    Returns ``OutgoingSmsMessage`` / ``OutgoingEmailMessage`` / ``UnknownMessage`` (a ``type`` this
    SDK does not know yet, kept whole) or ``EventsPayload``; raises ``InvalidSignature`` or
    ``InvalidPayload`` (both ``WebhookError``).

``handle_webhook(body, headers, secret=..., on_message=...)`` / ``ahandle_webhook``
    The whole contract, framework-neutral: returns a ``WebhookResponse`` (401 bad signature, 400
    malformed, 200 + messageId, 500 handler raised, 503 busy). Flask::

        from genesys_cx.webhooks import SQLiteStore, handle_webhook
        store = SQLiteStore("webhooks.sqlite3")

        @app.post("/genesys")
        def genesys():
            r = handle_webhook(request.get_data(), request.headers, secret=SECRET, on_message=reply, store=store)
            return r.body, r.status, r.headers

    Django (``csrf_exempt`` view)::

        def genesys(request):
            r = handle_webhook(request.body, request.headers, secret=SECRET, on_message=reply, store=store)
            return HttpResponse(r.body, status=r.status, content_type=r.content_type)

``webhook_app(secret, on_message=..., on_events=...)``
    A ready Starlette ASGI app (the ``server`` extra): body size limit (413), handler timeout
    (503 before Genesys gives up), sync handlers in threads, async handlers awaited.

Idempotency: with a store (``MemoryStore``, ``SQLiteStore(path)``, ``RedisStore(url)``), a message
whose handler succeeded is never handled again -- redeliveries get the same 200 -- while one whose
handler raised (or never finished) is handled again on redelivery. The key is the message's own id
(``idempotency_key``), else the SHA-256 of the body. Handlers receive the generated models; unknown
enum values are kept (``member.is_known`` is False). A handler may return the ``messageId`` to
answer; by default it is the message's ``channel.messageId``.
"""

from typing import TYPE_CHECKING

from ..errors import InvalidPayload, InvalidSignature, WebhookError
from ._app import webhook_app
from ._handle import HandlerPool, WebhookResponse, ahandle_webhook, handle_webhook
from ._parse import (
    OutgoingMessage,
    Secrets,
    UnknownMessage,
    idempotency_key,
    parse_interaction_events,
    parse_message,
)
from ._redis import RedisStore
from ._stores import Claim, ClaimState, IdempotencyStore, MemoryStore, SQLiteStore

__all__ = [
    "Claim",
    "ClaimState",
    "HandlerPool",
    "HeaderDeadlineProtocol",
    "IdempotencyStore",
    "InvalidPayload",
    "InvalidSignature",
    "MemoryStore",
    "OutgoingMessage",
    "RedisStore",
    "SQLiteStore",
    "Secrets",
    "UnknownMessage",
    "WebhookError",
    "WebhookResponse",
    "ahandle_webhook",
    "handle_webhook",
    "idempotency_key",
    "parse_interaction_events",
    "parse_message",
    "server_config",
    "webhook_app",
]

if TYPE_CHECKING:
    from ._server import HeaderDeadlineProtocol, server_config

_SERVER_NAMES = ("HeaderDeadlineProtocol", "server_config")


def __getattr__(name: str) -> object:
    """``HeaderDeadlineProtocol`` and ``server_config`` load uvicorn: only when asked for."""
    if name in _SERVER_NAMES:
        from . import _server

        return getattr(_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
