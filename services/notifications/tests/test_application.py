"""Who is told what, once, from other services' events; in-memory persistence (SPEC X-2)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

import pytest
from notifications_service.application import NotificationsApplication
from notifications_service.domainmodel import (
    MailingStart,
    NoEmail,
    Notification,
    NotificationNotFound,
)
from notifications_service.integration import euros, handlers
from portal_events.contracts import (
    CertificateIssuedV1,
    CertificateRejectedV1,
    CertificateRepliedV1,
    CertificateStatusChangedV1,
    Contract,
    PasswordChangedV1,
    PaymentCompletedV1,
    PaymentFailedV1,
    ProfileUpdatedV1,
    ProtocolAssignedV1,
    ProtocolRequestedV1,
    RequestRepliedV1,
    RequestStatusChangedV1,
    TaxDeclarationAcceptedV1,
    TaxDeclarationFiledV1,
    TaxDeclarationRejectedV1,
    UserDisabledV1,
    UserRegisteredV1,
    WarrantIssuedV1,
    WarrantPaidV1,
)
from portal_events.envelope import Envelope, wrap

NOW = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
# The service's first start, in most tests: a day before their events.
FIRST_START = NOW - timedelta(days=1)


class Clock:
    """The Application's clock, moved by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(FIRST_START)


@pytest.fixture
def app(clock):
    app = NotificationsApplication(clock=clock)
    app.begin_mailing()  # as the service's start does
    yield app
    app.close()


class Deliver:
    """The consumer's side: wraps contracts as their producers would and hands them to the
    service's handlers; `again` redelivers the very same envelope."""

    def __init__(self, app: NotificationsApplication) -> None:
        self.app = app
        self.handlers = handlers(app)
        self.sequence = 0

    def __call__(
        self, contract: Contract, subject: Any = None, occurred_at: datetime = NOW
    ) -> Envelope:
        self.sequence += 1
        envelope = wrap(
            contract,
            source="test",
            subject=str(subject or uuid.uuid4()),
            sequence=self.sequence,
            occurred_at=occurred_at,
        )
        self.again(envelope)
        return envelope

    def again(self, envelope: Envelope) -> None:
        contract = envelope.contract()
        self.handlers[type(contract)](envelope, contract)


@pytest.fixture
def deliver(app) -> Deliver:
    return Deliver(app)


def notifications_of(app: NotificationsApplication, user_id: uuid.UUID) -> list[Notification]:
    """Every notification stored for the user, oldest first (read from the event store)."""
    created = stored(app, Notification.Created.TOPIC)
    found = [app.notification(item.originator_id) for item in created]
    return [notification for notification in found if notification.recipient_id == user_id]


def stored(app: NotificationsApplication, *topics: str) -> list[Any]:
    """The stored events of these topics (every one when none), oldest first."""
    return list(app.recorder.select_notifications(start=1, limit=10_000, topics=topics))


def registered(
    deliver: Deliver, name: str | None = "Ελένη Παπαδοπούλου", at: datetime = NOW
) -> uuid.UUID:
    user_id = uuid.uuid4()
    deliver(
        UserRegisteredV1(
            user_id=user_id,
            kind="citizen",
            email=f"{user_id.hex[:8]}@example.gr",
            registered_at=at,
        ),
        occurred_at=at,
    )
    if name:
        deliver(
            ProfileUpdatedV1(
                user_id=user_id, kind="citizen", display_name=name, profile_complete=True
            ),
            occurred_at=at,
        )
    return user_id


def test_x2_welcome_on_registration_to_the_registered_address(app, deliver):
    user_id = registered(deliver, name=None)
    (welcome,) = notifications_of(app, user_id)
    assert welcome.kind == "welcome"
    assert welcome.email_to == f"{user_id.hex[:8]}@example.gr"
    assert welcome.title == "Καλώς ήρθατε στην ηλεκτρονική πύλη του Δήμου"
    assert welcome.email_due and welcome.no_email is None


def test_x2_redelivered_events_make_no_second_notification(app, deliver):
    user_id = registered(deliver)
    request_id = uuid.uuid4()
    replied = deliver(
        RequestRepliedV1(
            request_id=request_id, number="2026/000042", submitted_by=user_id, replied_at=NOW
        )
    )
    deliver.again(replied)
    deliver.again(replied)
    kinds = [n.kind for n in notifications_of(app, user_id)]
    assert kinds == ["welcome", "request_replied"]


def test_x2_request_reply_and_status_change_tell_the_submitter_in_greek(app, deliver):
    user_id = registered(deliver)
    request_id = uuid.uuid4()
    deliver(
        RequestRepliedV1(
            request_id=request_id, number="2026/000042", submitted_by=user_id, replied_at=NOW
        )
    )
    deliver(
        RequestStatusChangedV1(
            request_id=request_id,
            number="2026/000042",
            status="in_progress",
            note="Ανατέθηκε",
            submitted_by=user_id,
            changed_at=NOW,
        )
    )
    _, reply, status = notifications_of(app, user_id)
    assert reply.title == "Απάντηση στο αίτημά σας 2026/000042"
    assert reply.link == f"/requests/{request_id}"
    assert status.title == "Το αίτημά σας 2026/000042: Σε εξέλιξη"
    assert "«Σε εξέλιξη»" in status.body and "Σημείωση: Ανατέθηκε" in status.body
    assert status.recipient_name == "Ελένη Παπαδοπούλου"


def test_x2_anonymous_requests_have_nobody_to_tell(app, deliver):
    deliver(
        RequestRepliedV1(
            request_id=uuid.uuid4(), number="2026/000043", submitted_by=None, replied_at=NOW
        )
    )
    assert stored(app, Notification.Created.TOPIC) == []


def protocol_requested(
    document_id: uuid.UUID, applicant_id: uuid.UUID | None
) -> ProtocolRequestedV1:
    return ProtocolRequestedV1(
        document_id=document_id,
        document_type="civil_registry_certificate",
        title="Πιστοποιητικό οικογενειακής κατάστασης 2026/000007",
        applicant_id=applicant_id,
        requested_at=NOW,
        department="civil_registry",
    )


def protocol_assigned(document_id: uuid.UUID) -> ProtocolAssignedV1:
    return ProtocolAssignedV1(
        document_id=document_id,
        document_type="civil_registry_certificate",
        protocol_number="2026/000017",
        protocol_date=date(2026, 3, 2),
    )


@pytest.mark.parametrize("assigned_first", [False, True], ids=["requested-first", "assigned-first"])
def test_c4_x2_protocol_number_joined_with_its_applicant_in_either_order(
    app, deliver, assigned_first
):
    user_id = registered(deliver)
    document_id = uuid.uuid4()
    halves = [
        lambda: deliver(protocol_requested(document_id, user_id)),
        lambda: deliver(protocol_assigned(document_id)),
    ]
    if assigned_first:
        halves.reverse()
    first = halves[0]()
    assert [n.kind for n in notifications_of(app, user_id)] == [
        "welcome"
    ]  # one half: no one to tell yet
    second = halves[1]()
    # Both halves again, as Kafka may redeliver them: still one notification.
    deliver.again(first)
    deliver.again(second)

    (told,) = [n for n in notifications_of(app, user_id) if n.kind == "protocol_assigned"]
    assert told.title == "Αριθμός πρωτοκόλλου 2026/000017"
    assert "«Πιστοποιητικό οικογενειακής κατάστασης 2026/000007»" in told.body
    assert "02/03/2026" in told.body
    assert told.link == f"/certificates/{document_id}"
    assert told.email_due


def test_c4_protocol_number_of_an_anonymous_document_tells_nobody(app, deliver):
    document_id = uuid.uuid4()
    deliver(protocol_assigned(document_id))
    deliver(protocol_requested(document_id, None))
    assert stored(app, Notification.Created.TOPIC) == []


def test_x2_email_off_keeps_notifications_in_the_portal_but_security_notices_still_go(app, deliver):
    user_id = registered(deliver)
    app.set_email_preference(user_id, False)
    assert app.email_preference(user_id) is False
    deliver(
        RequestRepliedV1(
            request_id=uuid.uuid4(), number="2026/000044", submitted_by=user_id, replied_at=NOW
        )
    )
    deliver(PasswordChangedV1(user_id=user_id, changed_at=NOW))
    deliver(
        UserDisabledV1(
            user_id=user_id, reason="Κατάχρηση", disabled_by=uuid.uuid4(), disabled_at=NOW
        )
    )

    _, reply, password, disabled = notifications_of(app, user_id)
    assert (reply.email_to, reply.email_due, reply.no_email) == (None, False, NoEmail.EMAIL_OFF)
    assert password.kind == "password_changed" and password.email_due
    assert disabled.kind == "account_disabled" and disabled.email_due
    assert "Κατάχρηση" in disabled.body
    assert "02/03/2026 12:15" in password.body  # the municipality's local time


def test_x2_no_address_known_means_in_the_portal_only(app, deliver):
    stranger = uuid.uuid4()  # identity's UserRegistered never reached us
    deliver(
        RequestRepliedV1(
            request_id=uuid.uuid4(), number="2026/000045", submitted_by=stranger, replied_at=NOW
        )
    )
    (reply,) = notifications_of(app, stranger)
    assert reply.email_to is None and not reply.email_due
    assert reply.no_email == NoEmail.NO_ADDRESS


def test_x2_certificates_and_payments_tell_the_applicant_and_the_payer(app, deliver):
    user_id = registered(deliver)
    certificate = {
        "certificate_id": uuid.uuid4(),
        "number": "2026/000007",
        "kind": "civil_registry",
        "applicant_id": user_id,
        "department": "civil_registry",
    }
    deliver(CertificateRepliedV1(**certificate, replied_at=NOW))
    deliver(CertificateStatusChangedV1(**certificate, status="awaiting_applicant", changed_at=NOW))
    deliver(
        CertificateIssuedV1(
            **certificate,
            certificate_type="family_status",
            title="Πιστοποιητικό οικογενειακής κατάστασης",
            document_sha256="0" * 64,
            issued_by=uuid.uuid4(),
            issued_at=NOW,
        )
    )
    deliver(
        CertificateRejectedV1(
            **certificate, reason="Ελλιπή στοιχεία", rejected_by=uuid.uuid4(), rejected_at=NOW
        )
    )
    payment = {
        "payment_id": uuid.uuid4(),
        "payable_type": "fine",
        "payable_id": uuid.uuid4(),
        "payer_id": user_id,
    }
    deliver(PaymentCompletedV1(**payment, amount=12_345, completed_at=NOW))
    deliver(PaymentFailedV1(**payment, reason="declined", failed_at=NOW))

    told = {n.kind: n for n in notifications_of(app, user_id)}
    assert "«Αναμένονται στοιχεία από εσάς»" in told["certificate_status_changed"].body
    assert (
        told["certificate_issued"].title
        == "Εκδόθηκε το πιστοποιητικό σας: Πιστοποιητικό οικογενειακής κατάστασης"
    )
    assert "Ελλιπή στοιχεία" in told["certificate_rejected"].body
    assert told["certificate_replied"].link == f"/certificates/{certificate['certificate_id']}"
    assert (
        "123,45 €" in told["payment_completed"].body
        and "πρόστιμο" in told["payment_completed"].body
    )
    assert "η κάρτα απορρίφθηκε" in told["payment_failed"].body


def test_euros_as_written_in_greek():
    assert [euros(5), euros(1250), euros(123_456_78)] == ["0,05 €", "12,50 €", "123.456,78 €"]


def test_x2_only_the_recipient_reads_a_notification(app, deliver):
    user_id = registered(deliver)
    (welcome,) = notifications_of(app, user_id)
    with pytest.raises(NotificationNotFound):
        app.mark_read(welcome.id, uuid.uuid4())
    with pytest.raises(NotificationNotFound):
        app.mark_read(uuid.uuid4(), user_id)
    first = app.mark_read(welcome.id, user_id)
    again = app.mark_read(welcome.id, user_id)
    assert first.position is not None and again.position is None  # read once
    assert again.result.read_at == first.result.read_at


def test_x2_the_email_outcome_is_recorded_once(app, deliver):
    user_id = registered(deliver)
    (welcome,) = notifications_of(app, user_id)
    app.record_email_failure(welcome.id, "unreachable: ConnectionRefusedError", NOW)
    app.record_email_sent(welcome.id, "<x@demo.portal.gr>")
    app.record_email_sent(welcome.id, "<x@demo.portal.gr>")  # a late duplicate changes nothing
    app.give_up_email(welcome.id, "too late")
    welcome = app.notification(welcome.id)
    assert (welcome.email_status, welcome.email_attempts, welcome.version) == ("sent", 1, 3)


# --- since when e-mails are sent: history replayed from the kept topics is not mailed ----------
# (issue 8: a first deployment, a reset consumer group or a rebuilt database reads every public
# event from the beginning; people must not get months-old news by e-mail.)

HISTORY = FIRST_START - timedelta(days=90)


def replied(deliver: Deliver, user_id: uuid.UUID, occurred_at: datetime) -> Envelope:
    return deliver(
        RequestRepliedV1(
            request_id=uuid.uuid4(),
            number="2026/000046",
            submitted_by=user_id,
            replied_at=occurred_at,
        ),
        occurred_at=occurred_at,
    )


def test_x2_events_before_the_first_start_are_listed_but_not_emailed(app, deliver):
    user_id = registered(deliver, at=HISTORY)
    replied(deliver, user_id, HISTORY + timedelta(days=1))
    replied(deliver, user_id, FIRST_START + timedelta(seconds=1))

    welcome, old_reply, new_reply = notifications_of(app, user_id)
    for old in (welcome, old_reply):
        assert (old.email_to, old.email_due) == (None, False)
        assert old.no_email == NoEmail.BEFORE_MAILING_BEGAN
        assert old.title  # in the portal's list all the same
    # The address learnt from the old registration is where the new reply goes.
    assert new_reply.email_to == f"{user_id.hex[:8]}@example.gr" and new_reply.email_due


def test_x2_old_security_notices_are_not_emailed_new_ones_are(app, deliver):
    user_id = registered(deliver, at=HISTORY)
    deliver(PasswordChangedV1(user_id=user_id, changed_at=HISTORY), occurred_at=HISTORY)
    deliver(
        UserDisabledV1(
            user_id=user_id, reason="Κατάχρηση", disabled_by=uuid.uuid4(), disabled_at=HISTORY
        ),
        occurred_at=HISTORY,
    )
    deliver(PasswordChangedV1(user_id=user_id, changed_at=NOW), occurred_at=NOW)

    _, old_password, old_disabled, new_password = notifications_of(app, user_id)
    assert old_password.no_email == old_disabled.no_email == NoEmail.BEFORE_MAILING_BEGAN
    assert not old_password.email_due and not old_disabled.email_due
    assert new_password.kind == "password_changed" and new_password.email_due


@pytest.mark.parametrize(
    ("assigned_at", "emailed"),
    [(HISTORY + timedelta(hours=1), False), (FIRST_START + timedelta(hours=1), True)],
    ids=["both-halves-old", "number-assigned-after-the-first-start"],
)
def test_c4_x2_protocol_join_is_news_when_its_completing_half_is(
    app, deliver, assigned_at, emailed
):
    user_id = registered(deliver, at=HISTORY)
    document_id = uuid.uuid4()
    deliver(protocol_requested(document_id, user_id), occurred_at=HISTORY)
    deliver(protocol_assigned(document_id), occurred_at=assigned_at)

    (told,) = [n for n in notifications_of(app, user_id) if n.kind == "protocol_assigned"]
    assert told.email_due is emailed
    assert told.no_email == (None if emailed else NoEmail.BEFORE_MAILING_BEGAN)


def test_x2_an_outage_of_this_service_loses_no_email(app, deliver, clock):
    """Mailing began at the first start; the service then stops for hours while other services
    go on, and catches up after its restart: what happened meanwhile is e-mailed."""
    user_id = registered(deliver, at=FIRST_START + timedelta(minutes=5))
    during_outage = FIRST_START + timedelta(hours=5)
    clock.now = FIRST_START + timedelta(hours=8)  # the restart
    assert app.begin_mailing() == FIRST_START  # recorded once: a restart does not move it

    replied(deliver, user_id, during_outage)
    deliver(PasswordChangedV1(user_id=user_id, changed_at=during_outage), occurred_at=during_outage)

    told = notifications_of(app, user_id)
    assert [n.kind for n in told] == ["welcome", "request_replied", "password_changed"]
    assert all(n.email_due for n in told)


def test_x2_mail_since_sets_the_instant_for_a_rebuilt_database(deliver):
    """A rebuilt database starts today, yet the operator says: e-mail nothing before yesterday
    12:00 (`MAIL_SINCE`); without it nothing before today's start would be e-mailed."""
    app = deliver.app
    cut_over = FIRST_START - timedelta(hours=12)
    assert app.begin_mailing(cut_over) == cut_over  # recorded as moved
    start = app.mailing_start()
    assert (start.since, start.set_by) == (cut_over, MailingStart.MAIL_SINCE)

    user_id = registered(deliver, at=cut_over - timedelta(seconds=1))
    replied(deliver, user_id, cut_over)
    welcome, reply = notifications_of(app, user_id)
    assert welcome.no_email == NoEmail.BEFORE_MAILING_BEGAN
    assert reply.email_due  # at the instant itself: e-mailed

    assert app.begin_mailing() == cut_over  # a later start without MAIL_SINCE keeps it
    moved = [e.topic for e in stored(app, MailingStart.Created.TOPIC, MailingStart.Moved.TOPIC)]
    assert moved == [MailingStart.Created.TOPIC, MailingStart.Moved.TOPIC]


def test_x2_mail_since_at_the_first_start_is_recorded_as_such(clock):
    app = NotificationsApplication(clock=clock)
    try:
        cut_over = datetime(2026, 2, 28, 12, tzinfo=UTC)
        assert app.begin_mailing(cut_over) == cut_over
        assert app.mailing_start().set_by == MailingStart.MAIL_SINCE
    finally:
        app.close()


def test_x2_mailing_begins_on_first_use_if_no_start_recorded_it(clock):
    app = NotificationsApplication(clock=clock)
    try:
        deliver = Deliver(app)
        user_id = registered(deliver, at=FIRST_START - timedelta(seconds=1))
        (welcome,) = notifications_of(app, user_id)
        assert welcome.no_email == NoEmail.BEFORE_MAILING_BEGAN
        assert (app.mailing_start().since, app.mailing_start().set_by) == (
            FIRST_START,
            MailingStart.FIRST_START,
        )
    finally:
        app.close()


def test_x2_notifications_stored_before_the_reason_was_recorded_still_load(app, deliver):
    """Version 1 of `Notification.Created` had no `no_email`: it reads as None."""
    user_id = registered(deliver, name=None)
    (welcome,) = notifications_of(app, user_id)
    (created,) = [
        item for item in stored(app, Notification.Created.TOPIC) if item.originator_id == welcome.id
    ]
    state = app.mapper.transcoder.decode(created.state)
    assert (state.pop("class_version"), state.pop("no_email")) == (2, None)
    old = replace(created, state=app.mapper.transcoder.encode(state))
    assert app.mapper.to_domain_event(old).no_email is None


# --- business: payment warrants and the municipal tax (issue 9, SPEC B-1, B-2, X-2) ------------

AFM = "094014201"


def warrant_issued(recipients: list[uuid.UUID], warrant_id: uuid.UUID) -> WarrantIssuedV1:
    return WarrantIssuedV1(
        warrant_id=warrant_id,
        number="ΧΕ-2026/17",
        afm=AFM,
        recipients=recipients,
        amount=1_234_50,
        description="Προμήθεια γραφικής ύλης",
        issued_on=date(2026, 2, 27),
    )


def declaration(business_id: uuid.UUID, period_type: str = "quarterly", period: int = 1) -> dict:
    return {
        "declaration_id": uuid.uuid4(),
        "afm": AFM,
        "business_id": business_id,
        "period_type": period_type,
        "period": period,
        "year": 2026,
    }


def test_b1_x2_a_new_warrant_tells_every_business_user_of_the_afm_once(app, deliver):
    """The business service may report a warrant again (another sync): each user is told once
    per warrant, however often it is reported or delivered."""
    owner, colleague = registered(deliver), registered(deliver)
    warrant_id = uuid.uuid4()
    first = deliver(warrant_issued([owner, colleague], warrant_id))
    deliver.again(first)
    deliver(warrant_issued([owner, colleague], warrant_id))  # reported again: a new event id

    for user_id in (owner, colleague):
        [told] = [n for n in notifications_of(app, user_id) if n.kind == "warrant_issued"]
        assert told.title == "Νέο ένταλμα πληρωμής ΧΕ-2026/17"
        assert told.body == (
            "Ο Δήμος εξέδωσε ένταλμα πληρωμής με αριθμό ΧΕ-2026/17, ποσού 1.234,50 €, στις "
            "27/02/2026, προς την επιχείρησή σας (ΑΦΜ 094014201): «Προμήθεια γραφικής ύλης»."
        )
        assert told.link == "/business/warrants" and told.email_due


def test_b1_x2_a_paid_warrant_tells_the_business_users(app, deliver):
    owner = registered(deliver)
    warrant_id = uuid.uuid4()
    deliver(warrant_issued([owner], warrant_id))
    paid = WarrantPaidV1(
        warrant_id=warrant_id,
        number="ΧΕ-2026/17",
        afm=AFM,
        recipients=[owner],
        amount=1_234_50,
        paid_on=date(2026, 3, 2),
    )
    deliver.again(deliver(paid))

    kinds = [n.kind for n in notifications_of(app, owner)]
    assert kinds == ["welcome", "warrant_issued", "warrant_paid"]
    told = notifications_of(app, owner)[-1]
    assert told.title == "Πληρώθηκε το ένταλμα πληρωμής ΧΕ-2026/17"
    assert "1.234,50 €" in told.body and "πληρώθηκε στις 02/03/2026" in told.body


def test_b1_x2_a_warrant_with_no_business_user_yet_tells_nobody(app, deliver):
    deliver(warrant_issued([], uuid.uuid4()))
    assert stored(app, Notification.Created.TOPIC) == []


def test_b2_x2_a_declaration_accepted_and_then_filed_tells_who_declared(app, deliver):
    business = registered(deliver)
    quarter = declaration(business)
    accepted = deliver(
        TaxDeclarationAcceptedV1(**quarter, total=45_678, payment_id=uuid.uuid4(), accepted_at=NOW)
    )
    deliver.again(accepted)
    deliver(
        TaxDeclarationFiledV1(**quarter, filed_at=NOW + timedelta(minutes=1), receipt="ΔΤ-2026/88")
    )

    _, told_accepted, told_filed = notifications_of(app, business)
    link = f"/business/tax-declarations/{quarter['declaration_id']}"
    assert told_accepted.kind == "tax_declaration_accepted" and told_accepted.link == link
    assert told_accepted.title == "Η δήλωση δημοτικού τέλους (Α΄ τρίμηνο 2026) έγινε δεκτή"
    assert "Η πληρωμή ποσού 456,78 € ολοκληρώθηκε" in told_accepted.body
    assert told_filed.kind == "tax_declaration_filed" and told_filed.link == link
    assert told_filed.title == "Η δήλωση δημοτικού τέλους (Α΄ τρίμηνο 2026) καταχωρίστηκε"
    assert "στις 02/03/2026 12:16 με αριθμό καταχώρισης ΔΤ-2026/88" in told_filed.body
    assert told_accepted.email_due and told_filed.email_due


def test_b2_x2_a_nil_declaration_accepted_speaks_of_no_payment(app, deliver):
    """A period without receipts (total 0) is accepted without any payment: its text says so,
    never that a payment completed."""
    business = registered(deliver)
    quarter = declaration(business)
    deliver(TaxDeclarationAcceptedV1(**quarter, total=0, accepted_at=NOW))

    [told] = [n for n in notifications_of(app, business) if n.kind != "welcome"]
    assert told.kind == "tax_declaration_accepted_nil"
    assert told.link == f"/business/tax-declarations/{quarter['declaration_id']}"
    assert told.title == "Η μηδενική δήλωση δημοτικού τέλους (Α΄ τρίμηνο 2026) έγινε δεκτή"
    assert "δεν υπάρχει ποσό για πληρωμή" in told.body
    assert "πληρωμή ποσού" not in told.body and "ολοκληρώθηκε" not in told.body


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("payment_failed", "η πληρωμή δεν ολοκληρώθηκε"),
        ("payment_expired", "η προθεσμία της πληρωμής έληξε χωρίς να ολοκληρωθεί"),
        ("quote_expired", "το ποσό που υπολογίστηκε δεν πληρώθηκε όσο ίσχυε"),
    ],
)
def test_b2_x2_a_rejected_declaration_says_why_in_greek_and_that_it_may_be_declared_again(
    app, deliver, reason, said
):
    business = registered(deliver)
    month = declaration(business, "monthly", 3)
    deliver(TaxDeclarationRejectedV1(**month, reason=reason, rejected_at=NOW))

    [told] = [n for n in notifications_of(app, business) if n.kind == "tax_declaration_rejected"]
    assert told.title == "Η δήλωση δημοτικού τέλους (Μάρτιος 2026) δεν έγινε δεκτή"
    assert f"δεν έγινε δεκτή: {said}." in told.body
    assert told.body.endswith("Για την ίδια περίοδο μπορείτε να υποβάλετε νέα δήλωση.")


def test_b2_every_rejection_reason_and_period_has_a_greek_label(app):
    reasons = get_args(TaxDeclarationRejectedV1.model_fields["reason"].annotation)
    labels = app.templates.labels
    assert set(labels["tax_declaration_rejection"]) == set(reasons)
    assert set(labels["month"]) == {str(m) for m in range(1, 13)}
    assert set(labels["quarter"]) == {"1", "2", "3", "4"}


def test_b1_b2_x2_business_history_replayed_is_listed_not_emailed(app, deliver):
    """Warrants and declarations from before mailing began (a rebuilt database reading the kept
    business topic) are in the portal's list only, like every other kind."""
    business = registered(deliver, at=HISTORY)
    deliver(warrant_issued([business], uuid.uuid4()), occurred_at=HISTORY)
    deliver(
        TaxDeclarationRejectedV1(
            **declaration(business), reason="payment_failed", rejected_at=HISTORY
        ),
        occurred_at=HISTORY,
    )
    deliver(warrant_issued([business], uuid.uuid4()), occurred_at=NOW)

    _, old_warrant, old_rejection, new_warrant = notifications_of(app, business)
    for old in (old_warrant, old_rejection):
        assert old.no_email == NoEmail.BEFORE_MAILING_BEGAN and not old.email_due
    assert new_warrant.kind == "warrant_issued" and new_warrant.email_due
