"""Validators prepared once per operation: the request's parameters and body, and every answer.

When the sandbox starts, each documented operation gets an ``OperationValidator`` holding what a
request or an answer is checked against, already resolved and compiled:

- its parameters (the operation's own, then the path item's not overridden), each with where it
  is read (``path``; ``query``: every occurrence, see ``_coercion.query_value``; ``header``: the
  first), how it is cast from a string (``_coercion``), its default, whether it is required,
  and a compiled Draft 2020-12 validator of its schema;
- its request body's media types, their compiled schemas and whether a body is required;
- for each documented status (``200``, a range like ``4XX``, ``default``) the documented media
  types with compiled schemas, and the documented headers read like header parameters.

Schemas are compiled as ``$ref``s into the spec registered under a URN, so a schema's own
``#/components/...`` references resolve in the whole document; formats are asserted with
jsonschema's ``FormatChecker``. Parameters and answers are checked against the copy of the spec in
which ``format: binary`` schemas lose their ``type`` (an answer's raw bytes are not a JSON string);
request bodies against the spec as written (a binary part is read as the text ``<binary>``).

The checks are the ones openapi-core 0.23.1 made, with the sandbox's rules that ``?name=`` is the
empty string judged by the schema and that zero bytes are a valid binary body (an empty file): an
undocumented status; for documented content an empty body (other than binary),
a content type matching no documented media type (exactly, without parameters, or by a range like
``image/*`` or ``*/*``), a body that cannot be decoded, or one violating the schema; a required
response header missing or a present one violating its schema. A construct the bundled specs do not
use and this module does not implement (a parameter ``style`` other than the defaults, ``content``
parameters, ``discriminator``, XML or multipart answers) makes the start fail loudly instead of
being validated differently.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.datastructures import Headers, QueryParams

from ._coercion import (
    Caster,
    CastFailed,
    FormField,
    binary,
    decode_body,
    make_caster,
    parse_media_type,
    query_value,
    unsupported,
)
from ._problems import schema_message

__all__ = ["OperationValidator"]


class _Schema:
    """One schema of the spec, compiled once: ``problems`` lists what an instance breaks."""

    __slots__ = ("_validator",)

    def __init__(self, uri: str, registry: Registry[Any]) -> None:
        self._validator = Draft202012Validator(
            {"$ref": uri}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )

    def problems(self, where: str, instance: Any, *, ordered: bool = False) -> list[str]:
        errors: Iterable[ValidationError] = self._validator.iter_errors(instance)
        if ordered:
            errors = sorted(errors, key=lambda e: list(e.absolute_path))
        return [schema_message(where, error) for error in errors]


@dataclass(frozen=True)
class _Value:
    """A parameter or an answer's header: read as a string, cast, then judged by its schema."""

    name: str
    where: str  # "query parameter limit", "response header Location"
    missing: str  # the problem when it is required and absent
    required: bool
    split: bool  # a comma-separated array
    cast: Caster
    schema: _Schema
    default: tuple[Any, ...]  # () when the schema documents none

    def problems(self, raw: Any) -> list[str]:
        if raw is None:
            if self.default:
                return self.schema.problems(self.where, self.default[0])
            return [self.missing] if self.required else []
        try:
            value = self.cast(raw.split(",") if self.split and isinstance(raw, str) else raw)
        except CastFailed as failed:
            return [f"{self.where}: cannot be read as {failed.kind}"]
        return self.schema.problems(self.where, value)


@dataclass(frozen=True)
class _Parameter:
    value: _Value
    location: str  # path, query, header, cookie
    array: bool  # a query parameter read as a list (see ``_coercion.query_value``)


@dataclass(frozen=True)
class _Media:
    schema: _Schema | None
    form_fields: Mapping[str, FormField] | None  # form answers with a schema only


@dataclass(frozen=True)
class _Answer:
    content: Mapping[str, _Media] | None  # None: the status documents no content (anything goes)
    headers: tuple[_Value, ...]


class _Spec:
    """The document being prepared: JSON-pointer navigation and schemas compiled from it."""

    def __init__(self, doc: Mapping[str, Any], uri: str, registry: Registry[Any]) -> None:
        self.doc, self.uri, self.registry = doc, uri, registry

    def at(self, pointer: str) -> Any:
        node: Any = self.doc
        for part in pointer.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def follow(self, node: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
        """*node* (found at *pointer*) with its ``$ref``s followed, and where it really is."""
        while "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise NotImplementedError(f"external reference {ref}")
            pointer = ref[1:]
            node = self.at(pointer)
        return node, pointer

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.follow(node, "")[0]

    def schema(self, pointer: str) -> _Schema:
        return _Schema(self.uri + "#" + quote(pointer, safe="/~"), self.registry)

    def value(self, node: Mapping[str, Any], pointer: str, name: str, where: str, missing: str) -> _Value:
        node, pointer = self.follow(node, pointer)
        if "content" in node or "schema" not in node:
            raise NotImplementedError(f"{where}: only `schema` parameters are implemented")
        location = node.get("in", "header")
        style = node.get("style", "simple" if location in ("path", "header") else "form")
        schema = self.resolve(node["schema"])
        is_array = schema.get("type") == "array"
        explode = node.get("explode", style == "form")
        if style not in ("simple", "form") or (style == "form" and is_array and not explode and location != "query"):
            raise NotImplementedError(f"{where}: style {style!r}")
        return _Value(
            name=name,
            where=where,
            missing=missing,
            required=bool(node.get("required", False)),
            split=is_array and not (style == "form" and explode),
            cast=make_caster(schema, self.resolve),
            schema=self.schema(pointer + "/schema"),
            default=(schema["default"],) if "default" in schema else (),
        )


def _refuse_discriminator(node: Any) -> None:
    if isinstance(node, dict):
        if "discriminator" in node:
            raise NotImplementedError("discriminator")
        for value in node.values():
            _refuse_discriminator(value)
    elif isinstance(node, list):
        for value in node:
            _refuse_discriminator(value)


def _escape(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def _parameters(spec: _Spec, path_key: str, method: str) -> tuple[_Parameter, ...]:
    item = spec.doc["paths"][path_key]
    seen: set[tuple[str, str]] = set()
    found = []
    sources = [(item[method], _escape("paths", path_key, method)), (item, _escape("paths", path_key))]
    for owner, pointer in sources:
        for index, raw in enumerate(owner.get("parameters", [])):
            node, _ = spec.follow(raw, f"{pointer}/parameters/{index}")
            name, location = node["name"], node["in"]
            if (name, location) in seen:
                continue
            seen.add((name, location))
            value = spec.value(
                raw,
                f"{pointer}/parameters/{index}",
                name,
                f"{location} parameter {name}",
                f"missing required {location} parameter {name}",
            )
            schema = spec.resolve(node["schema"])
            found.append(_Parameter(value, location, location == "query" and schema.get("type") == "array"))
    return tuple(found)


def _answer(spec: _Spec, node: Mapping[str, Any], pointer: str) -> _Answer:
    node, pointer = spec.follow(node, pointer)
    content: dict[str, _Media] | None = None
    if "content" in node:
        content = {}
        for key, media in node["content"].items():
            if unsupported(key):
                raise NotImplementedError(f"answers in {key}")
            media_pointer = f"{pointer}/content/{_escape(key)[1:]}"
            if "schema" not in media:
                content[key] = _Media(None, None)
                continue
            form_fields = None
            if key.lower() == "application/x-www-form-urlencoded":
                form_fields = _form_fields(spec, media["schema"])
            content[key] = _Media(spec.schema(media_pointer + "/schema"), form_fields)
    headers = tuple(
        spec.value(
            header,
            f"{pointer}/headers/{_escape(name)[1:]}",
            name,
            f"response header {name}",
            f"missing required response header {name}",
        )
        for name, header in node.get("headers", {}).items()
        if name.lower() != "content-type"
    )
    return _Answer(content, headers)


def _form_fields(spec: _Spec, schema: Mapping[str, Any]) -> dict[str, FormField]:
    schema = spec.resolve(schema)
    if any(key in schema for key in ("allOf", "oneOf", "anyOf")):
        raise NotImplementedError("form answers with allOf/oneOf/anyOf")
    fields = {}
    for name, prop in schema.get("properties", {}).items():
        prop = spec.resolve(prop)
        if prop.get("type") in ("array", "object"):
            raise NotImplementedError("form answers with array or object fields")
        fields[name] = (make_caster(prop, spec.resolve), (prop["default"],) if "default" in prop else ())
    return fields


class OperationValidator:
    """The prepared checks of one operation (see the module docstring)."""

    def __init__(self, checked: _Spec, written: _Spec, path_key: str, method: str) -> None:
        operation = checked.doc["paths"][path_key][method]
        self.parameters = _parameters(checked, path_key, method)
        pointer = _escape("paths", path_key, method)
        self.answers = {
            status: _answer(checked, answer, f"{pointer}/responses/{_escape(status)[1:]}")
            for status, answer in operation.get("responses", {}).items()
        }
        body, body_pointer = written.follow(
            written.doc["paths"][path_key][method].get("requestBody", {}), f"{pointer}/requestBody"
        )
        self.body_required = bool(body.get("required", False))
        self.body_schemas = {media: spec.get("schema", {}) for media, spec in body.get("content", {}).items()}
        self._bodies = {
            media: written.schema(f"{body_pointer}/content/{_escape(media)[1:]}/schema")
            for media, spec in body.get("content", {}).items()
            if "schema" in spec
        }

    @classmethod
    def prepare(cls, api: str, checked: Mapping[str, Any], written: Mapping[str, Any]) -> dict[str, OperationValidator]:
        """The validators of every operation of *api*, by operationId.

        *checked*: the copy of the spec parameters and answers are checked against; *written*: the
        spec as written, for request bodies.
        """
        _refuse_discriminator(checked)
        checked_uri, written_uri = f"urn:{api}:checked", f"urn:{api}"
        registry: Registry[Any] = Registry().with_contents(
            [(checked_uri, checked), (written_uri, written)], default_specification=DRAFT202012
        )
        checked_spec = _Spec(checked, checked_uri, registry)
        written_spec = _Spec(written, written_uri, registry)
        return {
            operation["operationId"]: cls(checked_spec, written_spec, path_key, method)
            for path_key, item in checked.get("paths", {}).items()
            for method, operation in item.items()
            if method in ("get", "post", "put", "delete", "patch")
        }

    # -- the request -----------------------------------------------------------------------------

    def parameter_problems(self, path_params: Mapping[str, str], query: str, headers: Headers) -> list[str]:
        """Why the request's parameters do not conform (empty list: they do)."""
        params = QueryParams(query)
        problems = []
        for parameter in self.parameters:
            location = parameter.location
            raw: Any
            if location == "query":
                raw = query_value(params.getlist(parameter.value.name), array=parameter.array)
            elif location == "header":
                raw = headers.get(parameter.value.name)
            elif location == "path":
                raw = path_params.get(parameter.value.name)
            else:  # cookies are not read (as before)
                raw = None
            problems.extend(parameter.value.problems(raw))
        return problems

    def body_problems(self, media_type: str, instance: Any) -> list[str]:
        """Why *instance* (the parsed body in *media_type*) does not conform to its schema."""
        schema = self._bodies.get(media_type)
        return [] if schema is None else schema.problems("body", instance, ordered=True)

    # -- the answer ------------------------------------------------------------------------------

    def response_problems(self, status: int, headers: Headers, body: bytes | None) -> list[str]:
        """Why the answer does not conform to the documented responses (empty list: it does).

        A streamed answer (*body* None: a download) is checked for its status and headers only.
        """
        code = str(status)
        answer = self.answers.get(code) or self.answers.get(f"{code[0]}XX") or self.answers.get("default")
        if answer is None:
            return [f"status {status} is not a documented response"]
        problems = [] if answer.content is None or body is None else _content_problems(answer.content, headers, body)
        for header in answer.headers:
            problems.extend(header.problems(headers.get(header.name)))
        return problems


def _content_problems(content: Mapping[str, _Media], headers: Headers, body: bytes) -> list[str]:
    content_type = headers.get("content-type", "")
    kind, parameters = parse_media_type(content_type)
    media_type, media = kind, content.get(content_type) or content.get(kind)
    if media is None and kind:
        media_type, media = next(((key, m) for key, m in content.items() if fnmatch.fnmatch(kind, key)), ("", None))
    if not body and (media is None or not binary(media_type)):  # zero bytes are a valid binary body (an empty file)
        return ["body: missing, but the answer documents content"]
    if media is None:
        return [f"unsupported content type {content_type!r} (documented: {', '.join(content)})"]
    try:
        value = decode_body(media_type, parameters, body, media.form_fields)
    except CastFailed as failed:
        return [f"body: cannot be read as {failed.kind}"]
    except ValueError:
        return [f"body: cannot be parsed as {media_type}"]
    return [] if media.schema is None else media.schema.problems("body", value)
