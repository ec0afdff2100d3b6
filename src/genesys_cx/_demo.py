"""``genesys-cx demo``: the SDK end to end, on the embedded sandbox (or a real tenant).

The demo starts the sandbox on loopback (unless ``GENESYS_BASE_URL`` points at a real tenant),
starts a webhook receiver built with ``genesys_cx.webhooks``, and walks through the documented
flows with the SDK alone, printing a short transcript:

1. the SMS data flow of the Third-Party Messaging overview (consumer message -> agent reply
   webhook -> the receiver verifies it and answers the messageId -> delivered receipt);
2. the e-mail flow with a failed receipt (reason 350);
3. a media upload used in a rich-media message, then download and delete;
4. an Open Media workitem created, updated and stopped by external id;
5. an OAuth2 login, a statistics subscription and a CometD update.

It exits non-zero if any step fails. Steps that need the sandbox's agent side (agent replies) are
skipped against a real tenant, which has real agents.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from genesys_cx_api.messaging.models import (
    EmailMessage,
    ReceiptMessage,
    RichMediaMessage,
    SendMessagesRequest,
    TextMessage,
    UploadMediaRequest,
)
from genesys_cx_api.open_media.models import (
    ChangePropertiesData,
    CreateInteractionData,
    StopInteractionData,
)
from genesys_cx_api.types import File

from ._config import Settings
from ._facade import AsyncGenesys, Genesys
from ._serve import serve
from .credentials import OAuth2Credentials
from .webhooks import OutgoingMessage, UnknownMessage, webhook_app

__all__ = ["run"]

CONSUMER_PHONE = "16504661149"  # the consumer of the overview's SMS example
CONSUMER_EMAIL = "consumer@example.com"
EMAIL_CHANNEL = "company.com"
EMAIL_SECRET = "sandbox-email-secret"
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201e2e1d2430000000049454e44ae426082"
)


@dataclass
class Receiver:
    """What our webhook receiver got: each verified agent message, in order."""

    messages: queue.Queue[OutgoingMessage] = field(default_factory=queue.Queue)

    def on_message(self, message: OutgoingMessage) -> None:
        self.messages.put(message)

    def next(self, timeout: float = 10.0) -> OutgoingMessage:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no agent message reached the webhook within {timeout} s") from None


class Transcript:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failures: list[str] = []

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def sent(self, text: str) -> None:
        self.say(f"   → {text}")

    def got(self, text: str) -> None:
        self.say(f"   ← {text}")

    def ok(self, text: str) -> None:
        self.say(f"   ✓ {text}")

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.say(f"\n{title}")
        try:
            yield
        except Exception as exc:  # the demo reports every failing step and goes on
            self.failures.append(title)
            self.say(f"   ✗ FAILED: {type(exc).__name__}: {exc}")
            if os.environ.get("GENESYS_DEMO_TRACEBACK"):
                traceback.print_exc(file=self.out)


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


@dataclass
class Demo:
    genesys: Genesys
    settings: Settings
    receiver: Receiver
    out: Transcript
    sandbox: Any = None  # genesys_cx.sandbox.Sandbox when running embedded
    sms_channel: str = ""
    email_channel: str = ""

    def _send(self, channel: str, message: Any) -> list[str]:
        answer = self.genesys.messaging.send_message(channel, body=SendMessagesRequest(messages=[message]))
        ids = answer.to_dict().get("data", {}).get("ids", [])
        return [str(i) for i in ids]

    def sms_flow(self) -> None:
        text = TextMessage.from_dict(
            {
                "type": "Text",
                "channel": {"from": {"id": CONSUMER_PHONE}, "to": {"id": self.sms_channel}},
                "text": "Hi, where is my order 42?",
            }
        )
        ids = self._send(self.sms_channel, text)
        self.out.sent(f'consumer SMS "Hi, where is my order 42?" to channel {self.sms_channel} (signed sha1=…)')
        self.out.got(f"accepted by Genesys, message ids {ids}")
        if self.sandbox is None:
            return
        record = self.sandbox.agent_reply(self.sms_channel, "It ships tomorrow!")
        message = self.receiver.next()
        _check(not isinstance(message, UnknownMessage), "the agent reply is a known message type")
        self.out.got(f'agent reply webhook "{_fields(message).get("text")}": signature verified ✓')
        delivered = self.sandbox.wait_delivered(record.id)
        self.out.sent(f"receiver answered 200 messageId {record.id} after {len(delivered.attempts)} attempt(s)")
        receipt = ReceiptMessage.from_dict(
            {
                "type": "Receipt",
                "channel": {"from": {"id": CONSUMER_PHONE}, "to": {"id": self.sms_channel}, "messageId": record.id},
                "status": "Delivered",
            }
        )
        self._send(self.sms_channel, receipt)
        stored = self.sandbox.state.outbox.get(record.id)
        _check(stored is not None and stored.receipt is not None, "the receipt reached Genesys")
        self.out.ok(f"delivered receipt recorded for {record.id}: {stored.receipt['status']}")

    def email_flow(self) -> None:
        email = EmailMessage.from_dict(
            {
                "type": "Email",
                "channel": {"from": {"id": CONSUMER_EMAIL}, "to": {"id": self.email_channel}},
                "subject": "Order 42",
                "content": [{"type": "text", "text": "Could you send me the invoice?"}],
            }
        )
        ids = self._send(self.email_channel, email)
        self.out.sent(f'consumer e-mail "Order 42" to channel {self.email_channel}')
        self.out.got(f"accepted, message ids {ids}")
        if self.sandbox is None:
            return
        record = self.sandbox.agent_email(
            self.email_channel, "Please find the invoice attached.", subject="Re: Order 42"
        )
        message = self.receiver.next()
        self.out.got(f'agent e-mail webhook "{_fields(message).get("subject", "")}": signature verified ✓')
        self.sandbox.wait_delivered(record.id)
        receipt = ReceiptMessage.from_dict(
            {
                "type": "Receipt",
                "channel": {"from": {"id": CONSUMER_EMAIL}, "to": {"id": self.email_channel}, "messageId": record.id},
                "status": "Failed",
                "reasons": [{"code": 350, "message": "The recipient's mailbox is full"}],
            }
        )
        self._send(self.email_channel, receipt)
        stored = self.sandbox.state.outbox.get(record.id)
        _check(stored is not None and stored.receipt is not None, "the receipt reached Genesys")
        reason = (stored.receipt.get("reasons") or [{}])[0].get("code")
        self.out.ok(f"failed receipt recorded for {record.id}: {stored.receipt['status']}, reason {reason}")

    def media_flow(self) -> None:
        upload = self.genesys.messaging.upload_media(
            self.sms_channel,
            body=UploadMediaRequest(
                file=File(payload=io.BytesIO(TINY_PNG), file_name="map.png", mime_type="image/png")
            ),
        )
        media = upload.to_dict().get("data", {})
        media_id = str(media.get("mediaId"))
        self.out.sent(f"uploaded map.png ({len(TINY_PNG)} bytes, multipart, signed over the exact bytes)")
        self.out.got(f"media {media_id} at {media.get('url')}")
        rich = RichMediaMessage.from_dict(
            {
                "type": "RichMedia",
                "channel": {"from": {"id": CONSUMER_PHONE}, "to": {"id": self.sms_channel}},
                "text": "Here is where I am",
                "media": media,
            }
        )
        ids = self._send(self.sms_channel, rich)
        self.out.sent(f"rich-media message referencing {media_id}: accepted, ids {ids}")
        downloaded = self.genesys.messaging.download_media(self.sms_channel, media_id)
        content = downloaded.payload.read()
        _check(content == TINY_PNG, "downloaded bytes equal the uploaded bytes")
        self.out.ok(f"downloaded {len(content)} bytes, sha256 {hashlib.sha256(content).hexdigest()[:16]}… identical")
        self.genesys.messaging.delete_media(self.sms_channel, media_id)
        self.out.ok(f"deleted media {media_id}")

    def open_media_flow(self) -> None:
        service = "workitem"
        external = f"order-42-{int(time.time())}"
        om = self.genesys.open_media
        created = om.create_interaction(
            service,
            body=CreateInteractionData.from_dict(
                {"data": {"externalId": external, "userData": {"order": "42", "priority": "high"}}}
            ),
        ).data
        self.out.sent(f"workitem created with external id {external}, interaction id {created.interaction_id}")
        om.update_interaction_by_external_id(
            service,
            external,
            body=ChangePropertiesData.from_dict({"data": {"changedProperties": {"priority": "urgent"}}}),
        )
        self.out.sent("workitem updated: priority = urgent")
        got = om.get_interaction_by_external_id(service, external).data
        _check(got.user_data["priority"] == "urgent", "the workitem's user data has the update")
        self.out.got(f"workitem: {_short(got.to_dict())}")
        om.stop_interaction_by_external_id(service, external, body=StopInteractionData.from_dict({"data": {}}))
        self.out.ok(f"workitem {external} stopped")

    def oauth_statistics_flow(self) -> None:
        asyncio.run(self._oauth_statistics())

    async def _oauth_statistics(self) -> None:
        async with AsyncGenesys(self.settings) as genesys:
            if genesys.tokens is None:
                raise RuntimeError("no OAuth2 credentials configured (GENESYS_CLIENT_ID...)")
            await genesys.tokens.token()
            self.out.sent(f"OAuth2 {self.settings.oauth.grant_type if self.settings.oauth else ''} login")
            info = await genesys.auth.get_user_info()
            self.out.got(f"signed in, userinfo: {_short(info.to_dict())}")
            statistic = {
                "statisticId": "ready-agents",
                "objectId": "agent-1",
                "objectType": "Agent",
                "name": "CurrentAgentState",
            }
            subscription = genesys.statistics.subscribe([statistic])
            async with subscription:
                self.out.sent("statistics subscription created; CometD handshake, connect, subscribe")
                received = 0
                async for item in subscription:
                    value = getattr(item, "value", item)
                    if received == 0:  # the subscription's answer carries the current value first
                        self.out.got(f"current value (create_subscription): {_short(value)}")
                    else:
                        self.out.got(f"CometD /statistics/v3/updates: {_short(value)}")
                    received += 1
                    if received >= 2:
                        break
            self.out.ok(f"{received - 1} update(s) received through CometD; subscription deleted")


def _fields(message: OutgoingMessage) -> dict[str, Any]:
    return message.raw if isinstance(message, UnknownMessage) else message.to_dict()


def _short(value: Any, limit: int = 110) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _embedded(receiver_url: str) -> tuple[Any, Settings]:
    from .sandbox import (
        DEMO_API_KEY,
        DEMO_CCID,
        DEMO_CHANNEL_ID,
        DEMO_CHANNEL_SECRET,
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        DEMO_PASSWORD,
        DEMO_USERNAME,
        Sandbox,
        SandboxChannel,
        SandboxConfig,
    )

    config = SandboxConfig(
        channels=[
            SandboxChannel(DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET, webhook_url=receiver_url, type="sms"),
            SandboxChannel(EMAIL_CHANNEL, EMAIL_SECRET, webhook_url=receiver_url, type="email"),
        ]
    )
    sandbox = Sandbox(config)
    settings = Settings(
        base_url="http://placeholder.invalid",
        api_key=DEMO_API_KEY,
        ccid=DEMO_CCID,
        channel_secrets={DEMO_CHANNEL_ID: DEMO_CHANNEL_SECRET, EMAIL_CHANNEL: EMAIL_SECRET},
        oauth=OAuth2Credentials(
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            grant_type="password",
            username=DEMO_USERNAME,
            password=DEMO_PASSWORD,
        ),
    )
    return sandbox, settings


def run(
    out: TextIO = sys.stdout,
    environ: dict[str, str] | None = None,
    *,
    keep_open: bool = False,
    stop: threading.Event | None = None,
) -> int:
    """Run the demo; 0 when every step passed.

    *keep_open* leaves the embedded sandbox running after the steps (its inspector page shows
    what the demo did) until Ctrl-C, or until *stop* is set.
    """
    env = dict(os.environ if environ is None else environ)
    transcript = Transcript(out)
    receiver = Receiver()
    with contextlib.ExitStack() as stack:
        real = "GENESYS_BASE_URL" in env
        sandbox = None
        if real:
            settings = Settings.from_env(env)
            secrets = list(settings.channel_secrets.values())
        else:
            sandbox, settings = _embedded("http://placeholder.invalid")
            secrets = list(settings.channel_secrets.values())
        app = webhook_app(secrets, on_message=receiver.on_message)
        server = stack.enter_context(serve(app))
        if sandbox is not None:
            for channel in sandbox.config.channels:
                channel.webhook_url = server.url + "/"
            stack.enter_context(sandbox)
            settings = settings.with_(base_url=sandbox.url)
        where = settings.base_url if real else f"{settings.base_url} (embedded sandbox)"
        transcript.say(f"genesys-cx demo: Genesys at {where}")
        transcript.say(f"webhook receiver (genesys_cx.webhooks) at {server.url}")
        if sandbox is not None:
            transcript.say(f"inspector (every request, live; open it in a browser): {sandbox.url}/_sandbox/")
        genesys = stack.enter_context(Genesys(settings))
        channels = list(settings.channel_secrets)
        demo = Demo(
            genesys,
            settings,
            receiver,
            transcript,
            sandbox=sandbox,
            sms_channel=env.get("GENESYS_SMS_CHANNEL", channels[0] if channels else ""),
            email_channel=env.get("GENESYS_EMAIL_CHANNEL", channels[1] if len(channels) > 1 else ""),
        )
        steps = [
            ("1. SMS data flow (Third-Party Messaging overview)", demo.sms_flow),
            ("2. E-mail data flow with a failed receipt (reason 350)", demo.email_flow),
            ("3. Media upload in a rich-media message, download, delete", demo.media_flow),
            ("4. Open Media workitem by external id: create, update, stop", demo.open_media_flow),
            ("5. OAuth2 login, statistics subscription, CometD update", demo.oauth_statistics_flow),
        ]
        for title, step in steps:
            with transcript.step(title):
                step()
        code = _outcome(transcript)
        if keep_open:
            _keep_open(transcript, sandbox, stop or threading.Event())
    return code


def _outcome(transcript: Transcript) -> int:
    if transcript.failures:
        transcript.say(f"\n{len(transcript.failures)} step(s) failed: {', '.join(transcript.failures)}")
        return 1
    transcript.say("\nall steps passed ✓")
    return 0


def _keep_open(transcript: Transcript, sandbox: Any, stop: threading.Event) -> None:
    """``--keep-open``: wait with the sandbox up until Ctrl-C (or *stop*)."""
    if sandbox is None:
        transcript.say("--keep-open: nothing to keep open (the demo ran against a real tenant)")
        return
    transcript.say(f"\nthe sandbox stays up: open {sandbox.url}/_sandbox/ in a browser; Ctrl-C stops it")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    transcript.say("sandbox stopped")
