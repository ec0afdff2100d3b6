"""``mypy --strict`` accepts the committed generated package and the runtime (py.typed: users type-check
against both), and the code written as a user would: the tests and README.md's python blocks.

This is the project's one mypy run in CI (``tox -e type`` runs the same for a developer): the project's
configuration (``[tool.mypy]``: strict, both packages), with a cold, private cache (shared by the three
checks of this module, in order) so no stale entry hides an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _gen_support import ROOT


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy") / "cache"


def _run(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "MYPY_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_mypy_strict_passes_on_the_runtime_and_the_generated_package(cache: Path) -> None:
    done = _run(cache, "-m", "mypy", "--cache-dir", str(cache))
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout


def test_mypy_strict_passes_on_the_tests(cache: Path) -> None:
    done = _run(cache, "-m", "mypy", "--cache-dir", str(cache), "tests")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout


def test_mypy_strict_passes_on_the_readme_python_blocks(cache: Path) -> None:
    done = _run(cache, "tests/readme/typecheck.py")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " 0 mypy --strict error(s)" in done.stdout
