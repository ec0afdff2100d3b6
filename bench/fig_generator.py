"""The generator: a full regeneration of every spec, and a no-op run with unchanged inputs.

Both run ``python -m generator`` exactly as a developer does, in a temporary copy of ``generator/``
and ``specs/`` (so ``generated/`` of the work tree is never touched): ``--force`` first (the full
regeneration), then without it (the inputs are unchanged: a no-op). The child's ``TMPDIR`` is
private, so the machine-wide generator lock of another run never stalls these timings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import ROOT
from ._stats import Row, Sample

__all__ = ["run"]


_QUICK_SPEC = "open_media.yaml"  # one spec with operations (the registry gives it an attribute)


def _copy_tree(tmp: Path, quick: bool) -> Path:
    """The generator and the specs (in quick mode one spec, with the shared parts) under *tmp*."""
    root = tmp / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "generator", root / "generator", ignore=ignore)
    shutil.copytree(ROOT / "specs", root / "specs", ignore=ignore)
    if quick:
        for spec in (root / "specs").glob("*.yaml"):
            if spec.name != _QUICK_SPEC:
                spec.unlink()
        registry = root / "specs" / "apis.toml"  # one line per spec present
        keep = Path(_QUICK_SPEC).stem
        lines = registry.read_text(encoding="utf-8").splitlines(keepends=True)
        registry.write_text(
            "".join(line for line in lines if " = { " not in line or line.startswith(f"{keep} = ")), encoding="utf-8"
        )
    return root


def _run(root: Path, env: dict[str, str], *args: str) -> float:
    t0 = time.perf_counter_ns()
    out = subprocess.run([sys.executable, "-m", "generator", *args], cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter_ns() - t0
    if out.returncode != 0:
        raise RuntimeError(f"python -m generator {' '.join(args)} failed: {out.stderr.strip()[-2000:]}")
    return float(elapsed)


def run(quick: bool) -> list[Row]:
    full_reps, noop_reps = (1, 2) if quick else (3, 10)
    specs = len(list((ROOT / "specs").glob("*.yaml")))
    full, noop = Sample("--force"), Sample("no-op")
    with tempfile.TemporaryDirectory(prefix="genesys-bench-gen-") as tmp_name:
        tmp = Path(tmp_name)
        root = _copy_tree(tmp, quick)
        private_tmp = tmp / "tmp"
        private_tmp.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(TMPDIR=str(private_tmp), PYTHONPYCACHEPREFIX=str(tmp / "pyc"))
        if not quick:
            _run(root, env, "--force")  # warm-up: bytecode, page cache
        for _ in range(full_reps):
            full.add(_run(root, env, "--force"))
        for _ in range(noop_reps):
            noop.add(_run(root, env))
        generated = sum(1 for p in (root / "generated").rglob("*") if p.is_file())
    full_row = _seconds_row(
        "full regeneration (python -m generator --force)", full, 10.0, f"{specs} specs, {generated} files written"
    )
    if quick:  # one spec only: a smoke test of the measurement, not the figure
        full_row.figure += f" [quick: {_QUICK_SPEC} only]"
        full_row.details = full_row.details.replace(f"{specs} specs", "1 spec")
        full_row.met = None
    return [full_row, _seconds_row("no-op regeneration (python -m generator)", noop, 2.0, "inputs unchanged")]


def _seconds_row(figure: str, sample: Sample, limit: float, note: str) -> Row:
    s = sample.summary("s")
    value = s["median"]
    return Row(
        figure=figure,
        value=value,
        unit="s",
        goal=f"<= {limit:g} s",
        met=value <= limit,
        details=f"median {value:.2f} s [{s['p10']:.2f}..{s['p90']:.2f}] n={s['n']}; {note} (whole process)",
        data={"sample": s, "limit_s": limit},
    )
