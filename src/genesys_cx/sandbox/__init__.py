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
from .._extras import require

require("sandbox", "genesys_cx.sandbox")  # MissingExtra naming `pip install "genesys-cx[sandbox]"`

from ._app import create_app
from ._auth import Token
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
from ._delivery import Attempt, OutgoingMessage
from ._faults import Fault, Faults
from ._messaging import InboundMessage
from ._sandbox import DeliveryFailed, Sandbox
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
    "DeliveryFailed",
    "DeliveryPolicy",
    "Fault",
    "Faults",
    "InboundMessage",
    "OAuthClient",
    "OutgoingMessage",
    "Sandbox",
    "SandboxChannel",
    "SandboxConfig",
    "SandboxState",
    "SandboxUser",
    "Token",
    "Violation",
    "create_app",
]
