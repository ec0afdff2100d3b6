"""Signed ``send_message`` calls to the sandbox: an async burst with zero errors, and a throughput grid.

The sandbox (``genesys_cx.sandbox.Sandbox`` with its demo configuration: it checks ``x-api-key``,
``x-ccid`` and ``X-Hub-Signature`` and validates every request and answer against the spec) runs in
a subprocess, so client and server each have a core. Each call's latency is timed on its own; the
rate is calls over the wall time of the whole batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import ROOT
from ._payloads import send_request
from ._server import python_server
from ._stats import Row, Sample

__all__ = ["run"]

_SERVE = """
import sys
from genesys_cx.sandbox import Sandbox
with Sandbox() as sb:
    print(sb.url, flush=True)
    sys.stdin.read()
"""


def _sandbox() -> contextlib.AbstractContextManager[str]:
    return python_server(_SERVE, cwd=str(ROOT))


def _options(url: str) -> dict[str, Any]:
    from genesys_cx.sandbox import DEMO_API_KEY, DEMO_CCID, DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET

    return {
        "base_url": url,
        "api_key": DEMO_API_KEY,
        "ccid": DEMO_CCID,
        "channel_secrets": {DEMO_CHANNEL_ID: DEMO_CHANNEL_SECRET},
    }


class _Load:
    """The outcome of one batch: latencies, errors, wall time."""

    def __init__(self, label: str) -> None:
        self.latency = Sample(label)
        self.errors = 0
        self.first_error: str | None = None
        self.elapsed_ns = 0
        self._lock = threading.Lock()

    def record(self, started: int, error: BaseException | None) -> None:
        took = time.perf_counter_ns() - started
        with self._lock:
            self.latency.add(took)
            if error is not None:
                self.errors += 1
                self.first_error = self.first_error or f"{type(error).__name__}: {error}"

    @property
    def rate(self) -> float:
        return self.latency.n / (self.elapsed_ns / 1e9) if self.elapsed_ns else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.latency.n,
            "errors": self.errors,
            "first_error": self.first_error,
            "msgs_per_s": self.rate,
            "elapsed_s": self.elapsed_ns / 1e9,
            "latency_ms": {"p50": self.latency.quantile(0.5) / 1e6, "p99": self.latency.quantile(0.99) / 1e6},
        }


async def _async_load(url: str, total: int, concurrency: int, label: str) -> _Load:
    from genesys_cx import AsyncGenesys
    from genesys_cx.sandbox import DEMO_CHANNEL_ID

    load = _Load(label)
    body = send_request()
    remaining = total
    async with AsyncGenesys(**_options(url)) as genesys:
        api = genesys.messaging
        await api.send_message(DEMO_CHANNEL_ID, body=body)  # connect, build the client

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter_ns()
                try:
                    await api.send_message(DEMO_CHANNEL_ID, body=body)
                except Exception as exc:
                    load.record(started, exc)
                else:
                    load.record(started, None)

        t0 = time.perf_counter_ns()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        load.elapsed_ns = time.perf_counter_ns() - t0
    return load


def _sync_load(url: str, total: int, concurrency: int, label: str) -> _Load:
    from genesys_cx import Genesys
    from genesys_cx.sandbox import DEMO_CHANNEL_ID

    load = _Load(label)
    body = send_request()
    with Genesys(**_options(url)) as genesys:
        api = genesys.messaging
        api.send_message(DEMO_CHANNEL_ID, body=body)

        def one(_: int) -> None:
            started = time.perf_counter_ns()
            try:
                api.send_message(DEMO_CHANNEL_ID, body=body)
            except Exception as exc:
                load.record(started, exc)
            else:
                load.record(started, None)

        t0 = time.perf_counter_ns()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(total)))
        load.elapsed_ns = time.perf_counter_ns() - t0
    return load


def _row(figure: str, load: _Load, goal: str, met: bool | None) -> Row:
    data = load.as_json()
    lat = data["latency_ms"]
    return Row(
        figure=figure,
        value=load.rate,
        unit="msg/s",
        goal=goal,
        met=met,
        details=f"{load.latency.n} calls, {load.errors} errors, p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, "
        f"{data['elapsed_s']:.1f} s" + (f"; first error: {load.first_error}" if load.first_error else ""),
        data=data,
    )


def run(quick: bool) -> list[Row]:
    burst = 300 if quick else 10_000
    per_cell = 20 if quick else 600
    rows = []
    with _sandbox() as url:
        load = asyncio.run(_async_load(url, burst, 100, "async burst"))
        rows.append(
            _row(f"async: {burst} signed sends to the sandbox, concurrency 100", load, "0 errors", load.errors == 0)
        )
        for concurrency in (1, 10, 100):
            for kind in ("sync", "async"):
                n = max(per_cell // 3, 20) if concurrency == 1 else per_cell
                if kind == "sync":
                    load = _sync_load(url, n, concurrency, f"sync c={concurrency}")
                else:
                    load = asyncio.run(_async_load(url, n, concurrency, f"async c={concurrency}"))
                rows.append(
                    _row(
                        f"sandbox throughput, {kind}, concurrency {concurrency}",
                        load,
                        "record",
                        None if load.errors == 0 else False,
                    )
                )
    return rows
