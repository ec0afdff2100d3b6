"""The webhook error tree.

Everything the receiver rejects raises a ``WebhookError``: ``InvalidSignature`` when the
``X-Hub-Signature`` header is missing, malformed or wrong (the body is then never parsed), and
``InvalidPayload`` when a correctly signed body is not JSON, not a JSON object, or claims a
documented type it does not have the shape of. Messages say what was wrong and never contain the
secret, the expected signature or the signature received. ``InvalidPayload`` keeps the raw body
(and the decoded JSON when there was one), so nothing is lost: log it or park it for a human.
"""

from __future__ import annotations

from typing import Any

__all__ = ["InvalidPayload", "InvalidSignature", "WebhookError"]


class WebhookError(Exception):
    """Root of the errors raised while receiving a webhook."""


class InvalidSignature(WebhookError):
    """``X-Hub-Signature`` is missing, malformed, or not the HMAC of the body with any configured secret."""


class InvalidPayload(WebhookError):
    """The (authentic) body is not JSON, not a JSON object, or does not match the documented shape.

    ``body`` is the raw request body; ``data`` the decoded JSON value, or ``None`` if it did not decode;
    ``path`` where the JSON stops matching the model (``channel.from.id``), when it decoded.
    """

    def __init__(self, message: str, *, body: bytes, data: Any = None, path: str | None = None) -> None:
        super().__init__(message)
        self.body = body
        self.data = data
        self.path = path

    def __repr__(self) -> str:
        return f"InvalidPayload({self.args[0]!r}, body=<{len(self.body)} bytes>)"
