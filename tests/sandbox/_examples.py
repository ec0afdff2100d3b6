"""Example requests of every documented operation, derived from the specs.

One source for the tests that call every operation: ``test_every_operation.py`` (raw httpx, any
documented answer) and ``test_every_operation_sdk.py`` (through ``Genesys`` / ``AsyncGenesys``,
success answers). Values come from the spec (``sample``: the schema's first example, else its
required properties); ``BODIES`` holds the few bodies whose sample the sandbox rightly refuses.
"""

from __future__ import annotations

import re
from typing import Any

from genesys_cx.sandbox import DEMO_CHANNEL_ID, DEMO_PASSWORD, DEMO_USERNAME
from genesys_cx.sandbox._specs import _resolve, load_spec, sample

#: Path parameters that must name something the sandbox knows; any other one is "1" (or created).
PATH_VALUES = {"channelId": DEMO_CHANNEL_ID, "openMediaService": "demo"}

#: operationId -> a valid JSON (or form) body where the schema's sample is not one.
BODIES: dict[str, Any] = {
    "send_secure_email": {"data": {"address": "consumer@example.com", "subject": "Hello", "text": "Hi"}},
    "change_password": {
        "data": {"oldPassword": DEMO_PASSWORD, "newPassword": DEMO_PASSWORD, "userName": DEMO_USERNAME}
    },
    "retrieve_token": {"grant_type": "client_credentials"},
    "create_subscription": {
        "data": {
            "statistics": [
                {"statisticId": "s1", "objectId": "agent1", "objectType": "Agent", "name": "CurrentAgentState"}
            ]
        }
    },
}

#: Binary parts of multipart bodies.
FILE_CONTENT = b"\x89PNG\r\n\x1a\n example"


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref`` s to the node they name (the sandbox's own resolution)."""
    return dict(_resolve(spec, node))


def spec_operation(api: str, path: str, method: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the bundled spec of *api*, its operation at *path* (relative to the base path), with the
    path item's parameters among its own)."""
    spec = load_spec(api)
    item = spec["paths"][path]
    operation = dict(item[method.lower()])
    # Parameters of the path item apply to each of its operations (unless the operation redefines them).
    own = {(resolve(spec, p)["name"], resolve(spec, p)["in"]) for p in operation.get("parameters", [])}
    shared = [p for p in item.get("parameters", []) if (resolve(spec, p)["name"], resolve(spec, p)["in"]) not in own]
    operation["parameters"] = shared + list(operation.get("parameters", []))
    return spec, operation


def path_with_values(template: str) -> str:
    """*template* with ``PATH_VALUES`` filled in and every other parameter ``1``."""
    for name, value in PATH_VALUES.items():
        template = template.replace("{" + name + "}", value)
    return re.sub(r"\{[^}]+\}", "1", template)


def required_query(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    """Name -> sample value (JSON) of every required query parameter."""
    found = {}
    for parameter in (resolve(spec, p) for p in operation.get("parameters", [])):
        if parameter.get("required") and parameter["in"] == "query":
            value = sample(spec, parameter["schema"])
            found[parameter["name"]] = "x" if value in ("", None) else value  # an empty value is a missing one
    return found


def body_media_type(spec: dict[str, Any], operation: dict[str, Any]) -> str | None:
    content = resolve(spec, operation.get("requestBody", {})).get("content", {})
    return next(iter(content), None)


def example_body(spec: dict[str, Any], operation: dict[str, Any]) -> Any:
    """A valid body for *operation* as JSON values (binary multipart parts as bytes), or None."""
    if operation["operationId"] in BODIES:
        return BODIES[operation["operationId"]]
    content = resolve(spec, operation.get("requestBody", {})).get("content", {})
    if not content:
        return None
    media_type, media = next(iter(content.items()))
    schema = resolve(spec, media.get("schema", {}))
    if media_type == "multipart/form-data":
        props = schema.get("properties", {})
        return {
            name: FILE_CONTENT if resolve(spec, props[name]).get("format") == "binary" else sample(spec, props[name])
            for name in schema.get("required", props)
        }
    return _with_values(sample(spec, schema))


#: Fields whose schema (a plain string) allows values the sandbox rightly refuses.
FIELD_VALUES = {"fileSplitSize": "1M"}


def _with_values(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: FIELD_VALUES[k] if k in FIELD_VALUES else _with_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_values(v) for v in value]
    return value
