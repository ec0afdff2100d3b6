"""Fault injection: make the sandbox slow, flaky, throttled or rude, on purpose.

A ``Fault`` matches requests by ``operationId`` (``send_message``) or by a path glob
(``/nexus/v3/channels/*``, ``*``) and optionally a method. When it matches it adds ``latency``
seconds, and then, for the requests it "hits", answers ``status`` (a 5xx, or ``429`` / ``503`` with
``Retry-After``) instead of calling the API, or ``drop``s the connection without any answer, or
lets the API answer and cuts the connection after ``drop_after`` bytes of its body (a download
dropped mid-file). Which
requests are hit: a fraction ``rate`` of them (from the sandbox's seeded RNG, so runs repeat), and
if ``times`` is set only the next ``times`` hits ("fail the next N"), after which the fault is spent.

``Faults`` is the thread-safe list the running sandbox consults (``sb.faults.add(...)``,
``sb.faults.clear()``, the ``/_sandbox/faults`` control routes); the first matching fault wins.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import itertools
import random
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "Faults", "Hit"]

_ids = itertools.count(1)


@dataclass
class Fault:
    """One fault rule; see the module docstring. ``Fault(status=500, times=3)`` fails the next 3 calls."""

    match: str = "*"
    method: str | None = None
    latency: float = 0.0
    status: int | None = None
    drop: bool = False
    drop_after: int | None = None
    rate: float = 1.0
    times: int | None = None
    retry_after: int | None = None
    id: int = field(default_factory=lambda: next(_ids))

    def __post_init__(self) -> None:
        self._check_types()
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"Fault.status must be an HTTP error status (400-599), got {self.status}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"Fault.rate must be between 0 and 1, got {self.rate}")
        if self.latency < 0 or (self.times is not None and self.times < 0):
            raise ValueError("Fault.latency and Fault.times must not be negative")
        if sum((self.status is not None, self.drop, self.drop_after is not None)) > 1:
            raise ValueError("a Fault answers a status, drops the connection or cuts the body (drop_after): one only")
        if self.drop_after is not None and self.drop_after < 0:
            raise ValueError("Fault.drop_after must not be negative")
        if self.method is not None:
            self.method = self.method.upper()

    def _check_types(self) -> None:
        """Refuse values of the wrong type (from JSON they would break every request later)."""
        expected: dict[str, tuple[type, ...]] = {
            "match": (str,),
            "method": (str, type(None)),
            "latency": (int, float),
            "status": (int, type(None)),
            "drop": (bool,),
            "rate": (int, float),
            "times": (int, type(None)),
            "retry_after": (int, type(None)),
        }
        for name, types in expected.items():
            value = getattr(self, name)
            if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
                kinds = " or ".join("null" if t is type(None) else t.__name__ for t in types)
                raise ValueError(f"Fault.{name} must be {kinds}, got {type(value).__name__}")
        if self.method is not None and not (self.method.isascii() and self.method.isalpha()):
            raise ValueError("Fault.method must be an HTTP method such as GET or POST")
        if not 0 <= self.latency <= 3600 or (self.retry_after is not None and self.retry_after < 0):
            raise ValueError("Fault.latency must be 0-3600 s and Fault.retry_after not negative")

    @property
    def fails(self) -> bool:
        return self.status is not None or self.drop or self.drop_after is not None

    def matches(self, method: str, path: str, operation_id: str | None) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        if operation_id is not None and self.match == operation_id:
            return True
        return fnmatch.fnmatchcase(path, self.match)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Fault:
        names = {f.name for f in dataclasses.fields(cls)} - {"id"}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown fault field(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class Hit:
    """What a matching fault does to one request."""

    latency: float
    status: int | None = None
    drop: bool = False
    retry_after: int | None = None
    drop_after: int | None = None


class Faults:
    """The active fault rules (thread-safe); the first rule that matches a request applies."""

    def __init__(self, faults: Iterable[Fault] = (), *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = list(faults)
        self._random = random.Random(seed)

    def add(self, fault: Fault | None = None, /, **fields: Any) -> Fault:
        """Add *fault* (or ``Fault(**fields)``) and return it (its ``id`` removes it again)."""
        rule = fault if fault is not None else Fault(**fields)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != fault_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def seed(self, seed: int) -> None:
        with self._lock:
            self._random.seed(seed)

    def __iter__(self) -> Iterator[Fault]:
        with self._lock:
            return iter(list(self._rules))

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)

    def check(self, method: str, path: str, operation_id: str | None) -> Hit | None:
        """Decide what happens to this request (None: nothing)."""
        with self._lock:
            for rule in self._rules:
                if rule.times == 0 and rule.latency == 0:
                    continue
                if not rule.matches(method, path, operation_id):
                    continue
                failing = rule.fails and rule.times != 0 and self._random.random() < rule.rate
                if failing and rule.times is not None:
                    rule.times -= 1
                if not failing:
                    return Hit(rule.latency) if rule.latency else None
                return Hit(rule.latency, rule.status, rule.drop, rule.retry_after, rule.drop_after)
        return None
