"""Streamed downloads over real sockets against the sandbox: verification, atomic writes, resume."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from genesys_cx_api._runtime import Stream
from genesys_cx_api.types import Unset
from genesys_cx_api.udm.models import Job

from genesys_cx import AsyncGenesys, Genesys
from genesys_cx._transfer import Progress, adownload, download, part_path
from genesys_cx.errors import CorruptDownload, DownloadInterrupted, NotFound
from genesys_cx.sandbox import Sandbox
from genesys_cx.sandbox._faults import Fault

from .conftest import JOB, expected_sha256, wait_until


def _finished_file(sb: Sandbox, genesys: Genesys, **job: Any) -> dict[str, Any]:
    created = genesys.udm.create_export_job_v10(body=Job.from_dict({**JOB, **job}))
    wait_until(lambda: genesys.udm.get_export_history_progress_v10(str(created.id)).status == "COMPLETED")
    page = genesys.udm.get_file_metadatas_v10(history_id=str(created.id))
    assert not isinstance(page.items, Unset)
    items: list[dict[str, Any]] = [item.additional_properties for item in page.items]
    assert len(items) == 1
    return items[0]


def _opener(genesys: Genesys, name: str) -> Stream:
    return genesys.udm.download_file_v10_stream(name)  # the generated streamed variant


def test_a_file_is_streamed_to_its_path_verified_and_renamed(
    sandbox: Sandbox, genesys: Genesys, tmp_path: Path
) -> None:
    meta = _finished_file(sandbox, genesys)
    seen: list[Progress] = []
    target = tmp_path / meta["name"]

    done = download(
        _opener(genesys, meta["name"]),
        target,
        expected_size=meta["size"],
        checksum="sha256:" + meta["sha256"],
        progress=seen.append,
    )

    assert done.path == target and done.size == meta["size"] == 3 * 1024 * 1024 + 17
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected_sha256(sandbox, meta["name"])
    assert done.checksum == "sha256:" + meta["sha256"] and done.received == done.size
    assert not part_path(target).exists()
    assert seen[-1] == Progress(meta["name"], meta["size"], meta["size"]) and len(seen) > 3
    assert [p.done for p in seen] == sorted(p.done for p in seen)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names open files through /proc (Linux)")
def test_the_file_is_on_disk_before_it_gets_its_name_and_the_rename_is_synced(
    sandbox: Sandbox, genesys: Genesys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = _finished_file(sandbox, genesys)
    target = tmp_path / meta["name"]
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source: Any, destination: Any) -> None:
        events.append(("replace", os.fspath(destination)))
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    download(_opener(genesys, meta["name"]), target, expected_size=meta["size"])

    assert events == [("fsync", str(part_path(target))), ("replace", str(target)), ("fsync", str(tmp_path))]


def test_a_connection_dropped_mid_file_resumes_with_range_and_fetches_nothing_twice(
    sandbox: Sandbox, genesys: Genesys, tmp_path: Path
) -> None:
    meta = _finished_file(sandbox, genesys)
    half = meta["size"] // 2 + 3
    sandbox.state.faults.add(Fault(match="download_file_v10", drop_after=half, times=1))

    done = download(_opener(genesys, meta["name"]), tmp_path / "f.csv", checksum="sha256:" + meta["sha256"])

    assert done.resumed_from == (half,)
    assert done.received == meta["size"]  # the bytes before the drop were kept, none fetched again
    assert hashlib.sha256((tmp_path / "f.csv").read_bytes()).hexdigest() == expected_sha256(sandbox, meta["name"])


def test_a_failed_download_leaves_no_file_under_its_name_and_the_next_run_resumes(
    sandbox: Sandbox, genesys: Genesys, tmp_path: Path
) -> None:
    meta = _finished_file(sandbox, genesys)
    sandbox.state.faults.add(Fault(match="download_file_v10", drop_after=1_000_000, times=1))
    sandbox.state.faults.add(Fault(match="download_file_v10", drop=True))  # then no answer at all
    target = tmp_path / meta["name"]

    with pytest.raises(DownloadInterrupted) as failed:
        download(_opener(genesys, meta["name"]), target, attempts=2, backoff=0)

    assert "run it again" in str(failed.value)
    assert not target.exists()
    assert part_path(target).stat().st_size == 1_000_000
    sandbox.state.faults.clear()

    done = download(_opener(genesys, meta["name"]), target, checksum="sha256:" + meta["sha256"])
    assert done.resumed_from == (1_000_000,) and done.received == meta["size"] - 1_000_000
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected_sha256(sandbox, meta["name"])


def test_a_server_ignoring_range_is_downloaded_again_from_byte_zero(
    sandbox: Sandbox, genesys: Genesys, tmp_path: Path
) -> None:
    meta = _finished_file(sandbox, genesys)
    target = tmp_path / "f.csv"
    part_path(target).write_bytes(b"garbage that is not the start of the file")
    stream = genesys.udm.download_file_v10_stream(meta["name"])

    @contextlib.contextmanager
    def without_range(headers: Mapping[str, str]) -> Iterator[httpx.Response]:
        assert "Range" in headers or not part_path(target).stat().st_size
        plain = {k: v for k, v in headers.items() if k not in ("Range", "If-Range")}
        with stream.open(plain) as response:
            yield response

    done = download(without_range, target, expected_size=meta["size"], checksum="sha256:" + meta["sha256"])

    assert done.resumed_from == () and done.received == meta["size"]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == meta["sha256"]


def test_a_resumed_file_that_fails_its_checksum_is_fetched_once_more_whole(
    sandbox: Sandbox, genesys: Genesys, tmp_path: Path
) -> None:
    meta = _finished_file(sandbox, genesys)
    target = tmp_path / "f.csv"
    part_path(target).write_bytes(b"X" * 1000)  # a prefix from "another" file: Range cannot know

    done = download(_opener(genesys, meta["name"]), target, checksum="sha256:" + meta["sha256"])

    assert done.resumed_from == () and done.received == meta["size"] + meta["size"] - 1000
    assert hashlib.sha256(target.read_bytes()).hexdigest() == meta["sha256"]


def test_a_wrong_checksum_or_size_is_refused_and_nothing_is_published(
    sandbox: Sandbox, genesys: Genesys, tmp_path: Path
) -> None:
    meta = _finished_file(sandbox, genesys)
    with pytest.raises(CorruptDownload, match="sha256"):
        download(_opener(genesys, meta["name"]), tmp_path / "a", checksum="sha256:" + "0" * 64)
    assert not (tmp_path / "a").exists()
    with pytest.raises(CorruptDownload, match="announces"):
        download(_opener(genesys, meta["name"]), tmp_path / "b", expected_size=meta["size"] + 1)
    assert not (tmp_path / "b").exists()


def test_a_complete_part_file_is_finished_by_the_416_answer(sandbox: Sandbox, genesys: Genesys, tmp_path: Path) -> None:
    meta = _finished_file(sandbox, genesys)
    target = tmp_path / "f.csv"
    first = download(_opener(genesys, meta["name"]), target)
    target.rename(part_path(target))  # as if the rename had not happened yet

    again = download(_opener(genesys, meta["name"]), target, checksum="sha256:" + meta["sha256"])

    assert again.received == 0 and again.size == first.size and target.exists()


def test_a_file_object_receives_the_bytes_and_an_api_error_stays_typed(sandbox: Sandbox, genesys: Genesys) -> None:
    meta = _finished_file(sandbox, genesys)
    sandbox.state.faults.add(Fault(match="download_file_v10", drop_after=123_456, times=1))
    sink = io.BytesIO()

    done = download(_opener(genesys, meta["name"]), sink)

    assert done.path is None and done.resumed_from == (123_456,)
    assert hashlib.sha256(sink.getvalue()).hexdigest() == meta["sha256"]
    with pytest.raises(NotFound):
        download(_opener(genesys, "no-such-file.csv"), io.BytesIO())


async def test_async_download_resumes_after_a_drop(sandbox: Sandbox, agenesys: AsyncGenesys, tmp_path: Path) -> None:
    with Genesys(agenesys.settings) as genesys:
        meta = _finished_file(sandbox, genesys)
    sandbox.state.faults.add(Fault(match="download_file_v10", drop_after=2_000_000, times=1))
    stream = agenesys.udm.download_file_v10_stream(meta["name"])

    done = await adownload(stream, tmp_path / "f.csv", checksum="sha256:" + meta["sha256"])

    assert done.resumed_from == (2_000_000,) and done.received == meta["size"]
    assert hashlib.sha256((tmp_path / "f.csv").read_bytes()).hexdigest() == expected_sha256(sandbox, meta["name"])
