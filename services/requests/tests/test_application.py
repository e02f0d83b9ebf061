"""The Application on in-memory persistence (SPEC R-1..R-5)."""

from uuid import uuid4

import pytest
from portal_events.application import IdempotencyKeyReused, IdempotencyRecord
from portal_events.context import Actor, bound
from requests_service.application import RequestsApplication, Scope
from requests_service.domainmodel import (
    CategoryUnknown,
    Kind,
    ProtocolAlreadyAssigned,
    Request,
    RequestNotFound,
    Status,
    SubmissionInvalid,
    TransitionNotAllowed,
    YearCounter,
)

ADMIN = Scope(everything=True)


@pytest.fixture
def app():
    application = RequestsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def submit(app, user=None, **overrides):
    fields = dict(kind=Kind.COMPLAINT, subject="Λακκούβα", text="Οδός Ερμού 5", category="roads")
    return app.submit(submitted_by=user or uuid4(), **(fields | overrides))


def test_r2_named_submission_gets_sequential_numbers(app):
    first, second = submit(app), submit(app)
    year = first.number.split("/")[0]
    assert first.number == f"{year}/000001"
    assert second.number == f"{year}/000002"
    assert second.position > first.position


def test_r2_named_submission_routes_by_category(app):
    user = uuid4()
    submission = submit(app, user, category="Cleanliness")
    request = app.get_request(submission.id, scope=Scope(owner_id=user))
    assert (request.category, request.department) == ("cleanliness", "sanitation")
    assert request.status == Status.SUBMITTED


def test_r2_missing_or_oversized_fields_record_nothing(app):
    with pytest.raises(SubmissionInvalid):
        submit(app, subject="  ")
    with pytest.raises(SubmissionInvalid):
        submit(app, text="x" * 5001)
    with pytest.raises(CategoryUnknown):
        submit(app, category="weather")
    assert app.recorder.max_notification_id() in (None, 0)


def test_r1_anonymous_submission_goes_to_default_department(app):
    submission = app.submit_anonymous(subject="Σκουπίδια", text="Πλατεία")
    request = app.get_request(submission.id, scope=Scope(department="citizen_services"))
    assert request.anonymous and request.submitted_by is None


def test_r5_another_user_cannot_see_a_request(app):
    submission = submit(app)
    with pytest.raises(RequestNotFound):
        app.get_request(submission.id, scope=Scope(owner_id=uuid4()))
    with pytest.raises(RequestNotFound):
        app.detail(submission.id, scope=Scope(owner_id=uuid4()))
    with pytest.raises(RequestNotFound):
        app.detail(uuid4(), scope=ADMIN)


def test_r3_clerk_of_another_department_cannot_act(app):
    submission = submit(app)  # roads -> technical
    with pytest.raises(RequestNotFound):
        app.reply(submission.id, "Απάντηση", scope=Scope(department="sanitation"))
    assert app.recorder.max_notification_id() == submission.position  # nothing recorded


def test_r3_reply_and_status_show_in_history_with_actor_role(app):
    user = uuid4()
    submission = submit(app, user)
    clerk = Scope(department="technical")
    with bound(actor=Actor(id=str(uuid4()), role="clerk")):
        app.change_status(submission.id, Status.UNDER_REVIEW, "Ελέγχεται", scope=clerk)
        app.reply(submission.id, "Θα επισκευαστεί", scope=clerk)
    with pytest.raises(TransitionNotAllowed):
        app.change_status(submission.id, Status.SUBMITTED, scope=clerk)
    detail = app.detail(submission.id, scope=Scope(owner_id=user))
    assert detail.request.reply == "Θα επισκευαστεί"
    assert [(h.event, h.status, h.actor_role) for h in detail.history] == [
        ("Submitted", "submitted", "system"),
        ("StatusChanged", "under_review", "clerk"),
        ("Replied", None, "clerk"),
    ]
    assert detail.history[1].note == "Ελέγχεται"


def test_r4_protocol_request_is_idempotent_and_assignment_recorded_once(app):
    submission = submit(app)
    assert app.request_protocol(submission.id, scope=ADMIN) is not None
    assert app.request_protocol(submission.id, scope=ADMIN) is None  # pending: nothing new
    assert app.record_protocol(submission.id, "1234", "2026-03-01") is not None
    assert app.record_protocol(submission.id, "1234", "2026-03-01") is None
    assert app.record_protocol(submission.id, "9999", "2026-03-02") is None  # logged, ignored
    request = app.get_request(submission.id, scope=ADMIN)
    assert (request.protocol_number, request.protocol_date) == ("1234", "2026-03-01")
    assert request.version == 3
    with pytest.raises(ProtocolAlreadyAssigned):
        app.request_protocol(submission.id, scope=ADMIN)


def test_r2_counter_snapshots_keep_numbers_going(app):
    numbers = [submit(app).number for _ in range(105)]
    assert numbers[-1].endswith("/000105")
    assert len(set(numbers)) == 105


@pytest.fixture
def events_read(app, monkeypatch):
    """How many stored events the Application has read so far."""
    count = [0]
    select_events = app.recorder.select_events

    def counting(*args, **kwargs):
        events = select_events(*args, **kwargs)
        count[0] += len(events)
        return events

    monkeypatch.setattr(app.recorder, "select_events", counting)
    return lambda: count[0]


def test_issue5_wrong_kind_of_id_or_scope_is_not_found_after_one_event(app, events_read):
    """issue 5 §2 (Application base): an id of the year counter (hundreds of events), of an
    idempotency record or of someone else's request answers not found after reading one event,
    never a replay."""
    owner = uuid4()
    keyed = submit(app, owner, idempotency_key="key-00000001")
    for _ in range(150):
        submit(app)
    year = int(keyed.number.split("/")[0])
    others = [
        YearCounter.create_id(year),
        IdempotencyRecord.create_id(str(owner), "key-00000001"),
    ]
    for other_id in others:
        before = events_read()
        with pytest.raises(RequestNotFound):
            app.get_request(other_id, scope=ADMIN)
        with pytest.raises(RequestNotFound):
            app.detail(other_id, scope=ADMIN)
        assert events_read() - before == 2  # one event per query
    before = events_read()
    with pytest.raises(RequestNotFound):
        app.detail(keyed.id, scope=Scope(owner_id=uuid4()))
    assert events_read() - before == 1
    assert isinstance(app.get_request(keyed.id, scope=Scope(owner_id=owner)), Request)


def test_r2_idempotency_key_fingerprints_the_whole_submission(app):
    """issue 5 §2: every field counts, not only subject and text; a repeat records nothing."""
    user = uuid4()
    first = submit(app, user, idempotency_key="key-00000002")
    again = submit(app, user, idempotency_key="key-00000002")
    assert (again.id, again.number, again.position) == (first.id, first.number, None)
    for change in (
        {"category": "cleanliness"},
        {"kind": Kind.PROPOSAL},
        {"desired_action": "Επισκευή"},
        {"subject": "Άλλο θέμα"},
        {"text": "Άλλο κείμενο"},
    ):
        with pytest.raises(IdempotencyKeyReused):
            submit(app, user, idempotency_key="key-00000002", **change)
    assert app.recorder.max_notification_id() == first.position


def test_r1_anonymous_submission_accepts_an_idempotency_key(app):
    """issue 5 §2: every command that creates something accepts Idempotency-Key."""
    first = app.submit_anonymous(subject="Θόρυβος", text="Κείμενο", idempotency_key="anon-0001")
    again = app.submit_anonymous(subject="Θόρυβος", text="Κείμενο", idempotency_key="anon-0001")
    assert again.id == first.id and again.position is None
    with pytest.raises(IdempotencyKeyReused):
        app.submit_anonymous(subject="Θόρυβος", text="Άλλο", idempotency_key="anon-0001")
    # Anonymous keys are not a named user's: the same key is another command there.
    assert submit(app, idempotency_key="anon-0001").id != first.id


def test_r3_reply_accepts_an_idempotency_key(app):
    """issue 5 §2: a repeated reply with the same key is recorded once."""
    submission = submit(app)
    clerk, scope = uuid4(), Scope(department="technical")
    reply = dict(scope=scope, replied_by=clerk, idempotency_key="reply-0001")
    assert app.reply(submission.id, "Θα επισκευαστεί", **reply) is not None
    assert app.reply(submission.id, "Θα επισκευαστεί", **reply) is None
    with pytest.raises(IdempotencyKeyReused):
        app.reply(submission.id, "Άλλη απάντηση", **reply)
    history = app.detail(submission.id, scope=scope).history
    assert [h.event for h in history].count("Replied") == 1
