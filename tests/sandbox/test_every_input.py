"""Every input gets a documented answer: the fuzz findings, kept as regression tests.

Never a 500 from the sandbox itself (deep JSON, huge integers, control input of the wrong type, an
empty media file, a ``null`` body), 413 past the configured body limit (media uploads have their
own, larger one), every URL with and without its trailing slash and never a redirect, repeated
query parameters read as a Spring server reads them, and a client that goes away is one log line.
"""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from genesys_cx_api.messaging.models import MediaResource, UploadMediaRequest
from genesys_cx_api.types import File

from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CHANNEL_ID,
    DEMO_CHANNEL_SECRET,
    Sandbox,
    SandboxConfig,
)
from genesys_cx.signing import sign

from ._helpers import bearer_headers, eventually, messaging_api, signed_post

MESSAGES = f"/nexus/v3/channels/{DEMO_CHANNEL_ID}/messages"
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INT = b'{"messages": [{"text": "hi", "n": ' + b"9" * 5000 + b"}]}"


@pytest.fixture(scope="module")
def shared() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb
        assert sb.state.response_violations == []


@pytest.fixture
def client(shared: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared.url, headers={"x-api-key": DEMO_API_KEY}, timeout=30) as http:
        yield http


def _bearer(sb: Sandbox) -> dict[str, str]:
    return {**bearer_headers(sb), "x-ccid": DEMO_CCID}


# -- bodies that used to crash -------------------------------------------------------------------


@pytest.mark.parametrize("body", [DEEP, HUGE_INT, b'{"a": ' + b"[" * 500 + b"]" * 500 + b"}"])
def test_deep_or_huge_json_to_send_message_is_a_400(client: httpx.Client, body: bytes) -> None:
    answer = signed_post(client, MESSAGES, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["status"]["code"] == 400


@pytest.mark.parametrize("body", [DEEP, HUGE_INT, b"null"])
def test_bad_bodies_to_open_media_create_interaction_are_a_400(shared: Sandbox, body: bytes) -> None:
    answer = httpx.post(
        shared.base_url("open_media") + "/openmedia/demo/interactions",
        content=body,
        headers={**_bearer(shared), "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 400, answer.text


@pytest.mark.parametrize(
    "path",
    ["/_sandbox/faults", f"/_sandbox/channels/{DEMO_CHANNEL_ID}/agent-replies"],
)
def test_deep_json_to_the_control_api_is_a_400(client: httpx.Client, path: str) -> None:
    answer = client.post(path, content=DEEP, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "error" in answer.json()


def test_deep_json_to_the_cometd_endpoint_is_a_bayeux_400(shared: Sandbox) -> None:
    answer = httpx.post(
        shared.base_url("statistics") + "/notifications",
        content=DEEP,
        headers={**_bearer(shared), "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()[0]["successful"] is False


# -- the control API validates what it is given --------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"method": 5},
        {"match": 12345, "rate": 0.0},
        {"status": "500"},
        {"status": True},
        {"drop": "yes"},
        {"latency": "1"},
        {"latency": -1},
        {"rate": 2},
        {"times": 1.5},
        {"retry_after": -3},
        {"method": "GET / HTTP"},
        {"nope": 1},
    ],
)
def test_a_fault_of_the_wrong_shape_is_a_400_and_leaves_the_apis_alone(
    shared: Sandbox, client: httpx.Client, fault: dict[str, Any]
) -> None:
    answer = client.post("/_sandbox/faults", json=fault)
    assert answer.status_code == 400 and answer.json()["error"]
    assert client.get("/_sandbox/faults").json() == {"faults": []}
    assert client.get("/data-download/version").status_code < 500


# -- media ---------------------------------------------------------------------------------------


def test_a_zero_byte_media_file_downloads_as_zero_bytes(shared: Sandbox) -> None:
    api = messaging_api(shared)
    empty = UploadMediaRequest(file=File(io.BytesIO(b""), "e.png", "image/png"))
    media = api.upload_media(DEMO_CHANNEL_ID, body=empty).data
    assert isinstance(media, MediaResource) and media.length == 0
    answer = httpx.get(
        shared.base_url("messaging") + f"/channels/{DEMO_CHANNEL_ID}/media/{media.media_id}",
        headers={"x-api-key": DEMO_API_KEY, "x-ccid": DEMO_CCID, "X-Hub-Signature": sign(DEMO_CHANNEL_SECRET, b"")},
    )
    assert answer.status_code == 200 and answer.content == b"", answer.text


# -- the body limit ------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413_and_media_have_their_own_limit(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(SandboxConfig(max_body_size=1024, max_media_size=64 * 1024))
    with httpx.Client(base_url=sb.url, headers={"x-api-key": DEMO_API_KEY}, timeout=30) as http:
        big = json.dumps({"messages": [{"text": "x" * 2048}]}).encode()
        assert signed_post(http, MESSAGES, big).status_code == 413
        chunked = http.post(MESSAGES, content=iter([big]), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413  # no Content-Length: counted while reading
    api = messaging_api(sb)
    picture = b"\x89PNG" + b"\x00" * 8192  # over max_body_size, under max_media_size
    request = UploadMediaRequest(file=File(io.BytesIO(picture), "p.png", "image/png"))
    media = api.upload_media(DEMO_CHANNEL_ID, body=request).data
    assert isinstance(media, MediaResource) and media.length == len(picture)


# -- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/data-download/v3/data/sources",
        "/_sandbox",
        "/_sandbox/faults",
    ],
)
def test_urls_are_served_with_and_without_a_trailing_slash_never_redirected(
    shared: Sandbox, client: httpx.Client, path: str
) -> None:
    bare, slashed = (client.get(p, headers=_bearer(shared)) for p in (path, path + "/"))
    assert bare.status_code < 300 and not bare.is_redirect, bare.text
    assert (slashed.status_code, slashed.content) == (bare.status_code, bare.content)


def test_an_undocumented_url_is_a_404_not_a_redirect(client: httpx.Client) -> None:
    answer = client.get("/udm/v4/export/nothing-here/")
    assert answer.status_code == 404


@pytest.mark.parametrize("job_id", ["abc", "", "9" * 5000])
def test_a_job_id_that_is_not_a_number_is_simply_unknown(shared: Sandbox, client: httpx.Client, job_id: str) -> None:
    # "" is GET /udm/v4/export/jobs/ : get-job with an empty id, never the list (nor a redirect to it)
    answer = client.get(f"/udm/v4/export/jobs/{job_id}", headers=_bearer(shared))
    assert answer.status_code in (400, 404), answer.text
    assert "not a number" not in answer.text and "not found" in answer.text


# -- repeated query parameters -------------------------------------------------------------------


def test_repeated_and_comma_separated_query_values_are_both_accepted(shared: Sandbox) -> None:
    statistics = [
        {"statisticId": sid, "objectId": "agent1", "objectType": "Agent", "name": "TotalLoginTime"}
        for sid in ("s1", "s2", "s3")
    ]
    with httpx.Client(base_url=shared.base_url("statistics"), headers=_bearer(shared), timeout=10) as http:
        assert http.post("/subscriptions", json={"operationId": "rep", "data": {"statistics": statistics}}).is_success
        for query in ("statisticIds=s1&statisticIds=s3", "statisticIds=s1,s3", "statisticIds=s1,s3&statisticIds=s3"):
            answer = http.get("/subscriptions/rep/statistic-values?" + query)
            assert answer.status_code == 200
            assert sorted(v["statisticId"] for v in answer.json()["data"]["statistics"]) == ["s1", "s3"], query


# -- a client that goes away ---------------------------------------------------------------------


def test_a_client_that_goes_away_mid_request_is_one_log_line(shared: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    host, port = shared.url.removeprefix("http://").split(":")
    with caplog.at_level(logging.INFO):
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(
                f"POST {MESSAGES} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n{".encode()
            )
        eventually(lambda: "went away" in caplog.text, what="the disconnect was not logged")
    records = [r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith(("genesys", "uvicorn"))]
    assert len(records) == 1 and records[0].levelno == logging.INFO, [r.getMessage() for r in records]
    assert "Traceback" not in caplog.text and "Exception in ASGI application" not in caplog.text
