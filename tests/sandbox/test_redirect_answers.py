"""Documented redirects through ``Genesys`` / ``AsyncGenesys``: a typed answer, never followed.

``/oauth/authorize`` answers 302 to the sign-in form or to ``redirect_uri`` (with ``code``/``state``,
an implicit grant's token in the fragment, or an RFC 6749 error); ``GET /sign-out`` answers 302 to
``redirectUri``. The SDK returns the ``Location`` and what it carries (``x-sdk-redirect`` in the
spec) and sends nothing to the redirect's target: that is the user's browser's job.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import assert_type

import httpx
import pytest
from genesys_cx_api.auth.models import (
    ApiResponse,
    AuthorizationCodeTokenRequest,
    AuthorizationRedirect,
    AuthorizeResponseType,
    Redirect,
)
from genesys_cx_api.types import UNSET, Unset

from genesys_cx import AsyncGenesys, Genesys, Settings
from genesys_cx.credentials import OAuth2Credentials
from genesys_cx.errors import InvalidResponse, Unauthorized, UnexpectedStatus
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_REDIRECT_URI,
    DEMO_USERNAME,
    Sandbox,
    SandboxConfig,
)

from .conftest import SandboxFactory


def _settings(sb: Sandbox, oauth: OAuth2Credentials | None = None) -> Settings:
    oauth = oauth or OAuth2Credentials(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET)
    return Settings(base_url=sb.url, api_key=DEMO_API_KEY, oauth=oauth, timeout=10)


class _Sent(httpx.HTTPTransport):
    """A real transport that records every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[httpx.URL] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(request.url)
        return super().handle_request(request)


@pytest.fixture
def signed_in(make_sandbox: SandboxFactory) -> Sandbox:
    """A sandbox whose ``/oauth/authorize`` signs the demo user in without a form."""
    return make_sandbox(SandboxConfig(auto_login=DEMO_USERNAME))


@pytest.fixture
def genesys(signed_in: Sandbox) -> Iterator[tuple[Genesys, _Sent]]:
    sent = _Sent()
    with Genesys(_settings(signed_in), transport=sent) as client:
        yield client, sent


def test_authorization_code_flow_is_typed_and_never_follows_the_redirect(
    signed_in: Sandbox, genesys: tuple[Genesys, _Sent]
) -> None:
    client, sent = genesys
    answer = client.auth.authorize(
        client_id=DEMO_CLIENT_ID,
        redirect_uri=DEMO_REDIRECT_URI,
        response_type=AuthorizeResponseType.CODE,
        state="70db3ab252ead1dd",
    )
    assert_type(answer, AuthorizationRedirect)
    assert_type(answer.location, str)  # required: no Unset check
    assert_type(answer.code, str | Unset)  # absent on a redirect to the sign-in form
    assert sent.urls[-1].path == "/auth/v3/oauth/authorize"  # the redirect's target was not fetched
    assert answer.location.startswith(DEMO_REDIRECT_URI + "?")
    assert answer.state == "70db3ab252ead1dd" and isinstance(answer.code, str) and answer.code
    assert answer.error is UNSET and answer.access_token is UNSET and answer.additional_properties == {}

    token = client.auth.retrieve_token(
        body=AuthorizationCodeTokenRequest(code=answer.code, redirect_uri=DEMO_REDIRECT_URI)
    )
    assert signed_in.state.is_valid_token(token.access_token)


def test_implicit_grant_reads_the_fragment(signed_in: Sandbox, genesys: tuple[Genesys, _Sent]) -> None:
    client, _ = genesys
    answer = client.auth.authorize(
        client_id=DEMO_CLIENT_ID, redirect_uri=DEMO_REDIRECT_URI, response_type=AuthorizeResponseType.TOKEN
    )
    assert "#" in answer.location and answer.code is UNSET and answer.state is UNSET
    assert isinstance(answer.access_token, str) and signed_in.state.is_valid_token(answer.access_token)
    assert answer.token_type == "bearer" and isinstance(answer.expires_in, str) and int(answer.expires_in) > 0


async def test_async_genesys_answers_the_same(signed_in: Sandbox) -> None:
    async with AsyncGenesys(_settings(signed_in)) as client:
        answer = await client.auth.authorize(
            client_id=DEMO_CLIENT_ID,
            redirect_uri=DEMO_REDIRECT_URI,
            response_type=AuthorizeResponseType.CODE,
            state="s-async",
        )
    assert isinstance(answer, AuthorizationRedirect) and answer.state == "s-async" and isinstance(answer.code, str)


def test_a_refused_sign_in_is_an_error_not_a_redirect(sb: Sandbox) -> None:
    # No sign-in form in the sandbox and no auto_login: 401, a typed error as for any operation.
    with Genesys(_settings(sb)) as client, pytest.raises(Unauthorized):
        client.auth.authorize(
            client_id=DEMO_CLIENT_ID, redirect_uri=DEMO_REDIRECT_URI, response_type=AuthorizeResponseType.CODE
        )


def test_sign_out_redirect_is_typed_and_its_parameters_kept(sb: Sandbox) -> None:
    user = OAuth2Credentials(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        grant_type="password",
        username=DEMO_USERNAME,
        password=DEMO_PASSWORD,
    )
    settings = _settings(sb, user)
    with Genesys(settings) as client:
        answer = client.auth.sign_out_get(redirect_uri="https://yourapp.com/bye?lang=en")
        assert_type(answer, ApiResponse | Redirect)
        assert isinstance(answer, Redirect) and answer.location == "https://yourapp.com/bye?lang=en"
        assert answer.to_dict() == {"location": "https://yourapp.com/bye?lang=en", "lang": "en"}
    with Genesys(settings) as client:  # a new token: the last one is signed out
        assert isinstance(client.auth.sign_out_get(), ApiResponse)  # without redirectUri: the JSON answer


# -- answers the sandbox never gives: a handler unit test over a mock transport --------------------------


def _answering(response: httpx.Response) -> Genesys:
    settings = Settings(base_url="https://gapi.example", api_key="k" * 8)
    return Genesys(settings, transport=httpx.MockTransport(lambda request: response))


def test_a_documented_redirect_without_location_is_an_invalid_response() -> None:
    with _answering(httpx.Response(302, text="<html></html>")) as client, pytest.raises(InvalidResponse) as caught:
        client.auth.authorize(
            client_id="c", redirect_uri="https://a.example/cb", response_type=AuthorizeResponseType.CODE
        )
    assert caught.value.path == "Location" and caught.value.status == 302


def test_a_success_where_only_a_redirect_is_documented_is_an_invalid_response() -> None:
    with _answering(httpx.Response(200, json={})) as client, pytest.raises(InvalidResponse, match="302 redirect"):
        client.auth.authorize(
            client_id="c", redirect_uri="https://a.example/cb", response_type=AuthorizeResponseType.CODE
        )


def test_an_undocumented_redirect_stays_an_unexpected_status() -> None:
    answer = httpx.Response(302, headers={"Location": "https://elsewhere.example/"})
    with _answering(answer) as client, pytest.raises(UnexpectedStatus) as caught:
        client.open_media.get_interaction("workitem", "42")
    assert caught.value.status == 302
