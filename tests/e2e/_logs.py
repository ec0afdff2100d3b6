"""Capture everything logged at DEBUG, by the SDK and by the libraries under it (httpx, httpcore)."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def debug_log() -> Iterator[io.StringIO]:
    """Root logging at DEBUG into the yielded buffer for the duration of the block."""
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield log
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
