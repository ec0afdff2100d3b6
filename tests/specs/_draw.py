"""Hypothesis strategies for the JSON Schema subset the specs may use (CONVENTIONS.md, "Keywords").

hypothesis-jsonschema draws correct instances but rebuilds its object strategies on every draw;
over ~170 component schemas that took about five minutes on the CI machine. The specs only use a
small keyword set, so this module builds plain hypothesis strategies for it directly (a few
seconds for all schemas). Anything outside the set raises ``Unsupported`` and the caller falls
back to hypothesis-jsonschema, so a new keyword costs speed, never coverage. Every drawn instance
is still validated against the spec with the 2020-12 validator by the tests, so a mistake here
fails loudly instead of testing the wrong thing.
"""

from __future__ import annotations

import copy
import datetime as dt
import string
from collections.abc import Callable, Sequence
from typing import Any

import hypothesis.strategies as st
import jsonschema

_ANNOTATIONS = {"description", "default", "title", "$comment"}
_KNOWN = _ANNOTATIONS | {
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "format",
    "oneOf",
    "anyOf",
    "allOf",
    "$ref",
}

#: Any JSON value (for open objects' extra fields and untyped schemas): scalars and one level of
#: nesting. Not ``st.recursive``: that alone took most of the drawing time.
_SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)
ANY_JSON = _SCALARS | st.lists(_SCALARS, max_size=2) | st.dictionaries(st.text(max_size=6), _SCALARS, max_size=2)
_EXTRA_NAMES = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=10)


def _exactly_one(checks: Sequence[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    """``oneOf``: a value matches exactly one of the variants."""

    def matches(value: Any) -> bool:
        return sum(check(value) for check in checks) == 1

    return matches


class Unsupported(Exception):
    """The schema uses something this module does not draw; use hypothesis-jsonschema instead."""


class Drawer:
    """Builds strategies for the schemas of one OpenAPI document (its ``components``)."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.components = components
        self._by_ref: dict[str, st.SearchStrategy[Any]] = {}
        self._building: set[str] = set()

    def _target(self, ref: str) -> dict[str, Any]:
        prefix = "#/components/schemas/"
        if not ref.startswith(prefix):
            raise Unsupported(f"$ref {ref}")
        target: dict[str, Any] = self.components["schemas"][ref[len(prefix) :]]
        return target

    def _validator(self, schema: dict[str, Any]) -> jsonschema.protocols.Validator:
        return jsonschema.Draft202012Validator({"allOf": [schema], "components": self.components})

    def strategy(self, schema: Any) -> st.SearchStrategy[Any]:
        if schema is True or schema == {}:
            return ANY_JSON
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        unknown = set(schema) - _KNOWN
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        constraints = {k: v for k, v in schema.items() if k not in _ANNOTATIONS}
        if "$ref" in constraints:
            ref = constraints.pop("$ref")
            if constraints:  # a $ref with sibling constraints: both apply
                return self.strategy({"allOf": [self._target(ref), constraints]})
            if ref not in self._by_ref:
                if ref in self._building:
                    raise Unsupported(f"recursive $ref {ref}")
                self._building.add(ref)
                try:
                    self._by_ref[ref] = self.strategy(self._target(ref))
                finally:
                    self._building.discard(ref)
            return self._by_ref[ref]
        if "allOf" in constraints:
            parts = [self._target(p["$ref"]) if set(p) == {"$ref"} else p for p in constraints.pop("allOf")]
            return self.strategy(merge_all([*parts, constraints]))
        if "const" in constraints:
            return st.just(copy.deepcopy(constraints["const"]))
        if "enum" in constraints:
            return st.sampled_from(constraints["enum"]).map(copy.deepcopy)
        for key in ("oneOf", "anyOf"):
            if key in constraints:
                variants = [self.strategy(v) for v in constraints[key]]
                rest = {k: v for k, v in constraints.items() if k != key}
                drawn = st.one_of(variants)
                if rest:
                    drawn = drawn.filter(self._validator(rest).is_valid)
                if key == "oneOf":
                    drawn = drawn.filter(_exactly_one([self._validator(v).is_valid for v in constraints[key]]))
                return drawn
        types = constraints.get("type")
        if types is None:
            if "properties" in constraints or "additionalProperties" in constraints:
                types = "object"
            elif "items" in constraints:
                types = "array"
            else:
                return ANY_JSON
        types = types if isinstance(types, list) else [types]
        return st.one_of([self._typed(t, constraints) for t in types])

    def _typed(self, kind: str, s: dict[str, Any]) -> st.SearchStrategy[Any]:
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            return st.integers(s.get("minimum", -(2**53)), s.get("maximum", 2**53))
        if kind == "number":
            low, high = s.get("minimum"), s.get("maximum")
            return st.integers(-(2**31) if low is None else int(low), 2**31 if high is None else int(high)) | st.floats(
                low, high, allow_nan=False, allow_infinity=False
            )
        if kind == "string":
            return _string(s)
        if kind == "array":
            low = s.get("minItems", 0)
            return st.lists(self.strategy(s.get("items", True)), min_size=low, max_size=s.get("maxItems", low + 3))
        if kind == "object":
            return self._object(s)
        raise Unsupported(f"type {kind!r}")

    def _object(self, s: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        properties = s.get("properties") or {}
        required = set(s.get("required") or [])
        missing = required - set(properties)
        if missing:
            raise Unsupported(f"required without a property schema: {sorted(missing)}")
        fixed = st.fixed_dictionaries(
            {name: self.strategy(sub) for name, sub in properties.items() if name in required},
            optional={name: self.strategy(sub) for name, sub in properties.items() if name not in required},
        )
        additional = s.get("additionalProperties", True)
        if additional is False:
            return fixed
        values = ANY_JSON if additional is True else self.strategy(additional)
        extra = st.dictionaries(_EXTRA_NAMES.filter(lambda n: n not in properties), values, max_size=2)
        return st.tuples(fixed, extra).map(lambda pair: {**pair[1], **pair[0]})


def _string(s: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = s.get("minLength", 0), s.get("maxLength")
    fmt = s.get("format")
    if "pattern" in s:
        drawn = st.from_regex(s["pattern"])
    elif fmt == "date-time":
        drawn = st.datetimes(
            min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.sampled_from(_ZONES)
        ).map(lambda d: d.isoformat().replace("+00:00", "Z"))
    elif fmt == "date":
        drawn = st.dates().map(dt.date.isoformat)
    elif fmt == "uri":
        drawn = st.from_regex(r"\Ahttps://[a-z]{1,10}\.example/[a-z0-9/]{0,12}\Z")
    elif fmt == "email":
        drawn = st.from_regex(r"\A[a-z]{1,8}@[a-z]{1,8}\.example\Z")
    elif fmt in (None, "binary", "password", "byte", "uuid"):
        drawn = (
            st.uuids().map(str)
            if fmt == "uuid"
            else st.text(min_size=low, max_size=high if high is not None else low + 12)
        )
    else:
        raise Unsupported(f"format {fmt!r}")
    if low or high is not None:
        drawn = drawn.filter(lambda x: low <= len(x) <= (high if high is not None else len(x)))
    return drawn


_ZONES = [dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]


def merge_all(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One schema equivalent to ``allOf: parts`` for plain object parts (what the specs use)."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key in _ANNOTATIONS:
                continue
            if key == "properties":
                props = merged.setdefault("properties", {})
                for name, sub in value.items():
                    props[name] = {"allOf": [props[name], sub]} if name in props else sub
            elif key == "required":
                merged["required"] = sorted(set(merged.get("required", [])) | set(value))
            elif key == "type" and "type" in merged and merged["type"] != value:
                raise Unsupported(f"allOf with types {merged['type']!r} and {value!r}")
            elif key == "additionalProperties" and value is not True:
                raise Unsupported("allOf with a closed or typed part")
            elif key in merged and merged[key] != value:
                raise Unsupported(f"allOf parts disagree on {key}")
            else:
                merged[key] = value
    return merged


def minimal(components: dict[str, Any], schema: Any) -> Any:
    """A small valid instance of *schema*: required fields only, first variant, first enum value."""
    if not isinstance(schema, dict) or not (set(schema) - _ANNOTATIONS):
        return {}
    if "$ref" in schema:
        target = components["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        rest = {k: v for k, v in schema.items() if k != "$ref" and k not in _ANNOTATIONS}
        return minimal(components, merge_all([target, rest]) if rest else target)
    if "allOf" in schema:
        parts = [
            components["schemas"][p["$ref"].rsplit("/", 1)[1]] if set(p) == {"$ref"} else p for p in schema["allOf"]
        ]
        return minimal(components, merge_all([*parts, {k: v for k, v in schema.items() if k != "allOf"}]))
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    if "enum" in schema:
        return copy.deepcopy(schema["enum"][0])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return minimal(components, schema[key][0])
    types = schema.get("type")
    kind = (types if isinstance(types, str) else next((t for t in types or [] if t != "null"), None)) or (
        "object" if "properties" in schema else "array" if "items" in schema else "null"
    )
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: minimal(components, props.get(name, True)) for name in schema.get("required") or []}
    if kind == "array":
        return [minimal(components, schema.get("items", True)) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        if "pattern" in schema:
            raise Unsupported("a minimal string for a pattern")
        return {"date-time": "2020-01-01T00:00:00Z", "date": "2020-01-01", "uri": "https://a.example/"}.get(
            str(schema.get("format")), "a" * schema.get("minLength", 0)
        )
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    return {"boolean": False, "null": None}[kind]
