"""The Application on in-memory persistence (SPEC R-1..R-5)."""

from uuid import uuid4

import pytest
from portal_events.context import Actor, bound
from requests_service.application import RequestsApplication, Scope
from requests_service.domainmodel import (
    InvalidSubmission,
    InvalidTransition,
    Kind,
    ProtocolAlreadyAssigned,
    RequestNotFound,
    Status,
    UnknownCategory,
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
    with pytest.raises(InvalidSubmission):
        submit(app, subject="  ")
    with pytest.raises(InvalidSubmission):
        submit(app, text="x" * 5001)
    with pytest.raises(UnknownCategory):
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


def test_r3_reply_and_status_show_in_history_with_actor_role(app):
    user = uuid4()
    submission = submit(app, user)
    clerk = Scope(department="technical")
    with bound(actor=Actor(id=str(uuid4()), role="clerk")):
        app.change_status(submission.id, Status.UNDER_REVIEW, "Ελέγχεται", scope=clerk)
        app.reply(submission.id, "Θα επισκευαστεί", scope=clerk)
    with pytest.raises(InvalidTransition):
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
