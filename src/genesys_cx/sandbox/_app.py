"""The sandbox's ASGI application: faults, then security, validation, the API, and a spec check.

Every documented operation of the served specs gets a route under its base path. A request goes
through, in order:

1. fault injection (``_FaultLayer``, outermost, so it can delay, refuse or drop anything);
2. security, as the operation's ``security`` requires (alternatives: any one suffices):
   ``x-api-key`` (403, the gateway's answer for a missing or unknown key), the channel of
   ``X-Hub-Signature`` (unknown channel 404, signature not matching the raw body 401), a bearer token
   (401, or 403 where the operation documents only 403, e.g. ``ping``), HTTP Basic client
   credentials (401 with an OAuth 2 error body);
3. validation of parameters and body against the spec (400 with the envelope naming every problem;
   a body in an undocumented media type is a 415 where the operation documents 415);
4. the API's handler (``SandboxState.handlers``), or, for operations without one, the documented
   example of its success answer;
5. validation of the answer: one the spec does not allow is a sandbox bug, logged, recorded in
   ``state.response_violations`` and replaced by a 500 "sandbox produced an invalid response".
   Errors of steps 2-3 are checked only where the operation documents their status: the
   gateway answers them for every API, documented or not (Authentication overview).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Message, Receive, Scope, Send

from genesys_cx.signing import HEADER as SIGNATURE_HEADER
from genesys_cx.signing import verify

from ._auth import IssuedToken, client_from_basic
from ._config import SandboxConfig
from ._control import control_routes
from ._http import Call, ErrorReply, envelope, parse_multipart
from ._inspector import Inspector
from ._secure_email import error_body as secure_email_error
from ._specs import Operation, sample_response
from ._state import SandboxState, Violation

__all__ = ["create_app"]

logger = logging.getLogger("genesys_cx.sandbox")


def create_app(config: SandboxConfig | None = None) -> tuple[Any, SandboxState]:
    """The sandbox as an ASGI application and its state (serve it with any ASGI server)."""
    state = SandboxState(config or SandboxConfig())
    routes: list[BaseRoute] = [
        # Starlette reads ``{name}`` templates as the specs write them, also inside a segment (``ext_{externalId}``).
        Route(op.path, _Endpoint(op, state), methods=[op.method])
        for op in state.specs.operations
    ]
    if state.statistics is not None:
        routes.append(Mount("/statistics/v3", routes=state.statistics.routes))
    routes.append(Mount("/_sandbox", routes=control_routes(state)))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.startup()
        try:
            yield
        finally:
            await state.shutdown()

    app = Starlette(routes=routes, lifespan=lifespan)
    return Inspector(_FaultLayer(app, state), state), state


class _FaultLayer:
    """Outermost ASGI layer: applies the matching ``Fault`` before the application sees the request."""

    def __init__(self, app: Starlette, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        found = self.state.specs.find(scope["method"], scope["path"])
        hit = self.state.faults.check(scope["method"], scope["path"], found[0].operation_id if found else None)
        self.state.events.fault(scope, hit)
        if hit is None:
            await self.app(scope, receive, send)
            return
        if hit.latency:
            await asyncio.sleep(hit.latency)
        if hit.drop_after is not None:
            await self.app(scope, receive, _cut_after(send, hit.drop_after))
        elif hit.drop:
            await _drop_connection(send)
        elif hit.status is not None:
            headers = {"Retry-After": str(hit.retry_after)} if hit.retry_after is not None else {}
            body = envelope(hit.status, f"sandbox fault: HTTP {hit.status} injected")
            await JSONResponse(body, status_code=hit.status, headers=headers)(scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def _drop_connection(send: Send) -> None:
    """Close the connection without answering (the client sees the server disconnect).

    uvicorn hands the application a bound ``send`` of its request cycle; aborting that cycle's
    transport and letting ``connection_lost`` run leaves no answer on the wire. Elsewhere, start an
    answer and never finish it: the client sees the peer close mid-response.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()
        for _ in range(10):
            if getattr(cycle, "disconnected", False):
                return
            await asyncio.sleep(0)
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})


def _cut_after(send: Send, limit: int) -> Send:
    """*send*, but the connection drops once *limit* bytes of the answer's body have gone out."""
    sent = 0

    async def cut(message: Message) -> None:
        nonlocal sent
        if sent > limit:
            return  # already dropped: the rest of the answer goes nowhere
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            if sent + len(body) > limit or (sent + len(body) == limit and not message.get("more_body")):
                await send({"type": "http.response.body", "body": body[: limit - sent], "more_body": True})
                sent = limit + 1
                await _drop_connection(send)
                return
            sent += len(body)
        await send(message)

    return cut


class _Endpoint:
    """The ASGI endpoint of one documented operation (see the module docstring for the steps)."""

    def __init__(self, op: Operation, state: SandboxState) -> None:
        self.op = op
        self.state = state
        self.handler = state.handlers.get(op.api, {}).get(op.operation_id)
        self.validator = state.specs.validator(op)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.state.loop is None:
            await self.state.startup()
        request = Request(scope, receive)
        body = await request.body()
        response = await self._answer(request, body)
        await response(scope, receive, send)

    def _refusal(self, request: Request, body: bytes, error: ErrorReply) -> Response:
        """A security or validation error: in the API's own envelope, checked where documented."""
        if self.op.api == "secure_email" and error.body is None:
            error.body = secure_email_error(error.status, error.message)
        self.state.events.refused(request.scope, error.status, error.message)
        return self._checked(request, body, error.response(), gateway=True)

    async def _answer(self, request: Request, body: bytes) -> Response:
        try:
            token = self._authorize(request, body)
        except ErrorReply as error:
            return self._refusal(request, body, error)
        problems = self.validator.parameter_problems(request.path_params, request.url.query, request.headers)
        try:
            parsed = self._parse_body(request, body, problems)
        except ErrorReply as error:
            return self._refusal(request, body, error)
        if problems:
            return self._refusal(request, body, ErrorReply(400, "; ".join(problems)))
        call = Call(request, self.op, dict(request.path_params), body, parsed, token)
        try:
            response = await self.handler(call) if self.handler is not None else self._example()
        except ErrorReply as error:
            response = error.response()
        except Exception as exc:
            logger.exception("sandbox handler %s failed", self.op.operation_id)
            self.state.record_violation(
                Violation(
                    self.op.operation_id,
                    self.op.method,
                    request.url.path,
                    500,
                    (f"handler raised {type(exc).__name__}",),
                )
            )
            return JSONResponse(envelope(500, "sandbox error: the handler failed"), status_code=500)
        return self._checked(request, body, response)

    def _example(self) -> Response:
        status, content_type, value = sample_response(self.state.specs.specs[self.op.api], self.op)
        if content_type is None:
            return Response(status_code=status)
        if "json" in content_type:
            return JSONResponse(value, status_code=status, media_type=content_type)
        return Response(value if isinstance(value, (bytes, str)) else b"", status_code=status, media_type=content_type)

    # -- security ----------------------------------------------------------------------------

    def _authorize(self, request: Request, body: bytes) -> IssuedToken | None:
        headers = request.headers
        authorization = headers.get("authorization", "")
        bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        token = self.state.tokens.lookup(bearer)
        first_failure: ErrorReply | None = None
        for requirement in self.op.security:
            failure = self._failure(requirement, request, body, token)
            if failure is None:
                return token
            first_failure = first_failure or failure
        if first_failure is not None:
            raise first_failure
        return token

    def _failure(
        self,
        requirement: frozenset[str],
        request: Request,
        body: bytes,
        token: IssuedToken | None,
    ) -> ErrorReply | None:
        config = self.state.config
        headers = request.headers
        if "apiKey" in requirement and headers.get("x-api-key") not in config.api_keys:
            return ErrorReply(403, "Forbidden: missing or invalid x-api-key")
        if "hubSignature" in requirement:
            channel_id = request.path_params.get("channelId", "")
            channel = config.channel(channel_id)
            self.state.events.signature(request.scope, channel_id, channel, body, headers.get(SIGNATURE_HEADER))
            if channel is None:
                return ErrorReply(404, f"Channel {channel_id} not found")
            if not verify(channel.secret, body, headers.get(SIGNATURE_HEADER)):
                return ErrorReply(401, "Unauthorized: X-Hub-Signature is missing or does not match the request body")
        if requirement & {"bearer", "oauth2"} and token is None:
            status = 403 if self.op.documents(403) and not self.op.documents(401) else 401
            return ErrorReply(status, "Unauthorized: the access token is missing, expired or invalid")
        if "clientBasic" in requirement and client_from_basic(config, headers.get("authorization")) is None:
            return ErrorReply(
                401,
                "Bad client credentials",
                body={"error": "unauthorized", "error_description": "Bad client credentials"},
            )
        return None

    # -- request body ------------------------------------------------------------------------

    def _parse_body(self, request: Request, body: bytes, problems: list[str]) -> Any:
        media_types = self.validator.body_schemas
        if not media_types:
            return None
        content_type = request.headers.get("content-type", "")
        media_type = content_type.split(";")[0].strip().lower()
        if not body and not media_type:
            if self.validator.body_required:
                problems.append("missing required request body")
            return None
        if media_type not in media_types:
            status = 415 if self.op.documents(415) else 400
            raise ErrorReply(
                status, f"Unsupported Media Type: {media_type or 'none'} (documented: {', '.join(media_types)})"
            )
        parsed: Any
        instance: Any
        try:
            if media_type == "multipart/form-data":
                parsed = parse_multipart(body, content_type)
                instance = {name: _part_text(part.data, part.filename) for name, part in parsed.items()}
            elif media_type == "application/x-www-form-urlencoded":
                parsed = instance = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            elif media_type.endswith("json"):
                parsed = instance = json.loads(body) if body else None
            else:
                parsed = instance = body
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(f"body: cannot be parsed as {media_type} ({type(exc).__name__})")
            return None
        if instance is None:
            if self.validator.body_required:
                problems.append("missing required request body")
            return None
        problems.extend(self.validator.body_problems(media_type, instance))
        return parsed

    # -- the answer --------------------------------------------------------------------------

    def _checked(self, request: Request, body: bytes, response: Response, *, gateway: bool = False) -> Response:
        if not self.state.config.validate_responses or (gateway and not self.op.documents(response.status_code)):
            return response
        payload = bytes(response.body) if hasattr(response, "body") else None  # None: streamed, not read
        problems = self.validator.response_problems(response.status_code, Headers(raw=response.raw_headers), payload)
        if not problems:
            return response
        self.state.record_violation(
            Violation(
                self.op.operation_id,
                self.op.method,
                request.url.path,
                response.status_code,
                tuple(problems),
            )
        )
        return JSONResponse(
            envelope(500, "sandbox produced an invalid response: " + "; ".join(problems)), status_code=500
        )


def _part_text(data: bytes, filename: str | None) -> str:
    if filename is not None:
        return "<binary>"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "<binary>"
