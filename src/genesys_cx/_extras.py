"""The optional extras, and the one check that turns a missing one into an error saying what to install.

``pip install genesys-cx`` gives the clients, signing, webhook parsing, OAuth2 and the command
line. Features that need more call ``require(extra, feature)`` before importing it::

    require("sandbox", "genesys_cx.sandbox")
    # MissingExtra: genesys_cx.sandbox needs the "sandbox" extra (starlette is not installed):
    #     pip install "genesys-cx[sandbox]"
"""

from __future__ import annotations

import importlib.util

from .errors import MissingExtra

__all__ = ["EXTRAS", "require"]

#: The top-level modules each extra brings (the ``[project.optional-dependencies]`` of pyproject.toml).
EXTRAS: dict[str, tuple[str, ...]] = {
    "server": ("starlette", "uvicorn"),
    "sandbox": ("starlette", "uvicorn", "jsonschema", "referencing"),
    "redis": ("redis",),
    "cli": ("rich",),
}


def require(extra: str, feature: str) -> None:
    """Raise ``MissingExtra`` naming *extra* when a module it brings is not installed."""
    missing = [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingExtra(
            f'{feature} needs the "{extra}" extra ({", ".join(missing)} not installed): '
            f'pip install "genesys-cx[{extra}]"',
            extra=extra,
        )
