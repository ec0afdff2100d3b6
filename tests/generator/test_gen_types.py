"""``mypy --strict`` accepts the committed generated package (py.typed: users type-check against it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _gen_support import COMMITTED


def test_mypy_strict_passes_on_the_generated_package(tmp_path: Path) -> None:
    # A cold, private cache (no stale entry hides an error) and no config file (only these flags).
    flags = ["--strict", "--python-version", "3.11", "--cache-dir", str(tmp_path / "cache"), "--config-file", ""]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *flags, str(COMMITTED)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout
