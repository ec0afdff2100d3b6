"""``Sandbox``: the emulator running on a loopback port, with helpers for tests and demos.

::

    with Sandbox() as sb:
        client = httpx.Client(base_url=sb.base_url("messaging"), headers={"x-api-key": DEMO_API_KEY})
        ...
        reply = sb.agent_reply(DEMO_CHANNEL_ID, "Hello from the agent")
        sb.wait_delivered(reply.id, timeout=10)

The server runs in a background thread (``genesys_cx._serve.ServerThread``); the helpers that act
inside it (``agent_reply``) are scheduled on its event loop and return once the message is recorded
- the delivery itself continues in the background.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from genesys_cx_api._registry import APIS

from .._serve import ServerThread
from ..errors import DeliveryFailed
from ._app import create_app
from ._config import SandboxConfig
from ._delivery import Delivery
from ._faults import Faults
from ._messaging import InboundMessage
from ._state import Violation

__all__ = ["Sandbox"]


class Sandbox:
    """A local Genesys Multicloud CX emulator; see the package docstring."""

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.app, self.state = create_app(self.config)
        self._server = ServerThread(self.app, host, port)
        self._started = False

    def __repr__(self) -> str:
        where = self.url if self._started else "not started"
        return f"Sandbox({where})"

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        self._server.start()
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self.state.events.close()
            self._server.stop()
            self._started = False

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (every API lives under its base path there)."""
        return self._server.url

    def base_url(self, api: str) -> str:
        """The base URL of *api* (``"messaging"``, ``"auth"``, ...): ``url`` + its base path."""
        return self.url + APIS[api].base_path

    # -- state -----------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def response_violations(self) -> list[Violation]:
        return self.state.response_violations

    def expire_tokens(self) -> None:
        """Make every access token issued so far expired (refresh tokens keep working)."""
        self.state.tokens.expire_all()

    def inbound(self, channel_id: str | None = None) -> list[InboundMessage]:
        """What the integrator sent (consumer messages and receipts), oldest first."""
        return self.state.messaging.inbound(channel_id)

    def deliveries(self, channel_id: str | None = None) -> list[Delivery]:
        """Agent messages with every delivery attempt so far."""
        return self.state.outbox.messages(channel_id)

    # -- the agent's side ------------------------------------------------------------------------

    def agent_reply(
        self,
        channel_id: str,
        text: str,
        *,
        to: str | None = None,
        timeout: float = 10.0,
    ) -> Delivery:
        """Send an agent text (``OutgoingSmsMessage``) to the channel's webhook; returns at once.

        *to* defaults to the last consumer who wrote on the channel.
        """
        return self._reply(channel_id, text, timeout, to=to)

    def agent_email(
        self,
        channel_id: str,
        text: str,
        *,
        subject: str,
        html: str | None = None,
        to: str | None = None,
        sender_name: str | None = None,
        reply_to: str | None = None,
        timeout: float = 10.0,
    ) -> Delivery:
        """Send an agent e-mail (``OutgoingEmailMessage``: subject, text and optional HTML body)."""
        return self._reply(
            channel_id, text, timeout, to=to, subject=subject, html=html, sender_name=sender_name, reply_to=reply_to
        )

    def _reply(self, channel_id: str, text: str, timeout: float, **options: Any) -> Delivery:
        channel = self.config.channel(channel_id)
        if channel is None:
            raise KeyError(f"no channel {channel_id!r} in the sandbox config")
        loop = self.state.loop
        if loop is None or not self._started:
            raise RuntimeError("the sandbox is not running: use `with Sandbox() as sb:`")
        message = self.state.messaging.build_reply(channel, text, **options)

        async def send() -> Delivery:
            return self.state.messaging.reply(message, channel, self.state.http_client())

        return asyncio.run_coroutine_threadsafe(send(), loop).result(timeout)

    def wait_delivered(self, message_id: str, timeout: float = 10.0) -> Delivery:
        """Wait until the agent message is delivered; ``DeliveryFailed`` / ``TimeoutError`` otherwise."""
        message = self.state.outbox.wait(message_id, timeout)
        if message.status != "delivered":
            last = message.attempts[-1] if message.attempts else None
            why = (last.error or f"HTTP {last.status_code}") if last else "no attempt"
            raise DeliveryFailed(
                f"agent message {message.id} failed after {len(message.attempts)} attempt(s): {why}", delivery=message
            )
        return message
