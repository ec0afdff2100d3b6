"""The performance budget of genesys-cx, measured side by side: ``python -m bench [--quick]``.

Each figure is a ratio of two things measured in the same run, interleaved, as medians of many
repetitions (raw numbers beside it), or an absolute number where there is nothing to compare with.
Goals are reported as met or missed, never asserted. Results go to ``bench/results.json``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
