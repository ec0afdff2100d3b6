"""Schemathesis against the running sandbox: every phase, positive and negative, for every operation.

This checks the specs and the sandbox against each other: every operation of every bundled spec
with paths goes through schemathesis's examples, coverage and fuzzing phases (``PHASES``), each
case sent with the credentials the operation's security requires. Every answer must not be a 5xx
(except the documented ones of ``DOCUMENTED_SERVER_ERRORS``), must have a status the operation
documents and a body valid against its schema; no positive case may be refused by the sandbox's
security or validation ("valid rejected"), no negative case accepted ("invalid accepted"); and the
sandbox must record no answer outside its spec. The figures of the whole run are printed in the
terminal summary (``schemathesis figures: ...``, see ``conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from genesys_cx.sandbox import Sandbox

from ._schemathesis_support import DOCUMENTED_SERVER_ERRORS, FIGURES, Runner, Target, targets

TARGETS = targets()


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with Sandbox() as sb, httpx.Client(timeout=30) as client:
        yield Runner.start(sb, client)
        assert sb.response_violations == [], "the sandbox answered outside its spec"


@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_operation_conforms_in_every_phase(runner: Runner, target: Target) -> None:
    before = len(runner.sb.response_violations)
    figures = runner.run_phases(target)
    FIGURES.add(figures)
    assert figures.cases, "no case was generated"
    assert figures.problems == []
    assert runner.sb.response_violations[before:] == []


def test_every_operation_is_covered() -> None:
    ids = {(t.api, t.operation_id) for t in TARGETS}
    assert len(ids) == len(TARGETS) > 100
    assert set(DOCUMENTED_SERVER_ERRORS) <= ids
    assert sum(t.negatable for t in TARGETS) > 50
