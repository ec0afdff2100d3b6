"""The main job as a test: the demo end to end on the embedded sandbox, over real sockets."""

from __future__ import annotations

import io
import re

import pytest

from genesys_cx._demo import EMAIL_SECRET, run
from genesys_cx.sandbox import DEMO_API_KEY, DEMO_CHANNEL_SECRET, DEMO_CLIENT_SECRET, DEMO_PASSWORD

from ._logs import debug_log

STEPS = ("1. SMS data flow", "2. E-mail data flow", "3. Media upload", "4. Open Media", "5. OAuth2 login")


@pytest.fixture(scope="module")
def demo_run() -> tuple[int, str, str]:
    """Run the demo once with DEBUG logging captured: (exit code, transcript, log)."""
    out = io.StringIO()
    with debug_log() as log:
        code = run(out, environ={})
    return code, out.getvalue(), log.getvalue()


def test_every_step_passes(demo_run: tuple[int, str, str]) -> None:
    code, transcript, _ = demo_run
    assert code == 0, transcript
    assert "all steps passed ✓" in transcript
    for step in STEPS:
        assert step in transcript
    assert "✗" not in transcript


def test_transcript_shows_the_documented_flows(demo_run: tuple[int, str, str]) -> None:
    _, transcript, _ = demo_run
    assert "signature verified ✓" in transcript
    assert "Delivered" in transcript
    assert "Failed, reason 350" in transcript
    assert "identical" in transcript  # downloaded media bytes == uploaded bytes
    assert "stopped" in transcript
    assert "CometD /statistics/v3/updates" in transcript


def test_debug_log_of_the_whole_flow_contains_no_secret(demo_run: tuple[int, str, str]) -> None:
    _, _, log = demo_run
    assert "request POST" in log and "x-api-key" in log  # the SDK's request records were captured
    for secret in (DEMO_API_KEY, DEMO_CHANNEL_SECRET, EMAIL_SECRET, DEMO_CLIENT_SECRET, DEMO_PASSWORD):
        assert secret not in log
    assert not re.search(r"Bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}", log)  # no access token
    assert not re.search(r"sha1=[0-9a-f]{40}", log)  # no signature value


def test_demo_fails_loudly_when_a_step_fails() -> None:
    out = io.StringIO()
    # A base URL where nothing listens: every network step must fail and the exit code say so.
    code = run(
        out,
        environ={
            "GENESYS_BASE_URL": "http://127.0.0.1:9",
            "GENESYS_API_KEY": "k",
            "GENESYS_CCID": "c",
            "GENESYS_CHANNEL_SECRETS": "a=b,c=d",
        },
    )
    assert code == 1
    assert "FAILED" in out.getvalue()
