"""What the sandbox saw, as events: a bounded ring buffer with live subscribers (the inspector's source).

``EventLog`` keeps the last ``capacity`` events (``SandboxConfig.inspector_events``) in memory and
hands each new one to its subscribers (the inspector's server-sent event streams). An event is a
small JSON-ready *summary* (what a row of the inspector shows) and an optional *detail* (headers and
bodies, shown on click). Nothing secret is ever stored: bodies go through the SDK's redaction
(fields named like secrets, ``Bearer``/``Basic`` credentials, registered secrets) and the sandbox's
own secrets (API keys, channel and client secrets, passwords) are masked by value; a body is parsed
only if it was captured whole (``CAPTURE_LIMIT``), and what is kept is clipped to 2 KiB. Signatures
are described, never shown.

The sandbox calls into the log from its request handling (``_inspector.Inspector``), its security
checks (``signature``), its fault layer (``fault``) and its webhook deliveries (``delivery_queued``,
``delivery_attempt``): one call each, see those modules.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genesys_cx._redact import redact, redact_headers
from genesys_cx._tracing import describe_body
from genesys_cx.signing import PREFIX, verify

if TYPE_CHECKING:
    from ._config import SandboxChannel, SandboxConfig
    from ._delivery import Attempt, Delivery
    from ._faults import Hit

__all__ = ["CAPTURE_LIMIT", "DEFAULT_CAPACITY", "EventLog", "InspectorEvent", "Masker", "signature_problem"]

#: Events kept by default (``SandboxConfig.inspector_events``).
DEFAULT_CAPACITY = 1000
#: A body is captured up to this many bytes while it passes (never more, however large it is);
#: only a body captured whole is parsed and shown (masked, clipped).
CAPTURE_LIMIT = 64 * 1024
#: Headers kept per message, and characters kept per header value or text field.
_MAX_HEADERS = 40
_MAX_TEXT = 300
#: A subscriber more than this many events behind is dropped (it reconnects and replays).
_SUBSCRIBER_BACKLOG = 2000
_MASK = "***"


def now_ms() -> float:
    """Wall-clock time in milliseconds since the epoch (what the page formats)."""
    return round(time.time() * 1000, 1)


def clip(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class InspectorEvent:
    """One thing the sandbox saw: ``summary`` (JSON-ready, has ``id``, ``kind``, ``at``) and ``detail``."""

    summary: dict[str, Any]
    detail: dict[str, Any] | None = None

    @property
    def id(self) -> int:
        return int(self.summary["id"])


class Masker:
    """Masks secrets in what the inspector keeps: by field/header name (the SDK's redaction) and by value."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    @classmethod
    def for_config(cls, config: SandboxConfig) -> Masker:
        return cls(
            [
                *config.api_keys,
                *(c.secret for c in config.channels),
                *(c.client_secret for c in config.clients),
                *(u.password for u in config.users),
            ]
        )

    def text(self, text: str) -> str:
        # the sandbox's own secrets first, whole: a secret the SDK registered in this process may be
        # part of one of them, and masking that part first would leave the rest of it readable
        if self._pattern is not None:
            while self._pattern.search(text):
                text = self._pattern.sub(_MASK, text)
        return redact(text)

    def headers(self, raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in itertools.islice(raw, _MAX_HEADERS)]
        return {name: clip(self.text(value)) for name, value in redact_headers(pairs).items()}

    def body(self, captured: bytes, total: int, content_type: str | None) -> str:
        """What may be shown of a body of *total* bytes of which *captured* is the beginning."""
        if total == 0:
            return ""
        kind = (content_type or "").split(";")[0].strip().lower() or "unknown type"
        if total > len(captured):
            return f"<{total} bytes of {kind}: too large to show>"
        try:
            return self.text(describe_body(captured, content_type))
        except RecursionError:  # JSON nested deeper than Python parses
            return f"<{total} bytes of {kind}: nested too deeply to show>"

    def value(self, value: Any, limit: int = 1024) -> str:
        """A JSON value (e.g. CometD data) as masked, clipped text."""
        try:
            rendered = describe_body(json.dumps(value).encode("utf-8"), "application/json")
        except (TypeError, ValueError, RecursionError):
            rendered = "<not JSON>"
        return clip(self.text(rendered), limit)


def signature_problem(secret: str | bytes, body: bytes, header: str | None) -> str | None:
    """Why *header* is not the ``X-Hub-Signature`` of *body* (None when it is); names no secret."""
    if header is None or not header.strip():
        return "missing X-Hub-Signature header"
    if not header.lower().startswith(PREFIX):
        scheme = header.split("=", 1)[0] if "=" in header else ""
        return f"wrong prefix: expected {PREFIX}" + (f", got {clip(scheme, 12)}=" if scheme else "")
    if re.fullmatch(r"[0-9a-fA-F]{40}", header[len(PREFIX) :]) is None:
        return f"malformed: {PREFIX} must be followed by 40 hex digits"
    if not verify(secret, body, header):
        return f"mismatch: not the HMAC-SHA1 of this {len(body)}-byte body with the channel secret"
    return None


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[InspectorEvent | None] = field(default_factory=lambda: asyncio.Queue(_SUBSCRIBER_BACKLOG))


class EventLog:
    """The last ``capacity`` events, thread-safe, with live subscribers; see the module docstring."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, masker: Masker | None = None) -> None:
        if capacity < 1:
            raise ValueError("the inspector keeps at least 1 event (inspector_events >= 1)")
        self.capacity = capacity
        self.masker = masker or Masker(())
        self._events: deque[InspectorEvent] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._calls = itertools.count(1)
        self._subscribers: list[_Subscriber] = []
        self.dropped = 0  # events pushed out of the ring so far

    # -- the ring ---------------------------------------------------------------------------------

    def add(self, kind: str, summary: Mapping[str, Any], detail: dict[str, Any] | None = None) -> InspectorEvent:
        """Record an event (``id``, ``kind`` and ``at`` are filled in) and hand it to the subscribers."""
        with self._lock:
            event = InspectorEvent({"id": next(self._ids), "kind": kind, "at": now_ms(), **summary}, detail)
            if len(self._events) == self.capacity:
                self.dropped += 1
            self._events.append(event)
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            self._offer(subscriber, event)
        return event

    def next_call(self) -> int:
        """A number for a request in progress (links its signature check and fault to its row)."""
        return next(self._calls)

    def events(self, after: int = 0, kind: str | None = None) -> list[InspectorEvent]:
        with self._lock:
            return [e for e in self._events if e.id > after and (kind is None or e.summary["kind"] == kind)]

    def get(self, event_id: int) -> InspectorEvent | None:
        with self._lock:
            if not self._events:
                return None
            index = event_id - self._events[0].id
            return self._events[index] if 0 <= index < len(self._events) else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    # -- subscribers ------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[InspectorEvent | None]:
        """A queue receiving every new event (call in the loop that reads it); ``None`` means "fell behind"."""
        subscriber = _Subscriber(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.append(subscriber)
        return subscriber.queue

    def unsubscribe(self, queue: asyncio.Queue[InspectorEvent | None]) -> None:
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s.queue is not queue]

    def close(self) -> None:
        """End every live stream (the server is stopping: an open page must not hold it up)."""
        with self._lock:
            subscribers, self._subscribers = self._subscribers, []
        for subscriber in subscribers:
            if not subscriber.loop.is_closed():
                subscriber.loop.call_soon_threadsafe(subscriber.queue.put_nowait, None)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _offer(self, subscriber: _Subscriber, event: InspectorEvent) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is subscriber.loop:
            self._put(subscriber, event)
        elif not subscriber.loop.is_closed():
            subscriber.loop.call_soon_threadsafe(self._put, subscriber, event)

    def _put(self, subscriber: _Subscriber, event: InspectorEvent) -> None:
        queue = subscriber.queue
        if queue.qsize() >= _SUBSCRIBER_BACKLOG - 1:  # too slow: end its stream, it replays from the ring
            self.unsubscribe(queue)
            queue.put_nowait(None)
            return
        queue.put_nowait(event)

    # -- hooks called by the sandbox ------------------------------------------------------------------

    def signature(
        self,
        scope: Mapping[str, Any],
        channel_id: str,
        channel: SandboxChannel | None,
        body: bytes,
        header: str | None,
    ) -> None:
        """An ``X-Hub-Signature`` check of a request (its verdict and, when it fails, why)."""
        problem = "unknown channel" if channel is None else signature_problem(channel.secret, body, header)
        self.add(
            "signature",
            {
                "call": scope.get(CALL_KEY),
                "channel": clip(channel_id, 80),
                "path": clip(scope.get("path", ""), 200),
                "trace": _trace_id(scope),
                "ok": problem is None,
                "reason": problem,
                "bytes": len(body),
            },
        )

    def refused(self, scope: Mapping[str, Any], status: int, message: str) -> None:
        """The request was refused before reaching its API (security or validation): note why on its row."""
        call = scope.get(CALL_STATE_KEY)
        if isinstance(call, dict):
            call["refused"] = (status, self.masker.text(message))

    def fault(self, scope: Mapping[str, Any], hit: Hit | None) -> None:
        """A fault rule applied to a request (noted on its row, and as an event of its own)."""
        if hit is None:
            return
        if hit.drop_after is not None:
            effect: str | None = f"cut the answer after {hit.drop_after} body bytes"
        else:
            effect = "dropped the connection" if hit.drop else f"HTTP {hit.status}" if hit.status is not None else None
        if hit.latency:
            effect = f"{effect}, after {hit.latency:g} s" if effect else f"delayed {hit.latency:g} s"
        call = scope.get(CALL_STATE_KEY)
        if isinstance(call, dict):
            call["fault"] = effect
        self.add(
            "fault",
            {
                "call": scope.get(CALL_KEY),
                "method": scope.get("method"),
                "path": clip(scope.get("path", ""), 200),
                "effect": effect,
            },
        )

    def delivery_queued(self, message: Delivery, webhook_url: str | None) -> None:
        """An agent reply was created (delivery starts now, or never without a webhook URL)."""
        self.add(
            "delivery",
            {
                "phase": "queued",
                "message": message.id,
                "channel": message.channel_id,
                "webhook": clip(webhook_url, 200) if webhook_url else None,
                "state": "pending" if webhook_url else "not delivered (no webhook URL)",
            },
            {"payload": self.masker.value(message.payload, 2048)},
        )

    def delivery_attempt(self, message: Delivery, attempt: Attempt, retry_in: float | None) -> None:
        """One POST of an agent reply to the webhook; *retry_in* seconds until the next one (None: final)."""
        final = {"delivered": "delivered", "failed": "given up"}.get(message.status)
        self.add(
            "delivery",
            {
                "phase": "attempt",
                "message": message.id,
                "channel": message.channel_id,
                "attempt": attempt.number,
                "outcome": attempt.outcome,
                "status": attempt.status_code,
                "error": clip(attempt.error, 200) if attempt.error else None,
                "ms": round(attempt.duration * 1000, 1),
                "retry_at": now_ms() + retry_in * 1000 if retry_in is not None and final is None else None,
                "final": final,
            },
        )


#: Keys the inspector puts in an ASGI scope: the request's number and the notes hooks add to it.
CALL_KEY = "genesys_cx.inspector.call"
CALL_STATE_KEY = "genesys_cx.inspector.notes"


def _trace_id(scope: Mapping[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-b3-traceid":
            return clip(value.decode("latin-1"), 64)
    return None
