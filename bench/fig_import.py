"""Fresh-process cost of the SDK: ``import genesys_cx`` + ``Genesys(...)`` + ``.messaging``, against ``import httpx``.

Each contender runs in its own new interpreter (``sys.executable -c ...``), alternately, many times.
The child times its own import with ``perf_counter_ns`` (the figure: interpreter start-up is the
same for both and would only dilute the ratio) and reports its resident set size (``VmRSS``) at
the end; the parent's wall time of the whole process is kept beside it.

Bytecode: this workplace sets ``PYTHONDONTWRITEBYTECODE`` and the editable install has no
``__pycache__``, so the children get ``PYTHONPYCACHEPREFIX`` pointing at a temporary folder (filled
by the warm-up runs): both sides then load compiled bytecode, as from an installed wheel, and
nothing is written into the source trees.

Outside quick mode, a second set of rows blocks ``httpx._main`` in both children: httpx imports its command-line
client (click, rich, pygments) whenever those are installed, as they are in the dev environment;
a production install usually has none of them, which makes ``import httpx`` much cheaper.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from . import ROOT
from ._stats import Row, Sample, paired_ratios, ratio_row

__all__ = ["run"]

_PROLOGUE = "import time\n{block}t0 = time.perf_counter_ns()\n"
_EPILOGUE = """
t1 = time.perf_counter_ns()
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(t1 - t0, rss)
"""
_SDK = """
import genesys_cx
client = genesys_cx.Genesys(base_url="http://127.0.0.1:9", api_key="bench-api-key", ccid="bench-ccid",
                            channel_secrets={"ch1": "bench-secret"})
client.messaging
"""
_HTTPX = "import httpx\n"
_HTTPX_CLIENT = "import httpx\nclient = httpx.Client()\n"
_NO_CLI = "import sys\nsys.modules['httpx._main'] = None  # as if click/rich/pygments were not installed\n"


def _script(body: str, block_cli: bool) -> str:
    return _PROLOGUE.format(block=_NO_CLI if block_cli else "") + body + _EPILOGUE


def _child(code: str, env: dict[str, str]) -> tuple[float, float, float]:
    """(import ns measured inside, whole-process wall ns, RSS KiB)."""
    t0 = time.perf_counter_ns()
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter_ns() - t0
    inside, rss = out.stdout.split()
    return float(inside), float(wall), float(rss)


def run(quick: bool) -> list[Row]:
    reps, warmups = (2, 1) if quick else (20, 2)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="genesys-bench-pyc-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        variants = [(False, "")] if quick else [(False, ""), (True, ", httpx CLI deps blocked")]
        for block_cli, suffix in variants:
            sdk, base = _script(_SDK, block_cli), _script(_HTTPX, block_cli)
            with_client = _script(_HTTPX_CLIENT, block_cli)
            for _ in range(warmups):  # compile the bytecode, warm the page cache
                _child(sdk, env), _child(base, env), _child(with_client, env)
            ours, raw, raw_client = Sample("sdk import+client"), Sample("import httpx"), Sample("httpx+Client()")
            ours_wall, raw_wall, client_wall = Sample("sdk process"), Sample("httpx process"), Sample("")
            ours_rss, raw_rss, client_rss = Sample("sdk RSS"), Sample("httpx RSS"), Sample("")
            for rep in range(reps):
                runs = [
                    (sdk, ours, ours_wall, ours_rss),
                    (base, raw, raw_wall, raw_rss),
                    (with_client, raw_client, client_wall, client_rss),
                ]
                for code, inside, wall, rss in runs if rep % 2 == 0 else runs[::-1]:
                    i, w, r = _child(code, env)
                    inside.add(i)
                    wall.add(w)
                    rss.add(r)
            rows.append(_import_row(f"fresh-process import + first use{suffix}", ours, raw, ours_wall, raw_wall))
            context = ratio_row(
                f"  same, against import httpx + httpx.Client(){suffix}",
                ours,
                raw_client,
                None,
                unit="ms",
                note="context: a raw httpx user also builds a client (httpcore, SSL)",
            )
            context.goal = "context"
            rows.append(context)
            rows.append(_rss_row(f"RSS after import + client{suffix}", ours_rss, raw_rss))
    return rows


def _import_row(figure: str, ours: Sample, raw: Sample, ours_wall: Sample, raw_wall: Sample) -> Row:
    row = ratio_row(figure, ours, raw, 1.3, unit="ms")
    wall_ratio = Sample("", paired_ratios(ours_wall, raw_wall)).median
    row.details += f"; whole process {ours_wall.median / 1e6:.0f} vs {raw_wall.median / 1e6:.0f} ms ({wall_ratio:.2f}x)"
    row.data["whole_process"] = {
        "ours": ours_wall.summary("ms"),
        "baseline": raw_wall.summary("ms"),
        "paired_ratio": wall_ratio,
    }
    return row


def _rss_row(figure: str, ours: Sample, raw: Sample) -> Row:
    mib_ours, mib_raw = ours.median / 1024, raw.median / 1024
    return Row(
        figure=figure,
        value=mib_ours,
        unit="MiB",
        goal="report",
        met=None,
        details=f"sdk {mib_ours:.1f} MiB vs httpx {mib_raw:.1f} MiB (+{mib_ours - mib_raw:.1f} MiB, "
        f"{mib_ours / mib_raw:.2f}x), n={ours.n}",
        data={"ours_mib": mib_ours, "baseline_mib": mib_raw, "delta_mib": mib_ours - mib_raw, "n": ours.n},
    )
