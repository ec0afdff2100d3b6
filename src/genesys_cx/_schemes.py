"""Apply, to each request, the credentials its operation requires — as the spec says.

The generator writes each API's security requirements to ``genesys_cx_api.<api>._security``
(method, path template, operationId, alternatives of scheme names). ``SchemeAuth`` matches a request
against those templates and applies the first alternative whose schemes are all configured:
``apiKey`` (x-api-key), ``clientBasic`` (HTTP Basic client credentials), ``hubSignature``
(HMAC of the exact body bytes) and ``bearer`` / ``oauth2`` (a fresh token; one refresh and retry
on 401, delegated to ``genesys_cx.credentials.BearerToken``). When no alternative can be satisfied the
request is not sent: ``MissingCredentials`` says which credentials the operation needs.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncGenerator, Generator, Sequence
from dataclasses import dataclass, field

import httpx

from ._headers import OPERATION_EXTENSION
from .errors import MissingCredentials
from .signing import HEADER as SIGNATURE_HEADER
from .signing import HubSignature, asign_request, sign_request

__all__ = ["Providers", "SchemeAuth"]

Operations = Sequence[tuple[str, str, str, tuple[tuple[str, ...], ...]]]


@dataclass(frozen=True)
class Providers:
    """The credentials a client holds, by OpenAPI security scheme name."""

    api_key: str | None = field(default=None, repr=False)
    client_basic: tuple[str, str] | None = field(default=None, repr=False)
    hub_signature: HubSignature | None = None
    bearer: httpx.Auth | None = None

    def available(self) -> frozenset[str]:
        names = set()
        if self.api_key is not None:
            names.add("apiKey")
        if self.client_basic is not None:
            names.add("clientBasic")
        if self.hub_signature is not None:
            names.add("hubSignature")
        if self.bearer is not None:
            names.update(("bearer", "oauth2"))
        return frozenset(names)


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    alternatives: tuple[tuple[str, ...], ...]


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(regex + "$")


class SchemeAuth(httpx.Auth):
    """An ``httpx.Auth`` for one API: per-operation credentials from its generated security table."""

    requires_request_body = False  # the flows read a body only when they must (see _signer)

    def __init__(self, base_path: str, operations: Operations, providers: Providers) -> None:
        self._base_path = base_path.rstrip("/")
        # Literal paths first, so /interactions/ext_{externalId} wins over /interactions/{interactionId}.
        ordered = sorted(operations, key=lambda op: (op[1].count("{"), -len(op[1])))
        self._routes = [_Route(m, _compile(t), o, alts) for m, t, o, alts in ordered]
        self._providers = providers
        self._available = providers.available()

    def __repr__(self) -> str:
        return f"SchemeAuth({self._base_path!r}, schemes={sorted(self._available)})"

    def _route(self, request: httpx.Request) -> _Route | None:
        path = request.url.path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :] or "/"
        for route in self._routes:
            if route.method == request.method and route.pattern.match(path):
                return route
        return None

    def _schemes(self, request: httpx.Request) -> tuple[str, ...]:
        route = self._route(request)
        if route is None:  # not an operation of the spec: send what we have, except bearer tokens
            return tuple(sorted(self._available & {"apiKey", "hubSignature"}))
        request.extensions[OPERATION_EXTENSION] = route.operation  # named by a TransportError
        for alternative in route.alternatives:
            if set(alternative) <= self._available:
                return alternative
        if not route.alternatives:
            return ()
        needed = " or ".join("+".join(alt) for alt in route.alternatives)
        raise MissingCredentials(
            f"{route.operation} requires {needed}; configure the missing credentials on the client",
            operation=route.operation,
        )

    def _prepare(self, request: httpx.Request, signature: str | None) -> httpx.Auth | None:
        """Set the static credentials; return the bearer auth to run last, if the operation needs it."""
        schemes = self._schemes(request)
        providers = self._providers
        if "apiKey" in schemes and providers.api_key is not None:
            request.headers["x-api-key"] = providers.api_key
        if "clientBasic" in schemes and providers.client_basic is not None:
            client_id, client_secret = providers.client_basic
            token = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
            request.headers["Authorization"] = f"Basic {token}"
        if signature is not None:
            request.headers[SIGNATURE_HEADER] = signature
        if ("bearer" in schemes or "oauth2" in schemes) and providers.bearer is not None:
            return providers.bearer
        return None

    def _signer(self, request: httpx.Request) -> HubSignature | None:
        """The ``hubSignature`` provider when the operation is to be signed (the body is read for it only)."""
        hub = self._providers.hub_signature
        return hub if hub is not None and "hubSignature" in self._schemes(request) else None

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        hub = self._signer(request)
        bearer = self._prepare(request, sign_request(hub.secret_for(request), request) if hub else None)
        if bearer is None:
            yield request
            return
        yield from bearer.sync_auth_flow(request)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        hub = self._signer(request)
        bearer = self._prepare(request, await asign_request(hub.secret_for(request), request) if hub else None)
        if bearer is None:
            yield request
            return
        flow = bearer.async_auth_flow(request)
        outgoing = await flow.__anext__()
        while True:
            response = yield outgoing
            try:
                outgoing = await flow.asend(response)
            except StopAsyncIteration:
                return
