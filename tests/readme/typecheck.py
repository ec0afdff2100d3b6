"""``mypy --strict`` over README.md's ```python blocks, as a reader's own program would be checked.

Run from the repository root: ``python tests/readme/typecheck.py`` (tox's ``type`` environment does).
Each block becomes a module of its own (``Block.typed_source()``: the declarations of what its
``readme-test`` comment says it is given, then the code as written), checked with the project's mypy
configuration; errors are reported with their README.md line. Exit status 0 when every block passes.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mypy import api

if __package__ or TYPE_CHECKING:  # imported by a test (tests/ on sys.path): readme.typecheck
    from ._blocks import README, python_blocks
else:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _blocks import README, python_blocks

ROOT = Path(__file__).resolve().parents[2]
_ERROR = re.compile(r"^(?:.*[/\\])?readme_block_(?P<index>\d+)\.py:(?P<line>\d+): (?P<message>.*)$")


def check(readme: Path = README) -> list[str]:
    """The mypy --strict errors of *readme*'s python blocks, as ``README.md:<line>: <message>``."""
    blocks = python_blocks(readme)
    with tempfile.TemporaryDirectory(prefix="readme-types-") as tmp:
        files = []
        for index, block in enumerate(blocks):
            path = Path(tmp) / f"readme_block_{index:03d}.py"
            path.write_text(block.typed_source(), encoding="utf-8")
            files.append(str(path))
        if not files:
            return []
        stdout, stderr, status = api.run(
            ["--strict", "--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary", *files]
        )
    if status not in (0, 1):
        return [f"mypy failed to run: {stderr.strip() or stdout.strip()}"]
    errors = []
    for line in stdout.splitlines():
        match = _ERROR.match(line)
        if match is None:
            if line.strip():
                errors.append(line)
            continue
        block = blocks[int(match["index"])]
        readme_line = block.line - 1 + int(match["line"]) - block.prelude_lines
        errors.append(f"{readme.name}:{readme_line}: {match['message']}")
    return errors


def main() -> int:
    errors = check()
    for error in errors:
        print(error)
    print(f"README.md python blocks: {len(python_blocks())} checked, {len(errors)} mypy --strict error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
