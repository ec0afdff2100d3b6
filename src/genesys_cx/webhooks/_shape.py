"""Check a decoded webhook body against its documented schema, naming the first field that is wrong.

The generated models' ``from_dict`` trusts its input: given ``channel.to`` as an object where a list
belongs, it fails with whatever Python says (``dictionary update sequence element #0 ...``). Before
a body reaches ``from_dict``, ``shape_error`` walks it along the schema the model was generated from
(the bundled spec, ``genesys_cx_api/_specs/<api>.json``) and returns the first mismatch with its
path: ``channel.to: a JSON object where an array belongs``. What it checks is what ``from_dict``
relies on: JSON types, required fields, array items, ``$ref``. What it does not check is what the
models keep leniently: enum values (unknown members are kept) and extra fields.

The walk follows the schema, never the data, so it is as deep as the schema is, whatever the body.
"""

from __future__ import annotations

import importlib.resources
import json
from functools import cache
from typing import Any

import genesys_cx_api

__all__ = ["json_kind", "shape_error"]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


@cache
def _schemas(api: str) -> dict[str, Any]:
    text = importlib.resources.files(genesys_cx_api).joinpath("_specs", f"{api}.json").read_text(encoding="utf-8")
    schemas: dict[str, Any] = json.loads(text)["components"]["schemas"]
    return schemas


def json_kind(value: object) -> str:
    """The JSON name of *value*'s type: ``object``, ``array``, ``string``, ``number``, ``boolean``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _is(value: object, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _JSON_TYPES.get(kind, (object,)))


def _walk(api: str, schema: dict[str, Any], value: Any, path: str) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        schema = _schemas(api)[ref.rsplit("/", 1)[-1]]
    for part in schema.get("allOf", ()):
        found = _walk(api, part, value, path)
        if found:
            return found
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    if kinds and not any(_is(value, k) for k in kinds):
        where = path or "the body"
        return f"{where}: a JSON {json_kind(value)} where {_article(' or '.join(kinds))} belongs"
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                return f"missing required field {_join(path, name)!r}"
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                found = _walk(api, sub, value[name], _join(path, name))
                if found:
                    return found
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found = _walk(api, schema["items"], item, f"{path}[{index}]")
            if found:
                return found
    return None


def shape_error(api: str, schema_name: str, data: dict[str, Any]) -> str | None:
    """The first way *data* differs from ``components.schemas[schema_name]`` of *api*, or ``None``."""
    return _walk(api, _schemas(api)[schema_name], data, "")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _article(kinds: str) -> str:
    return ("an " if kinds[0] in "aeiou" else "a ") + kinds
