"""The per-spec counts in specs/README.md match the specs: dropping an operation, a parameter or a
documented response code fails here, naming the spec and the number that changed."""

from __future__ import annotations

import re

import pytest

from ._support import README, SPEC_NAMES, bundled, counts

COLUMNS = ("operations", "parameters", "responses")
_ROW = re.compile(r"^\|\s*`(?P<file>[\w.-]+\.yaml)`\s*\|(?P<cells>.*)\|\s*$")


def readme_table(text: str) -> dict[str, dict[str, int]]:
    """``file -> {operations, parameters, responses}`` from the table of specs in README.md.

    The header row names the columns; the counts are read by name, so the table may gain columns.
    """
    table: dict[str, dict[str, int]] = {}
    header: list[str] | None = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == "file" and all(c in cells for c in COLUMNS):
            header = cells
            continue
        match = _ROW.match(line)
        if header and match:
            row = dict(zip(header, cells, strict=False))
            assert match["file"] not in table, f"README.md lists {match['file']} twice"
            table[match["file"]] = {c: int(row[c]) for c in COLUMNS}
        elif header and not line.startswith("|"):
            header = None if table else header
    return table


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, int]]:
    return readme_table(README.read_text(encoding="utf-8"))


def test_readme_lists_exactly_the_specs(table: dict[str, dict[str, int]]) -> None:
    assert set(table) == set(SPEC_NAMES), (
        f"specs/README.md table: missing {sorted(set(SPEC_NAMES) - set(table))}, "
        f"no such spec {sorted(set(table) - set(SPEC_NAMES))}"
    )


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_counts_match_readme(spec: str, table: dict[str, dict[str, int]]) -> None:
    if spec not in table:
        pytest.fail(f"{spec} has no row in the specs/README.md table")
    found = counts(bundled(spec))
    changed = [
        f"{column}: README says {table[spec][column]}, the spec has {found[column]}"
        for column in COLUMNS
        if table[spec][column] != found[column]
    ]
    assert not changed, f"{spec}: " + "; ".join(changed) + " (update the spec or the README table)"


def test_counting_rules() -> None:
    """Path-level parameters count once per operation (overridden ones once); webhooks are operations."""
    doc = {
        "paths": {
            "/a/{id}": {
                "parameters": [{"name": "id", "in": "path"}, {"name": "q", "in": "query"}],
                "get": {"responses": {"200": {}, "404": {}}},
                "delete": {
                    "parameters": [{"name": "q", "in": "query"}, {"name": "x", "in": "header"}],
                    "responses": {"204": {}},
                },
            }
        },
        "webhooks": {
            "hook": {"post": {"parameters": [{"$ref": "#/components/parameters/t"}], "responses": {"200": {}}}}
        },
        "components": {"parameters": {"t": {"name": "t", "in": "header"}}},
    }
    assert counts(doc) == {"operations": 3, "parameters": 2 + 3 + 1, "responses": 4}


def test_readme_table_parser() -> None:
    text = (
        "| file | API | operations | parameters | responses |\n|---|---|---:|---:|---:|\n"
        "| `a.yaml` | A | 1 | 2 | 3 |\n| `b.yaml` | B | 4 | 5 | 6 |\n\nprose | not a row\n"
    )
    assert readme_table(text) == {
        "a.yaml": {"operations": 1, "parameters": 2, "responses": 3},
        "b.yaml": {"operations": 4, "parameters": 5, "responses": 6},
    }
