"""Reading parameters and answers the way openapi-core 0.23.1 reads them, before any schema check.

A query, path or header value arrives as a string; it is *cast* by its schema's ``type`` before the
schema judges it: ``int(...)`` for ``integer``, ``float(...)`` for ``number``, the words ``true``,
``yes``, ``on``, ``1`` (and their opposites, any case) for ``boolean``, item by item for an
``array``; a ``string`` (or a list of types, or no type) stays as it is. A value that cannot be cast
is reported as such (``cannot be read as integer``) and not validated further.

An answer's body is decoded by its matched media type: JSON for ``application/json`` (and
``application/vnd.api+json``), text for ``text/plain`` and ``text/html`` (the ``charset`` parameter,
else UTF-8), the documented properties of a form for ``application/x-www-form-urlencoded`` (each
property cast by its own schema, the first value of a repeated field, unknown fields dropped), and
the raw bytes for everything else (``application/octet-stream``, ``image/*``, ``*/*``).

A query parameter given more than once is read as a Java/Spring server reads it: a string parameter
as its values joined by commas (``a=1&a=2`` is ``a=1,2``), an array parameter as the values of
every occurrence, each split at its commas (``query_value``). Either form of a delimited list is
thus accepted wherever one is documented.

Only what the bundled specs use is implemented; ``unsupported`` names anything else so that
``_validation`` refuses it when the sandbox starts rather than validating it differently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "CastFailed",
    "Caster",
    "FormField",
    "binary",
    "decode_body",
    "make_caster",
    "parse_media_type",
    "query_value",
    "split_values",
    "unsupported",
]

Caster = Callable[[Any], Any]
#: A documented form property: its cast and its default (``()``: none).
FormField = tuple[Caster, tuple[Any, ...]]
Resolve = Callable[[Mapping[str, Any]], Mapping[str, Any]]

_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")
_JSON = ("application/json", "application/vnd.api+json")
_TEXT = ("text/html", "text/plain")
_FORM = "application/x-www-form-urlencoded"
_UNSUPPORTED_MEDIA = ("application/xml", "application/xhtml+xml")


class CastFailed(ValueError):
    """A value that its schema's type cannot read (``kind``: that type)."""

    def __init__(self, kind: str | None) -> None:
        super().__init__(kind)
        self.kind = kind


def _identity(value: Any) -> Any:
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = value.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("not a boolean")


def _guarded(kind: str, cast: Callable[[Any], Any]) -> Caster:
    def caster(value: Any) -> Any:
        try:
            return cast(value)
        except (ValueError, TypeError, AttributeError) as exc:
            raise CastFailed(kind) from exc

    return caster


def make_caster(schema: Mapping[str, Any], resolve: Resolve) -> Caster:
    """The cast of a string (or list of strings) to *schema*'s type; raises ``CastFailed``."""
    schema = resolve(schema)
    kind = schema.get("type")
    if kind is None:
        if any(key in schema for key in ("allOf", "oneOf", "anyOf")):
            raise NotImplementedError("casting by allOf/oneOf/anyOf")
        return _identity
    if isinstance(kind, list) or kind in ("string", "null"):
        return _identity
    if kind == "integer":
        return _guarded(kind, int)
    if kind == "number":
        return _guarded(kind, float)
    if kind == "boolean":
        return _guarded(kind, _boolean)
    if kind == "array":
        items = make_caster(schema.get("items", {}), resolve)

        def array(value: Any) -> list[Any]:
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise CastFailed("array")
            return [items(item) for item in value]

        return array
    raise NotImplementedError(f"casting to {kind!r}")


def split_values(values: Iterable[str]) -> list[str]:
    """The items of a delimited list given as repeated values, comma-separated values, or both."""
    return [part for value in values for part in value.split(",")]


def query_value(values: Sequence[str], *, array: bool) -> str | list[str] | None:
    """A query parameter given as *values* (every occurrence): joined, or split for an array."""
    if not values:
        return None
    return split_values(values) if array else ",".join(values)


def parse_media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` in lower case and the parameters of a Content-Type value."""
    kind, *params = content_type.split(";")
    parameters = {}
    for param in params:
        name, _, value = param.partition("=")
        name = name.strip().lower()
        value = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
        parameters[name] = value.rstrip().lower() if name == "charset" else value.rstrip()
    return kind.lower().rstrip(), parameters


def binary(media_type: str) -> bool:
    """Whether an answer in *media_type* is raw bytes (not decoded as JSON, text or a form)."""
    return media_type not in (*_JSON, *_TEXT, _FORM)


def unsupported(media_type: str) -> bool:
    """Whether decoding *media_type* as openapi-core does is not implemented here."""
    kind = media_type.lower()
    return kind in _UNSUPPORTED_MEDIA or kind.startswith("multipart/")


def decode_body(
    media_type: str,
    parameters: Mapping[str, str],
    data: bytes,
    form_fields: Mapping[str, FormField] | None,
) -> Any:
    """*data* decoded as *media_type*; ``ValueError`` if it cannot be, ``CastFailed`` for a form field.

    *form_fields* (form bodies only): the documented properties, their casts and defaults; ``None``
    if the media type has no schema (the form is then returned whole).
    """
    if media_type in _JSON:
        return json.loads(data)
    if media_type in _TEXT:
        try:
            return data.decode(parameters.get("charset", "utf-8"))
        except UnicodeDecodeError:
            return data.decode("ASCII", errors="surrogateescape")
        except LookupError as exc:  # an unknown charset
            raise ValueError(str(exc)) from exc
    if media_type == _FORM:
        pairs = parse_qsl(data.decode("utf-8"), keep_blank_values=True)
        if form_fields is None:
            return dict(pairs)
        first: dict[str, str] = {}
        for name, value in pairs:
            first.setdefault(name, value)
        fields = {}
        for name, (cast, default) in form_fields.items():
            if name in first:
                fields[name] = cast(first[name])
            elif default:
                fields[name] = default[0]
        return fields
    return data
