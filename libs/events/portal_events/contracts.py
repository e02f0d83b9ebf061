"""Public event contracts: what services tell each other over Kafka.

Each contract is a versioned pydantic model. Contracts only ever change additively (new optional
fields); a breaking change is a new class `...V2` published beside `...V1`. Every contract has a
committed JSON Schema snapshot in `libs/events/schemas/` (see `portal_events.schemas`).

Consumers ignore fields they do not know (`extra="ignore"`) and types they do not know
(`decode` returns None).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

# The topics are declared in portal_events.topics; re-exported here for existing imports.
from portal_events.topics import IDENTITY_USER_EVENTS as IDENTITY_USER_EVENTS
from portal_events.topics import PROTOCOL_REGISTRATION_EVENTS as PROTOCOL_REGISTRATION_EVENTS
from portal_events.topics import REQUESTS_REQUEST_EVENTS as REQUESTS_REQUEST_EVENTS


class Contract(BaseModel):
    """Base of every public event contract."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]

    model_config = ConfigDict(extra="ignore", frozen=True)


_REGISTRY: dict[tuple[str, int], type[Contract]] = {}


def contract(cls: type[Contract]) -> type[Contract]:
    """Register a contract class under its (TYPE, VERSION)."""
    key = (cls.TYPE, cls.VERSION)
    if key in _REGISTRY:
        raise ValueError(f"contract {key} registered twice")
    _REGISTRY[key] = cls
    return cls


def contract_class(type_: str, version: int) -> type[Contract] | None:
    return _REGISTRY.get((type_, version))


def all_contracts() -> list[type[Contract]]:
    return sorted(_REGISTRY.values(), key=lambda c: (c.TYPE, c.VERSION))


UserKind = Literal["citizen", "business"]


# --- identity (SPEC ID-1..ID-4) -------------------------------------------------------------


@contract
class UserRegisteredV1(Contract):
    """A citizen or business user registered (SPEC ID-1)."""

    TYPE: ClassVar[str] = "UserRegistered"
    VERSION: ClassVar[int] = 1

    user_id: UUID
    kind: UserKind
    email: str
    registered_at: datetime


@contract
class ProfileUpdatedV1(Contract):
    """A user's details changed (SPEC ID-2); `profile_complete` is derived by identity."""

    TYPE: ClassVar[str] = "ProfileUpdated"
    VERSION: ClassVar[int] = 1

    user_id: UUID
    kind: UserKind
    afm: str | None = Field(None, description="Tax id (ΑΦΜ), check digit validated")
    display_name: str | None = Field(None, description="Full name or legal name")
    profile_complete: bool


@contract
class UserVerifiedV1(Contract):
    """A clerk verified the user in person (SPEC ID-3)."""

    TYPE: ClassVar[str] = "UserVerified"
    VERSION: ClassVar[int] = 1

    user_id: UUID
    document_type: str
    verified_by: UUID
    verified_at: datetime


@contract
class VerificationRevokedV1(Contract):
    """A clerk revoked a user's verification, with a reason (SPEC ID-3)."""

    TYPE: ClassVar[str] = "VerificationRevoked"
    VERSION: ClassVar[int] = 1

    user_id: UUID
    reason: str
    revoked_by: UUID
    revoked_at: datetime


@contract
class UserDisabledV1(Contract):
    """An admin disabled an account (SPEC ID-4): from `disabled_at` on, every service refuses
    every token of this user, whenever it was issued, until the account is enabled again."""

    TYPE: ClassVar[str] = "UserDisabled"
    VERSION: ClassVar[int] = 1

    user_id: UUID
    reason: str
    disabled_by: UUID
    disabled_at: datetime


@contract
class UserEnabledV1(Contract):
    """An admin enabled a disabled account again (SPEC ID-4). Tokens issued before it was
    disabled stay refused; the user logs in afresh."""

    TYPE: ClassVar[str] = "UserEnabled"
    VERSION: ClassVar[int] = 1

    user_id: UUID
    enabled_by: UUID
    enabled_at: datetime


@contract
class PasswordChangedV1(Contract):
    """The user changed their password (SPEC ID-1): tokens issued before `changed_at` are
    refused from then on."""

    TYPE: ClassVar[str] = "PasswordChanged"
    VERSION: ClassVar[int] = 1

    user_id: UUID
    changed_at: datetime


@contract
class StaffUpdatedV1(Contract):
    """An admin changed a staff member's role or a clerk's department (SPEC ID-4). Tokens
    issued before `updated_at` carry the old role and department, so they are refused."""

    TYPE: ClassVar[str] = "StaffUpdated"
    VERSION: ClassVar[int] = 1

    user_id: UUID
    role: Literal["clerk", "auditor", "admin"]
    department: str | None = Field(None, description="A code of the department catalogue")
    updated_by: UUID
    updated_at: datetime


# --- requests (SPEC R-1..R-5) ---------------------------------------------------------------

RequestKind = Literal["request", "complaint", "proposal"]
RequestStatus = Literal["submitted", "under_review", "in_progress", "completed", "rejected"]


@contract
class RequestSubmittedV1(Contract):
    """A request, complaint or proposal was submitted, named or anonymous (SPEC R-1, R-2)."""

    TYPE: ClassVar[str] = "RequestSubmitted"
    VERSION: ClassVar[int] = 1

    request_id: UUID
    number: str = Field(description="Human number, sequential per year, e.g. 2026/000042")
    kind: RequestKind
    subject: str
    category: str | None = None
    department: str
    anonymous: bool
    submitted_by: UUID | None = Field(None, description="The user; None when anonymous")
    submitted_at: datetime


@contract
class RequestStatusChangedV1(Contract):
    """A clerk changed a request's status (SPEC R-3)."""

    TYPE: ClassVar[str] = "RequestStatusChanged"
    VERSION: ClassVar[int] = 1

    request_id: UUID
    number: str
    status: RequestStatus
    note: str | None = None
    submitted_by: UUID | None = None
    changed_at: datetime


@contract
class RequestRepliedV1(Contract):
    """A clerk replied to a request (SPEC R-3); the citizen is informed (X-2)."""

    TYPE: ClassVar[str] = "RequestReplied"
    VERSION: ClassVar[int] = 1

    request_id: UUID
    number: str
    submitted_by: UUID | None = None
    replied_at: datetime


# --- protocol registry (SPEC R-4, C-4) ------------------------------------------------------

DocumentType = Literal["request", "civil_registry_certificate", "tap_certificate"]


@contract
class ProtocolRequestedV1(Contract):
    """A service asks for a document to be registered in the protocol registry (R-4, C-4).

    Published by the owner of the document on its own topic; the protocol service consumes it.
    `document_id` is the idempotency key at the registry: one document, one number.
    """

    TYPE: ClassVar[str] = "ProtocolRequested"
    VERSION: ClassVar[int] = 1

    document_id: UUID
    document_type: DocumentType
    title: str = Field(description="What the registry records as the document's subject")
    applicant_id: UUID | None = None
    requested_at: datetime
    department: str | None = Field(
        None,
        description="The department handling the document (a code of the department "
        "catalogue): its clerks see the registration. None: only admins and auditors see it",
    )


@contract
class ProtocolAssignedV1(Contract):
    """The registry gave a document its protocol number and date (R-4, C-4)."""

    TYPE: ClassVar[str] = "ProtocolAssigned"
    VERSION: ClassVar[int] = 1

    document_id: UUID
    document_type: DocumentType
    protocol_number: str
    protocol_date: date


@contract
class ProtocolRegistrationPendingV1(Contract):
    """The registry could not register the document yet; it is retried automatically (C-4)."""

    TYPE: ClassVar[str] = "ProtocolRegistrationPending"
    VERSION: ClassVar[int] = 1

    document_id: UUID
    document_type: DocumentType
    attempts: int
    reason: str
    next_attempt_at: datetime


# --- payments (SPEC P-1, P-2; F-6, B-2, B-3) --------------------------------------------------

PayableType = Literal["fine", "tax_declaration", "tax_debt"]


@contract
class PaymentRequestedV1(Contract):
    """The owner of a payable asks for it to be paid (SPEC P-1): published by the owning service
    (fines, business tax) on its own topic; the payments service consumes it and creates the
    payment with this very id, so a repeat creates nothing. Payments knows nothing of what is
    paid beyond these fields."""

    TYPE: ClassVar[str] = "PaymentRequested"
    VERSION: ClassVar[int] = 1

    payment_id: UUID
    payable_type: PayableType
    payable_id: UUID
    amount: int = Field(gt=0, description="In cents of EUR")
    currency: Literal["EUR"] = "EUR"
    description: str = Field(description="What the payer sees at the bank, in Greek")
    reference: str | None = Field(None, description="The payable's RF code (ISO 11649), if any")
    payer_id: UUID
    requested_at: datetime


@contract
class PaymentCompletedV1(Contract):
    """The bank reported the payment successful, once (SPEC P-2): the owner marks its payable
    paid."""

    TYPE: ClassVar[str] = "PaymentCompleted"
    VERSION: ClassVar[int] = 1

    payment_id: UUID
    payable_type: PayableType
    payable_id: UUID
    amount: int = Field(description="In cents of EUR")
    payer_id: UUID
    completed_at: datetime


@contract
class PaymentFailedV1(Contract):
    """The payment did not go through (declined card, insufficient funds, refused by payments
    because another payment of the payable is open); the payable may be paid again."""

    TYPE: ClassVar[str] = "PaymentFailed"
    VERSION: ClassVar[int] = 1

    payment_id: UUID
    payable_type: PayableType
    payable_id: UUID
    payer_id: UUID
    reason: str = Field(description="A stable code: declined, insufficient_funds, ...")
    failed_at: datetime


@contract
class PaymentExpiredV1(Contract):
    """The payer abandoned the payment, and the bank confirmed it was not paid: it is over and the
    payable may be paid again (SPEC P-2)."""

    TYPE: ClassVar[str] = "PaymentExpired"
    VERSION: ClassVar[int] = 1

    payment_id: UUID
    payable_type: PayableType
    payable_id: UUID
    payer_id: UUID
    expired_at: datetime


# --- fines (SPEC F-4; X-3) ------------------------------------------------------------------


@contract
class FineRecordedV1(Contract):
    """A clerk of the municipal police recorded a fine ahead of any citizen (SPEC F-4): it is
    on the department's worklist until it is paid (X-3). Fines that citizens look up are not
    announced: they are theirs, not a clerk's work."""

    TYPE: ClassVar[str] = "FineRecorded"
    VERSION: ClassVar[int] = 1

    fine_id: UUID
    fine_number: str = Field(description="The number printed on the ticket")
    fine_type: str = Field(description="A code of the fines catalogue")
    description: str = Field(description="The fine type's description, in Greek")
    amount: int = Field(description="The base amount, in cents of EUR")
    department: str = Field(description="The recording clerk's department (catalogue code)")
    recorded_by: UUID
    recorded_at: datetime


# --- certificates (SPEC C-1..C-6) -----------------------------------------------------------

CertificateKind = Literal["civil_registry", "tap"]
CertificateStatus = Literal["submitted", "under_review", "awaiting_applicant", "issued", "rejected"]


class CertificateContract(Contract):
    """What every certificate event repeats, so that each is understood alone (notifications
    and the worklist keep no certificate state of their own to join against)."""

    certificate_id: UUID
    number: str = Field(description="Human number, sequential per year, e.g. 2026/000042")
    kind: CertificateKind
    applicant_id: UUID
    department: str = Field(description="The department that handles it (catalogue code)")


@contract
class CertificateAppliedV1(CertificateContract):
    """A verified user applied for a certificate (SPEC C-2, C-3). Its protocol registration is
    asked for by a `ProtocolRequestedV1` on the same topic (C-4)."""

    TYPE: ClassVar[str] = "CertificateApplied"
    VERSION: ClassVar[int] = 1

    certificate_type: str = Field(description="A code of the catalogue; `tap` for TAP")
    title: str = Field(description="The certificate's name, in Greek")
    applicant_name: str | None = Field(None, description="As identity last reported it")
    delivery_method: str = Field(description="A code of the delivery methods' catalogue")
    applied_at: datetime


@contract
class CertificateStatusChangedV1(CertificateContract):
    """A clerk changed an application's status (SPEC C-5). `awaiting_applicant` stops the
    worklist's clock until the status changes again."""

    TYPE: ClassVar[str] = "CertificateStatusChanged"
    VERSION: ClassVar[int] = 1

    status: CertificateStatus
    note: str | None = None
    changed_at: datetime


@contract
class CertificateRepliedV1(CertificateContract):
    """A clerk replied to the applicant (SPEC C-5); the applicant is informed (X-2)."""

    TYPE: ClassVar[str] = "CertificateReplied"
    VERSION: ClassVar[int] = 1

    replied_at: datetime


@contract
class CertificateIssuedV1(CertificateContract):
    """The certificate was issued as a PDF document (SPEC C-5); `document_sha256` is the hash
    of the stored document's bytes, so that the paper can be checked against the history."""

    TYPE: ClassVar[str] = "CertificateIssued"
    VERSION: ClassVar[int] = 1

    certificate_type: str
    title: str
    document_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    issued_by: UUID
    issued_at: datetime


@contract
class CertificateRejectedV1(CertificateContract):
    """A clerk rejected the application, with a reason the applicant is told (SPEC C-5)."""

    TYPE: ClassVar[str] = "CertificateRejected"
    VERSION: ClassVar[int] = 1

    reason: str
    rejected_by: UUID
    rejected_at: datetime


# --- business services (SPEC B-1..B-3) ------------------------------------------------------

PeriodType = Literal["monthly", "quarterly"]


@contract
class WarrantIssuedV1(Contract):
    """The municipal information system holds a new payment warrant for a supplier business
    (SPEC B-1), seen by the business service when it synchronised: the business's users are
    told (X-2)."""

    TYPE: ClassVar[str] = "WarrantIssued"
    VERSION: ClassVar[int] = 1

    warrant_id: UUID = Field(description="Stable per (ΑΦΜ, warrant number)")
    number: str = Field(description="The warrant's number in the information system")
    afm: str
    recipients: list[UUID] = Field(description="The business users of that ΑΦΜ, to be told")
    amount: int = Field(description="In cents of EUR")
    description: str
    issued_on: date


@contract
class WarrantPaidV1(Contract):
    """A payment warrant was paid to the business (SPEC B-1)."""

    TYPE: ClassVar[str] = "WarrantPaid"
    VERSION: ClassVar[int] = 1

    warrant_id: UUID
    number: str
    afm: str
    recipients: list[UUID]
    amount: int = Field(description="In cents of EUR")
    paid_on: date


class TaxDeclarationContract(Contract):
    """What every tax declaration event repeats, so that each is understood alone."""

    declaration_id: UUID
    afm: str
    business_id: UUID = Field(description="The business user who declared")
    period_type: PeriodType
    period: int = Field(description="1-12 (monthly) or 1-4 (quarterly)")
    year: int


@contract
class TaxDeclarationAcceptedV1(TaxDeclarationContract):
    """The declaration's payment completed, or it is nil (total 0: a period without receipts,
    nothing to pay): it is accepted (SPEC B-2) and is being filed with the municipal
    information system."""

    TYPE: ClassVar[str] = "TaxDeclarationAccepted"
    VERSION: ClassVar[int] = 1

    total: int = Field(description="Tax plus surcharges paid, in cents of EUR (0: nil)")
    payment_id: UUID | None = Field(
        None,
        description="The payment that paid it; null for a nil declaration (total 0), accepted "
        "without any payment. Widened from required within version 1 (an additive, "
        "backward-compatible change: every event published before still validates, and only a "
        "nil declaration's, which did not exist before, has it null).",
    )
    accepted_at: datetime


@contract
class TaxDeclarationRejectedV1(TaxDeclarationContract):
    """The declaration was not paid (failed or expired payment, or its quote expired): it is
    rejected and must be submitted again (SPEC B-2)."""

    TYPE: ClassVar[str] = "TaxDeclarationRejected"
    VERSION: ClassVar[int] = 1

    reason: Literal["payment_failed", "payment_expired", "quote_expired"]
    rejected_at: datetime


@contract
class TaxDeclarationFiledV1(TaxDeclarationContract):
    """The municipal information system has the accepted declaration (SPEC B-2)."""

    TYPE: ClassVar[str] = "TaxDeclarationFiled"
    VERSION: ClassVar[int] = 1

    filed_at: datetime
    receipt: str = Field(description="The information system's reference for the filing")


# --- audit (SPEC X-1): the history every service seals (portal_events.sealer) -------------------


@contract
class StoredEventSealedV1(Contract):
    """One stored event of a service, private or public, exactly as stored, with its link in
    the service's hash chain (`portal_events.chain`). Published on `audit.history` by the
    service's sealer for the audit service's archive; the envelope's subject is the aggregate id,
    its sequence the version, its `occurred_at` and `metadata` the event's."""

    TYPE: ClassVar[str] = "StoredEventSealed"
    VERSION: ClassVar[int] = 1

    service: str
    position: int = Field(description="The event's notification id in the service's log")
    aggregate_id: UUID
    version: int
    topic: str = Field(
        description="The stored event's class topic, e.g. 'requests:Request.Replied'"
    )
    state: str = Field(description="The stored state bytes (UTF-8 JSON), exactly as stored")
    state_sha256: str = Field(description="SHA-256 of the state bytes, hex")
    hash: str = Field(description="The event's link in the service's chain, hex")


@contract
class HistoryCheckpointV1(Contract):
    """The head of a service's hash chain at a moment: every event up to `position` is sealed
    and the last link is `head_hash`. Published on `audit.checkpoints` every minute and on
    demand; the audit service keeps every one."""

    TYPE: ClassVar[str] = "HistoryCheckpoint"
    VERSION: ClassVar[int] = 1

    service: str
    position: int = Field(description="The last sealed notification id (0: nothing stored yet)")
    head_hash: str = Field(description="The chain's hash at `position`, hex (GENESIS when 0)")
    events: int = Field(description="How many stored events the chain covers up to `position`")
    checkpointed_at: datetime
