"""The generated clients on the wire (real loopback server) and on unknown values.

Each test exercises one flaw of openapi-python-client 0.29.1's own templates that ours do not have:
the fixed multipart boundary ``+++``, enums that raise on values the spec does not list,
``HTTPStatus(...)`` crashing on unlisted status codes, ``from_dict``'s local variable named after
the model clashing with a field of the same name; and the ``x-sdk-ambient`` headers filled in by the
API classes.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Collection, Iterator
from typing import Any

import httpx
import pytest
from genesys_cx_api.auth.api.authentication import retrieve_token
from genesys_cx_api.interactions.models import Event, EventType
from genesys_cx_api.messaging.api import AsyncMessagingApi, MessagingApi
from genesys_cx_api.messaging.models import (
    EmailContentType,
    EmailMessage,
    FailureReasonCode,
    ReceiptMessage,
    ReceiptStatus,
    SendMessagesRequest,
    UploadMediaRequest,
    UploadResponse,
)
from genesys_cx_api.types import File
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genesys_cx import handle_response
from genesys_cx._serve import ServerThread, serve
from genesys_cx.errors import UnexpectedStatus

INJECTION = b'\r\n--+++\r\nContent-Disposition: form-data; name="injected"\r\n\r\nx'
# The injection, plus bytes that are not text, plus something that looks like the end of the body.
PAYLOAD = b"\x89PNG\r\n\x1a\n\x00\xff" + INJECTION + b"\r\n--+++--\r\n" + bytes(range(256))


def parse_multipart(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """A strict RFC 7578 / 2046 parser: the parts exactly as a server sees them."""
    match = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type)
    assert match, f"no boundary in {content_type!r}"
    delimiter = b"\r\n--" + (match.group(1) or match.group(2)).encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    assert chunks[0] == b"", "data before the first boundary"
    assert chunks[-1].startswith(b"--"), "no closing boundary"
    parts = []
    for chunk in chunks[1:-1]:
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        parts.append(
            {
                "name": name.group(1) if name else None,
                "filename": filename.group(1) if filename else None,
                "contentType": headers.get("content-type"),
                "data": base64.b64encode(data).decode("ascii"),
            }
        )
    return parts


async def upload(request: Request) -> Response:
    body = await request.body()
    content_type = request.headers["content-type"]
    parts = parse_multipart(content_type, body)
    return JSONResponse(
        {
            "status": {"code": 0},
            "data": {"mediaId": "m-1", "filename": parts[0]["filename"], "length": len(body)},
            # not in the schema: kept by the generated model in additional_properties
            "echo": {"contentType": content_type, "ccid": request.headers.get("x-ccid"), "parts": parts},
        }
    )


async def messages(request: Request) -> Response:
    """``/channels/s<code>/messages`` answers with that status code."""
    code = int(request.path_params["channel_id"].removeprefix("s"))
    return JSONResponse({"status": {"code": code, "message": "gateway says so"}}, status_code=code)


APP = Starlette(
    routes=[
        Route("/nexus/v3/channels/{channel_id}/media", upload, methods=["POST"]),
        Route("/nexus/v3/channels/{channel_id}/messages", messages, methods=["POST"]),
    ]
)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with serve(APP) as running:
        yield running


def ambient(kind: str) -> str | None:
    return "ccid-1" if kind == "ccid" else None


def check_upload_echo(answer: Any) -> None:
    assert isinstance(answer, UploadResponse)
    echo = answer["echo"]
    assert echo["ccid"] == "ccid-1"
    content_type = echo["contentType"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert "+++" not in content_type
    assert [p["name"] for p in echo["parts"]] == ["file"], echo["parts"]
    (part,) = echo["parts"]
    assert part["filename"] == "evil.bin"
    assert part["contentType"] == "application/octet-stream"
    assert base64.b64decode(part["data"]) == PAYLOAD


def test_multipart_upload_cannot_inject_form_parts(server: ServerThread) -> None:
    with httpx.Client(base_url=server.url + "/nexus/v3") as client:
        api = MessagingApi(client, handler=handle_response, ambient=ambient)
        body = UploadMediaRequest(file=File(io.BytesIO(PAYLOAD), "evil.bin", "application/octet-stream"))
        check_upload_echo(api.upload_media("chan-1", body=body))


async def test_async_multipart_upload_cannot_inject_form_parts(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.url + "/nexus/v3") as client:
        api = AsyncMessagingApi(client, handler=handle_response, ambient=ambient)
        body = UploadMediaRequest(file=File(io.BytesIO(PAYLOAD), "evil.bin", "application/octet-stream"))
        check_upload_echo(await api.upload_media("chan-1", body=body))


def test_the_upstream_fixed_boundary_would_be_injected(server: ServerThread) -> None:
    """Control: the same upload with upstream's ``boundary=+++`` header gains a part (the test can fail)."""
    request = UploadMediaRequest(file=File(io.BytesIO(PAYLOAD), "evil.bin", "application/octet-stream"))
    answer = httpx.post(
        server.url + "/nexus/v3/channels/chan-1/media",
        files=request.to_multipart(),
        headers={"Content-Type": "multipart/form-data; boundary=+++", "x-ccid": "ccid-1"},
    )
    names = [p["name"] for p in answer.json()["echo"]["parts"]]
    assert "injected" in names


def test_a_required_ambient_header_without_a_value_fails_before_sending(server: ServerThread) -> None:
    with httpx.Client(base_url=server.url + "/nexus/v3") as client:
        api = MessagingApi(client, handler=handle_response)  # no ambient: x-ccid has no value
        with pytest.raises(ValueError, match="x-ccid"):
            api.send_message("s200", body=SendMessagesRequest(messages=[]))


@pytest.mark.parametrize("code", [299, 599])
def test_an_undocumented_status_code_reaches_the_handler_as_an_int(server: ServerThread, code: int) -> None:
    seen: list[tuple[int, bytes, str]] = []

    def handler(response: httpx.Response, parse: Any, operation: str, *, redirects: Collection[int] = ()) -> str:
        seen.append((response.status_code, response.content, operation))
        return "handled"

    with httpx.Client(base_url=server.url + "/nexus/v3") as client:
        api = MessagingApi(client, handler=handler, ambient=ambient)
        assert api.send_message(f"s{code}", body=SendMessagesRequest(messages=[])) == "handled"  # type: ignore[comparison-overlap]
    ((status, content, operation),) = seen
    assert status == code and type(status) is int
    assert b"gateway says so" in content and operation == "send_message"


def test_an_undocumented_error_status_becomes_the_runtime_error(server: ServerThread) -> None:
    with httpx.Client(base_url=server.url + "/nexus/v3") as client:
        api = MessagingApi(client, handler=handle_response, ambient=ambient)
        with pytest.raises(UnexpectedStatus) as info:
            api.send_message("s418", body=SendMessagesRequest(messages=[]))
    assert info.value.status == 418
    assert info.value.message == "gateway says so"


RECEIPT: dict[str, Any] = {
    "type": "Receipt",
    "channel": {"from": {"id": "+15550001"}, "to": {"id": "+15550002"}, "messageId": "msg-1"},
    "status": "Read",  # not in the spec's [Delivered, Removed, Failed]
    "reasons": [{"code": 777, "message": "a code added later"}],  # not in the spec's list
}
EMAIL: dict[str, Any] = {
    "type": "Email",
    "channel": {"from": {"id": "a@example.com"}, "to": {"id": "b@example.com"}},
    "subject": "Hi",
    "content": [{"type": "markdown", "text": "*hi*"}, {"type": "text", "text": "hi"}],
}


def test_unknown_enum_values_are_kept_and_visible_in_a_receipt() -> None:
    receipt = ReceiptMessage.from_dict(RECEIPT)
    assert isinstance(receipt.status, ReceiptStatus)
    assert receipt.status == "Read"
    assert receipt.status.is_known is False
    assert not isinstance(receipt.reasons, type(None))
    code = receipt.reasons[0].code  # type: ignore[index]
    assert isinstance(code, FailureReasonCode)
    assert code == 777 and code.is_known is False
    assert receipt.to_dict() == RECEIPT


def test_unknown_enum_values_survive_the_message_union() -> None:
    request = SendMessagesRequest.from_dict({"messages": [RECEIPT, EMAIL]})
    receipt, email = request.messages
    assert isinstance(receipt, ReceiptMessage) and receipt.status.is_known is False
    assert isinstance(email, EmailMessage)
    kinds = [c.type_ for c in email.content]
    assert [k.is_known for k in kinds] == [False, True]
    assert kinds[1] is EmailContentType.TEXT
    assert request.to_dict() == {"messages": [RECEIPT, EMAIL]}


def test_known_values_are_the_members_and_wrong_types_still_fail() -> None:
    assert ReceiptStatus("Delivered") is ReceiptStatus.DELIVERED
    assert ReceiptStatus.DELIVERED.is_known is True
    assert FailureReasonCode(500).is_known is True
    with pytest.raises(ValueError):
        ReceiptStatus(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FailureReasonCode("500")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FailureReasonCode(True)


def test_an_unknown_enum_value_through_a_generated_parse() -> None:
    answer = httpx.Response(
        200,
        json={"access_token": "at", "token_type": "mac", "expires_in": 60},
        request=httpx.Request("POST", "http://auth.test/auth/v3/oauth/token"),
    )
    token = retrieve_token.parse(answer)
    assert not token.token_type.is_known
    assert token.to_dict()["token_type"] == "mac"


def test_a_field_named_like_its_model_decodes() -> None:
    """Upstream's ``from_dict`` named its result after the model (``event = cls(...)`` in ``Event``),
    which shadowed the ``event`` field and did not type-check; ours keeps both apart."""
    data = {"event": "STARTED", "entity": {"id": "i-1"}}
    event = Event.from_dict(data)
    assert event.event is EventType.STARTED
    assert event.to_dict() == data


@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="a oneOf tells its variants apart by shape only (openapi-python-client ignores `discriminator`): "
    "a message whose `type` no variant lists is an InvalidData naming the variants, not kept (not fixed here)",
)
def test_a_message_of_an_unknown_type_in_the_union() -> None:
    sticker = {"type": "Sticker", "channel": RECEIPT["channel"], "sticker": "cat"}
    request = SendMessagesRequest.from_dict({"messages": [sticker]})
    assert request.to_dict() == {"messages": [sticker]}
