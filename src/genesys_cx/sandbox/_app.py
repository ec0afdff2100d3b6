"""The sandbox's ASGI application: faults, then security, validation, the API, and a spec check.

Every documented operation of the served specs gets a route under its base path, Statistics and
its CometD endpoints included (the Bayeux server is the handler of those). Every URL is served
with and without a trailing slash, as a Spring server matches them (``/statistics/v3/notifications/``
is ``/statistics/v3/notifications``, which the CometD JavaScript client needs), and nothing is ever
redirected; a path parameter may be empty, and where a trailing slash is an empty last parameter
it is that (``GET /udm/v4/export/jobs/`` is get-job with the id "", a "not found", never the
list). A request goes through, in order:

1. fault injection (``_FaultLayer``, outermost, so it can delay, refuse or drop anything);
2. the body, read up to ``config.max_body_size`` bytes (``max_media_size`` for
   ``multipart/form-data`` media uploads), else 413; a client that goes away meanwhile is one log
   line;
3. security, as the operation's ``security`` requires (alternatives: any one suffices):
   ``x-api-key`` (403, the gateway's answer for a missing or unknown key), the channel of
   ``X-Hub-Signature`` (unknown channel 404, signature not matching the raw body 401), a bearer token
   (401, or 403 where the operation documents only 403, e.g. ``ping``), HTTP Basic client
   credentials (401 with an OAuth 2 error body);
4. validation of parameters and body against the spec (400 with the envelope naming every problem;
   a body in an undocumented media type is a 415 where the operation documents 415; JSON nested
   deeper than ``MAX_DEPTH`` or with an integer Python cannot read is a 400 too);
5. the API's handler (``SandboxState.handlers``), or, for operations without one, the documented
   example of its success answer;
6. validation of the answer: one the spec does not allow is a sandbox bug, logged, recorded in
   ``state.response_violations`` and replaced by a 500 "sandbox produced an invalid response".
   Errors of steps 2-4 are checked only where the operation documents their status: the
   gateway answers them for every API, documented or not (Authentication overview). Refusals
   carry the API's own error body: the envelope, Secure Email's, or (a 400 of a CometD endpoint)
   a Bayeux error reply.
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
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from genesys_cx.signing import HEADER as SIGNATURE_HEADER
from genesys_cx.signing import verify

from ._auth import IssuedToken, client_from_basic
from ._cometd import FORM, bayeux_error, form_messages
from ._config import SandboxConfig
from ._control import SameOriginOnly, control_routes
from ._http import Call, Dropped, ErrorReply, drop_connection, envelope, parse_multipart
from ._inspector import Inspector
from ._secure_email import error_body as secure_email_error
from ._specs import Operation, SpecSet, sample_response
from ._state import SandboxState, Violation

__all__ = ["MAX_DEPTH", "create_app"]

#: The deepest nesting of a JSON body (Jackson refuses 1000; no documented body nests beyond 8).
MAX_DEPTH = 64
_MEDIA_UPLOAD = "multipart/form-data"

logger = logging.getLogger("genesys_cx.sandbox")


def create_app(config: SandboxConfig | None = None) -> tuple[Any, SandboxState]:
    """The sandbox as an ASGI application and its state (serve it with any ASGI server)."""
    state = SandboxState(config or SandboxConfig())
    routes: list[BaseRoute] = [
        # Starlette reads ``{name}`` templates as the specs write them, also inside a segment (``ext_{externalId}``).
        Route(op.route, _Endpoint(op, state), methods=[op.method])
        for op in state.specs.operations
    ]
    routes += control_routes(state, "/_sandbox")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.startup()
        try:
            yield
        finally:
            await state.shutdown()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.router.redirect_slashes = False  # a redirect is not what Genesys answers (see the docstring)
    return SameOriginOnly(Inspector(_FaultLayer(app, state), state), "/_sandbox"), state


class _FaultLayer:
    """Outermost ASGI layer: applies the matching ``Fault`` before the application sees the request."""

    def __init__(self, app: Starlette, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = _without_trailing_slash(scope, self.state.specs)
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
            await drop_connection(send)
        elif hit.status is not None:
            headers = {"Retry-After": str(hit.retry_after)} if hit.retry_after is not None else {}
            body = envelope(hit.status, f"sandbox fault: HTTP {hit.status} injected")
            await JSONResponse(body, status_code=hit.status, headers=headers)(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class _Segment(Convertor[str]):
    """A path parameter that may be empty: ``GET /udm/v4/export/jobs/`` is get-job with the id ""."""

    regex = "[^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segment", _Segment())


def _without_trailing_slash(scope: Scope, specs: SpecSet) -> Scope:
    """*scope* with its path's trailing slashes removed (``/a/b/`` is served as ``/a/b``).

    Unless the path with its slash is an operation with an empty last parameter
    (``/udm/v4/export/jobs/`` is get-job with the id "", never the list).
    """
    path = scope.get("path", "")
    if scope["type"] not in ("http", "websocket") or len(path) < 2 or not path.endswith("/"):
        return scope
    if scope["type"] == "http" and specs.find(scope["method"], path) is not None:
        return scope
    raw = scope.get("raw_path")
    stripped = {**scope, "path": path.rstrip("/") or "/"}
    if isinstance(raw, bytes):
        stripped["raw_path"] = raw.rstrip(b"/") or b"/"
    return stripped


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
                await drop_connection(send)
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
        # A Bayeux endpoint also takes its JSON array as a form (``message=``), validated as JSON.
        self.bayeux = op.api == "statistics" and op.operation_id.startswith("cometd_")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.state.loop is None:
            await self.state.startup()
        request = Request(scope, receive)
        try:
            body = await self._body(request)
        except ErrorReply as error:
            response = self._refusal(request, b"", error)
        except ClientDisconnect:
            logger.info("client went away before sending its request: %s %s", self.op.method, request.url.path)
            return
        else:
            response = await self._answer(request, body)
        await response(scope, receive, send)

    async def _body(self, request: Request) -> bytes:
        """The request body, or a 413 ``ErrorReply`` past the configured limit."""
        config = self.state.config
        upload = request.headers.get("content-type", "").lower().startswith(_MEDIA_UPLOAD)
        limit = config.max_media_size if upload else config.max_body_size
        declared = request.headers.get("content-length", "")
        too_large = ErrorReply(413, f"Payload Too Large: the body exceeds {limit} bytes")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    def _refusal(self, request: Request, body: bytes, error: ErrorReply) -> Response:
        """A security or validation error: in the API's own error body, checked where documented."""
        if error.body is None:
            error.body = _error_body(self.op, error.status, error.message)
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
        parsed: Any
        instance: Any
        if self.bayeux and media_type == FORM and body:
            try:
                instance = form_messages(body)
            except (ValueError, RecursionError) as exc:
                problems.append(f"body: the form's message field is not JSON ({type(exc).__name__})")
                return None
            self._check_body("application/json", instance, problems)
            return instance
        if media_type not in media_types:
            status = 415 if self.op.documents(415) else 400
            raise ErrorReply(
                status, f"Unsupported Media Type: {media_type or 'none'} (documented: {', '.join(media_types)})"
            )
        if not body:
            if self.validator.body_required:
                problems.append("missing required request body")
            return None
        try:
            if media_type == _MEDIA_UPLOAD:
                parsed = parse_multipart(body, content_type)
                instance = {name: _part_text(part.data, part.filename) for name, part in parsed.items()}
            elif media_type == "application/x-www-form-urlencoded":
                parsed = instance = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            elif media_type.endswith("json"):
                parsed = instance = json.loads(body)
            else:
                parsed = instance = body
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            # ValueError covers integers over Python's 4,300 digits; RecursionError, deep nesting.
            problems.append(f"body: cannot be parsed as {media_type} ({type(exc).__name__})")
            return None
        self._check_body(media_type, instance, problems)
        return parsed

    def _check_body(self, media_type: str, instance: Any, problems: list[str]) -> None:
        if _too_deep(instance):  # the schema check (and the handler) would recurse past Python's limit
            problems.append(f"body: JSON nested deeper than {MAX_DEPTH} levels")
        else:
            problems.extend(self.validator.body_problems(media_type, instance))

    # -- the answer --------------------------------------------------------------------------

    def _checked(self, request: Request, body: bytes, response: Response, *, gateway: bool = False) -> Response:
        if isinstance(response, Dropped):  # no answer on the wire: nothing to check
            return response
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


def _error_body(op: Operation, status: int, message: str) -> Any:
    """The body of a refusal in *op*'s API's own error format (None: the Genesys envelope)."""
    if op.api == "secure_email":
        return secure_email_error(status, message)
    if status == 400 and op.api == "statistics" and op.operation_id.startswith("cometd_"):  # see _Endpoint.bayeux
        return bayeux_error(status, message)  # the gateway's own refusals (401, 403, 413) stay envelopes
    return None


def _too_deep(value: Any) -> bool:
    """Whether JSON *value* nests deeper than ``MAX_DEPTH`` (iteratively: no recursion to overflow)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def _part_text(data: bytes, filename: str | None) -> str:
    if filename is not None:
        return "<binary>"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "<binary>"
