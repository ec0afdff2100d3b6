"""genesys-cx: the Python SDK for the Genesys Multicloud CX web APIs.

``Genesys`` / ``AsyncGenesys`` are the one client object an integration holds; the public modules
``genesys_cx.signing``, ``.webhooks``, ``.credentials``, ``.errors``, ``.notifications`` and ``.sandbox``
hold the rest. Importing this package is cheap: names load on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._config import Settings
    from ._facade import AsyncGenesys, Genesys
    from ._response import handle_response
    from ._retry import RetryPolicy, retry_safe
    from ._transfer import adownload, download
    from .errors import GenesysError, MissingCredentials

_LAZY = {
    "Genesys": "._facade",
    "AsyncGenesys": "._facade",
    "Settings": "._config",
    "RetryPolicy": "._retry",
    "retry_safe": "._retry",
    "GenesysError": ".errors",
    "MissingCredentials": ".errors",
    "handle_response": "._response",
    "download": "._transfer",
    "adownload": "._transfer",
}

__all__ = [
    "SPEC_VERSIONS",
    "AsyncGenesys",
    "Genesys",
    "GenesysError",
    "MissingCredentials",
    "RetryPolicy",
    "Settings",
    "__version__",
    "adownload",
    "download",
    "handle_response",
    "retry_safe",
]


def __getattr__(name: str) -> Any:
    if name == "SPEC_VERSIONS":  # API name -> ``info.version`` of its spec
        from genesys_cx_api._registry import APIS

        return {api_name: api.version for api_name, api in APIS.items()}
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genesys_cx' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
