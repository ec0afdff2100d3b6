"""What a user sees of the generated models: typed decoding errors with the JSON path, checked scalars,
nothing lost (unknown fields), a readable repr, and required-ness from the documentation."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import httpx
import pytest
from genesys_cx_api.auth.models import AuthorizationRedirect, DefaultOAuth2AccessToken
from genesys_cx_api.errors import InvalidData
from genesys_cx_api.messaging.api.third_party_messaging_api import send_message
from genesys_cx_api.messaging.models import (
    FailureReasonCode,
    InboundMessageResponse,
    ReceiptMessage,
    ReceiptStatus,
    SendMessagesRequest,
    TextMessage,
)
from genesys_cx_api.types import UNKNOWN_VALUES_KEPT, UNSET, Unset

from genesys_cx import handle_response
from genesys_cx.errors import InvalidResponse

TEXT: dict[str, Any] = {
    "type": "Text",
    "channel": {"from": {"id": "16504661149", "name": "Consumer"}, "to": {"id": "0123456789"}},
    "text": "Hi",
}

RECEIPT_CHANNEL: dict[str, Any] = {"from": {"id": "0123456789"}, "to": {"id": "16504661149"}, "messageId": "m-1"}


def _without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    copy: dict[str, Any] = {**data}
    if len(path) == 1:
        del copy[path[0]]
    else:
        copy[path[0]] = _without(copy[path[0]], *path[1:])
    return copy


def test_a_missing_field_deep_in_a_union_list_is_named_by_its_json_path() -> None:
    request = {"messages": [_without(TEXT, "channel", "from")]}
    with pytest.raises(InvalidData) as info:
        SendMessagesRequest.from_dict(request)
    assert info.value.path == "messages[0].channel.from"
    assert info.value.found == "nothing"
    assert info.value.expected == "Participant object"
    assert str(info.value) == "messages[0].channel.from: required field is missing (expected Participant object)"


@pytest.mark.parametrize(
    ("field", "value", "expected", "found"),
    [
        ("text", 123, "string", "number"),
        ("text", None, "string", "null"),
        ("text", ["a"], "string", "array"),
        ("channel", "c", "InboundChannel object", "string"),
        ("type", "Email", "'Text'", "string"),
    ],
)
def test_scalars_and_objects_are_type_checked(field: str, value: Any, expected: str, found: str) -> None:
    with pytest.raises(InvalidData) as info:
        TextMessage.from_dict({**TEXT, field: value})
    assert (info.value.path, info.value.expected, info.value.found) == (field, expected, found)
    assert isinstance(info.value, ValueError)


def test_an_index_inside_an_array_of_scalars_is_named() -> None:
    with pytest.raises(InvalidData) as info:
        InboundMessageResponse.from_dict({"status": {"code": 0}, "data": {"ids": ["a", 7]}})
    assert info.value.path == "data.ids[1]" and info.value.expected == "string"


def test_unknown_fields_are_kept_at_every_level_and_round_trip() -> None:
    data = {**TEXT, "channel": {**TEXT["channel"], "new": {"x": 1}}, "extra": [1, 2]}
    message = TextMessage.from_dict(data)
    assert message["extra"] == [1, 2] and message.channel["new"] == {"x": 1}
    assert message.to_dict() == data


def test_repr_shows_the_set_fields_only() -> None:
    answer = InboundMessageResponse.from_dict({"status": {"code": 0, "message": "ok"}, "data": {"ids": ["1-0"]}})
    text = repr(answer)
    assert (
        text
        == "InboundMessageResponse(status=Status(code=0, message='ok'), data=InboundMessageResponseData(ids=['1-0']))"
    )
    assert "Unset" not in repr(TextMessage.from_dict(TEXT)) and "object at 0x" not in repr(TextMessage.from_dict(TEXT))
    assert repr(UNSET) == "UNSET"


def test_repr_masks_secret_fields_and_the_attributes_keep_them() -> None:
    token = DefaultOAuth2AccessToken.from_dict(
        {"access_token": "tok-3f9a", "token_type": "bearer", "refresh_token": "ref-77c1", "expires_in": 60}
    )
    redirect = AuthorizationRedirect.from_dict({"location": "https://app/cb?code=c0de-91&state=s", "code": "c0de-91"})
    for model, secrets in ((token, ["tok-3f9a", "ref-77c1"]), (redirect, ["c0de-91"])):
        text = f"{model!r} {model}"
        assert not [secret for secret in secrets if secret in text], text
    assert repr(token).startswith("DefaultOAuth2AccessToken(access_token='***', token_type=")
    assert repr(token).endswith(", expires_in=60, refresh_token='***')")
    assert (token.access_token, token.refresh_token, redirect.code) == ("tok-3f9a", "ref-77c1", "c0de-91")
    assert token.to_dict()["access_token"] == "tok-3f9a"  # what is sent is never masked


def test_send_message_answers_always_have_data_ids() -> None:
    """The reference shows ``data.ids`` in every answer; a Receipt's answer (status only) reads as no ids."""
    receipt = InboundMessageResponse.from_dict({"status": {"code": 0}})
    assert receipt.data.ids == []
    assert receipt.to_dict() == {"status": {"code": 0}}
    accepted = InboundMessageResponse.from_dict({"status": {"code": 0}, "data": {"ids": ["1-0"]}})
    assert accepted.data.ids == ["1-0"]
    assert accepted.to_dict() == {"status": {"code": 0}, "data": {"ids": ["1-0"]}}
    with pytest.raises(InvalidData) as info:
        InboundMessageResponse.from_dict({"status": {"code": 0}, "data": {}})
    assert info.value.path == "data.ids"


def test_an_answer_that_does_not_fit_is_invalid_response_with_the_path() -> None:
    request = httpx.Request("POST", "https://genesys.test/nexus/v3/channels/c/messages")
    response = httpx.Response(200, json={"status": {"code": 0}, "data": {"ids": [1]}}, request=request)
    with pytest.raises(InvalidResponse) as info:
        handle_response(response, lambda: send_message.parse(response), "send_message")
    assert info.value.path == "data.ids[0]"
    assert info.value.operation == "send_message" and info.value.body == response.content


def test_any_mapping_decodes_and_the_model_shares_no_dict_with_its_input() -> None:
    data = {**TEXT, "extra": {"x": 1}}
    message = TextMessage.from_dict(MappingProxyType(data))
    assert message.to_dict() == data
    message["more"] = 2
    message.channel["new"] = 3
    assert data == {**TEXT, "extra": {"x": 1}} and "new" not in data["channel"]
    assert TextMessage.from_dict(TEXT).additional_properties == {}


@pytest.mark.parametrize(
    ("code", "found"),
    [(True, "boolean"), (305.0, "number"), ("305", "string"), (None, "null"), ([305], "array")],
)
def test_an_integer_enum_takes_exact_integers_only(code: Any, found: str) -> None:
    receipt = {
        "type": "Receipt",
        "channel": RECEIPT_CHANNEL,
        "status": "Failed",
        "reasons": [{"code": 305}, {"code": code}],
    }
    with pytest.raises(InvalidData) as info:
        ReceiptMessage.from_dict(receipt)
    assert (info.value.path, info.value.expected, info.value.found) == ("reasons[1].code", "integer", found)


def test_enum_values_known_unknown_and_wrong() -> None:
    base = {"type": "Receipt", "channel": RECEIPT_CHANNEL}
    known = ReceiptMessage.from_dict({**base, "status": "Failed", "reasons": [{"code": 305}]})
    assert known.status is ReceiptStatus.FAILED and known.status.is_known
    assert not isinstance(known.reasons, Unset) and known.reasons[0].code is FailureReasonCode(305)
    unknown = ReceiptMessage.from_dict({**base, "status": "Bounced", "reasons": [{"code": 999}]})
    assert unknown.status == "Bounced" and not unknown.status.is_known
    assert not isinstance(unknown.reasons, Unset) and unknown.reasons[0].code == 999
    assert not unknown.reasons[0].code.is_known
    assert unknown.to_dict() == {**base, "status": "Bounced", "reasons": [{"code": 999}]}
    for wrong, found in ((7, "number"), (["Failed"], "array"), ({}, "object")):
        with pytest.raises(InvalidData) as info:
            ReceiptMessage.from_dict({**base, "status": wrong})
        assert (info.value.path, info.value.expected, info.value.found) == ("status", "string", found)
    with pytest.raises(InvalidData, match=r"^status: required field is missing \(expected string\)$"):
        ReceiptMessage.from_dict(base)


def test_unknown_enum_values_are_remembered_up_to_a_bound() -> None:
    """A sender naming a new value in every message gets each one parsed, and memory stays bounded."""
    table = ReceiptStatus._value2member_map_
    kept = dict(table)
    try:
        values = [f"status-{n}" for n in range(UNKNOWN_VALUES_KEPT + 500)]
        members = [ReceiptStatus(value) for value in values]
        assert [m.value for m in members] == values and not any(m.is_known for m in members)
        assert len(table) - len(ReceiptStatus.__members__) <= UNKNOWN_VALUES_KEPT
        assert values[0] in table  # the first ones are remembered: the same member for the same value
        assert ReceiptStatus(values[0]) is members[0] and ReceiptStatus(values[-1]) == members[-1]
        assert ReceiptStatus("Failed") is ReceiptStatus.FAILED
    finally:  # the other tests expect room for their own unknown values
        table.clear()
        table.update(kept)
