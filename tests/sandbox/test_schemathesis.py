"""Schemathesis against the running sandbox: positive and negative cases for every operation.

This checks the specs and the sandbox against each other: for every operation of every bundled
spec with paths, a handful of generated positive and negative cases, each sent with the
credentials the operation's security requires, must get an answer that is not a 5xx (except the
documented ones of ``DOCUMENTED_SERVER_ERRORS``), has a status the operation documents and a body
valid against its schema; negative cases must be refused with a documented 4xx; and the sandbox
must record no answer outside its spec.

Negative cases exist only for operations with something to break besides credentials (a body, or
a query/header parameter that is required or constrained): the others take nothing but
unconstrained path strings, where every value is valid (``Target.negatable``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from schemathesis import GenerationMode

from genesys_cx.sandbox import Sandbox

from ._schemathesis_support import DOCUMENTED_SERVER_ERRORS, Runner, Target, targets

TARGETS = targets()
CASES = [
    pytest.param(target, mode, id=f"{target.id}-{mode}")
    for target in TARGETS
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or target.negatable
]


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with Sandbox() as sb, httpx.Client(timeout=30) as client:
        yield Runner.start(sb, client)
        assert sb.response_violations == [], "the sandbox answered outside its spec"


@pytest.mark.parametrize(("target", "mode"), CASES)
def test_operation_conforms(runner: Runner, target: Target, mode: GenerationMode) -> None:
    before = len(runner.sb.response_violations)
    sent = runner.run(target, mode)
    assert sent > 0
    assert runner.sb.response_violations[before:] == []


def test_every_operation_is_covered() -> None:
    ids = {(t.api, t.operation_id) for t in TARGETS}
    assert len(ids) == len(TARGETS) > 100
    assert set(DOCUMENTED_SERVER_ERRORS) <= ids
    assert sum(t.negatable for t in TARGETS) > 50
