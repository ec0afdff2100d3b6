"""The generated API classes load each operation on its first call: that must hold across threads.

``genesys.exports.download`` fetches files on several threads, so the first calls of an operation
can race. A module is in ``sys.modules`` before it has finished executing; a loader that returns
it from there hands the second thread a half-initialised module (``AttributeError: partially
initialized module ... has no attribute 'request'``). Each run is a fresh interpreter, so every
operation is loaded for the first time by eight threads released together.
"""

from __future__ import annotations

import subprocess
import sys

_RACE = r"""
import pathlib, sys, threading
import genesys_cx_api
from genesys_cx_api._runtime import operation

root = pathlib.Path(genesys_cx_api.__file__).parent
names = sorted(
    ".".join(("genesys_cx_api", *path.relative_to(root).with_suffix("").parts))
    for path in root.glob("*/api/*/*.py")
    if path.name != "__init__.py"
)
barrier = threading.Barrier(8)
failures = []

def load() -> None:
    barrier.wait()
    for name in names:
        try:
            module = operation(name)
            module.request
            module.parse
        except Exception as exc:
            failures.append(f"{name}: {exc!r}")

threads = [threading.Thread(target=load) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(names), len(failures))
for failure in failures[:5]:
    print(failure)
sys.exit(1 if failures else 0)
"""


def test_operations_first_loaded_by_eight_threads_at_once_are_complete_in_each() -> None:
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", _RACE], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        loaded = int(done.stdout.split()[0])
        assert loaded >= 117, done.stdout
