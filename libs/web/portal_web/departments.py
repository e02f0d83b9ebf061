"""The department catalogue (portal_events.departments) as a type of the HTTP API: OpenAPI lists
the codes, and anything else is answered 422 naming the field."""

from __future__ import annotations

from enum import StrEnum

from portal_events.departments import DEPARTMENTS

DepartmentCode = StrEnum("DepartmentCode", {code: code for code in DEPARTMENTS})
