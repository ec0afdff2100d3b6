"""Hostile but correctly signed bodies: only ``InvalidPayload`` from the parsers, only 4xx from the app.

A signed body is what a sender holding the channel secret (or a bug on Genesys's side) can send us;
whatever it is, the receiver must answer with a documented 4xx that says what is wrong (a field path
for shape errors), never crash into a 500 that Genesys would redeliver forever.
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from genesys_cx_api.interactions.models import EventsPayload
from genesys_cx_api.messaging.models import OutgoingEmailMessage, OutgoingSmsMessage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesys_cx._serve import serve
from genesys_cx.signing import sign
from genesys_cx.webhooks import (
    InvalidPayload,
    OutgoingMessage,
    UnknownMessage,
    handle_webhook,
    parse_interaction_events,
    parse_message,
    webhook_app,
)

from ._webhook_helpers import SECRET, email, encode, events, signed, sms

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)

HUGE_INT = b'{"type": "Text", "text": "hi", "n": ' + b"9" * 5000 + b"}"
DEEP = b'{"type": "Text", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
HOSTILE_BODIES = {
    "a 5,000-digit integer": HUGE_INT,
    "a 5,000-digit integer in events": b'{"operationId": ' + b"1" * 5000 + b"}",
    "arrays nested 100,000 deep": DEEP,
    "objects nested 50,000 deep": DEEP_OBJECT,
    "invalid UTF-8": b'{"type": "Text", "text": "\xff\xfe\xfa"}',
    "a lone surrogate escape": b'{"type": "Text", "text": "\\ud800", "channel": 1}',
    "a message id with a lone surrogate": encode(sms("\ud83d")),
    "events with a lone surrogate": b'{"operationId": "\\udc00"}',
    # the surrogates of U+1F600 written as UTF-8 bytes (CESU-8): not UTF-8, though json.loads(bytes) reads them
    "an SMS whose text is UTF-8-encoded surrogates": encode(sms(text="@")).replace(
        b'"@"', b'"\xed\xa0\xbd\xed\xb8\x80"'
    ),
    "a message id that is UTF-8-encoded surrogates, after a space": b" "
    + encode(sms("@")).replace(b"@", b"\xed\xb0\x80"),
    "UTF-16 garbage": b"\xff\xfe{\x00",
    "NUL bytes": b"\x00" * 64,
    "an e-mail whose 'to' is an object": encode({**email(), "channel": {**email()["channel"], "to": {"id": "x"}}}),
    "an SMS whose 'from' is a list": encode({**sms(), "channel": {**sms()["channel"], "from": [1]}}),
    "content parts that are strings": encode({**email(), "content": ["hello"]}),
    "events whose entities is a string": encode({"operationId": "op", "data": {"entities": "no"}}),
    "events whose entity is a number": encode({"operationId": "op", "data": {"entities": [{"entity": 5}]}}),
    "a body of 1e999": b'{"type": "Text", "text": 1e999}',
    "an empty body": b"",
    "whitespace": b"  \n ",
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into *value* (object keys and list indexes), the root excluded."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield (*prefix, key)
        yield from _paths(item, (*prefix, key))


def _replace(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    copied = copy.deepcopy(document)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copied


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


DOCUMENTS: dict[str, tuple[dict[str, Any], Callable[[bytes, str | None, str], object]]] = {
    "sms": (sms(), parse_message),
    "email": (email(), parse_message),
    "events": (events(), parse_interaction_events),
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_bodies_raise_only_invalid_payload(name: str) -> None:
    body = HOSTILE_BODIES[name]
    with pytest.raises(InvalidPayload) as info:
        parse_message(body, sign(SECRET, body), SECRET)
    assert info.value.body == body  # nothing is lost
    assert len(str(info.value)) < 300  # a clear message, not a dump of the body
    try:  # events have no required field: some of these are (odd) valid events
        assert isinstance(parse_interaction_events(body, sign(SECRET, body), SECRET), EventsPayload)
    except InvalidPayload as exc:
        assert exc.body == body and len(str(exc)) < 300


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_bodies_are_400_from_handle_webhook(name: str) -> None:
    body = HOSTILE_BODIES[name]
    ran: list[OutgoingMessage] = []
    answer = handle_webhook(body, signed(body), secret=SECRET, on_message=ran.append)
    assert answer.status == 400 and "error" in json.loads(answer.body)
    assert ran == []


def test_a_wrong_shape_is_named_by_its_field_path() -> None:
    body = HOSTILE_BODIES["an e-mail whose 'to' is an object"]
    with pytest.raises(InvalidPayload, match=r"channel\.to: expected array, found object") as info:
        parse_message(body, sign(SECRET, body), SECRET)
    assert info.value.path == "channel.to"
    body = HOSTILE_BODIES["content parts that are strings"]
    with pytest.raises(InvalidPayload, match=r"content\[0\]: expected EmailContent object, found string"):
        parse_message(body, sign(SECRET, body), SECRET)
    body = encode({"operationId": "op", "data": {"entities": [{}, {"entity": {"id": 7}}]}})
    with pytest.raises(InvalidPayload, match=r"data\.entities\[1\]\.entity\.id: expected string, found number"):
        parse_interaction_events(body, sign(SECRET, body), SECRET)
    body = encode({**sms(), "channel": {"id": "c", "type": "sms", "from": {"id": "1"}, "to": {}, "messageId": "m"}})
    with pytest.raises(InvalidPayload, match=r"channel\.to\.id: required field is missing"):
        parse_message(body, sign(SECRET, body), SECRET)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.sampled_from(list(DOCUMENTS)), new=json_values)
def test_a_wrong_value_at_any_level_is_invalid_payload_naming_its_path(
    data: st.DataObject, which: str, new: Any
) -> None:
    document, parse = DOCUMENTS[which]
    path = data.draw(st.sampled_from(list(_paths(document))))
    changed = _replace(document, path, new)
    body = encode(changed)
    try:
        result = parse(body, sign(SECRET, body), SECRET)
    except InvalidPayload as exc:
        assert exc.body == body and exc.data == changed
        message = str(exc)
        # the message names the changed field, or (for 'type') what the type now says
        assert _dotted(path) in message or path == ("type",), message
    else:
        assert isinstance(result, (OutgoingSmsMessage, OutgoingEmailMessage, UnknownMessage, EventsPayload))


@settings(max_examples=200)
@given(body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_signed_body_gets_only_the_documented_exceptions(body: bytes) -> None:
    for parse in (parse_message, parse_interaction_events):
        try:
            parse(body, sign(SECRET, body), SECRET)
        except InvalidPayload as exc:
            assert exc.body == body


def test_the_app_answers_hostile_bodies_with_4xx_json_never_500() -> None:
    ran: list[OutgoingMessage] = []
    with serve(webhook_app(SECRET, ran.append)) as server, httpx.Client(timeout=30) as client:
        statuses = {}
        for name, body in HOSTILE_BODIES.items():
            response = client.post(server.url, content=body, headers=signed(body))
            statuses[name] = response.status_code
            assert response.headers["content-type"].startswith("application/json"), name
            assert response.json()["error"], name
        extra = {
            "a signature that is not ASCII hex": _raw_status(
                server.port, b"X-Hub-Signature: sha1=" + "é".encode() * 40 + b"\r\nContent-Length: 2\r\n\r\n{}"
            ),
            "a chunked body": _raw_status(
                server.port,
                b"X-Hub-Signature: "
                + signed(b"{}")["X-Hub-Signature"].encode()
                + b"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            ),
        }
    assert all(400 <= status < 500 for status in statuses.values()), statuses
    assert all(400 <= status < 500 for status in extra.values()), extra
    assert ran == []


def _raw_status(port: int, rest: bytes) -> int:
    """The status uvicorn + the app answer to ``POST / HTTP/1.1`` followed by *rest*, over a raw socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + rest)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])
