"""OAuth2 against a loopback Authentication API: refresh before expiry, once on 401, single-flight, typed failures."""

from __future__ import annotations

import asyncio
import base64
import threading
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from genesys_cx._serve import ServerThread, serve
from genesys_cx.credentials import (
    ApiKey,
    AsyncTokenManager,
    BearerToken,
    OAuth2Credentials,
    Token,
    TokenManager,
    aexchange_code,
    authorization_url,
    combine_auth,
    exchange_code,
)
from genesys_cx.errors import BadRequest, LoginRequired, TransportError, Unauthorized
from genesys_cx.signing import HubSignature, verify

from ._core_helpers import dead_port

CLIENT_ID, CLIENT_SECRET, API_KEY = "client-1", "client-secret-xyz", "api-key-abc"


class Genesys:
    """A tiny Authentication API plus one protected endpoint, counting what it is asked."""

    def __init__(self, expires_in: int = 3600, delay: float = 0.0) -> None:
        self.expires_in, self.delay = expires_in, delay
        self.token_requests: list[dict[str, str]] = []
        self.token_headers: list[dict[str, str]] = []
        self.api_requests: list[dict[str, str]] = []
        self.api_bodies: list[bytes] = []
        self.valid: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.api_always_401 = False
        self.app = Starlette(
            routes=[
                Route("/auth/v3/oauth/token", self.token, methods=["POST"]),
                Route("/nexus/v3/things", self.things, methods=["GET", "POST"]),
            ]
        )

    async def token(self, request: Request) -> JSONResponse:
        form = dict(urllib.parse.parse_qsl((await request.body()).decode()))
        self.token_requests.append(form)
        self.token_headers.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "Unauthorized", "error_description": "Bad credentials"}, status_code=401)
        if form.get("grant_type") == "refresh_token" and form.get("refresh_token") not in self.refresh_tokens:
            return JSONResponse({"error": "invalid_grant", "error_description": "Invalid refresh token"}, 400)
        if form.get("grant_type") == "authorization_code" and form.get("code") != "the-code":
            return JSONResponse({"error": "invalid_grant", "error_description": "Invalid code"}, 400)
        number = len(self.token_requests)
        access, refresh = f"access-{number:04d}", f"refresh-{number:04d}"
        self.valid.add(access)
        self.refresh_tokens.add(refresh)
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "refresh_token": refresh,
                "scope": "*",
            }
        )

    async def things(self, request: Request) -> JSONResponse:
        self.api_requests.append(dict(request.headers))
        self.api_bodies.append(await request.body())
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_always_401 or token not in self.valid:
            return JSONResponse({"status": {"code": 401, "message": "invalid token"}}, status_code=401)
        return JSONResponse({"status": {"code": 0}, "token": token})


@pytest.fixture
def genesys() -> Genesys:
    return Genesys()


@pytest.fixture
def server(genesys: Genesys) -> Iterator[ServerThread]:
    with serve(genesys.app) as running:
        yield running


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _credentials(**kwargs: object) -> OAuth2Credentials:
    return OAuth2Credentials(CLIENT_ID, CLIENT_SECRET, scope="*", **kwargs)  # type: ignore[arg-type]


def _manager(server: ServerThread, clock: Clock | None = None, **kwargs: object) -> TokenManager:
    return TokenManager(
        server.url + "/auth/v3/oauth/token",
        kwargs.pop("credentials", None) or _credentials(),  # type: ignore[arg-type]
        leeway=60,
        api_key=API_KEY,
        clock=clock or Clock(),
        **kwargs,  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------------------------ the manager


def test_client_credentials_token_request_is_as_documented(genesys: Genesys, server: ServerThread) -> None:
    with _manager(server) as manager:
        assert manager.token() == "access-0001"
        assert manager.token() == "access-0001"
    assert genesys.token_requests == [{"grant_type": "client_credentials", "scope": "*"}]
    headers = genesys.token_headers[0]
    assert headers["x-api-key"] == API_KEY
    assert headers["content-type"] == "application/x-www-form-urlencoded"


def test_the_token_is_renewed_leeway_seconds_before_expiry_with_the_refresh_grant(
    genesys: Genesys, server: ServerThread
) -> None:
    clock = Clock()
    with _manager(server, clock) as manager:
        assert manager.token() == "access-0001"
        clock.now += 3600 - 61
        assert manager.token() == "access-0001" and len(genesys.token_requests) == 1
        clock.now += 2  # now inside the leeway
        assert manager.token() == "access-0002"
    assert genesys.token_requests[1] == {"grant_type": "refresh_token", "refresh_token": "refresh-0001", "scope": "*"}


def test_a_short_lived_token_is_renewed_at_half_life_not_on_every_call() -> None:
    genesys_short = Genesys(expires_in=30)
    clock = Clock()
    with serve(genesys_short.app) as short:
        manager = _manager(short, clock)
        manager.token()
        clock.now += 14
        manager.token()
        assert len(genesys_short.token_requests) == 1
        clock.now += 2
        manager.token()
        assert len(genesys_short.token_requests) == 2


def test_a_refused_refresh_token_falls_back_to_the_configured_grant(genesys: Genesys, server: ServerThread) -> None:
    clock = Clock()
    manager = _manager(server, clock)
    manager.token()
    genesys.refresh_tokens.clear()  # the server forgot every refresh token
    clock.now += 3600
    assert manager.token() == "access-0003"
    assert [r["grant_type"] for r in genesys.token_requests] == [
        "client_credentials",
        "refresh_token",
        "client_credentials",
    ]


def test_password_grant_sends_username_and_password(genesys: Genesys, server: ServerThread) -> None:
    credentials = _credentials(grant_type="password", username="domain\\agent", password="agent-pass-1")
    _manager(server, credentials=credentials).token()
    assert genesys.token_requests == [
        {"grant_type": "password", "username": "domain\\agent", "password": "agent-pass-1", "scope": "*"}
    ]


def test_a_configured_refresh_token_is_used_first(genesys: Genesys, server: ServerThread) -> None:
    genesys.refresh_tokens.add("given-refresh-1")
    credentials = _credentials(grant_type="refresh_token", refresh_token="given-refresh-1")
    assert _manager(server, credentials=credentials).token() == "access-0001"
    assert genesys.token_requests[0]["refresh_token"] == "given-refresh-1"


def test_invalidate_forgets_only_the_current_token(genesys: Genesys, server: ServerThread) -> None:
    manager = _manager(server)
    first = manager.token()
    manager.invalidate("some-older-token")
    assert manager.token() == first
    manager.invalidate(first)
    second = manager.token()
    assert second != first and genesys.token_requests[1]["grant_type"] == "refresh_token"
    manager.invalidate(first)  # a late report about the old token does not drop the new one
    assert manager.token() == second and len(genesys.token_requests) == 2


def test_fifty_threads_cause_one_token_request() -> None:
    slow = Genesys(delay=0.2)
    with serve(slow.app) as slow_server:
        manager = _manager(slow_server)
        barrier = threading.Barrier(50)

        def call() -> str:
            barrier.wait(30)
            return manager.token()

        with ThreadPoolExecutor(max_workers=50) as pool:
            tokens = list(pool.map(lambda _: call(), range(50)))
    assert set(tokens) == {"access-0001"} and len(slow.token_requests) == 1


async def test_fifty_tasks_cause_one_token_request() -> None:
    slow = Genesys(delay=0.2)
    with serve(slow.app) as slow_server:
        manager = AsyncTokenManager(slow_server.url + "/auth/v3/oauth/token", _credentials(), api_key=API_KEY)
        async with manager:
            tokens = await asyncio.gather(*(manager.token() for _ in range(50)))
    assert set(tokens) == {"access-0001"} and len(slow.token_requests) == 1


async def test_async_manager_refreshes_with_the_refresh_grant(genesys: Genesys, server: ServerThread) -> None:
    clock = Clock()
    async with httpx.AsyncClient() as http:
        manager = AsyncTokenManager(server.url + "/auth/v3/oauth/token", _credentials(), http, clock=clock)
        assert await manager.token() == "access-0001"
        clock.now += 3600
        assert await manager.token() == "access-0002"
    assert genesys.token_requests[1]["grant_type"] == "refresh_token"


def test_bad_client_credentials_raise_unauthorized_without_the_secret(genesys: Genesys, server: ServerThread) -> None:
    credentials = OAuth2Credentials(CLIENT_ID, "wrong-secret-123")
    manager = _manager(server, credentials=credentials)
    with pytest.raises(Unauthorized) as caught:
        manager.token()
    assert caught.value.message == "Bad credentials" and caught.value.operation == "retrieve_token"
    for text in (str(caught.value), repr(caught.value), repr(credentials), repr(manager)):
        assert "wrong-secret-123" not in text


def test_an_unreachable_token_endpoint_is_a_transport_error() -> None:
    manager = TokenManager(f"http://127.0.0.1:{dead_port()}/auth/v3/oauth/token", _credentials())
    with pytest.raises(TransportError) as caught:
        manager.token()
    assert caught.value.operation == "retrieve_token"


def test_credentials_are_checked_and_kept_out_of_repr() -> None:
    with pytest.raises(ValueError, match="password"):
        OAuth2Credentials(CLIENT_ID, CLIENT_SECRET, grant_type="password", username="u")
    with pytest.raises(ValueError, match="grant_type"):
        OAuth2Credentials(CLIENT_ID, CLIENT_SECRET, grant_type="implicit")  # type: ignore[arg-type]
    credentials = OAuth2Credentials(CLIENT_ID, CLIENT_SECRET, grant_type="password", username="u", password="pw-secret")
    assert "pw-secret" not in repr(credentials) and CLIENT_SECRET not in repr(credentials)
    token = Token("access-secret-1", "refresh-secret-1", 10.0, "*")
    assert "secret" not in repr(token) and "expires_at=10.0" in repr(token)
    with pytest.raises(ValueError):
        ApiKey("")
    assert API_KEY not in repr(ApiKey(API_KEY))


# ------------------------------------------------------------------------------------ BearerToken


def test_a_401_causes_one_refresh_and_one_retry(genesys: Genesys, server: ServerThread) -> None:
    manager = _manager(server)
    with httpx.Client(auth=combine_auth(ApiKey(API_KEY), BearerToken(manager))) as client:
        manager.token()
        genesys.valid.clear()  # the token was revoked early
        response = client.get(server.url + "/nexus/v3/things")
    assert response.status_code == 200 and response.json()["token"] == "access-0002"
    assert [h["authorization"] for h in genesys.api_requests] == ["Bearer access-0001", "Bearer access-0002"]
    assert all(h["x-api-key"] == API_KEY for h in genesys.api_requests)
    assert len(genesys.token_requests) == 2


def test_a_streamed_body_is_sent_whole_again_after_a_401(genesys: Genesys, server: ServerThread) -> None:
    manager = _manager(server)
    manager.token()
    genesys.valid.clear()
    with httpx.Client(auth=BearerToken(manager)) as client:
        response = client.post(server.url + "/nexus/v3/things", content=iter([b"part-1,", b"part-2"]))
    assert response.status_code == 200 and genesys.api_bodies == [b"part-1,part-2"] * 2


def test_a_second_401_is_returned_not_retried_again(genesys: Genesys, server: ServerThread) -> None:
    genesys.api_always_401 = True
    with httpx.Client(auth=BearerToken(_manager(server))) as client:
        response = client.get(server.url + "/nexus/v3/things")
    assert response.status_code == 401 and len(genesys.api_requests) == 2 and len(genesys.token_requests) == 2


def test_the_retried_request_is_signed_again_with_the_same_body(genesys: Genesys, server: ServerThread) -> None:
    seen: list[tuple[bytes, str]] = []

    def record(request: httpx.Request) -> None:
        seen.append((request.content, request.headers["X-Hub-Signature"]))

    auth = combine_auth(ApiKey(API_KEY), BearerToken(_manager(server)), HubSignature("channel-secret-1"))
    with httpx.Client(auth=auth, event_hooks={"request": [record]}) as client:
        client.get(server.url + "/nexus/v3/things")  # fetch a first token
        genesys.valid.clear()
        response = client.post(server.url + "/nexus/v3/things", json={"messages": ["hi"]})
    assert response.status_code == 200
    assert all(verify("channel-secret-1", body, signature) for body, signature in seen)
    assert len(seen) == 3


async def test_async_bearer_401_refresh_and_retry(genesys: Genesys, server: ServerThread) -> None:
    manager = AsyncTokenManager(server.url + "/auth/v3/oauth/token", _credentials(), api_key=API_KEY)
    auth = combine_auth(ApiKey(API_KEY), BearerToken(manager), HubSignature("channel-secret-1"))
    async with manager, httpx.AsyncClient(auth=auth) as client:
        await manager.token()
        genesys.valid.clear()
        response = await client.post(server.url + "/nexus/v3/things", json={"a": 1})
    assert response.status_code == 200 and len(genesys.api_requests) == 2 and len(genesys.token_requests) == 2
    assert verify("channel-secret-1", b'{"a":1}', genesys.api_requests[1]["x-hub-signature"])


def test_a_manager_of_the_wrong_kind_is_a_clear_error(server: ServerThread) -> None:
    manager = AsyncTokenManager(server.url + "/auth/v3/oauth/token", _credentials())
    with httpx.Client(auth=BearerToken(manager)) as client, pytest.raises(TypeError, match="AsyncClient"):
        client.get(server.url + "/nexus/v3/things")
    with pytest.raises(TypeError):
        combine_auth(ApiKey(API_KEY), "not an auth")  # type: ignore[arg-type]


# ------------------------------------------------------------------------- authorization-code flow


def test_authorization_url_carries_what_the_spec_requires() -> None:
    url, state = authorization_url(
        "https://gapi.example.com/auth/v3/", CLIENT_ID, "https://app.example/cb?x=1", scope="*"
    )
    parsed = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parsed.query))
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("https", "gapi.example.com", "/auth/v3/oauth/authorize")
    assert query == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "https://app.example/cb?x=1",
        "scope": "*",
        "state": state,
    }
    assert len(state) >= 32 and authorization_url("https://h/auth/v3", CLIENT_ID, "https://a/cb")[1] != state
    given, kept = authorization_url("https://h/auth/v3", CLIENT_ID, "https://a/cb", state="s-1", hide_tenant=True)
    assert kept == "s-1" and "state=s-1" in given and "hideTenant=true" in given


def test_exchange_code_then_keep_the_session_alive(genesys: Genesys, server: ServerThread) -> None:
    credentials = _credentials(grant_type="authorization_code", redirect_uri="https://app.example/cb")
    clock = Clock()
    token_url = server.url + "/auth/v3/oauth/token"
    token = exchange_code(token_url, credentials, "the-code", api_key=API_KEY, clock=clock)
    assert token.access_token == "access-0001" and token.refresh_token == "refresh-0001"
    assert token.expires_at == clock.now + 3600 and token.scope == "*"
    assert genesys.token_requests[0] == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://app.example/cb",
    }
    manager = _manager(server, clock, credentials=credentials, token=token)
    assert manager.token() == "access-0001"
    clock.now += 3600
    assert manager.token() == "access-0002"
    genesys.refresh_tokens.clear()
    clock.now += 3600
    with pytest.raises(BadRequest):  # the refresh token is refused: nothing else to try
        manager.token()


def test_an_authorization_code_manager_without_a_refresh_token_asks_for_a_login(server: ServerThread) -> None:
    credentials = _credentials(grant_type="authorization_code", redirect_uri="https://app.example/cb")
    with pytest.raises(LoginRequired):
        _manager(server, credentials=credentials).token()


async def test_async_exchange_code_and_a_refused_code(genesys: Genesys, server: ServerThread) -> None:
    token_url = server.url + "/auth/v3/oauth/token"
    credentials = _credentials()
    token = await aexchange_code(token_url, credentials, "the-code", redirect_uri="https://app.example/cb")
    assert token.access_token == "access-0001"
    with pytest.raises(BadRequest) as caught:
        await aexchange_code(token_url, credentials, "stale-code", redirect_uri="https://app.example/cb")
    assert caught.value.code == "invalid_grant" and "stale-code" not in str(caught.value)
    with pytest.raises(ValueError, match="redirect_uri"):
        exchange_code(token_url, credentials, "the-code")
