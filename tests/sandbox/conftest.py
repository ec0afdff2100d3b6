"""Fixtures of the sandbox tests: running sandboxes (checked for spec violations) and a webhook receiver."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from _suite import SCHEMATHESIS_FIGURES
from starlette.applications import Starlette
from starlette.routing import Route

from genesys_cx._serve import serve
from genesys_cx.sandbox import DEMO_API_KEY, Sandbox, SandboxConfig

from ._helpers import Receiver

if TYPE_CHECKING:
    from ._schemathesis_support import Figures

SandboxFactory = Callable[..., Sandbox]


@pytest.fixture(autouse=True)
def _sandboxes_answer_within_spec(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Sandbox]]:
    """Every sandbox started in a test must end it with ``state.response_violations`` empty."""
    started: list[Sandbox] = []
    original = Sandbox.start

    def start(self: Sandbox) -> Sandbox:
        started.append(self)
        return original(self)

    monkeypatch.setattr(Sandbox, "start", start)
    yield started
    for sandbox in started:
        assert sandbox.state.response_violations == [], "the sandbox answered outside its spec"


@pytest.fixture
def make_sandbox() -> Iterator[SandboxFactory]:
    """Start sandboxes for a test (stopped at its end)."""
    started: list[Sandbox] = []

    def make(config: SandboxConfig | None = None) -> Sandbox:
        sandbox = Sandbox(config).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sb(make_sandbox: SandboxFactory) -> Sandbox:
    return make_sandbox()


@pytest.fixture
def api_client(sb: Sandbox) -> Iterator[httpx.Client]:
    """A plain httpx client on the sandbox's host with the demo API key."""
    with httpx.Client(base_url=sb.url, headers={"x-api-key": DEMO_API_KEY}, timeout=10) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    app = Starlette(routes=[Route("/webhook", recv.endpoint, methods=["POST"])])
    with serve(app) as server:
        recv.url = server.url + "/webhook"
        yield recv


def _figures() -> Figures | None:
    """The schemathesis figures of this process, if test_schemathesis ran here (without importing it)."""
    support = sys.modules.get(f"{__package__}._schemathesis_support")
    figures: Figures | None = getattr(support, "FIGURES", None)
    return figures if figures is not None and figures.cases else None


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand the figures to the controller, which adds up and prints every worker's."""
    figures = _figures()
    output = getattr(session.config, "workeroutput", None)
    if figures is not None and output is not None:
        output[SCHEMATHESIS_FIGURES] = figures.as_dict()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures = _figures()
    if figures is not None:
        terminalreporter.write_line(f"schemathesis figures: {figures.line()}")
