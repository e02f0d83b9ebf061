"""The catalogue as data, checked when the service starts (SPEC C-2, C-3, C-5)."""

from __future__ import annotations

import pytest
from certificates_service.catalogue import (
    CATALOGUE_FILE,
    Catalogue,
    CatalogueInvalid,
    DepartmentUnknown,
)
from certificates_service.domainmodel import Kind

VALID = """
[civil_registry.birth]
name = "Πιστοποιητικό Γέννησης"
department = "civil_registry"
template = "Ο/Η {applicant_name} γεννήθηκε. {details}"

[tap]
name = "Βεβαίωση ΤΑΠ"
department = "revenue"
template = "Ακίνητο {property_address}, {area_m2} τ.μ., παροχή {electricity_supply_number}."

[[delivery_methods]]
code = "email"
name = "Ηλεκτρονικά"
needs_address = false

[[delivery_methods]]
code = "collect_kep"
name = "ΚΕΠ"
needs_address = false
service_point = { name = "ΚΕΠ Κέντρου", address = "Αιόλου 20" }
"""


def test_the_shipped_catalogue_is_valid_with_civil_registry_types_and_tap():
    catalogue = Catalogue.load(CATALOGUE_FILE)
    assert {
        "family_status",
        "birth",
        "municipal_roll",
        "residence",
        "locality",
        "next_of_kin",
    } <= set(catalogue.civil_registry)
    assert {t.department for t in catalogue.civil_registry.values()} == {"civil_registry"}
    assert (catalogue.tap.kind, catalogue.tap.department) == (Kind.TAP, "revenue")
    methods = catalogue.delivery_methods
    assert methods["post"].needs_address and not methods["email"].needs_address
    points = [m for m in methods.values() if m.service_point is not None]
    assert points and all(m.service_point.name and m.service_point.address for m in points)


def test_a_valid_catalogue_parses():
    catalogue = Catalogue.parse(VALID)
    assert catalogue.civil_registry["birth"].name == "Πιστοποιητικό Γέννησης"
    assert catalogue.delivery_methods["collect_kep"].service_point.name == "ΚΕΠ Κέντρου"


def test_an_unknown_department_stops_the_service():
    with pytest.raises(DepartmentUnknown, match="registry_office"):
        Catalogue.parse(
            VALID.replace('department = "civil_registry"', 'department = "registry_office"')
        )


@pytest.mark.parametrize(
    "template",
    [
        "Ο/Η {applicant_nme}",  # a typo
        "Ακίνητο {property_address}",  # TAP's placeholder in a civil-registry template
        "{applicant_name.__class__}",  # attribute access
        "{applicant_name!r}",  # a conversion
        "{applicant_name:>40}",  # a format spec
        "Ο/Η {applicant_name",  # an unmatched brace
    ],
)
def test_a_template_with_an_unknown_or_unsafe_placeholder_is_refused(template):
    with pytest.raises(CatalogueInvalid, match="birth"):
        Catalogue.parse(
            VALID.replace(
                'template = "Ο/Η {applicant_name} γεννήθηκε. {details}"',
                f'template = "{template}"',
            )
        )


def test_a_service_point_needing_a_postal_address_is_refused():
    broken = VALID.replace(
        'code = "collect_kep"\nname = "ΚΕΠ"\nneeds_address = false',
        'code = "collect_kep"\nname = "ΚΕΠ"\nneeds_address = true',
    )
    with pytest.raises(CatalogueInvalid, match="collect_kep"):
        Catalogue.parse(broken)


def test_duplicate_delivery_methods_and_missing_parts_are_refused():
    with pytest.raises(CatalogueInvalid, match="twice"):
        Catalogue.parse(VALID.replace('code = "collect_kep"', 'code = "email"'))
    with pytest.raises(CatalogueInvalid, match="malformed"):
        Catalogue.parse(VALID.replace("[tap]", "[not_tap]"))
