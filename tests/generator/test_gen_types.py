"""``mypy --strict`` accepts the committed generated package and the runtime (py.typed: users type-check
against both).

This is the project's one mypy run over ``src/`` and ``generated/`` in CI (``tox -e type`` runs the
same for a developer): the project's configuration (``[tool.mypy]``: strict, both packages), with a
cold, private cache so no stale entry hides an error.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _gen_support import ROOT


def test_mypy_strict_passes_on_the_runtime_and_the_generated_package(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout
