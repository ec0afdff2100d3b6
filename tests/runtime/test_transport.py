"""The call path under the facade: one shared pool, one transport per API client, credentials planned per operation."""

from __future__ import annotations

import logging
from collections.abc import Generator

import httpx
import pytest
from genesys_cx_api._runtime import OPERATION_EXTENSION

from genesys_cx import Genesys
from genesys_cx._schemes import Providers, SchemeAuth
from genesys_cx._tracing import Tracer
from genesys_cx._transport import SharedPool, Transport
from genesys_cx.errors import MissingCredentials
from genesys_cx.signing import HubSignature, sign

OPERATIONS = (
    ("POST", "/channels/{channelId}/messages", "send_message", (("apiKey", "hubSignature"),)),
    ("GET", "/things/{id}", "get_thing", (("bearer",), ("apiKey",))),
    ("GET", "/things/special", "get_special", (("apiKey",),)),
    ("GET", "/secret", "get_secret", (("clientBasic",),)),
)


class Recorder(httpx.BaseTransport):
    """Answers 200 with a small JSON body, records the requests it got and whether it was closed."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.closed = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(200, json={"status": {"code": 0}, "data": {"ids": ["m1"]}})

    def close(self) -> None:
        self.closed += 1


class Bearer(httpx.Auth):
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = "Bearer tok"
        yield request


def _client(providers: Providers, recorder: Recorder) -> httpx.Client:
    auth = SchemeAuth("/api/v1", OPERATIONS, providers)
    return httpx.Client(base_url="http://genesys.test/api/v1", transport=recorder, auth=auth)


PROVIDERS = Providers(api_key="key-1", hub_signature=HubSignature({"ch-1": "secret-1"}), bearer=Bearer())


def test_a_request_naming_its_operation_gets_that_operations_credentials() -> None:
    recorder = Recorder()
    with _client(PROVIDERS, recorder) as client:
        # The path matches no template: the operation named in the extensions decides.
        client.post("/channels/ch-1/elsewhere", content=b"{}", extensions={OPERATION_EXTENSION: "send_message"})
    sent = recorder.requests[0]
    assert sent.headers["x-api-key"] == "key-1"
    assert sent.headers["X-Hub-Signature"] == sign("secret-1", b"{}")
    assert "Authorization" not in sent.headers


def test_a_request_without_an_operation_is_matched_by_its_path_and_named() -> None:
    recorder = Recorder()
    with _client(PROVIDERS, recorder) as client:
        client.get("/things/special")
        client.get("/things/42")
    special, thing = recorder.requests
    assert special.extensions[OPERATION_EXTENSION] == "get_special" and "Authorization" not in special.headers
    assert thing.extensions[OPERATION_EXTENSION] == "get_thing"
    assert thing.headers["Authorization"] == "Bearer tok" and "x-api-key" not in thing.headers


def test_the_first_configured_alternative_wins() -> None:
    recorder = Recorder()
    with _client(Providers(api_key="key-1"), recorder) as client:
        client.get("/things/42")
    assert recorder.requests[0].headers["x-api-key"] == "key-1"
    assert "Authorization" not in recorder.requests[0].headers


def test_a_path_of_no_operation_gets_key_and_signature_but_never_a_bearer_token() -> None:
    recorder = Recorder()
    with _client(PROVIDERS, recorder) as client:
        client.post("/channels/ch-1/other", content=b"x")
    sent = recorder.requests[0]
    assert sent.headers["x-api-key"] == "key-1" and sent.headers["X-Hub-Signature"] == sign("secret-1", b"x")
    assert "Authorization" not in sent.headers and OPERATION_EXTENSION not in sent.extensions


def test_missing_credentials_stop_the_request_before_it_is_sent() -> None:
    recorder = Recorder()
    with _client(PROVIDERS, recorder) as client, pytest.raises(MissingCredentials) as caught:
        client.get("/secret")
    assert caught.value.operation == "get_secret" and "clientBasic" in str(caught.value)
    assert recorder.requests == []


def test_client_basic_is_the_http_basic_header_of_the_client_credentials() -> None:
    recorder = Recorder()
    with _client(Providers(client_basic=("id", "pw")), recorder) as client:
        client.get("/secret")
    assert recorder.requests[0].headers["Authorization"] == "Basic aWQ6cHc="


# ------------------------------------------------------------------------------- pool and closing


def _genesys(recorder: Recorder) -> Genesys:
    return Genesys(
        base_url="http://genesys.test", api_key="k", ccid="c", channel_secrets={"ch": "s"}, transport=recorder
    )


def test_closing_the_facade_closes_the_given_transport_even_unused() -> None:
    recorder = Recorder()
    _genesys(recorder).close()
    assert recorder.closed == 1


def test_api_clients_share_one_pool_that_only_the_facade_closes() -> None:
    recorder = Recorder()
    genesys = _genesys(recorder)
    messaging, media = genesys.messaging._http, genesys.open_media._http
    assert messaging._transport is not media._transport  # one transport per API client...
    messaging.close()  # ...closing one of them leaves the shared pool open
    assert recorder.closed == 0
    genesys.close()
    assert recorder.closed == 1


def test_the_shared_pool_is_built_once_on_the_first_request() -> None:
    built: list[Recorder] = []

    def factory() -> Recorder:
        built.append(Recorder())
        return built[-1]

    pool = SharedPool(factory)
    first, second = Transport(pool), Transport(pool)
    assert built == []
    with httpx.Client(transport=first) as a, httpx.Client(transport=second) as b:
        a.get("http://genesys.test/x")
        b.get("http://genesys.test/y")
    assert len(built) == 1 and len(built[0].requests) == 2
    assert built[0].closed == 0  # the clients closed their transports, not the pool
    pool.close()
    assert built[0].closed == 1


def test_no_debug_record_is_prepared_when_debug_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("DEBUG work done with DEBUG off")

    monkeypatch.setattr(Tracer, "finish", staticmethod(fail))
    monkeypatch.setattr(Tracer, "buffered", staticmethod(fail))
    logging.getLogger("genesys_cx").setLevel(logging.INFO)
    try:
        with httpx.Client(transport=Transport(Recorder())) as client:
            response = client.get("http://genesys.test/x")
    finally:
        logging.getLogger("genesys_cx").setLevel(logging.NOTSET)
    assert response.json()["status"] == {"code": 0}
    assert len(response.request.headers["X-B3-TraceId"]) == 32
