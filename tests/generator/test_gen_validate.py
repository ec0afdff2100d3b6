"""``python -m generator.validate``: the README's one-spec check before generating (validity, examples, trial run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _gen_support import ROOT as REPO

from generator import validate


def test_a_good_spec_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.main([str(REPO / "specs" / "messaging.yaml")]) == 0
    assert capsys.readouterr().out.rstrip().endswith("examples valid, generator clean)")


def test_an_example_that_breaks_its_schema_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs = shutil.copytree(REPO / "specs", tmp_path / "specs")
    spec = specs / "messaging.yaml"
    text = spec.read_text(encoding="utf-8")
    example = 'messageId: "1613474523265-0"'
    assert example in text
    spec.write_text(text.replace(example, "messageId: [not, a, string]", 1), encoding="utf-8")

    assert validate.main([str(spec)]) == 1
    out = capsys.readouterr().out
    assert "problem(s)" in out and "example" in out


def test_no_spec_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.main([]) == 2
    assert "usage" in capsys.readouterr().err
