"""Running the suite on several workers (pytest-xdist); the hooks are loaded by tests/conftest.py.

``tox`` runs ``pytest -n 4 --dist loadscope`` (see tox.ini): most tests wait on sockets, timers and
subprocesses, so four workers keep two cores busy. The unit of work a worker is given is a test
*module* (its module fixtures -- a sandbox, a mypy cache warmed in order, a repository copy, the
bare-wheel virtualenv, the session fixtures of tests/generator -- are built once), except for the
modules of ``SPREAD``: many independent tests whose cheap module fixture each worker builds for
itself, given out one test at a time. (``--dist loadgroup`` cannot do this here: pytest 9.2 ignores
the node id suffix pytest-xdist 3.8 writes for ``xdist_group``.)

Work is handed out in collection order, which on a worker is rearranged: the longest modules
(``LONGEST_FIRST``, measured) start first, the spread tests come last and fill the gaps.

Figures a test module prints at the end (``schemathesis figures: ...``) are added up over the
workers: each worker hands its own to the controller (``config.workeroutput``), which prints the sum.

Tests never share a fixed port or file between workers: servers bind port 0 and files live under
``tmp_path``. Without ``-n`` nothing here changes anything.
"""

from __future__ import annotations

from typing import Any

import pytest

#: Modules whose tests are handed out one by one (each worker builds their module fixture itself).
SPREAD = frozenset(
    {
        "tests/sandbox/test_schemathesis.py",
        "tests/sandbox/test_every_operation_sdk.py",
        "tests/specs/test_schema_roundtrip.py",
    }
)

#: The modules that take longest (wall clock, on 2 cores), longest first: they start first.
LONGEST_FIRST = (
    "tests/soak/test_soak.py",
    "tests/generator/test_gen_types.py",
    "tests/bench/test_bench_smoke.py",
    "tests/first_run/test_bare_install.py",
    "tests/generator/test_gen_drift.py",
    "tests/generator/test_gen_add_api.py",
    "tests/generator/test_gen_determinism.py",
    "tests/soak/test_crash.py",
    "tests/soak/test_multi_instance.py",
    "tests/transfer/test_export_cli.py",
    "tests/sandbox/test_inspector_browser.py",
)

#: The key of the schemathesis figures in a worker's output (set by tests/sandbox/conftest.py).
SCHEMATHESIS_FIGURES = "schemathesis_figures"
_REPORTED = pytest.StashKey[list[dict[str, Any]]]()


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _rank(item: pytest.Item) -> int:
    module = _module(item.nodeid)
    if module in LONGEST_FIRST:
        return LONGEST_FIRST.index(module)
    return len(LONGEST_FIRST) + (module in SPREAD)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: every worker sorts the same way
        items.sort(key=_rank)  # stable: a module's tests keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    def unit_of_work(nodeid: str) -> str:
        """``loadscope`` by module, except the tests of ``SPREAD`` modules: each its own unit."""
        module = _module(nodeid)
        return nodeid if module in SPREAD else module

    config.option.loadscopereorder = False  # keep the order above, not "most tests first"
    scheduling = LoadScopeScheduling(config, log)
    scheduling._split_scope = unit_of_work  # the one method that names a test's unit of work
    return scheduling


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
