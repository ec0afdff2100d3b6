"""Every documented operation answers, and within its spec, when called with a minimal valid request."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from genesys_cx_api._registry import APIS

from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CHANNEL_SECRET,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    Sandbox,
)
from genesys_cx.sandbox._specs import Operation, spec_set
from genesys_cx.signing import sign

from ._examples import FILE_CONTENT, body_media_type, example_body, path_with_values, required_query, spec_operation

OPERATIONS = spec_set().operations


def _request(client: httpx.Client, op: Operation, token: str) -> httpx.Request:
    spec, raw = spec_operation(op.api, op.path.removeprefix(APIS[op.api].base_path), op.method)
    query = {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in required_query(spec, raw).items()
    }
    headers = {"x-api-key": DEMO_API_KEY, "x-ccid": DEMO_CCID}
    if "bearer" in str(op.security):
        headers["Authorization"] = f"Bearer {token}"
    kwargs: dict[str, Any] = {}
    media_type = body_media_type(spec, raw)
    if media_type == "application/json":
        kwargs["content"] = json.dumps(example_body(spec, raw)).encode()
        headers["Content-Type"] = "application/json"
    elif media_type == "multipart/form-data":
        kwargs["files"] = {"file": ("f.png", FILE_CONTENT, "image/png")}
    elif media_type == "application/x-www-form-urlencoded":
        kwargs["data"] = {"grant_type": "client_credentials"}
        headers["Authorization"] = httpx.BasicAuth(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)._auth_header
    request = client.build_request(op.method, path_with_values(op.path), params=query, headers=headers, **kwargs)
    if "hubSignature" in str(op.security):
        request.headers["X-Hub-Signature"] = sign(DEMO_CHANNEL_SECRET, request.read())
    return request


#: Operations whose minimal request is refused on purpose (sample client id / old password are wrong).
REFUSED_BY_DESIGN = {"authorize", "change_password"}


@pytest.fixture(scope="module")
def shared() -> Any:
    with Sandbox() as sb, httpx.Client(base_url=sb.url, timeout=10) as client:
        yield sb, client


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{op.api}.{op.operation_id}" for op in OPERATIONS])
def test_operation_answers_within_its_spec(shared: Any, op: Operation) -> None:
    sb, client = shared
    token = client.post(
        "/auth/v3/oauth/token",
        headers={"x-api-key": DEMO_API_KEY},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        data={"grant_type": "password", "username": DEMO_USERNAME, "password": DEMO_PASSWORD},
    )
    before = len(sb.state.response_violations)
    answer = client.send(_request(client, op, token.json()["access_token"]))
    assert answer.status_code < 500 or op.documents(answer.status_code), answer.text
    if op.operation_id not in REFUSED_BY_DESIGN:
        assert answer.status_code not in (401, 403, 415), answer.text  # credentials and media types were right
    assert sb.state.response_violations[before:] == []
