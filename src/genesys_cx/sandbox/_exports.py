"""Export services: User Data Management (``/udm`` v10, v4, v3) and Cloud Data Download (``/data-download``).

Both APIs describe the same service in different versions: export *jobs* (created, updated,
suspended, resumed, cancelled, deleted), their *history* records and progress, the exported *files*
(metadata, links, download, delete), an encryption *certificate*, and reference data. One
``ExportsEmulator`` per API keeps that state; operations are dispatched by their operationId with the
version suffix stripped (``cancel_export_job_v10`` -> ``cancel_export_job``), and the few answers
whose shape differs per version follow the schema the operation documents.

A job progresses with time while it is not suspended: ``progress`` goes from 0 to 100 over
``SandboxConfig.export_job_duration`` seconds; at 100 it is ``COMPLETED`` and its files can be
listed and downloaded. The status values are not documented; the sandbox uses ``IN_PROGRESS``,
``SUSPENDED``, ``COMPLETED`` and ``CANCELED`` (listed by ``job-statuses``).

Exported files (``EmulatedExportFile``) are as large as ``SandboxConfig.export_file_size`` says (gigabytes
are fine): their bytes are a pure function of ``(export_seed, job id, part, size)``, generated as a
stream and never held in memory, so a test knows their checksum without storing them. A job whose
``jobParams.fileSplitSize`` is set (bytes, or with a ``K``/``M``/``G`` suffix for KiB/MiB/GiB: the
docs do not give the unit) is split into parts of that size. File metadata items carry ``size`` and
``sha256`` (the docs do not print the item model; these keys are the sandbox's). Downloads honour
one HTTP ``Range`` (``206`` with ``Content-Range``; ``If-Range`` with the strong ``ETag``;
``416`` beyond the end), which the docs do not mention (see the ``x-doc-note`` of ``download_file``).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from starlette.responses import Response, StreamingResponse

from ._config import SandboxConfig
from ._http import Call, ErrorReply, envelope, json_response

__all__ = ["EmulatedExportFile", "ExportJob", "ExportsEmulator", "parse_size"]

STATUSES = ("IN_PROGRESS", "SUSPENDED", "COMPLETED", "CANCELED")
_ALIASES = {
    "get_certificate_info": "get_certificate",
    "get_files_metadata": "get_file_metadatas",
    "get_file_urls": "get_file_links",
    "delete_export_history_jobs": "delete_export_history",
    "get_export_history_job": "get_export_history_record",
    "delete_export_history_job": "delete_export_history_record",
    "get_export_history_job_progress": "get_export_history_progress",
}


_BLOCK = 64 * 1024  # the repeating unit of generated data: 1024 rows of 64 bytes
_SEND = 4 * _BLOCK  # bytes per body message of a download
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789,;"
_PRINTABLE = bytes(_ALPHABET[i % len(_ALPHABET)] for i in range(256))
_MAX_PARTS = 10_000
_SIZE = re.compile(r"\s*(\d+)\s*([KMG]?)i?B?\s*", re.IGNORECASE)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def parse_size(text: str) -> int:
    """``"1048576"``, ``"64K"``, ``"10MB"``, ``"1GiB"`` -> bytes (suffixes are powers of 1024)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a size: {text!r} (bytes, or a number with K, M or G)")
    exponent = " KMG".index(match.group(2).upper() or " ")
    return int(match.group(1)) << (10 * exponent)


@dataclass
class EmulatedExportFile:
    """One exported file: ``size`` bytes generated from a seed on demand (see the module docstring).

    The file is a CSV-like text: *header* (the first part of a job names its job), then rows of 64
    bytes; the first row of every 64 KiB block starts with the block number, so a byte served at
    the wrong offset changes the checksum.
    """

    name: str
    job_id: int
    size: int
    seed: str
    header: bytes = b""
    created: float = field(default_factory=time.time)

    @cached_property
    def _template(self) -> bytes:
        raw = random.Random(self.seed).randbytes(_BLOCK).translate(_PRINTABLE)
        return b"".join(raw[i : i + 62] + b"\r\n" for i in range(0, _BLOCK, 64))

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(f"{self.seed}/{self.size}".encode()).hexdigest() + '"'

    def _block(self, number: int) -> bytes:
        return b"%012d" % number + self._template[12:]

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes ``start`` to ``end`` (exclusive; default: the end of the file), in pieces of 256 KiB."""
        end = self.size if end is None else min(end, self.size)
        position = start
        while position < end:
            stop = min(end, position + _SEND)
            yield self._bytes(position, stop)
            position = stop

    def _bytes(self, start: int, stop: int) -> bytes:
        pieces: list[bytes] = []
        if start < len(self.header):
            pieces.append(self.header[start:stop])
            start = len(self.header)
        while start < stop:
            offset = start - len(self.header)
            number, within = divmod(offset, _BLOCK)
            piece = self._block(number)[within : within + stop - start]
            pieces.append(piece)
            start += len(piece)
        return b"".join(pieces)

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the whole file (computed once, by streaming it)."""
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()


async def _astream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
        await asyncio.sleep(0)  # let a disconnect (or the rest of the sandbox) through


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end exclusive)`` of a single ``bytes=`` range; None to serve the whole file.

    Raises ``ErrorReply(416)`` for a range that starts beyond the end. A header this parser does not
    understand (several ranges, another unit) is ignored, as RFC 9110 allows.
    """
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "")
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        return (max(0, size - int(last)), size) if int(last) > 0 else None
    start = int(first)
    end = size if last == "" else min(size, int(last) + 1)
    if start >= size or start >= end:
        raise ErrorReply(416, f"range {header} not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    return start, end


@dataclass
class ExportJob:
    id: int
    spec: dict[str, Any]
    duration: float
    size: int = 0
    seed: int = 0
    created: float = field(default_factory=time.time)
    active_since: float | None = None
    active_before: float = 0.0  # seconds run before the last suspension
    canceled: bool = False

    @property
    def progress(self) -> int:
        ran = self.active_before + (time.time() - self.active_since if self.active_since is not None else 0.0)
        return 100 if self.duration <= 0 else min(100, int(ran / self.duration * 100))

    @property
    def status(self) -> str:
        if self.canceled:
            return "CANCELED"
        if self.progress >= 100:
            return "COMPLETED"
        return "IN_PROGRESS" if self.active_since is not None else "SUSPENDED"

    @property
    def split_size(self) -> int | None:
        """``jobParams.fileSplitSize`` in bytes (None: one file)."""
        params = self.spec.get("jobParams") or {}
        raw = params.get("fileSplitSize") if isinstance(params, dict) else None
        return parse_size(str(raw)) if raw not in (None, "") else None

    @cached_property
    def files(self) -> list[EmulatedExportFile]:
        """The files of the job (one, or ``fileSplitSize`` parts), generated when read."""
        title, source = self.spec.get("title", ""), self.spec.get("source", "")
        header = f"jobId,title,source\r\n{self.id},{title},{source}\r\n".encode()
        split = self.split_size or self.size or 1
        count = max(1, math.ceil(self.size / split))
        files = []
        for part in range(count):
            name = f"export-{self.id}.csv" if count == 1 else f"export-{self.id}-{part + 1:04d}.csv"
            size = min(split, self.size - part * split)
            seed = f"{self.seed}/{self.id}/{part}"
            files.append(EmulatedExportFile(name, self.id, size, seed, header if part == 0 else b""))
        return files

    @property
    def file_name(self) -> str:
        return self.files[0].name

    def suspend(self) -> None:
        if self.active_since is not None:
            self.active_before += time.time() - self.active_since
            self.active_since = None

    def resume(self) -> None:
        if self.active_since is None:
            self.active_since = time.time()

    def info(self) -> dict[str, Any]:
        params = self.spec.get("jobParams") or {}
        frame = self.spec.get("timeFrame") or {}
        data: dict[str, Any] = {
            "id": self.id,
            "type": str(self.spec.get("type") or params.get("type", "")),
            "source": str(self.spec.get("source", "")),
            "title": str(self.spec.get("title", "")),
            "status": self.status,
            "progress": self.progress,
            "createdDate": _iso(self.created),
            "media": [str(m) for m in params.get("media", [])],
        }
        if self.status == "COMPLETED":
            data.update(fileName=self.file_name, fileSize=self.size)
        for key in ("dateFrom", "dateTo"):
            if isinstance(frame.get(key), str):
                data[key] = frame[key]
        if isinstance(self.spec.get("description"), str):
            data["description"] = self.spec["description"]
        return data


class ExportsEmulator:
    """Handlers of ``udm.yaml`` or ``data_download.yaml`` (one instance per API)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._jobs: dict[int, ExportJob] = {}
        self._deleted_files: set[str] = set()
        self._certificate: dict[str, Any] | None = None

    def handlers(self, operation_ids: Iterable[str]) -> dict[str, Callable[[Call], Awaitable[Response]]]:
        """The handler of each of *operation_ids* (version suffix and Data Download aliases resolved)."""
        table: dict[str, Callable[[Call], Awaitable[Response]]] = {}
        for operation_id in operation_ids:
            base = re.sub(r"_v(10|4|3)$", "", operation_id)
            handler = getattr(self, "op_" + _ALIASES.get(base, base), None)
            if handler is not None:
                table[operation_id] = handler
        return table

    def jobs(self) -> list[ExportJob]:
        with self._lock:
            return list(self._jobs.values())

    # -- helpers -------------------------------------------------------------------------------

    def _job(self, call: Call) -> ExportJob:
        job = self._jobs.get(_job_number(call.params["id"]))
        if job is None:  # a 404 where the operation documents one, else the documented 400
            raise ErrorReply(404 if call.op.documents(404) else 400, f"job {call.params['id']} not found")
        return job

    @staticmethod
    def _schema_name(call: Call, status: str = "200") -> str:
        response: Any = call.op.responses.get(status) or {}
        media: Any = next(iter((response.get("content") or {}).values()), {})
        schema: Any = media.get("schema") or {}
        return str(schema.get("$ref", "")).rsplit("/", 1)[-1]

    @staticmethod
    def _paged(call: Call, items: list[dict[str, Any]]) -> Response:
        start = int(call.query.get("from", 0) or 0)
        size = int(call.query.get("size", 0) or 0) or len(items) or 1
        return json_response({"count": len(items), "from": start, "size": size, "items": items[start : start + size]})

    def _files(self) -> dict[str, EmulatedExportFile]:
        return {
            f.name: f
            for j in self._jobs.values()
            if j.status == "COMPLETED"
            for f in j.files
            if f.name not in self._deleted_files
        }

    def _ids_param(self, call: Call, name: str) -> list[str]:
        raw = call.request.query_params.getlist(name)
        return [part for value in raw for part in value.split(",") if part]

    # -- reference data ------------------------------------------------------------------------

    async def op_get_version(self, call: Call) -> Response:
        return json_response({"name": "genesys-cx sandbox", "version": "10.0.0", "buildNumber": "0", "changeset": "0"})

    async def op_get_job_statuses(self, call: Call) -> Response:
        return json_response([{"label": s.replace("_", " ").title(), "value": s} for s in STATUSES])

    async def op_get_data_sources(self, call: Call) -> Response:
        return json_response([{"label": "Universal Contact Server", "value": "UCS"}])

    async def op_get_data_types(self, call: Call) -> Response:
        return json_response([{"name": "interactions", "source": "UCS"}, {"name": "contacts", "source": "UCS"}])

    async def op_get_data_sub_types(self, call: Call) -> Response:
        return json_response(
            [{"name": "email", "displayName": "E-mail", "source": "UCS", "dataType": "interactions", "enabled": True}]
        )

    async def op_get_data_attributes(self, call: Call) -> Response:
        return json_response({"interactions": ["id", "subject", "startDate", "endDate"]})

    async def op_get_resource_labels(self, call: Call) -> Response:
        return json_response([{"label": "Export", "value": "export"}])

    async def op_get_certificate(self, call: Call) -> Response:
        return json_response(self._certificate or {})

    async def op_upload_certificate(self, call: Call) -> Response:
        file = call.parsed["file"]
        self._certificate = {
            "name": call.params["certificatefilename"],
            "size": len(file.data),
            "lastModified": datetime.now(UTC).isoformat(),
        }
        return json_response("Certificate uploaded", status=201)

    # -- jobs ----------------------------------------------------------------------------------

    async def op_create_export_job(self, call: Call) -> Response:
        spec: dict[str, Any] = call.parsed
        config = self.config
        with self._lock:
            job = ExportJob(
                next(self._ids), spec, config.export_job_duration, config.export_file_size, config.export_seed
            )
            try:
                split = job.split_size
            except ValueError as exc:
                raise ErrorReply(400, f"jobParams.fileSplitSize: {exc}") from None
            if split is not None and (split <= 0 or job.size / split > _MAX_PARTS):
                raise ErrorReply(400, f"jobParams.fileSplitSize: at most {_MAX_PARTS} parts of at least 1 byte")
            if str(spec.get("suspended")).lower() != "true":
                job.resume()
            self._jobs[job.id] = job
        return json_response(job.info(), status=202)

    async def op_get_export_jobs(self, call: Call) -> Response:
        with self._lock:
            items = [j.info() for j in self._jobs.values() if j.status in ("IN_PROGRESS", "SUSPENDED")]
        return self._paged(call, items) if items else Response(status_code=204)

    async def op_get_export_job(self, call: Call) -> Response:
        with self._lock:
            job = self._job(call)
            if self._schema_name(call) == "SavedJobV4":
                return json_response({**job.spec, "id": job.id})
            return json_response(job.info())

    async def op_update_export_job(self, call: Call) -> Response:
        with self._lock:
            job = self._job(call)
            job.spec = call.parsed
            job.__dict__.pop("files", None)
            return json_response(job.info())

    async def _transition(self, call: Call, change: Callable[[ExportJob], None]) -> Response:
        with self._lock:
            job = self._job(call)
            if job.status in ("COMPLETED", "CANCELED"):
                raise ErrorReply(400, f"job {job.id} is {job.status.lower()}")
            change(job)
            if call.op.operation_id.startswith("cancel"):
                return Response(status_code=200)
            if self._schema_name(call) == "StatusResponse":
                return json_response(envelope(0))
            return json_response(job.info())

    async def op_suspend_export_job(self, call: Call) -> Response:
        return await self._transition(call, ExportJob.suspend)

    async def op_resume_export_job(self, call: Call) -> Response:
        return await self._transition(call, ExportJob.resume)

    async def op_cancel_export_job(self, call: Call) -> Response:
        def cancel(job: ExportJob) -> None:
            job.suspend()
            job.canceled = True

        return await self._transition(call, cancel)

    async def op_delete_export_job(self, call: Call) -> Response:
        with self._lock:
            job = self._job(call)
            if job.status == "IN_PROGRESS":
                raise ErrorReply(400, f"job {job.id} is in progress and cannot be deleted")
            del self._jobs[job.id]
        return Response(status_code=204)

    async def op_delete_export_jobs(self, call: Call) -> Response:
        undeleted: list[str] = []
        with self._lock:
            for raw in self._ids_param(call, "jobIDs"):
                job = self._jobs.get(_job_number(raw))
                if job is None or job.status == "IN_PROGRESS":
                    undeleted.append(raw)
                else:
                    del self._jobs[job.id]
        if not undeleted:
            return Response(status_code=204)
        if call.op.documents(500) and "500" in call.op.responses:
            return json_response(undeleted, status=500)
        raise ErrorReply(400, f"job(s) not deleted: {', '.join(undeleted)}")

    # -- history -------------------------------------------------------------------------------

    async def op_get_export_history(self, call: Call) -> Response:
        with self._lock:
            items = [j.info() for j in self._jobs.values() if j.status in ("COMPLETED", "CANCELED")]
        return self._paged(call, items) if items else Response(status_code=204)

    async def op_get_export_history_record(self, call: Call) -> Response:
        with self._lock:
            return json_response(self._job(call).info())

    async def op_get_export_history_progress(self, call: Call) -> Response:
        with self._lock:
            job = self._job(call)
            return json_response({"progress": job.progress, "status": job.status})

    async def op_delete_export_history_record(self, call: Call) -> Response:
        return await self.op_delete_export_job(call)

    async def op_delete_export_history(self, call: Call) -> Response:
        return await self.op_delete_export_jobs(call)

    # -- files ---------------------------------------------------------------------------------

    async def op_get_file_metadatas(self, call: Call) -> Response:
        with self._lock:
            files = list(self._files().values())
            jobs = {j.id: j for j in self._jobs.values()}
        # the first listing of a big file hashes it (a second per GiB): off the event loop
        digests = [await asyncio.to_thread(lambda f=f: f.sha256) for f in files]  # type: ignore[misc]
        items = [
            {
                "name": f.name,
                "size": f.size,
                "sha256": digest,
                "jobTitle": str(jobs[f.job_id].spec.get("title", "")) if f.job_id in jobs else "",
                "historyId": f.job_id,
                "createdDate": _iso(f.created),
            }
            for f, digest in zip(files, digests, strict=True)
        ]
        return self._paged(call, items)

    async def op_get_file_links(self, call: Call) -> Response:
        base = call.request.url.path
        with self._lock:
            files = self._files()
        wanted = call.query.get("filename")
        if wanted is None:
            return json_response([{"path": f"{base}/{name}"} for name in files])
        if wanted not in files:
            schema = self._schema_name(call, "404")
            return json_response([] if schema in ("PreSignedUris", "FilesNotFound", "") else {}, status=404)
        return json_response({"path": f"{base}/{wanted}"})

    async def op_download_file(self, call: Call) -> Response:
        with self._lock:
            file = self._files().get(call.params["filename"])
        if file is None:
            raise ErrorReply(404, f"file {call.params['filename']} not found")
        headers = {"Accept-Ranges": "bytes", "ETag": file.etag}
        if_range = call.header("if-range")
        span = _byte_range(call.header("range"), file.size) if if_range in (None, file.etag) else None
        if span is None:
            headers["Content-Length"] = str(file.size)
            return StreamingResponse(_astream(file.chunks()), media_type="application/octet-stream", headers=headers)
        start, end = span
        headers.update({"Content-Length": str(end - start), "Content-Range": f"bytes {start}-{end - 1}/{file.size}"})
        return StreamingResponse(
            _astream(file.chunks(start, end)), status_code=206, media_type="application/octet-stream", headers=headers
        )

    async def op_delete_file(self, call: Call) -> Response:
        with self._lock:
            self._deleted_files.add(call.params["filename"])
        return Response(status_code=204)

    async def op_delete_files(self, call: Call) -> Response:
        with self._lock:
            self._deleted_files.update(self._ids_param(call, "filename"))
        return Response(status_code=204)


def _job_number(raw: str) -> int:
    """The job number *raw* names; -1 if it names none (ids are strings in the specs: any is valid)."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else -1
