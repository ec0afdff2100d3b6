"""``RedisStore``: one idempotency store for receivers on several hosts.

A claim is one atomic ``SET key "p:<token>" NX PX <lease>``; completion overwrites the value with
``"d:<json response id>"`` and an ``EX <ttl>``; a release deletes the key only while it still holds
the claim's token (a compare-and-delete Lua script), and a renewal resets the ``PX`` only while
it does (compare-and-expire). ``redis`` (the ``redis`` extra) is imported
when a store is built, not when ``genesys_cx.webhooks`` is.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._extras import require
from ._stores import DEFAULT_LEASE, DEFAULT_MAX_HOLD, DEFAULT_TTL, Claim, ClaimState, _check_durations, new_token

if TYPE_CHECKING:
    import redis

__all__ = ["RedisStore"]

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisStore:
    """An idempotency store in Redis, shared by every receiver that uses the same server and prefix.

    *client* is a ``redis://`` (or ``rediss://``, ``unix://``) URL or a ready ``redis.Redis`` client;
    *ttl* is how long a handled message is remembered, in seconds. The URL (which may carry a
    password) is never shown by ``repr()``.
    """

    def __init__(
        self,
        client: str | redis.Redis,
        ttl: float = DEFAULT_TTL,
        *,
        lease: float = DEFAULT_LEASE,
        max_hold: float | None = DEFAULT_MAX_HOLD,
        prefix: str = "genesys-cx:webhook:",
    ) -> None:
        _check_durations(ttl, lease, max_hold)
        if isinstance(client, str):
            require("redis", "RedisStore")
            import redis

            client = redis.Redis.from_url(client)
        self._redis: Any = client
        self.ttl, self.lease, self.max_hold, self.prefix = ttl, lease, max_hold, prefix

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"

    def claim(self, key: str) -> Claim:
        name = self.prefix + key
        for _ in range(5):  # the key may expire between SET NX and GET: then simply try again
            token = new_token()
            if self._redis.set(name, "p:" + token, nx=True, px=self._lease_ms):
                return Claim(key, ClaimState.NEW, token)
            value = self._redis.get(name)
            if value is None:
                continue
            text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
            if text.startswith("d:"):
                response_id = json.loads(text[2:])
                return Claim(key, ClaimState.DONE, response_id=response_id if isinstance(response_id, str) else None)
            return Claim(key, ClaimState.IN_PROGRESS)
        return Claim(key, ClaimState.IN_PROGRESS)

    def complete(self, claim: Claim, response_id: str | None) -> None:
        self._redis.set(self.prefix + claim.key, "d:" + json.dumps(response_id), ex=max(1, int(self.ttl)))

    def release(self, claim: Claim) -> None:
        self._redis.eval(_RELEASE, 1, self.prefix + claim.key, "p:" + claim.token)

    def renew(self, claim: Claim) -> bool:
        return bool(self._redis.eval(_RENEW, 1, self.prefix + claim.key, "p:" + claim.token, self._lease_ms))

    @property
    def _lease_ms(self) -> int:
        return max(1, int(self.lease * 1000))
