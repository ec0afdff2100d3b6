"""Apply, to each request, the credentials its operation requires — as the spec says.

The generator writes each API's security requirements to ``genesys_cx_api.<api>._security``
(method, path template, operationId, alternatives of scheme names). ``SchemeAuth`` decides once per
operation which alternative applies (the first whose schemes are all configured), finds a request's
operation by the name the generated API classes put in ``request.extensions`` (or else by the path
templates), and applies it:
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
from genesys_cx_api._runtime import OPERATION_EXTENSION

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
class _Plan:
    """What to do to a request of one operation, decided once when the client is built."""

    operation: str | None
    headers: tuple[tuple[str, str], ...]  # static credentials: x-api-key, Authorization: Basic
    sign: bool
    bearer: httpx.Auth | None
    missing: str | None  # the MissingCredentials message when no alternative is configured


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    plan: _Plan


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(regex + "$")


def _plan(operation: str | None, schemes: tuple[str, ...], providers: Providers) -> _Plan:
    headers: list[tuple[str, str]] = []
    if "apiKey" in schemes and providers.api_key is not None:
        headers.append(("x-api-key", providers.api_key))
    if "clientBasic" in schemes and providers.client_basic is not None:
        client_id, client_secret = providers.client_basic
        token = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        headers.append(("Authorization", f"Basic {token}"))
    sign = "hubSignature" in schemes and providers.hub_signature is not None
    bearer = providers.bearer if "bearer" in schemes or "oauth2" in schemes else None
    return _Plan(operation, tuple(headers), sign, bearer, None)


def _operation_plan(operation: str, alternatives: tuple[tuple[str, ...], ...], providers: Providers) -> _Plan:
    available = providers.available()
    for alternative in alternatives:
        if set(alternative) <= available:
            return _plan(operation, alternative, providers)
    if not alternatives:
        return _plan(operation, (), providers)
    needed = " or ".join("+".join(alt) for alt in alternatives)
    missing = f"{operation} requires {needed}; configure the missing credentials on the client"
    return _Plan(operation, (), False, None, missing)


class SchemeAuth(httpx.Auth):
    """An ``httpx.Auth`` for one API: per-operation credentials from its generated security table.

    What each operation gets is decided once, here, for every operation of the table. A request
    names its operation in ``request.extensions`` (the generated API classes do); any other request
    is matched against the table's path templates, and one matching none gets the API key and the
    signature, never a bearer token.
    """

    requires_request_body = False  # the flows read a body only when they must (signing)

    def __init__(self, base_path: str, operations: Operations, providers: Providers) -> None:
        self._base_path = base_path.rstrip("/")
        self._providers = providers
        self._available = providers.available()
        self._hub = providers.hub_signature
        plans: dict[object, _Plan] = {op: _operation_plan(op, alts, providers) for _, _, op, alts in operations}
        self._plans = plans
        # Literal paths first, so /interactions/ext_{externalId} wins over /interactions/{interactionId}.
        ordered = sorted(operations, key=lambda op: (op[1].count("{"), -len(op[1])))
        self._routes = [_Route(m, _compile(t), plans[o]) for m, t, o, _ in ordered]
        # not an operation of the spec: send what we have, except bearer tokens
        self._unknown = _plan(None, tuple(sorted(self._available & {"apiKey", "hubSignature"})), providers)

    def __repr__(self) -> str:
        return f"SchemeAuth({self._base_path!r}, schemes={sorted(self._available)})"

    def _route(self, request: httpx.Request) -> _Plan:
        path = request.url.path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :] or "/"
        for route in self._routes:
            if route.method == request.method and route.pattern.match(path):
                request.extensions[OPERATION_EXTENSION] = route.plan.operation  # named by a TransportError
                return route.plan
        return self._unknown

    def _credentials(self, request: httpx.Request) -> _Plan:
        """Set the static credentials of *request*'s operation; its plan says what else to do."""
        plan = self._plans.get(request.extensions.get(OPERATION_EXTENSION)) or self._route(request)
        if plan.missing is not None:
            raise MissingCredentials(plan.missing, operation=plan.operation)
        for name, value in plan.headers:
            request.headers[name] = value
        return plan

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        plan = self._credentials(request)
        if plan.sign and self._hub is not None:
            request.headers[SIGNATURE_HEADER] = sign_request(self._hub.secret_for(request), request)
        bearer = plan.bearer
        if bearer is None:
            yield request
            return
        yield from bearer.sync_auth_flow(request)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        plan = self._credentials(request)
        if plan.sign and self._hub is not None:
            request.headers[SIGNATURE_HEADER] = await asign_request(self._hub.secret_for(request), request)
        bearer = plan.bearer
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
