"""Open Media against the sandbox, through the generated client: lifecycle by id and by external id."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import assert_type

import httpx
import pytest
from genesys_cx_api.open_media.api import OpenMediaApi
from genesys_cx_api.open_media.models import (
    ChangePropertiesData,
    CreateInteractionData,
    Interaction,
    StopInteractionData,
    UserData,
)
from genesys_cx_api.types import UNSET, Unset

from genesys_cx import handle_response
from genesys_cx.errors import ApiError
from genesys_cx.sandbox import DEMO_API_KEY, Sandbox


@pytest.fixture
def api(sb: Sandbox) -> Iterator[OpenMediaApi]:
    headers = {"x-api-key": DEMO_API_KEY}
    with httpx.Client(base_url=sb.base_url("open_media"), headers=headers, timeout=httpx.Timeout(10)) as client:
        yield OpenMediaApi(client, handler=handle_response)


def _status_of(call: object) -> int:
    with pytest.raises(ApiError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.status is not None
    return caught.value.status


def test_lifecycle_by_external_id(api: OpenMediaApi, sb: Sandbox) -> None:
    created = api.create_interaction(
        "demo",
        body=CreateInteractionData.from_dict(
            {"data": {"externalId": "ticket-1", "userData": {"priority": 1, "topic": "billing"}}}
        ),
    )
    # The types a user sees (checked by mypy --strict over tests/): the envelope code and the
    # interaction need no Unset check; the interaction's fields are optional (no answer is documented).
    assert_type(created.status.code, int)
    assert_type(created.data, Interaction)
    assert_type(created.data.user_data, UserData)
    assert_type(created.data.interaction_id, str | Unset)
    assert_type(created.data.received_at, datetime.datetime | Unset)
    assert created.status.code == 0
    assert isinstance(created.data, Interaction) and created.data.external_id == "ticket-1"
    assert created.data.user_data.to_dict() == {"priority": 1, "topic": "billing"}
    interaction_id = created.data.interaction_id
    assert isinstance(interaction_id, str) and interaction_id

    api.update_interaction_by_external_id(
        "demo",
        "ticket-1",
        body=ChangePropertiesData.from_dict(
            {
                "data": {
                    "changedProperties": {"priority": 5},
                    "addedProperties": {"lang": "en"},
                    "deletedProperties": ["topic"],
                }
            }
        ),
    )
    fetched = api.get_interaction("demo", interaction_id).data
    assert fetched.user_data.to_dict() == {"priority": 5, "lang": "en"}
    assert fetched.user_data["lang"] == "en"  # user data is an open map: item access
    assert fetched.external_id == "ticket-1" and fetched.interaction_id == interaction_id
    # Only documented fields: nothing an integrator could come to rely on and never get from Genesys.
    assert fetched.additional_properties == {}

    api.stop_interaction_by_external_id(
        "demo",
        "ticket-1",
        body=StopInteractionData.from_dict({"data": {"reasonSystemName": "Done", "reasonDescription": "solved"}}),
    )
    (stopped,) = sb.state.open_media.interactions("demo")
    assert stopped.state == "stopped"
    assert stopped.stop_reason == {"reasonSystemName": "Done", "reasonDescription": "solved"}
    # A stopped interaction stays readable and cannot change any more.
    assert api.get_interaction_by_external_id("demo", "ticket-1").data.interaction_id == interaction_id
    assert (
        _status_of(
            lambda: api.update_interaction(
                "demo", interaction_id, body=ChangePropertiesData.from_dict({"data": {"addedProperties": {"x": 1}}})
            )
        )
        == 400
    )
    assert _status_of(lambda: api.stop_interaction("demo", interaction_id)) == 400


def test_lifecycle_by_interaction_id_without_bodies(api: OpenMediaApi, sb: Sandbox) -> None:
    interaction_id = api.create_interaction("demo").data.interaction_id
    assert isinstance(interaction_id, str)
    stopped = api.stop_interaction("demo", interaction_id).data
    assert stopped.interaction_id == interaction_id and stopped.external_id is UNSET
    assert stopped.user_data.to_dict() == {}  # no user data: an empty map, never Unset
    assert stopped.to_dict() == {"interactionId": interaction_id}
    assert [i.state for i in sb.state.open_media.interactions("demo")] == ["stopped"]


def test_parent_and_received_at_come_back_typed(api: OpenMediaApi) -> None:
    parent = api.create_interaction("demo").data.interaction_id
    assert isinstance(parent, str)
    child = api.create_interaction(
        "demo",
        body=CreateInteractionData.from_dict(
            {"data": {"parentInteractionId": parent, "receivedAt": "2026-11-30T18:00:00+00:00"}}
        ),
    ).data
    assert child.parent_interaction_id == parent
    assert child.received_at == datetime.datetime(2026, 11, 30, 18, tzinfo=datetime.UTC)


def test_existing_external_id_is_409(api: OpenMediaApi) -> None:
    body = CreateInteractionData.from_dict({"data": {"externalId": "dup"}})
    api.create_interaction("demo", body=body)
    assert _status_of(lambda: api.create_interaction("demo", body=body)) == 409


def test_unknown_ids_and_services_are_404(api: OpenMediaApi) -> None:
    assert _status_of(lambda: api.get_interaction_by_external_id("demo", "missing")) == 404
    assert _status_of(lambda: api.get_interaction("demo", "missing")) == 404
    assert _status_of(lambda: api.create_interaction("no-such-service")) == 404
    assert _status_of(lambda: api.stop_interaction_by_external_id("demo", "missing")) == 404


def test_ext_prefixed_paths_are_external_ids(api: OpenMediaApi, sb: Sandbox) -> None:
    api.create_interaction("demo", body=CreateInteractionData.from_dict({"data": {"externalId": "42"}}))
    answer = httpx.get(
        sb.base_url("open_media") + "/openmedia/demo/interactions/ext_42", headers={"x-api-key": DEMO_API_KEY}
    )
    assert answer.status_code == 200 and answer.json()["data"]["externalId"] == "42"


def test_api_key_is_required(sb: Sandbox) -> None:
    answer = httpx.post(sb.base_url("open_media") + "/openmedia/demo/interactions", json={})
    assert answer.status_code == 403
    assert sb.state.open_media.interactions() == []


def test_invalid_body_is_400_naming_the_field(sb: Sandbox) -> None:
    answer = httpx.post(
        sb.base_url("open_media") + "/openmedia/demo/interactions",
        json={"data": {"externalId": 7}},
        headers={"x-api-key": DEMO_API_KEY},
    )
    assert answer.status_code == 400
    assert "body.data.externalId" in answer.json()["status"]["message"]


@pytest.mark.parametrize("sent", ["2026-11-30T18:00:00Z", "2026-11-30t18:00:00z", "2026-11-30T19:00:00.1234567+01:00"])
def test_any_received_at_the_sandbox_accepts_comes_back_typed(sb: Sandbox, api: OpenMediaApi, sent: str) -> None:
    # Sent raw (the SDK itself always sends isoformat()): whatever RFC 3339 text the API accepts and
    # echoes must decode, or reading the interaction back would be an InvalidResponse.
    created = httpx.post(
        sb.base_url("open_media") + "/openmedia/demo/interactions",
        json={"data": {"receivedAt": sent}},
        headers={"x-api-key": DEMO_API_KEY},
    )
    assert created.status_code == 200, created.text
    got = api.get_interaction("demo", created.json()["data"]["interactionId"]).data
    assert got.received_at == datetime.datetime(2026, 11, 30, 18, tzinfo=datetime.UTC).replace(
        microsecond=123456 if "." in sent else 0
    )
