"""Open Media against the sandbox, through the generated client: lifecycle by id and by external id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from genesys_cx_api.open_media.api import OpenMediaApi
from genesys_cx_api.open_media.models import (
    ChangePropertiesData,
    CreateInteractionData,
    InteractionResponse,
    StopInteractionData,
)
from genesys_cx_api.types import Unset

from genesys_cx import handle_response
from genesys_cx.errors import ApiError
from genesys_cx.sandbox import DEMO_API_KEY, Sandbox


def _data(answer: InteractionResponse) -> dict[str, Any]:
    """The interaction an answer carries (its ``data``: every success has one)."""
    assert not isinstance(answer.data, Unset), "a success without data"
    return answer.data.additional_properties


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


def test_lifecycle_by_external_id(api: OpenMediaApi) -> None:
    created = api.create_interaction(
        "demo",
        body=CreateInteractionData.from_dict(
            {"data": {"externalId": "ticket-1", "userData": {"priority": 1, "topic": "billing"}}}
        ),
    )
    assert created.status.code == 0
    interaction_id = _data(created)["interactionId"]

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
    fetched = _data(api.get_interaction("demo", interaction_id))
    assert fetched["userData"] == {"priority": 5, "lang": "en"}
    assert fetched["externalId"] == "ticket-1" and fetched["state"] == "active"

    api.stop_interaction_by_external_id(
        "demo",
        "ticket-1",
        body=StopInteractionData.from_dict({"data": {"reasonSystemName": "Done", "reasonDescription": "solved"}}),
    )
    stopped = _data(api.get_interaction_by_external_id("demo", "ticket-1"))
    assert stopped["state"] == "stopped" and stopped["stopReason"] == {
        "reasonSystemName": "Done",
        "reasonDescription": "solved",
    }
    # A stopped interaction cannot change any more.
    assert (
        _status_of(
            lambda: api.update_interaction(
                "demo", interaction_id, body=ChangePropertiesData.from_dict({"data": {"addedProperties": {"x": 1}}})
            )
        )
        == 400
    )
    assert _status_of(lambda: api.stop_interaction("demo", interaction_id)) == 400


def test_lifecycle_by_interaction_id_without_bodies(api: OpenMediaApi) -> None:
    interaction_id = _data(api.create_interaction("demo"))["interactionId"]
    api.stop_interaction("demo", interaction_id)
    assert _data(api.get_interaction("demo", interaction_id))["state"] == "stopped"


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
