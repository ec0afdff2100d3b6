"""Export jobs to completion against the sandbox, for every API version, sync and async."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from genesys_cx import AsyncGenesys, Genesys
from genesys_cx._export_jobs import JobStatus, Version
from genesys_cx.errors import ExportFailed, ExportTimeout
from genesys_cx.sandbox import Sandbox
from genesys_cx.sandbox._faults import Fault

from .conftest import JOB, expected_sha256

VERSIONS: list[Version] = ["v10", "v4", "data_download"]
_API = {"v10": "udm", "v4": "udm", "data_download": "data_download"}


def _job(version: Version, **changes: Any) -> dict[str, Any]:
    """``JOB`` as *version* types it: the Cloud Data Download model has ``suspended`` as a string."""
    job = {**JOB, **changes}
    if version == "data_download":
        job["suspended"] = str(job["suspended"]).lower()
    return job


def _check_files(sb: Sandbox, version: Version, paths: list[Path]) -> None:
    assert paths and all(p.is_file() for p in paths)
    assert not list(paths[0].parent.glob("*.part"))
    for path in paths:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == expected_sha256(sb, path.name, _API[version])


@pytest.mark.parametrize("version", VERSIONS)
def test_a_job_runs_to_completion_and_its_files_are_downloaded(
    sandbox: Sandbox, genesys: Genesys, tmp_path: Path, version: Version
) -> None:
    seen: list[JobStatus] = []

    paths = genesys.exports.version(version).run(_job(version), tmp_path, timeout=30, on_status=seen.append)

    assert [p.name for p in paths] == ["export-1.csv"]
    _check_files(sandbox, version, paths)
    assert seen[-1].done and seen[-1].progress == 100


@pytest.mark.parametrize("version", VERSIONS)
async def test_async_a_split_job_downloads_every_part_concurrently(
    sandbox: Sandbox, agenesys: AsyncGenesys, tmp_path: Path, version: Version
) -> None:
    job = _job(version, jobParams={**JOB["jobParams"], "fileSplitSize": "1M"})

    paths = await agenesys.exports.version(version).run(job, tmp_path, timeout=30, concurrency=2)

    assert [p.name for p in paths] == [f"export-1-{n:04d}.csv" for n in range(1, 5)]  # 3 MiB + 17 bytes
    assert sum(p.stat().st_size for p in paths) == 3 * 1024 * 1024 + 17
    _check_files(sandbox, version, paths)


def test_running_again_skips_the_files_already_complete(sandbox: Sandbox, genesys: Genesys, tmp_path: Path) -> None:
    job = {**JOB, "jobParams": {**JOB["jobParams"], "fileSplitSize": "2M"}}
    exports = genesys.exports
    job_id = exports.create(job)
    first = exports.run(job_id, tmp_path, timeout=30)
    stamps = [p.stat().st_mtime_ns for p in first]
    sandbox.state.faults.add(Fault(match="download_file_v10", status=500))  # any download now fails

    again = exports.run(job_id, tmp_path, timeout=30)

    assert again == first and [p.stat().st_mtime_ns for p in again] == stamps


def test_a_cancelled_job_is_a_typed_error(sandbox: Sandbox, genesys: Genesys, tmp_path: Path) -> None:
    exports = genesys.exports
    job_id = exports.create({**JOB, "suspended": True})
    genesys.udm.cancel_export_job_v10(str(job_id))

    with pytest.raises(ExportFailed) as failed:
        exports.run(job_id, tmp_path, timeout=30)

    assert failed.value.job_id == job_id and failed.value.job_status == "CANCELED"
    assert list(tmp_path.iterdir()) == []


async def test_async_a_job_that_does_not_finish_in_time_is_a_timeout(sandbox: Sandbox, agenesys: AsyncGenesys) -> None:
    exports = agenesys.exports.version("data_download")
    job_id = await exports.create(_job("data_download", suspended=True))

    with pytest.raises(ExportTimeout) as late:
        await exports.wait(job_id, timeout=0.3)

    assert late.value.job_id == job_id and late.value.progress == 0
