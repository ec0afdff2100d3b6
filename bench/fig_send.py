"""``Genesys(...).messaging.send_message`` against raw httpx + hand-made HMAC and JSON.

Two figures: over loopback to ``_server`` (a fast server in a subprocess), and CPU only with an
``httpx.MockTransport`` in both clients. Both contenders send the same bytes with the same
credentials: ``x-api-key``, ``x-ccid``, ``X-Hub-Signature`` over the exact body, a fresh
``X-B3-TraceId``; both decode the JSON answer (the SDK into its model).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable

import httpx

from ._payloads import API_KEY, CCID, CHANNEL, SECRET, message_dict, send_request
from ._server import BODY, fast_server
from ._stats import Row, Sample, interleave, ratio_row

__all__ = ["run"]

_PATH = f"/nexus/v3/channels/{CHANNEL}/messages"


def _raw_sender(client: httpx.Client) -> Callable[[], object]:
    payload = message_dict()
    key = SECRET.encode()

    def send() -> object:
        body = json.dumps(payload).encode()
        headers = {
            "x-api-key": API_KEY,
            "x-ccid": CCID,
            "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
            "X-B3-TraceId": secrets.token_hex(16),
            "Content-Type": "application/json",
        }
        response = client.post(_PATH, content=body, headers=headers)
        response.raise_for_status()
        return response.json()

    return send


def _sdk_sender(genesys: object) -> Callable[[], object]:
    request = send_request()
    api = genesys.messaging  # type: ignore[attr-defined]

    def send() -> object:
        return api.send_message(CHANNEL, body=request)

    return send


def _mock_handler(request: httpx.Request) -> httpx.Response:
    request.read()
    return httpx.Response(200, headers={"content-type": "application/json"}, content=BODY)


def _compare(
    base_url: str, reps: int, k: int, transport: Callable[[], httpx.BaseTransport] | None
) -> tuple[Sample, Sample]:
    from genesys_cx import Genesys

    ours, raw = Sample("sdk"), Sample("raw httpx")
    sdk_transport = None if transport is None else transport()
    raw_transport = None if transport is None else transport()
    with (
        Genesys(
            base_url=base_url, api_key=API_KEY, ccid=CCID, channel_secrets={CHANNEL: SECRET}, transport=sdk_transport
        ) as g,
        httpx.Client(base_url=base_url, transport=raw_transport) as client,
    ):
        sdk_send, raw_send = _sdk_sender(g), _raw_sender(client)
        sdk_send(), raw_send()  # connect both pools before timing
        interleave([(ours, sdk_send), (raw, raw_send)], reps=reps, k=k, warmup=2)
    return ours, raw


def run(quick: bool) -> list[Row]:
    reps, k = (20, 5) if quick else (400, 5)
    with fast_server() as url:
        ours, raw = _compare(url, reps, k, None)
    loopback = ratio_row(
        "send_message over loopback (fast server)",
        ours,
        raw,
        1.05,
        note=f"{k} calls per batch; server: asyncio subprocess",
    )
    mreps, mk = (20, 10) if quick else (500, 10)
    ours, raw = _compare("http://genesys.invalid", mreps, mk, lambda: httpx.MockTransport(_mock_handler))
    mock = ratio_row("send_message CPU only (MockTransport)", ours, raw, 1.10, note=f"{mk} calls per batch")
    return [loopback, mock]
