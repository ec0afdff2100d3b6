"""Export jobs run to completion: create, wait, list the files, download them all.

``genesys.exports`` (``ExportJobs``; ``AsyncExportJobs`` on ``AsyncGenesys``) drives the job
lifecycle of User Data Management and the Cloud Data Download Service::

    paths = genesys.exports.run(job, to="exports/")          # create, wait, download -> [Path, ...]

step by step: ``create(job) -> id``, ``wait(id)`` (polls the job's progress endpoint with backoff;
a cancelled or failed job raises ``ExportFailed``, a deadline ``ExportTimeout``), ``files(id)``
(the file metadata of that job run, with size and checksum when the metadata carries them) and
``download(files, to)`` (at most ``concurrency`` files at a time, each streamed, verified and
resumable; see ``genesys_cx._transfer``). Re-running skips the files already complete in *to* and
resumes the partial ones.

Versions (``genesys.exports.version(...)``): ``"v10"`` (UDM v10, the default), ``"v4"`` (UDM v4
jobs, whose files the UDM v3 file requests serve) and ``"data_download"`` (the deprecated Cloud Data
Download Service: v4 jobs, v3 files). Job statuses are not documented: a status naming
completion (``COMPLETED``, ``DONE``, ``SUCCESS``, ``FINISHED``) ends the wait, one naming a
cancellation, failure or error raises ``ExportFailed``; anything else is still running.
"""

from __future__ import annotations

import importlib
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeVar

from ._transfer import Download, Progress, ProgressCallback, adownload, download
from .errors import ExportFailed, ExportTimeout

if TYPE_CHECKING:  # the facade imports this module for its `exports` properties: no import back at run time
    from ._facade import AsyncGenesys, Genesys  # noqa: F401 - named in the quoted bases of the job classes

__all__ = ["AsyncExportJobs", "ExportFile", "ExportJobs", "JobStatus", "Version"]

Version = Literal["v10", "v4", "data_download"]
_Client = TypeVar("_Client")

_DONE = re.compile(r"COMPLET|DONE|SUCCE|FINISH", re.IGNORECASE)
_FAILED = re.compile(r"CANCEL|FAIL|ERROR|ABORT", re.IGNORECASE)


@dataclass(frozen=True)
class _Operations:
    """The operations of one API version that the lifecycle uses."""

    api: str
    create: str
    progress: str
    record: str
    files: str
    download: str
    job_model: str  # module:class of the create body
    files_filter: str | None  # the file-metadata query parameter selecting one job run


_VERSIONS: dict[str, _Operations] = {
    "v10": _Operations(
        "udm",
        "create_export_job_v10",
        "get_export_history_progress_v10",
        "get_export_history_record_v10",
        "get_file_metadatas_v10",
        "download_file_v10",
        "genesys_cx_api.udm.models:Job",
        "history_id",
    ),
    "v4": _Operations(
        "udm",
        "create_export_job_v4",
        "get_export_history_progress_v4",
        "get_export_history_record_v4",
        "get_file_metadatas_v3",
        "download_file_v3",
        "genesys_cx_api.udm.models:JobV4",
        None,
    ),
    "data_download": _Operations(
        "data_download",
        "create_export_job",
        "get_export_history_job_progress",
        "get_export_history_job",
        "get_files_metadata",
        "download_file",
        "genesys_cx_api.data_download.models:Job",
        None,
    ),
}


def _operations(version: str) -> _Operations:
    try:
        return _VERSIONS[version]
    except KeyError:
        raise ValueError(f"unknown export API version {version!r}; one of {', '.join(_VERSIONS)}") from None


@dataclass(frozen=True)
class JobStatus:
    """One look at a job: its ``status`` (as the service words it) and ``progress`` (0-100)."""

    job_id: int
    status: str
    progress: int

    @property
    def done(self) -> bool:
        return bool(_DONE.search(self.status))

    @property
    def failed(self) -> bool:
        return bool(_FAILED.search(self.status))


@dataclass(frozen=True)
class ExportFile:
    """An exported file: its ``name``, and its ``size`` and ``checksum`` (``"sha256:<hex>"``) when known."""

    name: str
    size: int | None = None
    checksum: str | None = None
    job_id: int | None = None


# -- what the sync and async classes share (no I/O) ------------------------------------------------


def _job_body(ops: _Operations, job: Any) -> Any:
    if not isinstance(job, Mapping):
        return job  # already the generated model
    module, _, name = ops.job_model.partition(":")
    return getattr(importlib.import_module(module), name).from_dict(dict(job))


def _status(job_id: int, answer: Any) -> JobStatus:
    status = getattr(answer, "status", None)
    progress = getattr(answer, "progress", None)
    return JobStatus(
        job_id,
        status if isinstance(status, str) else "",
        progress if isinstance(progress, int) else 0,
    )


def _check(status: JobStatus) -> bool:
    """True when the job is complete; raise ``ExportFailed`` when it ended without its files."""
    if status.failed:
        raise ExportFailed(
            f"export job {status.job_id} ended {status.status} at {status.progress}%",
            job_id=status.job_id,
            job_status=status.status,
        )
    return status.done


class _Waiter:
    """The polling decisions of ``wait``: the delay before the next look, or None when the job is complete.

    Delays grow by half each time (up to 10 s), but never beyond the time the job's progress so
    far says it still needs, so a job is seen complete soon after it is.
    """

    def __init__(
        self, job_id: int, timeout: float | None, poll: float, on_status: Callable[[JobStatus], object] | None
    ) -> None:
        self.job_id, self.timeout, self.on_status = job_id, timeout, on_status
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.delay = poll
        self.started = time.monotonic()
        self.first: JobStatus | None = None
        self.last: JobStatus | None = None

    def next_delay(self, status: JobStatus) -> float | None:
        self.last = status
        if self.on_status is not None:
            self.on_status(status)
        if _check(status):
            return None
        delay, self.delay = self.delay, min(10.0, self.delay * 1.5)
        first = self.first = self.first or status
        gained, elapsed = status.progress - first.progress, time.monotonic() - self.started
        if gained > 0 and elapsed > 0:
            delay = min(delay, max(0.1, (100 - status.progress) * elapsed / gained))
        if self.deadline is not None and time.monotonic() + delay > self.deadline:
            raise ExportTimeout(
                f"export job {self.job_id} is still {status.status or 'running'} at {status.progress}%"
                f" after {self.timeout} s",
                job_id=self.job_id,
                progress=status.progress,
            )
        return delay


def _checksum(item: Mapping[str, Any]) -> str | None:
    for key in ("sha256", "sha1", "md5"):
        value = item.get(key)
        if isinstance(value, str) and value:
            return f"{key}:{value}"
    value = item.get("checksum")
    return value if isinstance(value, str) and ":" in value else None


def _export_files(items: Sequence[Mapping[str, Any]], job_id: int, file_name: str | None) -> list[ExportFile]:
    """The files of job run *job_id* among metadata *items* (by ``historyId``, else by the job's ``fileName``)."""
    mine = [item for item in items if str(item.get("historyId", "")) == str(job_id)]
    if not mine and not any("historyId" in item for item in items) and file_name:
        mine = [item for item in items if item.get("name") == file_name]
    files = []
    for item in mine:
        name, size = item.get("name"), item.get("size")
        if isinstance(name, str):
            files.append(ExportFile(name, size if isinstance(size, int) else None, _checksum(item), job_id))
    return files


def _named(items: Sequence[Mapping[str, Any]], name: str) -> ExportFile:
    for item in items:
        if item.get("name") == name:
            size, job = item.get("size"), item.get("historyId")
            return ExportFile(name, size if isinstance(size, int) else None, _checksum(item), job)
    return ExportFile(name)


def _items(page: Any) -> tuple[list[dict[str, Any]], int | None]:
    raw = getattr(page, "items", None)
    items = [dict(getattr(item, "additional_properties", None) or {}) for item in raw] if isinstance(raw, list) else []
    count = getattr(page, "count", None)
    return items, count if isinstance(count, int) else None


class _Stopped(Exception):
    """Raised in a download thread when the whole download was interrupted (its ``.part`` file stays)."""


def _target(file: ExportFile, to: Path) -> Path:
    name = Path(file.name).name
    if name in ("", ".", "..") or name != file.name.replace("\\", "/").rsplit("/", 1)[-1]:
        raise ValueError(f"refusing to write the file named {file.name!r}")
    return to / name


def _complete(file: ExportFile, path: Path) -> bool:
    """A file of an earlier run that is already in place (the rename happens only after verification)."""
    return path.is_file() and (file.size is None or path.stat().st_size == file.size)


class _Exports(Generic[_Client]):
    """What ``ExportJobs`` and ``AsyncExportJobs`` share: the client, the version, the plans."""

    def __init__(self, genesys: _Client, version: Version = "v10", *, poll: float = 0.5) -> None:
        self._genesys = genesys
        self._ops = _operations(version)
        self._poll = poll
        self.version_name = version

    def version(self, version: Version) -> Self:
        """The same client, another API version."""
        return type(self)(self._genesys, version, poll=self._poll)

    @property
    def _api(self) -> Any:
        return getattr(self._genesys, self._ops.api)

    def _files_query(self, job_id: int, offset: int) -> dict[str, Any]:
        query: dict[str, Any] = {"from_": offset}
        if self._ops.files_filter:
            query[self._ops.files_filter] = str(job_id)
        return query

    def _stream(self, file: ExportFile) -> Any:
        """The generated ``Stream`` (``AsyncStream``) of the download operation for *file*."""
        return getattr(self._api, self._ops.download + "_stream")(file.name)

    @staticmethod
    def _plan(
        files: Sequence[ExportFile | str], to: str | Path, concurrency: int
    ) -> tuple[list[Path], list[ExportFile]]:
        """The paths of *files* in *to*, and those of them still to download."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        wanted = [f if isinstance(f, ExportFile) else ExportFile(f) for f in files]
        paths = [_target(f, Path(to)) for f in wanted]
        return paths, [f for f, path in zip(wanted, paths, strict=True) if not _complete(f, path)]


# -- sync --------------------------------------------------------------------------------------------


class ExportJobs(_Exports["Genesys"]):
    """Export jobs of one API version, through a ``Genesys`` client (see the module docstring)."""

    def create(self, job: Mapping[str, Any] | Any) -> int:
        """Create an export job (a JSON-like mapping, or the generated model); return its id."""
        answer = getattr(self._api, self._ops.create)(body=_job_body(self._ops, job))
        return int(answer.id)

    def status(self, job_id: int) -> JobStatus:
        return _status(job_id, getattr(self._api, self._ops.progress)(str(job_id)))

    def wait(
        self,
        job_id: int,
        *,
        timeout: float | None = None,
        on_status: Callable[[JobStatus], object] | None = None,
    ) -> JobStatus:
        """Poll until the job is complete (``ExportFailed`` if it ends otherwise; ``ExportTimeout``)."""
        waiter = _Waiter(job_id, timeout, self._poll, on_status)
        while (delay := waiter.next_delay(self.status(job_id))) is not None:
            time.sleep(delay)
        assert waiter.last is not None
        return waiter.last

    def files(self, job_id: int) -> list[ExportFile]:
        """The files of job run *job_id* (every page of the file metadata)."""
        record = getattr(self._api, self._ops.record)(str(job_id))
        items: list[dict[str, Any]] = []
        while True:
            page_items, count = _items(getattr(self._api, self._ops.files)(**self._files_query(job_id, len(items))))
            items.extend(page_items)
            if not page_items or count is None or len(items) >= count:
                break
        return _export_files(items, job_id, getattr(record, "file_name", None))

    def file(self, name: str) -> ExportFile:
        """The file *name* with its size and checksum from the file metadata (just the name if not listed)."""
        items, _ = _items(getattr(self._api, self._ops.files)(name=name))
        return _named(items, name)

    def download_file(
        self, file: ExportFile | str, to: str | Path, *, progress: ProgressCallback | None = None
    ) -> Download:
        """Stream one file into the directory *to* (atomic, verified, resumed; see ``genesys_cx._transfer``)."""
        file = file if isinstance(file, ExportFile) else ExportFile(file)
        return download(
            self._stream(file),
            _target(file, Path(to)),
            expected_size=file.size,
            checksum=file.checksum,
            progress=progress,
        )

    def download(
        self,
        files: Sequence[ExportFile | str],
        to: str | Path,
        *,
        concurrency: int = 4,
        progress: ProgressCallback | None = None,
    ) -> list[Path]:
        """Download *files* into *to*, at most *concurrency* at a time; skip those already complete."""
        paths, todo = self._plan(files, to, concurrency)
        stop = threading.Event()

        def watched(step: Progress) -> None:
            if stop.is_set():  # Ctrl-C (or a failed file): the other downloads stop at their next piece
                raise _Stopped
            if progress is not None:
                progress(step)

        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="genesys-export")
        try:
            for future in [pool.submit(self.download_file, f, to, progress=watched) for f in todo]:
                future.result()
        except BaseException:
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return paths

    def run(
        self,
        job: Mapping[str, Any] | Any | int,
        to: str | Path,
        *,
        timeout: float | None = None,
        concurrency: int = 4,
        progress: ProgressCallback | None = None,
        on_status: Callable[[JobStatus], object] | None = None,
    ) -> list[Path]:
        """Create *job* (or take the id of an existing one), wait for it, download its files into *to*."""
        job_id = job if isinstance(job, int) else self.create(job)
        self.wait(job_id, timeout=timeout, on_status=on_status)
        return self.download(self.files(job_id), to, concurrency=concurrency, progress=progress)


# -- async -------------------------------------------------------------------------------------------


class AsyncExportJobs(_Exports["AsyncGenesys"]):
    """The async twin of ``ExportJobs``, through an ``AsyncGenesys`` client."""

    async def _call(self, operation: str, /, *args: Any, **kwargs: Any) -> Any:
        result: Awaitable[Any] = getattr(self._api, operation)(*args, **kwargs)
        return await result

    async def create(self, job: Mapping[str, Any] | Any) -> int:
        answer = await self._call(self._ops.create, body=_job_body(self._ops, job))
        return int(answer.id)

    async def status(self, job_id: int) -> JobStatus:
        return _status(job_id, await self._call(self._ops.progress, str(job_id)))

    async def wait(
        self,
        job_id: int,
        *,
        timeout: float | None = None,
        on_status: Callable[[JobStatus], object] | None = None,
    ) -> JobStatus:
        import anyio

        waiter = _Waiter(job_id, timeout, self._poll, on_status)
        while (delay := waiter.next_delay(await self.status(job_id))) is not None:
            await anyio.sleep(delay)
        assert waiter.last is not None
        return waiter.last

    async def files(self, job_id: int) -> list[ExportFile]:
        record = await self._call(self._ops.record, str(job_id))
        items: list[dict[str, Any]] = []
        while True:
            page_items, count = _items(await self._call(self._ops.files, **self._files_query(job_id, len(items))))
            items.extend(page_items)
            if not page_items or count is None or len(items) >= count:
                break
        return _export_files(items, job_id, getattr(record, "file_name", None))

    async def file(self, name: str) -> ExportFile:
        items, _ = _items(await self._call(self._ops.files, name=name))
        return _named(items, name)

    async def download_file(
        self, file: ExportFile | str, to: str | Path, *, progress: ProgressCallback | None = None
    ) -> Download:
        file = file if isinstance(file, ExportFile) else ExportFile(file)
        return await adownload(
            self._stream(file),
            _target(file, Path(to)),
            expected_size=file.size,
            checksum=file.checksum,
            progress=progress,
        )

    async def download(
        self,
        files: Sequence[ExportFile | str],
        to: str | Path,
        *,
        concurrency: int = 4,
        progress: ProgressCallback | None = None,
    ) -> list[Path]:
        import anyio

        paths, todo = self._plan(files, to, concurrency)
        limit = anyio.Semaphore(concurrency)

        async def one(file: ExportFile) -> None:
            async with limit:
                await self.download_file(file, to, progress=progress)

        async with anyio.create_task_group() as group:
            for file in todo:
                group.start_soon(one, file)
        return paths

    async def run(
        self,
        job: Mapping[str, Any] | Any | int,
        to: str | Path,
        *,
        timeout: float | None = None,
        concurrency: int = 4,
        progress: ProgressCallback | None = None,
        on_status: Callable[[JobStatus], object] | None = None,
    ) -> list[Path]:
        job_id = job if isinstance(job, int) else await self.create(job)
        await self.wait(job_id, timeout=timeout, on_status=on_status)
        return await self.download(await self.files(job_id), to, concurrency=concurrency, progress=progress)
