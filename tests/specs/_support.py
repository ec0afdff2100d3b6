"""What the spec tests share: the specs, their walk, the generated models, hypothesis strategies.

Everything is discovered from ``specs/*.yaml`` (``generator._paths.spec_files``), so a new spec,
operation or component schema is covered without touching the tests.
"""

from __future__ import annotations

import copy
import datetime as dt
import enum
import functools
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import hypothesis.strategies as st
from dateutil.parser import isoparse
from genesys_cx_api.types import OpenIntEnum, OpenStrEnum
from hypothesis import HealthCheck, settings
from hypothesis_jsonschema import from_schema
from openapi_python_client.strings import ClassName

from generator._build import _becomes_class
from generator._bundle import bundle
from generator._examples import schema_validator
from generator._paths import SPECS, api_name, spec_files

from ._draw import Drawer, Unsupported, minimal

OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
README = SPECS / "README.md"
NOTES = SPECS / "notes"
SHARED = sorted((SPECS / "shared").glob("*.yaml"))

#: Bounded, reproducible hypothesis runs (applied per test, never loaded as a global profile, so
#: other test folders keep their own settings).
SPEC_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

SPEC_NAMES: list[str] = [p.name for p in spec_files()]


@functools.cache
def bundled(spec: str) -> dict[str, Any]:
    """The spec with every cross-file ``$ref`` inlined (what the generator sees). Do not mutate."""
    return bundle(SPECS / spec)


def api(spec: str) -> str:
    return api_name(Path(spec))


def schemas(spec: str) -> dict[str, Any]:
    return bundled(spec).get("components", {}).get("schemas") or {}


def component_cases() -> list[tuple[str, str]]:
    return [(spec, name) for spec in SPEC_NAMES for name in schemas(spec)]


def resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s until a node that is not a reference."""
    seen = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            raise AssertionError(f"cannot resolve $ref {ref!r}")
        seen.add(ref)
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def ref_name(node: Any) -> str | None:
    """``{"$ref": "#/components/schemas/X"}`` -> ``"X"``."""
    if (
        isinstance(node, dict)
        and isinstance(node.get("$ref"), str)
        and node["$ref"].startswith("#/components/schemas/")
    ):
        return str(node["$ref"]).rsplit("/", 1)[1]
    return None


# --- operations -------------------------------------------------------------------------------


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """``(where, method, operation, path item)`` for every operation of paths and webhooks."""
    for group in ("paths", "webhooks"):
        for path, item in (doc.get(group) or {}).items():
            item = resolve(doc, item)
            for method in OPERATIONS:
                op = item.get(method)
                if isinstance(op, dict):
                    yield f"{group[:-1]} {method.upper()} {path}", method, op, item


def operation_parameters(doc: dict[str, Any], op: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameters of *op*: path-level ones included, an operation-level one overriding its twin."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for param in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
        param = resolve(doc, param)
        merged[(param["name"], param["in"])] = param
    return list(merged.values())


def counts(doc: dict[str, Any]) -> dict[str, int]:
    found = {"operations": 0, "parameters": 0, "responses": 0}
    for _, _, op, item in operations(doc):
        found["operations"] += 1
        found["parameters"] += len(operation_parameters(doc, op, item))
        found["responses"] += len(op.get("responses") or {})
    return found


def iter_schemas(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node inside *node* (a schema), with a readable location."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key in ("properties", "patternProperties"):
        for name, sub in (node.get(key) or {}).items():
            yield from iter_schemas(sub, f"{where}.{name}")
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            yield from iter_schemas(node[key], f"{where}[{key}]")
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(node.get(key) or []):
            yield from iter_schemas(sub, f"{where}<{key}{i}>")


def all_schema_nodes(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema of the document: components, parameters, bodies and responses of operations."""
    for name, schema in schemas_of(doc).items():
        yield from iter_schemas(schema, name)
    for where, _, op, item in operations(doc):
        for param in operation_parameters(doc, op, item):
            yield from iter_schemas(param.get("schema"), f"{where} parameter {param['name']}")
        for media, content in media_types(doc, op):
            yield from iter_schemas(content.get("schema"), f"{where} {media}")


def schemas_of(doc: dict[str, Any]) -> dict[str, Any]:
    return doc.get("components", {}).get("schemas") or {}


def media_types(doc: dict[str, Any], op: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(label, media type object)`` of the request body and every response."""
    body = resolve(doc, op.get("requestBody"))
    if isinstance(body, dict):
        for media, content in (body.get("content") or {}).items():
            yield f"requestBody {media}", content
    for code, response in (op.get("responses") or {}).items():
        response = resolve(doc, response)
        for media, content in (response.get("content") or {}).items():
            yield f"response {code} {media}", content


# --- generated code ----------------------------------------------------------------------------


def models(spec: str) -> ModuleType:
    return importlib.import_module(f"genesys_cx_api.{api(spec)}.models")


def has_model(spec: str, name: str) -> bool:
    """Whether the generator makes a class of component *name* (the generator's own rule)."""
    return _becomes_class(schemas(spec)[name])


def model_class(spec: str, name: str) -> Any:
    """The generated class of component schema *name*; fails loudly if it is missing."""
    class_name = ClassName(name, "")
    cls = getattr(models(spec), class_name, None)
    if cls is None:
        raise AssertionError(f"{spec}: component {name} has no generated class {class_name} in {models(spec).__name__}")
    return cls


def has_binary_field(spec: str, name: str) -> bool:
    schema = schemas(spec)[name]
    return any(node.get("format") == "binary" for _, node in iter_schemas(schema, name))


def property_sites(spec: str, name: str) -> list[tuple[str, str, bool]]:
    """``(model, property, as list item)`` for every model property whose schema is *name*."""
    sites = []
    for model, schema in schemas(spec).items():
        if not has_model(spec, model) or has_binary_field(spec, model) or "enum" in schema:
            continue
        parts = [schema, *(s for s in schema.get("allOf") or [] if ref_name(s) is None)]
        for part in parts:
            for prop, sub in (part.get("properties") or {}).items():
                if ref_name(sub) == name:
                    sites.append((model, prop, False))
                elif isinstance(sub, dict) and ref_name(sub.get("items")) == name:
                    sites.append((model, prop, True))
    return sites


@functools.cache
def operation_module(spec: str, operation_id: str) -> ModuleType:
    """``genesys_cx_api.<api>.api.<tag>.<operation_id>``."""
    package = importlib.import_module(f"genesys_cx_api.{api(spec)}.api")
    for info in pkgutil.iter_modules(package.__path__):
        if info.ispkg:
            try:
                return importlib.import_module(f"{package.__name__}.{info.name}.{operation_id}")
            except ModuleNotFoundError:
                continue
    raise AssertionError(f"{spec}: operation {operation_id} has no generated module")


def generated_enums(spec: str) -> dict[str, type[OpenStrEnum | OpenIntEnum]]:
    """Every enum class of the API's models package, by class name (all open: unknown values kept)."""
    module = models(spec)
    found: dict[str, type[OpenStrEnum | OpenIntEnum]] = {}
    for info in pkgutil.iter_modules(module.__path__):
        sub = importlib.import_module(f"{module.__name__}.{info.name}")
        for value in vars(sub).values():
            if isinstance(value, type) and issubclass(value, enum.Enum) and value.__module__ == sub.__name__:
                assert issubclass(value, OpenStrEnum | OpenIntEnum), f"{value.__name__} is not an open enum"
                found[value.__name__] = value
    return found


def to_json(value: Any) -> Any:
    """What the SDK sends back for a parsed value: models via ``to_dict``, enums via their value."""
    if hasattr(value, "to_dict"):
        return to_json(value.to_dict())
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where *actual* differs from *expected*; date-time strings are compared by value."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in expected.keys() | actual.keys():
            if key not in actual:
                found.append(f"{where}/{key}: dropped")
            elif key not in expected:
                found.append(f"{where}/{key}: added ({actual[key]!r})")
            else:
                found.extend(differences(expected[key], actual[key], f"{where}/{key}"))
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            d for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for d in differences(e, a, f"{where}/{i}")
        ]
    if type(expected) is type(actual) and expected == actual:
        return []
    numbers = (expected, actual)
    if all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers) and expected == actual:
        return []  # an integer sent for a `number` comes back as a float
    if isinstance(expected, str) and isinstance(actual, str) and _same_instant(expected, actual):
        return []
    return [f"{where or '(root)'}: {expected!r} came back as {actual!r}"]


def _same_instant(a: str, b: str) -> bool:
    if not (_DATETIME.match(a) and _DATETIME.match(b)):
        return False
    try:
        return isoparse(a) == isoparse(b)
    except ValueError:
        return False


_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


# --- hypothesis --------------------------------------------------------------------------------

#: Keywords hypothesis-jsonschema (drafts 4-7) does not need or would misread.
_OPENAPI_ONLY = frozenset(
    {"examples", "example", "deprecated", "discriminator", "xml", "externalDocs", "readOnly", "writeOnly"}
)
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_LISTS = ("oneOf", "anyOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "contains", "propertyNames")


def for_hypothesis(schema: Any) -> Any:
    """A copy of an OpenAPI 3.1 schema that hypothesis-jsonschema can draw from.

    Drops ``x-*`` extensions and OpenAPI-only keywords, and ``format: binary`` (a file field is
    drawn as text, turned into bytes by the test). Property names are kept whatever they are.
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-") or key in _OPENAPI_ONLY or (key == "format" and value == "binary"):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: for_hypothesis(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [for_hypothesis(sub) for sub in value]
        elif key in _SCHEMA_VALUES:
            out[key] = for_hypothesis(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def drawable(spec: str, schema: dict[str, Any]) -> dict[str, Any]:
    """*schema* (a node of *spec*) wrapped with the spec's components so its refs resolve."""
    components = {"schemas": {name: for_hypothesis(s) for name, s in schemas(spec).items()}}
    return {**for_hypothesis(schema), "components": components}


@functools.cache
def _drawer(spec: str) -> Drawer:
    return Drawer({"schemas": {name: for_hypothesis(s) for name, s in schemas(spec).items()}})


@functools.cache
def strategy(spec: str, name: str) -> st.SearchStrategy[Any]:
    """Instances of component *name*: the fast drawer, or hypothesis-jsonschema for what it cannot draw."""
    try:
        return _drawer(spec).strategy({"$ref": f"#/components/schemas/{name}"})
    except Unsupported:
        return from_schema(drawable(spec, {"$ref": f"#/components/schemas/{name}"}))


@functools.cache
def minimal_instance(spec: str, name: str) -> Any:
    """A small valid instance of component *name* (checked against the spec before it is used)."""
    ref = {"$ref": f"#/components/schemas/{name}"}
    try:
        instance = minimal(_drawer(spec).components, ref)
    except Unsupported:
        from hypothesis import find

        instance = find(strategy(spec, name), lambda _: True, settings=settings(SPEC_SETTINGS, max_examples=10))
    errors = [e.message for e in schema_validator(bundled(spec), ref).iter_errors(instance)]
    assert not errors, f"{spec}: the minimal {name} {instance!r} is invalid: {errors}"
    return instance
