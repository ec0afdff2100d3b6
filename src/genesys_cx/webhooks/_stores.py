"""Idempotency: each message is handled once, and a failed one is handled again.

Genesys redelivers a webhook that was not answered with 2xx within 10 s, so the same message can
arrive several times, and a receiver must neither lose it nor act on it twice. A store keeps one
entry per idempotency key, in one of three states, and the receiver works it like this:

1. ``claim(key)`` atomically looks the key up. Absent (or its lease ran out): the entry becomes
   *in progress* under a fresh token and the claim is ``NEW`` -- this delivery runs the handler.
   *In progress*: another delivery is running it right now -- answer 503, Genesys tries later.
   *Done*: it was handled -- answer 200 again with the id answered the first time, handler not run.
2. While the handler runs, ``renew(claim)`` is called every ``lease / 3`` seconds (the heartbeat,
   ``_leases``): a live handler, however slow, keeps its claim.
3. The handler succeeded: ``complete(claim, response_id)`` marks it done for ``ttl`` seconds.
4. The handler raised: ``release(claim)`` removes the in-progress entry (only if it is still this
   claim's, by token), so the redelivery Genesys makes after the 5xx runs the handler again.

A claim whose heartbeat stops -- the process was killed, the host lost power -- expires ``lease``
seconds (default 5) after its last renewal, and the next redelivery runs the handler. The lease is
short so that this happens well inside Genesys's redelivery attempts; it does not limit how long a
handler may run. What does is ``max_hold`` (default 10 minutes, ``None`` for no limit): a handler
still running after that long is taken to be stuck, its claim is no longer renewed, and the next
redelivery after the lease runs the handler again (the stuck one is not stopped -- Python cannot stop a
thread -- and if it ever returns, the message is recorded as done like any other).
Entries are done for ``ttl`` seconds (default one day): longer than Genesys keeps redelivering.

``MemoryStore`` (bounded, one process) is the default of ``webhook_app``; ``SQLiteStore`` is durable
on one host and survives a restart; ``RedisStore`` (in ``_redis``) serves several hosts. All three
have the same semantics, checked by one test suite.
"""

from __future__ import annotations

import enum
import os
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Claim", "ClaimState", "IdempotencyStore", "MemoryStore", "SQLiteStore"]

DEFAULT_TTL = 86_400.0
DEFAULT_LEASE = 5.0
DEFAULT_MAX_HOLD = 600.0


class ClaimState(enum.Enum):
    """What ``IdempotencyStore.claim`` found."""

    NEW = "new"  #: nobody handled it yet; this delivery must run the handler
    IN_PROGRESS = "in_progress"  #: another delivery is running the handler right now
    DONE = "done"  #: handled successfully before; answer again with ``response_id``


@dataclass(frozen=True)
class Claim:
    """The answer of ``claim``: the key, the state found, and this delivery's token (``NEW`` only)."""

    key: str
    state: ClaimState
    token: str = ""
    response_id: str | None = None


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where the receiver records which messages are being handled and which are done."""

    def claim(self, key: str) -> Claim:
        """Atomically: take the key if it is free (``NEW``), else report ``IN_PROGRESS``/``DONE``."""
        ...

    def complete(self, claim: Claim, response_id: str | None) -> None:
        """The handler of *claim* succeeded: remember the key as done, with the id answered."""
        ...

    def release(self, claim: Claim) -> None:
        """The handler of *claim* failed: forget the key (if still held by *claim*) so it runs again."""
        ...

    def renew(self, claim: Claim) -> bool:
        """Extend the lease of *claim* by the store's lease; False if the key is no longer held by it."""
        ...


def new_token() -> str:
    return secrets.token_hex(16)


def _check_durations(ttl: float, lease: float, max_hold: float | None) -> None:
    if not ttl > 0 or not lease > 0:
        raise ValueError(f"ttl and lease must be positive numbers of seconds, got ttl={ttl!r}, lease={lease!r}")
    if max_hold is not None and not max_hold > 0:
        raise ValueError(f"max_hold must be a positive number of seconds or None, got {max_hold!r}")


@dataclass
class _Entry:
    state: ClaimState
    token: str
    response_id: str | None
    expires: float


class MemoryStore:
    """An in-process store, bounded to *max_entries* keys (the oldest are forgotten first).

    Fine for a single receiver process; forgotten on restart (use ``SQLiteStore`` for that).
    """

    def __init__(
        self,
        max_entries: int = 100_000,
        *,
        ttl: float = DEFAULT_TTL,
        lease: float = DEFAULT_LEASE,
        max_hold: float | None = DEFAULT_MAX_HOLD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries!r}")
        _check_durations(ttl, lease, max_hold)
        self.max_entries, self.ttl, self.lease, self.max_hold = max_entries, ttl, lease, max_hold
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryStore(entries={len(self._entries)}, max_entries={self.max_entries})"

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, key: str) -> Claim:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires > now:
                return Claim(key, entry.state, response_id=entry.response_id)
            token = new_token()
            self._put(key, _Entry(ClaimState.IN_PROGRESS, token, None, now + self.lease))
            return Claim(key, ClaimState.NEW, token)

    def complete(self, claim: Claim, response_id: str | None) -> None:
        with self._lock:
            self._put(claim.key, _Entry(ClaimState.DONE, claim.token, response_id, self._clock() + self.ttl))

    def release(self, claim: Claim) -> None:
        with self._lock:
            if self._held(claim) is not None:
                del self._entries[claim.key]

    def renew(self, claim: Claim) -> bool:
        with self._lock:
            entry = self._held(claim)
            if entry is not None:
                entry.expires = self._clock() + self.lease
            return entry is not None

    def _held(self, claim: Claim) -> _Entry | None:
        entry = self._entries.get(claim.key)
        if entry is not None and entry.state is ClaimState.IN_PROGRESS and entry.token == claim.token:
            return entry
        return None

    def _put(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class SQLiteStore:
    """A store in an SQLite file: durable on one host, survives restarts, shared by its processes.

    Claims run in ``BEGIN IMMEDIATE`` transactions, so several processes on the host can share the
    file. Expired rows are purged as keys are claimed. ``close()`` (or ``with``) releases the file.
    """

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS webhook_deliveries ("
        " key TEXT PRIMARY KEY, state TEXT NOT NULL, token TEXT NOT NULL,"
        " response_id TEXT, expires REAL NOT NULL)"
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ttl: float = DEFAULT_TTL,
        lease: float = DEFAULT_LEASE,
        max_hold: float | None = DEFAULT_MAX_HOLD,
    ) -> None:
        _check_durations(ttl, lease, max_hold)
        self.path, self.ttl, self.lease, self.max_hold = os.fspath(path), ttl, lease, max_hold
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(self._SCHEMA)
            self._db.execute("CREATE INDEX IF NOT EXISTS webhook_deliveries_expires ON webhook_deliveries (expires)")

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def claim(self, key: str) -> Claim:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM webhook_deliveries WHERE expires <= ?", (now,))
                row = self._db.execute(
                    "SELECT state, response_id FROM webhook_deliveries WHERE key = ?", (key,)
                ).fetchone()
                if row is not None:
                    claim = Claim(key, ClaimState(row[0]), response_id=row[1])
                else:
                    claim = Claim(key, ClaimState.NEW, new_token())
                    self._db.execute(
                        "INSERT INTO webhook_deliveries VALUES (?, ?, ?, NULL, ?)",
                        (key, ClaimState.IN_PROGRESS.value, claim.token, now + self.lease),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return claim

    def complete(self, claim: Claim, response_id: str | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO webhook_deliveries VALUES (?, ?, ?, ?, ?)",
                (claim.key, ClaimState.DONE.value, claim.token, response_id, time.time() + self.ttl),
            )

    def release(self, claim: Claim) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM webhook_deliveries WHERE key = ? AND state = ? AND token = ?",
                (claim.key, ClaimState.IN_PROGRESS.value, claim.token),
            )

    def renew(self, claim: Claim) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE webhook_deliveries SET expires = ? WHERE key = ? AND state = ? AND token = ?",
                (time.time() + self.lease, claim.key, ClaimState.IN_PROGRESS.value, claim.token),
            )
            return cursor.rowcount == 1
