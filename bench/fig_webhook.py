"""``genesys_cx.webhooks.parse_message`` (verify, then parse into the model) against doing it by hand.

The bodies are the SMS and e-mail agent-message webhook examples of ``specs/messaging.yaml`` (003).
By hand means what an integration without the SDK does with the same bytes: HMAC-SHA1 of the body,
``hmac.compare_digest`` with the header, ``json.loads``.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from ._payloads import SECRET, webhook_examples
from ._stats import Row, Sample, interleave, ratio_row

__all__ = ["run"]


def run(quick: bool) -> list[Row]:
    from genesys_cx.signing import sign
    from genesys_cx.webhooks import parse_message

    key = SECRET.encode()
    rows = []
    for name, body in webhook_examples().items():
        signature = sign(SECRET, body)

        def ours(b: bytes = body, s: str = signature) -> object:
            return parse_message(b, s, SECRET)

        def by_hand(b: bytes = body, s: str = signature) -> object:
            expected = "sha1=" + hmac.new(key, b, hashlib.sha1).hexdigest()
            if not hmac.compare_digest(expected.encode(), s.lower().encode()):
                raise ValueError("bad signature")
            return json.loads(b)

        a, b = Sample("parse_message"), Sample("hmac+json.loads")
        interleave([(a, ours), (b, by_hand)], reps=10 if quick else 500, k=20, warmup=3)
        rows.append(ratio_row(f"webhook parse_message ({name}, {len(body)} B)", a, b, 1.8, note="20 calls per batch"))
    return rows
