"""What the sandbox knows before it starts: tenants, channels, OAuth clients, policies, faults.

Everything is a plain dataclass with working defaults, so ``Sandbox()`` runs with one demo API key,
one demo channel, one OAuth client and one user (``DEMO_*`` below, printed by the CLI). The same
structure loads from a JSON, YAML or TOML file (``SandboxConfig.from_file``) whose keys are the field
names; unknown keys and values of the wrong type are refused with a ``ConfigurationError`` (a
``ValueError``) naming the key and what it expects, so a typo never goes unnoticed.

Secrets live here (channel secrets, client secrets, passwords); every ``repr`` masks them.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from ..errors import ConfigurationError
from ._faults import Fault

__all__ = [
    "DEMO_API_KEY",
    "DEMO_CCID",
    "DEMO_CHANNEL_ID",
    "DEMO_CHANNEL_SECRET",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_PASSWORD",
    "DEMO_REDIRECT_URI",
    "DEMO_USERNAME",
    "DeliveryPolicy",
    "OAuthClient",
    "SandboxChannel",
    "SandboxConfig",
    "SandboxUser",
]

DEMO_API_KEY = "sandbox-api-key"
DEMO_CCID = "0ff723ff-6c6f-44e0-9ce3-ce579337eadd"
DEMO_CHANNEL_ID = "0123456789"
DEMO_CHANNEL_SECRET = "sandbox-channel-secret"
DEMO_CLIENT_ID = "sandbox-client"
DEMO_CLIENT_SECRET = "sandbox-client-secret"
DEMO_USERNAME = "agent"
DEMO_PASSWORD = "agent-password"
DEMO_REDIRECT_URI = "http://127.0.0.1/oauthcallback"

_MASK = "<secret>"


@dataclass
class SandboxChannel:
    """A Third-Party Messaging channel: its id (the path's ``channelId``), secret and webhook.

    ``webhook_url`` receives the agent replies (``OutgoingSmsMessage`` / ``OutgoingEmailMessage``);
    ``None`` means replies are recorded but never delivered. ``type`` is the ``channel.type`` of
    those webhooks (``sms``, ``email``).
    """

    id: str
    secret: str = field(repr=False)
    webhook_url: str | None = None
    type: str = "sms"
    address: str | None = None  # the channel's own address (SMS number / sender e-mail); default: the id

    def __repr__(self) -> str:
        return f"SandboxChannel(id={self.id!r}, secret={_MASK}, webhook_url={self.webhook_url!r}, type={self.type!r})"


@dataclass
class OAuthClient:
    """An OAuth 2 client of the Authentication API (HTTP Basic ``client_id:client_secret``)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r}, client_secret={_MASK}, redirect_uris={self.redirect_uris!r})"


@dataclass
class SandboxUser:
    """A user who can sign in (authorization code and password grants)."""

    username: str
    password: str = field(repr=False)
    given_name: str = "Sandbox"
    family_name: str = "Agent"
    email: str | None = None
    dbid: int = 100

    def __repr__(self) -> str:
        return f"SandboxUser(username={self.username!r}, password={_MASK})"


@dataclass
class DeliveryPolicy:
    """How agent replies are (re)delivered to a channel's webhook.

    A 2xx answer means delivered; a 5xx answer, a transport error or no answer within ``timeout``
    seconds means "try again" after ``backoff * multiplier ** (attempt - 1)`` seconds (at most
    ``max_backoff``), up to ``attempts`` attempts in all. Any other answer (4xx) fails the message
    at once. The documentation leaves these numbers to Genesys configuration; the defaults are
    small so tests stay fast (the documented per-attempt answer window is 10 seconds).
    """

    attempts: int = 5
    backoff: float = 0.05
    multiplier: float = 2.0
    max_backoff: float = 2.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError("DeliveryPolicy.attempts must be at least 1")
        if self.timeout <= 0 or self.backoff < 0 or self.multiplier < 1 or self.max_backoff < 0:
            raise ConfigurationError("DeliveryPolicy: timeout must be > 0, backoff/max_backoff >= 0, multiplier >= 1")

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt number *attempt* (1-based)."""
        return float(min(self.max_backoff, self.backoff * self.multiplier ** (attempt - 1)))


def _demo_channels() -> list[SandboxChannel]:
    return [SandboxChannel(DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET)]


def _demo_clients() -> list[OAuthClient]:
    return [OAuthClient(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, [DEMO_REDIRECT_URI])]


def _demo_users() -> list[SandboxUser]:
    return [SandboxUser(DEMO_USERNAME, DEMO_PASSWORD, email="agent@example.com")]


@dataclass
class SandboxConfig:
    """The sandbox's configuration; every field has a working demo default.

    ``auto_login`` names a user that ``/oauth/authorize`` signs in without credentials (otherwise
    the sandbox reads ``username`` / ``password`` query parameters, standing in for the sign-in
    form). ``ccid``: the contact center id ``x-ccid`` must carry (``None`` accepts any).
    ``validate_responses``: check every answer against the spec (a violation is a sandbox bug:
    500 and an entry in ``state.response_violations``). ``fault_seed`` seeds the fault RNG.
    ``statistics_tick_interval``: seconds between statistic value updates (None: none);
    ``cometd_timeout``: seconds a CometD ``/meta/connect`` is held; ``cometd_max_interval``:
    seconds after which a CometD session without a held connect expires.
    ``max_body_size``: the largest request body in bytes (over it: 413), ``max_media_size`` the
    largest for a media upload (``multipart/form-data``).
    ``inspector_events``: how many events the inspector page keeps (a ring buffer, ``/_sandbox/``);
    ``inspector_remote``: serve the inspector to non-loopback clients too (it shows masked bodies).
    """

    api_keys: list[str] = field(default_factory=lambda: [DEMO_API_KEY], repr=False)
    ccid: str | None = DEMO_CCID
    channels: list[SandboxChannel] = field(default_factory=_demo_channels)
    clients: list[OAuthClient] = field(default_factory=_demo_clients)
    users: list[SandboxUser] = field(default_factory=_demo_users)
    auto_login: str | None = None
    token_lifetime: float = 3600.0
    open_media_services: list[str] = field(default_factory=lambda: ["workitem", "demo"])
    media_types: list[str] = field(
        default_factory=lambda: [
            "image/jpeg",
            "image/png",
            "image/gif",
            "image/webp",
            "application/pdf",
            "text/plain",
            "audio/mpeg",
            "video/mp4",
            "application/octet-stream",
        ]
    )
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    export_job_duration: float = 2.0
    statistics_tick_interval: float | None = 1.0
    cometd_timeout: float = 30.0
    cometd_max_interval: float = 10.0
    max_body_size: int = 10 * 1024 * 1024
    max_media_size: int = 256 * 1024 * 1024
    export_file_size: int = 64 * 1024  # bytes of every export job's data (split by jobParams.fileSplitSize)
    export_seed: int = 0  # the exported bytes are a function of (seed, job id, part, size)
    validate_responses: bool = True
    faults: list[Fault] = field(default_factory=list)
    fault_seed: int = 0
    inspector_events: int = 1000
    inspector_remote: bool = False

    def __repr__(self) -> str:
        return (
            f"SandboxConfig(api_keys=[{len(self.api_keys)} key(s)], ccid={self.ccid!r}, channels={self.channels!r}, "
            f"clients={self.clients!r}, users={self.users!r}, token_lifetime={self.token_lifetime!r})"
        )

    def channel(self, channel_id: str) -> SandboxChannel | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SandboxConfig:
        """Build a config from plain data (the parsed JSON/YAML/TOML file)."""
        return _build(cls, data, "config")

    @classmethod
    def from_file(cls, path: str | Path) -> SandboxConfig:
        """Load ``.json``, ``.yaml``/``.yml`` or ``.toml`` (keys = field names, nested as the dataclasses)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        suffix = path.suffix.lower()
        data: Any
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError as exc:  # pragma: no cover - PyYAML ships with the dev tools
                raise ConfigurationError("reading a YAML config needs PyYAML (pip install pyyaml)") from exc
            data = yaml.safe_load(text)
        else:
            raise ConfigurationError(f"{path}: unsupported config format {suffix!r} (use .json, .yaml, .yml or .toml)")
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{path}: the top level must be a mapping of SandboxConfig fields")
        try:
            return cls.from_mapping(data)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{path}: {exc.message}") from None


_T = TypeVar("_T")
_NESTED: dict[str, type[Any]] = {
    "channels": SandboxChannel,
    "clients": OAuthClient,
    "users": SandboxUser,
    "faults": Fault,
}
_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _expected(hint: Any) -> tuple[tuple[type, ...], str]:
    """(accepted Python types, words for the error) for a field's annotation."""
    args = [arg for arg in get_args(hint) if arg is not type(None)]
    if get_origin(hint) is list:
        item = args[0] if args else object
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return (list,), f"a list of {item.__name__} tables"
        return (list,), f"a list of {_WORDS[item].split(' ', 1)[1]}s" if item in _WORDS else "a list"
    if args:  # X | None
        kinds: tuple[type, ...] = (type(None),)
        words: list[str] = []
        for arg in args:
            more, word = _expected(arg)
            kinds += more
            words.append(word)
        return kinds, " or ".join(words) + " (or null)"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return (Mapping,), f"a {hint.__name__} table"
    if hint is float:
        return (int, float), _WORDS[float]
    if isinstance(hint, type):
        return (hint,), _WORDS.get(hint, hint.__name__)
    return (object,), "anything"


def _check_types(cls: type[Any], data: Mapping[str, Any], where: str) -> None:
    """Refuse a value of the wrong type with the key, the expected type and what was given."""
    hints = get_type_hints(cls)
    secret = {f.name for f in dataclasses.fields(cls) if not f.repr}
    for key, value in data.items():
        kinds, words = _expected(hints[key])
        wrong = not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
        if not wrong and isinstance(value, list):
            item_hint = get_args(hints[key])[0] if get_args(hints[key]) else Any
            if item_hint in _WORDS:
                item_kinds, _ = _expected(item_hint)
                wrong = any(not isinstance(item, item_kinds) or isinstance(item, bool) for item in value)
        if wrong:
            shown = "" if key in secret else f" {value!r}"  # a secret's value is never echoed
            raise ConfigurationError(f"{where}.{key}: expected {words}, got {type(value).__name__}{shown}")


def _build(cls: type[_T], data: Mapping[str, Any], where: str) -> _T:
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise ConfigurationError(f"{where}: expected a {cls.__name__} table (a mapping), got {kind} {data!r}")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        valid = ", ".join(sorted(names))
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {valid}")
    _check_types(cls, data, where)
    kwargs: dict[str, Any] = dict(data)
    if cls is SandboxConfig:
        for key, item_cls in _NESTED.items():
            if key in kwargs:
                kwargs[key] = [_build(item_cls, item, f"{where}.{key}[{i}]") for i, item in enumerate(kwargs[key])]
        if "delivery" in kwargs:
            kwargs["delivery"] = _build(DeliveryPolicy, kwargs["delivery"], f"{where}.delivery")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
