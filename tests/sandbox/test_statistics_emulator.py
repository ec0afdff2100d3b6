"""The Statistics emulator over real sockets: REST answers valid per the spec, and CometD as servers speak it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import genesys_cx_api
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from genesys_cx.notifications import SERVICE_CHANNEL, UPDATES_CHANNEL
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    Sandbox,
    SandboxConfig,
)

from ._helpers import eventually

SPEC = json.loads((Path(genesys_cx_api.__file__).parent / "_specs" / "statistics.json").read_text())
REGISTRY: Registry[Any] = Registry().with_resource("urn:stats", Resource.from_contents(SPEC, DRAFT202012))
STATS = [
    {"statisticId": "s1", "objectId": "agent1", "objectType": "Agent", "name": "CurrentAgentState"},
    {"statisticId": "s2", "objectId": "agent1", "objectType": "Agent", "name": "TotalLoginTime"},
]


def schema_errors(schema_name: str, instance: Any) -> list[str]:
    validator = Draft202012Validator({"$ref": f"urn:stats#/components/schemas/{schema_name}"}, registry=REGISTRY)
    return [error.message for error in validator.iter_errors(instance)]


def assert_documented(path: str, method: str, response: httpx.Response) -> None:
    """The status is documented for the operation and the body matches its schema."""
    documented = SPEC["paths"][path][method]["responses"]
    answer = documented.get(str(response.status_code))
    assert answer is not None, f"{method.upper()} {path} -> {response.status_code} is not in the spec"
    if "$ref" in answer:
        answer = SPEC["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema_ref = answer["content"]["application/json"]["schema"]["$ref"]
    assert schema_errors(schema_ref.rsplit("/", 1)[1], response.json()) == []


class Server:
    """A running sandbox, its statistics emulator and the headers of a signed-in user."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb, self.emulator, self.url = sb, sb.state.statistics, sb.url
        token = httpx.post(
            sb.base_url("auth") + "/oauth/token",
            data={"grant_type": "password", "username": DEMO_USERNAME, "password": DEMO_PASSWORD},
            headers={"x-api-key": DEMO_API_KEY},
            auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        ).json()["access_token"]
        self.headers = {"x-api-key": DEMO_API_KEY, "Authorization": f"Bearer {token}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/statistics/v3", headers=self.headers, timeout=10)


def start(tick_interval: float | None = None, long_poll_timeout: float = 0.5, max_interval: float = 10.0) -> Any:
    config = SandboxConfig(
        statistics_tick_interval=tick_interval, cometd_timeout=long_poll_timeout, cometd_max_interval=max_interval
    )

    @contextlib.contextmanager
    def running() -> Iterator[Server]:
        with Sandbox(config) as sb:
            yield Server(sb)

    return running()


@pytest.fixture
def server() -> Iterator[Server]:
    with start() as running:
        yield running


# ------------------------------------------------------------------------------------- REST


def test_rest_operations_answer_documented_bodies(server: Server) -> None:
    with server.client() as http:
        peek = http.post(
            "/operations/get-statistic-ex",
            json={
                "data": {
                    "statistics": [
                        {"name": "CurrentAgentState", "objectId": "agent1", "objectType": "Agent"},
                        {"name": "TimeInCurrentState", "objectId": "agent1", "objectType": "Agent"},
                    ]
                }
            },
        )
        assert_documented("/operations/get-statistic-ex", "post", peek)
        assert peek.status_code == 200
        assert [s["name"] for s in peek.json()["data"]["statistics"]] == ["CurrentAgentState", "TimeInCurrentState"]
        assert isinstance(peek.json()["data"]["statistics"][0]["value"], dict)
        assert isinstance(peek.json()["data"]["statistics"][1]["value"], int)

        one = http.get("/statistic-values/AverageHandlingTime", params={"objectId": "a", "objectType": "Agent"})
        assert_documented("/statistic-values/{statisticName}", "get", one)
        assert one.json()["data"]["statistic"]["name"] == "AverageHandlingTime"

        created = http.post("/subscriptions", json={"operationId": "sub-1", "data": {"statistics": STATS}})
        assert_documented("/subscriptions", "post", created)
        data = created.json()["data"]
        assert data["subscriptionId"] == "sub-1" == data["operationId"]
        assert {s["statisticId"] for s in data["statistics"]} == {"s1", "s2"}
        assert server.emulator.subscription_ids() == ["sub-1"]

        quiet = http.post("/subscriptions", params={"verbose": "OFF"}, json={"data": {"statistics": STATS}})
        assert_documented("/subscriptions", "post", quiet)
        assert all("name" not in s and "objectId" not in s for s in quiet.json()["data"]["statistics"])

        values = http.get("/subscriptions/sub-1/statistic-values", params={"statisticIds": "s2"})
        assert_documented("/subscriptions/{id}/statistic-values", "get", values)
        assert [s["statisticId"] for s in values.json()["data"]["statistics"]] == ["s2"]

        deleted = http.delete("/subscriptions/sub-1")
        assert_documented("/subscriptions/{id}", "delete", deleted)
        assert http.delete("/subscriptions/sub-1").status_code == 200  # fire-and-forget, always a success
        assert "sub-1" not in server.emulator.subscription_ids()


def test_values_change_over_time() -> None:
    with start(tick_interval=0.02) as running, running.client() as http:
        http.post("/subscriptions", json={"operationId": "ticking", "data": {"statistics": STATS}})
        first = http.get("/subscriptions/ticking/statistic-values").json()["data"]["statistics"]

        def moved() -> bool:
            now = http.get("/subscriptions/ticking/statistic-values").json()["data"]["statistics"]
            return all(a["timestamp"] < b["timestamp"] for a, b in zip(first, now, strict=True))

        eventually(moved)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/operations/get-statistic-ex", {"json": {"data": {"statistics": []}}}),
        ("post", "/operations/get-statistic-ex", {"json": {"data": {"statistics": [{"name": "X", "objectId": "a"}]}}}),
        ("post", "/operations/get-statistic-ex", {"content": b"{not json"}),
        ("get", "/statistic-values/X", {"params": {"objectId": "a"}}),
        ("post", "/subscriptions", {"json": {"data": {"statistics": [{"statisticId": "s", "objectId": "a"}]}}}),
        ("post", "/subscriptions", {"json": {"data": {"statistics": [STATS[0], STATS[0]]}}}),
        (
            "post",
            "/subscriptions",
            {"json": {"data": {"statistics": [{"statisticId": "s", "objectId": "a", "objectType": "Agent"}]}}},
        ),
        ("post", "/subscriptions", {"params": {"verbose": "LOUD"}, "json": {"data": {"statistics": STATS}}}),
        # a body the spec does not allow, though the handler could read it
        (
            "post",
            "/subscriptions",
            {
                "json": {
                    "data": {"statistics": [{**STATS[0], "definition": {"dynamicTimeProfile": ["not", "a", "string"]}}]}
                }
            },
        ),
    ],
)
def test_bad_requests_get_a_documented_400(server: Server, method: str, path: str, kwargs: dict[str, Any]) -> None:
    with server.client() as http:
        response = http.request(method, path, **kwargs)
    assert response.status_code == 400
    assert response.json()["status"]["code"] == 400 and response.json()["status"]["message"]
    assert schema_errors("ApiResponse", response.json()) == []
    assert server.emulator.subscription_ids() == []


@pytest.mark.parametrize(
    ("path", "refusal"),
    # a bad token is a 403 where the operation documents 403 and not 401, as for every API (``_app``)
    [("/subscriptions", 403), ("/notifications/handshake", 401)],
)
def test_every_call_needs_a_key_and_a_valid_token(server: Server, path: str, refusal: int) -> None:
    body = (
        {"data": {"statistics": STATS}}
        if path == "/subscriptions"
        else [{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}]
    )
    url = server.url + "/statistics/v3" + path
    token = server.headers["Authorization"]
    no_key = httpx.post(url, json=body, headers={"Authorization": token})
    no_token = httpx.post(url, json=body, headers={"x-api-key": DEMO_API_KEY})
    server.sb.state.tokens.expire_all()  # the token expires
    expired = httpx.post(url, json=body, headers=server.headers)
    assert (no_key.status_code, no_token.status_code, expired.status_code) == (403, refusal, refusal)
    for response in (no_key, no_token, expired):
        assert schema_errors("ApiResponse", response.json()) == []
        assert token.split()[1] not in response.text
    assert server.emulator.subscription_ids() == [] and server.emulator.bayeux.client_ids() == []


def test_unavailable_service_drops_subscriptions_until_available(server: Server) -> None:
    with server.client() as http:
        http.post("/subscriptions", json={"operationId": "sub", "data": {"statistics": STATS}})
        server.emulator.set_service_state(False)
        assert server.emulator.subscription_ids() == []
        refused = http.post("/subscriptions", json={"operationId": "sub", "data": {"statistics": STATS}})
        assert refused.status_code == 503
        assert_documented("/subscriptions", "post", refused)
        peek = http.get("/statistic-values/X", params={"objectId": "a", "objectType": "Agent"})
        assert_documented("/statistic-values/{statisticName}", "get", peek)
        assert peek.status_code == 503
        server.emulator.set_service_state(True)
        assert http.post("/subscriptions", json={"data": {"statistics": STATS}}).status_code == 200


# ------------------------------------------------------------------------------------- CometD


class Bayeux:
    """A hand-driven Bayeux client (no SDK code) for checking the server's side of the protocol."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.client_id = ""

    def post(self, kind: str, *messages: dict[str, Any]) -> list[dict[str, Any]]:
        path = f"/notifications/{kind}" if kind else "/notifications"
        response = self.http.post(path, json=list(messages))
        assert response.status_code == 200
        assert_documented(path, "post", response)
        body: list[dict[str, Any]] = response.json()
        return body

    def handshake(self) -> dict[str, Any]:
        (reply,) = self.post(
            "handshake",
            {"channel": "/meta/handshake", "version": "1.0", "id": "1", "supportedConnectionTypes": ["long-polling"]},
        )
        self.client_id = reply.get("clientId", "")
        return reply

    def subscribe(self, *channels: str) -> list[dict[str, Any]]:
        return self.post(
            "subscribe",
            *[{"channel": "/meta/subscribe", "clientId": self.client_id, "subscription": c, "id": c} for c in channels],
        )

    def connect(self) -> list[dict[str, Any]]:
        return self.post(
            "connect",
            {"channel": "/meta/connect", "clientId": self.client_id, "id": "c", "connectionType": "long-polling"},
        )


@pytest.fixture
def bayeux(server: Server) -> Iterator[Bayeux]:
    with server.client() as http:
        yield Bayeux(http)


def test_handshake_gives_a_client_id_long_polling_advice_and_a_session_cookie(bayeux: Bayeux) -> None:
    reply = bayeux.handshake()
    assert reply["successful"] is True and reply["id"] == "1"
    assert reply["supportedConnectionTypes"] == ["long-polling"]
    assert reply["advice"]["reconnect"] == "retry" and reply["advice"]["timeout"] == 500
    assert "BAYEUX_BROWSER" in bayeux.http.cookies


def test_a_handshake_without_long_polling_is_refused(bayeux: Bayeux) -> None:
    (reply,) = bayeux.post(
        "handshake", {"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["websocket"]}
    )
    assert reply["successful"] is False and reply["error"].startswith("301:")


def test_connect_is_held_until_a_message_is_queued(server: Server, bayeux: Bayeux) -> None:
    bayeux.handshake()
    bayeux.subscribe(UPDATES_CHANNEL, SERVICE_CHANNEL)
    with server.client() as other:
        http, bayeux.http = bayeux.http, other
        other.cookies.update(http.cookies)
        result: list[list[dict[str, Any]]] = []

        async def poll() -> None:
            result.append(await asyncio.to_thread(bayeux.connect))

        async def scenario() -> None:
            task = asyncio.create_task(poll())
            await asyncio.to_thread(eventually, lambda: server.emulator.bayeux.is_polling(bayeux.client_id))
            server.emulator.set_service_state(False)
            await task

        asyncio.run(scenario())
    (messages,) = result
    assert [m["channel"] for m in messages] == [SERVICE_CHANNEL, "/meta/connect"]
    assert messages[0]["data"] == {
        "name": "ServiceStateChange",
        "topic": SERVICE_CHANNEL,
        "data": {"serviceState": "UNAVAILABLE"},
    }
    assert messages[1]["successful"] is True


def test_an_idle_connect_answers_after_the_advised_timeout(bayeux: Bayeux) -> None:
    bayeux.handshake()
    (reply,) = bayeux.connect()
    assert reply["channel"] == "/meta/connect" and reply["successful"] is True


def test_updates_reach_subscribers_only(server: Server, bayeux: Bayeux) -> None:
    bayeux.handshake()
    replies = bayeux.subscribe(UPDATES_CHANNEL, "/statistics/v3/unknown", "/meta/connect")
    assert [r["successful"] for r in replies] == [True, False, False]
    assert replies[1]["error"].startswith("403:")
    with server.client() as http:
        http.post("/subscriptions", json={"operationId": "sub", "data": {"statistics": STATS}})
    assert server.emulator.publish_now() == 1
    update, reply = bayeux.connect()
    assert reply["successful"] is True
    assert update["channel"] == UPDATES_CHANNEL
    assert {v["statisticId"] for v in update["data"]["data"]["statistics"]} == {"s1", "s2"}
    assert schema_errors("StatisticUpdate", update["data"]) == []
    (ack,) = bayeux.post(
        "unsubscribe", {"channel": "/meta/unsubscribe", "clientId": bayeux.client_id, "subscription": UPDATES_CHANNEL}
    )
    assert ack["successful"] is True
    server.emulator.publish_now()
    assert [m["channel"] for m in bayeux.connect()] == ["/meta/connect"]


def test_unknown_forgotten_or_cookieless_clients_get_402_and_handshake_advice(server: Server, bayeux: Bayeux) -> None:
    (unknown,) = bayeux.post("connect", {"channel": "/meta/connect", "clientId": "nope"})
    bayeux.handshake()
    cookies = dict(bayeux.http.cookies)
    bayeux.http.cookies.clear()
    (cookieless,) = bayeux.connect()
    bayeux.http.cookies.update(cookies)
    server.emulator.forget_clients()
    (forgotten,) = bayeux.connect()
    for reply in (unknown, cookieless, forgotten):
        assert reply["successful"] is False and reply["error"] == "402::Unknown client"
        assert reply["advice"]["reconnect"] == "handshake"


def test_disconnect_ends_the_session(bayeux: Bayeux) -> None:
    bayeux.handshake()
    (reply,) = bayeux.post("disconnect", {"channel": "/meta/disconnect", "clientId": bayeux.client_id})
    assert reply["successful"] is True
    assert bayeux.connect()[0]["error"] == "402::Unknown client"


def test_a_dropped_connect_breaks_the_connection_and_keeps_the_queue(server: Server, bayeux: Bayeux) -> None:
    bayeux.handshake()
    bayeux.subscribe(SERVICE_CHANNEL)
    server.emulator.drop_next_connect()
    server.emulator.set_service_state(False)
    with pytest.raises(httpx.RemoteProtocolError):
        bayeux.connect()
    channels = [m["channel"] for m in bayeux.connect()]
    assert channels == [SERVICE_CHANNEL, "/meta/connect"]


def test_the_generic_endpoint_takes_batches(bayeux: Bayeux) -> None:
    bayeux.handshake()
    replies = bayeux.post(
        "",
        {"channel": "/meta/subscribe", "clientId": bayeux.client_id, "subscription": [UPDATES_CHANNEL]},
        {"channel": "/statistics/v3/updates", "clientId": bayeux.client_id, "data": {}},
    )
    assert [(r["channel"], r["successful"]) for r in replies] == [("/meta/subscribe", True), (UPDATES_CHANNEL, False)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
bayeux_like = st.lists(
    st.fixed_dictionaries(
        {
            "channel": st.sampled_from(
                [
                    "/meta/handshake",
                    "/meta/connect",
                    "/meta/subscribe",
                    "/meta/unsubscribe",
                    "/meta/disconnect",
                    UPDATES_CHANNEL,
                    "/x",
                ]
            )
            | st.integers()
        },
        optional={
            "clientId": st.text(max_size=5) | st.integers(),
            "subscription": json_values,
            "supportedConnectionTypes": json_values,
            "id": json_values,
            "data": json_values,
        },
    ),
    max_size=4,
)


@pytest.mark.parametrize("body", [[], [{"clientId": "x"}], {"channel": "/meta/handshake"}, [{"channel": 5}]])
def test_a_body_that_is_not_a_bayeux_request_is_a_bayeux_400(server: Server, body: Any) -> None:
    response = httpx.post(
        server.url + "/statistics/v3/notifications/handshake", json=body, headers=server.headers, timeout=10
    )
    assert response.status_code == 400
    assert response.json()[0]["successful"] is False and response.json()[0]["error"].startswith("400::")
    assert schema_errors("BayeuxResponse", response.json()) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bayeux_like | json_values)
def test_any_body_gets_bayeux_replies_never_a_crash(server: Server, body: Any) -> None:
    response = httpx.post(server.url + "/statistics/v3/notifications", json=body, headers=server.headers, timeout=10)
    assert response.status_code in (200, 400)
    assert schema_errors("BayeuxResponse", response.json()) == []
