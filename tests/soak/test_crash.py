"""SIGKILL mid-handler, restart on the same store: the message is processed within Genesys's retries.

A receiver is killed while its handler runs (after the claim, before any result is recorded), then
started again on the same store and port. A Genesys-like sender (8 attempts over 30 s) keeps
delivering. With the default lease (5 s, renewed by the heartbeat while a handler lives) the dead
claim expires within seconds and a redelivery is processed -- exactly once, since the killed run
never reached its side effect.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ._cluster import GENESYS_GAPS, Delivery, Receiver, Tally, deliver, message


def _started(log: Path, message_id: str) -> bool:
    return log.exists() and f"started {message_id} " in log.read_text()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_receiver_killed_mid_handler_loses_nothing(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = (
        f"sqlite:{tmp_path / 'store.sqlite3'}" if kind == "sqlite" else f"redis:{request.getfixturevalue('redis_url')}"
    )
    log = tmp_path / "handler.log"
    first = Receiver(store, log, hang=True).start()  # its handler blocks on "hang": a run in progress
    result: list[Delivery] = []
    sender = threading.Thread(target=lambda: result.append(deliver(first.url, "crash-1", message("crash-1", "hang"))))
    sender.start()
    for _ in range(3000):  # upper bound only: until the handler runs
        if _started(log, "crash-1"):
            break
        time.sleep(0.01)
    killed = first.kill()
    second = Receiver(store, log, port=first.port).start()  # the restart: same store, same address
    try:
        sender.join(60)
    finally:
        second.stop()

    (delivery,) = result
    tally = Tally.read(log)
    print(f"\n{kind}: attempts {delivery.outcomes} (gaps {GENESYS_GAPS[: len(delivery.outcomes)]} s)")
    assert delivery.acknowledged, delivery.outcomes  # processed within the 8 attempts
    assert delivery.outcomes[0] == "dropped"  # the attempt the killed process was handling
    assert tally.processed["crash-1"] == 1 and tally.processed_by["crash-1"] == [second.pid]
    assert killed != second.pid and delivery.unanswered == 0
