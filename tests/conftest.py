"""Suite-wide hooks. The code lives in importable modules beside this file (``_suite``): mypy
sees every ``conftest.py`` of a folder without ``__init__.py`` as one module named ``conftest``
(tests/generator has one), so this file holds imports only and is left out of ``mypy tests``.
"""

from _suite import (
    pytest_collection_modifyitems,
    pytest_terminal_summary,
    pytest_testnodedown,
    pytest_xdist_make_scheduler,
)

__all__ = [
    "pytest_collection_modifyitems",
    "pytest_terminal_summary",
    "pytest_testnodedown",
    "pytest_xdist_make_scheduler",
]
