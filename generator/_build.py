"""Parse one bundled spec with openapi-python-client and render OUR templates with what it parsed.

openapi-python-client stays the parser (schemas, properties, operations) and its Jinja environment
(filters such as ``as_unembedded_code``) the engine, but none of its own templates or its project
writer runs: ``_Renderer`` writes each file of an API package from ``generator/templates``, and the
modules every API shares come from ``generator/templates/shared``. Nothing is patched afterwards;
formatting is done once, by pinned ruff (see ``_postprocess``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment, FileSystemLoader
from openapi_python_client import Project
from openapi_python_client.config import Config, ConfigFile, MetaType
from openapi_python_client.parser import GeneratorData
from openapi_python_client.parser.errors import GeneratorError
from openapi_python_client.strings import PythonIdentifier

from ._bundle import SpecError
from ._paths import TEMPLATES
from ._postprocess import banner

_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass
class ApiInfo:
    """What our templates know about the API being generated."""

    api: str
    title: str
    class_name: str
    ambient: dict[str, str] = field(default_factory=dict)


def class_name_for(api: str) -> str:
    """``open_media`` -> ``OpenMediaApi``."""
    return "".join(part.capitalize() for part in api.split("_")) + "Api"


def ambient_headers(doc: dict[str, Any]) -> dict[str, str]:
    """Header name (lower case) -> ambient kind, from every ``x-sdk-ambient`` parameter."""
    found: dict[str, str] = {}

    def visit(param: Any) -> None:
        if isinstance(param, dict) and param.get("in") == "header" and "x-sdk-ambient" in param:
            found[str(param["name"]).lower()] = str(param["x-sdk-ambient"])

    for param in (doc.get("components", {}).get("parameters") or {}).values():
        visit(param)
    for item in (doc.get("paths") or {}).values():
        for param in item.get("parameters") or []:
            visit(param)
        for method in _OPERATIONS:
            for param in (item.get(method) or {}).get("parameters") or []:
                visit(param)
    return found


def _describe(error: GeneratorError) -> str:
    detail = (error.detail or "").strip().replace("\n", " ")
    return f"{error.level.value}: {error.header}" + (f" ({detail})" if detail else "")


_SCALARS = ("StringProperty", "IntProperty", "FloatProperty", "BooleanProperty", "ConstProperty", "AnyProperty")


def _kind(prop: Any) -> str:
    return type(prop).__name__


def _classes(prop: Any) -> set[tuple[str, str]]:
    """(module, class) of every model and enum a property's type names."""
    kind = _kind(prop)
    if kind in ("ModelProperty", "EnumProperty"):
        return {(str(prop.class_info.module_name), str(prop.class_info.name))}
    if kind == "ListProperty":
        return _classes(prop.inner_property)
    if kind == "UnionProperty":
        return set().union(*(_classes(inner) for inner in prop.inner_properties))
    return set()


def _decoders(props: list[Any]) -> list[tuple[str, str, bool]]:
    """(module, class, is an enum) of every model and enum decoding *props* names, for the module-level
    aliases the decoding code uses (``genesys_values.jinja``: ``decoder_aliases``)."""
    found: set[tuple[str, str, bool]] = set()

    def visit(prop: Any) -> None:
        kind = _kind(prop)
        if kind in ("ModelProperty", "EnumProperty"):
            found.add((str(prop.class_info.module_name), str(prop.class_info.name), kind == "EnumProperty"))
        elif kind == "ListProperty":
            visit(prop.inner_property)
        elif kind == "UnionProperty":
            for inner in prop.inner_properties:
                visit(inner)

    for prop in props:
        visit(prop)
    return sorted(found)


def _is_plain(prop: Any) -> bool:
    """JSON data as it is: no model, enum or format inside."""
    kind = _kind(prop)
    if kind == "ListProperty":
        return _is_plain(prop.inner_property)
    if kind == "UnionProperty":
        return all(_is_plain(inner) for inner in prop.inner_properties)
    return kind in _SCALARS


def _successes(endpoint: Any) -> list[Any]:
    """The documented 2xx answers of an operation, in status order, one per way of decoding them."""
    found: dict[tuple[str, str], Any] = {}
    for r in endpoint.responses.patterns:
        if r.status_code.range[0] >= 200 and r.status_code.range[1] <= 299:
            found.setdefault((r.prop.get_type_string().as_unembedded_code(), r.source["attribute"]), r)
    return list(found.values())


def _success_type(endpoint: Any) -> str:
    types: list[str] = []
    for response in _successes(endpoint):
        if response.source["attribute"] == "None":
            text = "None"
        else:
            text = response.prop.get_type_string().as_unembedded_code()
        if text not in types:
            types.append(text)
    return " | ".join(types) or "None"


def _body_content_type(endpoint: Any) -> str:
    """The Content-Type a JSON or form body must name itself (httpx's default is not the documented one), or ""."""
    if not endpoint.bodies:
        return ""
    body = endpoint.bodies[0]
    media = body.content_type.get_untrusted_value()
    if body.body_type in ("json", "data") and media not in ("application/json", "application/x-www-form-urlencoded"):
        return str(body.content_type)
    return ""


def _endpoint_classes(endpoint: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for prop in [b.prop for b in endpoint.bodies] + list(endpoint.list_all_parameters()):
        found |= _classes(prop)
    for response in _successes(endpoint):
        found |= _classes(response.prop)
    return found


def _unsupported(thing: Any) -> str:
    raise SpecError(f"the generator's templates do not handle {type(thing).__name__} {getattr(thing, 'name', '')!r}")


class _Renderer:
    """Renders our templates (``generator/templates``) with openapi-python-client's parsed data."""

    def __init__(self, project: Project, data: GeneratorData, info: ApiInfo, source: str, doc: dict[str, Any]) -> None:
        self.env = project.env
        self.source = source
        class_name = cast(Callable[[str], str], project.env.globals["class_name"])
        self.schemas = {str(class_name(n)): s for n, s in (doc.get("components", {}).get("schemas") or {}).items()}
        self.data = data
        self.endpoints = [(tag, e) for tag, c in data.endpoint_collections_by_tag.items() for e in c.endpoints]
        self.env.globals.update(
            genesys=info,
            unsupported=_unsupported,
            is_plain=_is_plain,
            all_models=lambda p: all(_kind(i) == "ModelProperty" for i in p.inner_properties),
            genesys_refs=self.model_refs,
            genesys_decoders=_decoders,
            genesys_endpoint_decoders=lambda e: _decoders([r.prop for r in _successes(e)]),
            genesys_endpoint_refs=lambda e: sorted(_endpoint_classes(e)),
            genesys_api_refs=self.api_refs,
            genesys_all_models=self.all_models,
            genesys_successes=_successes,
            genesys_success_type=_success_type,
            genesys_body_content_type=_body_content_type,
            genesys_if_absent=self.if_absent,
        )

    def if_absent(self, model: Any, prop: Any) -> str:
        """``x-sdk-if-absent`` of an optional property: the JSON value ``from_dict`` reads when the field is
        missing, so that its type has no ``Unset`` (``to_dict`` leaves out a value equal to it)."""
        schema = self.schemas.get(str(model.class_info.name), {})
        name = prop.name.get_untrusted_value() if hasattr(prop.name, "get_untrusted_value") else str(prop.name)
        raw = (schema.get("properties") or {}).get(name, {})
        if not isinstance(raw, dict) or "x-sdk-if-absent" not in raw:
            return "MISSING"
        if name in (schema.get("required") or []):
            raise SpecError(f"{model.class_info.name}.{prop.name}: x-sdk-if-absent is for optional properties only")
        return repr(raw["x-sdk-if-absent"])

    def model_refs(self, model: Any) -> list[tuple[str, str]]:
        own = (str(model.class_info.module_name), str(model.class_info.name))
        found = set().union(*(_classes(p) for p in model.required_properties + model.optional_properties))
        return sorted(found - {own})

    def api_refs(self) -> list[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for _, endpoint in self.endpoints:
            found |= _endpoint_classes(endpoint)
        return sorted(found)

    def all_models(self) -> list[tuple[str, str]]:
        items = list(self.data.models) + list(self.data.enums)
        return sorted((str(m.class_info.module_name), str(m.class_info.name)) for m in items)

    def write(self, path: Path, template: str, **context: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(banner(self.source) + self.env.get_template(template).render(**context), encoding="utf-8")

    def package(self, out: Path) -> None:
        self._check_no_cycles()
        self.write(out / "__init__.py", "api_root.py.jinja")
        for model in self.data.models:
            self.write(out / "models" / f"{model.class_info.module_name}.py", "model.py.jinja", model=model)
        for enum in self.data.enums:
            template = "int_enum.py.jinja" if enum.value_type is int else "str_enum.py.jinja"
            if _kind(enum) != "EnumProperty":
                _unsupported(enum)
            self.write(out / "models" / f"{enum.class_info.module_name}.py", template, enum=enum)
        self.write(out / "models" / "__init__.py", "models_init.py.jinja")
        self.write(out / "api" / "__init__.py", "api_package.py.jinja")
        self.write(out / "api" / "_clients.py", "api_clients.py.jinja")
        for tag, collection in self.data.endpoint_collections_by_tag.items():
            self.write(out / "api" / tag / "__init__.py", "tag_package.py.jinja", tag=tag, collection=collection)
        for tag, endpoint in self.endpoints:
            name = PythonIdentifier(endpoint.name, "")
            self.write(out / "api" / tag / f"{name}.py", "endpoint_module.py.jinja", endpoint=endpoint)

    def _check_no_cycles(self) -> None:
        """Models import each other at module level: a reference cycle would not import."""
        graph = {str(m.class_info.name): {n for _, n in self.model_refs(m)} for m in self.data.models}
        state: dict[str, int] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise SpecError(f"models refer to each other in a cycle: {' -> '.join([*trail, name])}")
            state[name] = 1
            for ref in sorted(graph.get(name, ())):
                visit(ref, [*trail, name])
            state[name] = 2

        for name in sorted(graph):
            visit(name, [])


def generate_package(api: str, spec_name: str, doc: dict[str, Any], out_dir: Path) -> None:
    """Generate ``out_dir/<api>`` from the bundled *doc*; raise ``SpecError`` on any warning."""
    config = Config.from_sources(
        ConfigFile(post_hooks=[], project_name_override=api, package_name_override=api),
        MetaType.NONE,
        document_source=Path(spec_name),
        file_encoding="utf-8",
        overwrite=True,
        output_path=out_dir / api,
    )
    data = GeneratorData.from_dict(copy.deepcopy(doc), config=config)
    if isinstance(data, GeneratorError):
        raise SpecError(f"{spec_name}: openapi-python-client cannot read it: {_describe(data)}")
    project = Project(openapi=data, config=config, custom_template_path=TEMPLATES)
    problems = [*data.errors, *(e for c in data.endpoint_collections_by_tag.values() for e in c.parse_errors)]
    if problems:
        lines = "\n  ".join(_describe(p) for p in problems)
        raise SpecError(f"{spec_name}: openapi-python-client reported problems:\n  {lines}")
    info = ApiInfo(
        api=api,
        title=str(doc.get("info", {}).get("title", api)),
        class_name=class_name_for(api),
        ambient=ambient_headers(doc),
    )
    _Renderer(project, data, info, spec_name, doc).package(out_dir / api)
    _check_completeness(spec_name, doc, data)


def render_shared(out_dir: Path) -> None:
    """The modules every API shares (``types``, ``errors``, ``_runtime``), once, at the package root."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES / "shared")), keep_trailing_newline=True)
    for template in sorted((TEMPLATES / "shared").glob("*.py.jinja")):
        name = template.name.removesuffix(".jinja")
        (out_dir / name).write_text(banner("specs/*.yaml") + env.get_template(template.name).render(), encoding="utf-8")


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _check_completeness(spec_name: str, doc: dict[str, Any], data: GeneratorData) -> None:
    """Every operationId became a function and every object/enum schema a class."""
    expected_ops = set()
    for path, item in (doc.get("paths") or {}).items():
        for method in _OPERATIONS:
            op = item.get(method)
            if isinstance(op, dict):
                if "operationId" not in op:
                    raise SpecError(f"{spec_name}: {method.upper()} {path}: no operationId")
                expected_ops.add(op["operationId"])
    generated_ops = {
        endpoint.name for collection in data.endpoint_collections_by_tag.values() for endpoint in collection.endpoints
    }
    missing = sorted(expected_ops - generated_ops)
    if missing:
        raise SpecError(f"{spec_name}: operations that did not reach the output: {', '.join(missing)}")

    classes = {_snake(str(m.class_info.name)) for m in data.models} | {
        _snake(str(e.class_info.name)) for e in data.enums
    }
    text = _dumps(doc)
    lost = []
    for name, schema in (doc.get("components", {}).get("schemas") or {}).items():
        if _becomes_class(schema):
            if _snake(name) not in classes:
                lost.append(f"{name} (no model class was generated)")
        elif f'"#/components/schemas/{name}"' not in text:
            lost.append(f"{name} (a bare schema that nothing references: it cannot reach the output)")
    if lost:
        raise SpecError(f"{spec_name}: component schemas that did not reach the output: {'; '.join(lost)}")


def _becomes_class(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    return (
        kind == "object"
        or "properties" in schema
        or "enum" in schema
        or ("allOf" in schema and kind in (None, "object"))
    )


def _dumps(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc)
