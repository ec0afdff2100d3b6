"""``genesys-cx export`` / ``download`` as a user runs them: a subprocess, piped or on a pseudo-terminal, and Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from genesys_cx.sandbox import Sandbox, SandboxConfig

from .conftest import JOB, environment, expected_sha256


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "genesys_cx", *args]


@pytest.fixture
def big() -> Iterator[Sandbox]:
    """Jobs of 256 MiB: long enough on loopback to interrupt one mid-file."""
    with Sandbox(SandboxConfig(export_job_duration=0.2, export_file_size=256 * 1024 * 1024)) as sb:
        yield sb


def test_piped_output_is_plain_lines_and_the_paths(sandbox: Sandbox, tmp_path: Path) -> None:
    job = {**JOB, "jobParams": {**JOB["jobParams"], "fileSplitSize": "2M"}}
    done = subprocess.run(
        _cli("export", "--job", json.dumps(job), "--to", str(tmp_path / "out")),
        env=environment(sandbox),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "job 1: COMPLETED 100%" in lines
    assert "export-1-0001.csv: 100% (2.0 MiB of 2.0 MiB)" in lines
    assert "\x1b" not in done.stdout  # no terminal control sequences in a pipe
    paths = [Path(line) for line in lines[-2:]]
    assert [p.name for p in paths] == ["export-1-0001.csv", "export-1-0002.csv"]
    for path in paths:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == expected_sha256(sandbox, path.name)


def test_on_a_terminal_progress_is_a_bar(sandbox: Sandbox, tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        _cli("export", "--job", json.dumps(JOB), "--to", str(tmp_path)),
        env={**environment(sandbox), "TERM": "xterm-256color", "COLUMNS": "100"},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0, output.decode(errors="replace")
    text = output.decode("utf-8", errors="replace")

    assert "━" in text  # rich's bar
    assert "\x1b[" in text  # drawn with terminal control sequences
    assert str(tmp_path / "export-1.csv") in text
    assert (tmp_path / "export-1.csv").stat().st_size == 3 * 1024 * 1024 + 17


def _first_progress_of_ten_percent(process: subprocess.Popen[str], name: str) -> int:
    """The first percentage >= 10 the CLI prints for *name*, read from its stdout as it is written."""
    assert process.stdout is not None
    fd, seen, deadline = process.stdout.fileno(), b"", time.monotonic() + 60
    pattern = re.compile(re.escape(name).encode() + rb": (\d+)%")
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no progress line for {name} within 60 s: {seen[-500:]!r}"
        if not select.select([fd], [], [], remaining)[0]:
            continue
        chunk = os.read(fd, 65536)
        assert chunk, f"the CLI ended before reporting 10 % of {name}: {seen[-500:]!r}"
        seen += chunk
        for match in pattern.finditer(seen):
            if int(match.group(1)) >= 10:
                return int(match.group(1))


def test_ctrl_c_keeps_the_partial_file_and_the_same_command_resumes_it(big: Sandbox, tmp_path: Path) -> None:
    part = tmp_path / "export-1.csv.part"
    process = subprocess.Popen(
        _cli("export", "--job", json.dumps(JOB), "--to", str(tmp_path)),
        env=environment(big),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Interrupted once the CLI reports 10 % (its progress lines are flushed as they happen): a poll of
    # the .part file's size saw 1 MiB late on a loaded machine, when the download could already be over.
    assert 10 <= _first_progress_of_ten_percent(process, "export-1.csv") < 100, "nothing left to interrupt"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 130, err
    assert "genesys-cx export --job-id 1" in err
    assert not (tmp_path / "export-1.csv").exists()
    kept = part.stat().st_size
    assert 0 < kept < 256 * 1024 * 1024

    again = subprocess.run(
        _cli("export", "--job-id", "1", "--to", str(tmp_path)),
        env=environment(big),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert again.returncode == 0, again.stderr
    first = next(line for line in again.stdout.splitlines() if line.startswith("export-1.csv: "))
    match = re.match(r"export-1.csv: (\d+)%", first)
    assert match is not None and int(match.group(1)) >= kept * 100 // (256 * 1024 * 1024) // 10 * 10
    assert hashlib.sha256((tmp_path / "export-1.csv").read_bytes()).hexdigest() == expected_sha256(big, "export-1.csv")
    assert not part.exists()


def test_download_by_name_verifies_with_the_metadata(sandbox: Sandbox, tmp_path: Path) -> None:
    env = environment(sandbox)
    subprocess.run(_cli("export", "--job", json.dumps(JOB), "--to", str(tmp_path / "a")), env=env, check=True)

    done = subprocess.run(
        _cli("download", "export-1.csv", "--to", str(tmp_path / "b")), env=env, capture_output=True, text=True
    )
    missing = subprocess.run(
        _cli("download", "nope.csv", "--to", str(tmp_path / "c")), env=env, capture_output=True, text=True
    )

    assert done.returncode == 0 and done.stdout.splitlines()[-1] == str(tmp_path / "b" / "export-1.csv")
    assert (tmp_path / "b" / "export-1.csv").read_bytes() == (tmp_path / "a" / "export-1.csv").read_bytes()
    assert missing.returncode == 1 and "NotFound" in missing.stderr and not (tmp_path / "c" / "nope.csv").exists()
