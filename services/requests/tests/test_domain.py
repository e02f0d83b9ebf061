"""Domain rules of the Request aggregate and the year counter (SPEC R-1..R-4)."""

import uuid
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from requests_service.application import RequestsApplication
from requests_service.domainmodel import (
    ALLOWED_TRANSITIONS,
    ProtocolAlreadyAssigned,
    ProtocolNumberConflict,
    Request,
    Status,
    SubmissionInvalid,
    TransitionNotAllowed,
    YearCounter,
    check_text_fields,
)


def new_request(**overrides) -> Request:
    fields = dict(
        number="2026/000001",
        kind="complaint",
        subject="Λακκούβα",
        text="Στην οδό Ερμού",
        desired_action=None,
        category="roads",
        department="technical",
        submitted_by=uuid4(),
    )
    return Request(**(fields | overrides))


def walk(request: Request, *path: Status) -> None:
    for status in path:
        request.change_status(status)


def test_r2_year_counter_numbers_are_sequential_and_per_year():
    counter = YearCounter(2026)
    assert [counter.issue() for _ in range(3)] == ["2026/000001", "2026/000002", "2026/000003"]
    assert YearCounter.create_id(2026) == counter.id == YearCounter.create_id(2026)
    assert YearCounter.create_id(2027) != counter.id


@pytest.mark.parametrize(
    ("current", "wanted"),
    [(c, w) for c in Status for w in Status],
)
def test_r3_status_transitions_follow_the_table(current, wanted):
    request = new_request()
    paths = {
        Status.SUBMITTED: [],
        Status.UNDER_REVIEW: [Status.UNDER_REVIEW],
        Status.IN_PROGRESS: [Status.IN_PROGRESS],
        Status.COMPLETED: [Status.IN_PROGRESS, Status.COMPLETED],
        Status.REJECTED: [Status.REJECTED],
    }
    walk(request, *paths[current])
    if wanted in ALLOWED_TRANSITIONS[current]:
        request.change_status(wanted)
        assert request.status == wanted
    else:
        with pytest.raises(TransitionNotAllowed):
            request.change_status(wanted)
        assert request.status == current


def test_r3_completed_and_rejected_are_terminal():
    assert not ALLOWED_TRANSITIONS[Status.COMPLETED]
    assert not ALLOWED_TRANSITIONS[Status.REJECTED]


def test_r3_reply_is_recorded():
    request = new_request()
    request.answer("Θα επισκευαστεί")
    assert request.reply == "Θα επισκευαστεί"


def test_r4_protocol_requested_once_and_number_never_overwritten():
    request = new_request()
    assert request.request_protocol() is True
    assert request.request_protocol() is False  # already asked: nothing new
    assert request.mark_protocol_pending(1, "registry down") is True
    assert request.mark_protocol_pending(2, "registry down") is False
    assert request.record_protocol("1234", "2026-03-01") is True
    assert request.record_protocol("1234", "2026-03-01") is False  # duplicate: no event
    with pytest.raises(ProtocolNumberConflict):
        request.record_protocol("9999", "2026-03-02")
    with pytest.raises(ProtocolAlreadyAssigned):
        request.request_protocol()
    assert (request.protocol_number, request.protocol_date) == ("1234", "2026-03-01")
    assert request.protocol_status == "assigned"


def test_r2_text_fields_required_stripped_and_limited():
    assert check_text_fields(subject=("  a  ", 5, True)) == {"subject": "a"}
    with pytest.raises(SubmissionInvalid) as info:
        check_text_fields(subject=("   ", 5, True), text=("x" * 6, 5, True), extra=(None, 5, False))
    assert info.value.errors == {"subject": "required", "text": "at most 5 characters"}


# A counter as the service stored it before the kit's YearCounter (two numbers taken, then a
# snapshot), byte for byte: the topics and the id must keep loading it (issue 8, kit clean-up).
METADATA = (
    b'"metadata":{"actor":{"id":"system","role":"system"},'
    b'"correlation_id":null,"causation_id":null}'
)
CREATED = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-05T09:00:00+00:00"},'
    b'"originator_topic":"requests:YearCounter","year":2026,' + METADATA + b"}"
)
ISSUED = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-05T09:00:01+00:00"},'
    + METADATA
    + b"}"
)
STORED_BEFORE_THE_KIT = [
    ("requests:YearCounter.Created", CREATED),
    ("requests:YearCounter.Issued", ISSUED),
    ("requests:YearCounter.Issued", ISSUED),
]
SNAPSHOT_BEFORE_THE_KIT = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-05T09:00:02+00:00"},'
    b'"topic":"requests:YearCounter","state":{'
    b'"_created_on":{"_type_":"datetime_iso","_data_":"2026-01-05T09:00:00+00:00"},'
    b'"_modified_on":{"_type_":"datetime_iso","_data_":"2026-01-05T09:00:01+00:00"},'
    b'"year":2026,"last":2},' + METADATA + b"}"
)


@pytest.mark.parametrize("with_snapshot", [False, True])
def test_r2_a_year_counter_stored_before_the_kit_loads_and_goes_on_counting(with_snapshot):
    app = RequestsApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo", "IS_SNAPSHOTTING_ENABLED": "y"}
    )
    counter_id = uuid.uuid5(
        uuid.UUID("0b7f0d6a-2f4e-4f8a-9a57-6a4e3f1c9d21"), "requests/number/2026"
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
    assert [e.TOPIC for e in app.events.get(counter_id)][-1] == "requests:YearCounter.Issued"
    app.close()
