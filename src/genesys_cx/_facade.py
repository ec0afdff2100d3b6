"""``Genesys`` and ``AsyncGenesys``: the one client object an integration holds.

Configured once (``Settings``, or keyword arguments, or ``from_env()``), a client owns one
connection pool and builds, on first use of an attribute, the generated per-API client with
everything wired in: credentials per operation as the spec requires them (``SchemeAuth``),
``x-ccid`` from configuration, trace ids, logging with redaction, retries, and typed errors
(``genesys_cx.errors``). Nothing of an API is imported before its attribute is first used::

    with Genesys.from_env() as genesys:
        genesys.messaging.send_message("my-channel", body=SendMessagesRequest(...))

    async with AsyncGenesys(base_url=..., api_key=..., ccid=...) as genesys:
        await genesys.open_media.get_interaction("workitem", "0001")
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx

from ._config import Settings
from ._retry import AsyncRetryTransport, RetryTransport
from ._schemes import Providers, SchemeAuth
from ._tracing import AsyncTracingTransport, TracingTransport, register_secret
from ._version import __version__
from .auth import AsyncTokenManager, BearerToken, TokenManager
from .errors import handle_response
from .signing import HubSignature

if TYPE_CHECKING:
    from genesys_cx_api.auth.api import AsyncAuthApi, AuthApi
    from genesys_cx_api.data_download.api import AsyncDataDownloadApi, DataDownloadApi
    from genesys_cx_api.messaging.api import AsyncMessagingApi, MessagingApi
    from genesys_cx_api.open_media.api import AsyncOpenMediaApi, OpenMediaApi
    from genesys_cx_api.secure_email.api import AsyncSecureEmailApi, SecureEmailApi
    from genesys_cx_api.udm.api import AsyncUdmApi, UdmApi

    from ._statistics import AsyncStatisticsClient, StatisticsClient
    from .notifications import CometdClient, SyncCometdClient

__all__ = ["AsyncGenesys", "Genesys"]

#: facade attribute -> (module, sync class, async class)
_APIS: dict[str, tuple[str, str, str]] = {
    "messaging": ("genesys_cx_api.messaging.api", "MessagingApi", "AsyncMessagingApi"),
    "open_media": ("genesys_cx_api.open_media.api", "OpenMediaApi", "AsyncOpenMediaApi"),
    "statistics": ("genesys_cx._statistics", "StatisticsClient", "AsyncStatisticsClient"),
    "secure_email": ("genesys_cx_api.secure_email.api", "SecureEmailApi", "AsyncSecureEmailApi"),
    "auth": ("genesys_cx_api.auth.api", "AuthApi", "AsyncAuthApi"),
    "udm": ("genesys_cx_api.udm.api", "UdmApi", "AsyncUdmApi"),
    "data_download": ("genesys_cx_api.data_download.api", "DataDownloadApi", "AsyncDataDownloadApi"),
}
_TOKEN_PATH = "/auth/v3/oauth/token"


class _NoClose(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The shared pool as seen by each per-API httpx client: closing one client must not close it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self._inner.handle_request(request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self._inner.handle_async_request(request)
        return response

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


class _LazyPool(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The httpx connection pool, built on the first request.

    Building it loads the CA bundle into an SSL context (tens of milliseconds): a service that
    creates its ``Genesys`` client at start-up should not pay for that before it sends anything.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._pool: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = self._factory()
        return self._pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self._get().handle_request(request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self._get().handle_async_request(request)
        return response

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


class _Base:
    settings: Settings
    _async: bool

    def __init__(self, settings: Settings | None = None, /, **options: Any) -> None:
        if settings is None:
            settings = Settings(**options)
        elif options:
            settings = settings.with_(**options)
        self.settings = settings
        for secret in self._secrets():
            register_secret(secret)
        self._headers = {"User-Agent": f"{settings.user_agent}/{__version__}"}

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """A client configured from ``GENESYS_*`` environment variables (see ``Settings``)."""
        return cls(Settings.from_env(**overrides))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings.base_url!r})"

    def _secrets(self) -> list[str | bytes]:
        s = self.settings
        found: list[str | bytes] = [v for v in (s.api_key,) if v]
        found.extend(s.channel_secrets.values())
        if s.oauth is not None:
            found.extend(v for v in (s.oauth.client_secret, s.oauth.password) if v)
        return found

    def _ambient(self, kind: str) -> str | None:
        return self.settings.ccid if kind == "ccid" else None

    def _providers(self, bearer: httpx.Auth | None) -> Providers:
        s = self.settings
        return Providers(
            api_key=s.api_key,
            client_basic=(s.oauth.client_id, s.oauth.client_secret) if s.oauth is not None else None,
            hub_signature=HubSignature(dict(s.channel_secrets)) if s.channel_secrets else None,
            bearer=bearer,
        )

    def _scheme_auth(self, api: str) -> SchemeAuth:
        from genesys_cx_api import BASE_PATHS

        security = importlib.import_module(f"genesys_cx_api.{api}._security")
        return SchemeAuth(BASE_PATHS[api], security.OPERATIONS, self._providers(self._bearer()))

    _tokens: TokenManager | AsyncTokenManager | None
    _transport: Any

    def _bearer(self) -> httpx.Auth | None:
        return BearerToken(self._tokens) if self._tokens is not None else None

    def _client_options(self, api: str | None) -> dict[str, Any]:
        """An httpx client on the shared pool: for one API (its base path and credentials), or, with
        ``None``, for the token endpoint (the token manager applies the client credentials itself)."""
        from genesys_cx_api import BASE_PATHS

        options: dict[str, Any] = {"transport": _NoClose(self._transport), "timeout": self.settings.timeout}
        if api is None:
            api_key = {"x-api-key": self.settings.api_key} if self.settings.api_key else {}
            return {**options, "base_url": self.settings.base_url, "headers": {**self._headers, **api_key}}
        return {
            **options,
            "base_url": self.settings.base_url + BASE_PATHS[api],
            "headers": self._headers,
            "auth": self._scheme_auth(api),
        }

    def _http(self, api: str) -> Any:
        raise NotImplementedError

    def _notifications(self) -> Any:
        raise NotImplementedError

    def _build(self, api: str) -> Any:
        module, sync_name, async_name = _APIS[api]
        cls = getattr(importlib.import_module(module), async_name if self._async else sync_name)
        return cls(self._http(api), handler=handle_response, ambient=self._ambient, **self._extra(api))

    def _extra(self, api: str) -> dict[str, Any]:
        return {"notifications": self._notifications} if api == "statistics" else {}


class Genesys(_Base):
    """Synchronous client for every Genesys Multicloud CX API (see the module docstring)."""

    _async = False

    def __init__(
        self, settings: Settings | None = None, /, *, transport: httpx.BaseTransport | None = None, **options: Any
    ) -> None:
        super().__init__(settings, **options)
        verify = self.settings.verify
        inner = transport or _LazyPool(lambda: httpx.HTTPTransport(verify=verify, retries=0))
        self._transport = TracingTransport(RetryTransport(inner, self.settings.retry))
        self._clients: list[httpx.Client] = []
        self._cometd: SyncCometdClient | None = None
        self._tokens: TokenManager | None = None
        if self.settings.oauth is not None:
            token_http = httpx.Client(**self._client_options(None))
            self._clients.append(token_http)
            self._tokens = TokenManager(self.settings.base_url + _TOKEN_PATH, self.settings.oauth, http=token_http)

    @property
    def tokens(self) -> TokenManager | None:
        """The OAuth2 token manager (None when no OAuth credentials are configured)."""
        return self._tokens

    def _notifications(self) -> SyncCometdClient:
        """The CometD client of ``statistics.subscribe`` (its own loop thread; created on first use)."""
        if self._cometd is None:
            from genesys_cx_api import BASE_PATHS

            from .notifications import SyncCometdClient

            base = self.settings.base_url + BASE_PATHS["statistics"]
            verify, retry, timeout, headers = (
                self.settings.verify,
                self.settings.retry,
                self.settings.timeout,
                self._headers,
            )

            def http() -> httpx.AsyncClient:  # built on the notifications thread, for its event loop
                inner = httpx.AsyncHTTPTransport(verify=verify, retries=0)
                transport = AsyncTracingTransport(AsyncRetryTransport(inner, retry))
                return httpx.AsyncClient(base_url=base, transport=transport, timeout=timeout, headers=headers)

            self._cometd = SyncCometdClient(http, "/notifications", headers=self._cometd_headers)
        return self._cometd

    def _cometd_headers(self) -> dict[str, str]:
        """Credentials for each CometD request: a fresh bearer token at every (re)connect."""
        found = {"x-api-key": self.settings.api_key} if self.settings.api_key else {}
        if self._tokens is not None:
            found["Authorization"] = f"Bearer {self._tokens.token()}"
        return found

    def _http(self, api: str) -> httpx.Client:
        client = httpx.Client(**self._client_options(api))
        self._clients.append(client)
        return client

    @cached_property
    def messaging(self) -> MessagingApi:
        """Third-Party Messaging: send messages, upload/download/delete media (signed per channel)."""
        return self._build("messaging")  # type: ignore[no-any-return]

    @cached_property
    def open_media(self) -> OpenMediaApi:
        """Open Media (Task Routing): workitems by interaction id or ``ext_{externalId}``."""
        return self._build("open_media")  # type: ignore[no-any-return]

    @cached_property
    def statistics(self) -> StatisticsClient:
        """Statistics: values, subscriptions, and ``subscribe()`` for CometD updates."""
        return self._build("statistics")  # type: ignore[no-any-return]

    @cached_property
    def secure_email(self) -> SecureEmailApi:
        """Secure Email."""
        return self._build("secure_email")  # type: ignore[no-any-return]

    @cached_property
    def auth(self) -> AuthApi:
        """The Authentication API (token, userinfo, sign-out...)."""
        return self._build("auth")  # type: ignore[no-any-return]

    @cached_property
    def udm(self) -> UdmApi:
        """User Data Management (v10, v4, v3)."""
        return self._build("udm")  # type: ignore[no-any-return]

    @cached_property
    def data_download(self) -> DataDownloadApi:
        """Cloud Data Download Service (deprecated by Genesys)."""
        return self._build("data_download")  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close CometD (deleting its subscriptions), every per-API client and the shared pool."""
        if self._cometd is not None:
            self._cometd.close()
            self._cometd = None
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncGenesys(_Base):
    """Asynchronous twin of ``Genesys``: the same attributes, every method awaitable."""

    _async = True

    def __init__(
        self,
        settings: Settings | None = None,
        /,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(settings, **options)
        verify = self.settings.verify
        inner = transport or _LazyPool(lambda: httpx.AsyncHTTPTransport(verify=verify, retries=0))
        self._transport = AsyncTracingTransport(AsyncRetryTransport(inner, self.settings.retry))
        self._clients: list[httpx.AsyncClient] = []
        self._cometd: CometdClient | None = None
        self._tokens: AsyncTokenManager | None = None
        if self.settings.oauth is not None:
            token_http = httpx.AsyncClient(**self._client_options(None))
            self._clients.append(token_http)
            self._tokens = AsyncTokenManager(self.settings.base_url + _TOKEN_PATH, self.settings.oauth, http=token_http)

    @property
    def tokens(self) -> AsyncTokenManager | None:
        """The OAuth2 token manager (None when no OAuth credentials are configured)."""
        return self._tokens

    def _notifications(self) -> CometdClient:
        """The CometD client of ``statistics.subscribe`` (credentials per request, as the spec says)."""
        if self._cometd is None:
            from .notifications import CometdClient

            self._cometd = CometdClient(self._http("statistics"), "/notifications")
        return self._cometd

    def _http(self, api: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(**self._client_options(api))
        self._clients.append(client)
        return client

    @cached_property
    def messaging(self) -> AsyncMessagingApi:
        """Third-Party Messaging (async)."""
        return self._build("messaging")  # type: ignore[no-any-return]

    @cached_property
    def open_media(self) -> AsyncOpenMediaApi:
        """Open Media (async)."""
        return self._build("open_media")  # type: ignore[no-any-return]

    @cached_property
    def statistics(self) -> AsyncStatisticsClient:
        """Statistics (async), with ``subscribe()`` yielding CometD updates."""
        return self._build("statistics")  # type: ignore[no-any-return]

    @cached_property
    def secure_email(self) -> AsyncSecureEmailApi:
        """Secure Email (async)."""
        return self._build("secure_email")  # type: ignore[no-any-return]

    @cached_property
    def auth(self) -> AsyncAuthApi:
        """The Authentication API (async)."""
        return self._build("auth")  # type: ignore[no-any-return]

    @cached_property
    def udm(self) -> AsyncUdmApi:
        """User Data Management (async)."""
        return self._build("udm")  # type: ignore[no-any-return]

    @cached_property
    def data_download(self) -> AsyncDataDownloadApi:
        """Cloud Data Download Service (async; deprecated by Genesys)."""
        return self._build("data_download")  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Close CometD (deleting its subscriptions), every per-API client and the shared pool."""
        if self._cometd is not None:
            await self._cometd.close()
            self._cometd = None
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
