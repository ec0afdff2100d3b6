"""Streamed downloads: constant memory, progress, atomic writes, verification, resume.

A download reads the answer in the pieces the network delivers and writes each one before
reading the next, so a multi-gigabyte export needs no more memory than a small one. Writing to a
path goes through ``<name>.part`` in the same directory, renamed to ``<name>`` only once every
byte is there, verified and synced to disk (and the rename with it): a crash, a Ctrl-C, a power cut
or a failed check never leaves a partial file under the final name. The ``.part`` file is kept, so
the next attempt -- in this process after a dropped connection, or in the next run -- continues
where it stopped.

Resuming uses HTTP ``Range`` (the Genesys docs are silent on it; the decision is recorded as an
``x-doc-note`` on each download operation of the specs): ``Range: bytes=<have>-``, with
``If-Range: <ETag>`` when the server sent one. A ``206`` whose ``Content-Range`` starts at
``<have>`` is appended; a ``200`` means the server ignored the range (or the file changed) and
the download starts again from byte 0; a ``416`` with ``bytes */<have>`` means it was complete.

The expected size (from the file's metadata, else ``Content-Length`` / ``Content-Range``) and a
checksum, when the metadata carries one (``"sha256:<hex>"``, ``"md5:<hex>"``), are verified
before the rename; a resumed file that fails its checksum is downloaded once more from byte 0.
Every failure is a ``GenesysError``: ``DownloadInterrupted`` (the connection kept failing; the
``.part`` file stays for the next run), ``CorruptDownload`` (size or checksum), or the API's own
error (``NotFound``...).

What to download is a *source*: the ``Stream`` (``AsyncStream``) that the generated API classes
return from ``<operation>_stream(...)`` for every operation that answers a file, e.g.
``download(genesys.messaging.download_media_stream(channel, media_id), "photo.jpg")``; or any
callable that, given extra request headers, returns a context manager (async for ``adownload``)
yielding the streamed ``httpx.Response``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypedDict, Unpack

import httpx
from genesys_cx_api._runtime import AsyncStream, Stream

from . import errors
from ._response import error_for_response
from .errors import CorruptDownload, DownloadInterrupted

__all__ = [
    "AsyncOpener",
    "AsyncSource",
    "Download",
    "DownloadOptions",
    "Opener",
    "Progress",
    "ProgressCallback",
    "Source",
    "adownload",
    "download",
    "part_path",
]

#: ``opener(headers)`` -> a context manager yielding the streamed answer of the download request.
Opener = Callable[[Mapping[str, str]], AbstractContextManager[httpx.Response]]
AsyncOpener = Callable[[Mapping[str, str]], AbstractAsyncContextManager[httpx.Response]]
#: What ``download`` reads from: a generated ``Stream`` (its ``open``), or an opener.
Source = Stream | Opener
AsyncSource = AsyncStream | AsyncOpener

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED = re.compile(r"bytes\s+\*/(\d+)")
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Progress:
    """Where one download stands: ``done`` of ``total`` bytes (``total`` None while unknown)."""

    name: str
    done: int
    total: int | None

    @property
    def fraction(self) -> float | None:
        return None if not self.total else min(1.0, self.done / self.total)


ProgressCallback = Callable[[Progress], object]


@dataclass(frozen=True)
class Download:
    """A finished download.

    Attributes:
        path: where the file is (None when written to a file object).
        size: its size in bytes.
        received: bytes that came over the network for it in this call (``size`` minus what an
            earlier run had already written, plus whatever was fetched twice).
        resumed_from: the offsets this call resumed from (empty: it started at byte 0 once).
        checksum: ``"<algorithm>:<hex>"`` as verified, or None when nothing was expected.
    """

    path: Path | None
    size: int
    received: int
    resumed_from: tuple[int, ...] = ()
    checksum: str | None = None


def _sync_directory(directory: Path) -> None:
    """Make a rename in *directory* durable (POSIX; elsewhere a no-op)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):  # some file systems cannot sync a directory: the rename still holds
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def part_path(path: Path) -> Path:
    """The temporary file a download to *path* writes before the rename (``<name>.part``)."""
    return path.with_name(path.name + ".part")


def _parse_checksum(checksum: str | None) -> tuple[str, str] | None:
    if checksum is None:
        return None
    algorithm, colon, digest = checksum.partition(":")
    if not colon or algorithm.lower() not in hashlib.algorithms_available or not digest:
        raise ValueError(f"checksum must be '<algorithm>:<hex digest>' (e.g. 'sha256:...'), got {checksum!r}")
    return algorithm.lower(), digest.lower()


class _Writer:
    """Writes (and hashes) what arrives on a thread of its own, a bounded amount behind the network.

    File writes and ``hashlib`` release the GIL, so the disk and the checksum work while the next
    pieces are read from the socket. Pieces are handed over in batches of about ``BATCH`` bytes (a
    thread handoff per batch, not per 64 KiB piece), at most ``DEPTH`` batches ahead: the memory
    held stays under ``(DEPTH + 1) * BATCH``. ``sync()`` waits until everything handed over is
    written (and re-raises a write error, e.g. a full disk).
    """

    BATCH = 1 << 20
    DEPTH = 4

    def __init__(self, file: IO[bytes], digest: Any) -> None:
        self.file = file
        self.digest = digest
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(self.DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="genesys-download-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                if self._error is None:
                    for chunk in batch:
                        self.file.write(chunk)
                        if self.digest is not None:
                            self.digest.update(chunk)
            except BaseException as exc:  # handed to the downloading thread at its next call
                self._error = exc
            finally:
                self._queue.task_done()

    def put(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size >= self.BATCH:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._pending:
            self._queue.put(self._pending)
            self._pending, self._pending_size = [], 0

    def sync(self) -> None:
        self._hand_over()
        self._queue.join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        self._hand_over()
        self._queue.put(None)
        self._thread.join()


class _Retry(Exception):
    """The connection failed mid-answer (or ended early): try again from where we are."""


@dataclass
class _State:
    """What both drivers share: the decisions of a download, without any I/O on the network."""

    name: str
    target: Path | None
    sink: IO[bytes] | None
    expected_size: int | None
    checksum: tuple[str, str] | None
    progress: ProgressCallback | None
    attempts: int
    backoff: float
    operation: str | None
    done: int = 0
    start: int = 0  # the sink position of byte 0 (file objects)
    received: int = 0
    total: int | None = None
    etag: str | None = None
    failures: int = 0
    resumed_from: list[int] = field(default_factory=list)
    digest: Any = None
    verified_restart: bool = False
    _file: IO[bytes] | None = None
    _writer: _Writer | None = None

    # -- setting up -------------------------------------------------------------------------------

    def open(self, resume: bool) -> None:
        if self.target is not None:
            part = part_path(self.target)
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(part, "r+b" if resume and part.exists() else "w+b")  # noqa: SIM115
            self._file.seek(0, os.SEEK_END)
            self.done = self._file.tell()
        else:
            assert self.sink is not None
            self._file = self.sink
            with contextlib.suppress(OSError, ValueError):
                self.start = self.sink.tell()
        self.total = self.expected_size
        self._rehash()
        self._writer = _Writer(self._file, self.digest)

    def _sync(self) -> None:
        """Wait until every piece received is in the file (``done`` is then what the file holds)."""
        if self._writer is not None:
            self._writer.sync()

    def _rehash(self) -> None:
        """Start the checksum over, feeding it what is already written (a resumed ``.part``)."""
        self.digest = hashlib.new(self.checksum[0]) if self.checksum else None
        if self._writer is not None:
            self._writer.digest = self.digest
        if self.digest is None or self.done == 0:
            return
        assert self._file is not None
        self._file.flush()
        with open(self._file.fileno(), "rb", closefd=False) as reader:
            reader.seek(self.start)
            left = self.done
            while left:
                block = reader.read(min(_HASH_BLOCK, left))
                if not block:
                    break
                self.digest.update(block)
                left -= len(block)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()  # what was received is written: the next attempt continues after it
            self._writer = None
        if self._file is not None and self.target is not None:
            self._file.close()
        self._file = None

    # -- one request ------------------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        self._sync()
        headers = {"Accept-Encoding": "identity"}  # byte offsets must be offsets of the file itself
        if self.done:
            headers["Range"] = f"bytes={self.done}-"
            if self.etag and not self.etag.startswith("W/"):
                headers["If-Range"] = self.etag
        return headers

    def begin(self, response: httpx.Response) -> bool:
        """Take the answer's status and headers; False when there is no body to read (already complete)."""
        status = response.status_code
        if status == 416 and self.done:
            match = _UNSATISFIED.fullmatch(response.headers.get("content-range", "").strip())
            if match and int(match.group(1)) == self.done:
                self.total = self.total if self.total is not None else self.done
                return False
            self._truncate()  # our partial file is longer than the file: start again
            raise _Retry("range not satisfiable")
        if status not in (200, 206):
            response.read()
            raise error_for_response(response, self.operation)
        self.etag = response.headers.get("etag") or self.etag
        if status == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
            if match is None or int(match.group(1)) != self.done:
                self._truncate()
                raise _Retry("the server answered another range than the one asked for")
            if match.group(3) != "*":
                self._set_total(int(match.group(3)))
            self.resumed_from.append(self.done)
        else:
            if self.done:
                self._truncate()  # 200: the whole file again
            length = response.headers.get("content-length")
            encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
            if length is not None and length.isdigit() and not encoded:
                self._set_total(int(length))
        return True

    def _set_total(self, size: int) -> None:
        if self.expected_size is not None and size != self.expected_size:
            raise CorruptDownload(
                f"{self.name}: the server announces {size} bytes, the metadata said {self.expected_size}",
                operation=self.operation,
            )
        self.total = size

    def _truncate(self) -> None:
        assert self._file is not None
        self._sync()
        try:
            self._file.seek(self.start)
            self._file.truncate()
        except (OSError, ValueError) as exc:
            raise DownloadInterrupted(
                f"{self.name}: the download must start again but the file object cannot be rewound",
                operation=self.operation,
            ) from exc
        self.done = 0
        self._rehash()

    def write(self, chunk: bytes) -> None:
        assert self._writer is not None
        self._writer.put(chunk)
        self.done += len(chunk)
        self.received += len(chunk)
        if self.total is not None and self.done > self.total:
            raise CorruptDownload(f"{self.name}: more than the {self.total} bytes announced", operation=self.operation)
        self.failures = 0
        if self.progress is not None:
            self.progress(Progress(self.name, self.done, self.total))

    def body_ended(self) -> None:
        if self.total is not None and self.done < self.total:
            raise _Retry(f"the answer ended after {self.done} of {self.total} bytes")

    def failed(self, exc: BaseException) -> float:
        """A request failed mid-way: the delay before trying again, or raise when out of attempts."""
        self.failures += 1
        if self.failures >= self.attempts:
            raise DownloadInterrupted(
                f"{self.name}: the download failed {self.failures} time(s) in a row at byte {self.done}"
                f" ({type(exc).__name__}: {exc}); run it again to continue from there",
                operation=self.operation,
            ) from exc
        return float(self.backoff * 2 ** (self.failures - 1))

    # -- the end ----------------------------------------------------------------------------------

    def finish(self) -> Download | None:
        """Verify and publish; None when a resumed file failed its checksum (start again from byte 0)."""
        assert self._file is not None
        self._sync()
        self._file.flush()
        if self.total is not None and self.done != self.total:
            raise CorruptDownload(f"{self.name}: got {self.done} of {self.total} bytes", operation=self.operation)
        checksum = None
        if self.checksum is not None and self.digest is not None:
            algorithm, expected = self.checksum
            actual = self.digest.hexdigest()
            if actual != expected:
                if self.resumed_from and not self.verified_restart:
                    self.verified_restart = True
                    self._truncate()
                    self.etag = None
                    self.resumed_from.clear()
                    return None
                raise CorruptDownload(
                    f"{self.name}: {algorithm} is {actual}, the metadata says {expected}", operation=self.operation
                )
            checksum = f"{algorithm}:{actual}"
        if self.target is not None:
            os.fsync(self._file.fileno())  # on disk before it gets its name: a power cut leaves no short file
            self.close()
            os.replace(part_path(self.target), self.target)
            _sync_directory(self.target.parent)
        return Download(self.target, self.done, self.received, tuple(self.resumed_from), checksum)


class DownloadOptions(TypedDict, total=False):
    """The keyword arguments of ``download`` and ``adownload``.

    Attributes:
        name: the name shown in progress and errors (default: the file name of the destination).
        expected_size: the size the metadata announces (checked against the answer and the result).
        checksum: ``"sha256:<hex>"`` (any ``hashlib`` algorithm) to verify before the rename.
        progress: called with a ``Progress`` after every piece written.
        resume: continue an existing ``<name>.part`` (default True; False starts from byte 0).
        attempts: connection failures in a row, without a byte of progress, before giving up (default 5).
        backoff: seconds before the first retry, doubled after each further failure in a row (default 0.2).
        operation: the operationId, for error messages.
    """

    name: str | None
    expected_size: int | None
    checksum: str | None
    progress: ProgressCallback | None
    resume: bool
    attempts: int
    backoff: float
    operation: str | None


def _state(dest: str | os.PathLike[str] | IO[bytes], options: DownloadOptions) -> _State:
    attempts = options.get("attempts", 5)
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    target = Path(dest) if isinstance(dest, (str, os.PathLike)) else None
    sink = None if isinstance(dest, (str, os.PathLike)) else dest
    label = options.get("name") or (target.name if target is not None else str(getattr(dest, "name", "download")))
    state = _State(
        label,
        target,
        sink,
        options.get("expected_size"),
        _parse_checksum(options.get("checksum")),
        options.get("progress"),
        attempts,
        options.get("backoff", 0.2),
        options.get("operation"),
    )
    state.open(options.get("resume", True))
    return state


_NETWORK_ERRORS = (httpx.TransportError, errors.TransportError, _Retry)


def _operation(source: object, options: DownloadOptions) -> DownloadOptions:
    operation = getattr(source, "operation", None)
    return {"operation": operation, **options} if isinstance(operation, str) else options


def download(source: Source, dest: str | os.PathLike[str] | IO[bytes], **options: Unpack[DownloadOptions]) -> Download:
    """Stream the answer of *source* into *dest* (a path, or a writable binary file object).

    *source* is a generated ``Stream`` (``<operation>_stream(...)``) or an opener taking the headers
    to add (``Range`` and friends); a path is written atomically through ``<name>.part``. See the
    module docstring and ``DownloadOptions``.
    """
    opener = source.open if isinstance(source, Stream) else source
    state = _state(dest, _operation(source, options))
    try:
        while True:
            try:
                with opener(state.headers()) as response:
                    if state.begin(response):
                        for chunk in response.iter_bytes():
                            state.write(chunk)
                        state.body_ended()
                done = state.finish()
                if done is not None:
                    return done
            except _NETWORK_ERRORS as exc:
                time.sleep(state.failed(exc))
    finally:
        state.close()


async def adownload(
    source: AsyncSource, dest: str | os.PathLike[str] | IO[bytes], **options: Unpack[DownloadOptions]
) -> Download:
    """The async twin of ``download`` (the file is written on the writer thread, as in ``download``)."""
    import anyio

    opener = source.open if isinstance(source, AsyncStream) else source
    state = _state(dest, _operation(source, options))
    try:
        while True:
            try:
                async with opener(state.headers()) as response:
                    if state.begin(response):
                        async for chunk in response.aiter_bytes():
                            state.write(chunk)
                        state.body_ended()
                done = state.finish()
                if done is not None:
                    return done
            except _NETWORK_ERRORS as exc:
                await anyio.sleep(state.failed(exc))
    finally:
        state.close()
