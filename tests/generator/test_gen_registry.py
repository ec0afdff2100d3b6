"""The registry of APIs: ``specs/apis.toml`` checked against the specs, and what it generates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from genesys_cx_api._registry import APIS

from generator._bundle import SpecError
from generator._registry import read_lines

ROOT = Path(__file__).resolve().parents[2]


def specs_with(tmp_path: Path, names: tuple[str, ...], registry: str) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in names:
        (specs / f"{name}.yaml").write_text("openapi: 3.1.0\n", encoding="utf-8")
    (specs / "apis.toml").write_text(registry, encoding="utf-8")
    return specs


def registry_error(tmp_path: Path, names: tuple[str, ...], registry: str) -> str:
    with pytest.raises(SpecError) as info:
        read_lines(specs_with(tmp_path, names, registry))
    return str(info.value)


def test_a_spec_without_a_line_is_refused_naming_the_spec(tmp_path: Path) -> None:
    message = registry_error(tmp_path, ("a", "b"), '[apis]\na = { summary = "A." }\n')
    assert message == "apis.toml: no line for specs/b.yaml"


def test_a_line_without_a_spec_is_refused(tmp_path: Path) -> None:
    message = registry_error(tmp_path, ("a",), '[apis]\na = { summary = "A." }\ngone = { summary = "G." }\n')
    assert message == "apis.toml: no spec file for the line(s) gone"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a = { }", "a: needs a one-line summary"),
        ('a = { summary = "A.", colour = "red" }', "a: unknown key(s) colour"),
        ('a = { summary = "A.", attribute = "class" }', "a: attribute 'class' is not a Python identifier"),
        ('a = { summary = "A.", attribute = "_a" }', "a: attribute '_a' must be public"),
        ('a = { summary = "A.", sync = "m:A" }', "a: give both 'sync' and 'async'"),
        ('a = { summary = "A.", sync = "m.A", async = "m:B" }', "a: sync = 'm.A' is not 'package.module:Class'"),
        ('a = "A."', "a: expected an inline table"),
    ],
)
def test_a_malformed_line_is_refused_naming_the_api(tmp_path: Path, line: str, expected: str) -> None:
    assert expected in registry_error(tmp_path, ("a",), f"[apis]\n{line}\n")


def test_two_apis_cannot_share_an_attribute(tmp_path: Path) -> None:
    registry = '[apis]\na = { summary = "A." }\nb = { summary = "B.", attribute = "a" }\n'
    assert registry_error(tmp_path, ("a", "b"), registry) == "apis.toml: attribute(s) used twice: a"


def test_no_registry_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    with pytest.raises(SpecError, match=r"apis\.toml: missing"):
        read_lines(tmp_path / "specs")


def test_the_committed_registry_lists_every_spec_with_its_operations() -> None:
    assert sorted(APIS) == sorted(p.stem for p in (ROOT / "specs").glob("*.yaml"))
    for name, api in APIS.items():
        spec = json.loads((ROOT / "generated" / "genesys_cx_api" / "_specs" / f"{name}.json").read_text("utf-8"))
        documented = [
            op["operationId"]
            for item in spec.get("paths", {}).values()
            for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        ]
        assert [op.operation_id for op in api.operations] == documented
        assert api.spec == f"specs/{name}.yaml"
        assert api.version == spec["info"]["version"]
        assert (api.attribute is None) == (not documented)
    assert sum(len(api.operations) for api in APIS.values()) == 117
