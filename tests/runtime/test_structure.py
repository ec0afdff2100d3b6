"""The package's shape: no import cycle anywhere in ``src/genesys_cx``, and one exception tree.

The import graph is read from the source (an AST walk over every module, the sandbox included),
not from ``sys.modules``, so a cycle hidden behind a deferred import is found too: an ``import``
inside a function, or ``importlib.import_module("genesys_cx...")``, is an edge of the graph like a
module-level one. Imports under ``if TYPE_CHECKING:`` are not (they never run). Importing
``a.b.c`` from outside package ``a.b`` runs ``a/b/__init__.py`` first, so that is an edge as well.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

import genesys_cx
from genesys_cx import errors

PACKAGE = "genesys_cx"
SOURCE = Path(genesys_cx.__file__).parent

#: Deferred edges that are not dependencies of the importer: the 0.1.0 names that now live
#: elsewhere, resolved by a module ``__getattr__`` only when a user touches a deprecated name.
DEPRECATED_ALIASES = {("genesys_cx.errors", "genesys_cx._response")}

#: Cycles that exist today, each with the change that removes it. The test fails on any other
#: cycle AND when one of these is gone (then delete its line): the list is never stale.
KNOWN_CYCLES: set[frozenset[str]] = set()

#: The same for module-level imports alone (those run while the package is being imported).
KNOWN_MODULE_LEVEL_CYCLES: set[frozenset[str]] = set()

#: Public modules: every name they export is what a user can reach.
PUBLIC = ["genesys_cx", "genesys_cx.errors", "genesys_cx.credentials", "genesys_cx.signing"]
PUBLIC += ["genesys_cx.webhooks", "genesys_cx.notifications", "genesys_cx.sandbox"]

#: Exceptions used inside the package for control flow and never let out of it (each becomes an
#: HTTP answer, an exit status or another attempt where it is caught): the private ones (``_Name``)
#: and these. They are checked to be unreachable from a public module.
INTERNAL_EXCEPTIONS = {
    "genesys_cx._commands.UsageError",  # the CLI prints it and exits 2
    "genesys_cx.sandbox._coercion.CastFailed",  # a parameter that does not cast: a 400 answer
    "genesys_cx.sandbox._control._BadInput",  # bad control input: a 400 answer
    "genesys_cx.sandbox._http.ErrorReply",  # a documented error answer of an emulated API
}


@dataclass(frozen=True, order=True)
class Edge:
    importer: str
    imported: str
    deferred: bool  # inside a function, or through importlib: runs later than the importer's import


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(SOURCE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(body: list[ast.stmt], deferred: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, deferred
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.orelse, deferred)
            continue
        inner = deferred or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list):
                yield from _imports([s for s in block if isinstance(s, ast.stmt)], inner)
        for handler in getattr(node, "handlers", []):
            yield from _imports(handler.body, inner)
        for case in getattr(node, "cases", []):
            yield from _imports(case.body, inner)


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(importer: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = _absolute(importer, path.name == "__init__.py", node)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def import_graph() -> set[Edge]:
    modules = _modules()
    edges: set[Edge] = set()
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = [(_targets(importer, path, node), deferred) for node, deferred in _imports(tree.body, False)]
        for call in ast.walk(tree):  # importlib.import_module("genesys_cx.x")
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "import_module"
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ):
                found.append(([call.args[0].value], True))
        for targets, deferred in found:
            for target in targets:
                if target not in modules:
                    continue  # a name inside a module, or another package
                chain = target.split(".")
                for end in range(1, len(chain) + 1):
                    ancestor = ".".join(chain[:end])
                    inside = importer == ancestor or importer.startswith(ancestor + ".")
                    if ancestor in modules and not inside:
                        edges.add(Edge(importer, ancestor, deferred))
    return edges


def cycles(edges: set[Edge]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _cycle_report(found: list[list[str]], edges: set[Edge]) -> str:
    lines = []
    for component in found:
        members = set(component)
        inner = sorted(e for e in edges if e.importer in members and e.imported in members)
        arrows = ", ".join(f"{e.importer} {'⇢' if e.deferred else '→'} {e.imported}" for e in inner)
        lines.append(f"cycle {component}: {arrows}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- the graph


def test_the_graph_reader_sees_every_kind_of_import() -> None:
    """The reader itself: known edges of each kind are found, type-only ones are not."""
    edges = import_graph()
    assert Edge("genesys_cx._response", "genesys_cx.errors", False) in edges  # from . import errors
    assert Edge("genesys_cx._retry", "genesys_cx._headers", False) in edges  # from ._headers import ...
    assert Edge("genesys_cx.errors", "genesys_cx._response", True) in edges  # inside __getattr__
    assert Edge("genesys_cx.webhooks._handle", "genesys_cx.errors", False) in edges  # from ..errors
    assert Edge("genesys_cx._facade", "genesys_cx.notifications", True) in edges  # a lazy import
    # importing a package's module from outside the package runs the package's __init__ first
    assert Edge("genesys_cx._statistics_client", "genesys_cx.notifications", False) in edges
    assert not any(e.importer == "genesys_cx.errors" and not e.deferred for e in edges)
    assert not any(e.imported.startswith("genesys_cx_api") for e in edges)


def test_cycles_are_found_including_deferred_ones() -> None:
    a_b = {Edge("p.a", "p.b", False), Edge("p.b", "p.c", True), Edge("p.c", "p.a", False), Edge("p.c", "p.d", False)}
    assert cycles(a_b) == [["p.a", "p.b", "p.c"]]
    assert cycles(a_b - {Edge("p.b", "p.c", True)}) == []


def _check(edges: set[Edge], known: set[frozenset[str]]) -> None:
    found = cycles(edges)
    new = [cycle for cycle in found if frozenset(cycle) not in known]
    assert new == [], _cycle_report(new, edges)
    gone = known - {frozenset(cycle) for cycle in found}
    assert not gone, f"these cycles are gone (or changed): update the known list: {[sorted(c) for c in gone]}"


def test_no_import_cycle_at_module_level() -> None:
    _check({e for e in import_graph() if not e.deferred}, KNOWN_MODULE_LEVEL_CYCLES)


def test_no_import_cycle_even_through_deferred_imports() -> None:
    _check({e for e in import_graph() if (e.importer, e.imported) not in DEPRECATED_ALIASES}, KNOWN_CYCLES)


def test_the_exception_module_imports_nothing_from_the_package() -> None:
    from_errors = {e for e in import_graph() if e.importer == "genesys_cx.errors"}
    assert {(e.imported, e.deferred) for e in from_errors} == {("genesys_cx._response", True)}
    assert {(e.importer, e.imported) for e in from_errors} == DEPRECATED_ALIASES


# ------------------------------------------------------------------------------ the exception tree


def _quietly_import(name: str) -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # genesys_cx.auth, the 0.1.0 name
        return importlib.import_module(name)


def _all_modules() -> list[ModuleType]:
    walked = pkgutil.walk_packages(genesys_cx.__path__, PACKAGE + ".")
    names = [PACKAGE] + [info.name for info in walked if not info.name.endswith(".__main__")]  # __main__ runs the CLI
    return [_quietly_import(name) for name in names]


def _public_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class a user reaches through a public module's names (deprecated ones too)."""
    reached: dict[str, type[BaseException]] = {}
    for name in [*PUBLIC, "genesys_cx.auth"]:
        module = _quietly_import(name)
        exported = set(getattr(module, "__all__", ())) | {n for n in vars(module) if not n.startswith("_")}
        for attribute in sorted(exported):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                value = getattr(module, attribute)
            if inspect.isclass(value) and issubclass(value, BaseException):
                reached[f"{name}.{attribute}"] = value
    return reached


def test_every_public_exception_is_a_genesys_error_defined_and_exported_by_errors() -> None:
    reached = _public_exceptions()
    assert "genesys_cx.webhooks.InvalidSignature" in reached and "genesys_cx.sandbox.DeliveryFailed" in reached
    problems = []
    for where, kind in sorted(reached.items()):
        if not issubclass(kind, errors.GenesysError):
            problems.append(f"{where} is not a GenesysError")
        if kind.__module__ != "genesys_cx.errors":
            problems.append(f"{where} is defined in {kind.__module__}, not genesys_cx.errors")
        if kind.__name__ not in errors.__all__ or getattr(errors, kind.__name__) is not kind:
            problems.append(f"{where} is not exported by genesys_cx.errors as {kind.__name__}")
    assert problems == []


def test_every_class_in_errors_is_in_the_tree_and_exported() -> None:
    defined = {
        name for name, value in vars(errors).items() if inspect.isclass(value) and value.__module__ == errors.__name__
    }
    assert defined == set(errors.__all__)
    assert all(issubclass(getattr(errors, name), errors.GenesysError) for name in defined)
    for name in defined:  # the docstring draws every branch
        assert name in (errors.__doc__ or ""), f"{name} is missing from the tree in genesys_cx.errors' docstring"


def test_no_other_module_defines_an_exception_a_user_can_meet() -> None:
    defined = {}
    for module in _all_modules():
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                defined[f"{module.__name__}.{value.__qualname__}"] = value
    outside = {
        name
        for name, kind in defined.items()
        if kind.__module__ != "genesys_cx.errors" and not kind.__name__.startswith("_")
    }
    assert outside <= INTERNAL_EXCEPTIONS, f"define these in genesys_cx.errors: {sorted(outside - INTERNAL_EXCEPTIONS)}"
    public = set(_public_exceptions().values())
    internal = {kind for kind in defined.values() if kind.__module__ != "genesys_cx.errors"}
    assert internal and not public & internal


def test_the_tree_drawn_in_the_docstring_is_the_real_one() -> None:
    """Each ``── Name`` sits under its real parent class, and each "(also a X)" mix-in is real."""
    import builtins

    parents: list[tuple[int, str]] = []  # (column, name) of the open branches
    drawn = 0
    for line in (errors.__doc__ or "").splitlines():
        match = re.search(r"(── )?\b([A-Z]\w+)\b", line)
        if match is None or not hasattr(errors, match.group(2)):
            continue
        column, name = match.start(2), match.group(2)
        if match.group(1) is None and name != "GenesysError":
            continue  # the BadRequest/Unauthorized... line: test_errors.py maps each status to its type
        while parents and parents[-1][0] >= column:
            parents.pop()
        kind = getattr(errors, name)
        if parents:
            assert kind.__bases__[0] is getattr(errors, parents[-1][1]), f"{name} is drawn under {parents[-1][1]}"
        for mixin in re.findall(r"\(also an? (\w+)\)", line):
            assert issubclass(kind, getattr(builtins, mixin)), f"{name} is drawn as a {mixin}"
        parents.append((column, name))
        drawn += 1
    assert drawn >= 20


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("genesys_cx.webhooks.InvalidSignature", "InvalidSignature"),
        ("genesys_cx.webhooks.InvalidPayload", "InvalidPayload"),
        ("genesys_cx.webhooks.WebhookError", "WebhookError"),
        ("genesys_cx.notifications.SessionEnded", "SessionEnded"),
        ("genesys_cx.notifications.HandshakeFailed", "HandshakeFailed"),
        ("genesys_cx.signing.UnknownChannel", "UnknownChannel"),
        ("genesys_cx.MissingCredentials", "MissingCredentials"),
        ("genesys_cx.sandbox.DeliveryFailed", "DeliveryFailed"),
    ],
)
def test_the_old_import_paths_give_the_same_class(old: str, new: str) -> None:
    module, _, name = old.rpartition(".")
    assert getattr(importlib.import_module(module), name) is getattr(errors, new)


def test_a_webhook_rejection_is_caught_by_except_genesys_error() -> None:
    from genesys_cx.webhooks import parse_message

    with pytest.raises(errors.GenesysError) as caught:
        parse_message(b"{}", "sha1=" + "0" * 40, "secret")
    assert isinstance(caught.value, errors.InvalidSignature)


# ----------------------------------------------------------------------------- names of 0.1.0


@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        ("genesys_cx.sandbox", "Token", "genesys_cx.sandbox.IssuedToken"),
        ("genesys_cx.sandbox", "OutgoingMessage", "genesys_cx.sandbox.Delivery"),
        ("genesys_cx.errors", "handle_response", "genesys_cx.handle_response"),
        ("genesys_cx.errors", "error_for_response", "genesys_cx._response.error_for_response"),
        ("genesys_cx.errors", "transport_error", "genesys_cx._response.transport_error"),
    ],
)
def test_a_renamed_name_still_works_and_says_where_it_went(module: str, old: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        value = getattr(importlib.import_module(module), old)
    home, _, name = new.rpartition(".")
    assert value is getattr(importlib.import_module(home), name)


def test_the_credentials_module_of_0_1_0_still_imports_and_warns() -> None:
    import sys

    from genesys_cx import credentials

    sys.modules.pop("genesys_cx.auth", None)
    with pytest.warns(DeprecationWarning, match=r"genesys_cx\.credentials"):
        old = importlib.import_module("genesys_cx.auth")
    assert old.__all__ == credentials.__all__
    assert all(getattr(old, name) is getattr(credentials, name) for name in credentials.__all__)


def test_a_misspelt_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="Tokn"):
        _ = importlib.import_module("genesys_cx.sandbox").Tokn
    with pytest.raises(AttributeError, match="handle_respons"):
        _ = errors.handle_respons  # type: ignore[attr-defined]  # (mypy sees no module __getattr__)


# --------------------------------------------------------------------------- one name, one thing

#: Names defined twice today, each with its owner; like the cycles, the test fails when one is gone.
KNOWN_TWICE: dict[str, str] = {}


def _defined_names(root: Path) -> dict[str, set[str]]:
    """Public classes and UPPER_CASE constants defined at module level under *root*: name -> modules."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = []
            if isinstance(node, ast.ClassDef):
                names = [node.name]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper() and len(t.id) > 1]
            for name in names:
                if not name.startswith("_"):
                    found.setdefault(name, set()).add(str(path.relative_to(root.parent)))
    return found


def test_a_grep_for_a_class_or_constant_finds_one_thing() -> None:
    ours = _defined_names(SOURCE)
    generated = _defined_names(Path(importlib.import_module("genesys_cx_api").__file__ or "").parent)
    twice = {name: sorted(where) for name, where in ours.items() if len(where) > 1}
    # a generated package repeats its API-independent classes (Client, types...): only clashes with ours count
    twice |= {name: sorted(where | generated[name])[:3] for name, where in ours.items() if name in generated}
    new = {name: where for name, where in twice.items() if name not in KNOWN_TWICE}
    assert new == {}, "one name, one thing: rename one of each"
    gone = set(KNOWN_TWICE) - set(twice)
    assert not gone, f"defined once now: delete from KNOWN_TWICE: {sorted(gone)}"


#: Module names used in two packages for the same kind of thing, each in its own package.
SAME_KIND_MODULES = {
    "app": "the ASGI application of its package (webhooks, sandbox)",
    "cli": "the command line of its package (genesys-cx, genesys-cx sandbox)",
    "config": "the configuration of its package (client Settings, SandboxConfig)",
    "auth": "the Authentication API's emulator; genesys_cx.auth is only the deprecated 0.1.0 name",
}
#: Module names meaning two different things today, with their owner (fails when fixed: delete the line).
KNOWN_TWICE_MODULES: dict[str, str] = {}


def test_a_module_name_means_one_thing() -> None:
    stems: dict[str, list[str]] = {}
    for name, path in _modules().items():
        if path.name == "__init__.py":
            continue  # a package may hold a module of its own name (sandbox/_sandbox: Sandbox)
        stem = name.rpartition(".")[2].lstrip("_")
        if stem != "main__":
            stems.setdefault(stem, []).append(name)
    twice = {stem for stem, names in stems.items() if len(names) > 1} - set(SAME_KIND_MODULES)
    assert twice - set(KNOWN_TWICE_MODULES) == set(), {stem: stems[stem] for stem in twice}
    assert set(KNOWN_TWICE_MODULES) <= twice, "a known double is gone: delete it from KNOWN_TWICE_MODULES"


# ---------------------------------------------------------------------------------- the map


def _mapped_modules(text: str) -> set[str]:
    """The modules ARCHITECTURE.md's module map names: ``  name`` at the top, ``    name`` under ``  pkg/``."""
    block = text.split("## Module map", 1)[1].split("```", 2)[1]
    names: set[str] = set()
    package = None
    for line in block.splitlines():
        match = re.match(r"( +)(\w+)(/?)(?:\s|$)", line)
        if match is None:
            continue
        indent, name, slash = len(match.group(1)), match.group(2), match.group(3)
        if indent == 2:
            package = name if slash else None
            names.add(PACKAGE if name == "__init__" else f"{PACKAGE}.{name}")
        elif indent == 4 and package is not None:
            names.add(f"{PACKAGE}.{package}.{name}")
    return names


def test_the_architecture_module_map_names_every_module_and_only_those() -> None:
    text = (Path(__file__).parents[2] / "ARCHITECTURE.md").read_text(encoding="utf-8")
    in_tree = set(_modules())
    mapped = _mapped_modules(text)
    assert not in_tree - mapped, f"add to ARCHITECTURE.md's module map: {sorted(in_tree - mapped)}"
    assert not mapped - in_tree, f"ARCHITECTURE.md's module map names modules that are gone: {sorted(mapped - in_tree)}"


def test_nothing_of_ours_uses_the_deprecated_credentials_module() -> None:
    """``genesys_cx.auth`` warns on import; the SDK, its tests, benchmarks and README use ``credentials``."""
    root = Path(__file__).parents[2]
    pattern = re.compile(r"\bgenesys_cx\.auth\b(?!\w)|from genesys_cx import [^\n]*\bauth\b|from \.auth import")
    users = []
    for folder in ("src", "tests", "bench"):
        for path in sorted((root / folder).rglob("*.py")):
            if path in (SOURCE / "auth.py", SOURCE / "credentials.py", Path(__file__)):
                continue
            users += [
                f"{path.relative_to(root)}:{n}"
                for n, line in enumerate(path.read_text().splitlines(), 1)
                if pattern.search(line)
            ]
    readme = (root / "README.md").read_text(encoding="utf-8")
    users += [f"README.md:{n}" for n, line in enumerate(readme.splitlines(), 1) if pattern.search(line)]
    assert users == []
