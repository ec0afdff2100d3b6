"""``genesys_cx.signing.sign`` against a bare ``hmac.new(key, body, sha1).hexdigest()``, 1 KiB and 1 MiB."""

from __future__ import annotations

import hashlib
import hmac
import os

from ._payloads import SECRET
from ._stats import Row, Sample, interleave, ratio_row

__all__ = ["run"]


def run(quick: bool) -> list[Row]:
    from genesys_cx.signing import sign

    rows = []
    key = SECRET.encode()
    for label, size, k, reps in (("1 KiB", 1024, 50, 500), ("1 MiB", 1024 * 1024, 1, 300)):
        body = os.urandom(size)
        ours, bare = Sample("sign"), Sample("hmac")

        def signed(b: bytes = body) -> str:
            return sign(SECRET, b)

        def bare_hmac(b: bytes = body) -> str:
            return hmac.new(key, b, hashlib.sha1).hexdigest()

        interleave(
            [(ours, signed), (bare, bare_hmac)],
            reps=10 if quick else reps,
            k=k,
            warmup=3,
        )
        unit = "us" if size < 65536 else "ms"
        rows.append(ratio_row(f"sign() {label} body", ours, bare, 1.1, unit=unit, note=f"{k} calls per batch"))
    return rows
