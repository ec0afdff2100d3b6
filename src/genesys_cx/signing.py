"""X-Hub-Signature: HMAC-SHA1 over the raw body, keyed with the channel secret.

The Third-Party Messaging overview specifies that every request to Genesys and every webhook from
Genesys carries ``X-Hub-Signature: sha1=<40 lowercase hex>``, the HMAC-SHA1 of the exact body bytes
with the channel's secret as key. ``sign`` computes it, ``verify`` checks it in constant time, and
``HubSignature`` is an ``httpx.Auth`` that signs the bytes httpx actually sends (JSON or multipart),
for sync and async clients alike.

>>> sign("secret", b'{"hello": "world"}')
'sha1=cb24396515344ebd4d863037d68104a6812eba59'
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Generator, Mapping, Sequence

import httpx

from .errors import UnknownChannel

__all__ = ["HEADER", "PREFIX", "HubSignature", "UnknownChannel", "sign", "verify"]

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


def verify(secret: Secret | Sequence[Secret], body: bytes, signature: str | None) -> bool:
    """True if *signature* is ``sign(s, body)`` for the secret (or one of the secrets) given.

    Never raises for a bad header: a missing, empty, malformed, wrong-prefix or wrong-length value
    is simply ``False``. Several secrets may be given so a channel secret can be rotated without
    dropping traffic; every candidate is compared in constant time.
    """
    if not isinstance(signature, str) or _SIGNATURE.fullmatch(signature) is None:
        return False
    candidates: Sequence[Secret] = [secret] if isinstance(secret, (str, bytes)) else secret
    given = signature.lower().encode("ascii")
    matched = False
    for candidate in candidates:
        expected = sign(candidate, body).encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    return matched


class HubSignature(httpx.Auth):
    """Sign each request's exact body with the channel secret (``X-Hub-Signature`` header).

    *secret* is one secret for every request, a mapping ``channel id -> secret`` (the channel is
    read from the ``/channels/{channelId}/`` segment of the URL), or a callable taking the channel
    id. A request for a channel without a secret raises ``UnknownChannel`` before anything is sent.
    The secret never appears in ``repr()``.
    """

    requires_request_body = True

    def __init__(self, secret: Secret | Mapping[str, Secret] | Callable[[str | None], Secret | None]) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return "HubSignature(<secret>)"

    def secret_for(self, request: httpx.Request) -> Secret:
        if isinstance(self._secret, (str, bytes)):
            return self._secret
        match = _CHANNEL.search(request.url.path)
        channel = match.group(1) if match else None
        if isinstance(self._secret, Mapping):
            found = self._secret.get(channel) if channel is not None else None
        else:
            found = self._secret(channel)
        if found is None:
            raise UnknownChannel(channel)
        return found

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[HEADER] = sign(self.secret_for(request), request.content)
        yield request
