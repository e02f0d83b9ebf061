"""What the end-to-end tests send to apply for certificates (SPEC C-1..C-3), declared once: the
in-person verification that makes an applicant eligible, a family-status application and a TAP
one."""

from __future__ import annotations

VERIFICATION = {"document_type": "identity_card", "document_number": "ΑΒ123456"}

FAMILY_STATUS = {
    "certificate_type": "family_status",
    "details": "Για την εγγραφή του παιδιού στο σχολείο.",
    "delivery_method": "email",
}

TAP = {
    "property": {
        "address": "Ερμού 10, 10563 Αθήνα",
        "electricity_supply_number": "1 12345678-01 2",
        "area_m2": 85,
    },
    "details": "Για τη μεταβίβαση του ακινήτου.",
    "delivery_method": "post",
    "delivery_address": "Ερμού 10, 10563 Αθήνα",
}
