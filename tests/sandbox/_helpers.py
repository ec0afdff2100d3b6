"""Helpers of the sandbox tests: the generated messaging client, signed posts, a webhook receiver."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from genesys_cx_api.messaging.api import MessagingApi
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from genesys_cx import handle_response
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CHANNEL_SECRET,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    Sandbox,
)
from genesys_cx.signing import HubSignature, sign, verify


def messaging_api(sb: Sandbox, secret: str = DEMO_CHANNEL_SECRET, api_key: str = DEMO_API_KEY) -> MessagingApi:
    """The generated Third-Party Messaging client, signing with *secret*."""
    client = httpx.Client(
        base_url=sb.base_url("messaging"),
        headers={"x-api-key": api_key},
        auth=HubSignature(secret),
        timeout=httpx.Timeout(10),
    )
    return MessagingApi(client, handler=handle_response, ambient=lambda kind: DEMO_CCID if kind == "ccid" else None)


def signed_post(
    client: httpx.Client,
    path: str,
    body: bytes,
    *,
    secret: str = DEMO_CHANNEL_SECRET,
    ccid: str | None = DEMO_CCID,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST *body* as JSON with a correct signature (unless headers override it)."""
    sent = {"Content-Type": "application/json", "X-Hub-Signature": sign(secret, body)}
    if ccid is not None:
        sent["x-ccid"] = ccid
    sent.update(headers or {})
    return client.post(path, content=body, headers=sent)


@dataclass
class Receiver:
    """A webhook endpoint: verifies signatures, records every POST, fails on demand."""

    secret: str = DEMO_CHANNEL_SECRET
    failure_rate: float = 0.0
    seed: int = 0
    status_on_failure: int = 503
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        if not verify(self.secret, body, request.headers.get("X-Hub-Signature")):
            with self._lock:
                self.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        with self._lock:
            fail = self._random.random() < self.failure_rate
            self.received.append({"body": body, "failed": fail})
        if fail:
            return Response(status_code=self.status_on_failure)
        return JSONResponse({"messageId": json.loads(body)["channel"]["messageId"]})


def bearer_headers(sb: Sandbox) -> dict[str, str]:
    """``x-api-key`` and a bearer token the sandbox issued for the demo user (password grant)."""
    token = httpx.post(
        sb.base_url("auth") + "/oauth/token",
        data={"grant_type": "password", "username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        headers={"x-api-key": DEMO_API_KEY},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    ).json()["access_token"]
    return {"x-api-key": DEMO_API_KEY, "Authorization": f"Bearer {token}"}


def eventually(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition not met in time") -> None:
    """Poll *condition* until it holds; fail with *what* after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)
