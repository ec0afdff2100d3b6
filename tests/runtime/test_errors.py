"""Every HTTP answer becomes a result or a typed, readable GenesysError that keeps the raw response."""

from __future__ import annotations

import logging
import traceback
from typing import cast

import httpx
import pytest
from genesys_cx_api.messaging.api import MessagingApi
from genesys_cx_api.messaging.models.send_messages_request import SendMessagesRequest
from genesys_cx_api.secure_email.api import SecureEmailApi
from genesys_cx_api.statistics.api import AsyncStatisticsApi, StatisticsApi
from genesys_cx_api.statistics.models.peeked_statistic_response import PeekedStatisticResponse
from hypothesis import given
from hypothesis import strategies as st

from genesys_cx import errors
from genesys_cx._redact import register_secret
from genesys_cx._response import error_for_response, handle_response
from genesys_cx._retry import RetryPolicy
from genesys_cx._serve import serve
from genesys_cx._transport import AsyncTracingTransport, RetryTransport, TracingTransport
from genesys_cx.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    GenesysError,
    InvalidResponse,
    NotFound,
    PartialSuccess,
    RateLimited,
    ServerError,
    Timeout,
    TransportError,
    Unauthorized,
    UnexpectedStatus,
    UnsupportedMediaType,
)

from ._core_helpers import Answer, Scripted, dead_port, isolated_secrets

TRACE = "5767ea58a1b2c3d4e5f60718293a4b5c"
STATISTIC = {"statistic": {"name": "TimeInCurrentState", "objectId": "agent1", "objectType": "Agent", "value": {}}}


def _get(app: Scripted, path: str = "/x", **kwargs: object) -> httpx.Response:
    with serve(app.app) as server, httpx.Client(base_url=server.url) as client:
        return client.get(path, headers={"X-B3-TraceId": TRACE}, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (415, UnsupportedMediaType),
        (429, RateLimited),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
        (418, UnexpectedStatus),
        (422, UnexpectedStatus),
        (302, UnexpectedStatus),
        (299, UnexpectedStatus),
    ],
)
def test_each_status_maps_to_its_type_with_the_envelope(status: int, kind: type[ApiError]) -> None:
    app = Scripted(Answer(status, {"status": {"code": status, "message": "went wrong", "detail": {"ConfCode": 7}}}))
    response = _get(app)
    error = error_for_response(response, "some_operation")
    assert type(error) is kind
    assert isinstance(error, ApiError) and isinstance(error, GenesysError)
    assert (error.status, error.code, error.message) == (status, status, "went wrong")
    assert error.detail == {"ConfCode": 7}
    assert error.trace_id == TRACE and error.operation == "some_operation"
    assert error.response is response


def test_message_is_readable_and_the_response_stays_out_of_it() -> None:
    app = Scripted(Answer(404, {"status": {"code": 404, "message": "channel not found"}}))
    error = error_for_response(_get(app), "send_message")
    assert str(error) == "send_message -> 404: channel not found (code 404, trace 5767ea58...)"
    assert "Response" not in repr(error) and "5767ea58" in repr(error)


def test_a_traceback_names_the_error_class_once() -> None:
    app = Scripted(Answer(404, {"status": {"code": 404, "message": "channel not found"}}))
    error = error_for_response(_get(app), "send_message")
    last_line = traceback.format_exception(error)[-1]
    assert (
        last_line
        == "genesys_cx.errors.NotFound: send_message -> 404: channel not found (code 404, trace 5767ea58...)\n"
    )


def test_generated_client_raises_typed_errors_end_to_end() -> None:
    app = Scripted(Answer(404, {"status": {"code": 404, "message": "channel not found"}}))
    with serve(app.app) as server:
        ambient = {"ccid": "ccid-1", "trace": TRACE}.get
        api = MessagingApi(httpx.Client(base_url=server.url), handler=handle_response, ambient=ambient)
        with pytest.raises(NotFound) as caught:
            api.send_message("chan-1", body=SendMessagesRequest(messages=[]))
    assert caught.value.operation == "send_message" and caught.value.trace_id == TRACE
    assert app.seen[0].path == "/channels/chan-1/messages"


def test_a_body_that_is_not_json_still_gives_a_typed_error() -> None:
    html = b"<html><body>502 Bad Gateway</body></html>"
    error = error_for_response(_get(Scripted(Answer(502, body=html, headers={"content-type": "text/html"}))), None)
    assert isinstance(error, ServerError)
    assert error.message == "Bad Gateway" and error.code is None
    assert error.detail == html.decode()
    assert error.response is not None and error.response.content == html


def test_an_empty_body_and_a_status_without_a_reason_phrase() -> None:
    error = error_for_response(_get(Scripted(Answer(599))), "op")
    assert isinstance(error, ServerError) and error.message == "unknown status" and error.detail is None


def test_secure_email_string_codes_are_kept() -> None:
    envelope = {
        "referenceId": "r1",
        "operationId": "o1",
        "status": {"code": "INVALID_PARAMETER", "message": "bad id", "detail": "id is empty"},
    }
    app = Scripted(Answer(400, envelope))
    with serve(app.app) as server:
        api = SecureEmailApi(httpx.Client(base_url=server.url), handler=handle_response)
        with pytest.raises(BadRequest) as caught:
            api.get_secure_email("mail-1")
    assert caught.value.code == "INVALID_PARAMETER"
    assert caught.value.message == "bad id" and caught.value.detail == "id is empty"
    assert "(code INVALID_PARAMETER" in str(caught.value)


def test_gateway_and_oauth2_bodies() -> None:
    forbidden = error_for_response(_get(Scripted(Answer(403, {"message": "Forbidden"}))), None)
    assert isinstance(forbidden, Forbidden) and forbidden.message == "Forbidden"
    oauth = error_for_response(
        _get(Scripted(Answer(400, {"error": "invalid_grant", "error_description": "Bad credentials"}))),
        "retrieve_token",
    )
    assert isinstance(oauth, BadRequest)
    assert (oauth.code, oauth.message) == ("invalid_grant", "Bad credentials")


def test_rate_limited_carries_retry_after() -> None:
    slow_down = Answer(429, {"message": "slow down"}, headers={"Retry-After": "7"})
    error = error_for_response(_get(Scripted(slow_down)), None)
    assert isinstance(error, RateLimited) and error.retry_after == 7.0
    error = error_for_response(_get(Scripted(Answer(429))), None)
    assert isinstance(error, RateLimited) and error.retry_after is None


def test_code_2_raises_partial_success_with_the_data_and_the_failures() -> None:
    envelope = {
        "status": {"code": 2, "message": "some failed"},
        "data": STATISTIC,
        "errors": [{"status": {"code": 404, "message": "no such agent"}}],
    }
    app = Scripted(Answer(200, envelope))
    with serve(app.app) as server:
        api = StatisticsApi(httpx.Client(base_url=server.url), handler=handle_response)
        with pytest.raises(PartialSuccess) as caught:
            api.get_statistic_value("TimeInCurrentState", object_id="agent1", object_type="Agent")
    error = caught.value
    assert error.code == 2 and error.status == 200 and error.message == "some failed"
    result = cast(PeekedStatisticResponse, error.result)
    assert result.data.statistic.object_id == "agent1"  # type: ignore[union-attr]
    assert len(error.errors) == 1 and error.errors[0].status.message == "no such agent"


def test_code_1_is_returned_and_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    app = Scripted(Answer(200, {"status": {"code": 1}, "data": STATISTIC}))
    with serve(app.app) as server, caplog.at_level(logging.INFO, logger="genesys_cx"):
        api = StatisticsApi(httpx.Client(base_url=server.url), handler=handle_response)
        result = api.get_statistic_value("TimeInCurrentState", object_id="agent1", object_type="Agent")
    assert result.status.code == 1
    assert any("accepted (code 1)" in record.getMessage() for record in caplog.records)


async def test_async_client_uses_the_same_handler() -> None:
    app = Scripted(Answer(503, {"status": {"code": 503, "message": "try later"}}))
    with serve(app.app) as server:
        api = AsyncStatisticsApi(httpx.AsyncClient(base_url=server.url), handler=handle_response)
        with pytest.raises(ServerError, match="try later"):
            await api.get_statistic_value("S", object_id="a", object_type="Agent")


@pytest.mark.parametrize(
    "answer",
    [
        Answer(200, body=b'{"status": {"code": 0', headers={"content-type": "application/json"}),
        Answer(200, {"data": {"statistic": "not an object"}}),
    ],
    ids=["malformed-json", "wrong-shape"],
)
def test_a_2xx_that_does_not_parse_is_invalid_response_with_the_body_kept(answer: Answer) -> None:
    app = Scripted(answer)
    with serve(app.app) as server:
        api = StatisticsApi(httpx.Client(base_url=server.url), handler=handle_response)
        with pytest.raises(InvalidResponse) as caught:
            api.get_statistic_value("S", object_id="a", object_type="Agent")
    assert caught.value.operation == "get_statistic_value" and caught.value.status == 200
    assert caught.value.body == caught.value.response.content != b""  # type: ignore[union-attr]
    assert caught.value.__cause__ is not None


def test_a_secret_echoed_by_the_server_is_not_in_the_message() -> None:
    with isolated_secrets():
        register_secret("tok-very-secret-123")
        app = Scripted(Answer(401, {"status": {"code": 401, "message": "token tok-very-secret-123 expired"}}))
        error = error_for_response(_get(app), "op")
        assert "tok-very-secret-123" not in str(error) and "tok-very-secret-123" not in repr(error)
        assert "token *** expired" in str(error)


def test_connection_refused_becomes_transport_error_with_the_trace_id() -> None:
    transport = TracingTransport(RetryTransport(httpx.HTTPTransport(), RetryPolicy.off()))
    with httpx.Client(transport=transport) as client, pytest.raises(TransportError) as caught:
        client.get(f"http://127.0.0.1:{dead_port()}/x")
    assert not isinstance(caught.value, Timeout)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.trace_id is not None and len(caught.value.trace_id) == 32
    assert caught.value.status is None


async def test_read_timeout_becomes_timeout() -> None:
    app = Scripted(Answer(200, {"ok": True}, delay=1.0))
    with serve(app.app) as server:
        transport = AsyncTracingTransport(httpx.AsyncHTTPTransport())
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, read=0.05)) as client:
            with pytest.raises(Timeout) as caught:
                await client.get(server.url + "/slow")
    assert isinstance(caught.value, TransportError) and isinstance(caught.value.__cause__, httpx.ReadTimeout)


@given(
    status=st.integers(min_value=100, max_value=999),
    body=st.one_of(st.binary(max_size=200), st.from_type(object).map(repr).map(str.encode)),
    json_body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=10,
    ),
)
def test_any_status_and_body_map_to_a_genesys_error(status: int, body: bytes, json_body: object) -> None:
    for response in (
        httpx.Response(status, content=body),
        httpx.Response(status, json=json_body),
        httpx.Response(status, json={"status": json_body, "error": json_body, "message": json_body}),
    ):
        error = error_for_response(response, "op")
        assert isinstance(error, ApiError)
        assert isinstance(error.message, str) and error.message
        assert isinstance(error.code, (int, str)) or error.code is None
        assert str(error) and repr(error)  # rendering must not raise either


@given(status=st.integers(min_value=100, max_value=999))
def test_handle_response_returns_only_for_2xx(status: int) -> None:
    response = httpx.Response(status, json={"status": {"code": 0}})
    if 200 <= status < 300:
        assert handle_response(response, lambda: "parsed", "op") == "parsed"
    else:
        with pytest.raises(ApiError):
            handle_response(response, lambda: "parsed", "op")


def test_the_module_exports_what_it_documents() -> None:
    assert set(errors.__all__) <= set(dir(errors))
