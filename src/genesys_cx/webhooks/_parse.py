"""Verify, then decode, then build the model: the order that keeps forged bodies out.

``parse_message`` and ``parse_interaction_events`` first check ``X-Hub-Signature`` against the raw
bytes (in constant time, through ``genesys_cx.signing.verify``; several secrets are accepted while
a channel secret is being rotated), and only an authentic body is decoded with ``json.loads`` and
turned into the generated model with ``from_dict``.

The outgoing-message webhook is a ``oneOf`` told apart by ``type``: ``"Text"`` gives an
``OutgoingSmsMessage`` and ``"Email"`` an ``OutgoingEmailMessage``. A ``type`` this version of the
SDK does not know (Genesys adds message types over time) is not an error: it comes back as an
``UnknownMessage`` holding the type string and the whole decoded object, so a handler can see it,
log it or forward it. A body that is not JSON, not an object, has no string ``type``, or names a
known type without having its shape raises ``InvalidPayload``. Unknown *enum values* inside a
known message are kept by the generated enums (``member.is_known`` is False).

Each delivery also has an idempotency key (``idempotency_key``): the message's own id
(``channel.messageId``, or a top-level ``messageId``/``id`` of an unknown message; the
``operationId`` of interaction events) when it has one, else the SHA-256 of the body.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from genesys_cx_api.errors import InvalidData
from genesys_cx_api.interactions.models.events_payload import EventsPayload
from genesys_cx_api.messaging.models.outgoing_email_message import OutgoingEmailMessage
from genesys_cx_api.messaging.models.outgoing_sms_message import OutgoingSmsMessage

from ..errors import InvalidPayload, InvalidSignature
from ..signing import _SIGNATURE, HEADER, verify

__all__ = [
    "Kind",
    "OutgoingMessage",
    "Secrets",
    "UnknownMessage",
    "idempotency_key",
    "parse_interaction_events",
    "parse_message",
]

Secrets: TypeAlias = str | bytes | Collection[str | bytes]
Kind: TypeAlias = Literal["message", "events"]


@dataclass(frozen=True)
class UnknownMessage:
    """An authentic outgoing message whose ``type`` this SDK version does not know.

    ``type`` is the type string as received and ``raw`` the whole decoded JSON object, untouched.
    """

    type: str
    raw: dict[str, Any]

    @property
    def message_id(self) -> str | None:
        """``channel.messageId``, else a top-level ``messageId`` or ``id``, when it is a string."""
        channel = self.raw.get("channel")
        candidates = [channel.get("messageId")] if isinstance(channel, Mapping) else []
        candidates += [self.raw.get("messageId"), self.raw.get("id")]
        return next((c for c in candidates if isinstance(c, str) and c), None)


OutgoingMessage: TypeAlias = OutgoingSmsMessage | OutgoingEmailMessage | UnknownMessage
"""What ``parse_message`` returns: one of the documented variants, or ``UnknownMessage``."""

_VARIANTS: dict[str, type[OutgoingSmsMessage] | type[OutgoingEmailMessage]] = {
    "Text": OutgoingSmsMessage,
    "Email": OutgoingEmailMessage,
}


def check_secrets(secret: Secrets) -> list[str | bytes]:
    """The candidate secrets as a list; ``TypeError``/``ValueError`` for an unusable configuration."""
    candidates = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    if not candidates:
        raise ValueError("no channel secret configured: give a secret or a non-empty list of secrets")
    for candidate in candidates:
        if not isinstance(candidate, (str, bytes)):
            raise TypeError(f"a channel secret must be str or bytes, not {type(candidate).__name__}")
        if not candidate:
            raise ValueError("a channel secret is empty")
    return candidates


def verified_object(body: bytes, signature: str | None, secret: Secrets) -> dict[str, Any]:
    """Check the signature of *body*, then decode it as a JSON object (the shared first half)."""
    if type(body) is not bytes:
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"body must be the raw request bytes, not {type(body).__name__}: the signature covers bytes"
            )
        body = bytes(body)
    # one secret (the usual case) needs no list; anything else is checked like a configuration
    candidates = secret if (type(secret) is str or type(secret) is bytes) and secret else check_secrets(secret)
    if not verify(candidates, body, signature):
        raise InvalidSignature(_signature_problem(signature))
    return decoded_object(body)


def _signature_problem(signature: object) -> str:
    """Why a signature that ``verify`` refused was refused (built on that path only)."""
    if not signature:
        return f"missing {HEADER} header"
    if not isinstance(signature, str) or _SIGNATURE.fullmatch(signature) is None:
        return f"malformed {HEADER} header: expected 'sha1=' followed by 40 hex digits"
    return f"{HEADER} does not match the body for any configured channel secret"


_DECODER = json.JSONDecoder()  # what json.loads uses, called directly
_JSON_SPACE = " \t\n\r"


def decoded_object(body: bytes) -> dict[str, Any]:
    """*body* (authentic bytes) as a JSON object; ``InvalidPayload`` for anything else.

    A body starting ``{`` (every real webhook) is decoded as strict UTF-8 and parsed by the
    decoder ``json.loads`` uses (``raw_decode``: the same parser and errors, without the encoding
    detection and the whitespace regexes around it). Strict UTF-8 cannot hold an unpaired
    surrogate, so only a ``\\uD8xx``-style escape can bring one in, and the decoded data is
    searched only when the text has such an escape. Any other body goes through
    ``json.loads(bytes)`` as sent (which also reads UTF-16/32 and a UTF-8 BOM, and lets
    UTF-8-encoded surrogates through): its decoded data is always searched.
    """
    fast = body[:1] == b"{" and body[1:2] != b"\x00"  # exactly when json would read it as UTF-8
    try:
        if fast:
            text = body.decode("utf-8")
            data, end = _DECODER.raw_decode(text)  # json.loads without its wrappers' detours
            if end != len(text) and (rest := text[end:].lstrip(_JSON_SPACE)):
                raise json.JSONDecodeError("Extra data", text, len(text) - len(rest))
        else:
            data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidPayload(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", body=body
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidPayload(
            f"body is not valid JSON: not UTF-8 text ({exc.reason} at byte {exc.start})", body=body
        ) from None
    except RecursionError:
        raise InvalidPayload("body is not valid JSON we can read: nested too deeply", body=body) from None
    except ValueError:  # the only other ValueError of json.loads: Python's integer-digits limit
        raise InvalidPayload(
            f"body is not valid JSON we can read: a number has more than {sys.get_int_max_str_digits()} digits",
            body=body,
        ) from None
    if type(data) is not dict:
        raise InvalidPayload(f"body is a JSON {_json_kind(data)}, not an object", body=body, data=data)
    searched = not fast or "\\ud" in text or "\\uD" in text  # fast: only an escape makes one
    if searched and _has_lone_surrogate(data):
        # Such a string cannot be written as UTF-8: a store keyed by it, a log, a reply would fail
        # later, and Genesys would redeliver forever. Refuse it now.
        raise InvalidPayload("body holds a string with an unpaired UTF-16 surrogate", body=body, data=data)
    return data


def _has_lone_surrogate(data: object) -> bool:
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def _build(model: Any, data: dict[str, Any], body: bytes, kind: str | None = None) -> Any:
    """``model.from_dict(data)``; where the body differs from the model, ``InvalidPayload`` with the path.

    *kind*: the message ``type`` (the error says "'Text' message"), None for the events body.
    """
    try:
        return model.from_dict(data)
    except InvalidData as exc:  # names the field: "channel.to: expected array, found object"
        raise InvalidPayload(
            f"{_what(kind)} does not match {model.__name__}: {exc}", body=body, data=data, path=exc.path
        ) from None
    except RecursionError:
        problem = "nested too deeply"
    except Exception as exc:  # anything else the model rejects is still the sender's mistake
        problem = f"{type(exc).__name__}: {exc}"
    raise InvalidPayload(f"{_what(kind)} does not match {model.__name__}: {problem}", body=body, data=data)


def _what(kind: str | None) -> str:
    return "body" if kind is None else f"{kind!r} message"


def message_from(data: dict[str, Any], body: bytes) -> OutgoingMessage:
    """Build the outgoing-message variant named by ``data["type"]`` (``UnknownMessage`` if new)."""
    kind = data.get("type")
    if type(kind) is not str:
        if kind is None:
            raise InvalidPayload("not an outgoing message: it has no 'type' field", body=body, data=data)
        if not isinstance(kind, str):
            raise InvalidPayload(
                f"not an outgoing message: 'type' is a JSON {_json_kind(kind)}, not a string", body=body, data=data
            )
    model = _VARIANTS.get(kind)
    if model is None:
        return UnknownMessage(kind, data)
    built: OutgoingMessage = _build(model, data, body, kind)
    return built


def events_from(data: dict[str, Any], body: bytes) -> EventsPayload:
    """Build the ``EventsPayload`` of the interaction-events webhook."""
    built: EventsPayload = _build(EventsPayload, data, body)
    return built


def parse_message(body: bytes, signature: str | None, secret: Secrets) -> OutgoingMessage:
    """Verify *signature* over *body*, then return the outgoing message it carries.

    Raises ``InvalidSignature`` (nothing is decoded) or ``InvalidPayload``; an unknown ``type``
    returns an ``UnknownMessage``.
    """
    data = verified_object(body, signature, secret)
    return message_from(data, body if type(body) is bytes else bytes(body))


def parse_interaction_events(body: bytes, signature: str | None, secret: Secrets) -> EventsPayload:
    """Verify *signature* over *body*, then return the interaction events it carries."""
    data = verified_object(body, signature, secret)
    return events_from(data, body if type(body) is bytes else bytes(body))


def payload_id(payload: OutgoingMessage | EventsPayload) -> str | None:
    """The id the payload carries: the message id, or the events' ``operationId``."""
    if isinstance(payload, UnknownMessage):
        return payload.message_id
    found = payload.operation_id if isinstance(payload, EventsPayload) else payload.channel.message_id
    return found if isinstance(found, str) and found else None


def idempotency_key(payload: OutgoingMessage | EventsPayload, body: bytes) -> str:
    """``"message:<id>"`` / ``"events:<operationId>"``, else ``"sha256:<hex of the body>"``."""
    found = payload_id(payload)
    if found is None:
        return "sha256:" + hashlib.sha256(body).hexdigest()
    return ("events:" if isinstance(payload, EventsPayload) else "message:") + found


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
