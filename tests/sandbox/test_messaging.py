"""Third-Party Messaging against the sandbox: inbound messages, receipts, media, security errors."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from genesys_cx_api.messaging.models import SendMessagesRequest, UploadMediaRequest
from genesys_cx_api.types import File, Unset

from genesys_cx.errors import ApiError
from genesys_cx.sandbox import DEMO_CCID, DEMO_CHANNEL_ID, Sandbox, SandboxChannel, SandboxConfig
from genesys_cx.signing import sign

from ._helpers import messaging_api, signed_post

SMS = {
    "messages": [
        {
            "channel": {"from": {"id": "16504661149"}, "to": {"id": DEMO_CHANNEL_ID}},
            "type": "Text",
            "text": "Consumer message text",
        }
    ]
}
MESSAGES = f"/nexus/v3/channels/{DEMO_CHANNEL_ID}/messages"


def test_signed_inbound_sms_is_accepted_and_stored(sb: Sandbox) -> None:
    api = messaging_api(sb)
    answer = api.send_message(DEMO_CHANNEL_ID, body=SendMessagesRequest.from_dict(SMS))

    assert answer.status.code == 0
    (message_id,) = answer.data.ids
    stored = sb.inbound(DEMO_CHANNEL_ID)
    assert [(m.id, m.type, m.payload["text"]) for m in stored] == [(message_id, "Text", "Consumer message text")]


def test_several_messages_get_distinct_ids_in_order(sb: Sandbox, api_client: httpx.Client) -> None:
    body = {"messages": SMS["messages"] * 3}
    answer = signed_post(api_client, MESSAGES, json.dumps(body).encode())
    ids = answer.json()["data"]["ids"]
    assert answer.status_code == 200 and len(set(ids)) == 3
    assert [m.id for m in sb.inbound()] == ids


def test_inbound_email_and_rich_media_are_accepted(sb: Sandbox, api_client: httpx.Client) -> None:
    email = {
        "type": "Email",
        "channel": {"from": {"id": "a@mail.com"}, "to": {"id": "company.com"}},
        "subject": "Hi",
        "content": [{"type": "text", "text": "body"}],
    }
    rich = {"type": "RichMedia", "channel": {"from": {"id": "1"}, "to": {"id": "2"}}, "url": "genesys://nexus/x"}
    answer = signed_post(api_client, MESSAGES, json.dumps({"messages": [email, rich]}).encode())
    assert answer.status_code == 200, answer.text
    assert [m.type for m in sb.inbound()] == ["Email", "RichMedia"]
    assert sb.inbound()[1].payload["url"] == "genesys://nexus/x"  # undocumented fields kept


def test_signature_is_checked_over_the_raw_bytes(sb: Sandbox, api_client: httpx.Client) -> None:
    # Same JSON, different bytes: a signature over a re-serialisation does not count.
    raw = b'{"messages":[{"channel":{"from":{"id":"1"},"to":{"id":"2"}},"type":"Text","text":"x"}]}'
    spaced = json.dumps(json.loads(raw), indent=2).encode()
    answer = signed_post(api_client, MESSAGES, spaced, headers={"X-Hub-Signature": sign("sandbox-channel-secret", raw)})
    assert answer.status_code == 401
    assert signed_post(api_client, MESSAGES, raw).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({"X-Hub-Signature": "sha1=" + "0" * 40}, 401, "X-Hub-Signature"),
        ({"X-Hub-Signature": ""}, 401, "X-Hub-Signature"),
        ({"x-api-key": "wrong"}, 403, "x-api-key"),
    ],
)
def test_credentials_errors_use_the_documented_envelope(
    sb: Sandbox,
    api_client: httpx.Client,
    headers: dict[str, str],
    status: int,
    words: str,
) -> None:
    answer = signed_post(api_client, MESSAGES, json.dumps(SMS).encode(), headers=headers)
    assert answer.status_code == status
    assert answer.json()["status"]["code"] == status and words in answer.json()["status"]["message"]
    assert sb.inbound() == []  # nothing of a refused request is stored


def test_missing_api_key_is_forbidden(sb: Sandbox) -> None:
    body = json.dumps(SMS).encode()
    answer = httpx.post(
        sb.url + MESSAGES,
        content=body,
        headers={
            "Content-Type": "application/json",
            "x-ccid": DEMO_CCID,
            "X-Hub-Signature": sign("sandbox-channel-secret", body),
        },
    )
    assert answer.status_code == 403


def test_generated_client_with_a_wrong_secret_gets_401(sb: Sandbox) -> None:
    api = messaging_api(sb, secret="not-the-secret")
    with pytest.raises(ApiError) as caught:
        api.send_message(DEMO_CHANNEL_ID, body=SendMessagesRequest.from_dict(SMS))
    assert caught.value.status == 401


def test_unknown_channel_is_404(sb: Sandbox, api_client: httpx.Client) -> None:
    answer = signed_post(api_client, "/nexus/v3/channels/nope/messages", json.dumps(SMS).encode())
    assert answer.status_code == 404
    assert "nope" in answer.json()["status"]["message"]


def test_missing_x_ccid_is_a_400_naming_the_header(sb: Sandbox, api_client: httpx.Client) -> None:
    answer = signed_post(api_client, MESSAGES, json.dumps(SMS).encode(), ccid=None)
    assert answer.status_code == 400
    assert "x-ccid" in answer.json()["status"]["message"]


def test_foreign_contact_center_is_404(sb: Sandbox, api_client: httpx.Client) -> None:
    assert signed_post(api_client, MESSAGES, json.dumps(SMS).encode(), ccid="other-cc").status_code == 404


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"messages": [{"type": "Text", "channel": {"from": {"id": "1"}, "to": {"id": "2"}}}]}, "text"),
        ({"messages": [{"type": "Carrier pigeon"}]}, "body.messages[0].type"),
        ({"nothing": []}, "messages"),
    ],
)
def test_invalid_body_is_a_400_naming_the_problem(
    sb: Sandbox,
    api_client: httpx.Client,
    body: dict[str, object],
    named: str,
) -> None:
    answer = signed_post(api_client, MESSAGES, json.dumps(body).encode())
    assert answer.status_code == 400
    assert named in answer.json()["status"]["message"]
    assert sb.inbound() == []


def test_not_json_is_a_400(sb: Sandbox, api_client: httpx.Client) -> None:
    answer = signed_post(api_client, MESSAGES, b"{not json")
    assert answer.status_code == 400 and "body" in answer.json()["status"]["message"]


def test_receipt_updates_the_agent_message_it_names(make_sandbox, receiver) -> None:  # type: ignore[no-untyped-def]
    config = SandboxConfig(channels=[SandboxChannel(DEMO_CHANNEL_ID, "sandbox-channel-secret", receiver.url)])
    sb = make_sandbox(config)
    reply = sb.agent_reply(DEMO_CHANNEL_ID, "Agent message text", to="16504661149")
    sb.wait_delivered(reply.id, timeout=10)
    receipt = {
        "messages": [
            {
                "channel": {"from": {"id": DEMO_CHANNEL_ID}, "to": {"id": "16504661149"}, "messageId": reply.id},
                "type": "Receipt",
                "status": "Failed",
                "reasons": [{"code": 350, "message": "Message not allowed."}],
            }
        ]
    }
    with httpx.Client(base_url=sb.url, headers={"x-api-key": "sandbox-api-key"}) as client:
        answer = signed_post(client, MESSAGES, json.dumps(receipt).encode())
    assert answer.status_code == 200 and answer.json() == {"status": {"code": 0}}
    updated = sb.deliveries(DEMO_CHANNEL_ID)[0]
    assert updated.receipt is not None
    assert updated.receipt["status"] == "Failed" and updated.receipt["reasons"][0]["code"] == 350


def test_receipt_for_an_unknown_message_is_404_and_applies_nothing(sb: Sandbox, api_client: httpx.Client) -> None:
    receipt = {
        "channel": {"from": {"id": "1"}, "to": {"id": "2"}, "messageId": "1613474523265-0"},
        "type": "Receipt",
        "status": "Delivered",
    }
    body = {"messages": [SMS["messages"][0], receipt]}
    answer = signed_post(api_client, MESSAGES, json.dumps(body).encode())
    assert answer.status_code == 404 and "1613474523265-0" in answer.json()["status"]["message"]
    assert sb.inbound() == []  # the text message of the same request was not stored either


# -- media -------------------------------------------------------------------------------------------


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\r\n--not-a-boundary\r\n" + b"\x00" * 64


def test_media_upload_download_delete(sb: Sandbox) -> None:
    api = messaging_api(sb)
    upload = api.upload_media(
        DEMO_CHANNEL_ID,
        body=UploadMediaRequest(file=File(io.BytesIO(PNG), "pic.png", "image/png")),
    )
    media = upload.data
    assert upload.status.code == 0
    assert not isinstance(media, Unset)
    assert (media.filename, media.mimetype, media.length) == ("pic.png", "image/png", len(PNG))
    assert media.url == f"genesys://nexus/{media.media_id}"

    with httpx.Client(base_url=sb.url, headers={"x-api-key": "sandbox-api-key"}) as client:
        path = f"/nexus/v3/channels/{DEMO_CHANNEL_ID}/media/{media.media_id}"
        signature = {"x-ccid": DEMO_CCID, "X-Hub-Signature": sign("sandbox-channel-secret", b"")}
        download = client.get(path, headers=signature)
        assert download.status_code == 200
        assert download.content == PNG and download.headers["content-type"] == "image/png"

    assert isinstance(media.media_id, str)
    deleted = api.delete_media(DEMO_CHANNEL_ID, media.media_id)
    assert not isinstance(deleted.data, Unset) and deleted.data.media_id == media.media_id
    with pytest.raises(ApiError) as caught:
        api.download_media(DEMO_CHANNEL_ID, media.media_id)
    assert caught.value.status == 404


def test_generated_client_downloads_the_exact_bytes(sb: Sandbox) -> None:
    api = messaging_api(sb)
    data = bytes(range(256)) * 4
    upload = api.upload_media(
        DEMO_CHANNEL_ID,
        body=UploadMediaRequest(file=File(io.BytesIO(data), "a.jpg", "image/jpeg")),
    )
    assert not isinstance(upload.data, Unset) and isinstance(upload.data.media_id, str)
    downloaded = api.download_media(DEMO_CHANNEL_ID, upload.data.media_id)
    assert downloaded.payload.read() == data


def test_unsupported_media_type_is_415(sb: Sandbox) -> None:
    api = messaging_api(sb)
    body = UploadMediaRequest(file=File(io.BytesIO(b"MZ\x90"), "tool.exe", "application/x-msdownload"))
    with pytest.raises(ApiError) as caught:
        api.upload_media(DEMO_CHANNEL_ID, body=body)
    assert caught.value.status == 415
    assert caught.value.response is not None and b"application/x-msdownload" in caught.value.response.content


def test_upload_that_is_not_multipart_is_415(sb: Sandbox, api_client: httpx.Client) -> None:
    body = b"raw image bytes"
    answer = api_client.post(
        f"/nexus/v3/channels/{DEMO_CHANNEL_ID}/media",
        content=body,
        headers={
            "Content-Type": "image/png",
            "x-ccid": DEMO_CCID,
            "X-Hub-Signature": sign("sandbox-channel-secret", body),
        },
    )
    assert answer.status_code == 415


def test_upload_signature_covers_the_multipart_bytes(sb: Sandbox, api_client: httpx.Client) -> None:
    request = api_client.build_request(
        "POST",
        f"/nexus/v3/channels/{DEMO_CHANNEL_ID}/media",
        files={"file": ("a.png", PNG, "image/png")},
        headers={"x-ccid": DEMO_CCID},
    )
    body = request.read()
    request.headers["X-Hub-Signature"] = sign("sandbox-channel-secret", body + b"tampered")
    assert api_client.send(request).status_code == 401
    request.headers["X-Hub-Signature"] = sign("sandbox-channel-secret", body)
    assert api_client.send(request).status_code == 200


def test_upload_without_the_file_part_is_400(sb: Sandbox, api_client: httpx.Client) -> None:
    request = api_client.build_request(
        "POST",
        f"/nexus/v3/channels/{DEMO_CHANNEL_ID}/media",
        files={"other": ("a.png", PNG, "image/png")},
        headers={"x-ccid": DEMO_CCID},
    )
    body = request.read()
    request.headers["X-Hub-Signature"] = sign("sandbox-channel-secret", body)
    answer = api_client.send(request)
    assert answer.status_code == 400 and "file" in answer.json()["status"]["message"]
