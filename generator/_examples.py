"""Find every example in an OpenAPI 3.1 document and check it against its schema.

Examples live in four places: a schema's ``examples`` list (JSON Schema), a media type's or
parameter's ``example`` / ``examples`` map, and ``components/examples`` entries that those maps
reference. Each is validated with the JSON Schema 2020-12 dialect that OpenAPI 3.1 uses, with
``#/components/...`` references resolved against the document itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema

_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def schema_validator(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A validator for *schema*, a node of *doc*, able to follow ``#/components/...`` refs."""
    wrapped = {"allOf": [schema], "components": doc.get("components", {})}
    return jsonschema.Draft202012Validator(wrapped, format_checker=jsonschema.FormatChecker())


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def iter_examples(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """Yield ``(where, schema, example)`` for every example of *doc*."""
    for name, schema in (doc.get("components", {}).get("schemas") or {}).items():
        yield from _schema_examples(f"components/schemas/{name}", schema)
    for group in ("paths", "webhooks"):
        for path, item in (doc.get(group) or {}).items():
            item = _resolve(doc, item)
            for method in _OPERATIONS:
                op = item.get(method)
                if isinstance(op, dict):
                    yield from _operation_examples(doc, f"{group}/{path}/{method}", op, item)


def _schema_examples(where: str, schema: Any) -> Iterator[tuple[str, dict[str, Any], Any]]:
    if not isinstance(schema, dict):
        return
    for i, example in enumerate(schema.get("examples") or []):
        yield f"{where}/examples/{i}", schema, example
    for key in ("properties",):
        for prop, sub in (schema.get(key) or {}).items():
            yield from _schema_examples(f"{where}/{key}/{prop}", sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _schema_examples(f"{where}/{key}", schema[key])
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key) or []):
            yield from _schema_examples(f"{where}/{key}/{i}", sub)


def _media_examples(
    doc: dict[str, Any], where: str, holder: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], Any]]:
    schema = holder.get("schema")
    if not isinstance(schema, dict):
        return
    if "example" in holder:
        yield f"{where}/example", schema, holder["example"]
    for name, example in (holder.get("examples") or {}).items():
        example = _resolve(doc, example)
        if isinstance(example, dict) and "value" in example:
            yield f"{where}/examples/{name}", schema, example["value"]


def _operation_examples(
    doc: dict[str, Any], where: str, op: dict[str, Any], item: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], Any]]:
    for i, param in enumerate([*(item.get("parameters") or []), *(op.get("parameters") or [])]):
        param = _resolve(doc, param)
        yield from _media_examples(doc, f"{where}/parameters/{param.get('name', i)}", param)
    body = _resolve(doc, op.get("requestBody"))
    if isinstance(body, dict):
        for media, content in (body.get("content") or {}).items():
            yield from _media_examples(doc, f"{where}/requestBody/{media}", content)
    for code, response in (op.get("responses") or {}).items():
        response = _resolve(doc, response)
        for media, content in (response.get("content") or {}).items():
            yield from _media_examples(doc, f"{where}/responses/{code}/{media}", content)


def example_errors(doc: dict[str, Any]) -> list[str]:
    """Every example of *doc* that does not validate, as readable lines."""
    errors = []
    for where, schema, example in iter_examples(doc):
        for error in schema_validator(doc, schema).iter_errors(example):
            path = "/".join(str(p) for p in error.absolute_path) or "(root)"
            errors.append(f"{where}: at {path}: {error.message[:300]}")
    return errors
