"""``python -m generator [--check] [--force]``."""

from __future__ import annotations

import argparse
import sys

from ._bundle import SpecError
from ._pipeline import check, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generator", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated/ differs from a fresh run")
    parser.add_argument("--force", action="store_true", help="regenerate even if the inputs did not change")
    args = parser.parse_args(argv)
    try:
        if args.check:
            ok, message = check()
            print(message)
            return 0 if ok else 1
        print(generate(force=args.force))
        return 0
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
