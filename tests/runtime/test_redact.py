"""``_redact``: secrets masked wherever they appear in a record, what is not secret left readable."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from genesys_cx import _redact
from genesys_cx._redact import (
    MASK,
    get_logger,
    mask_fields,
    protect_http_loggers,
    redact,
    redact_headers,
    redact_url,
)

# what OAuth servers hand out: URL-safe characters; at least 8 of them so the value is unmistakable
secret_values = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=8)

PLACES = [
    "GET http://host/cb?code={v}&state=s",
    "Location: https://app.example/cb?state=s&code={v}",
    "https://app.example/cb#access_token={v}&token_type=bearer&state=s",
    "grant_type=refresh_token&refresh_token={v}",
    "grant_type=password&username=agent&password={v}",
    "[(b'location', b'http://x/cb?code={v}&state=s'), (b'x-ccid', b'{v}')]",
    "{{'x-ccid': '{v}', 'authorization': 'Bearer {v}'}}",
    '{{"access_token": "{v}", "client_secret": "{v}"}}',
    "(b'X-Hub-Signature', b'{v}')",
    "Authorization: Basic {v}",
]


@pytest.mark.parametrize("place", PLACES)
@given(value=secret_values)
def test_a_secret_in_any_of_its_usual_places_is_masked(place: str, value: str) -> None:
    assume(value not in place and value not in MASK)  # a value spelled by the text around it proves nothing
    text = place.format(v=value)
    assert value not in redact(text)
    assert MASK in redact(text)


@given(digest=st.text(alphabet="0123456789abcdef", min_size=40, max_size=40))
def test_hub_signatures_are_masked(digest: str) -> None:
    assert redact(f"X-Hub-Signature: sha1={digest}") == f"X-Hub-Signature: sha1={MASK}"


def test_what_is_not_secret_stays_readable() -> None:
    for text in (
        "envelope code=2 for operation sendMessages",
        "GET http://host/messages?state=abc&channelId=sms-1",
        '{"status": {"code": 404, "message": "not found"}}',
        "token_type=bearer",
    ):
        assert redact(text) == text


def test_urls_and_headers_keep_their_shape() -> None:
    assert redact_url("https://a/cb?code=abc123&state=s") == "https://a/cb?code=***&state=s"
    assert redact_url("https://a/cb#access_token=abc123&state=s") == "https://a/cb#access_token=***&state=s"
    assert redact_url("https://a/cb#section-2") == "https://a/cb#section-2"
    headers = redact_headers(
        {"Location": "https://a/cb?code=abc123&state=s", "x-ccid": "tenant-1", "Content-Type": "application/json"}
    )
    assert headers == {"Location": "https://a/cb?code=***&state=s", "x-ccid": MASK, "Content-Type": "application/json"}
    assert mask_fields({"code": 404, "contactCenterId": "tenant-1"}) == {"code": 404, "contactCenterId": MASK}
    assert mask_fields({"code": "abc", "state": "s"}, form=True) == {"code": MASK, "state": "s"}


def test_httpcore_records_are_masked_once_the_sdk_protects_them(caplog: pytest.LogCaptureFixture) -> None:
    protect_http_loggers()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpcore.http11").debug(
            "receive_response_headers.complete return_value=%r",
            (b"HTTP/1.1", 302, b"Found", [(b"location", b"http://x/cb?code=c0de-secret-1&state=s")]),
        )
        logging.getLogger("httpx").info('HTTP Request: GET http://x/cb#access_token=t0ken-secret-2 "HTTP/1.1 200 OK"')
        get_logger("webhooks").warning("headers %s", {"x-ccid": "tenant-secret-3"})
    assert caplog.records
    for value in ("c0de-secret-1", "t0ken-secret-2", "tenant-secret-3"):
        assert value not in caplog.text


def test_the_redaction_module_imports_nothing_from_the_package() -> None:
    tree = ast.parse(Path(_redact.__file__).read_text(encoding="utf-8"))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert imported and not [name for name in imported if name.startswith("genesys_cx") or name == ""]
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
