"""Property tests: exact bytes through multipart, and no input that makes the sandbox break its spec."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesys_cx.sandbox import DEMO_API_KEY, DEMO_CCID, DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET, Sandbox
from genesys_cx.sandbox._http import parse_multipart
from genesys_cx.signing import sign

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
MESSAGE = st.fixed_dictionaries(
    {"type": st.sampled_from(["Text", "Email", "Receipt", "RichMedia", "Other"])},
    optional={"channel": JSON, "text": JSON, "status": JSON, "content": JSON, "subject": JSON},
)


@given(
    data=st.binary(max_size=2048),
    filename=st.text(st.characters(codec="ascii", exclude_characters='"\\\r\n'), min_size=1, max_size=20),
)
def test_multipart_parts_keep_their_exact_bytes(data: bytes, filename: str) -> None:
    request = httpx.Request("POST", "http://x/", files={"file": (filename, data, "image/png")})
    parts = parse_multipart(request.read(), request.headers["content-type"])
    assert parts["file"].data == data and parts["file"].content_type == "image/png"


@given(body=st.binary(max_size=300))
def test_multipart_parser_never_crashes(body: bytes) -> None:
    with contextlib.suppress(ValueError):  # a clear ValueError is fine; anything else is a bug
        parse_multipart(body, "multipart/form-data; boundary=xyz")


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[Sandbox, httpx.Client]]:
    with Sandbox() as sb, httpx.Client(base_url=sb.url, headers={"x-api-key": DEMO_API_KEY}, timeout=10) as client:
        yield sb, client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(JSON, st.fixed_dictionaries({"messages": st.lists(MESSAGE, max_size=3)})))
def test_any_message_body_gets_a_documented_answer(running: tuple[Sandbox, httpx.Client], body: Any) -> None:
    sb, client = running
    raw = json.dumps(body).encode()
    answer = client.post(
        f"/nexus/v3/channels/{DEMO_CHANNEL_ID}/messages",
        content=raw,
        headers={
            "Content-Type": "application/json",
            "x-ccid": DEMO_CCID,
            "X-Hub-Signature": sign(DEMO_CHANNEL_SECRET, raw),
        },
    )
    assert answer.status_code in (200, 400, 404), answer.text
    assert answer.json()["status"]["code"] in (0, 400, 404)
    assert sb.state.response_violations == []
