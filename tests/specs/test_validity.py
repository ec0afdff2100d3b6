"""Every spec (and every shared part) is valid OpenAPI 3.1, and every example matches its schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from openapi_spec_validator import validate as validate_openapi

from generator._bundle import load_yaml
from generator._examples import example_errors, iter_examples
from generator._paths import SPECS
from generator._pipeline import load_validated

from ._support import SHARED, SPEC_NAMES, bundled


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_spec_is_valid_openapi_after_bundling(spec: str) -> None:
    doc = load_validated(SPECS / spec)  # raises SpecError naming the file and the location
    assert doc["openapi"] == "3.1.0", f"{spec}: CONVENTIONS ask for openapi 3.1.0"


@pytest.mark.parametrize("part", SHARED, ids=lambda p: f"shared/{p.name}")
def test_shared_part_is_valid_openapi(part: Path) -> None:
    validate_openapi(load_yaml(part))


def test_there_are_specs_and_a_shared_part() -> None:
    assert len(SPEC_NAMES) >= 8, SPEC_NAMES
    assert SHARED, "specs/shared/ holds no part"


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_every_example_validates_against_its_schema(spec: str) -> None:
    doc = bundled(spec)
    errors = example_errors(doc)
    assert not errors, f"{spec}: {len(errors)} example(s) do not match their schema:\n  " + "\n  ".join(errors)


def test_the_example_checker_sees_examples_and_rejects_a_bad_one() -> None:
    """Guard against a checker that silently finds nothing: specs have examples, a wrong one fails."""
    assert sum(1 for spec in SPEC_NAMES for _ in iter_examples(bundled(spec))) > 50
    doc = {
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "required": ["code"],
                    "properties": {"code": {"type": "integer"}},
                    "examples": [{"code": "zero"}],
                },
            }
        }
    }
    assert example_errors(doc) == ["components/schemas/Thing/examples/0: at code: 'zero' is not of type 'integer'"]
