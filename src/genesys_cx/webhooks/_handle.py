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

While a handler runs, its claim is kept alive by a heartbeat (``_leases``); if the process dies,
the claim's short lease runs out and the next redelivery runs the handler.

``ahandle_webhook`` is the async twin: the handler may be ``async def`` (awaited) or plain (run on
the handler pool's own threads), store calls run on the pool's store threads, and ``timeout`` is a
deadline for the whole delivery -- claim, handler and recording the result. Whatever hangs (a store
call, a handler that never returns), the delivery is answered 503 at the deadline. A pool has a
fixed number of slots (``HandlerPool``): a delivery that finds them all busy is answered 503 at
once rather than queued past the deadline. A handler still running at the deadline is *not*
cancelled: it keeps its claim (heartbeat), redeliveries meanwhile get 503, and when it finishes the
claim is completed (later redeliveries: 200, not run again) or released (it failed: the next
redelivery runs it). A claim that arrives after the deadline is used: the handler still runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, overload

from genesys_cx_api.interactions.models.events_payload import EventsPayload

from .._redact import get_logger
from ..errors import InvalidPayload, InvalidSignature
from ..signing import HEADER
from ._leases import drop, hold
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

__all__ = ["HandlerPool", "WebhookResponse", "ahandle_webhook", "handle_webhook"]

logger = get_logger("webhooks")

SIGNATURE_REJECTED = 401
_T = TypeVar("_T")
WebhookCallback = Callable[[Any], Any]


class HeadersLike(Protocol):
    """The request headers as any framework gives them: a dict, Starlette's or Werkzeug's ``Headers``..."""

    def get(self, key: str, /) -> str | None: ...

    def items(self) -> Iterable[tuple[str, str]]: ...


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


def header(headers: HeadersLike, name: str) -> str | None:
    """``headers[name]`` looked up case-insensitively (plain dicts included)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def sniff_kind(data: Mapping[str, Any]) -> Kind:
    """A body with ``type`` or ``channel`` is an outgoing message; anything else interaction events."""
    return "message" if "type" in data or "channel" in data else "events"


def admit(body: bytes, headers: HeadersLike, secret: Secrets, kinds: Sequence[Kind]) -> _Delivery | WebhookResponse:
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
    headers: HeadersLike,
    *,
    secret: Secrets,
    on_message: Callable[[OutgoingMessage], str | None],
    store: IdempotencyStore | None = None,
    kind: Literal["message"] = "message",
) -> WebhookResponse: ...
@overload
def handle_webhook(
    body: bytes,
    headers: HeadersLike,
    *,
    secret: Secrets,
    on_message: Callable[[EventsPayload], str | None],
    store: IdempotencyStore | None = None,
    kind: Literal["events"],
) -> WebhookResponse: ...
def handle_webhook(
    body: bytes,
    headers: HeadersLike,
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
        with _held(store, claim):
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


class _held:
    """``with _held(store, claim):`` -- the heartbeat renews *claim* for the duration of the block."""

    def __init__(self, store: IdempotencyStore | None, claim: Claim | None) -> None:
        self._claim = claim if store is not None else None
        if self._claim is not None and store is not None:
            hold(store, self._claim)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        if self._claim is not None:
            drop(self._claim)


class HandlerPool:
    """At most *size* deliveries in their handler at once, on threads of their own.

    Sync handlers run on the pool's *size* handler threads and blocking store calls on its *size*
    store threads, never on the event loop's default executor (which anything else in the process
    may fill). A delivery takes a slot before it claims its message and gives it back when its
    handler has finished and its result is recorded; with no slot free it is answered 503 at once.
    """

    def __init__(self, size: int = 32) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"a handler pool needs at least one slot, not {size!r}")
        self.size = size
        self._busy = 0
        self._lock = threading.Lock()
        self._handlers = ThreadPoolExecutor(size, thread_name_prefix="genesys-cx-handler")
        self._stores = ThreadPoolExecutor(size, thread_name_prefix="genesys-cx-store")

    def __repr__(self) -> str:
        return f"HandlerPool(size={self.size}, busy={self._busy})"

    @property
    def busy(self) -> int:
        """Slots taken right now."""
        return self._busy

    def take(self) -> bool:
        with self._lock:
            if self._busy >= self.size:
                return False
            self._busy += 1
            return True

    def give(self) -> None:
        with self._lock:
            self._busy -= 1

    async def in_handler_thread(self, function: Callable[..., _T], *args: Any) -> _T:
        call = functools.partial(contextvars.copy_context().run, function, *args)
        return await asyncio.get_running_loop().run_in_executor(self._handlers, call)

    async def store_step(self, store: IdempotencyStore | None, function: Callable[..., _T], *args: Any) -> _T:
        """Run a store-touching step on a store thread, unless the store is in memory (or absent)."""
        if store is None or isinstance(store, MemoryStore):
            return function(*args)
        return await asyncio.get_running_loop().run_in_executor(self._stores, function, *args)


_default_pool: HandlerPool | None = None
_default_pool_lock = threading.Lock()


def default_pool() -> HandlerPool:
    """The pool ``ahandle_webhook`` uses: one per process, built on first use."""
    global _default_pool
    with _default_pool_lock:
        if _default_pool is None:
            _default_pool = HandlerPool()
        return _default_pool


async def _run(
    pool: HandlerPool,
    handler: WebhookCallback,
    delivery: _Delivery,
    store: IdempotencyStore | None,
    claim: Claim | None,
) -> WebhookResponse:
    try:
        with _held(store, claim):
            if inspect.iscoroutinefunction(handler):
                returned = await handler(delivery.payload)
            else:
                returned = await pool.in_handler_thread(handler, delivery.payload)
                if inspect.isawaitable(returned):
                    returned = await returned
    except Exception as exc:
        return await pool.store_step(store, _settle_failed, store, claim, delivery, exc)
    except BaseException as exc:  # cancelled: free the message for the redelivery, then propagate
        _settle_failed(store, claim, delivery, exc)
        raise
    return await pool.store_step(store, _settle_ok, store, claim, delivery, returned)


@dataclass
class _Progress:
    claimed: bool = False


async def _pipeline(
    pool: HandlerPool,
    handler: WebhookCallback,
    delivery: _Delivery,
    store: IdempotencyStore | None,
    progress: _Progress,
) -> WebhookResponse:
    try:
        claim = await pool.store_step(store, _claim, store, delivery)
        if isinstance(claim, WebhookResponse):
            return claim
        progress.claimed = True
        return await _run(pool, handler, delivery, store, claim)
    finally:
        pool.give()


async def dispatch(
    body: bytes,
    headers: HeadersLike,
    secret: Secrets,
    handlers: Mapping[Kind, WebhookCallback],
    store: IdempotencyStore | None,
    deadline: float | None,
    pool: HandlerPool,
) -> WebhookResponse:
    """The async contract for one or two handlers (by kind); shared by ``ahandle_webhook`` and the app.

    *deadline* is a time of the running loop's clock (``loop.time()``) by which an answer is due.
    """
    delivery = admit(body, headers, secret, list(handlers))
    if isinstance(delivery, WebhookResponse):
        return delivery
    remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
    if remaining is not None and remaining <= 0:
        logger.warning("webhook %s arrived with no time left before its deadline; answering 503", delivery.key)
        return error_response(503, "the delivery took too long to arrive; retry later")
    if not pool.take():
        logger.warning("webhook %s finds all %d handler slots busy; answering 503", delivery.key, pool.size)
        return error_response(503, f"all {pool.size} handler slots are busy; retry later")
    progress = _Progress()
    task = asyncio.ensure_future(_pipeline(pool, handlers[delivery.kind], delivery, store, progress))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    await asyncio.wait({task}, timeout=remaining)  # never cancels the task: past the deadline it runs on
    if task.done():
        return task.result()
    if not progress.claimed:
        logger.warning("idempotency store did not answer for %s before the deadline; answering 503", delivery.key)
        return error_response(503, "the idempotency store did not answer in time; retry later")
    logger.warning(
        "webhook handler for %s still running at its deadline; answering 503 (it keeps running)", delivery.key
    )
    return error_response(
        503,
        "the handler did not finish in time; it keeps running, and a redelivery is answered once it is done",
    )


@overload
async def ahandle_webhook(
    body: bytes,
    headers: HeadersLike,
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
    headers: HeadersLike,
    *,
    secret: Secrets,
    on_message: Callable[[EventsPayload], Awaitable[str | None] | str | None],
    store: IdempotencyStore | None = None,
    kind: Literal["events"],
    timeout: float | None = None,
) -> WebhookResponse: ...
async def ahandle_webhook(
    body: bytes,
    headers: HeadersLike,
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
    deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
    return await dispatch(body, headers, secret, {checked: on_message}, store, deadline, default_pool())
