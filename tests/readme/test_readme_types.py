"""The README type check (``typecheck.py``, run by tox's ``type`` environment) catches what a reader's
``mypy --strict`` would, and names the README line."""

from __future__ import annotations

from pathlib import Path

from .typecheck import check

README = """\
# Example

Fine:

```python
count: int = 1
```

Given a client (its declaration is prepended, so line numbers must still be the README's):

<!-- readme-test: SECRET -->
```python
size: int = len(SECRET)
wrong: int = SECRET
```
"""


def test_a_type_error_in_a_block_is_reported_at_its_readme_line(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    errors = check(readme)
    assert len(errors) == 1, errors
    assert errors[0].startswith("README.md:14: error: Incompatible types in assignment"), errors


def test_clean_blocks_pass(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README.replace("wrong: int = SECRET\n", ""), encoding="utf-8")
    assert check(readme) == []
