"""One measured transfer in its own process (its peak RSS is the transfer's): ``python -m bench._transfer_worker``.

Arguments: ``sdk|raw|upload URL NAME OUT [SIZE CHECKSUM]``; prints one JSON line: seconds, peak RSS
(KiB), and, for ``sdk``, what the SDK reported plus the response bytes an independent counting
transport saw (so "bytes fetched again" is not the SDK's own word).

* ``sdk``: ``genesys.exports.download_file`` (streamed, atomic, checksum verified) of file NAME.
* ``raw``: httpx streaming the same URL into a file (``iter_bytes``), no verification: the baseline.
* ``upload``: ``genesys.messaging.upload_media`` of the file NAME (the sandbox checks the signature).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import httpx


class _Counting(httpx.HTTPTransport):
    """An httpx transport that counts the body bytes of the file downloads (``/files/``) it hands out."""

    received = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if "/files/" not in request.url.path:
            return response
        inner = response.stream

        class Counted(httpx.SyncByteStream):
            def __iter__(self) -> Any:
                for chunk in inner:  # type: ignore[union-attr]
                    _Counting.received += len(chunk)
                    yield chunk

            def close(self) -> None:
                inner.close()  # type: ignore[union-attr]

        response.stream = Counted()
        return response


def _settings(url: str) -> Any:
    from genesys_cx import Settings
    from genesys_cx.credentials import OAuth2Credentials
    from genesys_cx.sandbox import (
        DEMO_API_KEY,
        DEMO_CCID,
        DEMO_CHANNEL_ID,
        DEMO_CHANNEL_SECRET,
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        DEMO_PASSWORD,
        DEMO_USERNAME,
    )

    return Settings(
        base_url=url,
        api_key=DEMO_API_KEY,
        ccid=DEMO_CCID,
        channel_secrets={DEMO_CHANNEL_ID: DEMO_CHANNEL_SECRET},
        oauth=OAuth2Credentials(
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            grant_type="password",
            username=DEMO_USERNAME,
            password=DEMO_PASSWORD,
        ),
    )


def _sdk(url: str, name: str, out: Path, size: int, checksum: str) -> dict[str, Any]:
    from genesys_cx import Genesys
    from genesys_cx._export_jobs import ExportFile

    with Genesys(_settings(url), transport=_Counting()) as genesys:
        genesys.udm.get_version_v10()  # token, connection, imports: not part of the transfer
        exports = genesys.exports
        exports._stream(ExportFile(name))
        started = time.perf_counter()
        done = exports.download_file(ExportFile(name, size, checksum), out)
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "size": done.size,
        "received": done.received,
        "wire_bytes": _Counting.received,
        "resumed_from": list(done.resumed_from),
        "checksum": done.checksum,
    }


def _raw(url: str, name: str, out: Path) -> dict[str, Any]:
    from genesys_cx.sandbox import DEMO_API_KEY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_USERNAME

    with httpx.Client(base_url=url, headers={"x-api-key": DEMO_API_KEY}, timeout=60) as client:
        token = client.post(
            "/auth/v3/oauth/token",
            auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            data={"grant_type": "password", "username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        client.get("/udm/v10/version", headers=headers)
        started = time.perf_counter()
        size = 0
        with client.stream("GET", f"/udm/v10/files/{name}", headers=headers) as response, out.open("wb") as sink:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                sink.write(chunk)
                size += len(chunk)
        return {"seconds": time.perf_counter() - started, "size": size}


def _upload(url: str, name: str) -> dict[str, Any]:
    from genesys_cx_api.messaging.models import UploadMediaRequest
    from genesys_cx_api.types import File

    from genesys_cx import Genesys
    from genesys_cx.sandbox import DEMO_CHANNEL_ID

    path = Path(name)
    with Genesys(_settings(url)) as genesys, path.open("rb") as handle:
        started = time.perf_counter()
        body = UploadMediaRequest(file=File(payload=handle, file_name=path.name, mime_type="application/octet-stream"))
        answer = genesys.messaging.upload_media(DEMO_CHANNEL_ID, body=body)
        seconds = time.perf_counter() - started
    length = answer.data.length if answer.data is not None else None
    return {"seconds": seconds, "accepted_length": length, "status": "signature verified (200)"}


def main(argv: list[str]) -> None:
    kind, url, name = argv[:3]
    if kind == "sdk":
        result = _sdk(url, name, Path(argv[3]), int(argv[4]), argv[5])
    elif kind == "raw":
        result = _raw(url, name, Path(argv[3]))
    elif kind == "upload":
        result = _upload(url, name)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    result["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
