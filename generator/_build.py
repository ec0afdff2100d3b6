"""Parse one bundled spec with openapi-python-client and render OUR templates with what it parsed.

openapi-python-client stays the parser (schemas, properties, operations) and its Jinja environment
(filters such as ``as_unembedded_code``) the engine, but none of its own templates or its project
writer runs: ``_Renderer`` writes each file of an API package from ``generator/templates``, and the
modules every API shares come from ``generator/templates/shared``. The models of ``specs/shared``
are rendered once, into ``common/models`` (``generate_common``); the APIs import them from there.
Nothing is patched afterwards; formatting is done once, by pinned ruff (see ``_postprocess``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import attr
from jinja2 import Environment, FileSystemLoader
from openapi_python_client import Project
from openapi_python_client.config import Config, ConfigFile, MetaType
from openapi_python_client.parser import GeneratorData
from openapi_python_client.parser.errors import GeneratorError
from openapi_python_client.strings import PythonIdentifier

from ._bundle import SpecError, bundle
from ._paths import COMMON, SHARED_SOURCE, TEMPLATES
from ._postprocess import banner

_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass
class Shared:
    """The models every API shares, generated once into ``genesys_cx_api.common.models``.

    They come from the schemas of ``specs/shared/*.yaml``. An API whose bundled spec holds one of
    them imports it from there instead of writing its own copy (one class object for all APIs).
    """

    modules: dict[str, str] = field(default_factory=dict)  # class name -> module in common/models
    texts: dict[str, str] = field(default_factory=dict)  # class name -> its module, as rendered
    multipart: set[str] = field(default_factory=set)  # the ones some API sends as a multipart body


@dataclass
class Parsed:
    """One spec as openapi-python-client parsed it, before anything is rendered."""

    api: str
    source: str
    doc: dict[str, Any]
    project: Project
    data: GeneratorData


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


@dataclass(frozen=True)
class Redirect:
    """A redirect an operation documents as its answer (``x-sdk-redirect`` on a 3xx response): the SDK
    does not follow it but returns the model *name* (module *module*) read from its ``Location``."""

    status: int
    module: str
    name: str


def _json_name(prop: Any) -> str:
    """A property's name as the JSON (and the spec) spells it."""
    return str(prop.name.get_untrusted_value() if hasattr(prop.name, "get_untrusted_value") else prop.name)


def _unsupported(thing: Any) -> str:
    raise SpecError(f"the generator's templates do not handle {type(thing).__name__} {getattr(thing, 'name', '')!r}")


class _Renderer:
    """Renders our templates (``generator/templates``) with openapi-python-client's parsed data."""

    def __init__(
        self, project: Project, data: GeneratorData, info: ApiInfo, source: str, doc: dict[str, Any], shared: Shared
    ) -> None:
        self.env = project.env
        self.source = source
        self.shared = shared
        self.standalone = False  # True while rendering a shared model as the common package has it
        class_name = cast(Callable[[str], str], project.env.globals["class_name"])
        self.schemas = {str(class_name(n)): s for n, s in (doc.get("components", {}).get("schemas") or {}).items()}
        self.class_name = class_name
        self.doc = doc
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
            genesys_endpoint_refs=lambda e: sorted(self.endpoint_classes(e)),
            genesys_api_refs=self.api_refs,
            genesys_all_models=self.all_models,
            genesys_successes=_successes,
            genesys_success_type=self.success_type,
            genesys_redirects=self.redirects,
            genesys_follows=self.follows,
            genesys_body_content_type=_body_content_type,
            genesys_if_absent=self.if_absent,
            genesys_secret_fields=self.secret_fields,
            genesys_from=self.import_from,
            genesys_shared_names=lambda: sorted(n for _, n in self.all_models() if n in self.shared.modules),
        )

    def import_from(self, module: str, name: str, local: str, root: str) -> str:
        """The module to import class *name* from: ``<local><module>`` for a model of this API, or
        ``<root>common.models.<module>`` for a shared one (*root*: the dots that reach the package root)."""
        if name in self.shared.modules and not self.standalone:
            return f"{root}{COMMON}.models.{self.shared.modules[name]}"
        return f"{local}{module}"

    def raw_responses(self, endpoint: Any) -> dict[str, Any]:
        """The ``responses`` of *endpoint* as the bundled spec writes them (extensions included)."""
        operation = ((self.doc.get("paths") or {}).get(endpoint.path.get_untrusted_value()) or {}).get(
            str(endpoint.method), {}
        )
        return operation.get("responses") or {}

    def follows(self, endpoint: Any) -> bool:
        """Whether *endpoint* documents a 3xx that is not its answer (no ``x-sdk-redirect``): a redirect
        to follow, like a file download's 303 to the file."""
        return any(
            str(code).isdigit() and 300 <= int(code) <= 399 and "x-sdk-redirect" not in (response or {})
            for code, response in self.raw_responses(endpoint).items()
        )

    def redirects(self, endpoint: Any) -> list[Redirect]:
        """The redirects *endpoint* documents as answers: 3xx responses with ``x-sdk-redirect: {$ref:
        '#/components/schemas/<Model>'}``, where the model has a required string ``location``."""
        where = f"{self.source}: {str(endpoint.method).upper()} {endpoint.path.get_untrusted_value()}"
        found = []
        for code, response in sorted(self.raw_responses(endpoint).items()):
            if not isinstance(response, dict) or "x-sdk-redirect" not in response:
                continue
            target = response["x-sdk-redirect"]
            ref = target.get("$ref", "") if isinstance(target, dict) else ""
            if not (str(code).isdigit() and 300 <= int(code) <= 399):
                raise SpecError(f"{where}: x-sdk-redirect on response {code}: only a 3xx answer is a redirect")
            if not ref.startswith("#/components/schemas/"):
                raise SpecError(f"{where} {code}: x-sdk-redirect must be {{$ref: '#/components/schemas/<Model>'}}")
            name = str(self.class_name(ref.rsplit("/", 1)[-1]))
            schema = self.schemas.get(name, {})
            location = (schema.get("properties") or {}).get("location") or {}
            if location.get("type") != "string" or "location" not in (schema.get("required") or []):
                raise SpecError(f"{where} {code}: {ref} needs a required string property `location` (the header)")
            model = next(m for m in self.data.models if str(m.class_info.name) == name)
            found.append(Redirect(int(code), str(model.class_info.module_name), name))
        return found

    def success_type(self, endpoint: Any) -> str:
        """What the operation's method returns: its 2xx answers, then its documented redirects."""
        types = [] if (text := _success_type(endpoint)) == "None" and not _successes(endpoint) else [text]
        return " | ".join([*types, *(r.name for r in self.redirects(endpoint))]) or "None"

    def endpoint_classes(self, endpoint: Any) -> set[tuple[str, str]]:
        return _endpoint_classes(endpoint) | {(r.module, r.name) for r in self.redirects(endpoint)}

    def if_absent(self, model: Any, prop: Any) -> str:
        """``x-sdk-if-absent`` of an optional property: the JSON value ``from_dict`` reads when the field is
        missing, so that its type has no ``Unset`` (``to_dict`` leaves out a value equal to it)."""
        schema = self.schemas.get(str(model.class_info.name), {})
        name = _json_name(prop)
        raw = (schema.get("properties") or {}).get(name, {})
        if not isinstance(raw, dict) or "x-sdk-if-absent" not in raw:
            return "MISSING"
        if name in (schema.get("required") or []):
            raise SpecError(f"{model.class_info.name}.{prop.name}: x-sdk-if-absent is for optional properties only")
        return repr(raw["x-sdk-if-absent"])

    def secret_fields(self, model: Any) -> list[str]:
        """The attribute names of the properties marked ``x-sdk-secret: true`` (``repr()`` masks them)."""
        schema = self.schemas.get(str(model.class_info.name), {})
        raw = schema.get("properties") or {}
        found = []
        for prop in model.required_properties + model.optional_properties:
            field = raw.get(_json_name(prop))
            if isinstance(field, dict) and field.get("x-sdk-secret") is True:
                found.append(str(prop.python_name))
        return sorted(found)

    def model_refs(self, model: Any) -> list[tuple[str, str]]:
        own = (str(model.class_info.module_name), str(model.class_info.name))
        found = set().union(*(_classes(p) for p in model.required_properties + model.optional_properties))
        return sorted(found - {own})

    def api_refs(self) -> list[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for _, endpoint in self.endpoints:
            found |= self.endpoint_classes(endpoint)
        return sorted(found)

    def all_models(self) -> list[tuple[str, str]]:
        items = list(self.data.models) + list(self.data.enums)
        return sorted((str(m.class_info.module_name), str(m.class_info.name)) for m in items)

    def write(self, path: Path, template: str, **context: Any) -> str:
        """Render *template* into *path* (with the banner); return what was rendered."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self.env.get_template(template).render(**context)
        path.write_text(banner(self.source) + text, encoding="utf-8")
        return text

    def models(self, out: Path) -> dict[str, tuple[str, str]]:
        """Write ``out/models``: one module per model and enum that is not shared, and the lazy
        ``__init__`` (the shared ones included, imported from the common package). A shared one is
        rendered as the common package has it and must come out the same. Return class name ->
        (module, text) of what was written."""
        self._check_no_cycles()
        items: list[tuple[Any, str, dict[str, Any]]] = [(m, "model.py.jinja", {"model": m}) for m in self.data.models]
        for enum in self.data.enums:
            if _kind(enum) != "EnumProperty":
                _unsupported(enum)
            template = "int_enum.py.jinja" if enum.value_type is int else "str_enum.py.jinja"
            items.append((enum, template, {"enum": enum}))
        written = {}
        for item, template, context in items:
            name, module = str(item.class_info.name), str(item.class_info.module_name)
            if name not in self.shared.modules:
                written[name] = (module, self.write(out / "models" / f"{module}.py", template, **context))
                continue
            if name in self.shared.multipart:  # another API sends it as a multipart body: to_multipart
                context = {"model": attr.evolve(item, is_multipart_body=True)}
            self.standalone = True
            text = self.env.get_template(template).render(**context)
            self.standalone = False
            if text != self.shared.texts[name] or module != self.shared.modules[name]:
                raise SpecError(
                    f"{self.source}: model {name} differs from the shared one of specs/shared/ (a schema of this "
                    "spec has the name of a shared model or of one inside it: rename it, or $ref the shared schema)"
                )
        self.write(out / "models" / "__init__.py", "models_init.py.jinja")
        return written

    def package(self, out: Path) -> None:
        self.write(out / "__init__.py", "api_root.py.jinja")
        self.models(out)
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


def parse_api(api: str, spec_name: str, doc: dict[str, Any], out_dir: Path) -> Parsed:
    """Parse the bundled *doc* of one API; raise ``SpecError`` on any warning or anything lost."""
    project, data = _parse(api, spec_name, doc, out_dir)
    _check_completeness(spec_name, doc, data)
    return Parsed(api, spec_name, doc, project, data)


def render_api(parsed: Parsed, out_dir: Path, shared: Shared) -> None:
    """Write ``out_dir/<api>``; the models of *shared* are imported from ``out_dir/common``, not copied."""
    info = ApiInfo(
        api=parsed.api,
        title=str(parsed.doc.get("info", {}).get("title", parsed.api)),
        class_name=class_name_for(parsed.api),
        ambient=ambient_headers(parsed.doc),
    )
    _Renderer(parsed.project, parsed.data, info, parsed.source, parsed.doc, shared).package(out_dir / parsed.api)


def generate_package(
    api: str, spec_name: str, doc: dict[str, Any], out_dir: Path, shared: Shared | None = None
) -> None:
    """Generate ``out_dir/<api>`` from the bundled *doc* alone (every model written into it unless
    *shared* names it)."""
    render_api(parse_api(api, spec_name, doc, out_dir), out_dir, shared or Shared())


def generate_common(doc: dict[str, Any], out_dir: Path, apis: Sequence[Parsed] = ()) -> Shared:
    """Generate ``out_dir/common`` (``__init__`` and ``models``) from *doc*, the schemas of every
    ``specs/shared/*.yaml`` (``shared_doc``); return what the APIs import from it instead of copying.
    A shared model that one of *apis* sends as a multipart body gets ``to_multipart``."""
    if not doc["components"]["schemas"]:
        return Shared()
    parsed = parse_api(COMMON, SHARED_SOURCE, doc, out_dir)
    names = {str(m.class_info.name) for m in parsed.data.models}
    multipart = {str(m.class_info.name) for p in apis for m in p.data.models if m.is_multipart_body} & names
    parsed.data.models = [
        attr.evolve(m, is_multipart_body=True) if str(m.class_info.name) in multipart else m for m in parsed.data.models
    ]
    info = ApiInfo(api=COMMON, title=str(doc["info"]["title"]), class_name="")
    renderer = _Renderer(parsed.project, parsed.data, info, SHARED_SOURCE, doc, Shared())
    renderer.write(out_dir / COMMON / "__init__.py", "common_root.py.jinja")
    written = renderer.models(out_dir / COMMON)
    return Shared(
        modules={name: module for name, (module, _) in written.items()},
        texts={name: text for name, (_, text) in written.items()},
        multipart=multipart,
    )


def shared_doc(specs: Path) -> dict[str, Any]:
    """One OpenAPI document holding the component schemas of every ``specs/shared/*.yaml``."""
    schemas: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for part in sorted((specs / "shared").glob("*.yaml")):
        try:
            doc = bundle(part)
        except SpecError as exc:
            raise SpecError(f"specs/shared/{exc}") from None
        for name, schema in (doc.get("components", {}).get("schemas") or {}).items():
            if name in origin and schemas[name] != schema:
                raise SpecError(f"shared/{part.name}: schema {name} is defined differently in shared/{origin[name]}")
            schemas[name], origin[name] = schema, origin.get(name, part.name)
    return {
        "openapi": "3.1.0",
        "info": {"title": "the parts several APIs share (``specs/shared/*.yaml``)", "version": "1"},
        "paths": {},
        "components": {"schemas": schemas},
    }


def _parse(api: str, spec_name: str, doc: dict[str, Any], out_dir: Path) -> tuple[Project, GeneratorData]:
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
    return project, data


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
