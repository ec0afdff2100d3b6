"""``python -m bench [--quick] [--only NAME ...]``: measure, print one table, write ``bench/results.json``."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import (
    RESULTS,
    fig_generator,
    fig_import,
    fig_sandbox,
    fig_send,
    fig_sign,
    fig_transfer,
    fig_webhook,
    fig_webhook_app,
)
from ._stats import Row

#: name -> the module measuring it, in the order of the table.
FIGURES: dict[str, Callable[[bool], list[Row]]] = {
    "import": fig_import.run,
    "send": fig_send.run,
    "webhook": fig_webhook.run,
    "webhook_app": fig_webhook_app.run,
    "sign": fig_sign.run,
    "generator": fig_generator.run,
    "sandbox": fig_sandbox.run,
    "transfer": fig_transfer.run,
}


def _value(row: Row) -> str:
    if row.unit == "x":
        return f"{row.value:.3f}x"
    if row.unit == "s":
        return f"{row.value:.2f} s"
    return f"{row.value:.1f} {row.unit}"


def _verdict(row: Row) -> str:
    return "-" if row.met is None else ("met" if row.met else "MISSED")


def render(rows: list[Row]) -> str:
    """The table: figure, value, goal, verdict, and the raw numbers behind each figure."""
    head = ("figure", "value", "goal", "verdict")
    table = [head] + [(r.figure, _value(r), r.goal or "-", _verdict(r)) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(cells) for cells in table[1:]]
    out.append("")
    out.append("raw numbers (median [p10..p90], n; ratios are medians of back-to-back pairs):")
    out += [f"  {r.figure}: {r.details}" for r in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: a few repetitions of everything")
    parser.add_argument("--only", nargs="+", choices=sorted(FIGURES), help="measure these figures only")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"where to write the JSON (default {RESULTS})")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    rows: list[Row] = []
    timings: dict[str, float] = {}
    for name, run in FIGURES.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        print(f"measuring {name}...", file=sys.stderr, flush=True)
        rows.extend(run(args.quick))
        timings[name] = time.perf_counter() - t0
    elapsed = time.perf_counter() - started

    print(render(rows))
    missed = [r.figure for r in rows if r.met is False]
    print(f"\n{len(missed)} goal(s) missed: {'; '.join(missed) or 'none'}")
    print(f"{'quick' if args.quick else 'full'} run took {elapsed:.1f} s")

    result = {
        "quick": args.quick,
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "duration_s": elapsed,
        "seconds_per_figure": timings,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "rows": [r.as_json() for r in rows],
        "missed": missed,
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0  # goals are reported, never asserted


if __name__ == "__main__":
    sys.exit(main())
