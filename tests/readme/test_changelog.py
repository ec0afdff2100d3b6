"""CHANGELOG.md speaks of the version the package says it is."""

from __future__ import annotations

import re
from pathlib import Path

from genesys_cx import __version__


def test_the_newest_changelog_entry_is_this_version() -> None:
    text = (Path(__file__).parents[2] / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\S+)", text, flags=re.MULTILINE)
    assert versions and versions[0] == __version__, (
        f"CHANGELOG.md starts at {versions[:1]}, the package is {__version__}"
    )
