"""The municipality's departments, as data (`departments.toml`): one catalogue for every service.

Identity gives clerks a department from it, and every service that routes work to a department
(requests' routing table, and the services after it) checks its targets against it when it
starts, so that no work is ever routed to an inbox no clerk can have.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType


@dataclass(frozen=True)
class Department:
    code: str
    name_el: str
    name_en: str


class DepartmentUnknown(ValueError):
    """A department code that is not in the catalogue."""


def _load() -> Mapping[str, Department]:
    data = tomllib.loads(files(__package__).joinpath("departments.toml").read_text("utf-8"))
    return MappingProxyType(
        {code: Department(code, entry["name_el"], entry["name_en"]) for code, entry in data.items()}
    )


DEPARTMENTS: Mapping[str, Department] = _load()
"""Every department, by code, in the catalogue's order."""

# The departments that code, not routing data, names: the one spelling every service uses.
REVENUE = "revenue"  # payments' reconciliation, tax declarations (B-2)
MUNICIPAL_POLICE = "municipal_police"  # records and lists fines (F-4)


def department(code: str) -> Department:
    """The department with this code; DepartmentUnknown if there is none."""
    try:
        return DEPARTMENTS[code]
    except KeyError:
        raise DepartmentUnknown(
            f"{code!r} is not a department; known: {', '.join(DEPARTMENTS)}"
        ) from None


def check_routing_targets(codes: Iterable[str], source: str) -> None:
    """Refuse (DepartmentUnknown, naming `source`) any routing target not in the catalogue: called
    at start-up, so that a typo in routing data stops the service instead of losing work."""
    unknown = sorted(set(codes) - set(DEPARTMENTS))
    if unknown:
        raise DepartmentUnknown(
            f"{source} routes to {', '.join(map(repr, unknown))}, not in the department "
            f"catalogue (portal_events/departments.toml); known: {', '.join(DEPARTMENTS)}"
        )


check_routing_targets((REVENUE, MUNICIPAL_POLICE), "portal_events.departments")
