"""The prepared validators: parameters cast and judged, answers checked against their documented shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response

from genesys_cx.sandbox import DEMO_API_KEY, SandboxState, create_app
from genesys_cx.sandbox._validation import OperationValidator

LIMIT = "#/components/schemas/Limit"
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "paths": {
        "/things/{thingId}": {
            "parameters": [{"name": "thingId", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                "operationId": "get_thing",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": True,
                        "schema": {"$ref": "#/components/schemas/Limit"},
                    },
                    {"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}},
                    {"name": "flag", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "mode", "in": "query", "schema": {"type": "string", "enum": ["a", "b"]}},
                    {"name": "x-tags", "in": "header", "schema": {"type": "array", "maxItems": 2}},
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "headers": {"Location": {"required": True, "schema": {"type": "string", "pattern": "^/"}}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    },
                    "204": {"description": "nothing"},
                    "4XX": {"description": "refused", "content": {"image/*": {"schema": {"format": "binary"}}}},
                },
            },
        }
    },
    "components": {
        "schemas": {
            "Limit": {"type": "integer", "minimum": 1},
            "Thing": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
        }
    },
}


@pytest.fixture(scope="module")
def thing() -> OperationValidator:
    return OperationValidator.prepare("test", SPEC, SPEC)["get_thing"]


def _params(validator: OperationValidator, query: str, headers: dict[str, str] | None = None) -> list[str]:
    return validator.parameter_problems({"thingId": "t1"}, query, Headers(headers=headers or {}))


def test_an_integer_query_parameter_is_cast_then_judged(thing: OperationValidator) -> None:
    assert _params(thing, "limit=5") == []
    assert _params(thing, "limit=abc") == ["query parameter limit: cannot be read as integer"]
    assert _params(thing, "limit=") == ["query parameter limit: cannot be read as integer"]
    assert _params(thing, "limit=0") == ["query parameter limit: violates minimum 1"]
    # a repeated scalar is its values joined by commas, as a Spring server reads it: not an integer
    assert _params(thing, "limit=0&limit=3") == ["query parameter limit: cannot be read as integer"]
    assert _params(thing, "") == ["missing required query parameter limit"]


def test_booleans_and_the_empty_string(thing: OperationValidator) -> None:
    assert _params(thing, "limit=1&flag=TRUE") == []
    assert _params(thing, "limit=1&flag=off") == []
    assert _params(thing, "limit=1&flag=maybe") == ["query parameter flag: cannot be read as boolean"]
    # ``?mode=`` is the empty string, judged by the schema (not refused as "empty")
    assert _params(thing, "limit=1&mode=") == ["query parameter mode: must be one of ['a', 'b']"]


def test_array_parameters_are_read_whole(thing: OperationValidator) -> None:
    assert _params(thing, "limit=1&ids=1&ids=2") == []
    assert _params(thing, "limit=1&ids=1,2") == []  # both forms of a delimited list
    assert _params(thing, "limit=1&ids=1,2&ids=3") == []
    assert _params(thing, "limit=1&ids=1,x") == ["query parameter ids: cannot be read as integer"]
    assert _params(thing, "limit=1&ids=1&ids=x") == ["query parameter ids: cannot be read as integer"]
    assert _params(thing, "limit=1", {"x-tags": "a,b"}) == []
    assert _params(thing, "limit=1", {"x-tags": "a,b,c"}) == ["header parameter x-tags: violates maxItems 2"]


def test_messages_never_quote_the_value(thing: OperationValidator) -> None:
    problems = _params(thing, "limit=s3cret&flag=s3cret")
    assert problems and not any("s3cret" in p for p in problems)


def _answer(validator: OperationValidator, status: int, body: bytes, **headers: str) -> list[str]:
    return validator.response_problems(
        status, Headers(headers={k.replace("_", "-"): v for k, v in headers.items()}), body
    )


def test_an_undocumented_status_is_a_violation(thing: OperationValidator) -> None:
    assert _answer(thing, 500, b"") == ["status 500 is not a documented response"]
    assert _answer(thing, 204, b"") == []
    assert _answer(thing, 404, b"\x89PNG", content_type="image/png") == []  # 4XX, image/*


def test_answer_bodies_and_headers(thing: OperationValidator) -> None:
    ok = {"content_type": "application/json", "Location": "/things/t1"}
    assert _answer(thing, 200, b'{"id": "t1"}', **ok) == []
    assert _answer(thing, 200, b'{"id": 1}', **ok) == ["body.id: must be of type string"]
    assert _answer(thing, 200, b"{}", **ok) == ["body: 'id' is a required property"]
    assert _answer(thing, 200, b"{not json", **ok) == ["body: cannot be parsed as application/json"]
    assert _answer(thing, 200, b"", **ok) == ["body: missing, but the answer documents content"]
    assert _answer(thing, 200, b'{"id": "t1"}', content_type="application/json; charset=utf-8", Location="/") == []
    assert _answer(thing, 200, b'{"id": "t1"}', content_type="text/plain", Location="/") == [
        "unsupported content type 'text/plain' (documented: application/json)"
    ]
    assert _answer(thing, 200, b'{"id": "t1"}', content_type="application/json") == [
        "missing required response header Location"
    ]
    assert _answer(thing, 200, b'{"id": "t1"}', content_type="application/json", Location="elsewhere") == [
        "response header Location: violates pattern ^/"
    ]


def test_unsupported_constructs_fail_at_start() -> None:
    spec = {
        "openapi": "3.1.0",
        "paths": {
            "/x": {
                "get": {
                    "operationId": "x",
                    "parameters": [{"name": "q", "in": "query", "style": "deepObject", "schema": {"type": "object"}}],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    with pytest.raises(NotImplementedError):
        OperationValidator.prepare("x", spec, spec)


# -- through the application ----------------------------------------------------------------------


@pytest.fixture
async def app_client() -> AsyncIterator[tuple[httpx.AsyncClient, Any, SandboxState]]:
    app, state = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client, app, state
    await state.shutdown()


async def test_an_invalid_query_parameter_gets_the_documented_400(
    app_client: tuple[httpx.AsyncClient, Any, SandboxState],
) -> None:
    client, _, state = app_client
    answer = await client.get(
        "/nexus/v3/securemail", params={"address": "a@example.com", "index": "abc"}, headers={"x-api-key": DEMO_API_KEY}
    )
    assert answer.status_code == 400
    assert "query parameter index: cannot be read as integer" in answer.text
    assert "abc" not in answer.text
    assert state.response_violations == []


def _replace_handler(app: Any, operation_id: str, answer: Response) -> None:
    async def handler(call: Any) -> Response:
        return answer

    while not hasattr(app, "routes"):  # through the ASGI layers (inspector, faults) to the Starlette app
        app = app.app
    for route in app.routes:
        endpoint = getattr(route, "app", None)
        if endpoint is not None and getattr(getattr(endpoint, "op", None), "operation_id", None) == operation_id:
            endpoint.handler = handler
            return
    raise LookupError(operation_id)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (Response(status_code=418), "status 418 is not a documented response"),
        (JSONResponse({"statistics": "nope"}), "body"),
    ],
)
async def test_an_answer_outside_the_spec_is_recorded_and_replaced(
    app_client: tuple[httpx.AsyncClient, Any, SandboxState], answer: Response, problem: str
) -> None:
    client, app, state = app_client
    _replace_handler(app, "list_secure_emails", answer)
    reply = await client.get(
        "/nexus/v3/securemail", params={"address": "a@example.com"}, headers={"x-api-key": DEMO_API_KEY}
    )
    assert reply.status_code == 500
    assert "sandbox produced an invalid response" in reply.text
    [violation] = state.response_violations
    assert violation.operation_id == "list_secure_emails"
    assert any(p.startswith(problem) for p in violation.problems)
