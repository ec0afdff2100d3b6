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
import inspect
from collections.abc import Callable
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx
from genesys_cx_api._registry import APIS, Apis, AsyncApis

from ._config import Settings
from ._redact import register_secret
from ._response import handle_response
from ._schemes import Providers, SchemeAuth
from ._tracing import new_trace_id
from ._transport import AsyncTransport, SharedPool, Transport
from ._version import __version__
from .credentials import AsyncTokenManager, BearerToken, TokenManager
from .signing import HubSignature

if TYPE_CHECKING:
    from ._export_jobs import AsyncExportJobs, ExportJobs
    from .notifications import CometdClient, SyncCometdClient

__all__ = ["AsyncGenesys", "Genesys"]

_TOKEN_PATH = "/auth/v3/oauth/token"
_T = TypeVar("_T")


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
        """Values of the headers the specs mark ``x-sdk-ambient``: the configured ``x-ccid``, a fresh trace id."""
        if kind == "ccid":
            return self.settings.ccid
        # Drawn with the request rather than by the transport (same id for every attempt either way).
        return new_trace_id() if kind == "trace" else None

    def _providers(self, bearer: httpx.Auth | None) -> Providers:
        s = self.settings
        return Providers(
            api_key=s.api_key,
            client_basic=(s.oauth.client_id, s.oauth.client_secret) if s.oauth is not None else None,
            hub_signature=HubSignature(dict(s.channel_secrets)) if s.channel_secrets else None,
            bearer=bearer,
        )

    def _scheme_auth(self, api: str) -> SchemeAuth:
        security = importlib.import_module(f"genesys_cx_api.{api}._security")
        return SchemeAuth(APIS[api].base_path, security.OPERATIONS, self._providers(self._bearer()))

    _tokens: TokenManager | AsyncTokenManager | None
    _pool: SharedPool

    def _bearer(self) -> httpx.Auth | None:
        return BearerToken(self._tokens) if self._tokens is not None else None

    def _client_options(self, api: str | None) -> dict[str, Any]:
        """An httpx client on the shared pool: for one API (its base path and credentials), or, with
        ``None``, for the token endpoint (the token manager applies the client credentials itself)."""
        options: dict[str, Any] = {"transport": self._transport(), "timeout": self.settings.timeout}
        if api is None:
            api_key = {"x-api-key": self.settings.api_key} if self.settings.api_key else {}
            return {**options, "base_url": self.settings.base_url, "headers": {**self._headers, **api_key}}
        return {
            **options,
            "base_url": self.settings.base_url + APIS[api].base_path,
            "headers": self._headers,
            "auth": self._scheme_auth(api),
        }

    def _transport(self) -> Any:
        """A transport over the shared pool (tracing, logging, retries); closing it leaves the pool open."""
        raise NotImplementedError

    def _http(self, api: str) -> Any:
        raise NotImplementedError

    def _notifications(self) -> Any:
        raise NotImplementedError

    def _api(self, name: str, cls: Callable[..., _T]) -> _T:
        """The client of API *name* (an attribute of the generated ``Apis`` / ``AsyncApis`` calls this
        once, with the class the registry names), wired to this facade's pool and credentials."""
        # A hand-written API class that subscribes over CometD (Statistics) takes ``notifications``.
        extra = {"notifications": self._notifications} if "notifications" in inspect.signature(cls).parameters else {}
        return cls(self._http(name), handler=handle_response, ambient=self._ambient, **extra)


class Genesys(_Base, Apis):
    """Synchronous client for every Genesys Multicloud CX API (see the module docstring)."""

    _async = False

    def __init__(
        self, settings: Settings | None = None, /, *, transport: httpx.BaseTransport | None = None, **options: Any
    ) -> None:
        super().__init__(settings, **options)
        verify = self.settings.verify
        self._pool = SharedPool(lambda: transport or httpx.HTTPTransport(verify=verify, retries=0))
        if transport is not None:
            self._pool.get()  # the caller's transport: in use (and closed with this client) from the start
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

    @cached_property
    def exports(self) -> ExportJobs:
        """Export jobs run to completion (UDM v10; ``.version("v4" | "data_download")`` for the others)."""
        from ._export_jobs import ExportJobs

        return ExportJobs(self)

    def _notifications(self) -> SyncCometdClient:
        """The CometD client of ``statistics.subscribe`` (its own loop thread; created on first use)."""
        if self._cometd is None:
            from .notifications import SyncCometdClient

            base = self.settings.base_url + APIS["statistics"].base_path
            verify, retry, timeout, headers = (
                self.settings.verify,
                self.settings.retry,
                self.settings.timeout,
                self._headers,
            )

            def http() -> httpx.AsyncClient:  # built on the notifications thread, for its event loop
                transport = AsyncTransport(
                    httpx.AsyncHTTPTransport(verify=verify, retries=0), retry, credentials_origin=self.settings.base_url
                )
                return httpx.AsyncClient(base_url=base, transport=transport, timeout=timeout, headers=headers)

            self._cometd = SyncCometdClient(http, "/notifications", headers=self._cometd_headers)
        return self._cometd

    def _cometd_headers(self) -> dict[str, str]:
        """Credentials for each CometD request: a fresh bearer token at every (re)connect."""
        found = {"x-api-key": self.settings.api_key} if self.settings.api_key else {}
        if self._tokens is not None:
            found["Authorization"] = f"Bearer {self._tokens.token()}"
        return found

    def _transport(self) -> Transport:
        return Transport(self._pool, self.settings.retry, credentials_origin=self.settings.base_url)

    def _http(self, api: str) -> httpx.Client:
        client = httpx.Client(**self._client_options(api))
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Close CometD (deleting its subscriptions), every per-API client and the shared pool."""
        if self._cometd is not None:
            self._cometd.close()
            self._cometd = None
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncGenesys(_Base, AsyncApis):
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
        self._pool = SharedPool(lambda: transport or httpx.AsyncHTTPTransport(verify=verify, retries=0))
        if transport is not None:
            self._pool.get()  # the caller's transport: in use (and closed with this client) from the start
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

    @cached_property
    def exports(self) -> AsyncExportJobs:
        """Export jobs run to completion (async; see ``Genesys.exports``)."""
        from ._export_jobs import AsyncExportJobs

        return AsyncExportJobs(self)

    def _notifications(self) -> CometdClient:
        """The CometD client of ``statistics.subscribe`` (credentials per request, as the spec says)."""
        if self._cometd is None:
            from .notifications import CometdClient

            self._cometd = CometdClient(self._http("statistics"), "/notifications")
        return self._cometd

    def _transport(self) -> AsyncTransport:
        return AsyncTransport(self._pool, self.settings.retry, credentials_origin=self.settings.base_url)

    def _http(self, api: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(**self._client_options(api))
        self._clients.append(client)
        return client

    async def aclose(self) -> None:
        """Close CometD (deleting its subscriptions), every per-API client and the shared pool."""
        if self._cometd is not None:
            await self._cometd.close()
            self._cometd = None
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        await self._pool.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
