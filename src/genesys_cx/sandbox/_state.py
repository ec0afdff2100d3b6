"""Everything a running sandbox remembers, in one object (``sb.state``).

``SandboxState`` owns the emulated APIs (messaging, open media, authentication, secure e-mail,
the export services of UDM and Cloud Data Download, statistics and its CometD notifications), the
fault rules, the shared token store that answers ``is_valid_token``, and ``response_violations``:
every answer that did not match the spec (a sandbox bug; tests assert the list stays empty). The
event loop and the ``httpx.AsyncClient`` used for webhook deliveries are bound when the server
starts (the ASGI lifespan).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from starlette.responses import Response

from ._auth import AuthEmulator, TokenStore
from ._config import SandboxConfig
from ._delivery import Outbox
from ._events import EventLog, Masker
from ._exports import ExportsEmulator
from ._faults import Faults
from ._http import Call
from ._messaging import MessagingEmulator
from ._open_media import OpenMediaEmulator
from ._secure_email import SecureEmailEmulator
from ._specs import SpecSet, spec_set
from ._statistics_emulator import StatisticsEmulator

__all__ = ["OperationHandler", "SandboxState", "Violation"]

logger = logging.getLogger("genesys_cx.sandbox")

OperationHandler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Violation:
    """An answer of the sandbox that its spec does not allow (or a handler crash)."""

    operation_id: str
    method: str
    path: str
    status: int
    problems: tuple[str, ...]


class SandboxState:
    """The sandbox's memory and collaborators; see the module docstring."""

    def __init__(self, config: SandboxConfig, specs: SpecSet | None = None) -> None:
        self.config = config
        self.specs = specs or spec_set()
        self.faults = Faults(config.faults, seed=config.fault_seed)
        self.tokens = TokenStore(config.token_lifetime)
        self.events = EventLog(config.inspector_events, Masker.for_config(config))
        self.outbox = Outbox(config.delivery, self.events)
        self.messaging = MessagingEmulator(config, self.outbox)
        self.open_media = OpenMediaEmulator(config)
        self.auth = AuthEmulator(config, self.tokens)
        self.secure_email = SecureEmailEmulator()
        self.udm = ExportsEmulator(config)
        self.data_download = ExportsEmulator(config)
        self.statistics = StatisticsEmulator(
            tick_interval=config.statistics_tick_interval,
            long_poll_timeout=config.cometd_timeout,
            max_interval=config.cometd_max_interval,
        )
        self.handlers: dict[str, dict[str, OperationHandler]] = {
            "messaging": self.messaging.handlers(),
            "open_media": self.open_media.handlers(),
            "auth": self.auth.handlers(),
            "secure_email": self.secure_email.handlers(),
            "udm": self.udm.handlers(self._operation_ids("udm")),
            "data_download": self.data_download.handlers(self._operation_ids("data_download")),
            "statistics": self.statistics.handlers(),
        }
        self.loop: asyncio.AbstractEventLoop | None = None
        self._http: httpx.AsyncClient | None = None
        self._violations: list[Violation] = []
        self._lock = threading.Lock()

    def _operation_ids(self, api: str) -> list[str]:
        return [op.operation_id for op in self.specs.operations if op.api == api]

    def is_valid_token(self, token: str | None) -> bool:
        """True if *token* is an access token the sandbox issued that is neither expired nor revoked."""
        return self.tokens.lookup(token) is not None

    @property
    def response_violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    def record_violation(self, violation: Violation) -> None:
        logger.error(
            "sandbox produced an invalid response: %s %s -> %d (%s): %s",
            violation.method,
            violation.path,
            violation.status,
            violation.operation_id,
            "; ".join(violation.problems),
        )
        with self._lock:
            self._violations.append(violation)

    def http_client(self) -> httpx.AsyncClient:
        """The client for webhook deliveries (created in, and bound to, the server's loop)."""
        if self._http is None:
            self._http = httpx.AsyncClient()
        return self._http

    async def startup(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.statistics.start()

    async def shutdown(self) -> None:
        await self.outbox.aclose()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self.statistics.aclose()
