"""The certificates service's event-sourced Application: commands and queries, nothing HTTP.

- C-1: who may apply is learnt from identity's events (`record_profile`, `record_verification`)
  into one `Applicant` per user; `apply_*` refuses anyone not complete and verified.
- C-2, C-3: an application is checked against the catalogue (data) and recorded with its
  per-year number and, in the same transaction, its request for a protocol number (C-4); with an
  idempotency key a repeat records nothing (`save_once`).
- C-4: the registry's outcomes arrive through the consumer (`record_protocol`,
  `mark_protocol_pending`); `wait_for_protocol` lets the applicant's request wait a moment for
  the number, woken in-process when this process's consumer records it and polling the event
  store meanwhile (another replica's consumer may be the one that records it).
- C-5: clerks change the status, reply, issue (the PDF is stored, then `Issued` saved with its
  hash and verification code) or reject.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

import structlog
from portal_events.application import Idempotency, ServiceApplication, event_name
from portal_events.departments import department
from portal_events.mapper import event_metadata
from portal_events.numbering import YearNumbering

from certificates_service.catalogue import Catalogue, CertificateType, DeliveryMethod
from certificates_service.documents import (
    DEFAULT_FONT_DIR,
    CertificateRenderer,
    DocumentStore,
    PrintedCertificate,
)
from certificates_service.domainmodel import (
    ADDRESS_MAX,
    AREA_MAX_M2,
    DETAILS_MAX,
    Applicant,
    ApplicationInvalid,
    Certificate,
    CertificateNotFound,
    Kind,
    NotIssued,
    ProfileIncomplete,
    ProtocolNumberConflict,
    Status,
    VerificationCode,
    VerificationCodeUnknown,
    YearCounter,
    applicant_id_for,
    canonical_verification_code,
    new_verification_code,
    normalise_supply_number,
    verification_code_id,
)

log = structlog.get_logger(__name__)

# Numbers and printed dates follow the municipality's calendar, not UTC's.
MUNICIPALITY_TZ = ZoneInfo("Europe/Athens")
DEFAULT_MUNICIPALITY_NAME = "Δήμος Παραδείγματος"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
# While waiting for a protocol number: how often the event store is asked again, in case another
# replica's consumer records it (this process's own consumer wakes the wait at once).
PROTOCOL_POLL_SECONDS = 0.2


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Scope:
    """Which certificates a caller may see or handle: an applicant their own, a clerk their
    department's, admins and auditors all. Outside it a certificate does not exist (404)."""

    owner_id: UUID | None = None
    department: str | None = None
    everything: bool = False

    def covers(self, certificate: Certificate) -> bool:
        if self.everything:
            return True
        if self.owner_id is not None and certificate.applicant_id == self.owner_id:
            return True
        return self.department is not None and certificate.department == self.department


EVERYTHING = Scope(everything=True)


@dataclass(frozen=True)
class Applied:
    id: UUID
    number: str
    position: int | None  # notification id of the write, for read-your-writes; None on a repeat


@dataclass(frozen=True)
class RecordedChange:
    """One entry of a certificate's history as people see it (who did what, when)."""

    at: datetime
    event: str
    status: str | None
    note: str | None
    actor_role: str | None


@dataclass(frozen=True)
class CertificateDetail:
    certificate: Certificate
    history: list[RecordedChange]


class ProtocolArrivals:
    """Wakes the requests waiting for a protocol number when this process records one."""

    def __init__(self) -> None:
        self._condition = threading.Condition()

    def announce(self) -> None:
        with self._condition:
            self._condition.notify_all()

    def wait(self, timeout: float) -> None:
        with self._condition:
            self._condition.wait(timeout)


class CertificatesApplication(ServiceApplication):
    name = "certificates"
    # The year counter gains one event per application; snapshots keep loading it cheap.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {YearCounter: 100}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        catalogue: Catalogue | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        # First: a catalogue naming an unknown department or placeholder, or fonts that are not
        # installed, stop the service before it touches anything else.
        self.catalogue = catalogue or Catalogue.load()
        super().__init__(env)
        self.renderer = CertificateRenderer(
            self.env.get("CERTIFICATES_FONT_DIR") or DEFAULT_FONT_DIR
        )
        self.municipality_name = self.env.get("MUNICIPALITY_NAME") or DEFAULT_MUNICIPALITY_NAME
        self.public_url = (self.env.get("PORTAL_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")
        self.clock = clock
        self.protocol_arrivals = ProtocolArrivals()
        self.numbering = YearNumbering(YearCounter, self.repository)

    # --- C-1: who may apply, from identity's events ------------------------------------------

    def record_profile(
        self,
        user_id: UUID,
        *,
        complete: bool,
        display_name: str | None,
        afm: str | None,
        identity_version: int,
    ) -> None:
        """What identity reported of the user's profile (idempotent; older reports ignored)."""
        self._report(
            user_id,
            lambda a: a.report_profile(complete, display_name, afm, identity_version),
        )

    def record_verification(self, user_id: UUID, *, verified: bool, identity_version: int) -> None:
        """An in-person verification (ID-3) or its revocation (idempotent; older ignored)."""
        self._report(user_id, lambda a: a.report_verification(verified, identity_version))

    def _report(self, user_id: UUID, change: Callable[[Applicant], None]) -> None:
        def attempt() -> None:
            applicant = self._applicant(user_id) or Applicant(user_id=user_id)
            change(applicant)
            if applicant.pending_events:
                self.save(applicant)

        self.retrying(attempt)

    def _applicant(self, user_id: UUID) -> Applicant | None:
        return self.find(applicant_id_for(user_id), Applicant)

    def check_eligible(self, user_id: UUID) -> Applicant:
        """C-1: ProfileIncomplete (also when identity has said nothing yet), NotVerified."""
        applicant = self._applicant(user_id)
        if applicant is None:
            raise ProfileIncomplete(str(user_id))
        applicant.check_eligible()
        return applicant

    # --- C-2, C-3: applications ----------------------------------------------------------------

    def apply_civil_registry(
        self,
        *,
        applicant_id: UUID,
        certificate_type: str,
        details: str,
        delivery_method: str,
        delivery_address: str | None = None,
        idempotency_key: str | None = None,
    ) -> Applied:
        """C-2: a civil-registry certificate of a type of the catalogue."""
        errors: dict[str, str] = {}
        typed = self.catalogue.civil_registry_type(certificate_type)
        if typed is None:
            known = ", ".join(self.catalogue.civil_registry)
            errors["certificate_type"] = f"unknown; one of: {known}"
        return self._apply(
            applicant_id=applicant_id,
            certificate_type=typed,
            tap_property=None,
            details=details,
            delivery_method=delivery_method,
            delivery_address=delivery_address,
            idempotency_key=idempotency_key,
            errors=errors,
        )

    def apply_tap(
        self,
        *,
        applicant_id: UUID,
        property_address: str,
        electricity_supply_number: str,
        area_m2: float,
        details: str,
        delivery_method: str,
        delivery_address: str | None = None,
        idempotency_key: str | None = None,
    ) -> Applied:
        """C-3: a TAP certificate for a property (address, supply number, area)."""
        errors: dict[str, str] = {}
        address = property_address.strip()
        if not address or len(address) > ADDRESS_MAX:
            errors["property.address"] = f"required, at most {ADDRESS_MAX} characters"
        try:
            supply_number = normalise_supply_number(electricity_supply_number)
        except ValueError as exc:
            errors["property.electricity_supply_number"] = str(exc)
            supply_number = ""
        if not 0 < area_m2 <= AREA_MAX_M2:
            errors["property.area_m2"] = f"must be more than 0 and at most {AREA_MAX_M2}"
        return self._apply(
            applicant_id=applicant_id,
            certificate_type=self.catalogue.tap,
            tap_property={
                "address": address,
                "electricity_supply_number": supply_number,
                "area_m2": area_m2,
            },
            details=details,
            delivery_method=delivery_method,
            delivery_address=delivery_address,
            idempotency_key=idempotency_key,
            errors=errors,
        )

    def _apply(
        self,
        *,
        applicant_id: UUID,
        certificate_type: CertificateType | None,
        tap_property: dict[str, Any] | None,
        details: str,
        delivery_method: str,
        delivery_address: str | None,
        idempotency_key: str | None,
        errors: dict[str, str],
    ) -> Applied:
        applicant = self.check_eligible(applicant_id)
        details = details.strip()
        if not details or len(details) > DETAILS_MAX:
            errors["details"] = f"required, at most {DETAILS_MAX} characters"
        method = self.catalogue.delivery_methods.get(delivery_method)
        address = _delivery_address(method, delivery_address, errors)
        if method is None:
            known = ", ".join(self.catalogue.delivery_methods)
            errors["delivery_method"] = f"unknown; one of: {known}"
        if errors or certificate_type is None or method is None:
            raise ApplicationInvalid(errors)
        command = {
            "command": "apply",
            "certificate_type": certificate_type.code,
            "property": tap_property,
            "details": details,
            "delivery_method": method.code,
            "delivery_address": address,
        }
        year = self.clock().astimezone(MUNICIPALITY_TZ).year

        def create(number: str) -> tuple[list[Any], dict[str, Any]]:
            certificate = Certificate(
                number=number,
                kind=certificate_type.kind.value,
                certificate_type=certificate_type.code,
                title=certificate_type.name,
                department=certificate_type.department,
                applicant_id=applicant_id,
                applicant_name=applicant.display_name,
                applicant_afm=applicant.afm,
                details=details,
                tap_property=tap_property,
                delivery_method=method.code,
                delivery_address=address,
            )
            # C-4: asked for in the same transaction, so an application is never without it.
            certificate.request_protocol()
            return [certificate], {"id": str(certificate.id), "number": certificate.number}

        idempotency = Idempotency.of(applicant_id, idempotency_key, command)
        written = self.save_numbered(idempotency, self.numbering, year, create)
        return Applied(UUID(written.result["id"]), written.result["number"], written.position)

    # --- C-4: the protocol registry's outcomes, from the consumer ----------------------------

    def record_protocol(self, certificate_id: UUID, number: str, protocol_date: str) -> None:
        """Idempotent: the same number again records nothing; a different number for a
        certificate that has one is logged as an error and not recorded (never two numbers)."""
        try:
            self._change(
                certificate_id, EVERYTHING, lambda c: c.record_protocol(number, protocol_date)
            )
        except ProtocolNumberConflict as error:
            log.error(
                "protocol_number_conflict", certificate_id=str(certificate_id), error=str(error)
            )
            return
        self.protocol_arrivals.announce()

    def mark_protocol_pending(self, certificate_id: UUID, attempts: int, reason: str) -> None:
        self._change(
            certificate_id, EVERYTHING, lambda c: c.mark_protocol_pending(attempts, reason)
        )

    def wait_for_protocol(self, certificate_id: UUID, timeout: float) -> Certificate:
        """The certificate once it has its protocol number, or as it is after `timeout`
        seconds. Blocks the calling (worker) thread, never an event loop."""
        deadline = time.monotonic() + timeout
        while True:
            certificate = self.get_certificate(certificate_id, scope=EVERYTHING)
            remaining = deadline - time.monotonic()
            if certificate.protocol_number is not None or remaining <= 0:
                return certificate
            self.protocol_arrivals.wait(min(remaining, PROTOCOL_POLL_SECONDS))

    # --- C-5: clerks --------------------------------------------------------------------------

    def change_status(
        self, certificate_id: UUID, status: Status, note: str | None, *, scope: Scope
    ) -> int | None:
        """Along ALLOWED_TRANSITIONS (TransitionNotAllowed otherwise)."""
        return self._change(certificate_id, scope, lambda c: c.change_status(Status(status), note))

    def reply(
        self,
        certificate_id: UUID,
        text: str,
        *,
        scope: Scope,
        replied_by: UUID,
        idempotency_key: str | None = None,
    ) -> int | None:
        """Record the municipality's reply; with a key (the clerk's), a repeat records none."""
        command = {"command": "reply", "certificate_id": str(certificate_id), "text": text}

        def create() -> tuple[list[Any], dict[str, Any]]:
            certificate = self.get_certificate(certificate_id, scope=scope)
            certificate.answer(text)
            return [certificate], {"certificate_id": str(certificate_id)}

        idempotency = Idempotency.of(replied_by, idempotency_key, command)
        return self.save_once(idempotency, create).position

    def issue(
        self, certificate_id: UUID, *, scope: Scope, issued_by: UUID, documents: DocumentStore
    ) -> int | None:
        """Make the PDF, store it, then record `Issued` with its hash and verification code.

        TransitionNotAllowed once issued or rejected; ProtocolPending without a protocol
        number (the paper must carry it)."""

        def attempt() -> int | None:
            certificate = self.get_certificate(certificate_id, scope=scope)
            certificate.check_issuable()
            code = new_verification_code()
            content = self.renderer.render(
                self._printed(certificate, code, self.clock().astimezone(MUNICIPALITY_TZ).date())
            )
            sha256 = hashlib.sha256(content).hexdigest()
            documents.store(certificate.id, sha256, content)
            certificate.issue(verification_code=code, document_sha256=sha256, issued_by=issued_by)
            recordings = self.save(
                VerificationCode(code=code, certificate_id=certificate.id), certificate
            )
            return recordings[-1].notification.id

        return self.retrying(attempt)

    def reject(
        self, certificate_id: UUID, reason: str, *, scope: Scope, rejected_by: UUID
    ) -> int | None:
        return self._change(
            certificate_id, scope, lambda c: c.reject(reason=reason, rejected_by=rejected_by)
        )

    def _printed(self, certificate: Certificate, code: str, issue_date: date) -> PrintedCertificate:
        typed = (
            self.catalogue.tap
            if certificate.kind == Kind.TAP
            else self.catalogue.civil_registry[certificate.certificate_type]
        )
        values = {
            "municipality_name": self.municipality_name,
            "applicant_name": certificate.applicant_name or "—",
            "applicant_afm": certificate.applicant_afm or "—",
            "title": certificate.title,
            "number": certificate.number,
            "details": certificate.details,
        }
        if certificate.tap_property is not None:
            prop = certificate.tap_property
            values |= {
                "property_address": prop["address"],
                "electricity_supply_number": prop["electricity_supply_number"],
                "area_m2": f"{prop['area_m2']:g}".replace(".", ","),
            }
        assert certificate.protocol_number is not None and certificate.protocol_date is not None
        return PrintedCertificate(
            municipality_name=self.municipality_name,
            department_name=department(certificate.department).name_el,
            title=certificate.title,
            body=typed.render(values),
            number=certificate.number,
            protocol_number=certificate.protocol_number,
            protocol_date=date.fromisoformat(certificate.protocol_date),
            issue_date=issue_date,
            verification_code=code,
            verification_url=self.verification_url(code),
        )

    def verification_url(self, code: str) -> str:
        return f"{self.public_url}/certificates/verify/{code}"

    # --- queries --------------------------------------------------------------------------------

    def get_certificate(self, certificate_id: UUID, *, scope: Scope) -> Certificate:
        """The certificate if the caller may see it; else CertificateNotFound."""
        return self.load(
            certificate_id, Certificate, not_found=CertificateNotFound, visible=scope.covers
        )

    def detail(self, certificate_id: UUID, *, scope: Scope) -> CertificateDetail:
        """C-6: the certificate as it is now (from the event store), with its history."""
        certificate, events = self.load_with_history(
            certificate_id, Certificate, not_found=CertificateNotFound, visible=scope.covers
        )
        return CertificateDetail(certificate, [_recorded_change(e) for e in events])

    def document(
        self, certificate_id: UUID, *, scope: Scope, documents: DocumentStore
    ) -> tuple[Certificate, bytes]:
        """The issued document's bytes (NotIssued before; never another version's)."""
        certificate = self.get_certificate(certificate_id, scope=scope)
        if certificate.document_sha256 is None:
            raise NotIssued(str(certificate_id))
        content = documents.fetch(certificate.id, certificate.document_sha256)
        if content is None:  # stored before `Issued` is saved: this is never expected
            raise RuntimeError(f"the document of certificate {certificate_id} is missing")
        return certificate, content

    def verify(self, code: str) -> Certificate:
        """The issued certificate a verification code names, typed in any case and with or
        without its hyphens; VerificationCodeUnknown otherwise."""
        canonical = canonical_verification_code(code)
        if canonical is None:
            raise VerificationCodeUnknown(code)
        record = self.find(verification_code_id(canonical), VerificationCode)
        if record is None:
            raise VerificationCodeUnknown(code)
        return self.get_certificate(record.certificate_id, scope=EVERYTHING)

    # --- helpers -------------------------------------------------------------------------------

    def _change(
        self, certificate_id: UUID, scope: Scope, change: Callable[[Certificate], Any]
    ) -> int | None:
        """Load (within the caller's scope), change, save; the write's position, or None when
        the change recorded nothing."""
        return self.changing(
            lambda: self.get_certificate(certificate_id, scope=scope), change
        ).position


def _delivery_address(
    method: DeliveryMethod | None, address: str | None, errors: dict[str, str]
) -> str | None:
    """The postal address, for methods that need one (and only for them)."""
    address = (address or "").strip() or None
    if method is None:
        return address
    if method.needs_address and address is None:
        errors["delivery_address"] = f"required for delivery by {method.code}"
    elif not method.needs_address and address is not None:
        errors["delivery_address"] = f"not used for delivery by {method.code}; leave it out"
    elif address is not None and len(address) > ADDRESS_MAX:
        errors["delivery_address"] = f"at most {ADDRESS_MAX} characters"
    return address


_STATUS_OF = {
    "Applied": Status.SUBMITTED.value,
    "Issued": Status.ISSUED.value,
    "Rejected": Status.REJECTED.value,
}


def _recorded_change(domain_event: Any) -> RecordedChange:
    actor = event_metadata(domain_event).get("actor") or {}
    name = event_name(domain_event)
    return RecordedChange(
        at=domain_event.timestamp,
        event=name,
        status=_STATUS_OF.get(name) or getattr(domain_event, "status", None),
        # A rejection's reason is its note; a registry failure's reason stays internal.
        note=domain_event.reason if name == "Rejected" else getattr(domain_event, "note", None),
        actor_role=actor.get("role"),
    )
