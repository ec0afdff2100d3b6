"""Exports and media: a 1 GiB download and a 100 MiB upload, each in a process of its own.

The sandbox (``genesys_cx.sandbox``, its export files generated from a seed as they are sent) runs
in a subprocess. Every transfer runs in a fresh worker process (``bench._transfer_worker``) whose
peak RSS is the figure; download throughput is the SDK's (streamed, written through ``.part``,
SHA-256 verified) over raw httpx streaming the same file into a file, in interleaved pairs. The
dropped-connection figure cuts the connection at half the file (the sandbox fault ``drop_after``)
and counts, with a transport outside the SDK, the answer bytes beyond the file's size.
``--quick`` uses 16 MiB and 8 MiB instead of 1 GiB and 100 MiB.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from . import ROOT
from ._server import python_server
from ._stats import Row, Sample

__all__ = ["run"]

_SERVE = """
import sys
from genesys_cx.sandbox import Sandbox, SandboxConfig
with Sandbox(SandboxConfig(export_job_duration=0, export_file_size=int(sys.argv[1]))) as sb:
    print(sb.url, flush=True)
    sys.stdin.read()
"""
_CHUNK = 64 * 1024  # what one network read delivers (httpcore reads 64 KiB at a time)
_RSS_GOAL_KIB = 64 * 1024


def _sandbox(file_size: int) -> contextlib.AbstractContextManager[str]:
    return python_server(_SERVE, str(file_size), cwd=str(ROOT), env=_env())


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT / "generated"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def _worker(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench._transfer_worker", *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"transfer worker failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _export_file(url: str) -> dict[str, Any]:
    """Create a job on the sandbox and return its file's metadata (name, size, sha256)."""
    from genesys_cx.sandbox import DEMO_API_KEY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_USERNAME

    with httpx.Client(base_url=url, headers={"x-api-key": DEMO_API_KEY}, timeout=120) as client:
        token = client.post(
            "/auth/v3/oauth/token",
            auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            data={"grant_type": "password", "username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        job = {
            "source": "UCS",
            "type": "interactions",
            "title": "bench",
            "timeFrame": {"all": True},
            "schedulerParam": {"immediately": True},
            "jobParams": {"type": "email", "media": ["email"]},
            "suspended": False,
        }
        job_id = client.post("/udm/v10/export/jobs", json=job).json()["id"]
        time.sleep(0.1)
        item: dict[str, Any] = client.get("/udm/v10/file-metadatas", params={"historyId": job_id}).json()["items"][0]
        return item


def _mib(kib: float) -> float:
    return kib / 1024


def run(quick: bool) -> list[Row]:
    size = 16 * 1024 * 1024 if quick else 1024 * 1024 * 1024
    upload_size = 8 * 1024 * 1024 if quick else 100 * 1024 * 1024
    pairs = 2 if quick else 3
    label = f"{size // (1024 * 1024)} MiB" if size < 1024**3 else "1 GiB"
    rows: list[Row] = []
    with _sandbox(size) as url, tempfile.TemporaryDirectory(prefix="genesys-bench-") as tmp:
        folder = Path(tmp)
        meta = _export_file(url)
        name, checksum = meta["name"], "sha256:" + meta["sha256"]
        ours, base = Sample("sdk download"), Sample("raw httpx stream")
        rss: list[int] = []
        for i in range(pairs):
            order = ("sdk", "raw") if i % 2 == 0 else ("raw", "sdk")
            for kind in order:
                target = folder / f"{kind}-{i}"
                target.mkdir()
                if kind == "sdk":
                    result = _worker("sdk", url, name, str(target), str(meta["size"]), checksum)
                    assert result["size"] == meta["size"] and result["checksum"] == checksum
                    ours.add(result["seconds"] * 1e9)
                    rss.append(result["peak_rss_kib"])
                else:
                    result = _worker("raw", url, name, str(target / name))
                    assert result["size"] == meta["size"]
                    base.add(result["seconds"] * 1e9)
                for leftover in target.iterdir():
                    leftover.unlink()
        # throughput ratio = our throughput over raw httpx's = raw time / our time, per pair
        ratios = [b / a for a, b in zip(ours.values, base.values, strict=True)]
        ratio = statistics.median(ratios)
        rows.append(
            Row(
                f"download {label} export: SDK throughput / raw httpx stream",
                ratio,
                "x",
                ">= 0.8x",
                ratio >= 0.8,
                f"sdk {ours.median / 1e9:.2f} s, raw {base.median / 1e9:.2f} s, pairs {[round(r, 3) for r in ratios]}",
                {
                    "ours": ours.summary("ms"),
                    "baseline": base.summary("ms"),
                    "paired_ratio": ratios,
                    "mib_per_s": {"sdk": size / 2**20 / (ours.median / 1e9), "raw": size / 2**20 / (base.median / 1e9)},
                },
            )
        )
        peak = max(rss)
        rows.append(
            Row(
                f"download {label} export: peak RSS of the SDK process",
                _mib(peak),
                "MiB",
                "<= 64 MiB",
                peak <= _RSS_GOAL_KIB,
                f"per run {[round(_mib(r), 1) for r in rss]} MiB (whole process: interpreter, httpx, SDK)",
                {"peak_rss_mib": [_mib(r) for r in rss]},
            )
        )

        fault = {"match": "download_file_v10", "drop_after": meta["size"] // 2, "times": 1}
        httpx.post(f"{url}/_sandbox/faults", json=fault).raise_for_status()
        dropped = folder / "dropped"
        dropped.mkdir()
        result = _worker("sdk", url, name, str(dropped), str(meta["size"]), checksum)
        again = result["wire_bytes"] - meta["size"]
        rows.append(
            Row(
                f"download {label}, connection dropped at 50%: answer bytes received (file: {meta['size']} B)",
                float(result["wire_bytes"]),
                "B",
                f"<= file + {_CHUNK} B (one chunk fetched again)",
                again <= _CHUNK and result["resumed_from"] == [meta["size"] // 2],
                f"fetched again: {again} B; resumed from {result['resumed_from']} (bytes counted by a transport "
                f"outside the SDK), checksum {result['checksum'][:15]}...",
                {"resumed_from": result["resumed_from"], "wire_bytes": result["wire_bytes"], "fetched_again": again},
            )
        )

        media = folder / "media.bin"
        with media.open("wb") as sink:
            for _ in range(upload_size // 2**20):
                sink.write(os.urandom(2**20))
        upload = _worker("upload", url, str(media))
        ok = upload["accepted_length"] == upload_size
        rows.append(
            Row(
                f"upload {upload_size // 2**20} MiB media: peak RSS of the SDK process",
                _mib(upload["peak_rss_kib"]),
                "MiB",
                "<= 64 MiB, signature verified",
                upload["peak_rss_kib"] <= _RSS_GOAL_KIB and ok,
                f"{upload['seconds']:.2f} s; the sandbox verified X-Hub-Signature and stored "
                f"{upload['accepted_length']} of {upload_size} bytes",
                {"upload": upload},
            )
        )
    return rows
