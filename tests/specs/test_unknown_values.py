"""Genesys adds enum values and fields over time: the generated models must keep what they do not know.

- every string/integer enum of every spec (named component, inline property enum, parameter enum)
  has a generated enum class; an unknown value parses (``is_known`` False), keeps its value and
  goes back out unchanged, also inside the models that carry the enum;
- every object model keeps an unknown extra field in ``additional_properties`` and sends it back.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from genesys_cx_api.types import OpenIntEnum, OpenStrEnum

from generator._examples import schema_validator

from ._support import (
    SPEC_NAMES,
    all_schema_nodes,
    bundled,
    component_cases,
    generated_enums,
    has_binary_field,
    has_model,
    minimal_instance,
    model_class,
    property_sites,
    schemas,
    to_json,
)

UNKNOWN_FIELD = "genesysTestUnknownField"


def _spec_enums() -> list[Any]:
    """One case per enum of a spec: (spec, where, values, component name if it is a named component)."""
    cases = []
    for spec in SPEC_NAMES:
        doc = bundled(spec)
        for where, node in all_schema_nodes(doc):
            values = [v for v in node.get("enum") or [] if v is not None]
            if not values or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
                continue
            named = where if where in schemas(spec) else None
            cases.append(pytest.param(spec, where, values, named, id=f"{spec}:{where}"))
    return cases


def _unknown(values: list[Any]) -> Any:
    if all(isinstance(v, int) for v in values):
        return max(values) + 1001
    return "GENESYS_TEST_UNKNOWN_VALUE"


def _classes_for(spec: str, values: list[Any]) -> list[type[OpenStrEnum | OpenIntEnum]]:
    return [cls for cls in generated_enums(spec).values() if {m.value for m in cls} == set(values)]


@pytest.mark.parametrize(("spec", "where", "values", "named"), _spec_enums())
def test_unknown_enum_value_is_kept(spec: str, where: str, values: list[Any], named: str | None) -> None:
    # Any: the classes are called with JSON values of every type, wrong ones included, on purpose.
    classes: list[Any] = [model_class(spec, named)] if named else list(_classes_for(spec, values))
    assert classes, f"{spec}: the enum at {where} ({values}) has no generated enum class"
    unknown = _unknown(values)
    for cls in classes:
        assert {m.value for m in cls} == set(values), f"{cls.__name__} members differ from the spec's {values}"
        assert all(cls(v).is_known for v in values), f"{cls.__name__}: a documented value is not known"
        member = cls(unknown)
        assert not member.is_known, f"{cls.__name__}({unknown!r}) claims to be known"
        assert member.value == unknown and type(member.value) is type(unknown)
        assert str(member) == str(unknown)
        assert cls(member.value) is member, f"{cls.__name__}: the unknown value does not parse to the same member"
        with pytest.raises(ValueError):
            cls(1.5 if isinstance(unknown, str) else "not-an-int")  # the wrong JSON type is still refused


@pytest.mark.parametrize(("spec", "name"), [c for c in component_cases() if "enum" in schemas(c[0])[c[1]]])
def test_unknown_enum_value_survives_the_models_that_carry_it(spec: str, name: str) -> None:
    sites = property_sites(spec, name)
    if not sites:
        pytest.skip(f"{name} is no model property's direct schema (a parameter enum, or narrowed by a const)")
    unknown = _unknown(schemas(spec)[name]["enum"])
    for model, prop, as_item in sites:
        instance = copy.deepcopy(minimal_instance(spec, model))
        instance[prop] = [unknown] if as_item else unknown
        parsed = model_class(spec, model).from_dict(copy.deepcopy(instance))
        value = getattr(parsed, _attribute(parsed, prop))
        member = value[0] if as_item else value
        assert not member.is_known, f"{model}.{prop}: unknown value {unknown!r} claims to be known"
        assert to_json(parsed)[prop] == instance[prop], f"{model}.{prop}: the unknown value did not go back out"


def _attribute(parsed: Any, prop: str) -> str:
    """The attrs field the generated model uses for JSON property *prop*."""
    fields = {f.name for f in type(parsed).__attrs_attrs__}
    from openapi_python_client.strings import PythonIdentifier

    name = PythonIdentifier(prop, "field_")
    assert name in fields, f"{type(parsed).__name__} has no attribute {name} for property {prop}"
    return name


@pytest.mark.parametrize(
    ("spec", "name"), [c for c in component_cases() if has_model(*c) and "enum" not in schemas(c[0])[c[1]]]
)
def test_unknown_field_is_kept(spec: str, name: str) -> None:
    schema = schemas(spec)[name]
    additional = schema.get("additionalProperties", True)
    assert additional is not False, (
        f"{spec}: {name} is closed (additionalProperties: false); CONVENTIONS keep objects open"
    )
    value: Any = {"nested": [1, "two", None], "flag": True}
    if isinstance(additional, dict):
        value = "genesys-test-value" if additional.get("type") == "string" else value
    instance = {**copy.deepcopy(minimal_instance(spec, name)), UNKNOWN_FIELD: value}
    errors = [
        e.message
        for e in schema_validator(bundled(spec), {"$ref": f"#/components/schemas/{name}"}).iter_errors(instance)
    ]
    assert not errors, f"the test's instance is invalid for {name}: {errors}"

    cls = model_class(spec, name)
    if has_binary_field(spec, name):
        binary = {k for k, v in (schema.get("properties") or {}).items() if v.get("format") == "binary"}
        parsed = cls.from_dict({k: (v.encode() if k in binary else v) for k, v in instance.items()})
        parts = dict(parsed.to_multipart())
        assert UNKNOWN_FIELD in parts, f"{name}.to_multipart() dropped the unknown field"
        return
    parsed = cls.from_dict(copy.deepcopy(instance))
    assert parsed.additional_properties.get(UNKNOWN_FIELD) == value, (
        f"{name}: unknown field not in additional_properties"
    )
    assert parsed[UNKNOWN_FIELD] == value
    assert parsed.to_dict()[UNKNOWN_FIELD] == value, f"{name}.to_dict() dropped the unknown field"


def test_every_generated_enum_comes_from_a_spec_enum() -> None:
    """The reverse direction: no enum class the spec tests above could have missed."""
    spec_values: dict[str, set[frozenset[Any]]] = {}
    for param in _spec_enums():
        spec, _, values, _ = param.values
        spec_values.setdefault(spec, set()).add(frozenset(values))
    orphans = [
        f"{spec}: {cls.__name__}"
        for spec in SPEC_NAMES
        for cls in generated_enums(spec).values()
        if frozenset(m.value for m in cls if m.is_known) not in spec_values.get(spec, set())
    ]
    assert not orphans, f"generated enums whose values no spec enum has: {orphans}"
