"""Domain rules without storage: supply numbers, verification codes, status transitions,
protocol numbers, and what identity said of applicants (SPEC C-1, C-3, C-4, C-5)."""

from __future__ import annotations

import uuid

import pytest
from certificates_service.application import CertificatesApplication
from certificates_service.domainmodel import (
    Applicant,
    Certificate,
    NotVerified,
    ProfileIncomplete,
    ProtocolNumberConflict,
    ProtocolPending,
    Status,
    TransitionNotAllowed,
    YearCounter,
    canonical_verification_code,
    initials,
    new_verification_code,
    normalise_supply_number,
)
from eventsourcing.persistence import StoredEvent


@pytest.mark.parametrize(
    "typed",
    ["1 12345678-01 2", "112345678012", "1-12345678-01-2", " 1 1234 5678 01 2 ", "1 12345678 01 2"],
)
def test_c3_supply_number_is_accepted_as_printed_or_without_separators_and_normalised(typed):
    assert normalise_supply_number(typed) == "1 12345678-01 2"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "1 1234567-01 2",
        "1 12345678-01 23",
        "Α 12345678-01 2",
        "1_12345678_01_2",
        "١١٢٣٤٥٦٧٨٠١٢",
    ],
)
def test_c3_supply_number_of_another_shape_is_refused(typed):
    with pytest.raises(ValueError, match="Αριθμός Παροχής"):
        normalise_supply_number(typed)


def test_verification_codes_are_80_bit_base32_groups_looked_up_in_any_case():
    codes = {new_verification_code() for _ in range(200)}
    assert len(codes) == 200
    code = codes.pop()
    assert len(code) == 19 and code.count("-") == 3 and code == code.upper()
    assert canonical_verification_code(code.lower().replace("-", " ")) == code
    assert canonical_verification_code("AAAA-BBBB-CCCC-DDD1") is None  # 1 is not base32
    assert canonical_verification_code("short") is None


def test_initials_only():
    assert initials("Ελένη Παπαδοπούλου") == "Ε. Π."
    assert initials(None) is None


def new_certificate() -> Certificate:
    return Certificate(
        number="2026/000001",
        kind="civil_registry",
        certificate_type="family_status",
        title="Πιστοποιητικό Οικογενειακής Κατάστασης",
        department="civil_registry",
        applicant_id=uuid.uuid4(),
        applicant_name="Ελένη Παπαδοπούλου",
        applicant_afm="090000045",
        details="Για το σχολείο",
        tap_property=None,
        delivery_method="email",
        delivery_address=None,
    )


def test_c5_status_transitions_and_final_states():
    certificate = new_certificate()
    certificate.change_status(Status.AWAITING_APPLICANT)
    certificate.change_status(Status.UNDER_REVIEW)
    with pytest.raises(TransitionNotAllowed):
        certificate.change_status(Status.UNDER_REVIEW)
    certificate.reject(reason="Δεν υπάρχει εγγραφή", rejected_by=uuid.uuid4())
    for change in (
        lambda: certificate.change_status(Status.AWAITING_APPLICANT),
        lambda: certificate.reject(reason="ξανά", rejected_by=uuid.uuid4()),
        certificate.check_issuable,
    ):
        with pytest.raises(TransitionNotAllowed):
            change()


def test_c4_one_protocol_request_one_number_and_issuing_needs_it():
    certificate = new_certificate()
    certificate.request_protocol()
    certificate.request_protocol()
    with pytest.raises(ProtocolPending):
        certificate.check_issuable()
    certificate.mark_protocol_pending(1, "registry down")
    certificate.mark_protocol_pending(10, "registry down")
    certificate.record_protocol("100", "2026-03-02")
    certificate.record_protocol("100", "2026-03-02")
    certificate.mark_protocol_pending(20, "late reminder")
    with pytest.raises(ProtocolNumberConflict):
        certificate.record_protocol("101", "2026-03-02")
    names = [type(e).__name__ for e in certificate.collect_events()]
    assert names.count("ProtocolRequested") == 1
    assert names.count("ProtocolPending") == 1
    assert names.count("ProtocolAssigned") == 1
    assert certificate.protocol_status == "assigned" and certificate.protocol_number == "100"


def test_c1_applicant_reports_are_ordered_by_identity_version_profile_first():
    applicant = Applicant(user_id=uuid.uuid4())
    with pytest.raises(ProfileIncomplete):
        applicant.check_eligible()
    applicant.report_verification(True, 5)
    with pytest.raises(ProfileIncomplete):  # verified, but the profile is checked first
        applicant.check_eligible()
    applicant.report_profile(True, "Ελένη Παπαδοπούλου", "090000045", 3)  # older than 5: still news
    applicant.check_eligible()
    applicant.report_verification(False, 4)  # an older revocation, arriving late
    applicant.check_eligible()
    applicant.report_profile(False, None, None, 2)  # an older profile report
    assert applicant.display_name == "Ελένη Παπαδοπούλου"
    applicant.report_verification(False, 6)
    with pytest.raises(NotVerified):
        applicant.check_eligible()


# A counter as the service stored it before the kit's YearCounter (two numbers taken, then a
# snapshot), byte for byte: the topics and the id must keep loading it (issue 8, kit clean-up).
METADATA = (
    b'"metadata":{"actor":{"id":"system","role":"system"},'
    b'"correlation_id":null,"causation_id":null}'
)
CREATED = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-05T09:00:00+00:00"},'
    b'"originator_topic":"certificates:YearCounter","year":2026,' + METADATA + b"}"
)
ISSUED = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-05T09:00:01+00:00"},'
    + METADATA
    + b"}"
)
STORED_BEFORE_THE_KIT = [
    ("certificates:YearCounter.Created", CREATED),
    ("certificates:YearCounter.Issued", ISSUED),
    ("certificates:YearCounter.Issued", ISSUED),
]
SNAPSHOT_BEFORE_THE_KIT = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-05T09:00:02+00:00"},'
    b'"topic":"certificates:YearCounter","state":{'
    b'"_created_on":{"_type_":"datetime_iso","_data_":"2026-01-05T09:00:00+00:00"},'
    b'"_modified_on":{"_type_":"datetime_iso","_data_":"2026-01-05T09:00:01+00:00"},'
    b'"year":2026,"last":2},' + METADATA + b"}"
)


@pytest.mark.parametrize("with_snapshot", [False, True])
def test_c2_a_year_counter_stored_before_the_kit_loads_and_goes_on_counting(with_snapshot):
    app = CertificatesApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo", "IS_SNAPSHOTTING_ENABLED": "y"}
    )
    counter_id = uuid.uuid5(
        uuid.UUID("c3a1e7a4-6a0e-4f1b-9d7e-2b8f5e6c4d10"), "certificates/number/2026"
    )
    assert YearCounter.create_id(2026) == counter_id
    app.recorder.insert_events(
        [
            StoredEvent(counter_id, version, topic, state)
            for version, (topic, state) in enumerate(STORED_BEFORE_THE_KIT, start=1)
        ]
    )
    if with_snapshot:
        app.snapshots.recorder.insert_events(
            [StoredEvent(counter_id, 3, "eventsourcing.domain:Snapshot", SNAPSHOT_BEFORE_THE_KIT)]
        )
    counter = app.numbering.counter(2026)
    assert isinstance(counter, YearCounter)
    assert counter.issue() == "2026/000003"
    app.save(counter)
    assert [e.TOPIC for e in app.events.get(counter_id)][-1] == "certificates:YearCounter.Issued"
    app.close()
