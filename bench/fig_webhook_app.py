"""``webhook_app`` throughput against a bare Starlette endpoint doing ``hmac`` + ``json.loads``.

Both are served by ONE uvicorn (in a subprocess, with the SDK's recommended settings: the
``HeaderDeadlineProtocol``), at two paths: ``/sdk`` is ``webhook_app`` (verify, parse into the model,
claim in a ``MemoryStore``, run a sync handler on the pool, record, answer the ``messageId``);
``/bare`` is what an integration without the SDK would write: HMAC-SHA1 of the body,
``hmac.compare_digest``, ``json.loads``, answer the ``messageId``. A client with a fixed number of
concurrent keep-alive connections sends batches of signed SMS webhooks (every message id new, so
the SDK's handler really runs) to each path in turn; requests/s per batch, ratio per pair.
"""

from __future__ import annotations

import asyncio
import json
import time

from . import ROOT
from ._payloads import SECRET, webhook_examples
from ._server import python_server
from ._stats import Row, Sample, paired_ratios

__all__ = ["run"]

_SERVE = f"""
import hashlib, hmac, json, sys
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from genesys_cx._serve import ServerThread
from genesys_cx.webhooks import webhook_app

KEY = {SECRET!r}.encode()

async def bare(request: Request) -> JSONResponse:
    body = await request.body()
    expected = "sha1=" + hmac.new(KEY, body, hashlib.sha1).hexdigest()
    if not hmac.compare_digest(expected.encode(), request.headers.get("x-hub-signature", "").lower().encode()):
        return JSONResponse({{"error": "bad signature"}}, 401)
    data = json.loads(body)
    return JSONResponse({{"messageId": data["channel"]["messageId"]}})

def handler(message):
    return None

app = Starlette(routes=[Route("/bare", bare, methods=["POST"]), Mount("/sdk", webhook_app({SECRET!r}, handler))])
server = ServerThread(app).start()
print(server.url, flush=True)
sys.stdin.read()
server.stop()
"""


def _bodies(prefix: str, count: int) -> list[tuple[bytes, str]]:
    """*count* signed copies of the documented SMS webhook, each with a message id of its own."""
    from genesys_cx.signing import sign

    document = json.loads(webhook_examples()["sms"])
    bodies = []
    for n in range(count):
        document["channel"]["messageId"] = f"{prefix}-{n}"
        body = json.dumps(document).encode()
        bodies.append((body, sign(SECRET, body)))
    return bodies


async def _batch(client: object, url: str, bodies: list[tuple[bytes, str]], concurrency: int) -> float:
    """Send every body (``concurrency`` at a time); requests per second over the batch."""
    import httpx

    assert isinstance(client, httpx.AsyncClient)
    queue = list(reversed(bodies))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while queue:
            body, signature = queue.pop()
            headers = {"Content-Type": "application/json", "X-Hub-Signature": signature}
            response = await client.post(url, content=body, headers=headers)
            failures += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} of {len(bodies)} requests to {url} were not answered 200")
    return len(bodies) / elapsed


async def _measure(url: str, reps: int, size: int, concurrency: int) -> tuple[Sample, Sample]:
    import httpx

    sdk, bare = Sample("webhook_app"), Sample("bare hmac+json.loads")
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await _batch(client, url + "/sdk/", _bodies("warm-sdk", size), concurrency)  # warm both paths
        await _batch(client, url + "/bare", _bodies("warm-bare", size), concurrency)
        for rep in range(reps):
            pair = [(sdk, url + "/sdk/", f"sdk-{rep}"), (bare, url + "/bare", f"bare-{rep}")]
            for sample, target, prefix in pair if rep % 2 == 0 else reversed(pair):
                sample.add(await _batch(client, target, _bodies(prefix, size), concurrency))
    return sdk, bare


def run(quick: bool) -> list[Row]:
    reps, size, concurrency = (3, 100, 8) if quick else (12, 400, 16)
    with python_server(_SERVE, cwd=str(ROOT)) as url:
        sdk, bare = asyncio.run(_measure(url, reps, size, concurrency))
    ratios = Sample("ratio", paired_ratios(sdk, bare))
    value = ratios.median
    return [
        Row(
            figure="webhook_app throughput / bare Starlette hmac+json.loads (same uvicorn)",
            value=value,
            unit="x",
            goal=">= 0.6x",
            met=value >= 0.6,
            details=(
                f"webhook_app {sdk.median:.0f} req/s, bare {bare.median:.0f} req/s (medians of {reps} batches of "
                f"{size}, {concurrency} keep-alive connections); ratio p10..p90 "
                f"{ratios.quantile(0.1):.2f}..{ratios.quantile(0.9):.2f}"
            ),
            data={
                "ours": sdk.summary("req/s"),
                "baseline": bare.summary("req/s"),
                "paired_ratio": {"median": value, "p10": ratios.quantile(0.1), "p90": ratios.quantile(0.9)},
                "batch": size,
                "concurrency": concurrency,
            },
        )
    ]
