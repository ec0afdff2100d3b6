"""Secure Email (``/nexus/v3/securemail``): a mailbox per consumer address and secure box.

The docs leave the mail's fields undocumented (``SecureMail`` is an open object), so the sandbox
stores whatever ``data`` the sender posted and adds ``id``, ``address`` (``data.address``, else
``data.to`` / ``data.from``), ``securebox``, ``read`` and ``createdAt``. Listing and counting filter by
address, secure box and read status; ``delete`` with ``remove`` absent or ``read`` marks a mail
read, ``delete`` (or ``true``) hides it from lists but keeps it retrievable, ``purge`` deletes it.
Secure Email answers with its own envelope, whose ``status.code`` is a string (``SUCCESS``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from ._http import Call, ErrorReply, json_response

__all__ = ["SecureEmailEmulator", "error_body"]


def _ok(call: Call, **extra: Any) -> Response:
    body: dict[str, Any] = {"status": {"code": "SUCCESS"}, "referenceId": uuid.uuid4().hex, **extra}
    if isinstance(call.parsed, dict) and isinstance(call.parsed.get("operationId"), str):
        body["operationId"] = call.parsed["operationId"]
    return json_response(body)


def _error(status: int, code: str, message: str) -> ErrorReply:
    return ErrorReply(status, message, body={"status": {"code": code, "message": message}})


def error_body(status: int, message: str) -> dict[str, Any]:
    """Secure Email's envelope for an error the sandbox raises before the handler (400, 403, ...)."""
    code = {400: "INVALID_PARAMETER", 401: "INVALID_CLIENT_TOKEN", 403: "INVALID_CLIENT_TOKEN"}.get(status, "FAILURE")
    return {"status": {"code": code, "message": message}}


class SecureEmailEmulator:
    """Handlers of ``secure_email.yaml``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mails: dict[str, dict[str, Any]] = {}
        self._hidden: set[str] = set()

    def handlers(self) -> dict[str, Callable[[Call], Awaitable[Response]]]:
        return {
            "send_secure_email": self.send,
            "list_secure_emails": self.list,
            "count_secure_emails": self.count,
            "get_secure_email": self.get,
            "delete_secure_email": self.delete,
            "get_secure_email_userdata": self.userdata,
        }

    def mails(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._mails.values()]

    def _selected(self, call: Call) -> list[dict[str, Any]]:
        address, box = call.query.get("address"), call.query.get("securebox")
        wanted = call.query.get("status", "all")
        with self._lock:
            return [
                dict(m)
                for m in self._mails.values()
                if m["id"] not in self._hidden
                and m["address"] == address
                and (box is None or m.get("securebox") == box)
                and (wanted == "all" or (wanted == "read") == m["read"])
            ]

    def _mail(self, call: Call, status: int) -> dict[str, Any]:
        mail = self._mails.get(call.params["secureMailId"])
        if mail is None:
            raise _error(status, "INVALID_PARAMETER", f"secure email {call.params['secureMailId']} not found")
        return mail

    async def send(self, call: Call) -> Response:
        data = dict((call.parsed or {}).get("data") or {})
        address = next((data[k] for k in ("address", "to", "from") if isinstance(data.get(k), str)), None)
        if address is None:
            raise _error(400, "INVALID_PARAMETER", "data.address (the consumer's e-mail address) is required")
        mail = {
            **data,
            "id": str(uuid.uuid4()),
            "address": address,
            "read": False,
            "createdAt": datetime.now(UTC).isoformat(),
        }
        if "securebox" in call.query:
            mail["securebox"] = call.query["securebox"]
        with self._lock:
            self._mails[mail["id"]] = mail
        return _ok(call, secureMailId=mail["id"], selfUri=f"{call.request.url.path}/{mail['id']}")

    async def list(self, call: Call) -> Response:
        mails = self._selected(call)
        index, count = int(call.query.get("index", 0)), int(call.query.get("count", 10))
        return _ok(call, data=mails[index : index + count] if count else mails[index:])

    async def count(self, call: Call) -> Response:
        return _ok(call, data={"count": len(self._selected(call))})

    async def get(self, call: Call) -> Response:
        with self._lock:
            mail = self._mail(call, 400)
            if call.query.get("read", "").lower() == "true":
                mail["read"] = True
            return _ok(call, secureMail=dict(mail))

    async def delete(self, call: Call) -> Response:
        action = call.query.get("remove", "read")
        with self._lock:
            mail = self._mail(call, 404)
            mail["read"] = True
            if action in ("delete", "true"):
                self._hidden.add(mail["id"])
            elif action == "purge":
                del self._mails[mail["id"]]
            return _ok(call, secureMail=dict(mail))

    async def userdata(self, call: Call) -> Response:
        with self._lock:
            mail = self._mail(call, 400)
            user_data = mail.get("userData") if isinstance(mail.get("userData"), dict) else {}
        return _ok(call, data=dict(user_data or {}))
