"""What the figures send and receive: one consumer text message, the 003 webhook examples."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

__all__ = ["API_KEY", "CCID", "CHANNEL", "SECRET", "message_dict", "send_request", "webhook_examples"]

API_KEY = "bench-api-key-0001"
CCID = "0ff723ff-6c6f-44e0-9ce3-ce579337eadd"
CHANNEL = "0123456789"
SECRET = "bench-channel-secret"


def message_dict() -> dict[str, Any]:
    """The ``send_message`` body as plain JSON data (what a hand-written integration would hold)."""
    return {
        "messages": [
            {
                "type": "Text",
                "channel": {"from": {"id": "16504661149", "name": "Consumer"}, "to": {"id": CHANNEL}},
                "text": "Hello, I need help with my order",
            }
        ]
    }


def send_request() -> Any:
    """The same body as the generated model (``SendMessagesRequest``)."""
    from genesys_cx_api.messaging.models import SendMessagesRequest

    return SendMessagesRequest.from_dict(message_dict())


@cache
def webhook_examples() -> dict[str, bytes]:
    """The SMS and e-mail agent-message webhook examples of ``specs/messaging.yaml`` (003), as sent."""
    from importlib.resources import files

    spec = json.loads(files("genesys_cx_api").joinpath("_specs/messaging.json").read_text(encoding="utf-8"))
    examples = spec["webhooks"]["outgoingMessage"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    return {
        "sms": json.dumps(examples["smsAgentMessage"]["value"]).encode(),
        "email": json.dumps(examples["emailAgentMessage"]["value"]).encode(),
    }
