"""The certificates service's side of Kafka: what it publishes and what it consumes.

Publishes, on `certificates.certificate.events`: the certificate's public events
(CertificateApplied, StatusChanged, Replied, Issued, Rejected) and `ProtocolRequestedV1` (C-4),
which the protocol service consumes. Applicants, year counters, verification codes and the
registry's outcomes (which came from the protocol service in the first place) stay private.

Consumes, on `identity.user.events`: ProfileUpdated, UserVerified, VerificationRevoked (C-1: who
may apply), ordered by the user aggregate's version (`envelope.sequence`); on
`protocol.registration.events`: ProtocolAssigned and ProtocolRegistrationPending for our own
document types (C-4), handled idempotently by the certificate's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal_events.consumer import Handler, refusing_domain_errors
from portal_events.contracts import (
    CertificateAppliedV1,
    CertificateIssuedV1,
    CertificateRejectedV1,
    CertificateRepliedV1,
    CertificateStatusChangedV1,
    Contract,
    ProfileUpdatedV1,
    ProtocolAssignedV1,
    ProtocolRegistrationPendingV1,
    UserVerifiedV1,
    VerificationRevokedV1,
)
from portal_events.envelope import Envelope
from portal_events.protocol import protocol_outcome_handlers, protocol_requested

from certificates_service.application import CertificatesApplication
from certificates_service.domainmodel import Certificate, CertificatesError, Kind

# How the protocol registry knows our documents (ProtocolRequestedV1.document_type).
DOCUMENT_TYPES = frozenset(kind.document_type for kind in Kind)


def _common(e: Any) -> dict[str, Any]:
    return {
        "certificate_id": e.originator_id,
        "number": e.number,
        "kind": e.kind,
        "applicant_id": e.applicant_id,
        "department": e.department,
    }


def _applied(e: Any) -> Contract:
    return CertificateAppliedV1(
        **_common(e),
        certificate_type=e.certificate_type,
        title=e.title,
        applicant_name=e.applicant_name,
        delivery_method=e.delivery_method,
        applied_at=e.timestamp,
    )


def _status_changed(e: Any) -> Contract:
    return CertificateStatusChangedV1(
        **_common(e), status=e.status, note=e.note, changed_at=e.timestamp
    )


def _replied(e: Any) -> Contract:
    return CertificateRepliedV1(**_common(e), replied_at=e.timestamp)


def _issued(e: Any) -> Contract:
    return CertificateIssuedV1(
        **_common(e),
        certificate_type=e.certificate_type,
        title=e.title,
        document_sha256=e.document_sha256,
        issued_by=e.issued_by,
        issued_at=e.timestamp,
    )


def _rejected(e: Any) -> Contract:
    return CertificateRejectedV1(
        **_common(e), reason=e.reason, rejected_by=e.rejected_by, rejected_at=e.timestamp
    )


def _protocol_requested(e: Any) -> Contract:
    return protocol_requested(e, e.document_type)


PUBLIC_EVENTS: dict[type[Any], Callable[[Any], Contract | None]] = {
    Certificate.Applied: _applied,
    Certificate.StatusChanged: _status_changed,
    Certificate.Replied: _replied,
    Certificate.Issued: _issued,
    Certificate.Rejected: _rejected,
    Certificate.ProtocolRequested: _protocol_requested,
}


def handlers(app: CertificatesApplication) -> dict[type[Contract], Handler]:
    """The consumer's handlers (called in a worker thread), each idempotent. An outcome for a
    certificate that does not exist can never be applied: it is refused (dead-lettered at once,
    for a person to look at)."""

    def profile_updated(envelope: Envelope, contract: ProfileUpdatedV1) -> None:
        app.record_profile(
            contract.user_id,
            complete=contract.profile_complete,
            display_name=contract.display_name,
            afm=contract.afm,
            identity_version=envelope.sequence,
        )

    def verified(envelope: Envelope, contract: UserVerifiedV1) -> None:
        app.record_verification(contract.user_id, verified=True, identity_version=envelope.sequence)

    def revoked(envelope: Envelope, contract: VerificationRevokedV1) -> None:
        app.record_verification(
            contract.user_id, verified=False, identity_version=envelope.sequence
        )

    def assigned(envelope: Envelope, contract: ProtocolAssignedV1) -> None:
        if contract.document_type in DOCUMENT_TYPES:
            with refusing_domain_errors(CertificatesError):
                app.record_protocol(
                    contract.document_id,
                    contract.protocol_number,
                    contract.protocol_date.isoformat(),
                )

    def pending(envelope: Envelope, contract: ProtocolRegistrationPendingV1) -> None:
        if contract.document_type in DOCUMENT_TYPES:
            with refusing_domain_errors(CertificatesError):
                app.mark_protocol_pending(contract.document_id, contract.attempts, contract.reason)

    return {
        ProfileUpdatedV1: profile_updated,
        UserVerifiedV1: verified,
        VerificationRevokedV1: revoked,
        **protocol_outcome_handlers(app, DOCUMENT_TYPES, CertificatesError),
    }
