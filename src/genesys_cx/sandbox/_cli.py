"""``genesys-cx sandbox``: run the emulator in the foreground until Ctrl-C.

The main CLI calls ``add_arguments(parser)`` on its ``sandbox`` sub-parser and ``run(args)``. The
command prints the URL, the base path of every API and the demo credentials (the sandbox's own,
public test values; a ``--config`` file replaces them and is then not echoed).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import TextIO

from ._config import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CHANNEL_ID,
    DEMO_CHANNEL_SECRET,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    SandboxConfig,
)
from ._sandbox import Sandbox

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 picks a free one)")
    parser.add_argument("--config", metavar="FILE", help="a SandboxConfig as .json, .yaml or .toml")


def _banner(sandbox: Sandbox, demo: bool, out: TextIO) -> None:
    print(f"Genesys sandbox listening on {sandbox.url}", file=out)
    for api in ("messaging", "open_media", "auth", "secure_email", "udm", "data_download", "statistics"):
        print(f"  {api:<14} {sandbox.base_url(api)}", file=out)
    print(f"  control        {sandbox.url}/_sandbox", file=out)
    print(f"  inspector      {sandbox.url}/_sandbox/   (open it in a browser: every request, live)", file=out)
    if demo:
        print("Demo credentials (sandbox-only test values):", file=out)
        print(f"  x-api-key: {DEMO_API_KEY}    x-ccid: {DEMO_CCID}", file=out)
        print(f"  channel {DEMO_CHANNEL_ID}, secret {DEMO_CHANNEL_SECRET}", file=out)
        print(f"  OAuth client {DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}, user {DEMO_USERNAME}:{DEMO_PASSWORD}", file=out)
    else:
        print("Credentials: as in the configuration file.", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)


def run(args: argparse.Namespace, *, out: TextIO = sys.stdout, stop: threading.Event | None = None) -> int:
    """Run until Ctrl-C (or *stop* is set); 0 on a clean stop, 2 for a bad configuration."""
    try:
        config = SandboxConfig.from_file(args.config) if args.config else SandboxConfig()
    except (OSError, ValueError) as exc:
        print(f"genesys-cx sandbox: {exc}", file=sys.stderr)
        return 2
    stop = stop or threading.Event()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        stop.set()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, interrupted) if in_main_thread else None
    try:
        with Sandbox(config, host=args.host, port=args.port) as sandbox:
            _banner(sandbox, not args.config, out)
            while not stop.wait(0.5):
                pass
    except (OSError, RuntimeError) as exc:  # the port is taken, the host cannot be bound
        print(f"genesys-cx sandbox: {exc}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    print("Sandbox stopped.", file=out)
    return 0
