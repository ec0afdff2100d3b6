"""A local Genesys Multicloud CX emulator for tests and demos, faithful to the bundled specs.

``Sandbox`` serves every API the SDK knows under its documented base path on one loopback host
(``/nexus/v3`` for Third-Party Messaging, Open Media and Secure Email, ``/auth/v3``,
``/statistics/v3``, ``/udm``, ``/data-download``) and validates every request and every answer
against ``genesys_cx_api/_specs/*.json``: an invalid request gets the documented 400 envelope, and an
answer the spec does not allow is reported as a sandbox bug (``state.response_violations``)::

    from genesys_cx.sandbox import Sandbox, SandboxConfig, SandboxChannel

    config = SandboxConfig(channels=[SandboxChannel("0123456789", "secret", webhook_url=receiver_url)])
    with Sandbox(config) as sb:
        ...                                   # talk to sb.url with the SDK
        reply = sb.agent_reply("0123456789", "How can I help?")
        sb.wait_delivered(reply.id)           # signed, retried per config.delivery

It checks credentials as the specs require (``x-api-key``, ``X-Hub-Signature`` over the raw body,
bearer tokens it issued through its own ``/auth/v3``), keeps state (messages, media, interactions,
tokens, secure e-mails, export jobs that progress), delivers agent replies to webhooks in the
background, and injects faults on demand (``sb.faults.add(Fault(...))``). ``create_app`` gives the
ASGI application alone; ``/_sandbox/...`` control routes drive it over HTTP (see ``_control``).
"""

# ruff: noqa: E402  (the extra is checked before the first import of starlette)
from typing import TYPE_CHECKING

from .._extras import require

require("sandbox", "genesys_cx.sandbox")  # MissingExtra naming `pip install "genesys-cx[sandbox]"`

from ..errors import DeliveryFailed
from ._app import create_app
from ._auth import IssuedToken
from ._config import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CHANNEL_ID,
    DEMO_CHANNEL_SECRET,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_REDIRECT_URI,
    DEMO_USERNAME,
    DeliveryPolicy,
    OAuthClient,
    SandboxChannel,
    SandboxConfig,
    SandboxUser,
)
from ._delivery import Attempt, Delivery
from ._faults import Fault, Faults
from ._messaging import InboundMessage
from ._sandbox import Sandbox
from ._state import SandboxState, Violation

__all__ = [
    "DEMO_API_KEY",
    "DEMO_CCID",
    "DEMO_CHANNEL_ID",
    "DEMO_CHANNEL_SECRET",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_PASSWORD",
    "DEMO_REDIRECT_URI",
    "DEMO_USERNAME",
    "Attempt",
    "Delivery",
    "DeliveryFailed",
    "DeliveryPolicy",
    "Fault",
    "Faults",
    "InboundMessage",
    "IssuedToken",
    "OAuthClient",
    "Sandbox",
    "SandboxChannel",
    "SandboxConfig",
    "SandboxState",
    "SandboxUser",
    "Violation",
    "create_app",
]


_DEPRECATED = {"Token": "IssuedToken", "OutgoingMessage": "Delivery"}


if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name stays an error there

    def __getattr__(name: str) -> object:
        """Names of 0.1.0 that now mean one thing each: ``Token`` and ``OutgoingMessage`` (deprecated)."""
        new = _DEPRECATED.get(name)
        if new is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import warnings

        warnings.warn(
            f"genesys_cx.sandbox.{name} is deprecated; use genesys_cx.sandbox.{new} "
            f"({name} is the name of a different public class elsewhere in the SDK)",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[new]
