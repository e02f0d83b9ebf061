"""The notifications service's side of Kafka: it publishes nothing and listens to everyone.

`handlers(app)` turns other services' public events into notifications for the person each one
concerns (SPEC X-2), with the template values each kind needs:

- identity: a welcome on `UserRegistered` (whose `email` is also the address e-mails go to), the
  user's name from `ProfileUpdated`, security notices on `PasswordChanged` and `UserDisabled`;
- requests: reply and status change, to the submitter (anonymous requests have nobody to tell);
- protocol: the number assigned, joined with the owner's `ProtocolRequested` (requests' or
  certificates' topic) for whose document it is (see `ProtocolDocument`);
- certificates: reply, status change, issued, rejected, to the applicant;
- payments: completed or failed, to the payer;
- business: a payment warrant issued or paid, to every business user of its ΑΦΜ (`recipients`),
  once per warrant and user however often the business service reports it; a tax declaration
  accepted (paid, or nil with nothing to pay: a text of its own that speaks of no payment),
  rejected (why, in Greek) or filed with the information system, to whoever declared.

Every handler is idempotent: the notification's id is derived from the envelope's event id, which
is the same however often the message is delivered. Every handler passes on when the source event
occurred (`envelope.occurred_at`): what happened before mailing began is history, replayed from
the kept topics, and is not e-mailed (see `NotificationsApplication`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from portal_events.consumer import Handler
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
    TaxDeclarationContract,
    TaxDeclarationFiledV1,
    TaxDeclarationRejectedV1,
    UserDisabledV1,
    UserRegisteredV1,
    WarrantIssuedV1,
    WarrantPaidV1,
)
from portal_events.envelope import Envelope
from portal_events.topics import (
    BUSINESS_TAX_EVENTS,
    CERTIFICATES_CERTIFICATE_EVENTS,
    IDENTITY_USER_EVENTS,
    PAYMENTS_PAYMENT_EVENTS,
    PROTOCOL_REGISTRATION_EVENTS,
    REQUESTS_REQUEST_EVENTS,
)

from notifications_service.application import NotificationsApplication

# Fines are not listened to: `FineRecordedV1` names no person (it is recorded ahead of any
# citizen), and a fine's payment reaches its payer through payments' events.
CONSUMED_TOPICS = (
    IDENTITY_USER_EVENTS,
    REQUESTS_REQUEST_EVENTS,
    PROTOCOL_REGISTRATION_EVENTS,
    CERTIFICATES_CERTIFICATE_EVENTS,
    PAYMENTS_PAYMENT_EVENTS,
    BUSINESS_TAX_EVENTS,
)

# Times in the texts are the municipality's local time.
MUNICIPALITY_TZ = ZoneInfo("Europe/Athens")


def local_time(value: Any) -> str:
    return value.astimezone(MUNICIPALITY_TZ).strftime("%d/%m/%Y %H:%M")


def greek_date(value: Any) -> str:
    return value.strftime("%d/%m/%Y")


def euros(cents: int) -> str:
    """12,50 € as written in Greek."""
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", ".") + f",{rest:02d} €"


def handlers(app: NotificationsApplication) -> dict[type[Contract], Handler]:
    """The consumer's handlers (called in a worker thread, the envelope's correlation id bound)."""
    label = app.templates.label

    def telling(
        kind: str, recipient: Callable[[Any], Any], params: Callable[[Any], dict[str, str]]
    ) -> Handler:
        """A handler that tells `recipient(contract)` (if any) a `kind` with `params`."""

        def handle(envelope: Envelope, contract: Any) -> None:
            recipient_id = recipient(contract)
            if recipient_id is not None:
                app.tell(
                    str(envelope.event_id),
                    recipient_id,
                    kind,
                    params(contract),
                    occurred_at=envelope.occurred_at,
                )

        return handle

    def telling_each(
        kind: str, key: Callable[[Any], str], params: Callable[[Any], dict[str, str]]
    ) -> Handler:
        """A handler that tells each of the contract's `recipients` a `kind` with `params`, once
        per `key(contract)` and recipient: a warrant the business service reports again (a
        second sync) tells nobody twice."""

        def handle(envelope: Envelope, contract: Any) -> None:
            for recipient_id in contract.recipients:
                app.tell(
                    f"{key(contract)}/{recipient_id}",
                    recipient_id,
                    kind,
                    params(contract),
                    occurred_at=envelope.occurred_at,
                )

        return handle

    def user_registered(envelope: Envelope, contract: UserRegisteredV1) -> None:
        app.user_registered(
            str(envelope.event_id),
            contract.user_id,
            contract.email,
            occurred_at=envelope.occurred_at,
        )

    def profile_updated(envelope: Envelope, contract: ProfileUpdatedV1) -> None:
        if contract.display_name:
            app.user_named(contract.user_id, contract.display_name)

    def protocol_requested(envelope: Envelope, contract: ProtocolRequestedV1) -> None:
        app.protocol_requested(
            contract.document_id,
            contract.document_type,
            contract.title,
            contract.applicant_id,
            occurred_at=envelope.occurred_at,
        )

    def protocol_assigned(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        app.protocol_assigned(
            contract.document_id,
            contract.document_type,
            contract.protocol_number,
            contract.protocol_date,
            occurred_at=envelope.occurred_at,
        )

    def request(c: Any) -> dict[str, str]:
        return {"request_id": str(c.request_id), "number": c.number}

    def certificate(c: Any) -> dict[str, str]:
        return {"certificate_id": str(c.certificate_id), "number": c.number}

    def payment(c: Any) -> dict[str, str]:
        return {
            "payment_id": str(c.payment_id),
            "payable_label": label("payable_type", c.payable_type),
        }

    def warrant(c: Any) -> dict[str, str]:
        return {"number": c.number, "afm": c.afm, "amount": euros(c.amount)}

    def declaration(c: TaxDeclarationContract) -> dict[str, str]:
        period_group = "month" if c.period_type == "monthly" else "quarter"
        return {
            "declaration_id": str(c.declaration_id),
            "afm": c.afm,
            "period_label": f"{label(period_group, str(c.period))} {c.year}",
        }

    declaration_paid = telling(
        "tax_declaration_accepted",
        lambda c: c.business_id,
        lambda c: declaration(c) | {"amount": euros(c.total)},
    )
    nil_declaration = telling("tax_declaration_accepted_nil", lambda c: c.business_id, declaration)

    def declaration_accepted(envelope: Envelope, contract: TaxDeclarationAcceptedV1) -> None:
        """Paid, or nil: accepted without any payment (nothing to pay), told as such."""
        told = nil_declaration if contract.payment_id is None else declaration_paid
        told(envelope, contract)

    return {
        UserRegisteredV1: user_registered,
        ProfileUpdatedV1: profile_updated,
        PasswordChangedV1: telling(
            "password_changed",
            lambda c: c.user_id,
            lambda c: {"changed_at": local_time(c.changed_at)},
        ),
        UserDisabledV1: telling(
            "account_disabled",
            lambda c: c.user_id,
            lambda c: {"disabled_at": local_time(c.disabled_at), "reason": c.reason},
        ),
        RequestRepliedV1: telling("request_replied", lambda c: c.submitted_by, request),
        RequestStatusChangedV1: telling(
            "request_status_changed",
            lambda c: c.submitted_by,
            lambda c: (
                request(c)
                | {"status_label": label("request_status", c.status), "note": c.note or ""}
            ),
        ),
        ProtocolRequestedV1: protocol_requested,
        ProtocolAssignedV1: protocol_assigned,
        CertificateRepliedV1: telling("certificate_replied", lambda c: c.applicant_id, certificate),
        CertificateStatusChangedV1: telling(
            "certificate_status_changed",
            lambda c: c.applicant_id,
            lambda c: (
                certificate(c)
                | {"status_label": label("certificate_status", c.status), "note": c.note or ""}
            ),
        ),
        CertificateIssuedV1: telling(
            "certificate_issued",
            lambda c: c.applicant_id,
            lambda c: certificate(c) | {"title": c.title},
        ),
        CertificateRejectedV1: telling(
            "certificate_rejected",
            lambda c: c.applicant_id,
            lambda c: certificate(c) | {"reason": c.reason},
        ),
        PaymentCompletedV1: telling(
            "payment_completed",
            lambda c: c.payer_id,
            lambda c: payment(c) | {"amount": euros(c.amount)},
        ),
        PaymentFailedV1: telling(
            "payment_failed",
            lambda c: c.payer_id,
            lambda c: payment(c) | {"reason_label": label("payment_failure", c.reason)},
        ),
        WarrantIssuedV1: telling_each(
            "warrant_issued",
            lambda c: f"warrant-issued/{c.warrant_id}",
            lambda c: (
                warrant(c) | {"issued_on": greek_date(c.issued_on), "description": c.description}
            ),
        ),
        WarrantPaidV1: telling_each(
            "warrant_paid",
            lambda c: f"warrant-paid/{c.warrant_id}",
            lambda c: warrant(c) | {"paid_on": greek_date(c.paid_on)},
        ),
        TaxDeclarationAcceptedV1: declaration_accepted,
        TaxDeclarationRejectedV1: telling(
            "tax_declaration_rejected",
            lambda c: c.business_id,
            lambda c: (
                declaration(c) | {"reason_label": label("tax_declaration_rejection", c.reason)}
            ),
        ),
        TaxDeclarationFiledV1: telling(
            "tax_declaration_filed",
            lambda c: c.business_id,
            lambda c: declaration(c) | {"filed_at": local_time(c.filed_at), "receipt": c.receipt},
        ),
    }
