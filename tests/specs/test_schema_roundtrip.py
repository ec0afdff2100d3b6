"""Property test: for every component schema of every spec, drawn instances are valid and survive the SDK.

Instances come from ``_draw.py`` (strategies for the keyword subset CONVENTIONS.md allows), or from
hypothesis-jsonschema for a schema that uses anything else. Each must validate against its own schema (JSON Schema
2020-12, as OpenAPI 3.1 says) and come back unchanged from the generated code:

- object schemas (a model class): ``Model.from_dict(x).to_dict() == x`` (date-times by value);
  a model with a binary file field has no JSON form: ``to_multipart()`` must carry the bytes and
  every other field instead;
- enum schemas: ``Enum(x).value == x`` and the value is a known member;
- schemas without a class (unions, arrays, scalars) are checked where the generated code parses
  them: as a 2xx response body (the operation module's ``parse``), else as a property of a model
  (a minimal instance of that model carrying the drawn value). A schema used only as a request body
  or webhook body has no parser in the SDK (the user builds the variant model, the SDK sends its
  ``to_dict()``): the variant the instance matches must round-trip through its model.

``UNDRAWABLE`` is the reasoned table of schemas that cannot be checked; it is empty today, and a
test makes sure it only ever names schemas that exist.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given

from generator._examples import schema_validator

from ._draw import Drawer, Unsupported
from ._support import (
    SPEC_NAMES,
    SPEC_SETTINGS,
    bundled,
    component_cases,
    differences,
    has_binary_field,
    has_model,
    minimal_instance,
    model_class,
    operation_module,
    operations,
    property_sites,
    ref_name,
    resolve,
    schemas,
    strategy,
    to_json,
)

#: (spec, schema) -> why it cannot be drawn or checked. Each entry becomes a strict xfail.
UNDRAWABLE: dict[tuple[str, str], str] = {}

Check = Callable[[Any], None]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# --- how a schema is checked --------------------------------------------------------------------


def _model_check(spec: str, name: str) -> Check:
    cls = model_class(spec, name)
    # ``x-sdk-if-absent``: an absent field reads as this value, and to_dict() leaves that value out
    absent = {
        prop: schema["x-sdk-if-absent"]
        for prop, schema in (schemas(spec)[name].get("properties") or {}).items()
        if "x-sdk-if-absent" in schema
    }

    def check(x: Any) -> None:
        original = copy.deepcopy(x)
        back = cls.from_dict(x).to_dict()
        assert x == original, f"{cls.__name__}.from_dict changed its input"
        expected = {k: v for k, v in x.items() if k not in absent or v != absent[k]}
        problems = differences(expected, to_json(back))
        assert not problems, f"{cls.__name__}.from_dict(x).to_dict() != x: " + "; ".join(problems)

    return check


def _multipart_check(spec: str, name: str) -> Check:
    """A model with a ``format: binary`` field: the file goes out as bytes, other fields as text parts."""
    cls = model_class(spec, name)
    binary = {
        prop
        for prop, sub in (schemas(spec)[name].get("properties") or {}).items()
        if resolve(bundled(spec), sub).get("format") == "binary"
    }
    assert binary, f"{spec}: {name} has a binary field that is not a top-level property; extend the test"

    def check(x: Any) -> None:
        payload = {k: (v.encode() if k in binary else v) for k, v in x.items()}
        parts = cls.from_dict(payload).to_multipart()
        sent = {part_name: content for part_name, content in parts}
        assert sent.keys() == x.keys(), f"{cls.__name__}.to_multipart() parts {sorted(sent)} != fields {sorted(x)}"
        for prop, value in payload.items():
            content = sent[prop][1]
            data = content.getvalue() if hasattr(content, "getvalue") else content
            expected = value if prop in binary else (value if isinstance(value, str) else str(value)).encode()
            assert data == expected, f"{cls.__name__}.to_multipart(): part {prop} is {data!r}, expected {expected!r}"

    return check


def _enum_check(spec: str, name: str) -> Check:
    cls = model_class(spec, name)

    def check(x: Any) -> None:
        member = cls(x)
        assert member.value == x and type(member.value) is type(x), f"{cls.__name__}({x!r}) became {member.value!r}"
        assert member.is_known, f"{cls.__name__}({x!r}) is a documented value but is_known is False"

    return check


def _response_sites(spec: str, name: str) -> list[tuple[str, int, str]]:
    """``(operationId, status, media type)`` of every path response whose body is exactly *name*."""
    doc = bundled(spec)
    sites = []
    for where, _, op, _ in operations(doc):
        if not where.startswith("path "):
            continue  # openapi-python-client generates nothing for webhooks
        for code, response in (op.get("responses") or {}).items():
            if not code.isdigit() or not 200 <= int(code) <= 299:
                continue  # the SDK decodes error bodies as its errors' envelope, not with the models
            for media, content in (resolve(doc, response).get("content") or {}).items():
                if ref_name(content.get("schema")) == name and (media.endswith("json") or media.startswith("text/")):
                    sites.append((op["operationId"], int(code), media))
    return sites


def _response_check(spec: str, name: str, sites: list[tuple[str, int, str]]) -> Check:
    def check(x: Any) -> None:
        for operation_id, status, media in sites:
            if media.endswith("json"):
                response = httpx.Response(status, json=x)
            else:
                response = httpx.Response(status, text=x, headers={"content-type": media})
            parsed = operation_module(spec, operation_id).parse(response)
            problems = differences(x, to_json(parsed))
            assert not problems, f"{operation_id} {status} {media}: parsed body != sent body: " + "; ".join(problems)

    return check


def _carrier_check(spec: str, name: str, sites: list[tuple[str, str, bool]]) -> Check:
    minimal = {model: minimal_instance(spec, model) for model, _, _ in sites}  # drawn before @given runs

    def check(x: Any) -> None:
        for model, prop, as_item in sites:
            carrier = copy.deepcopy(minimal[model])
            carrier[prop] = [x] if as_item else x
            back = to_json(model_class(spec, model).from_dict(copy.deepcopy(carrier)))
            problems = differences(carrier, back)
            assert not problems, f"{model}.{prop} carrying the value: " + "; ".join(problems)

    return check


def _parse_like_sdk(spec: str, schema: dict[str, Any], x: Any) -> Any:
    """What a user of the SDK holds for *x*: the model of the variant *x* matches, recursively."""
    doc = bundled(spec)
    name = ref_name(schema)
    if name is not None:
        if has_model(spec, name):
            cls = model_class(spec, name)
            return cls(x) if "enum" in schemas(spec)[name] else cls.from_dict(x)
        return _parse_like_sdk(spec, schemas(spec)[name], x)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            matching = [v for v in schema[key] if schema_validator(doc, v).is_valid(x)]
            assert matching, f"no {key} variant accepts {x!r}"
            if key == "oneOf":
                assert len(matching) == 1, f"oneOf: {len(matching)} variants accept {x!r}"
            return _parse_like_sdk(spec, matching[0], x)
    if schema.get("type") == "array":
        return [_parse_like_sdk(spec, schema.get("items") or {}, item) for item in x]
    return x


def _variant_check(spec: str, name: str) -> Check:
    def check(x: Any) -> None:
        problems = differences(x, to_json(_parse_like_sdk(spec, _ref(name), x)))
        assert not problems, "the matching variant's model does not round-trip: " + "; ".join(problems)

    return check


def how_checked(spec: str, name: str) -> tuple[str, Check]:
    schema = schemas(spec)[name]
    if has_model(spec, name):
        if "enum" in schema:
            return "enum", _enum_check(spec, name)
        if has_binary_field(spec, name):
            return "multipart model", _multipart_check(spec, name)
        return "model", _model_check(spec, name)
    if sites := _response_sites(spec, name):
        return f"response body of {len(sites)} operation(s)", _response_check(spec, name, sites)
    if carriers := property_sites(spec, name):
        return f"property of {len(carriers)} model(s)", _carrier_check(spec, name, carriers)
    return "request/webhook body: variant model", _variant_check(spec, name)


# --- the tests ----------------------------------------------------------------------------------


def _params() -> list[Any]:
    params = []
    for spec, name in component_cases():
        marks = []
        if (spec, name) in UNDRAWABLE:
            marks.append(pytest.mark.xfail(reason=UNDRAWABLE[(spec, name)], strict=True))
        params.append(pytest.param(spec, name, id=f"{spec}:{name}", marks=marks))
    return params


@pytest.mark.parametrize(("spec", "name"), _params())
def test_drawn_instances_validate_and_round_trip(spec: str, name: str) -> None:
    validator = schema_validator(bundled(spec), _ref(name))
    how, check = how_checked(spec, name)

    @SPEC_SETTINGS
    @given(strategy(spec, name))
    def run(x: Any) -> None:
        errors = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(x)]
        assert not errors, f"{spec}: drawn {name} instance is invalid: {errors}"
        try:
            check(x)
        except AssertionError as exc:
            raise AssertionError(f"{spec}: {name} (checked as {how}): {exc}") from None

    run()


def test_undrawable_table_names_only_real_schemas() -> None:
    real = set(component_cases())
    stale = sorted(set(UNDRAWABLE) - real)
    assert not stale, f"UNDRAWABLE lists schemas that do not exist: {stale}"
    assert all(reason.strip() for reason in UNDRAWABLE.values()), "every UNDRAWABLE entry needs a reason"


def test_every_spec_has_component_schemas() -> None:
    """The parametrization above is not empty for any spec (a spec without schemas would go unnoticed)."""
    counted = {spec for spec, _ in component_cases()}
    assert counted == set(SPEC_NAMES)


def test_fast_drawer_hands_unknown_keywords_to_hypothesis_jsonschema() -> None:
    """A keyword outside CONVENTIONS' subset is not silently ignored: the drawer refuses it."""
    drawer = Drawer({"schemas": {"Pair": {"type": "array", "prefixItems": [{"type": "integer"}]}}})
    with pytest.raises(Unsupported, match="prefixItems"):
        drawer.strategy({"$ref": "#/components/schemas/Pair"})
    with pytest.raises(Unsupported, match="format"):
        drawer.strategy({"type": "string", "format": "ipv6"})
