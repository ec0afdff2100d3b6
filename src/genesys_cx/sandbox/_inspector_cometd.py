"""The inspector's view of CometD: sessions, subscriptions and the last messages per channel, read off the wire.

``CometdTracker.observe`` is given each Bayeux POST the inspector recorded (the request's messages
and the answer's replies, when both were captured whole) and keeps, within fixed bounds, what a
person wants to see: which clients handshook, what they subscribed to, whether they were told
``402::Unknown client``, and the last few messages delivered on each channel. Reading the wire
rather than the server's internals keeps this true for any Bayeux server the sandbox mounts, and
for any client. Notable moments also become ``cometd`` events in the log.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from ._events import EventLog, clip, now_ms

__all__ = ["CometdTracker"]

_MAX_SESSIONS = 100
_MAX_CHANNELS = 50
_MESSAGES_PER_CHANNEL = 5


def _messages(raw: bytes, content_type: str | None) -> list[dict[str, Any]]:
    """Bayeux messages in a body: a JSON array or object, or the form field ``message=``."""
    try:
        if content_type and "x-www-form-urlencoded" in content_type:
            raw = parse_qs(raw.decode("utf-8")).get("message", [""])[0].encode("utf-8")
        data = json.loads(raw) if raw else []
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []
    items = [data] if isinstance(data, dict) else data if isinstance(data, list) else []
    return [m for m in items if isinstance(m, dict)]


class CometdTracker:
    """Bounded CometD state observed on the wire (see the module docstring)."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._channels: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()

    def observe(self, request: bytes, content_type: str | None, answer: bytes, status: int | None) -> None:
        sent = _messages(request, content_type)
        replies = _messages(answer, "application/json") if status == 200 else []
        connecting = next((m.get("clientId") for m in sent if m.get("channel") == "/meta/connect"), None)
        for reply in replies:
            channel = reply.get("channel")
            if not isinstance(channel, str):
                continue
            if channel.startswith("/meta/"):
                self._meta(channel, reply, connecting)
            else:
                self._delivered(channel, reply.get("data"))

    def _session(self, client_id: str) -> dict[str, Any]:
        session = self._sessions.get(client_id)
        if session is None:
            session = {"client": client_id, "since": now_ms(), "channels": [], "state": "connected", "connects": 0}
            self._sessions[client_id] = session
            while len(self._sessions) > _MAX_SESSIONS:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(client_id)
        session["seen"] = now_ms()
        return session

    def _meta(self, channel: str, reply: Mapping[str, Any], connecting: object) -> None:
        client = reply.get("clientId")
        client = client if isinstance(client, str) else connecting if isinstance(connecting, str) else None
        ok = reply.get("successful") is True
        action = channel[len("/meta/") :]
        note: dict[str, Any] | None = None
        with self._lock:
            if client is None:
                return
            session = self._session(clip(client, 64))
            if action == "connect":
                session["connects"] += 1
                # a poll still held when its client disconnected ends with 402 too: nothing to report
                unknown = not ok and str(reply.get("error", "")).startswith("402")
                if unknown and session["state"] != "disconnected":
                    session["state"] = "unknown client (402): must handshake again"
                    note = {"action": "unknown client", "client": session["client"]}
            elif action in ("subscribe", "unsubscribe") and ok:
                subscription = clip(str(reply.get("subscription")), 120)
                channels = [c for c in session["channels"] if c != subscription]
                session["channels"] = [*channels, subscription] if action == "subscribe" else channels
                note = {"action": action, "client": session["client"], "channel": subscription}
            elif action == "handshake" and ok:
                note = {"action": "handshake", "client": session["client"]}
            elif action == "disconnect" and ok:
                session["state"] = "disconnected"
                note = {"action": "disconnect", "client": session["client"]}
            if not ok and note is None and session["state"] != "disconnected":
                error = clip(str(reply.get("error")))
                note = {"action": f"{action} refused", "client": session["client"], "error": error}
        if note is not None:
            self.log.add("cometd", note)

    def _delivered(self, channel: str, data: Any) -> None:
        shown = self.log.masker.value(data)
        with self._lock:
            name = clip(channel, 120)
            recent = self._channels.get(name)
            if recent is None:
                recent = self._channels[name] = deque(maxlen=_MESSAGES_PER_CHANNEL)
                while len(self._channels) > _MAX_CHANNELS:
                    self._channels.popitem(last=False)
            recent.append({"at": now_ms(), "data": shown})
        self.log.add("cometd", {"action": "message", "channel": name, "data": clip(shown, 200)})

    def snapshot(self, live: set[str] | None = None, service: str | None = None) -> dict[str, Any]:
        """Sessions (marked ``live`` when the server still knows them), channels, service state."""
        with self._lock:
            sessions = [dict(s, channels=list(s["channels"])) for s in reversed(self._sessions.values())]
            channels = {name: list(recent) for name, recent in self._channels.items()}
        if live is not None:
            for session in sessions:
                if session["state"] == "connected" and session["client"] not in live:
                    session["state"] = "expired"
        return {"sessions": sessions, "channels": channels, "service": service}
