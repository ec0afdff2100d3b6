"""The registry of ``genesys-cx`` subcommands (a leaf module: command modules import it, ``_cli`` runs it).

``register(name, add_arguments, run, help=...)`` adds a ``Command``; ``build_parser()`` turns
``COMMANDS`` into the argparse parser ``genesys_cx._cli.main`` runs. A command raises ``UsageError``
for a problem with how it was called (``main`` prints it and exits 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from ._version import __version__

__all__ = ["COMMANDS", "Command", "UsageError", "build_parser", "register"]


class UsageError(Exception):
    """A problem with how the command was called; ``main`` prints it and exits 2."""


@dataclass(frozen=True)
class Command:
    """One subcommand: ``add_arguments`` fills its parser, ``run`` returns the exit code."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: list[Command] = []


def register(
    name: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    *,
    help: str = "",
) -> None:
    """Add (or replace) the subcommand *name*."""
    COMMANDS[:] = [command for command in COMMANDS if command.name != name]
    COMMANDS.append(Command(name, help, add_arguments, run))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genesys-cx", description="Genesys Multicloud CX SDK tools.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(_run=command.run)
    return parser
