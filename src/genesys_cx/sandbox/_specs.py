"""The bundled specs as the sandbox uses them: operations to route, validators, sample answers.

The specs are read from ``genesys_cx_api/_specs/<api>.json`` (the exact documents the clients were
generated from). Each API becomes a list of ``Operation`` (method, full path template, operationId,
security requirements) and one openapi-core ``OpenAPI`` object that validates requests and
responses. Security is *not* left to the validator: the sandbox's handlers check ``x-api-key``,
bearer tokens and ``X-Hub-Signature`` themselves and answer the documented errors, so the copies
given to openapi-core have their ``security`` removed and their server reduced to the base path.

Validation failures are turned into short messages that name the place (``header x-ccid``,
``body.messages[0].text``) and the broken rule, and never quote the offending value: a request
body may carry a password or a token, and a message is echoed to the caller and to logs.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import genesys_cx_api
import jsonschema.exceptions
from jsonschema import Draft202012Validator
from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.styles.exceptions import EmptyQueryParameterValue
from openapi_core.validation.request.validators import V31RequestParametersValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.datastructures import Headers, QueryParams

__all__ = ["API_NAMES", "Operation", "SpecSet", "load_spec", "sample_response", "spec_set"]

#: The APIs the sandbox serves itself (statistics is mounted from ``_statistics``).
API_NAMES = ("messaging", "open_media", "auth", "secure_email", "udm", "data_download")
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

    def documents(self, status: int) -> bool:
        return str(status) in self.responses or f"{str(status)[0]}XX" in self.responses


@cache
def _compile(template: str) -> re.Pattern[str]:
    parts = _TEMPLATE.split(template)
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(pattern + "$")


def _route_order(op: Operation) -> tuple[int, int]:
    # Literal text wins over templates: /securemail/count before /securemail/{id}, and
    # /interactions/ext_{externalId} before /interactions/{interactionId} (notes/open_media.md).
    return (op.path.count("{"), -len(_TEMPLATE.sub("", op.path)))


def _operations(api: str, spec: Mapping[str, Any]) -> list[Operation]:
    base = genesys_cx_api.BASE_PATHS[api]
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
    # openapi-core checks `type: string` against the raw bytes of a binary body and fails.
    if isinstance(node, dict):
        if node.get("format") == "binary":
            node.pop("type", None)
        for value in node.values():
            _relax_binary(value)
    elif isinstance(node, list):
        for value in node:
            _relax_binary(value)


def _validator_copy(api: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(dict(spec))
    _relax_binary(doc)
    doc.pop("security", None)
    doc["servers"] = [{"url": genesys_cx_api.BASE_PATHS[api]}]
    for item in doc.get("paths", {}).values():
        for method in _METHODS:
            if method in item:
                item[method].pop("security", None)
    return doc


class _ParametersValidator(V31RequestParametersValidator):
    """openapi-core's parameter validator, reading ``?name=`` as the empty string.

    openapi-core refuses every empty query value unless the parameter says ``allowEmptyValue: true``
    (a keyword OpenAPI deprecates). ``?name=`` is how the empty string is serialised, so the value is
    judged by the parameter's schema instead: a ``string`` admits it, an ``integer`` or an enum not.
    """

    def _get_simple_param_or_header(self, param_or_header: Any, location: Any, name: str | None = None) -> Any:
        try:
            return super()._get_simple_param_or_header(param_or_header, location, name=name)
        except EmptyQueryParameterValue:
            return "", param_or_header / "schema"


class _Request:
    """The openapi-core request protocol over what the sandbox received."""

    def __init__(self, method: str, path: str, query: str, headers: Headers, body: bytes) -> None:
        self.method = method.lower()
        self.path = path
        self.host_url = "http://sandbox"
        self.full_url_pattern = self.host_url + path
        self.body = body
        self.content_type = headers.get("content-type") or "application/octet-stream"
        self.parameters = RequestParameters(query=QueryParams(query), header=headers, cookie={})


class _Response:
    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.data = body
        self.content_type = headers.get("content-type", "")


class SpecSet:
    """All served APIs: their operations (in routing order) and validators.

    Parameters (path, query, header) and responses are validated by openapi-core. Request bodies
    are validated here with jsonschema against the documented media type's schema, because
    openapi-core 0.23.1 decodes an ``application/x-www-form-urlencoded`` body whose schema is a
    ``oneOf`` (``TokenRequest``) to an empty object and rejects the bytes of a ``format: binary``
    multipart part under OpenAPI 3.1 (for responses, binary schemas are relaxed in its copy).
    """

    def __init__(self, apis: tuple[str, ...] = API_NAMES) -> None:
        self.specs = {api: load_spec(api) for api in apis}
        self.operations = [op for api in apis for op in _operations(api, self.specs[api])]
        copies = {api: _validator_copy(api, spec) for api, spec in self.specs.items()}
        # The specs were validated by the generator; re-checking them here costs seconds per start.
        unchecked = Config(spec_validator_cls=None)  # type: ignore[arg-type]  # None: skip the check
        self._openapi = {api: OpenAPI.from_dict(doc, config=unchecked) for api, doc in copies.items()}
        self._parameters = {api: _ParametersValidator(SchemaPath.from_dict(doc)) for api, doc in copies.items()}
        self._registries = {
            api: Registry().with_resource(f"urn:{api}", Resource.from_contents(spec, default_specification=DRAFT202012))
            for api, spec in self.specs.items()
        }

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving ``method path`` and its path parameters (None if undocumented)."""
        for op in self.operations:
            if op.method == method.upper() and (m := op.regex.match(path)) is not None:
                return op, m.groupdict()
        return None

    def parameter_problems(self, op: Operation, path: str, query: str, headers: Headers) -> list[str]:
        """Why the request's parameters do not conform to *op* (empty list: they do)."""
        request = _Request(op.method, path, query, headers, b"")
        return [p for error in self._parameters[op.api].iter_errors(request) for p in _describe(error)]

    def body_media_types(self, op: Operation) -> dict[str, Any]:
        """The documented request media types of *op* -> their schema ({} if it takes no body)."""
        operation = self.specs[op.api]["paths"][op.path[len(genesys_cx_api.BASE_PATHS[op.api]) :]][op.method.lower()]
        body = _resolve(self.specs[op.api], operation.get("requestBody", {}))
        return {media: spec.get("schema", {}) for media, spec in body.get("content", {}).items()}

    def body_required(self, op: Operation) -> bool:
        operation = self.specs[op.api]["paths"][op.path[len(genesys_cx_api.BASE_PATHS[op.api]) :]][op.method.lower()]
        return bool(_resolve(self.specs[op.api], operation.get("requestBody", {})).get("required", False))

    def body_problems(self, op: Operation, schema: Mapping[str, Any], instance: Any) -> list[str]:
        """Why *instance* (the parsed body) does not conform to *schema* of *op*'s spec."""
        resolved = {"$ref": f"urn:{op.api}{schema['$ref']}"} if "$ref" in schema else dict(schema)
        validator = Draft202012Validator(
            resolved,
            registry=self._registries[op.api],
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [_schema_message("body", e) for e in errors]

    def response_problems(
        self,
        op: Operation,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
        status: int,
        response_headers: Headers,
        response_body: bytes,
    ) -> list[str]:
        """Why the response does not conform to *op*'s documented responses (empty list: it does)."""
        request = _Request(op.method, path, query, headers, body)
        result = self._openapi[op.api].unmarshal_response(request, _Response(status, response_headers, response_body))
        return [p for error in result.errors for p in _describe(error)]


@cache
def spec_set() -> SpecSet:
    """The shared, read-only ``SpecSet`` (building it takes a moment; sandboxes share it)."""
    return SpecSet()


def _describe(error: BaseException) -> Iterator[str]:
    name = getattr(error, "name", None)
    location = getattr(error, "location", None)
    kind = type(error).__name__
    where = f"{location} parameter {name}" if name and location else "body"
    if nested := getattr(error, "errors", None):  # ParametersError / grouped errors
        for sub in nested:
            yield from _describe(sub)
        return
    cause = error.__cause__
    if kind.startswith("MissingRequired") and name:
        yield f"missing required {location} parameter {name}"
    elif kind == "MissingRequiredRequestBody":
        yield "missing required request body"
    elif cause is not None and type(cause).__name__ == "MediaTypeNotFound":
        available = ", ".join(getattr(cause, "availableMimetypes", []) or [])
        yield f"unsupported content type {getattr(cause, 'mimetype', '?')!r} (documented: {available})"
    elif cause is not None and (schema_errors := getattr(cause, "schema_errors", None)):
        for schema_error in schema_errors:
            yield _schema_message(where, schema_error)
    elif cause is not None and type(cause).__name__ == "MediaTypeDeserializeError":
        yield f"{where}: cannot be parsed as {getattr(cause, 'mimetype', 'the declared content type')}"
    elif cause is not None and type(cause).__name__ == "CastError":
        yield f"{where}: cannot be read as {getattr(cause, 'type', 'the documented type')}"
    elif kind == "ResponseNotFound":
        yield f"status {getattr(error, 'http_status', '?')} is not a documented response"
    elif cause is not None and type(cause).__name__ == "ResponseNotFound":
        yield f"status {getattr(cause, 'http_status', '?')} is not a documented response"
    else:
        detail = type(cause).__name__ if cause is not None else kind
        yield f"{where}: {detail}"


def _schema_message(where: str, error: jsonschema.exceptions.ValidationError) -> str:
    place = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    if error.validator in ("oneOf", "anyOf") and error.context:
        return _variant_message(where, place, error.context)
    rule, expected = error.validator, error.validator_value
    if rule in ("required", "additionalProperties", "dependentRequired"):
        text = error.message  # names properties, never values
    elif rule == "type":
        text = f"must be of type {expected}"
    elif rule == "enum":
        text = f"must be one of {expected}"
    elif rule == "const":
        text = f"must be {expected!r}"
    elif rule == "format":
        text = f"must be a valid {expected}"
    elif rule in (
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "pattern",
    ):
        text = f"violates {rule} {expected}"
    else:
        text = f"violates '{rule}'"
    return f"{place}: {text}"


def _variant_message(where: str, place: str, context: list[jsonschema.exceptions.ValidationError]) -> str:
    # Explain a failed oneOf by the variant the instance claims to be (its `const` tag matched);
    # if every variant's tag failed, list the documented tag values.
    by_variant: dict[Any, list[jsonschema.exceptions.ValidationError]] = {}
    for sub in context:
        by_variant.setdefault(sub.relative_schema_path[0], []).append(sub)
    claimed = [errs for errs in by_variant.values() if not any(e.validator == "const" for e in errs)]
    if claimed:
        return "; ".join(_schema_message(where, e) for e in min(claimed, key=len))
    tags = [e for errs in by_variant.values() for e in errs if e.validator == "const"]
    if tags:
        tag_place = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in tags[0].absolute_path)
        return f"{tag_place}: must be one of {sorted({str(e.validator_value) for e in tags})}"
    return f"{place}: matches none of the documented variants"


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
