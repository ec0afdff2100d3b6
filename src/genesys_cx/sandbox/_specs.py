"""The bundled specs as the sandbox uses them: operations to route, validators, sample answers.

The specs are read from ``genesys_cx_api/_specs/<api>.json`` (the exact documents the clients were
generated from). Each API becomes a list of ``Operation`` (method, full path template, operationId,
security requirements), and each operation an ``OperationValidator`` (``_validation``) prepared once
when the ``SpecSet`` is built: its parameters, request body and answers are then checked without
re-reading the spec. Security is *not* left to the validators: the sandbox's handlers check
``x-api-key``, bearer tokens and ``X-Hub-Signature`` themselves and answer the documented errors.

Validation failures are turned into short messages that name the place (``header x-ccid``,
``body.messages[0].text``) and the broken rule, and never quote the offending value: a request
body may carry a password or a token, and a message is echoed to the caller and to logs.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import genesys_cx_api
from genesys_cx_api._registry import APIS
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.datastructures import Headers

from ._problems import schema_message
from ._validation import OperationValidator

__all__ = ["API_NAMES", "Operation", "SpecSet", "load_spec", "sample_response", "spec_set"]

#: The APIs the sandbox serves: every API of the registry with operations. An API without a
#: handler answers its documented examples.
API_NAMES = tuple(name for name, api in APIS.items() if api.operations)
_METHODS = ("get", "post", "put", "delete", "patch")
_TEMPLATE = re.compile(r"\{([^}/]+)\}")


@cache
def load_spec(api: str) -> dict[str, Any]:
    """The bundled spec of *api* (without the generator's ``x-generated`` key)."""
    text = importlib.resources.files(genesys_cx_api).joinpath("_specs", f"{api}.json").read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text)
    spec.pop("x-generated", None)
    return spec


@dataclass(frozen=True)
class Operation:
    """One documented operation, with its path template relative to the host (base path included)."""

    api: str
    method: str  # upper case
    path: str  # e.g. /nexus/v3/channels/{channelId}/messages
    operation_id: str
    security: tuple[frozenset[str], ...]  # alternatives, each a set of scheme names; () = none
    responses: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.path)

    @property
    def route(self) -> str:
        """The path as a Starlette route, its parameters allowed to be empty (``{id:segment}``)."""
        return _TEMPLATE.sub(lambda m: "{" + m.group(1) + ":segment}", self.path)

    def documents(self, status: int) -> bool:
        return str(status) in self.responses or f"{str(status)[0]}XX" in self.responses


@cache
def _compile(template: str) -> re.Pattern[str]:
    parts = _TEMPLATE.split(template)
    # A parameter may be empty (``/jobs/`` is get-job with the id ""), as the generated clients send it.
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]*)" for i, p in enumerate(parts))
    return re.compile(pattern + "$")


def _route_order(op: Operation) -> tuple[int, int]:
    # Literal text wins over templates: /securemail/count before /securemail/{id}, and
    # /interactions/ext_{externalId} before /interactions/{interactionId} (notes/open_media.md).
    return (op.path.count("{"), -len(_TEMPLATE.sub("", op.path)))


def _operations(api: str, spec: Mapping[str, Any]) -> list[Operation]:
    base = APIS[api].base_path
    default_security = spec.get("security", [])
    ops = []
    for path, item in spec.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            security = op.get("security", default_security)
            ops.append(
                Operation(
                    api=api,
                    method=method.upper(),
                    path=base + path,
                    operation_id=op["operationId"],
                    security=tuple(frozenset(req) for req in security),
                    responses=op.get("responses", {}),
                )
            )
    return sorted(ops, key=_route_order)


def _relax_binary(node: Any) -> None:
    # An answer's binary body is checked as raw bytes, which `type: string` would refuse.
    if isinstance(node, dict):
        if node.get("format") == "binary":
            node.pop("type", None)
        for value in node.values():
            _relax_binary(value)
    elif isinstance(node, list):
        for value in node:
            _relax_binary(value)


def _validator_copy(api: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The copy of *api*'s spec that parameters and answers are checked against."""
    doc = copy.deepcopy(dict(spec))
    _relax_binary(doc)
    return doc


class SpecSet:
    """All served APIs: their operations (in routing order) and each operation's validator."""

    def __init__(self, apis: tuple[str, ...] = API_NAMES) -> None:
        self.specs = {api: load_spec(api) for api in apis}
        self.operations = [op for api in apis for op in _operations(api, self.specs[api])]
        self._registries = {
            api: Registry().with_resource(f"urn:{api}", Resource.from_contents(spec, default_specification=DRAFT202012))
            for api, spec in self.specs.items()
        }
        self._validators = {
            api: OperationValidator.prepare(api, _validator_copy(api, spec), spec) for api, spec in self.specs.items()
        }

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving ``method path`` and its path parameters (None if undocumented)."""
        for op in self.operations:
            if op.method == method.upper() and (m := op.regex.match(path)) is not None:
                return op, m.groupdict()
        return None

    def validator(self, op: Operation) -> OperationValidator:
        """The prepared validator of *op*."""
        return self._validators[op.api][op.operation_id]

    def parameter_problems(
        self, op: Operation, path_params: Mapping[str, str], query: str, headers: Headers
    ) -> list[str]:
        """Why the request's parameters do not conform to *op* (empty list: they do)."""
        return self.validator(op).parameter_problems(path_params, query, headers)

    def body_media_types(self, op: Operation) -> dict[str, Any]:
        """The documented request media types of *op* -> their schema ({} if it takes no body)."""
        return self.validator(op).body_schemas

    def body_required(self, op: Operation) -> bool:
        return self.validator(op).body_required

    def body_problems(self, op: Operation, schema: Mapping[str, Any], instance: Any) -> list[str]:
        """Why *instance* conforms not to *schema* of *op*'s spec (the app uses prepared validators)."""
        resolved = {"$ref": f"urn:{op.api}{schema['$ref']}"} if "$ref" in schema else dict(schema)
        validator = Draft202012Validator(
            resolved,
            registry=self._registries[op.api],
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [schema_message("body", e) for e in errors]

    def response_problems(self, op: Operation, status: int, headers: Headers, body: bytes) -> list[str]:
        """Why the answer does not conform to *op*'s documented responses (empty list: it does)."""
        return self.validator(op).response_problems(status, headers, body)


@cache
def spec_set() -> SpecSet:
    """The shared, read-only ``SpecSet`` (building it takes a moment; sandboxes share it)."""
    return SpecSet()


# -- sample answers ---------------------------------------------------------------------------------


def _resolve(spec: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def sample(spec: Mapping[str, Any], schema: Mapping[str, Any], depth: int = 0) -> Any:
    """A small instance of *schema*: its first example, else the required properties filled in."""
    schema = _resolve(spec, schema)
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return sample(spec, schema[key][0], depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = sample(spec, part, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type", "object")
    kind = next((k for k in kind if k != "null"), "null") if isinstance(kind, list) else kind
    if kind == "object":
        required = schema.get("required", [])
        props = schema.get("properties", {})
        return {k: sample(spec, props[k], depth + 1) for k in required if k in props and depth < 8}
    return {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False, "null": None}.get(kind)


def sample_response(spec: Mapping[str, Any], op: Operation) -> tuple[int, str | None, Any]:
    """The first documented 2xx answer of *op*: (status, content type or None, body)."""
    for code, response in op.responses.items():
        if not code.startswith("2") or not code.isdigit():
            continue
        response = _resolve(spec, response)
        for content_type, media in response.get("content", {}).items():
            examples = media.get("examples") or {}
            if examples:
                first = _resolve(spec, next(iter(examples.values())))
                return int(code), content_type, copy.deepcopy(first.get("value"))
            return int(code), content_type, sample(spec, media.get("schema", {}))
        return int(code), None, None
    raise LookupError(f"{op.operation_id} documents no 2xx answer")
