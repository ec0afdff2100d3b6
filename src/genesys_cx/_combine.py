"""Several ``httpx.Auth`` flows applied to one request, in order: ``combine_auth``.

httpx takes one ``auth`` per client. The SDK needs several on one request (``x-api-key``, a bearer
token that is renewed and the request repeated after a 401, and an ``X-Hub-Signature`` over the
exact bytes sent), so ``combine_auth`` nests them: each request a flow yields goes through all the
later flows, and each answer goes back up through them. Nothing here knows about Genesys; the
credentials themselves live in ``genesys_cx.credentials``, which re-exports ``combine_auth``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

__all__ = ["combine_auth"]


class _Combined(httpx.Auth):
    """Several auth flows on one request: each request a flow yields goes through the next flows."""

    def __init__(self, auths: tuple[httpx.Auth, ...]) -> None:
        self.auths = auths
        self.requires_request_body = any(auth.requires_request_body for auth in auths)
        self.requires_response_body = any(auth.requires_response_body for auth in auths)

    def __repr__(self) -> str:
        return f"combine_auth({', '.join(map(repr, self.auths))})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        return self._sync_level(0, request)

    def _sync_level(self, level: int, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if level == len(self.auths):
            yield request
            return
        flow = self.auths[level].sync_auth_flow(request)
        outgoing = next(flow)
        while True:
            inner = self._sync_level(level + 1, outgoing)
            sent = next(inner)
            while True:
                response = yield sent  # the last response of the inner levels is this level's answer
                try:
                    sent = inner.send(response)
                except StopIteration:
                    break
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return

    def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        return self._async_relay(0, request)

    async def _async_relay(self, level: int, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if level == len(self.auths):
            yield request
            return
        flow = self.auths[level].async_auth_flow(request)
        outgoing = await flow.__anext__()
        while True:
            inner = self._async_relay(level + 1, outgoing)
            sent = await inner.__anext__()
            while True:
                response = yield sent
                try:
                    sent = await inner.asend(response)
                except StopAsyncIteration:
                    break
            try:
                outgoing = await flow.asend(response)
            except StopAsyncIteration:
                return


def combine_auth(*auths: httpx.Auth) -> httpx.Auth:
    """One ``httpx.Auth`` applying *auths* in order (e.g. ``ApiKey``, ``BearerToken``, ``HubSignature``).

    A later flow sees the headers set by the earlier ones; a flow that repeats a request (a 401
    handled by ``BearerToken``) sends it through the later flows again, so a signature is redone.
    """
    flat: list[httpx.Auth] = []
    for auth in auths:
        if not isinstance(auth, httpx.Auth):
            raise TypeError(f"combine_auth takes httpx.Auth instances, not {type(auth).__name__}")
        flat.extend(auth.auths if isinstance(auth, _Combined) else (auth,))
    return flat[0] if len(flat) == 1 else _Combined(tuple(flat))
