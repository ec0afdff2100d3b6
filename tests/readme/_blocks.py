"""The ```python blocks of README.md, and what each needs prepared before it runs.

The convention (binding for every README block; see also /work/coord/NOTES.md):

* Every fenced block opened with ```python runs, as written, in the test suite
  (``tests/readme/test_readme_blocks.py``). There is no way to skip one.
* A block that needs names a reader has in their own program (a client, their secret, their
  delivery function) says so in an HTML comment on the line right before its fence::

      <!-- readme-test: genesys photo.jpg -->
      ```python
      ...

  Each word is one entry of ``PREPARED`` below: a name bound before the block runs (with the
  declaration a type checker sees), an environment (``env``: ``GENESYS_*`` variables pointing at a
  running sandbox), or a file in the working directory. A word not in ``PREPARED`` fails the test.
* Every block runs in a fresh namespace, in a fresh temporary working directory (files it writes
  never land in the work tree), with no ``GENESYS_*`` variables unless it asks for ``env``.
* A block is a script: no top-level ``await`` (use ``asyncio.run``); it must end by itself.
* A block showing a third-party framework uses the real framework (Flask is in the ``dev`` extra).

This module only reads README.md (no package import), so type checks (``mypy --strict`` over the
blocks: ``Block.typed_source()``) and the runner share one extractor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PREPARED", "README", "Block", "python_blocks"]

README = Path(__file__).resolve().parents[2] / "README.md"

#: Every word a ``<!-- readme-test: ... -->`` comment may name, with the declarations a type checker
#: needs for it (empty for environments and files). The runner (test_readme_blocks.py) prepares each.
PREPARED: dict[str, str] = {
    # a Genesys client on a running sandbox with the channel "my-channel" (its secret configured)
    "genesys": "from genesys_cx import Genesys\ngenesys: Genesys\n",
    # GENESYS_BASE_URL, _API_KEY, _CCID, _CHANNEL_SECRETS, _CLIENT_ID, _CLIENT_SECRET for a running sandbox
    "env": "",
    # the URL of a running webhook receiver that accepts the channel "0123456789" (secret "channel-secret")
    "receiver_url": "receiver_url: str\n",
    # the reader's own delivery function and secret
    "deliver_to_phone": "def deliver_to_phone(message: object) -> None: ...\n",
    "SECRET": "SECRET: str\n",
    # a small JPEG in the working directory
    "photo.jpg": "",
}

_MARK = re.compile(r"^<!--\s*readme-test:(?P<words>[^>]*?)-->\s*$")
_FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")


@dataclass(frozen=True)
class Block:
    """One ```python block: where it starts, its code, the words of its readme-test comment."""

    line: int  # 1-based line of the block's first code line in README.md
    code: str
    prepared: tuple[str, ...]
    heading: str  # the closest Markdown heading above it

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-") or "top"
        return f"L{self.line}-{slug}"

    def typed_source(self) -> str:
        """The block preceded by the declarations of what it is given, for a type checker.

        The block's code starts at a line of its own; ``prelude_lines`` says how many lines precede it
        (subtract it from a checker's line number, add ``line - 1`` to get the README line).
        """
        return self.prelude() + self.code

    def prelude(self) -> str:
        return "".join(PREPARED.get(word, "") for word in self.prepared)

    @property
    def prelude_lines(self) -> int:
        return self.prelude().count("\n")


def python_blocks(readme: Path = README) -> list[Block]:
    """Every ```python block of *readme*, in order."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    heading = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        fence = _FENCE.match(line)
        if fence is None:
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if fence.group("lang") == "python":
            before = lines[i - 1] if i > 0 else ""
            mark = _MARK.match(before.strip())
            words = tuple(mark.group("words").split()) if mark else ()
            code = "\n".join(lines[start:end]) + "\n"
            blocks.append(Block(line=start + 1, code=code, prepared=words, heading=heading))
        i = end + 1
    return blocks
