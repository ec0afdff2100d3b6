"""specs/README.md merges specs/notes/<api>.md: no decision row may be missing there, and each notes
file's counts line agrees with the README table (both are edited in the same commit as the spec)."""

from __future__ import annotations

import re

import pytest

from ._support import NOTES, README, SPEC_NAMES, api
from .test_completeness import readme_table

_COUNTS = re.compile(r"^counts: operations=(\d+) parameters=(\d+) responses=(\d+)\s*$", re.M)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def decision_rows(notes: str) -> list[str]:
    """The body rows of every ``| where | the docs say | we chose | why |`` table of a notes file."""
    rows, inside = [], False
    for line in notes.splitlines():
        if line.startswith("| where |"):
            inside = True
        elif inside and line.startswith("|"):
            if not re.fullmatch(r"\|[-|: ]+\|", line.strip()):
                rows.append(line.strip())
        else:
            inside = False
    return rows


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_notes_file_exists_with_counts_matching_readme(spec: str) -> None:
    notes = NOTES / f"{api(spec)}.md"
    assert notes.is_file(), f"{spec} has no specs/notes/{notes.name} (CONVENTIONS: decisions go there)"
    match = _COUNTS.search(notes.read_text(encoding="utf-8"))
    assert match, f"{notes.name}: no 'counts: operations=N parameters=N responses=N' line"
    table = readme_table(README.read_text(encoding="utf-8"))
    assert spec in table, f"{spec} has no row in the specs/README.md table"
    noted = dict(zip(("operations", "parameters", "responses"), map(int, match.groups()), strict=True))
    assert noted == table[spec], f"{notes.name} says {noted}, specs/README.md says {table[spec]}"


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_every_decision_of_the_notes_is_in_readme(spec: str) -> None:
    notes = (NOTES / f"{api(spec)}.md").read_text(encoding="utf-8")
    rows = decision_rows(notes)
    assert rows, f"notes/{api(spec)}.md has no decisions table"
    readme = _squash(README.read_text(encoding="utf-8"))
    missing = [row[:120] for row in rows if _squash(row) not in readme]
    assert not missing, f"notes/{api(spec)}.md rows missing from specs/README.md:\n  " + "\n  ".join(missing)


def test_decision_rows_parser() -> None:
    notes = "text\n\n| where | the docs say | we chose | why |\n|---|---|---|---|\n| a | b | c | d |\n\n| x | y |\n"
    assert decision_rows(notes) == ["| a | b | c | d |"]
