"""X-Hub-Signature: HMAC-SHA1 over the raw body, keyed with the channel secret.

The Third-Party Messaging overview specifies that every request to Genesys and every webhook from
Genesys carries ``X-Hub-Signature: sha1=<40 lowercase hex>``, the HMAC-SHA1 of the exact body bytes
with the channel's secret as key. ``sign`` computes it, ``verify`` checks it in constant time, and
``HubSignature`` is an ``httpx.Auth`` that signs the bytes httpx actually sends (JSON or multipart),
for sync and async clients alike.

A streamed body -- a media file uploaded from disk -- is signed without holding it in memory
(``sign_request``): the encoded multipart stream is read once to compute the HMAC and a second
time to send it (httpx rewinds the files it encodes); a one-shot stream is spooled to a temporary
file (on disk beyond 1 MiB) while it is hashed, and sent from there.

>>> sign("secret", b'{"hello": "world"}')
'sha1=cb24396515344ebd4d863037d68104a6812eba59'
"""

from __future__ import annotations

import hmac
import re
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from typing import IO

import httpx
from httpx._multipart import FileField, MultipartStream

from .errors import UnknownChannel

__all__ = [
    "HEADER",
    "PREFIX",
    "HubSignature",
    "UnknownChannel",
    "asign_request",
    "rewindable",
    "sign",
    "sign_request",
    "verify",
]

HEADER = "X-Hub-Signature"
PREFIX = "sha1="
_SIGNATURE = re.compile(r"sha1=[0-9a-fA-F]{40}")
_CHANNEL = re.compile(r"/channels/([^/]+)/")

Secret = str | bytes


def _key(secret: Secret) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: Secret, body: bytes) -> str:
    """Return ``"sha1=" + hex(HMAC-SHA1(secret, body))`` for *body*, exactly as sent."""
    # hmac.digest is OpenSSL's one-shot HMAC: no Python-level HMAC object for every call.
    return PREFIX + hmac.digest(_key(secret), body, "sha1").hex()


def rewindable(request: httpx.Request) -> bool:
    """True if httpx can send *request*'s body twice, identically, without holding it in memory.

    That is a body already in memory, or a multipart stream whose files rewind (httpx seeks them
    to 0 before encoding them).
    """
    try:
        request.content  # noqa: B018 - raises for a body not read yet
        return True
    except httpx.RequestNotRead:
        pass
    stream = request.stream
    if not isinstance(stream, MultipartStream):
        return False
    for part in stream.fields:
        if isinstance(part, FileField) and not isinstance(part.file, (str, bytes)):
            seekable = getattr(part.file, "seekable", None)
            if not callable(seekable) or not seekable():
                return False
    return True


class _Spooled(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A one-shot request body, copied to a temporary file so it can be hashed and then sent."""

    _CHUNK = 64 * 1024

    def __init__(self, spool: IO[bytes]) -> None:
        self._spool = spool

    def __iter__(self) -> Iterator[bytes]:
        self._spool.seek(0)
        while chunk := self._spool.read(self._CHUNK):
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk

    def close(self) -> None:
        self._spool.close()

    async def aclose(self) -> None:
        self._spool.close()


def sign_request(secret: Secret, request: httpx.Request) -> str:
    """``sign(secret, <the exact body httpx sends for request>)`` in constant memory.

    A body already in memory is signed as is; a streamed one is read once for the HMAC and sent
    in a second pass (see the module docstring), so the signature covers exactly the bytes sent.
    """
    try:
        return sign(secret, request.content)
    except httpx.RequestNotRead:
        pass
    stream = request.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise TypeError("an asynchronous request body is signed with asign_request")
    mac = hmac.new(_key(secret), digestmod="sha1")
    if rewindable(request):
        for chunk in stream:
            mac.update(chunk)
        return PREFIX + mac.hexdigest()
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - closed with the stream
    for chunk in stream:
        mac.update(chunk)
        spool.write(chunk)
    request.stream = _Spooled(spool)
    return PREFIX + mac.hexdigest()


async def asign_request(secret: Secret, request: httpx.Request) -> str:
    """``sign_request`` for async clients: a streamed body is read in a worker thread (file reads block)."""
    try:
        return sign(secret, request.content)
    except httpx.RequestNotRead:
        pass
    if isinstance(request.stream, httpx.SyncByteStream):
        import anyio.to_thread

        return await anyio.to_thread.run_sync(sign_request, secret, request)
    mac = hmac.new(_key(secret), digestmod="sha1")
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - closed with the stream
    async for chunk in request.stream:
        mac.update(chunk)
        spool.write(chunk)
    request.stream = _Spooled(spool)
    return PREFIX + mac.hexdigest()


def verify(secret: Secret | Sequence[Secret], body: bytes, signature: str | None) -> bool:
    """True if *signature* is ``sign(s, body)`` for the secret (or one of the secrets) given.

    Never raises for a bad header: a missing, empty, malformed, wrong-prefix or wrong-length value
    is simply ``False``. Several secrets may be given so a channel secret can be rotated without
    dropping traffic; every candidate is compared in constant time.
    """
    # Shape only (no regex on the hot path): a value that is not 40 hex digits never equals a
    # digest's hex, and compare_digest needs ASCII text.
    if not isinstance(signature, str) or len(signature) != 45 or signature[:5] != PREFIX or not signature.isascii():
        return False
    candidates: Sequence[Secret] = (secret,) if isinstance(secret, (str, bytes)) else secret
    given = signature[5:].lower()
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(hmac.digest(_key(candidate), body, "sha1").hex(), given)
    return matched


class HubSignature(httpx.Auth):
    """Sign each request's exact body with the channel secret (``X-Hub-Signature`` header).

    *secret* is one secret for every request, a mapping ``channel id -> secret`` (the channel is
    read from the ``/channels/{channelId}/`` segment of the URL), or a callable taking the channel
    id. A request for a channel without a secret raises ``UnknownChannel`` before anything is sent.
    The secret never appears in ``repr()``.
    """

    requires_request_body = False  # the flows below read a body only when and how they must

    def __init__(self, secret: Secret | Mapping[str, Secret] | Callable[[str | None], Secret | None]) -> None:
        # Which kind of secret, decided once (not by ABC checks on every request).
        self._fixed: Secret | None = secret if isinstance(secret, (str, bytes)) else None
        self._table: Mapping[str, Secret] | None = secret if isinstance(secret, Mapping) else None
        self._lookup: Callable[[str | None], Secret | None] | None = (
            None if isinstance(secret, (str, bytes, Mapping)) else secret
        )

    def __repr__(self) -> str:
        return "HubSignature(<secret>)"

    def secret_for(self, request: httpx.Request) -> Secret:
        if self._fixed is not None:
            return self._fixed
        match = _CHANNEL.search(request.url.path)
        channel = match.group(1) if match else None
        if self._table is not None:
            found = self._table.get(channel) if channel is not None else None
        else:
            found = self._lookup(channel) if self._lookup is not None else None
        if found is None:
            raise UnknownChannel(channel)
        return found

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[HEADER] = sign_request(self.secret_for(request), request)
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers[HEADER] = await asign_request(self.secret_for(request), request)
        yield request
