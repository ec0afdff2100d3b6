"""Settings: everything a ``Genesys`` client is configured with, once.

``Settings.from_env()`` reads ``GENESYS_*`` variables, so pointing the demo or an integration at a
real tenant instead of the sandbox needs no code change:

==============================  ==========================================================
``GENESYS_BASE_URL``            ``https://gapi-use1.genesyscloud.com`` (scheme + host)
``GENESYS_API_KEY``             the x-api-key
``GENESYS_CCID``                the contact-center id sent as ``x-ccid``
``GENESYS_CHANNEL_SECRETS``     ``channelA=secretA,channelB=secretB`` (Third-Party Messaging)
``GENESYS_CLIENT_ID`` / ``_SECRET``  OAuth2 client credentials
``GENESYS_GRANT_TYPE``          ``client_credentials`` (default) or ``password``
``GENESYS_USERNAME`` / ``_PASSWORD``  for the password grant
``GENESYS_SCOPE``               OAuth2 scope (optional)
``GENESYS_TIMEOUT``             seconds (default 30)
==============================  ==========================================================

Secrets are kept out of ``repr()``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ._retry import RetryPolicy
from .credentials import OAuth2Credentials
from .errors import ConfigurationError

__all__ = ["Settings"]


def _parse_secrets(text: str) -> dict[str, str]:
    secrets: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        channel, sep, secret = item.partition("=")
        if not sep or not channel.strip() or not secret:
            raise ConfigurationError("GENESYS_CHANNEL_SECRETS must look like 'channelA=secretA,channelB=secretB'")
        secrets[channel.strip()] = secret
    return secrets


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ConfigurationError(f"{name} must be a number of seconds greater than 0, got {text!r}")
    return value


def _oauth(env: Mapping[str, str]) -> OAuth2Credentials:
    given = env.get("GENESYS_GRANT_TYPE", "client_credentials")
    grants: dict[str, Literal["client_credentials", "password"]] = {
        "client_credentials": "client_credentials",
        "password": "password",
    }
    if given not in grants:
        raise ConfigurationError(f"GENESYS_GRANT_TYPE must be client_credentials or password, got {given!r}")
    grant = grants[given]
    needed = ["GENESYS_CLIENT_ID", "GENESYS_CLIENT_SECRET"]
    if grant == "password":
        needed += ["GENESYS_USERNAME", "GENESYS_PASSWORD"]
    missing = [name for name in needed if not env.get(name)]
    if missing:
        raise ConfigurationError(f"the {grant} grant (GENESYS_GRANT_TYPE) needs {', '.join(missing)} set")
    return OAuth2Credentials(
        client_id=env["GENESYS_CLIENT_ID"],
        client_secret=env["GENESYS_CLIENT_SECRET"],
        grant_type=grant,
        username=env.get("GENESYS_USERNAME"),
        password=env.get("GENESYS_PASSWORD"),
        scope=env.get("GENESYS_SCOPE"),
    )


@dataclass(frozen=True)
class Settings:
    """Configuration shared by every API of one client. Build it directly or with ``from_env``."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    ccid: str | None = None
    channel_secrets: Mapping[str, str | bytes] = field(default_factory=dict, repr=False)
    oauth: OAuth2Credentials | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 30.0
    verify: bool | str = True
    user_agent: str = "genesys-cx"

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``GENESYS_*`` variables; keyword arguments override them."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if "GENESYS_BASE_URL" in env:
            values["base_url"] = env["GENESYS_BASE_URL"]
        if "GENESYS_API_KEY" in env:
            values["api_key"] = env["GENESYS_API_KEY"]
        if "GENESYS_CCID" in env:
            values["ccid"] = env["GENESYS_CCID"]
        if "GENESYS_CHANNEL_SECRETS" in env:
            values["channel_secrets"] = _parse_secrets(env["GENESYS_CHANNEL_SECRETS"])
        if "GENESYS_TIMEOUT" in env:
            values["timeout"] = _seconds("GENESYS_TIMEOUT", env["GENESYS_TIMEOUT"])
        if "GENESYS_CLIENT_ID" in env:
            values["oauth"] = _oauth(env)
        values.update(overrides)
        if "base_url" not in values:
            raise ConfigurationError("no Genesys base URL: set GENESYS_BASE_URL or pass base_url=")
        base_url = str(values["base_url"])
        if "base_url" not in overrides and not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"GENESYS_BASE_URL must start with http:// or https://, got {base_url!r}")
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)
