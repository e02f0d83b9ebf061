"""Certificates (SPEC C-1..C-6): the Certificate aggregate, what the service knows of each
applicant from identity's events, the per-year counter of human numbers and the verification
codes printed on issued certificates.

Topics are explicit and stable (`certificates:...`): renaming a class never breaks stored
history. Events that the relay turns into public contracts carry everything the contract needs
(number, kind, applicant, department), so the translation needs no extra reads.
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from portal_events import numbering

# Field limits shared by the domain checks and the HTTP models.
DETAILS_MAX = 2000
ADDRESS_MAX = 300
NOTE_MAX = 2000
REPLY_MAX = 5000
REASON_MAX = 2000
CODE_MAX = 64
AREA_MAX_M2 = 1_000_000


class Kind(StrEnum):
    CIVIL_REGISTRY = "civil_registry"
    TAP = "tap"

    @property
    def document_type(self) -> str:
        """How the protocol registry knows a certificate of this kind (ProtocolRequestedV1)."""
        return f"{self.value}_certificate"


class Status(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    AWAITING_APPLICANT = "awaiting_applicant"  # the clerk waits for the applicant (clock stops)
    ISSUED = "issued"
    REJECTED = "rejected"


FINAL = frozenset({Status.ISSUED, Status.REJECTED})

# Status changes a clerk makes with POST /status (C-5). Issuing and rejecting have routes of
# their own (a document, a reason); both are final.
#   submitted          -> under_review | awaiting_applicant
#   under_review       -> awaiting_applicant
#   awaiting_applicant -> under_review
ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.SUBMITTED: frozenset({Status.UNDER_REVIEW, Status.AWAITING_APPLICANT}),
    Status.UNDER_REVIEW: frozenset({Status.AWAITING_APPLICANT}),
    Status.AWAITING_APPLICANT: frozenset({Status.UNDER_REVIEW}),
    Status.ISSUED: frozenset(),
    Status.REJECTED: frozenset(),
}


class ProtocolStatus(StrEnum):
    """Where the application stands with the protocol registry (C-4)."""

    REQUESTED = "requested"
    PENDING = "pending"  # the registry could not register it yet; retried automatically
    ASSIGNED = "assigned"


# --- domain exceptions (api.py maps them to HTTP errors) --------------------------------------


class CertificatesError(Exception):
    """Base of the service's domain errors."""


class ApplicationInvalid(CertificatesError):
    """One or more fields are wrong (C-2, C-3): nothing is recorded."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class ProfileIncomplete(CertificatesError):
    """C-1: identity has not reported the applicant's profile complete."""


class NotVerified(CertificatesError):
    """C-1: the applicant has not been verified in person (ID-3), or it was revoked."""


class CertificateNotFound(CertificatesError):
    """No such certificate, or not one the caller may see."""


class TransitionNotAllowed(CertificatesError):
    """The status change is not allowed from the current status (C-5)."""

    def __init__(self, current: str, wanted: str):
        super().__init__(f"status cannot change from {current} to {wanted}")
        self.current = current
        self.wanted = wanted


class ProtocolPending(CertificatesError):
    """The certificate cannot be issued before it has its protocol number (C-4, C-5)."""


class NotIssued(CertificatesError):
    """The certificate has no document yet."""


class VerificationCodeUnknown(CertificatesError):
    """No issued certificate has this verification code."""


class ProtocolNumberConflict(CertificatesError):
    """The registry sent a second, different number for a certificate that has one already."""


# --- the electricity supply number (TAP) -------------------------------------------------------

# The «Αριθμός Παροχής» as Greek electricity bills print it (top right of the first page), e.g.
# "1 23456789-02 5": a 1-digit area code, the 8-digit number stamped on the meter's plate, then
# 2 and 1 more digits (source: odigostoupoliti.eu, "Ο αριθμός παροχής ηλεκτρικού ρεύματος και
# που βρίσκεται"). No public check-digit algorithm is cited, so the shape alone is checked.
_SUPPLY_SEPARATORS = re.compile(r"[ \-]")
_SUPPLY_DIGITS = re.compile(r"^[0-9]{12}$")


def normalise_supply_number(value: str) -> str:
    """The supply number in its printed form ("1 23456789-02 5"), given with or without the
    spaces and the hyphen; ValueError if it is not 12 digits."""
    digits = _SUPPLY_SEPARATORS.sub("", value.strip())
    if not _SUPPLY_DIGITS.match(digits):
        raise ValueError(
            "must be the 12-digit «Αριθμός Παροχής» as printed on the electricity bill, "
            "e.g. 1 23456789-02 5"
        )
    return f"{digits[0]} {digits[1:9]}-{digits[9:11]} {digits[11]}"


# --- verification codes --------------------------------------------------------------------------

VERIFICATION_CODE_BYTES = 10  # 80 bits: 16 base32 characters
_CODE_ALPHABET = re.compile(r"^[A-Z2-7]{16}$")


def new_verification_code() -> str:
    """A fresh, unguessable code, e.g. "K7QX-M2DA-9PLR-T4WE" (RFC 4648 base32, 80 bits)."""
    raw = base64.b32encode(secrets.token_bytes(VERIFICATION_CODE_BYTES)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def canonical_verification_code(value: str) -> str | None:
    """The code as printed (upper case, in groups of four), whatever case or separators it was
    typed with; None if it cannot be one."""
    compact = _SUPPLY_SEPARATORS.sub("", value.strip()).upper()
    if not _CODE_ALPHABET.match(compact):
        return None
    return "-".join(compact[i : i + 4] for i in range(0, 16, 4))


def initials(name: str | None) -> str | None:
    """ "Ελένη Παπαδοπούλου" -> "Ε. Π." (what a verifier may see of the holder)."""
    if not name:
        return None
    return " ".join(f"{part[0].upper()}." for part in name.split() if part) or None


# --- aggregates --------------------------------------------------------------------------------

_NAMESPACE = uuid.UUID("c3a1e7a4-6a0e-4f1b-9d7e-2b8f5e6c4d10")


class YearCounter(numbering.YearCounter):
    """The certificates' human numbers; saved with the new Certificate."""

    TOPIC = "certificates:YearCounter"

    class Created(numbering.YearCounter.Created):
        TOPIC = "certificates:YearCounter.Created"

    class Issued(numbering.YearCounter.Issued):
        TOPIC = "certificates:YearCounter.Issued"

    @staticmethod
    def create_id(year: int) -> UUID:
        return uuid.uuid5(_NAMESPACE, f"certificates/number/{year}")


class Applicant(Aggregate):
    """What identity last said of a user (C-1): profile complete? verified in person? name.

    Identity's events carry the user aggregate's version (`envelope.sequence`); the profile and
    the verification are ordered separately by it, so a late, older report of one changes
    nothing and never hides a newer report of the other.
    """

    TOPIC = "certificates:Applicant"

    class Created(Aggregate.Created):  # never stored: applicants are created by `Known`
        TOPIC = "certificates:Applicant.Created"

    class Known(Aggregate.Created):
        TOPIC = "certificates:Applicant.Known"
        user_id: UUID

    @staticmethod
    def create_id(user_id: UUID, **_: object) -> UUID:
        return applicant_id_for(user_id)

    @event(Known)
    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.profile_complete = False
        self.display_name: str | None = None
        self.afm: str | None = None
        self.profile_version = 0
        self.verified = False
        self.verification_version = 0

    def report_profile(
        self, complete: bool, display_name: str | None, afm: str | None, version: int
    ) -> None:
        if version > self.profile_version:
            self._profile_reported(complete, display_name, afm, version)

    @event("ProfileReported", topic="certificates:Applicant.ProfileReported")
    def _profile_reported(
        self, complete: bool, display_name: str | None, afm: str | None, version: int
    ) -> None:
        self.profile_complete = complete
        self.display_name = display_name
        self.afm = afm
        self.profile_version = version

    def report_verification(self, verified: bool, version: int) -> None:
        if version > self.verification_version:
            self._verification_reported(verified, version)

    @event("VerificationReported", topic="certificates:Applicant.VerificationReported")
    def _verification_reported(self, verified: bool, version: int) -> None:
        self.verified = verified
        self.verification_version = version

    def check_eligible(self) -> None:
        """C-1: a complete profile first, then in-person verification."""
        if not self.profile_complete:
            raise ProfileIncomplete(str(self.user_id))
        if not self.verified:
            raise NotVerified(str(self.user_id))


def applicant_id_for(user_id: UUID) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"certificates/applicant/{user_id}")


class VerificationCode(Aggregate):
    """An issued certificate's verification code; its id is derived from the code, so a code
    finds its certificate in one read and no two certificates can share one."""

    TOPIC = "certificates:VerificationCode"

    class Created(Aggregate.Created):  # never stored: codes are created by `Assigned`
        TOPIC = "certificates:VerificationCode.Created"

    class Assigned(Aggregate.Created):
        TOPIC = "certificates:VerificationCode.Assigned"
        code: str
        certificate_id: UUID

    @staticmethod
    def create_id(code: str, **_: object) -> UUID:
        return verification_code_id(code)

    @event(Assigned)
    def __init__(self, code: str, certificate_id: UUID) -> None:
        self.code = code
        self.certificate_id = certificate_id


def verification_code_id(code: str) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"certificates/verification/{code}")


class Certificate(Aggregate):
    """One application for a certificate, from submission to the issued document (C-2..C-6)."""

    TOPIC = "certificates:Certificate"

    class Created(Aggregate.Created):  # never stored: certificates are created by `Applied`
        TOPIC = "certificates:Certificate.Created"

    @event("Applied", topic="certificates:Certificate.Applied")
    def __init__(
        self,
        *,
        number: str,
        kind: str,
        certificate_type: str,
        title: str,
        department: str,
        applicant_id: UUID,
        applicant_name: str | None,
        applicant_afm: str | None,
        details: str,
        tap_property: dict[str, Any] | None,  # TAP: {address, electricity_supply_number, area_m2}
        delivery_method: str,
        delivery_address: str | None,
    ):
        self.number = number
        self.kind = kind
        self.certificate_type = certificate_type
        self.title = title
        self.department = department
        self.applicant_id = applicant_id
        self.applicant_name = applicant_name
        self.applicant_afm = applicant_afm
        self.details = details
        self.tap_property = tap_property
        self.delivery_method = delivery_method
        self.delivery_address = delivery_address
        self.status: str = Status.SUBMITTED.value
        self.reply: str | None = None
        self.protocol_status: str | None = None
        self.protocol_number: str | None = None
        self.protocol_date: str | None = None  # ISO date, as the registry gave it
        self.verification_code: str | None = None
        self.document_sha256: str | None = None
        self.issued_at: datetime | None = None
        self.rejection_reason: str | None = None

    @property
    def closed(self) -> bool:
        return Status(self.status) in FINAL

    def _contract_fields(self) -> dict[str, Any]:
        """What every public certificate event repeats (they ride along; state ignores them)."""
        return {
            "number": self.number,
            "kind": self.kind,
            "applicant_id": self.applicant_id,
            "department": self.department,
        }

    # C-5: status, reply, issue, reject -----------------------------------------------------

    def change_status(self, status: Status, note: str | None = None) -> None:
        if status not in ALLOWED_TRANSITIONS[Status(self.status)]:
            raise TransitionNotAllowed(self.status, status.value)
        self._status_changed(status=status.value, note=note, **self._contract_fields())

    @event("StatusChanged", topic="certificates:Certificate.StatusChanged")
    def _status_changed(
        self,
        status: str,
        note: str | None,
        number: str,
        kind: str,
        applicant_id: UUID,
        department: str,
    ) -> None:
        self.status = status

    def answer(self, text: str) -> None:
        """Record the municipality's reply (the latest is shown; all stay in the history)."""
        self._replied(text=text, **self._contract_fields())

    @event("Replied", topic="certificates:Certificate.Replied")
    def _replied(
        self, text: str, number: str, kind: str, applicant_id: UUID, department: str
    ) -> None:
        self.reply = text

    def check_issuable(self) -> None:
        """Before the document is made: open, and with its protocol number."""
        if self.closed:
            raise TransitionNotAllowed(self.status, Status.ISSUED.value)
        if self.protocol_number is None:
            raise ProtocolPending(str(self.id))

    def issue(self, *, verification_code: str, document_sha256: str, issued_by: UUID) -> None:
        self.check_issuable()
        self.trigger_event(
            self.Issued,
            verification_code=verification_code,
            document_sha256=document_sha256,
            issued_by=issued_by,
            certificate_type=self.certificate_type,
            title=self.title,
            **self._contract_fields(),
        )

    class Issued(Aggregate.Event):
        """The document was made and stored (its SHA-256 here); the certificate is final."""

        TOPIC = "certificates:Certificate.Issued"
        verification_code: str
        document_sha256: str
        issued_by: UUID
        certificate_type: str
        title: str
        number: str
        kind: str
        applicant_id: UUID
        department: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Certificate)
            aggregate.status = Status.ISSUED.value
            aggregate.verification_code = self.verification_code
            aggregate.document_sha256 = self.document_sha256
            aggregate.issued_at = self.timestamp

    def reject(self, *, reason: str, rejected_by: UUID) -> None:
        if self.closed:
            raise TransitionNotAllowed(self.status, Status.REJECTED.value)
        self._rejected(reason=reason, rejected_by=rejected_by, **self._contract_fields())

    @event("Rejected", topic="certificates:Certificate.Rejected")
    def _rejected(
        self,
        reason: str,
        rejected_by: UUID,
        number: str,
        kind: str,
        applicant_id: UUID,
        department: str,
    ) -> None:
        self.status = Status.REJECTED.value
        self.rejection_reason = reason

    # C-4: protocol ------------------------------------------------------------------------

    def request_protocol(self) -> None:
        """Ask the registry for a number, once, when the application is recorded."""
        if self.protocol_status is None:
            self._protocol_requested(
                document_type=Kind(self.kind).document_type,
                title=f"{self.title} – αίτηση {self.number}",
                applicant_id=self.applicant_id,
                department=self.department,
            )

    @event("ProtocolRequested", topic="certificates:Certificate.ProtocolRequested")
    def _protocol_requested(
        self, document_type: str, title: str, applicant_id: UUID, department: str
    ) -> None:
        self.protocol_status = ProtocolStatus.REQUESTED.value

    def mark_protocol_pending(self, attempts: int, reason: str) -> None:
        """The registry is retrying; nothing when already pending or assigned."""
        if self.protocol_number is None and self.protocol_status != ProtocolStatus.PENDING:
            self._protocol_pending(attempts, reason)

    @event("ProtocolPending", topic="certificates:Certificate.ProtocolPending")
    def _protocol_pending(self, attempts: int, reason: str) -> None:
        self.protocol_status = ProtocolStatus.PENDING.value

    def record_protocol(self, number: str, date: str) -> None:
        """Idempotent by state (the same number again records nothing). A different number for
        a certificate that has one is never recorded (ProtocolNumberConflict)."""
        if self.protocol_number == number:
            return
        if self.protocol_number is not None:
            raise ProtocolNumberConflict(
                f"certificate {self.id} has protocol {self.protocol_number}, got {number}"
            )
        self._protocol_assigned(number, date)

    @event("ProtocolAssigned", topic="certificates:Certificate.ProtocolAssigned")
    def _protocol_assigned(self, number: str, date: str) -> None:
        self.protocol_status = ProtocolStatus.ASSIGNED.value
        self.protocol_number = number
        self.protocol_date = date
