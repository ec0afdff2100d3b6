"""``python -m generator`` in a temporary copy of the repository: no-op runs, ``--check`` and drift.

The copy holds ``generator/`` and two of the specs (``messaging`` with its multipart upload, the
small ``interactions``) so that each run is short; that a full run reproduces the committed tree is
tested in test_gen_determinism.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from _gen_support import PACKAGE, make_repo, run_generator, tree_bytes

from generator._pipeline import diff_trees

APIS = ("interactions", "messaging")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository copy whose ``generated/`` was produced by ``python -m generator`` from nothing."""
    root = make_repo(tmp_path_factory.mktemp("drift") / "repo", APIS)
    done = run_generator(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "generated 2 API packages" in done.stdout
    return root


def clone(repo: Path, dest: Path) -> Path:
    shutil.copytree(repo, dest / "repo")
    return dest / "repo"


def generated(repo: Path) -> Path:
    return repo / "generated" / PACKAGE


def test_a_second_run_is_a_no_op_that_rewrites_nothing(repo: Path, tmp_path: Path) -> None:
    copy = clone(repo, tmp_path)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in generated(copy).rglob("*") if p.is_file()}
    done = run_generator(copy)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in generated(copy).rglob("*") if p.is_file()}
    assert after == before


def test_check_passes_on_an_untouched_copy(repo: Path) -> None:
    done = run_generator(repo, "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "matches" in done.stdout


def test_check_names_edited_specs_and_hand_edits(repo: Path, tmp_path: Path) -> None:
    copy = clone(repo, tmp_path)
    # messaging.yaml: a summary changed and an operation removed; interactions.yaml untouched
    messaging = copy / "specs" / "messaging.yaml"
    text = messaging.read_text(encoding="utf-8")
    assert text.count("summary: Upload a media resource") == 1
    doc = yaml.safe_load(text.replace("summary: Upload a media resource", "summary: Upload one file"))
    _remove_operation(doc, "delete_media")
    messaging.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")

    done = run_generator(copy, "--check")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "specs concerned: specs/*.yaml, specs/messaging.yaml\n" in out
    assert f"{PACKAGE}/messaging/api/third_party_messaging_api/__init__.py" in out  # lists the operations
    assert f"{PACKAGE}/messaging/api/_clients.py" in out  # the summary is the method's docstring
    assert f"{PACKAGE}/_specs/messaging.json" in out
    # the removed operation's module is still in generated/: reported as not generated
    extra = out.split("not generated (extra or hand-made)")[1].split("changed:")[0]
    assert f"{PACKAGE}/messaging/api/third_party_messaging_api/delete_media.py" in extra
    # the check never writes generated/
    assert tree_bytes(generated(copy)) == tree_bytes(generated(repo))


def test_check_detects_a_hand_edit_and_a_stray_file(repo: Path, tmp_path: Path) -> None:
    copy = clone(repo, tmp_path)
    model = generated(copy) / "messaging" / "models" / "participant.py"
    text = model.read_text(encoding="utf-8")
    assert "name: str | Unset" in text
    model.write_text(text.replace("name: str | Unset", "name: str | None"), encoding="utf-8")
    (generated(copy) / "interactions" / "helpers.py").write_text("X = 1\n", encoding="utf-8")
    # bytecode left by importing the package is not drift
    cache = generated(copy) / "messaging" / "__pycache__"
    cache.mkdir()
    (cache / "client.cpython-311.pyc").write_bytes(b"\0")

    done = run_generator(copy, "--check")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "specs concerned: specs/interactions.yaml, specs/messaging.yaml\n" in out
    assert f"changed: 1\n    {PACKAGE}/messaging/models/participant.py" in out
    assert f"not generated (extra or hand-made): 1\n    {PACKAGE}/interactions/helpers.py" in out
    assert "__pycache__" not in out


def test_a_failing_run_leaves_generated_untouched(repo: Path, tmp_path: Path) -> None:
    copy = clone(repo, tmp_path)
    before = tree_bytes(generated(copy))
    # sorted after the good specs: those are generated first, then this one fails
    (copy / "specs" / "zz_broken.yaml").write_text(
        "openapi: 3.1.0\ninfo: {title: Broken, version: '1'}\npaths:\n  /x:\n    get:\n"
        "      operationId: get_x\n      responses:\n        '200':\n          description: ok\n"
        "          content:\n            application/json:\n"
        "              schema: {$ref: 'https://example.com/x.yaml#/components/schemas/X'}\n",
        encoding="utf-8",
    )
    done = run_generator(copy, "--force")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: zz_broken.yaml: ")
    assert "remote $ref 'https://example.com/x.yaml#/components/schemas/X'" in done.stderr
    assert tree_bytes(generated(copy)) == before


def test_diff_trees_ignores_bytecode_but_not_other_files(tmp_path: Path) -> None:
    expected, actual = tmp_path / "expected", tmp_path / "actual"
    for root in (expected, actual):
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "a.py").write_text("A = 1\n", encoding="utf-8")
        (root / "pkg" / "b.py").write_text("B = 1\n", encoding="utf-8")
    (actual / "pkg" / "__pycache__").mkdir()
    (actual / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (actual / "pkg" / "stale.pyc").write_bytes(b"\0")
    assert diff_trees(expected, actual) == ([], [], [])
    (actual / "pkg" / "b.py").write_text("B = 2\n", encoding="utf-8")
    (actual / "pkg" / "c.py").write_text("C = 1\n", encoding="utf-8")
    (expected / "pkg" / "d.py").write_text("D = 1\n", encoding="utf-8")
    assert diff_trees(expected, actual) == (["pkg/c.py"], ["pkg/d.py"], ["pkg/b.py"])


def _remove_operation(doc: dict[str, Any], operation_id: str) -> None:
    for path, item in list(doc["paths"].items()):
        for method in [m for m, op in item.items() if isinstance(op, dict) and op.get("operationId") == operation_id]:
            del item[method]
            if not any(isinstance(op, dict) and "operationId" in op for op in item.values()):
                del doc["paths"][path]
            return
    raise AssertionError(f"no operation {operation_id}")
