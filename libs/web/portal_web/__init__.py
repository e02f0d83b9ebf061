"""The HTTP edge and the service kit shared by the services (see docs/SERVICE-LAYOUT.md)."""

from portal_web.app import create_service_app
from portal_web.auth import (
    Admin,
    AnyStaff,
    CitizenOrBusiness,
    Clerk,
    ClerkOrAdmin,
    CurrentPrincipal,
    OptionalPrincipal,
    Principal,
    TokenRevocations,
    TokenVerifier,
    require_roles,
)
from portal_web.departments import DepartmentCode
from portal_web.errors import ApiError, ErrorBody, ErrorTable, HttpError, error_responses
from portal_web.idempotency import IdempotencyKey
from portal_web.lists import ListPage, Paging, PagingParams
from portal_web.logging import configure_logging
from portal_web.settings import ServiceSettings
from portal_web.text import Email, text

__all__ = [
    "Admin",
    "AnyStaff",
    "ApiError",
    "CitizenOrBusiness",
    "Clerk",
    "ClerkOrAdmin",
    "CurrentPrincipal",
    "DepartmentCode",
    "Email",
    "ErrorBody",
    "ErrorTable",
    "HttpError",
    "IdempotencyKey",
    "ListPage",
    "OptionalPrincipal",
    "Paging",
    "PagingParams",
    "Principal",
    "ServiceSettings",
    "TokenRevocations",
    "TokenVerifier",
    "configure_logging",
    "create_service_app",
    "error_responses",
    "require_roles",
    "text",
]
