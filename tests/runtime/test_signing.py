"""``genesys_cx.signing``: properties of sign/verify, known answers, and HubSignature on the wire."""

from __future__ import annotations

import doctest
import hashlib
import hmac
import logging
import shutil
import subprocess
from typing import Any

import httpx
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from genesys_cx import signing
from genesys_cx._serve import serve
from genesys_cx.signing import HubSignature, UnknownChannel, sign, verify

secrets_ = st.one_of(st.text(min_size=1, max_size=100), st.binary(min_size=1, max_size=200))
bodies = st.binary(max_size=2048)
HEX = "0123456789abcdef"


# -- properties ---------------------------------------------------------------------------------


@given(secret=secrets_, body=bodies)
def test_a_signature_verifies_for_its_body_and_secret(secret: str | bytes, body: bytes) -> None:
    signature = sign(secret, body)
    assert signature.startswith("sha1=") and len(signature) == 45
    assert all(c in HEX for c in signature[5:])
    assert verify(secret, body, signature)
    assert verify([secret], body, signature)


@given(secret=st.text(min_size=1, max_size=50), body=bodies)
def test_a_text_secret_is_its_utf8_bytes(secret: str, body: bytes) -> None:
    assert sign(secret, body) == sign(secret.encode("utf-8"), body)


@given(secret=secrets_, body=st.binary(min_size=1, max_size=512), data=st.data())
def test_changing_one_byte_of_the_body_invalidates(secret: str | bytes, body: bytes, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(body) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]))
    tampered = body[:index] + bytes([new]) + body[index + 1 :]
    assert not verify(secret, tampered, sign(secret, body))


@given(secret=secrets_, body=bodies, data=st.data())
def test_changing_one_digit_of_the_signature_invalidates(secret: str | bytes, body: bytes, data: st.DataObject) -> None:
    signature = sign(secret, body)
    index = data.draw(st.integers(5, len(signature) - 1))
    digit = data.draw(st.sampled_from(HEX).filter(lambda c: c != signature[index]))
    assert not verify(secret, body, signature[:index] + digit + signature[index + 1 :])


@given(secret=st.binary(min_size=1, max_size=200), body=bodies, data=st.data())
def test_changing_one_byte_of_the_secret_invalidates(secret: bytes, body: bytes, data: st.DataObject) -> None:
    # In place (same length): HMAC zero-pads short keys, so appending b"\0" would be the same key.
    index = data.draw(st.integers(0, len(secret) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != secret[index]))
    other = secret[:index] + bytes([new]) + secret[index + 1 :]
    assert not verify(other, body, sign(secret, body))


@given(secret=secrets_, body=bodies, header=st.one_of(st.none(), st.text(max_size=80), st.binary(max_size=50)))
@example(secret="s", body=b"x", header="")
@example(secret="s", body=b"x", header="sha1=")
@example(secret="s", body=b"x", header="sha256=" + "0" * 64)
@example(secret="s", body=b"x", header="SHA1=" + "0" * 40)
@example(secret="s", body=b"x", header="sha1=" + "0" * 39)
@example(secret="s", body=b"x", header="sha1=" + "0" * 41)
@example(secret="s", body=b"x", header="sha1=" + "g" * 40)
@example(secret="s", body=b"x", header="sha1=" + "٠" * 40)  # Arabic-Indic zeros: digits, not hex
def test_malformed_or_foreign_headers_are_false_and_never_raise(secret: str | bytes, body: bytes, header: Any) -> None:
    assume(header != sign(secret, body))
    assert verify(secret, body, header) is False


@given(secret=secrets_, body=bodies)
def test_surrounding_whitespace_or_a_missing_prefix_is_rejected(secret: str | bytes, body: bytes) -> None:
    signature = sign(secret, body)
    for variant in (" " + signature, signature + "\n", signature[5:], "sha1=" + signature):
        assert verify(secret, body, variant) is False


@given(secret=secrets_, body=bodies)
def test_uppercase_hex_digits_are_accepted(secret: str | bytes, body: bytes) -> None:
    signature = sign(secret, body)
    assert verify(secret, body, "sha1=" + signature[5:].upper())


@given(old=secrets_, new=secrets_, stranger=secrets_, body=bodies)
def test_rotation_accepts_every_configured_secret_and_only_those(
    old: str | bytes, new: str | bytes, stranger: str | bytes, body: bytes
) -> None:
    def key(s: str | bytes) -> bytes:
        return s.encode() if isinstance(s, str) else s

    assume(key(stranger).rstrip(b"\0") not in {key(old).rstrip(b"\0"), key(new).rstrip(b"\0")})
    assert verify([old, new], body, sign(old, body))
    assert verify((old, new), body, sign(new, body))
    assert not verify([old, new], body, sign(stranger, body))
    assert not verify([], body, sign(old, body))


# -- known answers ------------------------------------------------------------------------------

RFC_2202_HMAC_SHA1 = [  # RFC 2202 section 3, test cases 1-7 (key, data, digest)
    (b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
    (b"Jefe", b"what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    (b"\xaa" * 20, b"\xdd" * 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
    (bytes(range(1, 26)), b"\xcd" * 50, "4c9007f4026250c6bc8414f9bf50c86c2d7235da"),
    (b"\x0c" * 20, b"Test With Truncation", "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"),
    (
        b"\xaa" * 80,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "aa4ae5e15272d00e95705637ce8a3b55ed402112",
    ),
    (
        b"\xaa" * 80,
        b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
        "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
    ),
]


@pytest.mark.parametrize(("key", "data", "digest"), RFC_2202_HMAC_SHA1)
def test_rfc_2202_vectors(key: bytes, data: bytes, digest: str) -> None:
    assert sign(key, data) == "sha1=" + digest
    assert verify(key, data, "sha1=" + digest)


# Computed with OpenSSL's command line (a second, independent HMAC implementation):
#   printf '%s' '{"channel":{"messageId":"1613474523265-0"},"type":"Text","text":"hi"}' \
#     | openssl dgst -sha1 -hmac 'channel-secret-ü'
WIRE_BODY = b'{"channel":{"messageId":"1613474523265-0"},"type":"Text","text":"hi"}'
WIRE_SECRET = "channel-secret-ü"


def test_a_vector_computed_by_openssl() -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no independent HMAC implementation to compare with")
    out = subprocess.run(
        [openssl, "dgst", "-sha1", "-hmac", WIRE_SECRET], input=WIRE_BODY, capture_output=True, check=True
    ).stdout.decode()
    assert sign(WIRE_SECRET, WIRE_BODY) == "sha1=" + out.split()[-1]


def test_a_vector_from_hashlib_without_hmac_module() -> None:
    # HMAC by its definition (RFC 2104) over hashlib alone, to catch a misuse of the hmac module.
    key = WIRE_SECRET.encode().ljust(64, b"\0")
    inner = hashlib.sha1(bytes(b ^ 0x36 for b in key) + WIRE_BODY).digest()
    outer = hashlib.sha1(bytes(b ^ 0x5C for b in key) + inner).hexdigest()
    assert sign(WIRE_SECRET, WIRE_BODY) == "sha1=" + outer
    assert outer == hmac.new(WIRE_SECRET.encode(), WIRE_BODY, "sha1").hexdigest()


def test_the_module_docstring_example_holds() -> None:
    result = doctest.testmod(signing, verbose=False)
    assert result.attempted >= 1 and result.failed == 0


# -- HubSignature over real HTTP -----------------------------------------------------------------


class Recorder:
    """A loopback server that keeps the exact bytes and headers of every request it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes, str | None]] = []

        async def record(request: Request) -> JSONResponse:
            self.received.append((request.url.path, await request.body(), request.headers.get("x-hub-signature")))
            return JSONResponse({"status": {"code": 0}})

        self.app = Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])


@pytest.fixture
def recorder() -> Any:
    rec = Recorder()
    with serve(rec.app) as server:
        rec.url = server.url  # type: ignore[attr-defined]
        yield rec


MESSAGE = {
    "messages": [
        {
            "channel": {"from": {"id": "16504661149"}, "to": {"id": "0123456789"}},
            "type": "Text",
            "text": "Consumer message text ✓",
        }
    ]
}
UPLOAD = {"file": ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png")}


def assert_signed_as_received(recorder: Recorder, secret: str) -> None:
    assert recorder.received, "the server received nothing"
    for _, body, header in recorder.received:
        assert header == sign(secret, body)


def test_hub_signature_signs_the_bytes_received_sync(recorder: Any) -> None:
    with httpx.Client(base_url=recorder.url, auth=HubSignature("s3cret")) as client:
        assert client.post("/channels/0123456789/messages", json=MESSAGE).status_code == 200
        assert client.post("/channels/0123456789/media", files=UPLOAD, data={"note": "x"}).status_code == 200
    assert [len(r[1]) > 0 for r in recorder.received] == [True, True]
    assert b"multipart" not in recorder.received[0][1] and b"\x89PNG" in recorder.received[1][1]
    assert_signed_as_received(recorder, "s3cret")


async def test_hub_signature_signs_the_bytes_received_async(recorder: Any) -> None:
    async with httpx.AsyncClient(base_url=recorder.url, auth=HubSignature("s3cret")) as client:
        assert (await client.post("/channels/0123456789/messages", json=MESSAGE)).status_code == 200
        assert (await client.post("/channels/0123456789/media", files=UPLOAD)).status_code == 200
    assert len(recorder.received) == 2
    assert_signed_as_received(recorder, "s3cret")


def test_a_mapping_of_channel_secrets_signs_per_channel(recorder: Any) -> None:
    auth = HubSignature({"sms-1": "secret-one", "company.com": "secret-two"})
    with httpx.Client(base_url=recorder.url, auth=auth) as client:
        client.post("/channels/sms-1/messages", json=MESSAGE)
        client.post("/channels/company.com/media", files=UPLOAD)
    (_, body1, header1), (_, body2, header2) = recorder.received
    assert header1 == sign("secret-one", body1)
    assert header2 == sign("secret-two", body2)


async def test_an_unknown_channel_fails_before_anything_is_sent(recorder: Any) -> None:
    auth = HubSignature({"sms-1": "secret-one"})
    with httpx.Client(base_url=recorder.url, auth=auth) as client, pytest.raises(UnknownChannel) as info:
        client.post("/channels/other/messages", json=MESSAGE)
    assert info.value.channel_id == "other"
    async with httpx.AsyncClient(base_url=recorder.url, auth=auth) as aclient:
        with pytest.raises(UnknownChannel):
            await aclient.post("/channels/other/messages", json=MESSAGE)
    with (
        httpx.Client(base_url=recorder.url, auth=HubSignature(lambda channel: None)) as client,
        pytest.raises(UnknownChannel),
    ):
        client.post("/channels/sms-1/messages", json=MESSAGE)
    assert recorder.received == []
    assert "secret-one" not in str(info.value) and "secret-one" not in repr(auth)


def test_secrets_and_signatures_stay_out_of_logs_and_reprs(recorder: Any, caplog: pytest.LogCaptureFixture) -> None:
    auth = HubSignature("top-secret-value")
    with caplog.at_level(logging.DEBUG), httpx.Client(base_url=recorder.url, auth=auth) as client:
        client.post("/channels/0123456789/messages", json=MESSAGE)
    (_, _, header) = recorder.received[0]
    assert header is not None
    assert "top-secret-value" not in caplog.text and header[5:] not in caplog.text
    assert "top-secret-value" not in repr(auth)
