"""``python -m generator.validate specs/<api>.yaml ...``: check specs before generating.

For each file: bundle it, validate it as OpenAPI 3.1, validate every example against its schema,
and test-run the generator on it (warnings are failures). Prints one block per file; exits 1 if
any file has a problem.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ._build import generate_package
from ._bundle import SpecError
from ._examples import example_errors, iter_examples
from ._paths import api_name
from ._pipeline import check_versions, load_validated


def problems(spec: Path) -> tuple[list[str], int]:
    """(problems, number of examples checked) for one spec file."""
    try:
        doc = load_validated(spec)
    except SpecError as exc:
        return [str(exc)], 0
    found = [f"example {line}" for line in example_errors(doc)]
    count = sum(1 for _ in iter_examples(doc))
    with tempfile.TemporaryDirectory(prefix="genesys-validate-") as tmp:
        try:
            generate_package(api_name(spec), f"specs/{spec.name}", doc, Path(tmp))
        except SpecError as exc:
            found.append(str(exc))
    return found, count


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m generator.validate specs/<api>.yaml ...", file=sys.stderr)
        return 2
    check_versions()
    failed = False
    for name in argv:
        found, count = problems(Path(name))
        if found:
            failed = True
            print(f"{name}: {len(found)} problem(s)")
            for line in found:
                print(f"  - {line}")
        else:
            print(f"{name}: ok ({count} examples valid, generator clean)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
