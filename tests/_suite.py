"""Running the suite on several workers (pytest-xdist, ``--dist loadgroup``); loaded by tests/conftest.py.

``tox`` runs the suite as ``pytest -n 4 --dist loadgroup`` (see tox.ini): most tests wait on sockets,
timers and subprocesses, so four workers keep two cores busy. A test is sent to any free worker,
except that the tests sharing an expensive fixture stay together on one worker, so it is built once:

- a *session* fixture of this suite (e.g. ``fresh_builds``, two full generations): one group per
  fixture;
- a *module* fixture (a mypy cache warmed in order, a sandbox, a repository copy, the bare-wheel
  virtualenv): one group per module, unless the module is listed in ``SPREAD`` (its tests are long
  and independent: each worker builds its own copy of the fixture).

Figures a test module prints at the end (``schemathesis figures: ...``) are added up over the
workers: each worker hands its own to the controller (``config.workeroutput``), which prints the sum.

Tests never share a fixed port or file between workers: servers bind port 0 and files live under
``tmp_path``. Without xdist (``pytest tests/x``) nothing here changes anything.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent

#: The key of the schemathesis figures in a worker's output (set by tests/sandbox/conftest.py).
SCHEMATHESIS_FIGURES = "schemathesis_figures"
_REPORTED = pytest.StashKey[list[dict[str, Any]]]()

#: Modules whose module-scoped fixture is cheap next to their tests: spread over the workers.
SPREAD = frozenset({"tests/sandbox/test_schemathesis.py"})


def _shared_fixtures(item: pytest.Item) -> list[str]:
    """The expensive fixtures *item* shares with other tests (keys like ``session:fresh_builds``)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    module = item.nodeid.split("::", 1)[0]
    keys = []
    for name in info.names_closure:
        definitions = info.name2fixturedefs.get(name)
        if not definitions:
            continue
        fixture = definitions[-1]
        try:
            source = Path(inspect.getfile(fixture.func)).resolve()
        except (TypeError, OSError):
            continue
        if not source.is_relative_to(TESTS):
            continue  # pytest's and plugins' own fixtures (tmp_path_factory, event loops, ...)
        if fixture.scope == "session":
            keys.append(f"session:{name}")
        elif fixture.scope in ("module", "package") and module not in SPREAD:
            keys.append(f"module:{module}")
    return keys


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("dist", "no") != "loadgroup":
        return
    # Tests sharing any expensive fixture, directly or through another test, form one group.
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    shared = {item.nodeid: _shared_fixtures(item) for item in items}
    for keys in shared.values():
        for key in keys[1:]:
            parent[root(key)] = root(keys[0])
    for item in items:
        keys = shared[item.nodeid]
        if keys and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(root(keys[0])))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """An xdist worker finished: keep the figures it reports."""
    figures = getattr(node, "workeroutput", {}).get(SCHEMATHESIS_FIGURES)
    if figures is not None:
        node.config.stash.setdefault(_REPORTED, []).append(figures)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    reported = config.stash.get(_REPORTED, [])
    if reported:
        from sandbox._schemathesis_support import Figures  # imports schemathesis: only when it ran

        total = Figures()
        for figures in reported:
            total.add(Figures.from_dict(figures))
        terminalreporter.write_line(f"schemathesis figures: {total.line()}")
