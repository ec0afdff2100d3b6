"""Control routes under ``/_sandbox``: drive and inspect the sandbox over HTTP (no credentials).

=======  =====================================  ==============================================
GET      /_sandbox                              what is served, channel ids, demo API key
POST     /_sandbox/channels/{id}/agent-replies  an agent reply: ``{"text", "to"?, "subject"?,
                                                "html"?}`` -> 202 with the outgoing message
GET      /_sandbox/channels/{id}/messages       what the integrator sent on that channel
GET      /_sandbox/deliveries                   agent messages and their attempts (``?channel=``)
GET      /_sandbox/deliveries/{message_id}      one agent message
GET      /_sandbox/faults                       the active fault rules
POST     /_sandbox/faults                       add a rule (a JSON ``Fault``) -> 201
DELETE   /_sandbox/faults[/{id}]                remove every rule / one rule
POST     /_sandbox/tokens/expire                expire every access token now
GET      /_sandbox/violations                   answers that broke the spec (should be empty)
=======  =====================================  ==============================================

Bad input is a 400 ``{"error": "..."}``; an unknown channel or message is a 404.

No credentials are asked, so that a test or a shell can drive the sandbox; what keeps a web page
open in the developer's browser from driving it (the sandbox listens on a port of their machine,
and a page may POST there) is ``SameOriginOnly``: under ``/_sandbox`` (the inspector included) a
request that a browser marks as coming from another site -- an ``Origin`` that is not the sandbox's
own address, or ``Sec-Fetch-Site: cross-site`` -- gets 403. Clients that are not browsers send
neither header and are not affected.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ._faults import Fault

__all__ = ["SameOriginOnly", "control_routes"]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to read
        raise _BadInput("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _BadInput("the body must be a JSON object")
    return data


class _BadInput(Exception):
    pass


class SameOriginOnly:
    """ASGI layer: requests under *prefix* from a page of another site get 403 (see the docstring)."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            refused = _cross_site(scope)
            if refused:
                await _error(403, f"the sandbox's control routes refuse requests from other sites ({refused})")(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


def _cross_site(scope: Scope) -> str | None:
    """Why this request comes from a page of another site, or None."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
    if headers.get("sec-fetch-site") == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    origin = headers.get("origin")
    if origin is None:
        return None
    own = headers.get("host", "")
    scheme, _, address = origin.partition("://")
    if origin == "null" or address.lower() != own.lower() or scheme not in ("http", "https"):
        return f"Origin {origin}"
    return None


def control_routes(state: Any, prefix: str) -> list[BaseRoute]:
    """The control routes for *state* (a ``SandboxState``) under *prefix* (``/_sandbox``)."""

    async def overview(request: Request) -> Response:
        return JSONResponse(
            {
                "apis": sorted([*state.specs.specs, "statistics"]),
                "channels": [c.id for c in state.config.channels],
                "open_media_services": state.config.open_media_services,
            }
        )

    async def agent_reply(request: Request) -> Response:
        channel = state.config.channel(request.path_params["channel_id"])
        if channel is None:
            return _error(404, f"no channel {request.path_params['channel_id']!r}")
        try:
            data = await _json(request)
            text = data.pop("text", None)
            if not isinstance(text, str):
                raise _BadInput("'text' (a string) is required")
            allowed = {"to", "subject", "html", "sender_name", "reply_to"}
            if set(data) - allowed or not all(isinstance(v, str) for v in data.values()):
                raise _BadInput(f"optional string fields: {', '.join(sorted(allowed))}")
            message = state.messaging.build_reply(channel, text, **data)
        except (_BadInput, ValueError) as exc:
            return _error(400, str(exc))
        state.messaging.reply(message, channel, state.http_client())
        return JSONResponse(message.to_dict(), status_code=202)

    async def inbound(request: Request) -> Response:
        messages = state.messaging.inbound(request.path_params["channel_id"])
        return JSONResponse({"messages": [m.to_dict() for m in messages]})

    async def deliveries(request: Request) -> Response:
        messages = state.outbox.messages(request.query_params.get("channel"))
        return JSONResponse({"messages": [m.to_dict() for m in messages]})

    async def delivery(request: Request) -> Response:
        message = state.outbox.get(request.path_params["message_id"])
        return _error(404, "no such agent message") if message is None else JSONResponse(message.to_dict())

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"faults": [f.to_dict() for f in state.faults]})
        if request.method == "DELETE":
            state.faults.clear()
            return Response(status_code=204)
        try:
            rule = state.faults.add(Fault.from_mapping(await _json(request)))
        except (_BadInput, ValueError) as exc:
            return _error(400, str(exc))
        return JSONResponse(rule.to_dict(), status_code=201)

    async def fault(request: Request) -> Response:
        found = state.faults.remove(request.path_params["fault_id"])
        return Response(status_code=204) if found else _error(404, "no such fault")

    async def expire(request: Request) -> Response:
        state.tokens.expire_all()
        return Response(status_code=204)

    async def violations(request: Request) -> Response:
        return JSONResponse({"violations": [asdict(v) for v in state.response_violations]})

    return [
        Route(prefix, overview, methods=["GET"]),
        Route(prefix + "/channels/{channel_id}/agent-replies", agent_reply, methods=["POST"]),
        Route(prefix + "/channels/{channel_id}/messages", inbound, methods=["GET"]),
        Route(prefix + "/deliveries", deliveries, methods=["GET"]),
        Route(prefix + "/deliveries/{message_id}", delivery, methods=["GET"]),
        Route(prefix + "/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(prefix + "/faults/{fault_id:int}", fault, methods=["DELETE"]),
        Route(prefix + "/tokens/expire", expire, methods=["POST"]),
        Route(prefix + "/violations", violations, methods=["GET"]),
    ]
