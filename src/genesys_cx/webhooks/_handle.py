"""The whole receiving contract as plain functions, for any web framework.

``handle_webhook(body, headers, secret=..., on_message=...)`` takes the raw body and the request
headers and returns a ``WebhookResponse`` (status, body, content type) to send back as is:

- ``401`` -- ``X-Hub-Signature`` missing, malformed or wrong. Nothing is parsed, the handler never
  runs. (401 rather than 403: the request failed *authentication*; Genesys treats any non-2xx,
  non-5xx answer as final, which is right for a forged or misconfigured delivery.)
- ``400`` -- the body is not JSON, not an object, or a documented type with the wrong shape. An
  unknown message ``type`` is *not* an error: it reaches the handler as an ``UnknownMessage``.
- ``200 {"messageId": ...}`` -- the handler returned; the id is what it returned (a ``str``), else
  the message's own ``channel.messageId``. Interaction events are answered with the documented
  ``{"status": {"code": 0}, "data": {"ids": [{"id": ...}]}}`` (default id: the ``operationId``).
- ``500`` -- the handler raised: Genesys redelivers, and the redelivery runs the handler again.
- ``503`` -- the message is being handled by an earlier delivery right now, the idempotency store
  is unreachable, or (``ahandle_webhook`` with ``timeout``) the handler did not finish in time.

With a ``store`` (see ``IdempotencyStore``) a message is handled at most once successfully: a
redelivery of a message already handled is answered 200 again, with the same id, without running
the handler. Without a store every delivery runs the handler (and a delivery answered 503 for
its timeout may then be handled twice: give ``ahandle_webhook`` a store when you give a timeout).

``ahandle_webhook`` is the async twin: the handler may be ``async def`` (awaited) or plain (run in
a worker thread), store calls run in a thread, and ``timeout`` bounds the wait. A handler still
running at ``timeout`` is *not* cancelled: the delivery is answered 503, the handler keeps its
claim on the message, redeliveries meanwhile get 503, and when it finishes the claim is completed
(later redeliveries: 200, not run again) or released (it failed: the next redelivery runs it).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

from genesys_cx_api.interactions.models.events_payload import EventsPayload

from .._tracing import get_logger
from ..errors import InvalidPayload, InvalidSignature
from ..signing import HEADER
from ._parse import (
    Kind,
    OutgoingMessage,
    Secrets,
    events_from,
    idempotency_key,
    message_from,
    payload_id,
    verified_object,
)
from ._stores import Claim, ClaimState, IdempotencyStore, MemoryStore

__all__ = ["WebhookResponse", "ahandle_webhook", "handle_webhook"]

logger = get_logger("webhooks")

SIGNATURE_REJECTED = 401
_T = TypeVar("_T")
WebhookCallback = Callable[[Any], Any]


@dataclass(frozen=True)
class WebhookResponse:
    """What to answer Genesys: send ``status`` and ``body`` with ``Content-Type: content_type``."""

    status: int
    body: bytes
    content_type: str = "application/json"

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type}


@dataclass(frozen=True)
class _Delivery:
    kind: Kind
    payload: OutgoingMessage | EventsPayload
    key: str


def _json(status: int, document: object) -> WebhookResponse:
    return WebhookResponse(status, json.dumps(document, separators=(",", ":")).encode("utf-8"))


def error_response(status: int, message: str) -> WebhookResponse:
    return _json(status, {"error": message})


def _success(kind: Kind, response_id: str | None) -> WebhookResponse:
    if kind == "events":
        return _json(200, {"status": {"code": 0}, "data": {"ids": [{"id": response_id}] if response_id else []}})
    return _json(200, {"messageId": response_id} if response_id else {})


def header(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]`` looked up case-insensitively (plain dicts included)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def sniff_kind(data: Mapping[str, Any]) -> Kind:
    """A body with ``type`` or ``channel`` is an outgoing message; anything else interaction events."""
    return "message" if "type" in data or "channel" in data else "events"


def admit(
    body: bytes, headers: Mapping[str, str], secret: Secrets, kinds: Sequence[Kind]
) -> _Delivery | WebhookResponse:
    """Verify and parse; the delivery to hand to a handler, or the 401/400 answer."""
    try:
        data = verified_object(body, header(headers, HEADER), secret)
        kind = kinds[0] if len(kinds) == 1 else sniff_kind(data)
        raw = bytes(body)
        payload = message_from(data, raw) if kind == "message" else events_from(data, raw)
    except InvalidSignature as exc:
        logger.warning("webhook rejected with %d: %s", SIGNATURE_REJECTED, exc)
        return error_response(SIGNATURE_REJECTED, exc.message)
    except InvalidPayload as exc:
        logger.warning("webhook rejected with 400: %s", exc)
        return error_response(400, exc.message)
    return _Delivery(kind, payload, idempotency_key(payload, raw))


def _claim(store: IdempotencyStore | None, delivery: _Delivery) -> Claim | WebhookResponse | None:
    if store is None:
        return None
    try:
        claim = store.claim(delivery.key)
    except Exception:
        logger.exception("idempotency store failed to claim %s; answering 503 so Genesys redelivers", delivery.key)
        return error_response(503, "the idempotency store is unavailable; retry later")
    if claim.state is ClaimState.DONE:
        logger.info("webhook %s was already handled; answering 200 again without running the handler", delivery.key)
        return _success(delivery.kind, claim.response_id)
    if claim.state is ClaimState.IN_PROGRESS:
        logger.info("webhook %s is being handled by an earlier delivery; answering 503", delivery.key)
        return error_response(503, f"{delivery.key} is being handled by an earlier delivery; retry later")
    return claim


def _settle_ok(
    store: IdempotencyStore | None, claim: Claim | None, delivery: _Delivery, returned: object
) -> WebhookResponse:
    response_id = payload_id(delivery.payload)
    if isinstance(returned, str):
        response_id = returned
    elif returned is not None:
        logger.warning(
            "webhook handler returned %s, not str or None; answering with the message's own id", type(returned).__name__
        )
    if store is not None and claim is not None:
        try:
            store.complete(claim, response_id)
        except Exception:  # handled already: a 5xx now would make Genesys deliver it twice
            logger.exception("idempotency store failed to record %s as done", delivery.key)
    return _success(delivery.kind, response_id)


def _settle_failed(
    store: IdempotencyStore | None, claim: Claim | None, delivery: _Delivery, exc: BaseException
) -> WebhookResponse:
    logger.error("webhook handler raised for %s; answering 500 so Genesys redelivers", delivery.key, exc_info=exc)
    if store is not None and claim is not None:
        try:
            store.release(claim)
        except Exception:
            logger.exception(
                "idempotency store failed to release %s (it frees itself when its lease ends)", delivery.key
            )
    return error_response(500, f"the handler raised {type(exc).__name__}; Genesys will redeliver")


def _check(kind: str, handler: object) -> Kind:
    if kind not in ("message", "events"):
        raise ValueError(f"kind must be 'message' or 'events', not {kind!r}")
    if not callable(handler):
        raise TypeError(f"the handler must be callable, not {type(handler).__name__}")
    return "message" if kind == "message" else "events"


@overload
def handle_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: Secrets,
    on_message: Callable[[OutgoingMessage], str | None],
    store: IdempotencyStore | None = None,
    kind: Literal["message"] = "message",
) -> WebhookResponse: ...
@overload
def handle_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: Secrets,
    on_message: Callable[[EventsPayload], str | None],
    store: IdempotencyStore | None = None,
    kind: Literal["events"],
) -> WebhookResponse: ...
def handle_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: Secrets,
    on_message: WebhookCallback,
    store: IdempotencyStore | None = None,
    kind: Kind = "message",
) -> WebhookResponse:
    """Verify, parse, deduplicate and run the synchronous *on_message*; return the answer to send.

    *kind* ``"message"`` (the Third-Party Messaging webhook; the handler gets an ``OutgoingMessage``)
    or ``"events"`` (the Interactions webhook; it gets an ``EventsPayload``).
    """
    checked = _check(kind, on_message)
    if inspect.iscoroutinefunction(on_message):
        raise TypeError("on_message is a coroutine function: use ahandle_webhook for async handlers")
    delivery = admit(body, headers, secret, [checked])
    if isinstance(delivery, WebhookResponse):
        return delivery
    claim = _claim(store, delivery)
    if isinstance(claim, WebhookResponse):
        return claim
    try:
        returned = on_message(delivery.payload)
        if inspect.isawaitable(returned):
            getattr(returned, "close", lambda: None)()
            raise TypeError("on_message returned an awaitable: use ahandle_webhook for async handlers")
    except BaseException as exc:
        answer = _settle_failed(store, claim, delivery, exc)
        if not isinstance(exc, Exception):
            raise
        return answer
    return _settle_ok(store, claim, delivery, returned)


_RUNNING: set[asyncio.Task[WebhookResponse]] = set()  # handlers that outlived their request


async def _offload(store: IdempotencyStore | None, function: Callable[..., _T], *args: Any) -> _T:
    """Run a store-touching step in a thread unless the store is in memory (or absent)."""
    if store is None or isinstance(store, MemoryStore):
        return function(*args)
    return await asyncio.to_thread(function, *args)


async def _run(
    handler: WebhookCallback, delivery: _Delivery, store: IdempotencyStore | None, claim: Claim | None
) -> WebhookResponse:
    try:
        if inspect.iscoroutinefunction(handler):
            returned = await handler(delivery.payload)
        else:
            returned = await asyncio.to_thread(handler, delivery.payload)
            if inspect.isawaitable(returned):
                returned = await returned
    except Exception as exc:
        return await _offload(store, _settle_failed, store, claim, delivery, exc)
    except BaseException as exc:  # cancelled: free the message for the redelivery, then propagate
        _settle_failed(store, claim, delivery, exc)
        raise
    return await _offload(store, _settle_ok, store, claim, delivery, returned)


async def dispatch(
    body: bytes,
    headers: Mapping[str, str],
    secret: Secrets,
    handlers: Mapping[Kind, WebhookCallback],
    store: IdempotencyStore | None,
    timeout: float | None,
) -> WebhookResponse:
    """The async contract for one or two handlers (by kind); shared by ``ahandle_webhook`` and the app."""
    delivery = admit(body, headers, secret, list(handlers))
    if isinstance(delivery, WebhookResponse):
        return delivery
    claim = await _offload(store, _claim, store, delivery)
    if isinstance(claim, WebhookResponse):
        return claim
    task = asyncio.ensure_future(_run(handlers[delivery.kind], delivery, store, claim))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    try:
        return await asyncio.wait_for(asyncio.shield(task), timeout)
    except TimeoutError:
        logger.warning(
            "webhook handler for %s still running after %g s; answering 503 (it keeps running)", delivery.key, timeout
        )
        return error_response(
            503,
            f"the handler did not finish within {timeout:g} s; it keeps running, "
            "and a redelivery is answered once it is done",
        )


@overload
async def ahandle_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: Secrets,
    on_message: Callable[[OutgoingMessage], Awaitable[str | None] | str | None],
    store: IdempotencyStore | None = None,
    kind: Literal["message"] = "message",
    timeout: float | None = None,
) -> WebhookResponse: ...
@overload
async def ahandle_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: Secrets,
    on_message: Callable[[EventsPayload], Awaitable[str | None] | str | None],
    store: IdempotencyStore | None = None,
    kind: Literal["events"],
    timeout: float | None = None,
) -> WebhookResponse: ...
async def ahandle_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: Secrets,
    on_message: WebhookCallback,
    store: IdempotencyStore | None = None,
    kind: Kind = "message",
    timeout: float | None = None,
) -> WebhookResponse:
    """``handle_webhook`` for async code: *on_message* may be async; wait at most *timeout* seconds."""
    checked = _check(kind, on_message)
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
    return await dispatch(body, headers, secret, {checked: on_message}, store, timeout)
