"""``genesys-cx export`` and ``genesys-cx download``: export jobs and files from the command line.

``genesys-cx export --job job.json --to DIR``
    Create the export job described by *job.json* (or take ``--job-id N``), wait for it, download
    its files into *DIR*; print the paths.
``genesys-cx download NAME... --to DIR``
    Download exported files by name (their size and checksum come from the file metadata).

``--api v10|v4|data_download`` picks the API version (default ``v10``). The client is configured
from the ``GENESYS_*`` environment variables (``Settings.from_env``). On a terminal, progress is a
bar per file (with the ``cli`` extra: ``pip install "genesys-cx[cli]"``, which brings rich); when
the output is not a terminal (or rich is missing) it is plain lines: each 10 % of each file, and
one line per finished file. Ctrl-C stops cleanly: what arrived stays in ``<name>.part`` and the
command to continue is printed (the same command with ``--job-id``); it resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ._commands import UsageError, register

if TYPE_CHECKING:
    from ._export_jobs import ExportJobs, JobStatus
    from ._transfer import Progress

__all__ = ["PlainDisplay"]

_VERSIONS = ("v10", "v4", "data_download")


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class PlainDisplay:
    """Progress as plain lines (for logs and pipes): job status changes, each 10 % of a file, and the end."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._shown: dict[str, int] = {}
        self._last_status: tuple[str, int] | None = None

    def _say(self, text: str) -> None:
        with self._lock:
            print(text, file=self._out, flush=True)

    def job(self, status: JobStatus) -> None:
        key = (status.status, status.progress // 10)
        if key != self._last_status:
            self._last_status = key
            self._say(f"job {status.job_id}: {status.status or 'running'} {status.progress}%")

    def file(self, progress: Progress) -> None:
        if progress.total is None:
            return
        step = 100 if progress.done >= progress.total else int((progress.fraction or 0) * 10) * 10
        with self._lock:
            if self._shown.get(progress.name, -1) >= step:
                return
            self._shown[progress.name] = step
        self._say(f"{progress.name}: {step}% ({_size(progress.done)} of {_size(progress.total)})")

    def close(self) -> None:
        pass


class _RichDisplay:
    """A rich progress bar per file (on a terminal)."""

    def __init__(self, out: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bars

        self._bars = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=out),
        )
        self._tasks: dict[str, Any] = {}
        self._job: Any = None
        self._lock = threading.Lock()
        self._bars.start()

    def job(self, status: JobStatus) -> None:
        text = f"job {status.job_id}: {status.status or 'running'}"
        if self._job is None:
            self._job = self._bars.add_task(text, total=100)
        self._bars.update(self._job, description=text, completed=status.progress)

    def file(self, progress: Progress) -> None:
        with self._lock:
            task = self._tasks.get(progress.name)
            if task is None:
                task = self._tasks[progress.name] = self._bars.add_task(progress.name, total=progress.total)
        self._bars.update(task, completed=progress.done, total=progress.total)

    def close(self) -> None:
        self._bars.stop()


def _display(out: IO[str]) -> PlainDisplay | _RichDisplay:
    if out.isatty():
        try:
            return _RichDisplay(out)
        except ImportError:
            print('(for a progress bar: pip install "genesys-cx[cli]")', file=out)
    return PlainDisplay(out)


# -- arguments ---------------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", choices=_VERSIONS, default="v10", help="API version (default v10)")
    parser.add_argument("--to", metavar="DIR", default=".", help="directory for the files (default: here)")
    parser.add_argument("--concurrency", type=int, default=4, metavar="N", help="files at a time (default 4)")


def _add_export_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--job", metavar="FILE|JSON", help="the job definition: a JSON file, or JSON text")
    which.add_argument("--job-id", type=int, metavar="N", help="an existing job (continue an interrupted run)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="give up waiting for the job after this")
    _common(parser)


def _add_download_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME", help="exported file names")
    _common(parser)


def _job_definition(text: str) -> dict[str, Any]:
    path = Path(text)
    try:
        raw = path.read_text(encoding="utf-8") if not text.lstrip().startswith("{") else text
    except OSError as exc:
        raise UsageError(f"cannot read the job definition {text}: {exc.strerror or exc}") from None
    try:
        job = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"the job definition is not JSON: {exc}") from None
    if not isinstance(job, dict):
        raise UsageError("the job definition must be a JSON object")
    return job


@contextmanager
def _exports(version: str) -> Iterator[ExportJobs]:
    from ._config import Settings
    from ._facade import Genesys

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with Genesys(settings) as genesys:
        yield genesys.exports.version(version)  # type: ignore[arg-type]


def _run(args: argparse.Namespace, work: Callable[[ExportJobs, PlainDisplay | _RichDisplay], list[Path]]) -> int:
    from .errors import GenesysError

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    out = sys.stdout
    with _exports(args.api) as exports:
        display = _display(out)
        try:
            paths = work(exports, display)
        except KeyboardInterrupt:
            display.close()
            print(f"\ninterrupted: {_again(args)} continues where it stopped", file=sys.stderr)
            return 130
        except GenesysError as exc:
            display.close()
            print(f"genesys-cx {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        display.close()
    for path in paths:
        print(path, file=out)
    return 0


def _again(args: argparse.Namespace) -> str:
    words = ["genesys-cx", args.command]
    if args.command == "export":
        words += ["--job-id", str(args.job_id)]
    else:
        words += args.names
    return " ".join([*words, "--api", args.api, "--to", args.to])


def _run_export(args: argparse.Namespace) -> int:
    job = _job_definition(args.job) if args.job is not None else None

    def work(exports: ExportJobs, display: PlainDisplay | _RichDisplay) -> list[Path]:
        if args.job_id is None:
            args.job_id = exports.create(job)
        exports.wait(args.job_id, timeout=args.timeout, on_status=display.job)
        files = exports.files(args.job_id)
        return exports.download(files, args.to, concurrency=args.concurrency, progress=display.file)

    return _run(args, work)


def _run_download(args: argparse.Namespace) -> int:
    def work(exports: ExportJobs, display: PlainDisplay | _RichDisplay) -> list[Path]:
        files = [exports.file(name) for name in args.names]
        return exports.download(files, args.to, concurrency=args.concurrency, progress=display.file)

    return _run(args, work)


register(
    "export",
    _add_export_arguments,
    _run_export,
    help="run an export job (UDM or Cloud Data Download) to completion and download its files",
)
register("download", _add_download_arguments, _run_download, help="download exported files by name (resumable)")
