"""Agent replies on their way to the integrator's webhook, and every attempt to deliver them.

Digital Channels POSTs each agent message to the channel's webhook URL, signed with
``X-Hub-Signature`` over the exact body. The documented contract (Third-Party Messaging overview):
answer within 10 seconds; a 2xx answer (with the ``messageId``) means processed; a 5xx answer means
"redeliver". The retry timeout and attempt count are Genesys configuration, here a
``DeliveryPolicy``. A transport error or a timeout counts as a 5xx; any other answer (a 4xx) fails
the message without further attempts.

``Outbox`` runs each delivery as a task in the sandbox's event loop and records an ``Attempt`` per
try; it is thread-safe so the test thread can read records and wait for an outcome.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from genesys_cx.signing import HEADER, sign

from ._config import DeliveryPolicy, SandboxChannel
from ._events import EventLog

__all__ = ["Attempt", "Delivery", "Outbox"]

logger = logging.getLogger("genesys_cx.sandbox")

Outcome = Literal["delivered", "retry", "failed"]
Status = Literal["pending", "delivered", "failed"]


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Attempt:
    """One POST of an agent message to the webhook."""

    number: int
    started_at: str
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    acknowledged_id: str | None = None  # the ``messageId`` of the webhook's answer
    duration: float = 0.0


@dataclass
class Delivery:
    """An agent reply (``OutgoingSmsMessage`` / ``OutgoingEmailMessage``) and its delivery history."""

    id: str
    channel_id: str
    payload: dict[str, Any]
    created_at: str = field(default_factory=_now)
    status: Status = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    receipt: dict[str, Any] | None = None  # the last Receipt (status, reasons) sent for this message

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Outbox:
    """Outgoing messages by id, their delivery tasks, and a condition to wait on outcomes."""

    def __init__(self, policy: DeliveryPolicy, events: EventLog | None = None) -> None:
        self.policy = policy
        self.events = events if events is not None else EventLog()
        self._lock = threading.Condition()
        self._messages: dict[str, Delivery] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, message_id: str) -> Delivery | None:
        with self._lock:
            return self._messages.get(message_id)

    def messages(self, channel_id: str | None = None) -> list[Delivery]:
        with self._lock:
            return [m for m in self._messages.values() if channel_id is None or m.channel_id == channel_id]

    def record_receipt(self, message_id: str, receipt: dict[str, Any]) -> None:
        with self._lock:
            self._messages[message_id].receipt = receipt
            self._lock.notify_all()

    def _update(self, change: Callable[[], None]) -> None:
        with self._lock:
            change()
            self._lock.notify_all()

    def wait(self, message_id: str, timeout: float) -> Delivery:
        """Block until *message_id* is no longer pending; ``TimeoutError`` after *timeout* seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                message = self._messages.get(message_id)
                if message is None:
                    raise KeyError(f"no agent message {message_id!r}")
                if message.status != "pending":
                    return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"agent message {message_id!r} still pending after {timeout} s")
                self._lock.wait(remaining)

    def send(self, message: Delivery, channel: SandboxChannel, client: httpx.AsyncClient) -> None:
        """Record *message* and start delivering it (call in the sandbox's event loop)."""
        with self._lock:
            self._messages[message.id] = message
        self.events.delivery_queued(message, channel.webhook_url)
        if channel.webhook_url is None:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(message, channel, channel.webhook_url, client))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _deliver(
        self,
        message: Delivery,
        channel: SandboxChannel,
        url: str,
        client: httpx.AsyncClient,
    ) -> None:
        body = json.dumps(message.payload, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", HEADER: sign(channel.secret, body)}
        for number in range(1, self.policy.attempts + 1):
            attempt = await self._attempt(number, url, body, headers, client)
            last = number == self.policy.attempts

            def record(attempt: Attempt = attempt, last: bool = last) -> None:
                message.attempts.append(attempt)
                if attempt.outcome != "retry":
                    message.status = attempt.outcome
                elif last:
                    message.status = "failed"

            self._update(record)
            self.events.delivery_attempt(message, attempt, self.policy.delay(number))
            if message.status != "pending":
                if message.status == "failed":
                    logger.warning(
                        "agent message %s to channel %s failed after %d attempt(s)", message.id, channel.id, number
                    )
                return
            await asyncio.sleep(self.policy.delay(number))

    async def _attempt(
        self,
        number: int,
        url: str,
        body: bytes,
        headers: dict[str, str],
        client: httpx.AsyncClient,
    ) -> Attempt:
        started, clock = _now(), time.monotonic()
        try:
            async with asyncio.timeout(self.policy.timeout):
                response = await client.post(url, content=body, headers=headers)
        except TimeoutError:
            return Attempt(
                number,
                started,
                "retry",
                error=f"no answer within {self.policy.timeout} s",
                duration=time.monotonic() - clock,
            )
        except httpx.HTTPError as exc:
            return Attempt(number, started, "retry", error=type(exc).__name__, duration=time.monotonic() - clock)
        duration = time.monotonic() - clock
        code = response.status_code
        if 200 <= code < 300:
            return Attempt(number, started, "delivered", code, acknowledged_id=_message_id(response), duration=duration)
        outcome: Outcome = "retry" if code >= 500 else "failed"
        return Attempt(number, started, outcome, code, error=f"HTTP {code}", duration=duration)


def _message_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    value = data.get("messageId") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
