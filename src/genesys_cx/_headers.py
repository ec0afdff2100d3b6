"""The HTTP headers the SDK reads on every answer: their names, and how their values are parsed.

A leaf module (it imports nothing from the package) so that both the transports (``_tracing``,
``_retry``) and the answer handling (``_response``) can use it without importing each other.
"""

from __future__ import annotations

import datetime
import email.utils

__all__ = ["RETRY_AFTER_HEADER", "TRACE_HEADER", "parse_retry_after"]

#: The B3 trace id every request carries and every ``GenesysError`` reports.
TRACE_HEADER = "X-B3-TraceId"
RETRY_AFTER_HEADER = "Retry-After"


def parse_retry_after(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date); None if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    now = now or datetime.datetime.now(datetime.UTC)
    return max(0.0, (when - now).total_seconds())
