"""Authentication against the sandbox: the OAuth 2 flows, token expiry and revocation, bearer checks."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from genesys_cx_api.auth.api import AuthApi
from genesys_cx_api.auth.models import PasswordTokenRequest

from genesys_cx import handle_response
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

CLIENT_AUTH = (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)


@pytest.fixture
def auth(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.base_url("auth"), headers={"x-api-key": DEMO_API_KEY}, timeout=10) as client:
        yield client


def _token(auth: httpx.Client, **form: str) -> httpx.Response:
    return auth.post("/oauth/token", data=form, auth=CLIENT_AUTH)


def _password_token(auth: httpx.Client) -> dict[str, Any]:
    answer = _token(auth, grant_type="password", username=DEMO_USERNAME, password=DEMO_PASSWORD)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_authorization_code_flow(sb: Sandbox, auth: httpx.Client) -> None:
    redirect = auth.get(
        "/oauth/authorize",
        params={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": DEMO_REDIRECT_URI,
            "response_type": "code",
            "state": "70db3ab2",
            "username": DEMO_USERNAME,
            "password": DEMO_PASSWORD,
        },
    )
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == DEMO_REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["70db3ab2"]

    form = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": DEMO_REDIRECT_URI}
    token = _token(auth, **form)
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0 and body["refresh_token"]
    assert sb.state.is_valid_token(body["access_token"])

    user = auth.get("/userinfo", headers=_bearer(body["access_token"]))
    assert user.status_code == 200 and user.json()["username"] == DEMO_USERNAME

    reused = _token(auth, **form)  # codes are single-use
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_authorize_refuses_unknown_clients_redirects_and_credentials(auth: httpx.Client) -> None:
    base = {"client_id": DEMO_CLIENT_ID, "redirect_uri": DEMO_REDIRECT_URI, "response_type": "code"}
    assert auth.get("/oauth/authorize", params={**base, "client_id": "nobody"}).status_code == 401
    assert auth.get("/oauth/authorize", params={**base, "redirect_uri": "https://evil.example/cb"}).status_code == 401
    wrong = auth.get("/oauth/authorize", params={**base, "username": DEMO_USERNAME, "password": "wrong"})
    assert wrong.status_code == 401
    no_sign_in = auth.get("/oauth/authorize", params=base)
    assert no_sign_in.status_code == 401 and "username" in no_sign_in.json()["status"]["message"]
    assert auth.get("/oauth/authorize", params={"client_id": DEMO_CLIENT_ID}).status_code == 400


def test_auto_login_and_implicit_grant(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(SandboxConfig(auto_login=DEMO_USERNAME))
    answer = httpx.get(
        sb.base_url("auth") + "/oauth/authorize",
        headers={"x-api-key": DEMO_API_KEY},
        params={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": DEMO_REDIRECT_URI,
            "response_type": "token",
            "state": "s",
        },
    )
    assert answer.status_code == 302
    fragment = parse_qs(urlsplit(answer.headers["location"]).fragment)
    assert fragment["state"] == ["s"] and sb.state.is_valid_token(fragment["access_token"][0])


def test_password_grant_with_the_generated_client(sb: Sandbox) -> None:
    client = httpx.Client(
        base_url=sb.base_url("auth"), headers={"x-api-key": DEMO_API_KEY}, auth=CLIENT_AUTH, timeout=httpx.Timeout(10)
    )
    with client:
        token = AuthApi(client, handler=handle_response).retrieve_token(
            body=PasswordTokenRequest.from_dict(
                {"grant_type": "password", "username": DEMO_USERNAME, "password": DEMO_PASSWORD}
            )
        )
    assert token.token_type == "bearer" and sb.state.is_valid_token(token.access_token)


def test_bad_client_credentials_and_bad_passwords(auth: httpx.Client) -> None:
    no_client = auth.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(DEMO_CLIENT_ID, "nope"))
    assert no_client.status_code == 401 and no_client.json()["error"] == "unauthorized"
    assert DEMO_CLIENT_SECRET not in no_client.text
    bad = _token(auth, grant_type="password", username=DEMO_USERNAME, password="hunter2")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    assert "hunter2" not in bad.text
    invalid = _token(auth, grant_type="magic", password="hunter2")
    assert invalid.status_code == 400 and "grant_type" in invalid.text and "hunter2" not in invalid.text


def test_non_ascii_secrets_are_refused_not_a_crash(auth: httpx.Client) -> None:
    # secrets.compare_digest raises TypeError on str with non-ASCII characters; any text may be sent
    client = auth.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(DEMO_CLIENT_ID, "sécret"))
    assert client.status_code == 401
    user = _token(auth, grant_type="password", username=DEMO_USERNAME, password="pässword")
    assert user.status_code == 400 and user.json()["error"] == "invalid_grant"
    token = _password_token(auth)["access_token"]
    change = auth.post(
        "/change-password", headers=_bearer(token), json={"data": {"oldPassword": "Ⱦ", "newPassword": "n3w"}}
    )
    assert change.status_code == 403


def test_client_credentials_token_has_no_refresh_token(sb: Sandbox, auth: httpx.Client) -> None:
    body = _token(auth, grant_type="client_credentials").json()
    assert "refresh_token" not in body and sb.state.is_valid_token(body["access_token"])


def test_expired_token_is_refused_and_refresh_works(sb: Sandbox, auth: httpx.Client) -> None:
    first = _password_token(auth)
    sb.expire_tokens()
    assert not sb.state.is_valid_token(first["access_token"])
    expired = auth.get("/userinfo", headers=_bearer(first["access_token"]))
    assert expired.status_code == 401
    udm = httpx.get(
        sb.base_url("udm") + "/v10/export/jobs", headers={"x-api-key": DEMO_API_KEY, **_bearer(first["access_token"])}
    )
    assert udm.status_code == 401

    refreshed = _token(auth, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert second["access_token"] != first["access_token"]
    assert auth.get("/userinfo", headers=_bearer(second["access_token"])).status_code == 200
    garbage = _token(auth, grant_type="refresh_token", refresh_token="garbage")
    assert garbage.status_code == 400


def test_token_lifetime_is_configurable(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(SandboxConfig(token_lifetime=0))
    with httpx.Client(base_url=sb.base_url("auth"), headers={"x-api-key": DEMO_API_KEY}, timeout=10) as auth:
        token = _password_token(auth)
    assert token["expires_in"] == 0 and not sb.state.is_valid_token(token["access_token"])


def test_ping_is_403_without_a_valid_token(auth: httpx.Client) -> None:
    token = _password_token(auth)["access_token"]
    assert auth.get("/ping", headers=_bearer(token)).status_code == 200
    assert auth.get("/ping", headers=_bearer("made-up")).status_code == 403
    assert auth.get("/ping").status_code == 403


def test_sign_out_revokes(sb: Sandbox, auth: httpx.Client) -> None:
    one, two = _password_token(auth), _password_token(auth)
    assert auth.post("/sign-out", headers=_bearer(one["access_token"])).status_code == 200
    assert not sb.state.is_valid_token(one["access_token"]) and sb.state.is_valid_token(two["access_token"])
    assert auth.get("/userinfo", headers=_bearer(one["access_token"])).status_code == 401
    # global=true signs the user out everywhere; GET with redirectUri redirects.
    three = _password_token(auth)
    out = auth.get(
        "/sign-out",
        params={"global": "true", "redirectUri": "https://app.example/bye"},
        headers=_bearer(three["access_token"]),
    )
    assert out.status_code == 302 and out.headers["location"] == "https://app.example/bye"
    assert not sb.state.is_valid_token(two["access_token"])
    refused = _token(auth, grant_type="refresh_token", refresh_token=two["refresh_token"])
    assert refused.status_code == 400


def test_user_info_variants(auth: httpx.Client) -> None:
    token = _password_token(auth)["access_token"]
    openid = auth.get("/openid/userinfo", headers=_bearer(token)).json()
    assert openid["user_name"] == DEMO_USERNAME and openid["email"] == "agent@example.com"
    jwt = auth.get("/jwt-userinfo", headers=_bearer(token))
    assert jwt.status_code == 200
    claims = jwt.headers["X-GWS-User"].split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["sub"] == DEMO_USERNAME


def test_change_password(auth: httpx.Client) -> None:
    token = _password_token(auth)["access_token"]
    wrong = auth.post(
        "/change-password", headers=_bearer(token), json={"data": {"oldPassword": "wrong", "newPassword": "n3w"}}
    )
    assert wrong.status_code == 403
    ok = auth.post(
        "/change-password", headers=_bearer(token), json={"data": {"oldPassword": DEMO_PASSWORD, "newPassword": "n3w"}}
    )
    assert ok.status_code == 200
    assert _token(auth, grant_type="password", username=DEMO_USERNAME, password="n3w").status_code == 200


def test_api_key_is_required_on_auth_operations(sb: Sandbox) -> None:
    answer = httpx.post(
        sb.base_url("auth") + "/oauth/token", data={"grant_type": "client_credentials"}, auth=CLIENT_AUTH
    )
    assert answer.status_code == 403


def test_statistics_is_mounted_and_trusts_the_sandbox_tokens(sb: Sandbox, auth: httpx.Client) -> None:
    token = _password_token(auth)["access_token"]
    handshake = [{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}]
    url = sb.base_url("statistics") + "/notifications/handshake"
    ok = httpx.post(url, json=handshake, headers={"x-api-key": DEMO_API_KEY, **_bearer(token)})
    assert ok.status_code == 200 and ok.json()[0]["successful"] is True
    sb.expire_tokens()
    assert httpx.post(url, json=handshake, headers={"x-api-key": DEMO_API_KEY, **_bearer(token)}).status_code == 401
