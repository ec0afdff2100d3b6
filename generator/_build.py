"""Run openapi-python-client on one bundled spec, in-process, with our templates.

In-process (rather than the CLI) lets us hand the templates what they need (the API's class name,
its ``x-sdk-ambient`` headers) and read the parsed operations and models back to prove that
nothing was dropped. Post hooks are disabled: formatting is done once, by pinned ruff, after our
post-processing (see ``_postprocess``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openapi_python_client import Project
from openapi_python_client.config import Config, ConfigFile, MetaType
from openapi_python_client.parser import GeneratorData
from openapi_python_client.parser.errors import GeneratorError

from ._bundle import SpecError
from ._paths import TEMPLATES

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
    info = ApiInfo(
        api=api,
        title=str(doc.get("info", {}).get("title", api)),
        class_name=class_name_for(api),
        ambient=ambient_headers(doc),
    )
    project.env.globals.update(genesys=info)
    with contextlib.redirect_stdout(io.StringIO()):
        problems = list(project.build())
    if problems:
        lines = "\n  ".join(_describe(p) for p in problems)
        raise SpecError(f"{spec_name}: openapi-python-client reported problems:\n  {lines}")
    _check_completeness(spec_name, doc, data)


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
