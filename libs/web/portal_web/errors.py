"""One JSON error shape for every service: {code, message, details?} (DESIGN "HTTP")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str = Field(examples=["not_found"], description="Stable machine-readable code")
    message: str = Field(examples=["Request not found"], description="For people; may be Greek")
    details: Any | None = Field(
        None,
        description="Per-field problems for invalid input; other errors may give context here",
        examples=[[{"field": "subject", "problem": "Field required", "type": "missing"}]],
    )


class ApiError(Exception):
    """Raise from a route to answer with the shared error shape."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=details)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status_code, headers=headers
    )


def _field_problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
            "problem": err.get("msg", "invalid"),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]


@dataclass(frozen=True)
class HttpError:
    """How one domain exception is answered: status, stable code, a message for people (text,
    or made from the exception), and optional details and headers made from the exception."""

    status: int
    code: str
    message: str | Callable[[Any], str]
    details: Callable[[Any], Any] | None = None
    headers: Callable[[Any], dict[str, str]] | None = None

    def response(self, exc: Exception) -> JSONResponse:
        message = self.message if isinstance(self.message, str) else self.message(exc)
        details = self.details(exc) if self.details else None
        headers = self.headers(exc) if self.headers else None
        return error_response(self.status, self.code, message, details, headers)


ErrorTable = Mapping[type[Exception], HttpError]
"""A service's table from its domain exceptions to HTTP answers (in its api.py). Routes raise
nothing HTTP-specific: the kit installs the table, and the most specific class wins."""


def install_error_table(app: FastAPI, table: ErrorTable) -> None:
    for exception_class, answer in table.items():

        async def handler(_: Request, exc: Exception, answer: HttpError = answer) -> JSONResponse:
            return answer.response(exc)

        app.add_exception_handler(exception_class, handler)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8, a broken form): invalid
            # input like any other, answered as routes document it rather than as a bare 400.
            return error_response(
                422,
                "invalid_input",
                "The body could not be read: send UTF-8 JSON (or the form the route documents).",
                [{"field": "body", "problem": str(exc.detail)}],
            )
        code = _CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            422,
            "invalid_input",
            "The request has invalid or missing fields.",
            _field_problems(exc),
        )

    # Any other exception is answered 500 by portal_web.correlation, within the request's context.


# OpenAPI: the error responses every protected route may give.
def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"model": ErrorBody, "description": _CODES.get(code, "error")}
        for code in status_codes
    }
