"""Streamed uploads: the X-Hub-Signature covers the exact multipart bytes, which are never held whole."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from genesys_cx_api.messaging.models import UploadMediaRequest
from genesys_cx_api.types import File, Unset

from genesys_cx import AsyncGenesys, Genesys
from genesys_cx.sandbox import Sandbox
from genesys_cx.signing import sign, sign_request, verify

SIZE = 5 * 1024 * 1024 + 11


@pytest.fixture
def media(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.Request]]:
    """Every request whose body httpx was asked to load whole into memory."""
    seen: list[httpx.Request] = []
    read, aread = httpx.Request.read, httpx.Request.aread

    def spy(self: httpx.Request) -> bytes:
        seen.append(self)
        return read(self)

    async def aspy(self: httpx.Request) -> bytes:
        seen.append(self)
        return await aread(self)

    monkeypatch.setattr(httpx.Request, "read", spy)
    monkeypatch.setattr(httpx.Request, "aread", aspy)
    yield seen


def _stored(sb: Sandbox, media_id: str) -> bytes:
    return next(m.data for (channel, key), m in sb.state.messaging._media.items() if key == media_id)


def test_a_media_file_is_uploaded_from_disk_signed_over_the_bytes_sent(
    sandbox: Sandbox, genesys: Genesys, media: Path, reads: list[httpx.Request]
) -> None:
    channel = sandbox.config.channels[0].id
    with media.open("rb") as handle:
        body = UploadMediaRequest(file=File(payload=handle, file_name=media.name, mime_type="video/mp4"))
        answer = genesys.messaging.upload_media(channel, body=body)

    assert not isinstance(answer.data, Unset) and answer.data.length == SIZE  # the sandbox checked the signature
    assert _stored(sandbox, str(answer.data.media_id)) == media.read_bytes()
    assert [r for r in reads if "/media" in r.url.path] == []  # streamed twice, never loaded whole


async def test_async_upload_is_streamed_and_signed(
    sandbox: Sandbox, agenesys: AsyncGenesys, media: Path, reads: list[httpx.Request]
) -> None:
    channel = sandbox.config.channels[0].id
    with media.open("rb") as handle:
        body = UploadMediaRequest(file=File(payload=handle, file_name=media.name, mime_type="video/mp4"))
        answer = await agenesys.messaging.upload_media(channel, body=body)

    assert not isinstance(answer.data, Unset) and answer.data.length == SIZE
    assert _stored(sandbox, str(answer.data.media_id)) == media.read_bytes()
    assert [r for r in reads if "/media" in r.url.path] == []


def test_a_one_shot_stream_is_spooled_so_the_signed_bytes_are_the_sent_bytes() -> None:
    pieces = [os.urandom(300_000) for _ in range(5)]
    request = httpx.Request("POST", "http://example.invalid/x", content=iter(pieces))

    signature = sign_request("s3cret", request)

    sent = b"".join(request.stream)  # type: ignore[arg-type]
    assert sent == b"".join(pieces)
    assert signature == sign("s3cret", sent) and verify("s3cret", sent, signature)


def test_a_multipart_stream_is_read_twice_identically(media: Path) -> None:
    with media.open("rb") as handle:
        request = httpx.Request("POST", "http://example.invalid/x", files={"file": ("a.bin", handle, "x/y")})
        signature = sign_request("k", request)
        with pytest.raises(httpx.RequestNotRead):
            request.content  # noqa: B018 - still streamed
        sent = b"".join(request.stream)  # type: ignore[arg-type]
    assert media.read_bytes() in sent and verify("k", sent, signature)


def test_a_certificate_is_uploaded_streamed_with_a_bearer_token(
    sandbox: Sandbox, genesys: Genesys, tmp_path: Path, reads: list[httpx.Request]
) -> None:
    from genesys_cx_api.udm.models import CertificateUpload

    pem = tmp_path / "export.pem"
    pem.write_bytes(
        b"-----BEGIN CERTIFICATE-----\n" + os.urandom(600_000).hex().encode() + b"\n-----END CERTIFICATE-----\n"
    )
    with pem.open("rb") as handle:
        genesys.udm.upload_certificate_v10(
            pem.name, body=CertificateUpload(file=File(payload=handle, file_name=pem.name))
        )

    info = genesys.udm.get_certificate_v10()
    assert info.name == pem.name and info.size == pem.stat().st_size
    assert [r for r in reads if "/cipher/" in r.url.path] == []  # the bearer flow did not load the upload either


def test_uploaded_media_comes_back_through_the_streamed_download(
    sandbox: Sandbox, genesys: Genesys, media: Path, tmp_path: Path
) -> None:
    import genesys_cx

    channel = sandbox.config.channels[0].id
    with media.open("rb") as handle:
        body = UploadMediaRequest(file=File(payload=handle, file_name=media.name, mime_type="video/mp4"))
        uploaded = genesys.messaging.upload_media(channel, body=body)
    assert not isinstance(uploaded.data, Unset)

    stream = genesys.messaging.download_media_stream(channel, str(uploaded.data.media_id))
    done = genesys_cx.download(stream, tmp_path / "copy.mp4", expected_size=SIZE)

    assert done.size == SIZE and (tmp_path / "copy.mp4").read_bytes() == media.read_bytes()
    with stream.open() as response:  # the same request, read by hand
        assert response.headers["content-type"] == "video/mp4" and sum(map(len, response.iter_bytes())) == SIZE
