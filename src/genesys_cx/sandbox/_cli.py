"""``genesys-cx sandbox``: run the emulator in the foreground until Ctrl-C.

The main CLI defines the sub-parser's options (``genesys_cx._cli.add_sandbox_arguments``: its
``--help`` needs no extra) and calls ``run(args)``. The
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

from genesys_cx_api._registry import APIS

from ..errors import ConfigurationError
from ._config import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    SandboxConfig,
)
from ._sandbox import Sandbox

__all__ = ["run"]


def _banner(sandbox: Sandbox, demo: bool, out: TextIO) -> None:
    print(f"Genesys sandbox listening on {sandbox.url}", file=out)
    for api in (name for name, entry in APIS.items() if entry.operations):
        print(f"  {api:<14} {sandbox.base_url(api)}", file=out)
    print(f"  control        {sandbox.url}/_sandbox", file=out)
    print(f"  inspector      {sandbox.url}/_sandbox/   (open it in a browser: every request, live)", file=out)
    config = sandbox.config
    print(f"Open Media services: {', '.join(config.open_media_services) or '(none)'}", file=out)
    print("Messaging channels:", file=out)
    for channel in config.channels:
        secret = f", secret {channel.secret}" if demo else ""
        webhook = channel.webhook_url or "(replies recorded, not delivered)"
        print(f"  {channel.id} ({channel.type}{secret}) -> webhook {webhook}", file=out)
    if not config.channels:
        print("  (none)", file=out)
    if demo:
        print("Demo credentials (sandbox-only test values):", file=out)
        print(f"  x-api-key: {DEMO_API_KEY}    x-ccid: {DEMO_CCID}", file=out)
        print(f"  OAuth client {DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}, user {DEMO_USERNAME}:{DEMO_PASSWORD}", file=out)
    else:
        print("Credentials: as in the configuration file.", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)


def run(args: argparse.Namespace, *, out: TextIO = sys.stdout, stop: threading.Event | None = None) -> int:
    """Run until Ctrl-C (or *stop* is set); 0 on a clean stop, 2 for a bad configuration."""
    try:
        config = SandboxConfig.from_file(args.config) if args.config else SandboxConfig()
    except ConfigurationError as exc:
        print(f"genesys-cx sandbox: error: {exc.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:  # an unreadable file, malformed JSON / YAML / TOML
        print(f"genesys-cx sandbox: error: {args.config}: {exc}", file=sys.stderr)
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
