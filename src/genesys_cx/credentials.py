"""Credentials on the wire: the API key, OAuth2 tokens from the Authentication API, and their combination.

Every Genesys API wants ``x-api-key``; many also want ``Authorization: Bearer <token>``, and the
Third-Party Messaging API a body signature. Each is an ``httpx.Auth``, and ``combine_auth`` (from
``genesys_cx._combine``, re-exported here) chains them on one request, so credentials never appear
in a method signature::

    manager = TokenManager(f"{host}/auth/v3/oauth/token", OAuth2Credentials("id", "secret"), api_key=key)
    client = httpx.Client(auth=combine_auth(ApiKey(key), BearerToken(manager), HubSignature(channel_secret)))

``TokenManager`` (threads) and ``AsyncTokenManager`` (asyncio) hold the current token of one
client: ``token()`` returns it, fetching a new one ``leeway`` seconds before it expires (with the
refresh-token grant when a refresh token is held, falling back to the configured grant if the
refresh token is refused), and is single-flight: however many callers find the token stale at
once, one request goes to ``POST {host}/auth/v3/oauth/token``. ``BearerToken`` sends the token and,
when Genesys answers 401 anyway (a token revoked early), invalidates it, fetches another and repeats
the request once. The authorization-code flow is ``authorization_url`` (where to send the user's
browser) then ``exchange_code`` / ``aexchange_code`` (the code for a ``Token``), whose refresh token
a manager created with ``token=`` keeps alive.

The token request is the generated ``genesys_cx_api.auth`` models (form-encoded ``TokenRequest``
variants, ``DefaultOAuth2AccessToken``) sent with the client authenticated by HTTP Basic; failures
are ``genesys_cx.errors`` types (``Unauthorized`` for bad client credentials, ``BadRequest`` for a
refused grant). Authlib builds the authorization URL. Its httpx integration is not used: its
clients are ``httpx.Client`` subclasses (they cannot share the SDK's connection pool and
transports), the sync client has no single-flight refresh, nothing repeats a request after a 401,
its errors are not the SDK's, and its expiry uses the wall clock (tests inject one here).

This module was ``genesys_cx.auth`` in 0.1.0; that name now means the Authentication API only
(``Genesys.auth``, ``genesys_cx_api.auth``, ``specs/auth.yaml``), and importing ``genesys_cx.auth``
still works but warns.

Every secret given here (API key, client secret, password, tokens) is registered with the log
redaction and kept out of ``repr()``.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

import httpx

from ._combine import combine_auth
from ._redact import get_logger, register_secret
from ._response import handle_response, transport_error
from ._retry import retry_safe
from .errors import BadRequest, LoginRequired, Unauthorized
from .signing import rewindable

if TYPE_CHECKING:  # the generated models and authlib load on first token request (keeps `import genesys_cx` cheap)
    from genesys_cx_api.auth.models.default_o_auth_2_access_token import DefaultOAuth2AccessToken

__all__ = [
    "ApiKey",
    "AsyncTokenManager",
    "BearerToken",
    "GrantType",
    "OAuth2Credentials",
    "Token",
    "TokenManager",
    "aexchange_code",
    "authorization_url",
    "combine_auth",
    "exchange_code",
]

logger = get_logger()

GrantType = Literal["client_credentials", "password", "authorization_code", "refresh_token"]
API_KEY_HEADER = "x-api-key"
_OPERATION = "retrieve_token"


class ApiKey(httpx.Auth):
    """Send ``x-api-key: <key>`` with every request. The key never appears in ``repr()`` or a log."""

    def __init__(self, key: str) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ValueError("the API key must be a non-empty string")
        register_secret(key)
        self._key = key

    def __repr__(self) -> str:
        return "ApiKey(<key>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[API_KEY_HEADER] = self._key
        yield request


@dataclass(frozen=True)
class OAuth2Credentials:
    """The client registration and the grant a ``TokenManager`` uses. Secrets are kept out of ``repr()``.

    ``client_credentials`` needs only the client; ``password`` also *username* and *password*;
    ``refresh_token`` a *refresh_token*; ``authorization_code`` a *redirect_uri* (the code itself
    goes to ``exchange_code``). *scope*: the Authentication API supports only ``"*"``.
    """

    client_id: str
    client_secret: str = field(repr=False)
    grant_type: GrantType = "client_credentials"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    scope: str | None = None
    redirect_uri: str | None = None
    refresh_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.grant_type not in get_args(GrantType):
            raise ValueError(f"grant_type must be one of {', '.join(get_args(GrantType))}, not {self.grant_type!r}")
        if not self.client_id:
            raise ValueError("client_id is required")
        needs = {"password": ("username", "password"), "refresh_token": ("refresh_token",)}
        missing = [name for name in needs.get(self.grant_type, ()) if not getattr(self, name)]
        if missing:
            raise ValueError(f"the {self.grant_type} grant needs {' and '.join(missing)}")
        for secret in (self.client_secret, self.password, self.refresh_token):
            if secret:
                register_secret(secret)


@dataclass(frozen=True, repr=False)
class Token:
    """An access token. ``expires_at`` is in the clock of the manager (``time.time()`` by default), None if unknown."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scope: str | None = None
    token_type: str = "bearer"

    def __repr__(self) -> str:
        refresh = "<refresh token>" if self.refresh_token else None
        return (
            f"Token(access_token=<token>, refresh_token={refresh}, "
            f"expires_at={self.expires_at!r}, scope={self.scope!r})"
        )

    @classmethod
    def from_model(cls, model: DefaultOAuth2AccessToken, now: float, previous: Token | None = None) -> Token:
        """The ``Token`` of a token-endpoint answer; a refresh without a new refresh token keeps the old one."""
        register_secret(model.access_token, transient=True)
        refresh = model.refresh_token if isinstance(model.refresh_token, str) else None
        if refresh:
            register_secret(refresh, transient=True)
        elif previous is not None:
            refresh = previous.refresh_token
        expires_in = model.expires_in if isinstance(model.expires_in, int) else None
        return cls(
            access_token=model.access_token,
            refresh_token=refresh,
            expires_at=None if expires_in is None else now + expires_in,
            scope=model.scope if isinstance(model.scope, str) else None,
            token_type=str(model.token_type),
        )


# ----------------------------------------------------------------------------- the token endpoint


class _Endpoint:
    """What the sync and async managers share: which requests to send and how to read the answers."""

    def __init__(
        self, token_url: str, credentials: OAuth2Credentials, api_key: str | None, clock: Callable[[], float]
    ) -> None:
        self.url, self.credentials, self.clock = token_url, credentials, clock
        basic = httpx.BasicAuth(credentials.client_id, credentials.client_secret)
        self.auth: httpx.Auth = basic if api_key is None else combine_auth(ApiKey(api_key), basic)

    def form(
        self,
        grant: GrantType,
        *,
        refresh_token: str | None = None,
        code: str | None = None,
        redirect_uri: str | None = None,
    ) -> dict[str, str]:
        from genesys_cx_api.auth.models import (
            AuthorizationCodeTokenRequest,
            ClientCredentialsTokenRequest,
            PasswordTokenRequest,
            RefreshTokenRequest,
        )
        from genesys_cx_api.types import UNSET

        scope = self.credentials.scope or UNSET
        model: Any
        if grant == "refresh_token":
            model = RefreshTokenRequest(refresh_token=cast(str, refresh_token), scope=scope)
        elif grant == "password":
            model = PasswordTokenRequest(
                username=cast(str, self.credentials.username),
                password=cast(str, self.credentials.password),
                scope=scope,
            )
        elif grant == "authorization_code":
            model = AuthorizationCodeTokenRequest(code=cast(str, code), redirect_uri=cast(str, redirect_uri))
        else:
            model = ClientCredentialsTokenRequest(scope=scope)
        return {name: str(value) for name, value in model.to_dict().items()}

    def plan(self, held: Token | None) -> list[dict[str, str]]:
        """The token requests to try in order: the refresh grant first when a refresh token is held."""
        forms = []
        if held is not None and held.refresh_token:
            forms.append(self.form("refresh_token", refresh_token=held.refresh_token))
        grant = self.credentials.grant_type
        if grant in ("client_credentials", "password"):
            forms.append(self.form(grant))
        elif grant == "refresh_token" and (held is None or held.refresh_token != self.credentials.refresh_token):
            forms.append(self.form(grant, refresh_token=self.credentials.refresh_token))
        if not forms:
            raise LoginRequired(
                "no token can be obtained without signing in again: the authorization code was exchanged"
                " and no usable refresh token is left; start the authorization-code flow anew",
                operation=_OPERATION,
            )
        return forms

    def request_kwargs(self, form: dict[str, str]) -> dict[str, Any]:
        return {"data": form, "auth": self.auth, "headers": {"Accept": "application/json"}}

    def read(self, response: httpx.Response, held: Token | None) -> Token:
        from genesys_cx_api.auth.models import DefaultOAuth2AccessToken

        model = handle_response(response, lambda: DefaultOAuth2AccessToken.from_dict(response.json()), _OPERATION)
        return Token.from_model(model, self.clock(), held)

    @staticmethod
    def fallback(error: Exception, last: bool) -> bool:
        """Whether to go on with the next planned request after *error* (a refused refresh token)."""
        if last or not isinstance(error, (BadRequest, Unauthorized)):
            return False
        logger.info("the refresh token was refused (HTTP %s); falling back to the configured grant", error.status)
        return True

    @staticmethod
    def safe(form: dict[str, str]) -> bool:
        """Whether repeating this token request is harmless (so a retry transport may retry it)."""
        return form.get("grant_type") == "client_credentials"


def _sync_client(http: httpx.Client | httpx.BaseTransport | None) -> tuple[httpx.Client, bool]:
    if isinstance(http, httpx.Client):
        return http, False
    return httpx.Client(transport=http), True


def _async_client(http: httpx.AsyncClient | httpx.AsyncBaseTransport | None) -> tuple[httpx.AsyncClient, bool]:
    if isinstance(http, httpx.AsyncClient):
        return http, False
    return httpx.AsyncClient(transport=http), True


class _Manager:
    """Freshness and invalidation, common to both managers."""

    def __init__(self, endpoint: _Endpoint, leeway: float, token: Token | None) -> None:
        if leeway < 0:
            raise ValueError("leeway must be >= 0 seconds")
        self._endpoint, self._leeway = endpoint, leeway
        self._current: Token | None = None
        self._refresh_at = math.inf
        if token is not None:
            self._keep(token)

    def _keep(self, token: Token) -> None:
        self._current = token
        if token.expires_at is None:
            self._refresh_at = math.inf
        else:  # a token living less than twice the leeway is renewed at half its life, not at once
            lifetime = max(0.0, token.expires_at - self._endpoint.clock())
            self._refresh_at = token.expires_at - min(self._leeway, lifetime / 2)

    def _fresh(self) -> str | None:
        current = self._current
        if current is not None and self._endpoint.clock() < self._refresh_at:
            return current.access_token
        return None

    def _forget(self, access_token: str) -> None:
        if self._current is not None and self._current.access_token == access_token:
            self._refresh_at = -math.inf  # keeps the refresh token for the next fetch

    @property
    def current(self) -> Token | None:
        """The token held now (possibly stale), or None."""
        return self._current


class TokenManager(_Manager):
    """The current OAuth2 token of a synchronous client; thread-safe and single-flight.

    Args:
        token_url: ``https://{host}/auth/v3/oauth/token``.
        credentials: the client registration and grant.
        http: an ``httpx.Client`` to send token requests with (its own ``auth`` is not used), a
            transport to build one on, or None for a default client. Clients built here are
            closed by ``close()``.
        leeway: renew this many seconds before expiry.
        api_key: sent as ``x-api-key`` with token requests (the Authentication API requires it).
        clock: seconds, as ``time.time``; tests inject their own.
        token: a token to start with (for example from ``exchange_code``).
    """

    def __init__(
        self,
        token_url: str,
        credentials: OAuth2Credentials,
        http: httpx.Client | httpx.BaseTransport | None = None,
        *,
        leeway: float = 60.0,
        api_key: str | None = None,
        clock: Callable[[], float] = time.time,
        token: Token | None = None,
    ) -> None:
        super().__init__(_Endpoint(token_url, credentials, api_key, clock), leeway, token)
        self._client, self._owned = _sync_client(http)
        self._lock = threading.Lock()

    def token(self) -> str:
        """A fresh access token, fetched (by one caller at a time) when the held one is due."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        with self._lock:
            fresh = self._fresh()
            if fresh is None:
                self._keep(self._fetch())
                fresh = cast(Token, self._current).access_token
            return fresh

    def _fetch(self) -> Token:
        held = self._current
        forms = self._endpoint.plan(held)
        for index, form in enumerate(forms):
            try:
                with retry_safe(self._endpoint.safe(form)):
                    response = self._client.post(self._endpoint.url, **self._endpoint.request_kwargs(form))
            except httpx.TransportError as exc:
                raise transport_error(exc, operation=_OPERATION) from exc
            try:
                return self._endpoint.read(response, held)
            except (BadRequest, Unauthorized) as exc:
                if not self._endpoint.fallback(exc, index == len(forms) - 1):
                    raise
        raise AssertionError("unreachable: plan() returns at least one request")  # pragma: no cover

    def invalidate(self, token: str) -> None:
        """Forget *token* (rejected by the API) if it is still the current one; the next ``token()`` fetches."""
        with self._lock:
            self._forget(token)

    def close(self) -> None:
        """Close the HTTP client if this manager built it."""
        if self._owned:
            self._client.close()

    def __enter__(self) -> TokenManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TokenManager({self._endpoint.url!r}, client_id={self._endpoint.credentials.client_id!r})"


class AsyncTokenManager(_Manager):
    """The asyncio twin of ``TokenManager`` (same arguments, with an ``httpx.AsyncClient`` or async transport)."""

    def __init__(
        self,
        token_url: str,
        credentials: OAuth2Credentials,
        http: httpx.AsyncClient | httpx.AsyncBaseTransport | None = None,
        *,
        leeway: float = 60.0,
        api_key: str | None = None,
        clock: Callable[[], float] = time.time,
        token: Token | None = None,
    ) -> None:
        super().__init__(_Endpoint(token_url, credentials, api_key, clock), leeway, token)
        self._client, self._owned = _async_client(http)
        import asyncio  # only async users pay for importing asyncio

        self._lock = asyncio.Lock()

    async def token(self) -> str:
        """A fresh access token, fetched (by one task at a time) when the held one is due."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh()
            if fresh is None:
                self._keep(await self._fetch())
                fresh = cast(Token, self._current).access_token
            return fresh

    async def _fetch(self) -> Token:
        held = self._current
        forms = self._endpoint.plan(held)
        for index, form in enumerate(forms):
            try:
                with retry_safe(self._endpoint.safe(form)):
                    response = await self._client.post(self._endpoint.url, **self._endpoint.request_kwargs(form))
            except httpx.TransportError as exc:
                raise transport_error(exc, operation=_OPERATION) from exc
            try:
                return self._endpoint.read(response, held)
            except (BadRequest, Unauthorized) as exc:
                if not self._endpoint.fallback(exc, index == len(forms) - 1):
                    raise
        raise AssertionError("unreachable: plan() returns at least one request")  # pragma: no cover

    def invalidate(self, token: str) -> None:
        """Forget *token* (rejected by the API) if it is still the current one; the next ``token()`` fetches."""
        self._forget(token)

    async def aclose(self) -> None:
        """Close the HTTP client if this manager built it."""
        if self._owned:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncTokenManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncTokenManager({self._endpoint.url!r}, client_id={self._endpoint.credentials.client_id!r})"


# ------------------------------------------------------------------------------------ httpx.Auth


class BearerToken(httpx.Auth):
    """``Authorization: Bearer <token>`` from a manager; after a 401, one new token and one repeat.

    A ``TokenManager`` serves ``httpx.Client``, an ``AsyncTokenManager`` serves ``httpx.AsyncClient``.
    """

    requires_request_body = True  # the request may be sent twice

    def __init__(self, manager: TokenManager | AsyncTokenManager) -> None:
        self.manager = manager

    def __repr__(self) -> str:
        return f"BearerToken({self.manager!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        manager = self.manager
        if not isinstance(manager, TokenManager):
            raise TypeError("BearerToken(AsyncTokenManager) needs an httpx.AsyncClient; use a TokenManager")
        if not rewindable(request):
            request.read()  # a one-shot streamed body can then be sent a second time
        token = manager.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            logger.info("%s %s answered 401: renewing the token once", request.method, request.url.path)
            manager.invalidate(token)
            request.headers["Authorization"] = f"Bearer {manager.token()}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        manager = self.manager
        if not isinstance(manager, AsyncTokenManager):
            raise TypeError("BearerToken(TokenManager) needs an httpx.Client; use an AsyncTokenManager")
        if not rewindable(request):
            await request.aread()
        token = await manager.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            logger.info("%s %s answered 401: renewing the token once", request.method, request.url.path)
            manager.invalidate(token)
            request.headers["Authorization"] = f"Bearer {await manager.token()}"
            yield request


# ------------------------------------------------------------------------ authorization-code flow


def authorization_url(
    base_url: str,
    client_id: str,
    redirect_uri: str,
    state: str | None = None,
    scope: str | None = None,
    *,
    hide_tenant: bool = False,
) -> tuple[str, str]:
    """Where to send the user's browser to sign in: ``({base_url}/oauth/authorize?..., state)``.

    *base_url* is the Authentication API's (``https://{host}/auth/v3``). *state* is drawn with
    ``secrets`` when not given; check that the redirect brings the same value back.
    """
    if not client_id or not redirect_uri:
        raise ValueError("client_id and redirect_uri are required")
    from authlib.oauth2.rfc6749.parameters import prepare_grant_uri

    state = state or secrets.token_urlsafe(32)
    extra: Mapping[str, str] = {"hideTenant": "true"} if hide_tenant else {}
    url = prepare_grant_uri(
        base_url.rstrip("/") + "/oauth/authorize", client_id, "code", redirect_uri, scope, state, **extra
    )
    return str(url), state


def _code_form(endpoint: _Endpoint, code: str, redirect_uri: str | None) -> dict[str, str]:
    redirect = redirect_uri or endpoint.credentials.redirect_uri
    if not code or not redirect:
        raise ValueError("exchanging a code needs the code and the redirect_uri used to obtain it")
    register_secret(code, transient=True)
    return endpoint.form("authorization_code", code=code, redirect_uri=redirect)


def exchange_code(
    token_url: str,
    credentials: OAuth2Credentials,
    code: str,
    *,
    redirect_uri: str | None = None,
    http: httpx.Client | httpx.BaseTransport | None = None,
    api_key: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Token:
    """Exchange the authorization *code* received at the redirect URI for a ``Token``."""
    endpoint = _Endpoint(token_url, credentials, api_key, clock)
    form = _code_form(endpoint, code, redirect_uri)
    client, owned = _sync_client(http)
    try:
        response = client.post(token_url, **endpoint.request_kwargs(form))
    except httpx.TransportError as exc:
        raise transport_error(exc, operation=_OPERATION) from exc
    finally:
        if owned:
            client.close()
    return endpoint.read(response, None)


async def aexchange_code(
    token_url: str,
    credentials: OAuth2Credentials,
    code: str,
    *,
    redirect_uri: str | None = None,
    http: httpx.AsyncClient | httpx.AsyncBaseTransport | None = None,
    api_key: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Token:
    """The async twin of ``exchange_code``."""
    endpoint = _Endpoint(token_url, credentials, api_key, clock)
    form = _code_form(endpoint, code, redirect_uri)
    client, owned = _async_client(http)
    try:
        response = await client.post(token_url, **endpoint.request_kwargs(form))
    except httpx.TransportError as exc:
        raise transport_error(exc, operation=_OPERATION) from exc
    finally:
        if owned:
            await client.aclose()
    return endpoint.read(response, None)
