"""The heartbeat: claims stay held while their handler runs, and only that long.

A claim's lease is short (``DEFAULT_LEASE``, 5 s) so that a receiver killed mid-handler frees the
message within seconds. A handler may run far longer than that, so while it runs the receiver
*holds* its claim here, and one daemon thread renews every held claim each ``lease / 3`` seconds
(``store.renew``). When the handler returns or raises, the claim is *dropped* and renewals stop;
when the process dies, they stop with it, and the lease runs out. A claim held longer than the
store's ``max_hold`` (default 10 minutes) belongs to a handler taken to be stuck: it is dropped with
an error in the log, so the lease runs out and a redelivery runs the handler again.

One thread serves every store: a renewal is one small store call, and a store that hangs on one
renewal would hang on the others too. A renewal that fails (the store is unreachable) is retried
at the next beat; one that reports the claim gone (the lease ran out first: the process was
paused longer than the lease, or the store lost it) is logged, because another delivery may now
run the handler a second time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .._redact import get_logger
from ._stores import DEFAULT_LEASE, DEFAULT_MAX_HOLD, Claim, IdempotencyStore

__all__ = ["drop", "hold"]

logger = get_logger("webhooks")


@dataclass
class _Held:
    store: IdempotencyStore
    claim: Claim
    interval: float
    due: float
    until: float  # renewed no longer than this (the store's max_hold after the claim)


class _Heartbeat:
    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # when the beating thread next wakes up by itself

    def hold(self, store: IdempotencyStore, claim: Claim) -> None:
        lease = getattr(store, "lease", DEFAULT_LEASE)
        interval = max(0.01, lease / 3) if isinstance(lease, (int, float)) and lease > 0 else DEFAULT_LEASE / 3
        now = time.monotonic()
        due = now + interval
        max_hold = getattr(store, "max_hold", DEFAULT_MAX_HOLD)
        until = now + max_hold if isinstance(max_hold, (int, float)) and max_hold > 0 else float("inf")
        with self._wake:
            self._held[claim.token] = _Held(store, claim, interval, due, until)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._beat, name="genesys-cx-leases", daemon=True)
                self._thread.start()
            if due < self._wakes_at:  # the thread sleeps past this claim's first beat: wake it now
                self._wake.notify()

    def drop(self, claim: Claim) -> None:
        with self._wake:
            self._held.pop(claim.token, None)

    def _beat(self) -> None:
        while True:
            with self._wake:
                now = time.monotonic()
                due = [held for held in self._held.values() if held.due <= now]
                if not due:
                    self._wakes_at = min((held.due for held in self._held.values()), default=now + 60)
                    self._wake.wait(self._wakes_at - now)
                    self._wakes_at = 0.0  # awake: a hold() need not notify
                    continue
                stuck = [held for held in due if held.until <= now]
                for held in stuck:
                    del self._held[held.claim.token]
                live = [held for held in due if held.until > now]
                for held in live:
                    held.due = now + held.interval
            for held in stuck:
                logger.error(
                    "the webhook handler for %s has held its claim for longer than max_hold; the claim is "
                    "no longer renewed, so a redelivery will run the handler again (the stuck one is not stopped)",
                    held.claim.key,
                )
            for held in live:
                self._renew(held)

    def _renew(self, held: _Held) -> None:
        try:
            kept = held.store.renew(held.claim)
        except Exception:
            logger.warning("could not renew the claim on %s; trying again at the next beat", held.claim.key)
            return
        if not kept:
            with self._wake:
                still_held = self._held.pop(held.claim.token, None) is not None
            if still_held:
                logger.warning(
                    "the claim on %s was lost before its handler finished (its lease ran out); "
                    "a redelivery may run the handler again",
                    held.claim.key,
                )


_heartbeat = _Heartbeat()


def hold(store: IdempotencyStore, claim: Claim) -> None:
    """Keep renewing *claim* in *store* until ``drop(claim)``."""
    _heartbeat.hold(store, claim)


def drop(claim: Claim) -> None:
    """Stop renewing *claim* (its handler finished)."""
    _heartbeat.drop(claim)
