"""Rules of specs/CONVENTIONS.md that hold across every spec, checked on the bundled documents."""

from __future__ import annotations

import keyword
import re
from typing import Any

import pytest
from openapi_python_client.strings import snake_case

from ._support import SPEC_NAMES, bundled, media_types, operation_parameters, operations, ref_name, resolve

#: CONVENTIONS.md, "Credentials are security schemes": name -> what the scheme must be.
SCHEMES: dict[str, dict[str, str]] = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "hubSignature": {"type": "apiKey", "in": "header", "name": "X-Hub-Signature"},
    "bearer": {"type": "http", "scheme": "bearer"},
    "clientBasic": {"type": "http", "scheme": "basic"},
    "oauth2": {"type": "oauth2"},
}
AUTH_ONLY = {"clientBasic", "oauth2"}
CREDENTIAL_HEADERS = {"x-api-key", "authorization", "x-hub-signature"}
AMBIENT = {"x-ccid": "ccid", "x-b3-traceid": "trace"}

#: (spec, operationId) -> why it documents no 2xx response. Each must then document a 3xx.
NO_2XX = {
    ("auth.yaml", "authorize"): "a browser endpoint: success is the documented 302 redirect to redirect_uri "
    "(or to the sign-in form); notes/auth.md decided not to invent a 200",
}


def _fail_if(problems: list[str], spec: str, what: str) -> None:
    assert not problems, f"{spec}: {len(problems)} {what}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_operation_ids_are_unique_python_names(spec: str) -> None:
    seen: dict[str, str] = {}
    problems = []
    for where, _, op, _ in operations(bundled(spec)):
        op_id = op.get("operationId")
        if not op_id:
            problems.append(f"{where}: no operationId")
            continue
        name = snake_case(op_id)
        if name != op_id or not name.isidentifier() or keyword.iskeyword(name):
            problems.append(f"{where}: operationId {op_id!r} is not a snake_case Python name ({name!r})")
        if name in seen:
            problems.append(f"{where}: operationId {op_id!r} also used by {seen[name]}")
        seen[name] = where
    _fail_if(problems, spec, "operationId problem(s)")


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_operations_have_summary_one_tag_and_a_2xx_response(spec: str) -> None:
    doc = bundled(spec)
    declared_tags = {t["name"] for t in doc.get("tags") or []}
    problems = []
    for where, _, op, _ in operations(doc):
        if not str(op.get("summary", "")).strip():
            problems.append(f"{where}: no summary")
        tags = op.get("tags") or []
        if len(tags) != 1:
            problems.append(f"{where}: tags {tags} (CONVENTIONS: one tag)")
        problems += [
            f"{where}: tag {t!r} is not declared in the top-level tags" for t in tags if t not in declared_tags
        ]
        codes = [str(code) for code in op.get("responses") or {}]
        if (spec, op.get("operationId")) in NO_2XX:
            if any(c.startswith("2") for c in codes) or not any(c.startswith("3") for c in codes):
                problems.append(f"{where}: listed in NO_2XX but has a 2xx or no 3xx response ({codes})")
        elif not any(c.startswith("2") for c in codes):
            problems.append(f"{where}: no 2xx response")
        problems += [
            f"{where}: response {code} has no description"
            for code, response in (op.get("responses") or {}).items()
            if not str(resolve(doc, response).get("description", "")).strip()
        ]
    _fail_if(problems, spec, "operation problem(s)")


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_parameters_are_typed_and_never_credentials(spec: str) -> None:
    doc = bundled(spec)
    problems = []
    for where, _, op, item in operations(doc):
        for param in operation_parameters(doc, op, item):
            label = f"{where}: parameter {param['name']} ({param['in']})"
            schema = resolve(doc, param.get("schema"))
            if not isinstance(schema, dict) or "type" not in schema:
                problems.append(f"{label}: no schema with a type")
            name = param["name"].lower()
            if param["in"] == "header" and name in CREDENTIAL_HEADERS:
                problems.append(f"{label}: a credential; CONVENTIONS make it a security scheme")
            if param["in"] == "header" and name in ("content-type", "accept"):
                problems.append(f"{label}: Content-Type/Accept follow from the bodies, not parameters")
            if param["in"] == "header" and name in AMBIENT and param.get("x-sdk-ambient") != AMBIENT[name]:
                problems.append(f"{label}: needs x-sdk-ambient: {AMBIENT[name]}")
            if param["in"] == "path" and not param.get("required"):
                problems.append(f"{label}: a path parameter must be required")
    _fail_if(problems, spec, "parameter problem(s)")


def test_no_2xx_table_names_real_operations() -> None:
    real = {(spec, op.get("operationId")) for spec in SPEC_NAMES for _, _, op, _ in operations(bundled(spec))}
    assert set(NO_2XX) <= real, f"NO_2XX lists unknown operations: {sorted(set(NO_2XX) - real)}"


def _inline_object(schema: Any) -> bool:
    if not isinstance(schema, dict) or ref_name(schema):
        return False
    if schema.get("type") == "object" or "properties" in schema or "allOf" in schema:
        return True
    branches = [schema.get("items"), *(schema.get("oneOf") or []), *(schema.get("anyOf") or [])]
    return any(_inline_object(b) for b in branches)


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_bodies_use_named_schemas(spec: str) -> None:
    doc = bundled(spec)
    problems = [
        f"{where} {label}: inline object schema (CONVENTIONS: a named component)"
        for where, _, op, _ in operations(doc)
        for label, content in media_types(doc, op)
        if _inline_object(content.get("schema"))
    ]
    _fail_if(problems, spec, "inline body schema(s)")


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_security_schemes_are_named_as_conventions_say(spec: str) -> None:
    doc = bundled(spec)
    declared = doc.get("components", {}).get("securitySchemes") or {}
    problems = []
    for name, scheme in declared.items():
        expected = SCHEMES.get(name)
        if expected is None:
            problems.append(f"scheme {name!r} is not one of {sorted(SCHEMES)}")
            continue
        wrong = {k: scheme.get(k) for k, v in expected.items() if str(scheme.get(k, "")).lower() != v.lower()}
        if wrong:
            problems.append(f"scheme {name!r} has {wrong}, expected {expected}")
        if name in AUTH_ONLY and spec != "auth.yaml":
            problems.append(f"scheme {name!r} belongs to auth.yaml only")
        if not str(scheme.get("description", "")).strip():
            problems.append(f"scheme {name!r} has no description")
    requirements = [("top level", r) for r in doc.get("security") or []]
    requirements += [(where, r) for where, _, op, _ in operations(doc) for r in op.get("security") or []]
    for where, requirement in requirements:
        problems += [f"{where}: security uses undeclared scheme {n!r}" for n in requirement if n not in declared]
    _fail_if(problems, spec, "security scheme problem(s)")


def _walk(node: Any, where: str = "#") -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            yield where, key, value
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{where}/{i}")


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_sdk_ambient_values_are_ccid_or_trace(spec: str) -> None:
    problems = [
        f"{where}: x-sdk-ambient {value!r}"
        for where, key, value in _walk(bundled(spec))
        if key == "x-sdk-ambient" and value not in ("ccid", "trace")
    ]
    _fail_if(problems, spec, "x-sdk-ambient problem(s)")


def test_inline_object_rule() -> None:
    assert _inline_object({"type": "object", "properties": {}})
    assert _inline_object({"type": "array", "items": {"properties": {"a": {}}}})
    assert not _inline_object({"$ref": "#/components/schemas/X"})
    assert not _inline_object({"type": "string", "format": "binary"})
    assert not _inline_object({"type": "array", "items": {"$ref": "#/components/schemas/X"}})


#: A string property named like this holds a secret (CONVENTIONS.md: ``x-sdk-secret: true``).
SECRET_NAME = re.compile(r"(token|password|secret)$", re.IGNORECASE)


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_properties_named_like_secrets_are_marked(spec: str) -> None:
    problems = []
    for name, schema in ((bundled(spec).get("components") or {}).get("schemas") or {}).items():
        for prop, raw in (schema.get("properties") or {}).items():
            named_secret = isinstance(raw, dict) and raw.get("type") == "string" and SECRET_NAME.search(prop)
            if named_secret and raw.get("x-sdk-secret") is not True:
                problems.append(f"{name}.{prop}: add x-sdk-secret: true (repr() would show it)")
    _fail_if(problems, spec, "unmarked secret(s)")
