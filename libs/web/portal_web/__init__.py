"""HTTP edge shared by the services."""

from portal_web.app import create_service_app
from portal_web.auth import (
    CurrentPrincipal,
    OptionalPrincipal,
    Principal,
    TokenVerifier,
    require_roles,
)
from portal_web.errors import ApiError, ErrorBody, error_responses
from portal_web.logging import configure_logging
from portal_web.settings import ServiceSettings

__all__ = [
    "ApiError",
    "CurrentPrincipal",
    "ErrorBody",
    "OptionalPrincipal",
    "Principal",
    "ServiceSettings",
    "TokenVerifier",
    "configure_logging",
    "create_service_app",
    "error_responses",
    "require_roles",
]
