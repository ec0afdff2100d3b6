"""Three receiver processes on one Redis behind one address, duplicates spread over them, one SIGKILLed.

Every message is delivered by several concurrent Genesys-like senders at once (duplicates), through
a loopback round-robin that hands each connection to the next receiver. Some messages are slow,
and one receiver is SIGKILLed while its handler runs. Counted: messages lost, messages processed
twice outside the crash window, attempts not answered within Genesys's 10 s.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ._cluster import Delivery, Receiver, RoundRobin, Tally, deliver, message

MESSAGES = 30
COPIES = 3  # concurrent deliveries of each message
QUICK_GAPS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)  # 8 attempts, ~25 s: Genesys compressed a little


def test_three_receivers_on_one_redis_lose_nothing_and_run_nothing_twice(redis_url: str, tmp_path: Path) -> None:
    log = tmp_path / "handler.log"
    store = f"redis:{redis_url}"
    cluster = [Receiver(store, log, hang=(n == 1)).start() for n in range(3)]  # #1's "hang" runs block
    ids = [f"multi-{n}" for n in range(MESSAGES)]
    texts = {mid: "hang" if n % 10 == 3 else "slow:0.3" if n % 3 == 0 else "hello" for n, mid in enumerate(ids)}
    deliveries: list[Delivery] = []
    lock = threading.Lock()
    killed: set[int] = set()
    try:
        with RoundRobin([r.port for r in cluster]) as front:

            def send(mid: str) -> None:
                result = deliver(front.url, mid, message(mid, texts[mid]), QUICK_GAPS)
                with lock:
                    deliveries.append(result)

            senders = [threading.Thread(target=send, args=(mid,)) for mid in ids for _ in range(COPIES)]
            for sender in senders:
                sender.start()
            for _ in range(3000):  # upper bound only: until receiver #1 is inside a handler that hangs
                if log.exists() and f" {cluster[1].pid}\n" in log.read_text():
                    break
                time.sleep(0.01)
            killed.add(cluster[1].kill())
            for sender in senders:
                sender.join(120)
    finally:
        for receiver in cluster:
            receiver.stop()

    tally = Tally.read(log)
    inside, outside = tally.twice(killed)
    unanswered = sum(d.unanswered for d in deliveries)
    print(f"\nmulti-instance Redis: {MESSAGES} messages x {COPIES} concurrent copies over 3 receivers, 1 SIGKILLed")
    print(
        f"lost={len(tally.lost(ids))} twice-outside-crash-window={len(outside)} twice-inside={len(inside)} "
        f"unanswered-within-deadline={unanswered} attempts={sum(len(d.outcomes) for d in deliveries)}"
    )
    print(
        "outcomes of unacknowledged or unanswered deliveries:",
        [(d.message_id, d.outcomes) for d in deliveries if not d.acknowledged or d.unanswered],
    )
    assert len(deliveries) == MESSAGES * COPIES
    assert tally.lost(ids) == []
    assert outside == []
    assert unanswered == 0
    assert all(d.acknowledged for d in deliveries), [d.outcomes for d in deliveries if not d.acknowledged]
