"""The whole run: bundle and validate every spec, generate, fix, format, write or compare."""

from __future__ import annotations

import contextlib
import fcntl
import filecmp
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate as validate_openapi

from ._build import generate_common, parse_api, render_api, render_shared, shared_doc
from ._bundle import SpecError, bundle
from ._paths import (
    COMMON,
    GENERATED,
    OPENAPI_PYTHON_CLIENT_VERSION,
    PACKAGE,
    ROOT,
    SHARED_SOURCE,
    SPECS,
    api_name,
    spec_files,
)
from ._postprocess import banner, check_ruff_version, format_tree
from ._registry import write_registry

_DIGEST = re.compile(r'^INPUT_DIGEST = "([0-9a-f]{64})"$', re.M)


def check_versions() -> None:
    found = version("openapi-python-client")
    if found != OPENAPI_PYTHON_CLIENT_VERSION:
        raise SpecError(
            f"openapi-python-client {OPENAPI_PYTHON_CLIENT_VERSION} is required for reproducible output, found {found}"
        )
    check_ruff_version()


def input_digest(specs: Path = SPECS) -> str:
    """A digest of everything the output depends on: specs, generator code and templates, pins."""
    h = hashlib.sha256()
    generator_dir = Path(__file__).resolve().parent
    files = (
        sorted(specs.rglob("*.yaml"))
        + sorted(specs.glob("*.toml"))
        + sorted(p for p in generator_dir.rglob("*") if p.suffix in (".py", ".jinja") and "__pycache__" not in p.parts)
    )
    for path in files:
        base = specs if path.is_relative_to(specs) else generator_dir
        h.update(f"{base.name}/{path.relative_to(base).as_posix()}\0".encode())
        h.update(path.read_bytes())
        h.update(b"\0")
    h.update(f"opc={OPENAPI_PYTHON_CLIENT_VERSION};ruff={version('ruff')}".encode())
    return h.hexdigest()


def current_digest(generated: Path = GENERATED) -> str | None:
    init = generated / PACKAGE / "__init__.py"
    if not init.is_file():
        return None
    match = _DIGEST.search(init.read_text(encoding="utf-8"))
    return match.group(1) if match else None


def load_validated(spec: Path) -> dict[str, Any]:
    """Bundle *spec* and validate it as OpenAPI 3.1; raise ``SpecError`` naming what is wrong."""
    doc = bundle(spec)
    try:
        validate_openapi(doc)
    except Exception as exc:  # the validator raises several unrelated exception types
        where = "/".join(str(p) for p in getattr(exc, "absolute_path", []) or [])
        message = getattr(exc, "message", str(exc))
        raise SpecError(f"{spec.name}: not a valid OpenAPI 3.1 document at {where or '(root)'}: {message}") from None
    return doc


@dataclass
class Built:
    api: str
    source: str
    version: str
    base_path: str


def base_path(doc: dict[str, Any]) -> str:
    """The path part of the first server URL (``https://{host}/nexus/v3`` -> ``/nexus/v3``)."""
    servers = doc.get("servers") or [{"url": "/"}]
    url = str(servers[0].get("url", "/"))
    path = re.sub(r"^[a-z]+://[^/]*", "", url)
    return "/" + path.strip("/") if path.strip("/") else ""


def build(out_root: Path, specs: Path = SPECS) -> list[Built]:
    """Generate the whole ``genesys_cx_api`` package under *out_root*."""
    check_versions()
    package = out_root / PACKAGE
    package.mkdir(parents=True)
    built = []
    parsed = []
    for spec in spec_files(specs):
        api = api_name(spec)
        if api == COMMON:
            raise SpecError(f"specs/{spec.name}: the name {COMMON!r} belongs to the shared models package; rename it")
        source = f"specs/{spec.name}"
        doc = load_validated(spec)
        parsed.append(parse_api(api, source, doc, package))
        _write_security(package / api / "_security.py", doc, source)
        _write_bundled(package / "_specs" / f"{api}.json", doc, source)
        built.append(Built(api, source, str(doc.get("info", {}).get("version", "")), base_path(doc)))
    # the shared models first (what the APIs use decides their methods), then the APIs that import them
    shared = generate_common(shared_doc(specs), package, parsed)
    for api_parsed in parsed:
        render_api(api_parsed, package, shared)
    render_shared(package)
    _write_root(package, built, input_digest(specs))
    write_registry(specs, package, {b.api: b.base_path for b in built}, banner("specs/apis.toml and specs/*.yaml"))
    format_tree(package)
    return built


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _write_security(path: Path, doc: dict[str, Any], source: str) -> None:
    """Per operation, the security alternatives the spec requires (for the runtime's auth)."""
    default = doc.get("security") or []
    rows = []
    for template, item in (doc.get("paths") or {}).items():
        for method in _METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                alternatives = op.get("security", default)
                schemes = tuple(tuple(sorted(alt)) for alt in alternatives)
                rows.append(f"    ({method.upper()!r}, {template!r}, {op['operationId']!r}, {schemes!r}),")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        banner(source)
        + '"""Security requirements per operation: ``(method, path template, operationId, alternatives)``.\n\n'
        "Each alternative is a tuple of security scheme names that must all be applied (OpenAPI semantics:\n"
        'any one alternative satisfies the operation; an empty tuple means no credentials)."""\n\n'
        "OPERATIONS: tuple[tuple[str, str, str, tuple[tuple[str, ...], ...]], ...] = (\n" + "\n".join(rows) + "\n)\n",
        encoding="utf-8",
    )


def _write_bundled(path: Path, doc: dict[str, Any], source: str) -> None:
    path.parent.mkdir(exist_ok=True)
    marked = {"x-generated": banner(source).strip("# \n"), **doc}
    path.write_text(json.dumps(marked, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_root(package: Path, built: list[Built], digest: str) -> None:
    (package / "__init__.py").write_text(
        f'''"""Clients generated from the Genesys Multicloud CX OpenAPI specs, one subpackage per API.

Each subpackage (``{PACKAGE}.messaging``, ...) has ``models`` and ``api`` (one module per operation and
the ``<Name>Api`` / ``Async<Name>Api`` classes). Shared by all: ``types`` (``UNSET``, ``File``, the
``Model`` base), ``errors`` (``InvalidData``), ``_runtime`` and ``common.models`` (the models of
``specs/shared``, such as ``Status``, which each API's ``models`` re-exports). ``_specs/<api>.json`` holds the
bundled spec each was generated from; the SDK's sandbox validates traffic against them.
``_registry.APIS`` lists the APIs (spec, version, base path, classes, operations).
"""

#: Digest of the generator inputs; an unchanged digest makes ``python -m generator`` a no-op.
INPUT_DIGEST = "{digest}"

__all__ = ("INPUT_DIGEST",)
''',
        encoding="utf-8",
    )
    (package / "py.typed").write_text("", encoding="utf-8")
    # The root files come from all specs together.
    for name in ("__init__.py", "py.typed"):
        path = package / name
        path.write_text(banner("specs/*.yaml") + path.read_text(encoding="utf-8"), encoding="utf-8")


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """One generator run at a time on this machine (two would race on generated/)."""
    with open(Path(tempfile.gettempdir()) / "genesys-cx-generator.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def generate(force: bool = False) -> str:
    """Regenerate ``generated/``; a no-op when the inputs did not change (unless *force*)."""
    with _exclusive():
        return _generate(force)


def _generate(force: bool) -> str:
    if not force and current_digest() == input_digest():
        return "generated/ is up to date (inputs unchanged)"
    with tempfile.TemporaryDirectory(prefix="genesys-gen-") as tmp:
        built = build(Path(tmp))
        target = GENERATED / PACKAGE
        if target.exists():
            shutil.rmtree(target)
        GENERATED.mkdir(exist_ok=True)
        shutil.copytree(Path(tmp) / PACKAGE, target)
    return f"generated {len(built)} API packages into {target.relative_to(ROOT)}: " + ", ".join(b.api for b in built)


def diff_trees(expected: Path, actual: Path) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, changed) relative paths: what *actual* has that *expected* does not, etc."""

    def files(root: Path) -> set[str]:
        if not root.exists():
            return set()
        # Bytecode that importing the package leaves behind is not drift.
        return {
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        }

    want, have = files(expected), files(actual)
    changed = sorted(f for f in want & have if not filecmp.cmp(expected / f, actual / f, shallow=False))
    return sorted(have - want), sorted(want - have), changed


def check() -> tuple[bool, str]:
    """Regenerate into a temporary folder and compare with ``generated/``."""
    with tempfile.TemporaryDirectory(prefix="genesys-check-") as tmp:
        build(Path(tmp))
        added, removed, changed = diff_trees(Path(tmp) / PACKAGE, GENERATED / PACKAGE)
    if not (added or removed or changed):
        return True, "generated/ matches specs/ and generator/"
    lines = ["generated/ is stale: run `python -m generator` and commit the result."]
    lines.append("  specs concerned: " + ", ".join(_specs_of(added + removed + changed)))
    for label, names in (("not generated (extra or hand-made)", added), ("missing", removed), ("changed", changed)):
        if names:
            lines.append(f"  {label}: {len(names)}")
            lines.extend(f"    {PACKAGE}/{n}" for n in names[:40])
            if len(names) > 40:
                lines.append(f"    ... and {len(names) - 40} more")
    return False, "\n".join(lines)


def _specs_of(names: list[str]) -> list[str]:
    """The spec each drifted file comes from: ``messaging/...`` and ``_specs/messaging.json`` ->
    ``specs/messaging.yaml``; the package's root files come from all of them."""
    found = set()
    for name in names:
        top, _, rest = name.partition("/")
        if top == "_specs":
            found.add(f"specs/{Path(rest).stem}.yaml")
        elif top == COMMON:
            found.add(SHARED_SOURCE)
        elif rest:
            found.add(f"specs/{top}.yaml")
        else:
            found.add("specs/*.yaml")
    return sorted(found)


__all__ = ["build", "check", "diff_trees", "generate", "input_digest", "load_validated"]
