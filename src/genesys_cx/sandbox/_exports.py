"""Export services: User Data Management (``/udm`` v10, v4, v3) and Cloud Data Download (``/data-download``).

Both APIs describe the same service in different versions: export *jobs* (created, updated,
suspended, resumed, cancelled, deleted), their *history* records and progress, the exported *files*
(metadata, links, download, delete), an encryption *certificate*, and reference data. One
``ExportsApi`` per API keeps that state; operations are dispatched by their operationId with the
version suffix stripped (``cancel_export_job_v10`` -> ``cancel_export_job``), and the few answers
whose shape differs per version follow the schema the operation documents.

A job progresses with time while it is not suspended: ``progress`` goes from 0 to 100 over
``SandboxConfig.export_job_duration`` seconds; at 100 it is ``COMPLETED`` and its file (a small
CSV) can be listed and downloaded. The status values are not documented; the sandbox uses
``IN_PROGRESS``, ``SUSPENDED``, ``COMPLETED`` and ``CANCELED`` (listed by ``job-statuses``).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from ._http import ApiError, Call, envelope, json_response

__all__ = ["ExportJob", "ExportsApi"]

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


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


@dataclass
class ExportJob:
    id: int
    spec: dict[str, Any]
    duration: float
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
    def file_name(self) -> str:
        return f"export-{self.id}.csv"

    def content(self) -> bytes:
        title, source = self.spec.get("title", ""), self.spec.get("source", "")
        return f"jobId,title,source\r\n{self.id},{title},{source}\r\n".encode()

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
            data.update(fileName=self.file_name, fileSize=len(self.content()))
        for key in ("dateFrom", "dateTo"):
            if isinstance(frame.get(key), str):
                data[key] = frame[key]
        if isinstance(self.spec.get("description"), str):
            data["description"] = self.spec["description"]
        return data


class ExportsApi:
    """Handlers of ``udm.yaml`` or ``data_download.yaml`` (one instance per API)."""

    def __init__(self, job_duration: float) -> None:
        self.job_duration = job_duration
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
            raise ApiError(404 if call.op.documents(404) else 400, f"job {call.params['id']} not found")
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

    def _files(self) -> dict[str, ExportJob]:
        return {
            j.file_name: j
            for j in self._jobs.values()
            if j.status == "COMPLETED" and j.file_name not in self._deleted_files
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
        with self._lock:
            job = ExportJob(next(self._ids), spec, self.job_duration)
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
            return json_response(job.info())

    async def _transition(self, call: Call, change: Callable[[ExportJob], None]) -> Response:
        with self._lock:
            job = self._job(call)
            if job.status in ("COMPLETED", "CANCELED"):
                raise ApiError(400, f"job {job.id} is {job.status.lower()}")
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
                raise ApiError(400, f"job {job.id} is in progress and cannot be deleted")
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
        raise ApiError(400, f"job(s) not deleted: {', '.join(undeleted)}")

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
            items = [
                {
                    "name": name,
                    "size": len(job.content()),
                    "jobTitle": str(job.spec.get("title", "")),
                    "historyId": job.id,
                    "createdDate": _iso(job.created),
                }
                for name, job in self._files().items()
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
            job = self._files().get(call.params["filename"])
        if job is None:
            raise ApiError(404, f"file {call.params['filename']} not found")
        return Response(job.content(), media_type="application/octet-stream")

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
