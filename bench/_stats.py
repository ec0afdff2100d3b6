"""Samples, interleaving and the rows of the table.

Every figure is measured side by side: the two contenders run alternately (A B B A A B ...) in
the same process and the same minutes, so drift of a noisy machine hits both alike. A sample
is a list of per-operation times in nanoseconds; a figure compares the medians.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Row", "Sample", "interleave", "no_gc", "paired_ratios", "ratio_row", "time_batch"]


@dataclass
class Sample:
    """Per-operation times (ns) of one contender."""

    label: str
    values: list[float] = field(default_factory=list)
    #: the same batches timed with the thread's CPU clock (preemption by other processes left out)
    cpu: list[float] = field(default_factory=list)

    def add(self, value: float, cpu: float | None = None) -> None:
        self.values.append(value)
        if cpu is not None:
            self.cpu.append(cpu)

    @property
    def n(self) -> int:
        return len(self.values)

    def quantile(self, q: float) -> float:
        data = sorted(self.values)
        if not data:
            return float("nan")
        pos = q * (len(data) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(data) - 1)
        return data[lo] + (data[hi] - data[lo]) * (pos - lo)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def summary(self, unit: str = "us") -> dict[str, Any]:
        scale = _SCALE[unit]
        return {
            "label": self.label,
            "unit": unit,
            "median": self.median / scale,
            "p10": self.quantile(0.10) / scale,
            "p90": self.quantile(0.90) / scale,
            "n": self.n,
        }


_SCALE = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9, "req/s": 1.0}


@dataclass
class Row:
    """One line of the table: a figure, its value, the goal and the raw numbers behind it."""

    figure: str
    value: float
    unit: str  # "x" for a ratio, "s", "msg/s", "MiB"...
    goal: str  # human-readable, e.g. "<= 1.3x"; "" when the figure is only reported
    met: bool | None  # None: nothing to meet
    details: str = ""  # raw numbers for the table
    data: dict[str, Any] = field(default_factory=dict)  # raw numbers for results.json

    def as_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "value": self.value,
            "unit": self.unit,
            "goal": self.goal or None,
            "met": self.met,
            "details": self.details,
            **self.data,
        }


def paired_ratios(a: Sample, b: Sample) -> list[float]:
    """Per repetition, *a*'s time over *b*'s: the two batches ran next to each other."""
    return [x / y for x, y in zip(a.values, b.values, strict=True) if y > 0]


def ratio_row(figure: str, a: Sample, b: Sample, limit: float | None, unit: str = "us", note: str = "") -> Row:
    """A row comparing *a* (ours) with *b* (the baseline), measured alternately.

    The value is the median of the per-repetition ratios (each pair ran back to back, so slow
    drift of a busy machine cancels); the ratio of the two medians is kept beside it.
    """
    ratios = Sample("ratio", paired_ratios(a, b))
    value = ratios.median
    sa, sb = a.summary(unit), b.summary(unit)
    spread = f"ratio p10..p90 {ratios.quantile(0.1):.2f}..{ratios.quantile(0.9):.2f}"
    cpu: dict[str, Any] = {}
    if a.cpu and len(a.cpu) == len(b.cpu):
        cpu_ratios = Sample("cpu ratio", [x / y for x, y in zip(a.cpu, b.cpu, strict=True) if y > 0])
        cpu = {"median": cpu_ratios.median, "p10": cpu_ratios.quantile(0.1), "p90": cpu_ratios.quantile(0.9)}
        spread += f"; thread-CPU ratio {cpu['median']:.2f}"
    details = f"{_fmt(sa)} vs {_fmt(sb)}; {spread}"
    if note:
        details += f"; {note}"
    return Row(
        figure=figure,
        value=value,
        unit="x",
        goal=f"<= {limit:g}x" if limit is not None else "",
        met=None if limit is None else value <= limit,
        details=details,
        data={
            "ours": sa,
            "baseline": sb,
            "limit": limit,
            "ratio_of_medians": a.median / b.median,
            "paired_ratio": {"median": value, "p10": ratios.quantile(0.1), "p90": ratios.quantile(0.9), "n": ratios.n},
            **({"cpu_paired_ratio": cpu} if cpu else {}),
            **({"note": note} if note else {}),
        },
    )


def _fmt(s: dict[str, Any]) -> str:
    return f"{s['label']} {_num(s['median'])} [{_num(s['p10'])}..{_num(s['p90'])}] {s['unit']} n={s['n']}"


def _num(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


@contextmanager
def no_gc() -> Iterator[None]:
    """Collect once, then keep the cyclic collector out of the timed loops."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def time_batch(fn: Callable[[], object], k: int) -> tuple[float, float]:
    """Nanoseconds per call of *fn* over a batch of *k* calls: (wall clock, this thread's CPU time)."""
    c0 = time.thread_time_ns()
    t0 = time.perf_counter_ns()
    for _ in range(k):
        fn()
    t1 = time.perf_counter_ns()
    c1 = time.thread_time_ns()
    return (t1 - t0) / k, (c1 - c0) / k


def interleave(contenders: list[tuple[Sample, Callable[[], object]]], reps: int, k: int, warmup: int = 1) -> None:
    """Run batches of *k* calls of each contender alternately, *reps* times, rotating who goes first.

    Each batch adds one value (ns per call) to its sample. ``warmup`` rounds are run and dropped.
    """
    order = list(contenders)
    for _ in range(warmup):
        for _sample, fn in order:
            time_batch(fn, k)
    with no_gc():
        for rep in range(reps):
            # A B, B A, A B...: neither side always runs right after the other's garbage.
            seq = order if rep % 2 == 0 else order[::-1]
            for sample, fn in seq:
                sample.add(*time_batch(fn, k))
            if rep % 50 == 49:
                gc.collect()
