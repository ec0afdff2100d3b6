"""The soak run's CI variant: 150 messages, >= 30 % of them with an injected fault (see ``run.py``)."""

from __future__ import annotations

from pathlib import Path

from .run import soak


def test_a_short_soak_loses_nothing_and_answers_every_attempt(redis_url: str, tmp_path: Path) -> None:
    report = soak(150, f"redis:{redis_url}", tmp_path, kill_every=3.0, time_limit=120.0)
    print("\n" + "\n".join(report.lines()))
    assert report.faulty_messages >= 0.3 * report.messages and report.kills >= 1
    assert report.lost == 0
    assert report.twice_outside == 0
    assert report.unanswered == 0
    assert report.unacknowledged == 0
