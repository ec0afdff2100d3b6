"""The Authentication API (``/auth/v3``): OAuth 2 authorization codes, tokens, user info, sign-out.

``TokenStore`` is the sandbox's memory of issued access tokens, refresh tokens and authorization
codes; every other emulated API asks it whether a bearer token is valid (``is_valid``). Access tokens
expire after ``SandboxConfig.token_lifetime`` seconds (or at once with ``expire_all``, which leaves
refresh tokens usable, as a real token expiry does); refresh tokens are reused on refresh (the
Spring ``DefaultOAuth2AccessToken`` behaviour the docs' model names suggest); sign-out revokes the
token, or every token of the user with ``global=true``.

Sign-in: the real ``/oauth/authorize`` shows a sign-in form. The sandbox has no form: it signs in
the user named by ``username`` / ``password`` query parameters, or ``SandboxConfig.auto_login``,
and otherwise answers 401. Then it redirects (302) to the registered ``redirect_uri`` with
``code`` and ``state`` (or, for ``response_type=token``, the token in the fragment).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, RedirectResponse, Response

from ._config import OAuthClient, SandboxConfig, SandboxUser
from ._http import Call, ErrorReply, envelope, json_response

__all__ = ["AuthEmulator", "IssuedToken", "TokenStore", "client_from_basic"]

_CODE_LIFETIME = 300.0


@dataclass
class IssuedToken:
    """An issued access token (secrets are kept out of ``repr``)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    client_id: str
    username: str | None
    scope: str
    expires_at: float
    revoked: bool = False

    def valid(self, now: float | None = None) -> bool:
        return not self.revoked and (time.time() if now is None else now) < self.expires_at


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    username: str
    scope: str
    expires_at: float


class TokenStore:
    """Issued tokens and codes; thread-safe (the test thread may expire tokens while requests run)."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._access: dict[str, IssuedToken] = {}
        self._refresh: dict[str, IssuedToken] = {}
        self._codes: dict[str, _Code] = {}

    def issue(
        self,
        client_id: str,
        username: str | None,
        scope: str,
        *,
        refresh: bool = True,
        access_token: str | None = None,
    ) -> IssuedToken:
        """A new valid token (*access_token*: its value, for tests that need a known one)."""
        token = IssuedToken(
            access_token=access_token or secrets.token_urlsafe(24),
            refresh_token=secrets.token_urlsafe(24) if refresh else None,
            client_id=client_id,
            username=username,
            scope=scope,
            expires_at=time.time() + self.lifetime,
        )
        with self._lock:
            self._access[token.access_token] = token
            if token.refresh_token:
                self._refresh[token.refresh_token] = token
        return token

    def lookup(self, access_token: str | None) -> IssuedToken | None:
        """The token if it is valid now (not expired, not revoked), else None."""
        if not access_token:
            return None
        with self._lock:
            token = self._access.get(access_token)
        return token if token is not None and token.valid() else None

    def refresh(self, refresh_token: str, client_id: str) -> IssuedToken | None:
        with self._lock:
            old = self._refresh.get(refresh_token)
            if old is None or old.client_id != client_id or old.revoked:
                return None
            old.revoked = True
            token = IssuedToken(
                access_token=secrets.token_urlsafe(24),
                refresh_token=refresh_token,
                client_id=client_id,
                username=old.username,
                scope=old.scope,
                expires_at=time.time() + self.lifetime,
            )
            self._access[token.access_token] = token
            self._refresh[refresh_token] = token
        return token

    def revoke(self, token: IssuedToken, *, everything_of_user: bool = False) -> None:
        with self._lock:
            victims = [token]
            if everything_of_user:  # every token of the same user (or, without a user, of the client)
                owner = (token.username, token.client_id if token.username is None else None)
                victims += [
                    t
                    for t in self._access.values()
                    if (t.username, t.client_id if t.username is None else None) == owner
                ]
            for victim in victims:
                victim.revoked = True
                if victim.refresh_token:
                    self._refresh.pop(victim.refresh_token, None)

    def expire_all(self) -> None:
        """Make every access token expired now (refresh tokens stay usable)."""
        now = time.time()
        with self._lock:
            for token in self._access.values():
                token.expires_at = min(token.expires_at, now - 1)

    def new_code(self, client_id: str, redirect_uri: str, username: str, scope: str) -> str:
        code = secrets.token_urlsafe(18)
        with self._lock:
            self._codes[code] = _Code(client_id, redirect_uri, username, scope, time.time() + _CODE_LIFETIME)
        return code

    def take_code(self, code: str) -> _Code | None:
        """The code's grant, once (codes are single-use and expire after five minutes)."""
        with self._lock:
            grant = self._codes.pop(code, None)
        return grant if grant is not None and grant.expires_at > time.time() else None


def _same_secret(expected: str, given: str) -> bool:
    # compare_digest refuses str with non-ASCII characters (TypeError); any text may be sent.
    return secrets.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def client_from_basic(config: SandboxConfig, authorization: str | None) -> OAuthClient | None:
    """The configured client whose ``Basic`` credentials *authorization* carries, else None."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, client_secret = decoded.partition(":")
    for client in config.clients:
        if client.client_id == client_id and _same_secret(client.client_secret, client_secret):
            return client
    return None


def _oauth_error(status: int, error: str, description: str) -> ErrorReply:
    return ErrorReply(status, description, body={"error": error, "error_description": description})


class AuthEmulator:
    """Handlers of ``auth.yaml``, by operationId."""

    def __init__(self, config: SandboxConfig, tokens: TokenStore) -> None:
        self.config = config
        self.tokens = tokens

    def handlers(self) -> dict[str, Callable[[Call], Awaitable[Response]]]:
        return {
            "authorize": self.authorize,
            "retrieve_token": self.retrieve_token,
            "get_user_info": self.user_info,
            "get_openid_user_info": self.openid_user_info,
            "get_jwt_user_info": self.jwt_user_info,
            "ping": self.ping,
            "sign_out": self.sign_out,
            "sign_out_get": self.sign_out,
            "change_password": self.change_password,
        }

    def _user(self, username: str | None) -> SandboxUser | None:
        return next((u for u in self.config.users if u.username == username), None)

    def _check_password(self, username: str | None, password: str | None) -> SandboxUser | None:
        user = self._user(username)
        if user is None or password is None or not _same_secret(user.password, password):
            return None
        return user

    def _token_body(self, token: IssuedToken) -> dict[str, object]:
        body: dict[str, object] = {
            "access_token": token.access_token,
            "token_type": "bearer",
            "expires_in": max(0, int(token.expires_at - time.time())),
            "scope": token.scope,
        }
        if token.refresh_token:
            body["refresh_token"] = token.refresh_token
        return body

    async def authorize(self, call: Call) -> Response:
        query = call.query
        client = next((c for c in self.config.clients if c.client_id == query.get("client_id")), None)
        redirect_uri = query.get("redirect_uri", "")
        if client is None:
            raise ErrorReply(401, "unknown client_id")
        if redirect_uri not in client.redirect_uris:
            raise ErrorReply(401, "redirect_uri is not registered for this client")
        if "username" in query:
            user = self._check_password(query.get("username"), query.get("password"))
            if user is None:
                raise ErrorReply(401, "bad credentials")
        else:
            user = self._user(self.config.auto_login)
            if user is None:
                raise ErrorReply(
                    401,
                    "sign-in required: the sandbox reads username and password query parameters "
                    "(or SandboxConfig.auto_login) instead of showing a sign-in form",
                )
        scope = query.get("scope") or "*"
        state = {"state": query["state"]} if "state" in query else {}
        if query.get("response_type") == "token":
            token = self.tokens.issue(client.client_id, user.username, scope, refresh=False)
            fragment = {k: str(v) for k, v in self._token_body(token).items()}
            location = f"{redirect_uri}#{urlencode({**fragment, **state})}"
        else:
            code = self.tokens.new_code(client.client_id, redirect_uri, user.username, scope)
            separator = "&" if "?" in redirect_uri else "?"
            location = f"{redirect_uri}{separator}{urlencode({'code': code, **state})}"
        # The documented 302 carries a text/html body (RedirectBody) besides Location.
        page = f'<html><body><a href="{html.escape(location)}">Continue</a></body></html>'
        return HTMLResponse(page, status_code=302, headers={"Location": location})

    async def retrieve_token(self, call: Call) -> Response:
        client = client_from_basic(self.config, call.header("authorization"))
        if client is None:
            raise _oauth_error(401, "unauthorized", "Bad client credentials")
        form: dict[str, str] = call.parsed
        grant = form["grant_type"]
        scope = form.get("scope") or "*"
        if grant == "authorization_code":
            code = self.tokens.take_code(form["code"])
            if code is None or code.client_id != client.client_id or code.redirect_uri != form["redirect_uri"]:
                raise _oauth_error(400, "invalid_grant", "Invalid authorization code")
            token = self.tokens.issue(client.client_id, code.username, code.scope)
        elif grant == "password":
            user = self._check_password(form["username"], form["password"])
            if user is None:
                raise _oauth_error(400, "invalid_grant", "Bad credentials")
            token = self.tokens.issue(client.client_id, user.username, scope)
        elif grant == "client_credentials":
            token = self.tokens.issue(client.client_id, None, scope, refresh=False)
        else:  # refresh_token (the validator admits only the four documented grants)
            refreshed = self.tokens.refresh(form["refresh_token"], client.client_id)
            if refreshed is None:
                raise _oauth_error(400, "invalid_grant", "Invalid refresh token")
            token = refreshed
        return json_response(self._token_body(token))

    def _details(self, call: Call) -> tuple[IssuedToken, SandboxUser | None]:
        token: IssuedToken = call.token
        return token, self._user(token.username)

    async def user_info(self, call: Call) -> Response:
        token, user = self._details(call)
        name = user.username if user else token.client_id
        return json_response(
            {
                "authorities": [{"name": "ROLE_AGENT", "privileges": []}],
                "cmeUserName": name,
                "loginName": name,
                "username": name,
                "contactCenterId": self.config.ccid or "",
                "environmentId": "sandbox",
                "dbid": user.dbid if user else 0,
                "properties": {},
            }
        )

    def _claims(self, token: IssuedToken, user: SandboxUser | None) -> dict[str, object]:
        name = user.username if user else token.client_id
        claims: dict[str, object] = {
            "sub": name,
            "aud": token.client_id,
            "user_name": name,
            "contact_center_id": self.config.ccid or "",
            "environment_id": "sandbox",
            "dbid": user.dbid if user else 0,
            "properties": {},
            "authorities": [{"name": "ROLE_AGENT", "privileges": []}],
        }
        if user is not None:
            claims.update(given_name=user.given_name, family_name=user.family_name)
            if user.email:
                claims["email"] = user.email
        return claims

    async def openid_user_info(self, call: Call) -> Response:
        return json_response(self._claims(*self._details(call)))

    async def jwt_user_info(self, call: Call) -> Response:
        # An unsigned JWT ("alg": "none"): the sandbox has no signing key to share.
        def b64(data: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode("ascii")

        jwt = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(self._claims(*self._details(call)))}."
        return json_response(envelope(0, path=call.request.url.path), headers={"X-GWS-User": jwt})

    async def ping(self, call: Call) -> Response:
        return json_response(envelope(0, path=call.request.url.path))

    async def sign_out(self, call: Call) -> Response:
        everything = call.query.get("global", "").lower() == "true"
        self.tokens.revoke(call.token, everything_of_user=everything)
        if call.op.method == "GET" and (redirect := call.query.get("redirectUri")):
            return RedirectResponse(redirect, status_code=302)
        return json_response(envelope(0, path=call.request.url.path))

    async def change_password(self, call: Call) -> Response:
        data = call.parsed["data"]
        token: IssuedToken | None = call.token
        if call.header("authorization") and token is None:
            raise ErrorReply(401, "the access token is expired or invalid")
        username = token.username if token is not None else data.get("userName")
        user = self._check_password(username, data["oldPassword"])
        if user is None:
            raise ErrorReply(403, "Unable to update password")
        user.password = data["newPassword"]
        return json_response(envelope(0, path=call.request.url.path))
