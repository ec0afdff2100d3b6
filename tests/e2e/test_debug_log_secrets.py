"""A DEBUG log of everything -- the demo plus both OAuth2 browser flows -- holds no secret.

Root logging at DEBUG captures the SDK's own records *and* httpx's and httpcore's (which log URLs
and raw response headers: a 302's ``Location`` carries the authorization code, or the access token
for the implicit grant). Every secret value seen on the wire is then looked for in the log.
"""

from __future__ import annotations

import io
import re

from genesys_cx_api.auth.models import AuthorizationCodeTokenRequest, AuthorizationRedirect, AuthorizeResponseType

from genesys_cx import Genesys, Settings
from genesys_cx._demo import EMAIL_SECRET, run
from genesys_cx._redact import get_logger
from genesys_cx.credentials import OAuth2Credentials
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CHANNEL_SECRET,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_REDIRECT_URI,
    DEMO_USERNAME,
    Sandbox,
    SandboxConfig,
)

from ._logs import debug_log


def _authorize(genesys: Genesys, response_type: str) -> AuthorizationRedirect:
    """Run ``GET /oauth/authorize`` through the facade: its documented 302, read and not followed."""
    answer = genesys.auth.authorize(
        client_id=DEMO_CLIENT_ID,
        redirect_uri=DEMO_REDIRECT_URI,
        response_type=AuthorizeResponseType(response_type),
        state="state-1",
    )
    assert answer.state == "state-1" and answer.location.startswith(DEMO_REDIRECT_URI)
    # What a user logs through the SDK's logger: the code it handed back is masked there too.
    get_logger().info("authorize answered %r", answer)
    return answer


def test_the_debug_log_of_the_demo_and_the_authorize_flows_has_no_secret() -> None:
    with debug_log() as captured:
        assert run(io.StringIO(), environ={}) == 0
        seen = _authorize_flows()
    seen += [DEMO_API_KEY, DEMO_CHANNEL_SECRET, EMAIL_SECRET, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_CCID]
    log = captured.getvalue()
    # the log is the real thing: the SDK's records and httpcore's raw response headers were captured
    assert "request GET" in log and "receive_response_headers.complete" in log and "oauthcallback" in log
    assert "authorize answered AuthorizationRedirect(location=" in log
    assert "x-ccid" in log  # the header is there, its value is not
    leaked = [value for value in seen if value in log]
    assert leaked == []
    assert not re.search(r"Bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}", log)  # no access token
    assert not re.search(r"sha1=[0-9a-fA-F]{40}", log)  # no signature value
    assert not re.search(r"[?&#](code|access_token|refresh_token)=(?!\*\*\*)", log)


def _authorize_flows() -> list[str]:
    """The authorization-code and implicit flows through the facade; the secrets they produced."""
    with Sandbox(SandboxConfig(auto_login=DEMO_USERNAME)) as sb:
        settings = Settings(
            base_url=sb.url,
            api_key=DEMO_API_KEY,
            ccid=DEMO_CCID,
            oauth=OAuth2Credentials(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),
        )
        with Genesys(settings) as genesys:
            code = _authorize(genesys, "code").code
            implicit = _authorize(genesys, "token").access_token
            assert isinstance(code, str) and isinstance(implicit, str)
            token = genesys.auth.retrieve_token(
                body=AuthorizationCodeTokenRequest(code=code, redirect_uri=DEMO_REDIRECT_URI)
            )
    seen = [code, implicit, token.access_token]
    if isinstance(token.refresh_token, str):
        seen.append(token.refresh_token)
    return seen
