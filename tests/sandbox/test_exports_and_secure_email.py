"""UDM / Cloud Data Download export jobs that progress, and the Secure Email mailbox."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    SandboxConfig,
)

from .conftest import SandboxFactory

JOB = {
    "source": "UCS",
    "type": "interactions",
    "title": "Q1",
    "timeFrame": {"all": True},
    "schedulerParam": {"immediately": True},
    "jobParams": {"type": "email", "media": ["email"]},
    "suspended": False,
}


@pytest.fixture
def udm(make_sandbox: SandboxFactory) -> Iterator[httpx.Client]:
    sb = make_sandbox(SandboxConfig(export_job_duration=0.6))
    with httpx.Client(base_url=sb.url, headers={"x-api-key": DEMO_API_KEY}, timeout=10) as client:
        token = client.post(
            "/auth/v3/oauth/token",
            auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            data={"grant_type": "password", "username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _wait_for(client: httpx.Client, path: str, status: str, timeout: float = 10) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        progress = client.get(path).json()
        if progress["status"] == status or time.monotonic() > deadline:
            return dict(progress)
        time.sleep(0.05)


def test_v10_job_progresses_suspends_resumes_and_produces_a_file(udm: httpx.Client) -> None:
    created = udm.post("/udm/v10/export/jobs", json=JOB)
    assert created.status_code == 202
    job = created.json()
    assert job["status"] == "IN_PROGRESS" and 0 <= job["progress"] < 100

    suspended = udm.post(f"/udm/v10/export/jobs/suspend/{job['id']}").json()
    time.sleep(0.8)  # longer than the whole job: a suspended job does not progress
    progress = udm.get(f"/udm/v10/export/history/{job['id']}/progress").json()
    assert progress == {"progress": suspended["progress"], "status": "SUSPENDED"}

    assert udm.post(f"/udm/v10/export/jobs/resume/{job['id']}").json()["status"] == "IN_PROGRESS"
    done = _wait_for(udm, f"/udm/v10/export/history/{job['id']}/progress", "COMPLETED")
    assert done == {"progress": 100, "status": "COMPLETED"}

    record = udm.get(f"/udm/v10/export/history/{job['id']}").json()
    link = udm.get("/udm/v10/files", params={"filename": record["fileName"]}).json()
    content = udm.get(link["path"])
    assert content.status_code == 200 and b"Q1" in content.content
    assert len(content.content) == record["fileSize"]
    assert udm.post(f"/udm/v10/export/jobs/cancel/{job['id']}").status_code == 400  # finished jobs stay finished

    assert udm.delete(f"/udm/v10/files/{record['fileName']}").status_code == 204
    assert udm.get(f"/udm/v10/files/{record['fileName']}").status_code == 404


def test_jobs_can_start_suspended_be_cancelled_and_deleted(udm: httpx.Client) -> None:
    job = udm.post("/udm/v4/export/jobs", json={**JOB, "suspended": True}).json()
    assert job["status"] == "SUSPENDED"
    assert udm.get(f"/udm/v4/export/jobs/{job['id']}").json()["title"] == "Q1"  # v4 answers the saved job
    assert udm.post(f"/udm/v4/export/jobs/cancel/{job['id']}").status_code == 200
    assert udm.get(f"/udm/v4/export/history/{job['id']}/progress").json()["status"] == "CANCELED"
    assert udm.delete(f"/udm/v4/export/jobs/{job['id']}").status_code == 204
    assert udm.get(f"/udm/v4/export/jobs/{job['id']}").status_code == 404


def test_a_running_job_cannot_be_deleted(udm: httpx.Client) -> None:
    long_job = udm.post("/udm/v10/export/jobs", json=JOB).json()
    refused = udm.delete(f"/udm/v10/export/jobs/{long_job['id']}")
    assert refused.status_code in (204, 400)  # 400 unless it already finished
    if refused.status_code == 400:
        assert "in progress" in refused.json()["status"]["message"]


def test_udm_v10_requires_a_bearer_token(udm: httpx.Client) -> None:
    answer = udm.get("/udm/v10/export/jobs", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401


def test_udm_invalid_job_is_400(udm: httpx.Client) -> None:
    answer = udm.post("/udm/v10/export/jobs", json={**JOB, "jobParams": {"type": "email"}})
    assert answer.status_code == 400 and "media" in answer.json()["status"]["message"]


def test_an_empty_query_value_is_judged_by_the_parameter_schema(udm: httpx.Client) -> None:
    # `?name=` is the empty string: valid for a string parameter, not for an integer or a boolean
    assert udm.get("/udm/v10/export/jobs", params={"title": "", "type": ""}).status_code in (200, 204)
    assert udm.get("/data-download/v3/data/types", params={"source": ""}).status_code in (200, 204)
    for name in ("from", "descAsc"):
        refused = udm.get("/udm/v10/export/jobs", params={name: ""})
        assert refused.status_code == 400 and name in refused.json()["status"]["message"]


def test_data_download_job_flow(udm: httpx.Client) -> None:
    job = udm.post("/data-download/v4/export/jobs", json={**JOB, "suspended": "false"}).json()
    done = _wait_for(udm, f"/data-download/v4/export/history/{job['id']}/progress", "COMPLETED")
    assert done["progress"] == 100
    files = udm.get("/data-download/v3/file-metadatas").json()
    assert files["count"] == 1 and files["items"][0]["historyId"] == job["id"]


def test_secure_email_mailbox(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox()
    with httpx.Client(base_url=sb.base_url("secure_email"), headers={"x-api-key": DEMO_API_KEY}, timeout=10) as c:
        sent = c.post(
            "/securemail",
            params={"securebox": "box1"},
            json={"operationId": "op-1", "data": {"address": "jo@mail.com", "subject": "Hi", "userData": {"k": "v"}}},
        )
        assert sent.status_code == 200 and sent.json()["operationId"] == "op-1"
        mail_id = sent.json()["secureMailId"]
        count = c.get("/securemail/count", params={"address": "jo@mail.com", "status": "unread"}).json()
        assert count["data"] == {"count": 1}
        assert c.get(f"/securemail/{mail_id}", params={"read": "true"}).json()["secureMail"]["subject"] == "Hi"
        assert c.get("/securemail/count", params={"address": "jo@mail.com", "status": "unread"}).json()["data"] == {
            "count": 0
        }
        assert c.get(f"/securemail/{mail_id}/userdata").json()["data"] == {"k": "v"}
        listed = c.get("/securemail", params={"address": "jo@mail.com"}).json()["data"]
        assert [m["id"] for m in listed] == [mail_id]
        assert c.delete(f"/securemail/{mail_id}", params={"remove": "purge"}).status_code == 200
        assert c.delete(f"/securemail/{mail_id}").status_code == 404
        assert c.get("/securemail", params={"address": "jo@mail.com"}).json()["data"] == []
        assert c.get("/securemail", params={"securebox": "x"}).status_code == 400  # address is required
