"""Fault injection: latency, error rates, 429/503 with Retry-After, dropped connections, fail-next-N."""

from __future__ import annotations

import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_cx.sandbox import DEMO_API_KEY, Fault, Faults, Sandbox, SandboxConfig

from .conftest import SandboxFactory

INTERACTIONS = "/nexus/v3/openmedia/demo/interactions"


def _create(client: httpx.Client) -> httpx.Response:
    return client.post(INTERACTIONS, json={})


@pytest.fixture
def client(sb: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=sb.url, headers={"x-api-key": DEMO_API_KEY}, timeout=10)


def test_latency_is_added(sb: Sandbox, client: httpx.Client) -> None:
    sb.faults.add(Fault(match="create_interaction", latency=0.3))
    started = time.monotonic()
    assert _create(client).status_code == 200
    assert time.monotonic() - started >= 0.3  # a lower bound only: never assert an upper one


def test_503_with_retry_after_by_path_glob(sb: Sandbox, client: httpx.Client) -> None:
    sb.faults.add(Fault(match="/nexus/v3/openmedia/*", status=503, retry_after=7))
    answer = _create(client)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "7"
    assert answer.json()["status"]["code"] == 503
    assert sb.state.open_media.interactions() == []  # the API never saw the request
    sb.faults.clear()
    assert _create(client).status_code == 200


def test_429_only_for_the_matching_method(sb: Sandbox, client: httpx.Client) -> None:
    sb.faults.add(Fault(match="/nexus/v3/openmedia/*", method="get", status=429, retry_after=1))
    assert _create(client).status_code == 200
    assert client.get(INTERACTIONS + "/ext_x").status_code == 429


def test_fail_the_next_n(sb: Sandbox, client: httpx.Client) -> None:
    sb.faults.add(Fault(match="create_interaction", status=500, times=2))
    assert [_create(client).status_code for _ in range(4)] == [500, 500, 200, 200]


def test_dropped_connection(sb: Sandbox, client: httpx.Client) -> None:
    sb.faults.add(Fault(match="create_interaction", drop=True, times=1))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        _create(client)
    assert _create(client).status_code == 200  # the server is fine afterwards


def test_error_rate_is_seeded_and_repeatable(make_sandbox: SandboxFactory) -> None:
    outcomes = []
    for _ in range(2):
        sb = make_sandbox(SandboxConfig(faults=[Fault(match="create_interaction", status=502, rate=0.5)], fault_seed=7))
        with httpx.Client(base_url=sb.url, headers={"x-api-key": DEMO_API_KEY}, timeout=10) as client:
            outcomes.append([_create(client).status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1]
    assert {200, 502} == set(outcomes[0])


def test_faults_through_the_control_routes(sb: Sandbox, client: httpx.Client) -> None:
    with httpx.Client(base_url=sb.url + "/_sandbox", timeout=10) as control:
        added = control.post("/faults", json={"match": "*", "status": 503, "times": 1})
        assert added.status_code == 201
        assert [f["id"] for f in control.get("/faults").json()["faults"]] == [added.json()["id"]]
        assert _create(client).status_code == 503
        assert _create(client).status_code == 200
        assert control.post("/faults", json={"status": 200}).status_code == 400
        assert control.post("/faults", json={"bogus": 1}).status_code == 400
        assert control.delete(f"/faults/{added.json()['id']}").status_code == 204
        assert control.delete("/faults").status_code == 204
        assert control.get("/faults").json()["faults"] == []


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0, 1),
    times=st.one_of(st.none(), st.integers(0, 20)),
    seed=st.integers(0, 2**32),
    requests=st.integers(0, 40),
)
def test_fault_counting_rules(rate: float, times: int | None, seed: int, requests: int) -> None:
    faults = Faults([Fault(match="op", status=500, rate=rate, times=times)], seed=seed)
    hits = sum(1 for _ in range(requests) if (faults.check("GET", "/x", "op") or None) is not None)
    if times is not None:
        assert hits <= times
    if rate == 1.0:
        assert hits == (requests if times is None else min(times, requests))
    if rate == 0.0:
        assert hits == 0
    assert faults.check("GET", "/other", "other-op") is None


@pytest.mark.parametrize("bad", [{"status": 200}, {"rate": 1.5}, {"latency": -1}, {"status": 500, "drop": True}])
def test_invalid_faults_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fault(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "browser_headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed iframe or a file:// page
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_page_of_another_site_cannot_drive_the_control_routes(sb: Sandbox, browser_headers: dict[str, str]) -> None:
    with httpx.Client(base_url=sb.url, timeout=10) as browser:  # what a browser sends for a page's fetch()
        refused = browser.post("/_sandbox/faults", json={"status": 500}, headers=browser_headers)
        assert refused.status_code == 403 and "other sites" in refused.json()["error"]
        assert browser.get("/_sandbox/inspector/events", headers=browser_headers).status_code == 403
    assert len(sb.faults) == 0  # nothing was added


def test_the_sandboxs_own_pages_and_clients_that_are_not_browsers_still_can(sb: Sandbox) -> None:
    with httpx.Client(base_url=sb.url, timeout=10) as client:
        same_site = client.post("/_sandbox/faults", json={"status": 500, "match": "x"}, headers={"Origin": sb.url})
        assert same_site.status_code == 201, same_site.text
        assert client.post("/_sandbox/tokens/expire", headers={"Sec-Fetch-Site": "same-origin"}).status_code < 300
        assert client.delete("/_sandbox/faults").status_code < 300  # no Origin at all: a script, curl
    # the APIs themselves answer any origin as Genesys does (only the control routes are guarded)
    with httpx.Client(base_url=sb.url, headers={"x-api-key": DEMO_API_KEY, "Origin": "http://evil.example"}) as api:
        assert _create(api).status_code == 200
