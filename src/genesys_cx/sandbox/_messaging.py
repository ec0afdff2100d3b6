"""Third-Party Messaging (``/nexus/v3/channels/...``): inbound messages, receipts, media, agent replies.

What the integrator sends (``send_message``) is stored per channel: consumer messages (``Text``,
``Email``, ``RichMedia``) get an id of the documented shape (``1613473893265-0``) returned in
``InboundMessageResponse.data.ids``; a ``Receipt`` updates the agent message its
``channel.messageId`` names (an unknown id is a 404 and nothing of the request is applied). Media
uploads keep their exact bytes and content type; a type outside ``SandboxConfig.media_types`` is a
415. The API key, the channel and ``X-Hub-Signature`` are checked before any of this (``_app``).

Agent replies go the other way: ``agent_reply`` builds an ``OutgoingSmsMessage`` (or, with
``subject``/``html``, an ``OutgoingEmailMessage``) exactly as the overview's data-flow examples
show, and hands it to the ``Outbox`` for signed delivery to the channel's webhook.
"""

from __future__ import annotations

import mimetypes
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.responses import Response

from ._config import SandboxChannel, SandboxConfig
from ._delivery import Delivery, Outbox
from ._http import Call, ErrorReply, Part, envelope, json_response

__all__ = ["InboundMessage", "Media", "MessagingEmulator"]


@dataclass
class InboundMessage:
    """A message the integrator sent to Genesys (consumer message or receipt)."""

    id: str | None  # None for receipts (they get no id)
    channel_id: str
    type: str
    payload: dict[str, Any]
    received_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Media:
    id: str
    channel_id: str
    filename: str
    mimetype: str
    data: bytes = field(repr=False)

    def resource(self) -> dict[str, Any]:
        return {
            "mediaId": self.id,
            "url": f"genesys://nexus/{self.id}",
            "filename": self.filename,
            "mimetype": self.mimetype,
            "length": len(self.data),
        }


class _Ids:
    """``<epoch ms>-<sequence>`` ids, unique within the sandbox (the docs' ``1613473893265-0``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (0, -1)

    def __call__(self) -> str:
        with self._lock:
            ms = int(time.time() * 1000)
            last_ms, seq = self._last
            self._last = (last_ms, seq + 1) if ms <= last_ms else (ms, 0)
            return f"{self._last[0]}-{self._last[1]}"


class MessagingEmulator:
    """Handlers of ``messaging.yaml`` and the agent side of the conversation."""

    def __init__(self, config: SandboxConfig, outbox: Outbox) -> None:
        self.config = config
        self.outbox = outbox
        self.new_id = _Ids()
        self._lock = threading.Lock()
        self._inbound: list[InboundMessage] = []
        self._media: dict[tuple[str, str], Media] = {}

    def handlers(self) -> dict[str, Callable[[Call], Awaitable[Response]]]:
        return {
            "send_message": self.send_message,
            "upload_media": self.upload_media,
            "download_media": self.download_media,
            "delete_media": self.delete_media,
        }

    # -- what the integrator sends -----------------------------------------------------------

    def inbound(self, channel_id: str | None = None) -> list[InboundMessage]:
        with self._lock:
            return [m for m in self._inbound if channel_id is None or m.channel_id == channel_id]

    def _check_ccid(self, call: Call) -> None:
        expected = self.config.ccid
        if expected is not None and call.header("x-ccid") != expected:
            raise ErrorReply(404, f"Channel {call.params['channelId']} not found in the contact center of x-ccid")

    async def send_message(self, call: Call) -> Response:
        self._check_ccid(call)
        channel_id = call.params["channelId"]
        messages: list[dict[str, Any]] = call.parsed["messages"]
        for message in messages:  # check every receipt before applying anything
            if message["type"] == "Receipt":
                target = self.outbox.get(message["channel"]["messageId"])
                if target is None or target.channel_id != channel_id:
                    raise ErrorReply(
                        404, f"message {message['channel']['messageId']} not found on channel {channel_id}"
                    )
        ids: list[str] = []
        records = []
        for message in messages:
            if message["type"] == "Receipt":
                receipt = {
                    "status": message["status"],
                    "reasons": message.get("reasons", []),
                    "received_at": datetime.now(UTC).isoformat(),
                }
                self.outbox.record_receipt(message["channel"]["messageId"], receipt)
                records.append(InboundMessage(None, channel_id, "Receipt", message))
            else:
                ids.append(self.new_id())
                records.append(InboundMessage(ids[-1], channel_id, message["type"], message))
        with self._lock:
            self._inbound.extend(records)
        return json_response(envelope(0, data={"ids": ids}) if ids else envelope(0))

    async def upload_media(self, call: Call) -> Response:
        self._check_ccid(call)
        parts: Mapping[str, Part] = call.parsed
        file = parts["file"]
        mimetype = (file.content_type or "").split(";")[0].strip().lower()
        if not mimetype or mimetype == "application/octet-stream":
            mimetype = mimetypes.guess_type(file.filename or "")[0] or "application/octet-stream"
        if mimetype not in self.config.media_types:
            raise ErrorReply(
                415, f"Unsupported Media Type: {mimetype} (accepted: {', '.join(self.config.media_types)})"
            )
        media = Media(str(uuid.uuid4()), call.params["channelId"], file.filename or "file", mimetype, file.data)
        with self._lock:
            self._media[(media.channel_id, media.id)] = media
        return json_response(envelope(0, data=media.resource()))

    def _media_of(self, call: Call, *, remove: bool = False) -> Media:
        key = (call.params["channelId"], call.params["mediaId"])
        with self._lock:
            media = self._media.pop(key, None) if remove else self._media.get(key)
        if media is None:
            raise ErrorReply(404, f"media {key[1]} not found on channel {key[0]}")
        return media

    async def download_media(self, call: Call) -> Response:
        self._check_ccid(call)
        media = self._media_of(call)
        return Response(media.data, media_type=media.mimetype)

    async def delete_media(self, call: Call) -> Response:
        self._check_ccid(call)
        return json_response(envelope(0, data=self._media_of(call, remove=True).resource()))

    # -- what the agent sends ----------------------------------------------------------------

    def _last_consumer(self, channel_id: str) -> str | None:
        for message in reversed(self.inbound(channel_id)):
            if message.type != "Receipt":
                sender = message.payload.get("channel", {}).get("from", {}).get("id")
                if isinstance(sender, str):
                    return sender
        return None

    def build_reply(
        self,
        channel: SandboxChannel,
        text: str,
        *,
        to: str | None = None,
        subject: str | None = None,
        html: str | None = None,
        sender_name: str | None = None,
        reply_to: str | None = None,
    ) -> Delivery:
        """The ``OutgoingSmsMessage`` (or ``OutgoingEmailMessage``) an agent's reply becomes."""
        recipient = to or self._last_consumer(channel.id)
        if recipient is None:
            raise ValueError(f"channel {channel.id!r} has no consumer to reply to yet: pass to=")
        sender: dict[str, Any] = {"id": channel.address or channel.id}
        email = subject is not None or html is not None or channel.type == "email"
        if not email:
            message_id = self.new_id()
            payload: dict[str, Any] = {
                "channel": {
                    "id": channel.id,
                    "type": channel.type,
                    "from": sender,
                    "to": {"id": recipient},
                    "messageId": message_id,
                },
                "type": "Text",
                "text": text,
            }
            return Delivery(message_id, channel.id, payload)
        message_id = str(uuid.uuid4())
        if sender_name:
            sender["name"] = sender_name
        channel_part: dict[str, Any] = {
            "id": channel.id,
            "type": "email" if channel.type == "sms" else channel.type,
            "from": sender,
            "to": [{"id": recipient}],
            "messageId": message_id,
        }
        if reply_to:
            channel_part["context"] = {"replyTo": {"id": reply_to}}
        content = [{"type": "text", "text": text}] + ([{"type": "html", "text": html}] if html is not None else [])
        payload = {"channel": channel_part, "type": "Email", "subject": subject or "", "content": content}
        return Delivery(message_id, channel.id, payload)

    def reply(self, message: Delivery, channel: SandboxChannel, client: httpx.AsyncClient) -> Delivery:
        """Record *message* and start its delivery (in the sandbox's event loop)."""
        self.outbox.send(message, channel, client)
        return message
