"""Deprecated: the credentials module of 0.1.0, now ``genesys_cx.credentials``.

``auth`` names the Authentication API everywhere else (``Genesys.auth``, ``genesys_cx_api.auth``,
``specs/auth.yaml``), so the module of credentials (``ApiKey``, ``OAuth2Credentials``,
``TokenManager``, ``BearerToken``, ``combine_auth``...) is ``genesys_cx.credentials``. Importing
this module warns and gives the very same objects.
"""

from __future__ import annotations

import warnings

from .credentials import *  # noqa: F403
from .credentials import __all__ as __all__

warnings.warn(
    "genesys_cx.auth is deprecated; import from genesys_cx.credentials (the same names)",
    DeprecationWarning,
    stacklevel=2,
)
