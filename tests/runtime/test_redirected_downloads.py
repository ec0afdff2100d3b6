"""A file download answered 303 (as UDM and Cloud Data Download document) is followed, and the storage
it leads to sees none of our credentials. Two real servers on loopback: the API and a storage host
of another origin (``localhost`` against ``127.0.0.1``)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from genesys_cx import AsyncGenesys, Genesys, download
from genesys_cx._serve import serve

CONTENT = b"id,state\n1,done\n" * 1000
CREDENTIALS = ("x-api-key", "x-ccid", "authorization", "x-hub-signature", "cookie")


class Storage:
    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def blob(self, request: Request) -> Response:
        self.seen.append(dict(request.headers))
        return Response(CONTENT, media_type="text/csv")


@pytest.fixture
def servers() -> Iterator[tuple[str, Storage, list[dict[str, str]]]]:
    storage = Storage()
    api_seen: list[dict[str, str]] = []
    with serve(Starlette(routes=[Route("/blob/{name}", storage.blob)])) as store:
        store_url = store.url.replace("127.0.0.1", "localhost")  # the same server, another origin

        async def file(request: Request) -> Response:
            api_seen.append(dict(request.headers))
            return RedirectResponse(f"{store_url}/blob/{request.path_params['name']}?X-Amz-Signature=s1", 303)

        with serve(Starlette(routes=[Route("/udm/v3/files/{name}", file)])) as api:
            yield api.url, storage, api_seen


def _client(url: str) -> Genesys:
    return Genesys(base_url=url, api_key="key-9f31", ccid="ccid-4e1a", channel_secrets={"c": "sec-77d2"})


def _assert_credentials_stayed_home(storage: Storage, api_seen: list[dict[str, str]]) -> None:
    assert api_seen and all(h["x-api-key"] == "key-9f31" for h in api_seen)  # the API gets them
    assert storage.seen, "the redirect was not followed"
    for headers in storage.seen:
        leaked = {name: headers[name] for name in CREDENTIALS if name in headers}
        assert not leaked, f"the storage host received {leaked}"


def test_the_plain_method_follows_the_303_and_the_storage_sees_no_credentials(
    servers: tuple[str, Storage, list[dict[str, str]]],
) -> None:
    url, storage, api_seen = servers
    with _client(url) as genesys:
        answer = genesys.udm.download_file_v3("export-1.csv")
    assert isinstance(answer.payload, io.BytesIO) and answer.payload.getvalue() == CONTENT
    _assert_credentials_stayed_home(storage, api_seen)


def test_the_streamed_download_follows_it_too(
    servers: tuple[str, Storage, list[dict[str, str]]], tmp_path: Path
) -> None:
    url, storage, api_seen = servers
    with _client(url) as genesys:
        done = download(genesys.udm.download_file_v3_stream("export-1.csv"), tmp_path / "export-1.csv")
    assert done.size == len(CONTENT) and (tmp_path / "export-1.csv").read_bytes() == CONTENT
    _assert_credentials_stayed_home(storage, api_seen)


async def test_async_as_well(servers: tuple[str, Storage, list[dict[str, str]]]) -> None:
    url, storage, api_seen = servers
    async with AsyncGenesys(base_url=url, api_key="key-9f31", ccid="ccid-4e1a") as genesys:
        answer = await genesys.udm.download_file_v3("export-1.csv")
    assert answer.payload.read() == CONTENT
    _assert_credentials_stayed_home(storage, api_seen)
