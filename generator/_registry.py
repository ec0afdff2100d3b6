"""The registry of APIs: ``specs/apis.toml`` (one line per API) -> ``genesys_cx_api/_registry.py``.

The hand-written input says what a spec cannot: the one-line summary of the API, and, where the
SDK adds to the generated class (Statistics' ``subscribe``), which hand-written subclass the facade
returns. Everything else is read from the bundled spec (title, version, base path, operations) or
follows from the name (``specs/<name>.yaml``, ``genesys_cx_api.<name>``, ``<Name>Api``).

The output holds ``APIS`` (the data the facade and the sandbox read) and the typed namespaces
``Apis`` / ``AsyncApis`` that ``Genesys`` / ``AsyncGenesys`` inherit: one cached attribute per API
with operations, annotated with the class it returns, so that a user's ``genesys.messaging`` is
typed without any hand-kept table. A spec without a line, a line without a spec, or a malformed
line stops the generator with a message naming it.
"""

from __future__ import annotations

import json
import keyword
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from openapi_python_client.strings import PythonIdentifier

from ._build import class_name_for
from ._bundle import SpecError
from ._paths import PACKAGE, TEMPLATES, api_name, spec_files

REGISTRY_FILE = "apis.toml"
TEMPLATE = "registry.py.jinja"
_KEYS = {"summary", "attribute", "sync", "async"}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class _Operation:
    operation_id: str
    method: str  # the Python method of the API classes
    http_method: str
    path: str


@dataclass(frozen=True)
class _Entry:
    name: str
    attribute: str | None  # None: nothing to call (webhooks only)
    summary: str
    title: str
    version: str
    base_path: str
    sync_class: str  # "module:Class" the facade returns (the generated class or a hand-written subclass)
    async_class: str
    generated_sync: str
    generated_async: str
    operations: tuple[_Operation, ...]

    @property
    def spec(self) -> str:
        return f"specs/{self.name}.yaml"

    @property
    def module(self) -> str:
        return f"{PACKAGE}.{self.name}.api"


def read_lines(specs: Path) -> dict[str, dict[str, Any]]:
    """The lines of ``specs/apis.toml`` by API name, checked against the spec files present."""
    path = specs / REGISTRY_FILE
    if not path.is_file():
        raise SpecError(f"{REGISTRY_FILE}: missing; it lists every API (see ARCHITECTURE.md, 'How to add an API')")
    try:
        lines = tomllib.loads(path.read_text(encoding="utf-8")).get("apis")
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{REGISTRY_FILE}: not valid TOML: {exc}") from None
    if not isinstance(lines, dict):
        raise SpecError(f"{REGISTRY_FILE}: needs an [apis] table with one line per API")
    names = [api_name(spec) for spec in spec_files(specs)]
    if missing := [n for n in names if n not in lines]:
        raise SpecError(f"{REGISTRY_FILE}: no line for {', '.join(f'specs/{n}.yaml' for n in missing)}")
    if orphans := [n for n in lines if n not in names]:
        raise SpecError(f"{REGISTRY_FILE}: no spec file for the line(s) {', '.join(orphans)}")
    for name, line in lines.items():
        _check_line(name, line)
    attributes = [line.get("attribute", name) for name, line in lines.items()]
    if repeated := sorted({a for a in attributes if attributes.count(a) > 1}):
        raise SpecError(f"{REGISTRY_FILE}: attribute(s) used twice: {', '.join(repeated)}")
    return lines


def _check_line(name: str, line: Any) -> None:
    where = f"{REGISTRY_FILE}: {name}"
    if not isinstance(line, dict):
        raise SpecError(f"{where}: expected an inline table {{ summary = ... }}")
    if unknown := sorted(set(line) - _KEYS):
        raise SpecError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    if not isinstance(line.get("summary"), str) or not line["summary"].strip():
        raise SpecError(f"{where}: needs a one-line summary")
    attribute = line.get("attribute", name)
    if not isinstance(attribute, str) or not attribute.isidentifier() or keyword.iskeyword(attribute):
        raise SpecError(f"{where}: attribute {attribute!r} is not a Python identifier")
    if attribute.startswith("_"):
        raise SpecError(f"{where}: attribute {attribute!r} must be public (no leading underscore)")
    if ("sync" in line) != ("async" in line):
        raise SpecError(f"{where}: give both 'sync' and 'async' hand-written classes, or neither")
    for key in ("sync", "async"):
        value = line.get(key, "a:B")
        module, _, cls = value.partition(":") if isinstance(value, str) else ("", "", "")
        if not (cls.isidentifier() and all(part.isidentifier() for part in module.split("."))):
            raise SpecError(f"{where}: {key} = {value!r} is not 'package.module:Class'")


def operations(doc: dict[str, Any]) -> tuple[_Operation, ...]:
    """The operations of a bundled spec, in the spec's order."""
    found = []
    for path, item in (doc.get("paths") or {}).items():
        for http_method in _METHODS:
            op = item.get(http_method)
            if isinstance(op, dict):
                operation_id = str(op["operationId"])
                method = str(PythonIdentifier(operation_id, "field_"))
                found.append(_Operation(operation_id, method, http_method.upper(), path))
    return tuple(found)


def entries(specs: Path, package: Path, base_paths: dict[str, str]) -> list[_Entry]:
    """The registry: the input lines completed from the bundled specs in ``package/_specs``."""
    result = []
    for name, line in read_lines(specs).items():
        doc = json.loads((package / "_specs" / f"{name}.json").read_text(encoding="utf-8"))
        ops = operations(doc)
        sync_name = class_name_for(name)
        generated_sync = f"{PACKAGE}.{name}.api:{sync_name}"
        generated_async = f"{PACKAGE}.{name}.api:Async{sync_name}"
        result.append(
            _Entry(
                name=name,
                attribute=line.get("attribute", name) if ops else None,
                summary=" ".join(line["summary"].split()),
                title=str(doc.get("info", {}).get("title", name)),
                version=str(doc.get("info", {}).get("version", "")),
                base_path=base_paths[name],
                sync_class=line.get("sync", generated_sync),
                async_class=line.get("async", generated_async),
                generated_sync=generated_sync,
                generated_async=generated_async,
                operations=ops,
            )
        )
    return result


def _import(qualified: str) -> str:
    """``pkg.mod:Class`` -> the import line the generated module uses (relative inside the package)."""
    module, _, cls = qualified.partition(":")
    if module.startswith(PACKAGE + "."):
        module = module[len(PACKAGE) :]
    return f"from {module} import {cls}"


def render(items: list[_Entry], banner: str) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Python source, not HTML
    )
    env.filters["import_line"] = _import
    env.filters["class_of"] = lambda qualified: qualified.partition(":")[2]
    return banner + env.get_template(TEMPLATE).render(apis=items, package=PACKAGE)


def write_registry(specs: Path, package: Path, base_paths: dict[str, str], banner: str) -> None:
    """Write ``package/_registry.py`` (called by the pipeline once every API is generated)."""
    (package / "_registry.py").write_text(render(entries(specs, package, base_paths), banner), encoding="utf-8")
