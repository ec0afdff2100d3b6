"""Open Media / Task Routing (``/nexus/v3/openmedia/{service}/interactions``).

Interactions live per open media service (``SandboxConfig.open_media_services``; an unknown
service is a 404). Each operation exists twice, by interaction id and by ``ext_{externalId}``; the
router tries the ``ext_`` templates first (``notes/open_media.md``). Creating an interaction whose
external id exists is a 409. ``update`` merges ``changedProperties`` and ``addedProperties`` into
the interaction's user data and removes ``deletedProperties``; ``stop`` records the reason and
leaves the interaction readable in state ``stopped``, where further updates or stops are a 400.

The 200 bodies are not documented beyond the status envelope; the sandbox returns the interaction
in ``data`` with the fields the spec's ``Interaction`` documents (``interactionId``, ``externalId``,
``parentInteractionId``, ``receivedAt``, ``userData``) and nothing else: an invented field would be
one an integrator could come to rely on and never get from Genesys. Its state and stop reason are
the sandbox's own (``OpenMediaEmulator.interactions()``), not part of any answer.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from ._config import SandboxConfig
from ._http import Call, ErrorReply, envelope, json_response

__all__ = ["OpenMediaEmulator", "StoredInteraction"]


@dataclass
class StoredInteraction:
    """The sandbox's record of an interaction: what answers carry (``to_dict``) plus its own state."""

    id: str
    service: str
    external_id: str | None
    user_data: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    received_at: str | None = None
    state: str = "active"
    stop_reason: dict[str, Any] | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        """The interaction as answers carry it (``Interaction`` of ``open_media.yaml``)."""
        data: dict[str, Any] = {"interactionId": self.id}
        for key, value in (
            ("externalId", self.external_id),
            ("parentInteractionId", self.parent_id),
            ("receivedAt", self.received_at),
            ("userData", self.user_data or None),  # none: left out, as the SDK's to_dict() does
        ):
            if value is not None:
                data[key] = value
        return data


class OpenMediaEmulator:
    """Handlers of ``open_media.yaml``."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._by_id: dict[tuple[str, str], StoredInteraction] = {}
        self._by_external: dict[tuple[str, str], StoredInteraction] = {}

    def handlers(self) -> dict[str, Callable[[Call], Awaitable[Response]]]:
        return {
            "create_interaction": self.create,
            "get_interaction": self.get,
            "get_interaction_by_external_id": self.get,
            "update_interaction": self.update,
            "update_interaction_by_external_id": self.update,
            "stop_interaction": self.stop,
            "stop_interaction_by_external_id": self.stop,
        }

    def interactions(self, service: str | None = None) -> list[StoredInteraction]:
        with self._lock:
            return [i for i in self._by_id.values() if service is None or i.service == service]

    def _service(self, call: Call) -> str:
        service = call.params["openMediaService"]
        if service not in self.config.open_media_services:
            raise ErrorReply(404, f"open media service {service} not found")
        return service

    def _find(self, call: Call) -> StoredInteraction:
        service = self._service(call)
        with self._lock:
            if "externalId" in call.params:
                found = self._by_external.get((service, call.params["externalId"]))
                what = f"external id {call.params['externalId']}"
            else:
                found = self._by_id.get((service, call.params["interactionId"]))
                what = f"id {call.params['interactionId']}"
        if found is None:
            raise ErrorReply(404, f"interaction with {what} not found")
        return found

    @staticmethod
    def _data(call: Call) -> dict[str, Any]:
        body = call.parsed if isinstance(call.parsed, dict) else {}
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    async def create(self, call: Call) -> Response:
        service = self._service(call)
        data = self._data(call)
        external_id = data.get("externalId")
        interaction = StoredInteraction(
            id=uuid.uuid4().hex[:16].upper(),
            service=service,
            external_id=external_id,
            user_data=dict(data.get("userData") or {}),
            parent_id=data.get("parentInteractionId"),
            received_at=data.get("receivedAt"),
        )
        with self._lock:
            if interaction.parent_id is not None and (service, interaction.parent_id) not in self._by_id:
                raise ErrorReply(404, f"parent interaction {interaction.parent_id} not found")
            if external_id is not None and (service, external_id) in self._by_external:
                raise ErrorReply(409, f"an interaction with external id {external_id} already exists")
            self._by_id[(service, interaction.id)] = interaction
            if external_id is not None:
                self._by_external[(service, external_id)] = interaction
        return json_response(envelope(0, data=interaction.to_dict()))

    async def get(self, call: Call) -> Response:
        return json_response(envelope(0, data=self._find(call).to_dict()))

    async def update(self, call: Call) -> Response:
        interaction = self._find(call)
        data = self._data(call)
        with self._lock:
            if interaction.state == "stopped":
                raise ErrorReply(400, f"interaction {interaction.id} is stopped")
            interaction.user_data.update(data.get("changedProperties") or {})
            interaction.user_data.update(data.get("addedProperties") or {})
            for name in data.get("deletedProperties") or []:
                interaction.user_data.pop(name, None)
        return json_response(envelope(0, data=interaction.to_dict()))

    async def stop(self, call: Call) -> Response:
        interaction = self._find(call)
        data = self._data(call)
        with self._lock:
            if interaction.state == "stopped":
                raise ErrorReply(400, f"interaction {interaction.id} is already stopped")
            interaction.state = "stopped"
            interaction.stop_reason = {k: data[k] for k in ("reasonSystemName", "reasonDescription") if k in data}
        return json_response(envelope(0, data=interaction.to_dict()))
