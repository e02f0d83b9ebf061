"""The kit's history routes, in every service (SPEC X-1): what only the service that owns an
aggregate can answer, because only it has the domain model to replay it.

Filled in by issue 10's kit work; see `history_router`.
"""

from __future__ import annotations

from fastapi import APIRouter


def history_router(service: str) -> APIRouter:
    """The routes under `/{service}/history/`, for auditors and admins."""
    return APIRouter(prefix=f"/{service}/history", tags=["history"])
