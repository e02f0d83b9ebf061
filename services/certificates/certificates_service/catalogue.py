"""The certificates catalogue as data (SPEC C-2, C-3, C-5): the civil-registry certificate types,
TAP, the delivery methods, and each certificate's text template, read from `catalogue.toml`.

It is checked when the service starts, so that a mistake in the data stops the service instead
of losing work or failing when a clerk issues a certificate: every department must be in the
department catalogue (`portal_events.departments`), every template may use only the placeholders
its kind provides, and delivery methods are consistent (a service point is collected in person,
so it needs no address).
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from portal_events.departments import DepartmentUnknown, check_routing_targets

from certificates_service.domainmodel import Kind

TAP_CODE = "tap"  # TAP's `certificate_type` in events and contracts

# What every template may use; TAP's also names the property.
COMMON_PLACEHOLDERS = frozenset(
    {"municipality_name", "applicant_name", "applicant_afm", "title", "number", "details"}
)
TAP_PLACEHOLDERS = COMMON_PLACEHOLDERS | {
    "property_address",
    "electricity_supply_number",
    "area_m2",
}

CATALOGUE_FILE: Traversable = resources.files(__package__).joinpath("catalogue.toml")


class CatalogueInvalid(ValueError):
    """The catalogue file is missing something or holds an impossible value."""


@dataclass(frozen=True)
class CertificateType:
    code: str
    kind: Kind
    name: str  # Greek: the certificate's title
    department: str
    template: str

    @property
    def placeholders(self) -> frozenset[str]:
        return TAP_PLACEHOLDERS if self.kind is Kind.TAP else COMMON_PLACEHOLDERS

    def render(self, values: Mapping[str, str]) -> str:
        """The certificate's text with `values` filled in (every placeholder must be given)."""
        return self.template.format_map(values)


@dataclass(frozen=True)
class ServicePoint:
    name: str
    address: str


@dataclass(frozen=True)
class DeliveryMethod:
    code: str
    name: str
    needs_address: bool
    service_point: ServicePoint | None = None


@dataclass(frozen=True)
class Catalogue:
    civil_registry: Mapping[str, CertificateType]
    tap: CertificateType
    delivery_methods: Mapping[str, DeliveryMethod]

    @classmethod
    def load(cls, path: Traversable | Path | None = None) -> Catalogue:
        """The catalogue at `path`, or the one shipped with the service."""
        path = path or CATALOGUE_FILE
        return cls.parse(path.read_text("utf-8"), source=str(path))

    @classmethod
    def parse(cls, text: str, source: str = "catalogue.toml") -> Catalogue:
        """The catalogue in `text`; CatalogueInvalid (or DepartmentUnknown) naming `source` and
        the problem otherwise."""
        try:
            data = tomllib.loads(text)
            civil_registry = {
                code: _certificate_type(code, Kind.CIVIL_REGISTRY, entry)
                for code, entry in data["civil_registry"].items()
            }
            tap = _certificate_type(TAP_CODE, Kind.TAP, data["tap"])
            methods = [_delivery_method(entry) for entry in data["delivery_methods"]]
        except (KeyError, TypeError, AttributeError, tomllib.TOMLDecodeError) as exc:
            raise CatalogueInvalid(f"{source}: missing or malformed entry ({exc!r})") from exc
        if not civil_registry:
            raise CatalogueInvalid(f"{source}: no civil-registry certificate types")
        if TAP_CODE in civil_registry:
            raise CatalogueInvalid(f"{source}: {TAP_CODE!r} is TAP's code, not a type")
        for certificate_type in [*civil_registry.values(), tap]:
            _check_template(certificate_type, source)
        check_routing_targets(
            [t.department for t in [*civil_registry.values(), tap]], f"{source} (departments)"
        )
        if not methods:
            raise CatalogueInvalid(f"{source}: no delivery methods")
        codes = [m.code for m in methods]
        if len(set(codes)) != len(codes):
            raise CatalogueInvalid(f"{source}: a delivery method's code appears twice")
        for method in methods:
            if method.service_point is not None and method.needs_address:
                raise CatalogueInvalid(
                    f"{source}: {method.code!r} is collected at a service point and cannot "
                    "also need a postal address"
                )
        return cls(
            civil_registry=civil_registry,
            tap=tap,
            delivery_methods={m.code: m for m in methods},
        )

    def civil_registry_type(self, code: str) -> CertificateType | None:
        return self.civil_registry.get(code)


def _certificate_type(code: str, kind: Kind, entry: dict[str, Any]) -> CertificateType:
    values = {key: entry[key] for key in ("name", "department", "template")}
    if not all(isinstance(v, str) and v.strip() for v in values.values()):
        raise TypeError(f"{code}: name, department and template must be non-empty text")
    return CertificateType(
        code=code,
        kind=kind,
        name=values["name"].strip(),
        department=values["department"],
        template=values["template"].strip(),
    )


def _delivery_method(entry: dict[str, Any]) -> DeliveryMethod:
    point = entry.get("service_point")
    return DeliveryMethod(
        code=str(entry["code"]),
        name=str(entry["name"]),
        needs_address=bool(entry["needs_address"]),
        service_point=None if point is None else ServicePoint(point["name"], point["address"]),
    )


def _check_template(certificate_type: CertificateType, source: str) -> None:
    """Only plain `{name}` placeholders from the type's set: no attribute or index access, no
    format specs (a template is data, not code)."""
    where = f"{source}: template of {certificate_type.code!r}"
    try:
        fields = list(string.Formatter().parse(certificate_type.template))
    except ValueError as exc:  # an unmatched brace
        raise CatalogueInvalid(f"{where}: {exc}") from exc
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if spec or conversion:
            raise CatalogueInvalid(f"{where}: {{{name}}} may carry no format or conversion")
        if name not in certificate_type.placeholders:
            known = ", ".join(sorted(certificate_type.placeholders))
            raise CatalogueInvalid(f"{where}: unknown placeholder {{{name}}}; known: {known}")


__all__ = [
    "Catalogue",
    "CatalogueInvalid",
    "CertificateType",
    "DeliveryMethod",
    "DepartmentUnknown",
    "ServicePoint",
]
