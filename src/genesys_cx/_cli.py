"""The ``genesys-cx`` command line (also ``python -m genesys_cx``).

Subcommands are ``Command`` entries (name, help, ``add_arguments(parser)``, ``run(args) -> exit
code``) in ``COMMANDS`` (``_commands``, a leaf module: a command module imports ``register`` from
there, and this one imports the command modules); ``main`` builds the parser from it. Built in:

``genesys-cx sign``
    Print ``sha1=<hex>``, the ``X-Hub-Signature`` of a body (stdin, or ``--file PATH``).
``genesys-cx verify --signature sha1=...``
    Check a signature: exit 0 "signature valid ✓", 1 "signature INVALID".

The channel secret is never a command-line argument (it would land in the shell history and in
``ps``): it comes from an environment variable (``--secret-env NAME``, default
``GENESYS_CHANNEL_SECRET``) or a file (``--secret-file PATH``; one trailing newline is ignored).
Usage errors -- a missing secret, an unreadable file -- exit 2 with a message on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import signing
from ._commands import COMMANDS, Command, UsageError, build_parser, register
from ._extras import require
from .errors import ConfigurationError, GenesysError, MissingExtra

__all__ = ["COMMANDS", "Command", "UsageError", "add_sandbox_arguments", "build_parser", "main", "register"]

DEFAULT_SECRET_ENV = "GENESYS_CHANNEL_SECRET"


def main(argv: list[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or argparse's own usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        code: int = args._run(args)
    except UsageError as exc:
        print(f"genesys-cx {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (MissingExtra, ConfigurationError) as exc:  # one line saying what to install or to set
        print(f"genesys-cx {args.command}: error: {exc.message}", file=sys.stderr)
        return 2
    except GenesysError as exc:  # what Genesys (or the network) answered, in one line, not a traceback
        print(f"genesys-cx {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return code


# -- sign / verify ------------------------------------------------------------------------------


def _add_body_and_secret(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", metavar="PATH", help="read the body from PATH (default: standard input)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument(
        "--secret-env",
        metavar="NAME",
        default=DEFAULT_SECRET_ENV,
        help=f"environment variable holding the channel secret (default: {DEFAULT_SECRET_ENV})",
    )
    secret.add_argument("--secret-file", metavar="PATH", help="file holding the channel secret")
    # Only so that a secret typed on the command line is refused without being echoed back.
    parser.add_argument("--secret", dest="secret_given", help=argparse.SUPPRESS)


def _body(args: argparse.Namespace) -> bytes:
    if args.file is None:
        return sys.stdin.buffer.read()
    try:
        return Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the body from {args.file}: {exc.strerror or exc}") from None


def _secret(args: argparse.Namespace) -> bytes:
    if args.secret_given is not None:
        raise UsageError(
            "the channel secret is never taken from the command line (shell history, ps): "
            "use --secret-env NAME or --secret-file PATH"
        )
    if args.secret_file is not None:
        try:
            raw = Path(args.secret_file).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read the secret file {args.secret_file}: {exc.strerror or exc}") from None
        secret = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
        if not secret:
            raise UsageError(f"the secret file {args.secret_file} is empty")
        return secret
    value = os.environ.get(args.secret_env)
    if not value:
        state = "is empty" if value == "" else "is not set"
        raise UsageError(
            f"no channel secret: the environment variable {args.secret_env} {state} "
            "(set it, or give --secret-env NAME or --secret-file PATH)"
        )
    return os.fsencode(value)


def _say(text: str) -> None:
    stream = sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    print(text.encode(encoding, errors="replace").decode(encoding), file=stream)


def _run_sign(args: argparse.Namespace) -> int:
    secret = _secret(args)
    _say(signing.sign(secret, _body(args)))
    return 0


def _add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--signature", required=True, metavar="sha1=HEX", help="the X-Hub-Signature value to check")
    _add_body_and_secret(parser)


def _run_verify(args: argparse.Namespace) -> int:
    secret = _secret(args)
    if signing.verify(secret, _body(args), args.signature):
        _say("signature valid ✓")
        return 0
    _say("signature INVALID")
    return 1


register("sign", _add_body_and_secret, _run_sign, help="print the X-Hub-Signature (sha1=<hex HMAC-SHA1>) of a body")
register(
    "verify",
    _add_verify_arguments,
    _run_verify,
    help="check an X-Hub-Signature against a body (exit 0 valid, 1 invalid)",
)


# -- sandbox / demo: the parser is built without importing the sandbox (its extra may be missing) -


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``genesys-cx sandbox``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 picks a free one)")
    parser.add_argument("--config", metavar="FILE", help="a SandboxConfig as .json, .yaml or .toml")


def _run_sandbox(args: argparse.Namespace) -> int:
    from .sandbox._cli import run

    return run(args)


def _run_demo(args: argparse.Namespace) -> int:
    # the embedded sandbox, or (against a real tenant) only the webhook receiver
    require("server" if "GENESYS_BASE_URL" in os.environ else "sandbox", "genesys-cx demo")
    from ._demo import run

    return run(keep_open=args.keep_open)


def _add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep-open",
        action="store_true",
        help="leave the embedded sandbox (and its inspector page) running after the steps, until Ctrl-C",
    )


register(
    "sandbox",
    add_sandbox_arguments,
    _run_sandbox,
    help="run the local Genesys emulator on loopback until Ctrl-C (needs the sandbox extra)",
)
register(
    "demo",
    _add_demo_arguments,
    _run_demo,
    help="the end-to-end demo on the embedded sandbox (or the tenant named by GENESYS_* variables)",
)

from . import _export_cli  # noqa: E402, F401 - registers `export` and `download` (after the built-in ones)
