"""The inspector over real sockets: what it records, what it never keeps, its stream, its bounds, its guard."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from genesys_cx._cli import build_parser
from genesys_cx._demo import run
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CHANNEL_ID,
    DEMO_CHANNEL_SECRET,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    DeliveryPolicy,
    Fault,
    Sandbox,
    SandboxChannel,
    SandboxConfig,
)
from genesys_cx.sandbox._events import CAPTURE_LIMIT, EventLog, Masker, signature_problem
from genesys_cx.sandbox._inspector import wants_html
from genesys_cx.signing import sign

from ._helpers import Receiver, signed_post
from .conftest import SandboxFactory

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
MESSAGES = f"/nexus/v3/channels/{DEMO_CHANNEL_ID}/messages"
SECRETS = [DEMO_API_KEY, DEMO_CHANNEL_SECRET, DEMO_CLIENT_SECRET, DEMO_PASSWORD]


def text_message(text: str = "Hi, where is my order 42?") -> bytes:
    message = {"type": "Text", "channel": {"from": {"id": "16504661149"}, "to": {"id": DEMO_CHANNEL_ID}}, "text": text}
    return json.dumps({"messages": [message]}).encode()


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def access_token(http: httpx.Client) -> str:
    """A token of the sandbox's password grant (its answer and requests carry secrets to mask)."""
    answer = http.post(
        "/auth/v3/oauth/token",
        data={"grant_type": "password", "username": DEMO_USERNAME, "password": DEMO_PASSWORD, "scope": "*"},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    )
    assert answer.status_code == 200
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture
def client(sb: Sandbox) -> Iterator[httpx.Client]:
    headers = {"x-api-key": DEMO_API_KEY, "x-ccid": DEMO_CCID}
    with httpx.Client(base_url=sb.url, headers=headers, timeout=10) as http:
        yield http


def events(http: httpx.Client, kind: str | None = None) -> list[dict[str, Any]]:
    answer = http.get("/_sandbox/inspector/events", params={"kind": kind} if kind else None)
    assert answer.status_code == 200
    found: list[dict[str, Any]] = answer.json()["events"]
    return found


# -- the page and content negotiation ------------------------------------------------------------


def test_a_browser_gets_the_page_and_a_program_keeps_the_json_overview(client: httpx.Client) -> None:
    page = client.get("/_sandbox/", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Genesys sandbox inspector" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/_sandbox/").json()["channels"] == [DEMO_CHANNEL_ID]
    assert client.get("/_sandbox/", headers={"Accept": "application/json"}).json()["channels"] == [DEMO_CHANNEL_ID]
    for asset in ("inspector.js", "inspector.css"):
        answer = client.get(f"/_sandbox/inspector/static/{asset}")
        assert answer.status_code == 200 and len(answer.content) > 1000
    assert client.get("/_sandbox/inspector/static/..%2f_events.py").status_code == 404
    assert client.get("/_sandbox/inspector/static/index.html").status_code == 404


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("*/*", False),
        (None, False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0", False),
        ("text/html;q=abc", False),
    ],
)
def test_content_negotiation(accept: str | None, html: bool) -> None:
    assert wants_html(accept) is html


def test_the_page_is_refused_to_other_hosts_and_clients_unless_allowed(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox()
    rebinding = httpx.get(sb.url + "/_sandbox/inspector/events", headers={"Host": "attacker.example:80"})
    assert rebinding.status_code == 403 and "loopback" in rebinding.text
    assert httpx.get(sb.url + "/_sandbox/inspector/events", headers={"Host": "localhost"}).status_code == 200
    opened = make_sandbox(SandboxConfig(inspector_remote=True))
    assert httpx.get(opened.url + "/_sandbox/inspector/events", headers={"Host": "sandbox.lan"}).status_code == 200


async def test_a_client_that_is_not_on_loopback_is_refused() -> None:
    from genesys_cx.sandbox import create_app

    app, state = create_app()
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        assert (await http.get("/_sandbox/inspector/events")).status_code == 403
        page = await http.get("/_sandbox/", headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 403
    await state.shutdown()


# -- what is recorded ----------------------------------------------------------------------------------


def test_requests_are_recorded_with_operation_validation_trace_and_latency(client: httpx.Client) -> None:
    body = text_message()
    ok = signed_post(client, MESSAGES, body, headers={"X-B3-TraceId": "a" * 32})
    invalid = signed_post(client, MESSAGES, b'{"messages": 5}')
    assert (ok.status_code, invalid.status_code) == (200, 400)

    first, second = events(client, "request")
    assert first["operation"] == "send_message" and first["api"] == "messaging"
    assert (first["method"], first["path"], first["status"]) == ("POST", MESSAGES, 200)
    assert first["check"] == "passed" and first["trace"] == "a" * 32 and first["ms"] > 0
    assert first["sent"] == len(body)
    assert second["status"] == 400 and second["check"] == "failed"
    assert second["rule"] == "body.messages: must be of type array"

    detail = client.get(f"/_sandbox/inspector/events/{first['id']}").json()["detail"]
    assert json.loads(detail["request"]["body"])["messages"][0]["text"] == "Hi, where is my order 42?"
    assert detail["request"]["headers"]["x-api-key"] == "***"
    assert detail["request"]["headers"]["x-hub-signature"] == "***"
    assert "ids" in detail["answer"]["body"]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing X-Hub-Signature header"),
        ("sha256=" + "0" * 64, "wrong prefix: expected sha1=, got sha256="),
        ("0" * 40, "wrong prefix: expected sha1="),
        ("sha1=xyz", "malformed: sha1= must be followed by 40 hex digits"),
        ("sha1=" + "0" * 40, "mismatch: not the HMAC-SHA1 of this"),
    ],
)
def test_a_bad_signature_is_shown_with_its_reason_and_never_the_signature(
    client: httpx.Client, header: str | None, reason: str
) -> None:
    body = text_message()
    headers = {"Content-Type": "application/json"} | ({"X-Hub-Signature": header} if header else {})
    assert client.post(MESSAGES, content=body, headers=headers).status_code == 401

    (check,) = events(client, "signature")
    assert check["ok"] is False and check["reason"].startswith(reason)
    assert check["channel"] == DEMO_CHANNEL_ID
    (request,) = events(client, "request")
    assert request["call"] == check["call"] and request["check"] == "failed" and request["status"] == 401
    everything = (
        client.get("/_sandbox/inspector/events").text + client.get(f"/_sandbox/inspector/events/{request['id']}").text
    )
    assert sign(DEMO_CHANNEL_SECRET, body)[5:] not in everything
    if header and len(header) > 12:
        assert header not in everything


def test_signature_checks_pass_and_unknown_channels_are_named(client: httpx.Client) -> None:
    signed_post(client, MESSAGES, text_message())
    signed_post(client, "/nexus/v3/channels/nope/messages", text_message())
    passed, unknown = events(client, "signature")
    assert passed["ok"] is True and passed["reason"] is None
    assert unknown["ok"] is False and unknown["reason"] == "unknown channel" and unknown["channel"] == "nope"


def test_signature_problem_names_no_secret() -> None:
    body = b"{}"
    assert signature_problem("s3cret-value", body, sign("s3cret-value", body)) is None
    assert signature_problem("s3cret-value", body, sign("s3cret-value", body).upper().replace("SHA1", "sha1")) is None
    problem = signature_problem("s3cret-value", body, sign("other", body))
    assert problem is not None and "s3cret" not in problem and "mismatch" in problem


def test_a_fault_is_shown_on_the_request_it_answered(sb: Sandbox, client: httpx.Client) -> None:
    sb.faults.add(Fault(match="send_message", status=503, times=1))
    assert signed_post(client, MESSAGES, text_message()).status_code == 503
    assert signed_post(client, MESSAGES, text_message()).status_code == 200
    failed, passed = events(client, "request")
    assert failed["fault"] == "HTTP 503" and failed["status"] == 503 and failed["check"] is None
    assert failed["operation"] == "send_message"
    assert passed["fault"] is None and passed["check"] == "passed"
    (fault,) = events(client, "fault")
    assert fault["effect"] == "HTTP 503" and fault["call"] == failed["call"]


def test_a_dropped_connection_is_recorded_without_a_status(sb: Sandbox, client: httpx.Client) -> None:
    sb.faults.add(Fault(match="send_message", drop=True, times=1))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):  # closed or reset: timing decides
        signed_post(client, MESSAGES, text_message())
    request = wait_for(lambda: events(client, "request"))[0]
    assert request["status"] is None and request["fault"] == "dropped the connection"


def test_delivery_attempts_show_status_latency_next_attempt_and_final_state(
    make_sandbox: SandboxFactory, receiver: Receiver
) -> None:
    receiver.failure_rate = 1.0
    policy = DeliveryPolicy(attempts=3, backoff=0.05, multiplier=1.0, timeout=5)
    channel = SandboxChannel(DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET, receiver.url)
    sb = make_sandbox(SandboxConfig(channels=[channel], delivery=policy))
    reply = sb.agent_reply(DEMO_CHANNEL_ID, "Sorry for the wait", to="16504661149")
    sb.state.outbox.wait(reply.id, 10)
    with httpx.Client(base_url=sb.url) as http:
        queued, *attempts = wait_for(lambda: (found := events(http, "delivery")) and len(found) == 4 and found)
    assert queued["phase"] == "queued" and queued["message"] == reply.id and queued["webhook"] == receiver.url
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (1, 503, "retry"),
        (2, 503, "retry"),
        (3, 503, "retry"),
    ]
    assert attempts[0]["retry_at"] >= attempts[0]["at"] + 40 and attempts[0]["final"] is None
    assert attempts[-1]["retry_at"] is None and attempts[-1]["final"] == "given up"
    assert all(a["ms"] > 0 for a in attempts)


# -- secrets ---------------------------------------------------------------------------------------------


def test_no_secret_is_kept_in_any_event(sb: Sandbox, client: httpx.Client) -> None:
    access = access_token(client)
    client.get("/auth/v3/userinfo", headers={"Authorization": f"Bearer {access}"})
    client.get("/auth/v3/userinfo", params={"access_token": access})
    # a secret where no field name gives it away: masked by value
    signed_post(client, MESSAGES, text_message(f"my secret is {DEMO_CHANNEL_SECRET}"))
    everything = [client.get("/_sandbox/inspector/events").text]
    everything += [client.get(f"/_sandbox/inspector/events/{e['id']}").text for e in events(client)]
    dump = "\n".join(everything)
    for secret in [*SECRETS, access]:
        assert secret not in dump
    # masked in place ("secret" itself may be masked too when another test in this process registered it)
    assert re.search(r"my (secret|\*\*\*) is \*\*\*", dump)


def test_masker_masks_by_name_and_by_value() -> None:
    masker = Masker(["sandbox-channel-secret", "abc"])  # values under 4 characters are not masked
    body = json.dumps({"password": "pw-1234", "note": "sandbox-channel-secret", "n": "abc"}).encode()
    shown = masker.body(body, len(body), "application/json")
    assert json.loads(shown) == {"password": "***", "note": "***", "n": "abc"}
    assert masker.body(body[:10], len(body), "application/json").startswith(f"<{len(body)} bytes of application/json")
    assert masker.body(b"\x89PNG...", 7, "image/png") == "<7 bytes of image/png>"
    assert masker.text("Authorization: Bearer abc.def") == "Authorization: Bearer ***"


def test_a_large_body_is_never_buffered_by_the_inspector(client: httpx.Client) -> None:
    big = b'{"messages": [' + b" " * (4 * CAPTURE_LIMIT) + b"]}"
    signed_post(client, MESSAGES, big)
    (request,) = events(client, "request")
    assert request["sent"] == len(big)
    detail = client.get(f"/_sandbox/inspector/events/{request['id']}").json()["detail"]
    assert detail["request"]["body"] == f"<{len(big)} bytes of application/json: too large to show>"


# -- the live stream -----------------------------------------------------------------------------------


def test_the_stream_replays_the_ring_then_sends_each_new_event(sb: Sandbox, client: httpx.Client) -> None:
    signed_post(client, MESSAGES, text_message())
    received: list[dict[str, Any]] = []
    ids: list[int] = []
    done = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=sb.url, timeout=10) as http, http.stream("GET", "/_sandbox/inspector/stream") as s:
            assert s.headers["content-type"].startswith("text/event-stream")
            for line in s.iter_lines():
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                if line.startswith("data: "):
                    received.append(json.loads(line[6:]))
                if len(received) >= 4:
                    done.set()
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_for(lambda: sb.state.events.subscriber_count == 1)
    signed_post(client, MESSAGES, b'{"messages": 5}')
    assert done.wait(10)
    assert [e["kind"] for e in received] == ["signature", "request", "signature", "request"]
    assert received[3]["status"] == 400 and ids == sorted(ids) and len(set(ids)) == 4
    reader.join(5)
    wait_for(lambda: sb.state.events.subscriber_count == 0)

    with client.stream("GET", "/_sandbox/inspector/stream", headers={"Last-Event-ID": str(ids[2])}) as replay:
        data = next(line for line in replay.iter_lines() if line.startswith("data: "))
    assert json.loads(data[6:])["id"] == ids[3]


async def test_a_subscriber_that_falls_behind_is_told_to_reconnect() -> None:
    log = EventLog(10)
    queue = log.subscribe()
    for number in range(3000):
        log.add("request", {"n": number})
    items = [queue.get_nowait() for _ in range(queue.qsize())]
    assert items[-1] is None and log.subscriber_count == 0
    assert len(log) == 10 and log.dropped == 2990


# -- bounds ---------------------------------------------------------------------------------------------


def test_the_event_buffer_stays_bounded_under_load(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(SandboxConfig(inspector_events=50))
    body = text_message("x" * 1500)
    with httpx.Client(base_url=sb.url, headers={"x-api-key": DEMO_API_KEY}, timeout=10) as http:
        for _ in range(300):
            signed_post(http, MESSAGES, body)
        listed = http.get("/_sandbox/inspector/events").json()
    log = sb.state.events
    assert len(log) == 50 and listed["capacity"] == 50 and len(listed["events"]) == 50
    assert log.dropped == 600 - 50  # a signature check and a request per call
    assert listed["events"][0]["id"] == 551 and listed["events"][-1]["id"] == 600
    assert sb.state.events.get(1) is None and sb.state.events.get(600) is not None
    kept = sum(len(json.dumps([e.summary, e.detail])) for e in log.events())
    assert kept < 50 * 8 * 1024  # each event holds at most ~2 KiB per body plus its headers


def test_the_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="inspector_events"):
        EventLog(0)


# -- CometD -----------------------------------------------------------------------------------------------


def test_cometd_sessions_subscriptions_and_last_messages(sb: Sandbox, client: httpx.Client) -> None:
    client.headers["Authorization"] = f"Bearer {access_token(client)}"
    url = "/statistics/v3/notifications"
    hello = client.post(
        url, json=[{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}]
    )
    client_id = hello.json()[0]["clientId"]
    service = "/statistics/v3/service"
    client.post(url, json=[{"channel": "/meta/subscribe", "clientId": client_id, "subscription": service}])
    sb.state.statistics.set_service_state(False)
    client.post(url, json=[{"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling"}])

    view = client.get("/_sandbox/inspector/cometd").json()
    (session,) = view["sessions"]
    assert session["client"] == client_id and session["channels"] == ["/statistics/v3/service"]
    assert session["state"] == "connected" and session["connects"] == 1
    (message,) = view["channels"]["/statistics/v3/service"]
    assert "UNAVAILABLE" in message["data"] and view["service"] == "UNAVAILABLE"
    actions = [e["action"] for e in events(client, "cometd")]
    assert actions == ["handshake", "subscribe", "message"]

    sb.state.statistics.forget_clients()
    client.post(url, json=[{"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling"}])
    (session,) = client.get("/_sandbox/inspector/cometd").json()["sessions"]
    assert session["state"].startswith("unknown client (402)")
    assert events(client, "cometd")[-1]["action"] == "unknown client"

    # a client that disconnected is not reported as unknown when a poll it left behind gets 402
    hello = client.post(
        url, json=[{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}]
    )
    second = hello.json()[0]["clientId"]
    client.post(url, json=[{"channel": "/meta/disconnect", "clientId": second}])
    client.post(url, json=[{"channel": "/meta/connect", "clientId": second, "connectionType": "long-polling"}])
    sessions = {s["client"]: s for s in client.get("/_sandbox/inspector/cometd").json()["sessions"]}
    assert sessions[second]["state"] == "disconnected"
    assert [e["action"] for e in events(client, "cometd") if e.get("client") == second] == ["handshake", "disconnect"]


# -- genesys-cx demo --keep-open ----------------------------------------------------------------------------


def test_demo_keep_open_leaves_the_sandbox_and_its_inspector_running() -> None:
    assert build_parser().parse_args(["demo", "--keep-open"]).keep_open is True
    assert build_parser().parse_args(["demo"]).keep_open is False
    out, stop = io.StringIO(), threading.Event()
    outcome: dict[str, int] = {}
    demo = threading.Thread(target=lambda: outcome.update(code=run(out, environ={}, keep_open=True, stop=stop)))
    demo.start()
    try:
        found = wait_for(lambda: re.search(r"stays up: open (\S+) in a browser", out.getvalue()), timeout=60)
        url = found.group(1)
        assert f"inspector (every request, live; open it in a browser): {url}" in out.getvalue()
        listed = httpx.get(url + "inspector/events", params={"kind": "request"}).json()["events"]
        operations = {e["operation"] for e in listed}
        assert {"send_message", "upload_media", "create_interaction", "retrieve_token"} <= operations
        assert all(e["status"] == 200 for e in listed if e["api"] != "statistics")
    finally:
        stop.set()
        demo.join(30)
    assert outcome["code"] == 0 and out.getvalue().rstrip().endswith("sandbox stopped")
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_a_body_nested_too_deeply_to_parse_is_described_not_shown() -> None:
    deep = b"[" * 30_000 + b"]" * 30_000  # within the capture limit, beyond what json.loads can nest
    assert len(deep) < CAPTURE_LIMIT
    shown = Masker(()).body(deep, len(deep), "application/json")
    assert shown == f"<{len(deep)} bytes of application/json: nested too deeply to show>"


def test_a_path_with_a_trailing_slash_is_recorded_under_its_operation(client: httpx.Client) -> None:
    assert signed_post(client, MESSAGES + "/", text_message()).status_code == 200
    (request,) = events(client, "request")
    assert (request["operation"], request["check"], request["path"]) == ("send_message", "passed", MESSAGES + "/")
