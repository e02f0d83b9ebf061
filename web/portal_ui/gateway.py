"""The gateway's public APIs, called for one browser request, with its session's token.

Pages take `api: Api` (a dependency) and call `await api.get("/requests", params=...)`,
`api.post(path, json=...)`, `api.put`, `api.patch`, `api.delete`: each returns the parsed JSON
body (None for an empty answer) or raises `ApiError` (status, code, message, field details).
`api.send(...)` returns the raw `httpx.Response` (e.g. a PDF to pass on). The browser's
correlation id and address go with every call (X-Correlation-ID, X-Forwarded-For), so the
services' logs and rate limits see the visitor, not this application.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from portal_events import context

from portal_ui.errors import ApiError, GatewayUnavailable


class GatewayClient:
    def __init__(self, http: httpx.AsyncClient, token: str | None, headers: dict[str, str]):
        self._http = http
        self._browser_headers = headers
        self._headers = headers | ({"Authorization": f"Bearer {token}"} if token else {})

    def with_token(self, token: str) -> GatewayClient:
        """The same browser's calls with another token (the one log-in just gave)."""
        return GatewayClient(self._http, token, self._browser_headers)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return _body(await self.send("GET", path, params=_without_none(params)))

    async def post(
        self,
        path: str,
        json: Any = None,
        *,
        data: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return _body(await self.send("POST", path, json=json, data=data, headers=headers))

    async def put(self, path: str, json: Any = None) -> Any:
        return _body(await self.send("PUT", path, json=json))

    async def patch(self, path: str, json: Any = None) -> Any:
        return _body(await self.send("PATCH", path, json=json))

    async def delete(self, path: str, json: Any = None) -> Any:
        return _body(await self.send("DELETE", path, json=json))

    async def send(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method, path, headers=self._headers | (headers or {}), **kwargs
            )
        except httpx.HTTPError as exc:
            raise GatewayUnavailable(f"{method} {path}: {exc!r}") from exc
        if response.status_code in (502, 503, 504):
            raise GatewayUnavailable(f"{method} {path}: {response.status_code}")
        if response.status_code >= 400:
            raise _api_error(response)
        return response


def _api_error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ApiError(
        status=response.status_code,
        code=str(body.get("code") or f"http_{response.status_code}"),
        message=str(body.get("message") or response.reason_phrase),
        details=body.get("details"),
    )


def _body(response: httpx.Response) -> Any:
    return response.json() if response.content else None


def _without_none(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: v for k, v in params.items() if v is not None} if params else None


def browser_headers(request: Request) -> dict[str, str]:
    """What the services should know of the browser behind this call."""
    forwarded = request.headers.get("x-forwarded-for")
    client = request.client.host if request.client else None
    headers = {"X-Correlation-ID": context.correlation_id() or context.new_correlation_id()}
    if forwarded or client:
        headers["X-Forwarded-For"] = forwarded or client or ""
    if agent := request.headers.get("user-agent"):
        headers["User-Agent"] = agent
    return headers


def gateway_client(request: Request) -> GatewayClient:
    user = request.state.session.user
    return GatewayClient(
        request.app.state.http, user.token if user else None, browser_headers(request)
    )


Api = Annotated[GatewayClient, Depends(gateway_client)]
