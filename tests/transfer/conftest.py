"""Fixtures of the file-transfer tests: a sandbox serving export files, and SDK clients on it."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from genesys_cx import AsyncGenesys, Genesys, Settings
from genesys_cx.credentials import OAuth2Credentials
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    Sandbox,
    SandboxConfig,
)

#: A valid UDM job definition (the fields every version's model requires).
JOB: dict[str, Any] = {
    "source": "UCS",
    "type": "interactions",
    "title": "nightly",
    "timeFrame": {"all": True},
    "schedulerParam": {"immediately": True},
    "jobParams": {"type": "email", "media": ["email"]},
    "suspended": False,
}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A sandbox whose export jobs finish in 0.2 s and produce 3 MiB + 17 bytes."""
    with Sandbox(SandboxConfig(export_job_duration=0.2, export_file_size=3 * 1024 * 1024 + 17)) as sb:
        yield sb
        assert sb.state.response_violations == [], "the sandbox answered outside its spec"


def environment(sb: Sandbox) -> dict[str, str]:
    """``GENESYS_*`` variables for a subprocess to reach *sb* (and this tree on its ``PYTHONPATH``)."""
    root = Path(__file__).resolve().parents[2]
    path = os.pathsep.join([str(root / "src"), str(root / "generated"), os.environ.get("PYTHONPATH", "")])
    return {
        **os.environ,
        "PYTHONPATH": path,
        "GENESYS_BASE_URL": sb.url,
        "GENESYS_API_KEY": DEMO_API_KEY,
        "GENESYS_CCID": DEMO_CCID,
        "GENESYS_CLIENT_ID": DEMO_CLIENT_ID,
        "GENESYS_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "GENESYS_GRANT_TYPE": "password",
        "GENESYS_USERNAME": DEMO_USERNAME,
        "GENESYS_PASSWORD": DEMO_PASSWORD,
    }


def settings(sb: Sandbox) -> Settings:
    channel = sb.config.channels[0]
    return Settings(
        base_url=sb.url,
        api_key=DEMO_API_KEY,
        ccid=DEMO_CCID,
        channel_secrets={channel.id: channel.secret},
        oauth=OAuth2Credentials(
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            grant_type="password",
            username=DEMO_USERNAME,
            password=DEMO_PASSWORD,
        ),
    )


@pytest.fixture
def genesys(sandbox: Sandbox) -> Iterator[Genesys]:
    with Genesys(settings(sandbox)) as client:
        yield client


@pytest.fixture
async def agenesys(sandbox: Sandbox) -> AsyncIterator[AsyncGenesys]:
    async with AsyncGenesys(settings(sandbox)) as client:
        yield client


def expected_sha256(sb: Sandbox, name: str, api: str = "udm") -> str:
    """SHA-256 of a sandbox file, computed here from its generator (not from what was served)."""
    exports = getattr(sb.state, api)
    files = {f.name: f for job in exports.jobs() for f in job.files}
    digest = hashlib.sha256()
    for chunk in files[name].chunks():
        digest.update(chunk)
    return digest.hexdigest()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)
