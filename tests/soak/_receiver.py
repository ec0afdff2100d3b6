"""A webhook receiver process for the crash, multi-instance and soak tests (run as a script).

    python tests/soak/_receiver.py --store sqlite:/tmp/x.sqlite3 --log /tmp/log --port 8123 [--hang]

It serves ``webhook_app`` with ``server_config`` (the SDK's recommended settings) on the port, over
the given idempotency store (``sqlite:<path>`` or ``redis:<url>``). The handler's side effect is one
line appended to the log: ``processed <message id> <pid>`` (``started`` first, ``failed`` when it
raises). What it does is read from the message text, word by word: ``slow:<s>`` sleeps, ``fail:<p>``
raises with probability p, ``hang`` blocks forever when the process was started with ``--hang``.
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time

import uvicorn

from genesys_cx.webhooks import OutgoingMessage, RedisStore, SQLiteStore, UnknownMessage, server_config, webhook_app

SECRET = "soak-channel-secret"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--deadline", type=float, default=8.0)
    args = parser.parse_args()

    kind, _, where = args.store.partition(":")
    store = SQLiteStore(where) if kind == "sqlite" else RedisStore(where)
    log = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    pid = os.getpid()
    never = threading.Event()

    def note(what: str, message_id: str) -> None:
        os.write(log, f"{what} {message_id} {pid}\n".encode())  # one O_APPEND write: atomic across processes

    def handler(message: OutgoingMessage) -> None:
        assert not isinstance(message, UnknownMessage)
        message_id, text = message.channel.message_id, getattr(message, "text", "")
        note("started", message_id)
        for word in text.split():
            name, _, value = word.partition(":")
            if name == "slow":
                time.sleep(float(value))
            elif name == "fail" and random.random() < float(value):
                note("failed", message_id)
                raise RuntimeError("injected handler failure")
            elif name == "hang" and args.hang:
                never.wait()
        note("processed", message_id)

    app = webhook_app(SECRET, handler, store=store, timeout=args.deadline, max_concurrency=64)
    uvicorn.Server(server_config(app, "127.0.0.1", args.port, log_level="error")).run()


if __name__ == "__main__":
    main()
