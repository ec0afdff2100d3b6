"""Verify -> decode -> model: ``parse_message``, ``parse_interaction_events`` and their errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any

import pytest
from genesys_cx_api.interactions.models import Entity, EventsPayload, EventsPayloadData, EventType, MediaType
from genesys_cx_api.messaging.models import OutgoingEmailMessage, OutgoingSmsMessage
from hypothesis import given
from hypothesis import strategies as st

from genesys_cx.signing import sign
from genesys_cx.webhooks import (
    InvalidPayload,
    InvalidSignature,
    UnknownMessage,
    WebhookError,
    idempotency_key,
    parse_interaction_events,
    parse_message,
)

from ._webhook_helpers import OTHER_SECRET, SECRET, email, encode, events, sms

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def test_the_documented_sms_becomes_an_outgoing_sms_message() -> None:
    body = encode(sms())
    message = parse_message(body, sign(SECRET, body), SECRET)
    assert isinstance(message, OutgoingSmsMessage)
    assert message.text == "Agent message text"
    assert message.channel.message_id == "1613474523265-0"
    assert message.channel.to.id == "16504661149"
    assert idempotency_key(message, body) == "message:1613474523265-0"


def test_the_documented_email_becomes_an_outgoing_email_message() -> None:
    body = encode(email())
    message = parse_message(body, sign(SECRET, body), SECRET)
    assert isinstance(message, OutgoingEmailMessage)
    assert [part.text for part in message.content] == ["Plain text email body", "Html email body"]
    assert [person.id for person in message.channel.to] == ["recipient-1@mail.com", "recipient-2@mail.com"]


def test_extra_fields_are_kept() -> None:
    document = sms()
    document["priority"] = "high"
    document["channel"]["region"] = "eu"
    body = encode(document)
    message = parse_message(body, sign(SECRET, body), SECRET)
    assert isinstance(message, OutgoingSmsMessage)
    assert message["priority"] == "high" and message.channel["region"] == "eu"
    assert message.to_dict() == document


def test_an_unknown_message_type_is_returned_whole() -> None:
    document = {"type": "Carousel", "channel": {"messageId": "m-42"}, "cards": [{"title": "t"}]}
    body = encode(document)
    message = parse_message(body, sign(SECRET, body), SECRET)
    assert message == UnknownMessage("Carousel", document)
    assert isinstance(message, UnknownMessage) and message.message_id == "m-42"
    assert idempotency_key(message, body) == "message:m-42"


def test_an_unknown_message_without_an_id_is_keyed_by_the_body_hash() -> None:
    body = encode({"type": "Typing"})
    message = parse_message(body, sign(SECRET, body), SECRET)
    assert isinstance(message, UnknownMessage) and message.message_id is None
    assert idempotency_key(message, body) == "sha256:" + hashlib.sha256(body).hexdigest()


def test_interaction_events_with_an_unknown_enum_value_are_kept() -> None:
    document = events(event="TRANSFERRED")
    document["data"]["entities"][0]["entity"]["mediaType"] = "whatsapp"
    body = encode(document)
    payload = parse_interaction_events(body, sign(SECRET, body), SECRET)
    assert isinstance(payload, EventsPayload)
    assert isinstance(payload.data, EventsPayloadData) and isinstance(payload.data.entities, list)
    event = payload.data.entities[0]
    assert isinstance(event.event, EventType) and isinstance(event.entity, Entity)
    assert event.event == "TRANSFERRED" and not event.event.is_known
    assert event.entity.media_type == "whatsapp"
    assert payload.to_dict() == document
    assert EventType("FINISHED").is_known and MediaType("chat").is_known
    assert idempotency_key(payload, body) == "events:f6c49d91-926b-4473-b2f3-8d8fd295c968"


def test_a_rotated_secret_list_accepts_old_and_new() -> None:
    body = encode(sms())
    for used in (SECRET, OTHER_SECRET):
        assert isinstance(parse_message(body, sign(used, body), [OTHER_SECRET, SECRET]), OutgoingSmsMessage)


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        (None, "missing X-Hub-Signature header"),
        ("", "missing X-Hub-Signature header"),
        ("sha256=abc", "malformed X-Hub-Signature header"),
        ("sha1=" + "z" * 40, "malformed X-Hub-Signature header"),
        ("sha1=" + "0" * 40, "X-Hub-Signature does not match the body"),
    ],
)
def test_bad_signatures_are_rejected_before_decoding(signature: str | None, expected: str) -> None:
    with pytest.raises(InvalidSignature, match=expected) as info:
        parse_message(b"not even json", signature, SECRET)
    assert isinstance(info.value, WebhookError)
    assert SECRET not in str(info.value) and sign(SECRET, b"not even json")[5:] not in str(info.value)


def test_a_tampered_body_is_rejected_and_the_message_names_neither_signature() -> None:
    body = encode(sms())
    good = sign(SECRET, body)
    tampered = body.replace(b"Agent", b"Agant")
    with pytest.raises(InvalidSignature) as info:
        parse_message(tampered, good, SECRET)
    text = str(info.value) + repr(info.value)
    assert good[5:] not in text and sign(SECRET, tampered)[5:] not in text and SECRET not in text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "body is not valid JSON: Expecting value at line 1 column 1"),
        (b'{"type": ', "body is not valid JSON: Expecting value at line 1 column 10"),
        (b"\xff\xfe\xfa", "body is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"[1, 2]", "body is a JSON array, not an object"),
        (b'"Text"', "body is a JSON string, not an object"),
        (b"null", "body is a JSON null, not an object"),
        (b"{}", "not an outgoing message: it has no 'type' field"),
        (b'{"type": 7}', "'type' is a JSON number, not a string"),
        (
            b'{"type": "Text", "text": "hi"}',
            "'Text' message does not match OutgoingSmsMessage: channel: required field is missing",
        ),
        (b'{"type": "Email", "channel": [], "content": []}', "'Email' message does not match OutgoingEmailMessage"),
    ],
)
def test_malformed_bodies_raise_invalid_payload_with_a_clear_message(body: bytes, expected: str) -> None:
    with pytest.raises(InvalidPayload, match=expected.replace("(", r"\(").replace("[", r"\[")) as info:
        parse_message(body, sign(SECRET, body), SECRET)
    assert info.value.body == body  # nothing is lost
    assert isinstance(info.value, WebhookError)
    assert len(repr(info.value)) < 200


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"type": "Typing"}  \r\n\t', {"type": "Typing"}),  # JSON whitespace after the object is fine
        (b' {"type": "Typing"}', {"type": "Typing"}),
        (b'\xef\xbb\xbf{"type": "Typing"}', {"type": "Typing"}),  # a UTF-8 BOM, as json.loads reads it
        ('{"type": "Typing"}'.encode("utf-16"), {"type": "Typing"}),  # UTF-16 with its BOM, as json.loads reads it
        (b'{"type": "Typing", "t": "\\ud83d\\ude00"}', {"type": "Typing", "t": "\U0001f600"}),  # a paired escape
    ],
)
def test_json_text_is_read_as_json_loads_reads_it(body: bytes, expected: dict[str, Any]) -> None:
    message = parse_message(body, sign(SECRET, body), SECRET)
    assert message == UnknownMessage("Typing", expected)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"type": "Typing"} x', "body is not valid JSON: Extra data at line 1 column 20"),
        (b'{"type": "Typing"}{}', "body is not valid JSON: Extra data at line 1 column 19"),
        (b'{"type": "Typing", "t": "\\ud800"}', "unpaired UTF-16 surrogate"),
        (b'{"type": "Typing", "t": "\xed\xa0\x80"}', "not UTF-8 text (invalid continuation byte at byte 25)"),
        (b' {"type": "Typing", "t": "\xed\xa0\x80"}', "unpaired UTF-16 surrogate"),
    ],
)
def test_what_json_loads_would_not_read_or_utf8_cannot_hold_is_invalid_payload(body: bytes, expected: str) -> None:
    with pytest.raises(InvalidPayload, match=expected.replace("(", r"\(").replace(")", r"\)")) as info:
        parse_message(body, sign(SECRET, body), SECRET)
    assert info.value.body == body


#: any character, unpaired surrogates included, and the ones JSON escapes
characters = st.characters(codec=None, exclude_categories=()) | st.sampled_from(["\ud800", "\udfff", '"', "\\", "é"])
any_text = st.lists(characters, max_size=6).map("".join)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3),
    max_leaves=10,
)


def _utf8_safe(value: Any) -> bool:
    if isinstance(value, str):
        return not any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return all(_utf8_safe(k) and _utf8_safe(v) for k, v in value.items())
    return all(_utf8_safe(v) for v in value) if isinstance(value, list) else True


@given(
    fields=st.dictionaries(any_text, any_json, max_size=4),
    ascii_only=st.booleans(),
    before=st.sampled_from(["", " ", "\n"]),
    after=st.sampled_from(["", " ", "\r\n"]),
)
def test_any_json_object_comes_back_whole_unless_a_string_cannot_be_utf8(
    fields: dict[str, Any], ascii_only: bool, before: str, after: str
) -> None:
    """Surrogates sent as ``\\uD8xx`` escapes (ascii_only; an escaped pair is one character) or as
    UTF-8-encoded bytes (CESU-8, never UTF-8), with or without whitespace around the object: what
    json.loads reads comes back exactly when its every string can be written as UTF-8, else
    ``InvalidPayload``."""
    document = {**fields, "type": "Typing"}
    text = before + json.dumps(document, ensure_ascii=ascii_only) + after
    body = text.encode("utf-8", "surrogatepass")
    read = json.loads(body)  # json.loads(bytes) lets UTF-8-encoded surrogates through as they are
    if _utf8_safe(read):
        assert parse_message(body, sign(SECRET, body), SECRET) == UnknownMessage("Typing", read)
    else:
        with pytest.raises(InvalidPayload):
            parse_message(body, sign(SECRET, body), SECRET)


def test_events_with_a_wrong_shape_raise_invalid_payload() -> None:
    body = encode({"operationId": "op", "data": {"entities": [{"event": 5}]}})
    with pytest.raises(InvalidPayload, match="does not match EventsPayload"):
        parse_interaction_events(body, sign(SECRET, body), SECRET)


def test_configuration_errors_are_typed_and_do_not_echo_the_secret() -> None:
    body = encode(sms())
    with pytest.raises(ValueError, match="no channel secret"):
        parse_message(body, sign(SECRET, body), [])
    with pytest.raises(ValueError, match="empty"):
        parse_message(body, sign(SECRET, body), "")
    with pytest.raises(TypeError, match="must be str or bytes, not int"):
        parse_message(body, sign(SECRET, body), [SECRET, 42])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="raw request bytes, not str"):
        parse_message(body.decode(), sign(SECRET, body), SECRET)  # type: ignore[arg-type]


@given(body=st.binary(max_size=300))
def test_any_signed_bytes_parse_or_raise_invalid_payload(body: bytes) -> None:
    try:
        result = parse_message(body, sign(SECRET, body), SECRET)
    except InvalidPayload as exc:
        assert exc.body == body
    else:
        assert isinstance(result, (OutgoingSmsMessage, OutgoingEmailMessage, UnknownMessage))


@given(
    document=st.dictionaries(st.sampled_from(["type", "channel", "text", "content", "x"]), json_values),
    kind=st.sampled_from(["Text", "Email", "Other", None]),
)
def test_any_signed_json_object_parses_or_raises_invalid_payload(document: dict[str, Any], kind: str | None) -> None:
    if kind is not None:
        document["type"] = kind
    body = json.dumps(document).encode()
    for parse in (parse_message, parse_interaction_events):
        try:
            result = parse(body, sign(SECRET, body), SECRET)
        except InvalidPayload as exc:
            assert exc.data == document
        else:
            if isinstance(result, UnknownMessage):
                assert result.raw == document and result.type == document["type"]


@given(document=st.dictionaries(st.text(max_size=8), json_values, max_size=5), secret=st.text(min_size=1))
def test_anything_signed_with_another_secret_is_refused(document: dict[str, Any], secret: str) -> None:
    body = json.dumps(document).encode()
    if secret.encode().rstrip(b"\0") == SECRET.encode():
        return
    with pytest.raises(InvalidSignature):
        parse_message(body, sign(secret, body), SECRET)


def test_importing_the_parser_does_not_import_the_server_or_redis() -> None:
    code = (
        "import sys, genesys_cx.webhooks as w; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'redis') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
