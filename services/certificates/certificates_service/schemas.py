"""What the certificates API accepts and answers (SPEC C-1..C-6): request and response models only.

Every string accepted goes through the kit's `text(n)` (NFC, no control characters, stripped,
at most n characters). Catalogue codes are checked by the Application against the catalogue
(data), so that one 422 names every wrong field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from portal_web import ListPage, text
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from certificates_service.application import CertificateDetail
from certificates_service.catalogue import CertificateType, DeliveryMethod
from certificates_service.domainmodel import (
    ADDRESS_MAX,
    AREA_MAX_M2,
    CODE_MAX,
    DETAILS_MAX,
    NOTE_MAX,
    REASON_MAX,
    REPLY_MAX,
    Certificate,
    Kind,
    Status,
    normalise_supply_number,
)

Code = text(CODE_MAX)
Details = text(DETAILS_MAX)
Address = text(ADDRESS_MAX)
Note = text(NOTE_MAX)
ReplyText = text(REPLY_MAX)
Reason = text(REASON_MAX)
SupplyNumber = Annotated[text(32), AfterValidator(normalise_supply_number)]

CERTIFICATE_ID_EXAMPLE = "5d0c1b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
VERIFICATION_CODE_EXAMPLE = "K7QX-M2DA-9PLR-T4WE"


def _id() -> Any:
    return Field(description="The certificate's id", examples=[CERTIFICATE_ID_EXAMPLE])


def _number() -> Any:
    return Field(
        description="Α.Α. of the application, sequential per year", examples=["2026/000042"]
    )


def _kind() -> Any:
    return Field(description="civil_registry or tap", examples=["civil_registry"])


def _certificate_type() -> Any:
    return Field(
        description="A code of the civil-registry catalogue, or `tap`", examples=["family_status"]
    )


def _title() -> Any:
    return Field(
        description="The certificate's name, in Greek",
        examples=["Πιστοποιητικό Οικογενειακής Κατάστασης"],
    )


def _status() -> Any:
    return Field(
        description="submitted, under_review, awaiting_applicant, issued or rejected",
        examples=["under_review"],
    )


def _protocol_status() -> Any:
    return Field(
        description="requested (just asked), pending (the registry is retrying) or assigned",
        examples=["assigned"],
    )


def _department() -> Any:
    return Field(
        description="The department whose clerks handle it (a code of the department catalogue)",
        examples=["civil_registry"],
    )


# --- catalogue -----------------------------------------------------------------------------------


class CertificateTypeSummary(BaseModel):
    """One civil-registry certificate type (C-2)."""

    code: str = Field(examples=["family_status"], description="What to apply with")
    name: str = Field(examples=["Πιστοποιητικό Οικογενειακής Κατάστασης"], description="Greek")
    department: str = _department()

    @classmethod
    def of(cls, certificate_type: CertificateType) -> CertificateTypeSummary:
        return cls(
            code=certificate_type.code,
            name=certificate_type.name,
            department=certificate_type.department,
        )


class CertificateTypeList(BaseModel):
    items: list[CertificateTypeSummary] = Field(description="Every type, in the catalogue's order")


class ServicePointPublic(BaseModel):
    name: str = Field(examples=["ΚΕΠ Κέντρου"])
    address: str = Field(examples=["Αιόλου 20, 10551 Αθήνα"])


class DeliveryMethodPublic(BaseModel):
    """How a certificate reaches the applicant (C-2, C-3)."""

    code: str = Field(examples=["post"])
    name: str = Field(examples=["Ταχυδρομικά, στη διεύθυνση που θα δηλώσετε"])
    needs_address: bool = Field(description="The application must give `delivery_address`")
    service_point: ServicePointPublic | None = Field(
        None, description="Collected in person here; null for other methods"
    )

    @classmethod
    def of(cls, method: DeliveryMethod) -> DeliveryMethodPublic:
        point = method.service_point
        return cls(
            code=method.code,
            name=method.name,
            needs_address=method.needs_address,
            service_point=None if point is None else ServicePointPublic(**vars(point)),
        )


class DeliveryMethodList(BaseModel):
    items: list[DeliveryMethodPublic] = Field(description="Every method, in the catalogue's order")


# --- requests ------------------------------------------------------------------------------------


class _Delivery(BaseModel):
    details: Details = Field(
        description=f"What the certificate is needed for, at most {DETAILS_MAX} characters"
    )
    delivery_method: Code = Field(
        description="A code of `GET /certificates/delivery-methods`", examples=["email"]
    )
    delivery_address: Address | None = Field(
        None,
        description="The postal address: required for methods that need one (`post`), "
        "refused for the others",
    )


class CivilRegistryCertificateCreate(_Delivery):
    """C-2: an application for a civil-registry certificate."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "certificate_type": "family_status",
                    "details": "Για την εγγραφή του παιδιού στο σχολείο.",
                    "delivery_method": "post",
                    "delivery_address": "Ερμού 10, 10563 Αθήνα",
                }
            ]
        }
    )

    certificate_type: Code = Field(
        description="A code of `GET /certificates/civil-registry/types`",
        examples=["family_status"],
    )


class TapProperty(BaseModel):
    """The property a TAP certificate is about (C-3)."""

    address: Address = Field(description="Its address", examples=["Ερμού 10, 10563 Αθήνα"])
    electricity_supply_number: SupplyNumber = Field(
        description="«Αριθμός Παροχής» as printed on the electricity bill: 12 digits, with or "
        "without the spaces and hyphen (answered in the printed form)",
        examples=["1 12345678-01 2"],
    )
    area_m2: float = Field(
        gt=0, le=AREA_MAX_M2, allow_inf_nan=False, description="Area in m²", examples=[85]
    )


class TapCertificateCreate(_Delivery):
    """C-3: an application for a TAP certificate."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "property": {
                        "address": "Ερμού 10, 10563 Αθήνα",
                        "electricity_supply_number": "1 12345678-01 2",
                        "area_m2": 85,
                    },
                    "details": "Για τη μεταβίβαση του ακινήτου.",
                    "delivery_method": "email",
                }
            ]
        }
    )

    property: TapProperty = Field(description="The property the certificate is about")


class StatusUpdate(BaseModel):
    """C-5: a status change by a clerk, with an optional note."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "awaiting_applicant", "note": "Λείπει έγγραφο"}]}
    )

    status: Literal[Status.UNDER_REVIEW, Status.AWAITING_APPLICANT] = Field(
        description="under_review or awaiting_applicant (issue and reject have their own routes)"
    )
    note: Note | None = Field(None, description=f"Why, at most {NOTE_MAX} characters")


class ReplyCreate(BaseModel):
    """C-5: the municipality's reply to the applicant."""

    text: ReplyText = Field(
        description=f"At most {REPLY_MAX} characters",
        examples=["Θα παραλάβετε το πιστοποιητικό με e-mail."],
    )


class CertificateIssue(BaseModel):
    """C-5: issuing takes nothing but the certificate (an empty object, or no body)."""


class CertificateRejection(BaseModel):
    """C-5: a rejection, with the reason the applicant is told."""

    reason: Reason = Field(
        description=f"At most {REASON_MAX} characters",
        examples=["Δεν προκύπτει εγγραφή στο δημοτολόγιο."],
    )


# --- answers -------------------------------------------------------------------------------------


class ProtocolPublic(BaseModel):
    """The protocol registry's number and date (C-4)."""

    number: str = Field(description="Αριθμός πρωτοκόλλου", examples=["1234"])
    date: dt.date = Field(description="Ημερομηνία πρωτοκόλλου", examples=["2026-03-02"])

    @classmethod
    def of(cls, number: str | None, date: str | dt.date | None) -> ProtocolPublic | None:
        return None if number is None or date is None else cls(number=number, date=date)


class CertificateCreated(BaseModel):
    """The answer to an application (C-2, C-3, C-4)."""

    id: UUID = _id()
    number: str = _number()
    protocol: ProtocolPublic | None = Field(description="Once the registry assigned it")
    protocol_status: Literal["assigned", "pending"] = Field(
        description="assigned, or pending: the number arrives later, automatically",
        examples=["assigned"],
    )

    @classmethod
    def of(cls, certificate: Certificate) -> CertificateCreated:
        protocol = ProtocolPublic.of(certificate.protocol_number, certificate.protocol_date)
        return cls(
            id=certificate.id,
            number=certificate.number,
            protocol=protocol,
            protocol_status="assigned" if protocol is not None else "pending",
        )


class CertificateSummary(BaseModel):
    """One line of a list (C-5, C-6)."""

    id: UUID = _id()
    number: str = _number()
    kind: Kind = _kind()
    certificate_type: str = _certificate_type()
    title: str = _title()
    department: str = _department()
    status: Status = _status()
    protocol: ProtocolPublic | None = Field(None, description="Once the registry assigned it")
    protocol_status: str | None = _protocol_status()
    submitted_at: dt.datetime = Field(
        description="When it was applied for (UTC)", examples=["2026-03-02T10:15:00Z"]
    )

    @classmethod
    def of(cls, row: dict[str, Any]) -> CertificateSummary:
        return cls(
            id=row["id"],
            number=row["number"],
            kind=row["kind"],
            certificate_type=row["certificate_type"],
            title=row["title"],
            department=row["department"],
            status=row["status"],
            protocol=ProtocolPublic.of(row["protocol_number"], row["protocol_date"]),
            protocol_status=row["protocol_status"],
            submitted_at=row["submitted_at"],
        )


class CertificateSummaryPage(ListPage[CertificateSummary]):
    """A page of certificates, newest first (SPEC C-5, C-6)."""


class HistoryEntry(BaseModel):
    """One recorded change of the certificate (every change is kept)."""

    at: dt.datetime = Field(description="When it happened (UTC)", examples=["2026-03-02T10:15:00Z"])
    event: str = Field(
        description="What happened: the event's stable name (Applied, ProtocolRequested, "
        "ProtocolPending, ProtocolAssigned, StatusChanged, Replied, Issued, Rejected)",
        examples=["StatusChanged"],
    )
    status: Status | None = Field(None, description="The status after it, if it set one")
    note: str | None = Field(None, description="A clerk's note, or a rejection's reason")
    actor_role: str | None = Field(None, description="The role of whoever made the change")


class PropertyPublic(BaseModel):
    """The property of a TAP application (C-3)."""

    address: str = Field(examples=["Ερμού 10, 10563 Αθήνα"])
    electricity_supply_number: str = Field(
        description="In its printed form", examples=["1 12345678-01 2"]
    )
    area_m2: float = Field(description="Area in m²", examples=[85])


class CertificatePublic(BaseModel):
    """One certificate, read from the event store: always the latest state (C-6)."""

    id: UUID = _id()
    number: str = _number()
    kind: Kind = _kind()
    certificate_type: str = _certificate_type()
    title: str = _title()
    department: str = _department()
    details: str = Field(description="What it is needed for, as the applicant wrote")
    property: PropertyPublic | None = Field(None, description="TAP only")
    delivery_method: str = Field(examples=["email"])
    delivery_address: str | None = Field(
        None, description="The postal address, for delivery by post", examples=["Ερμού 10, Αθήνα"]
    )
    status: Status = _status()
    reply: str | None = Field(None, description="The municipality's latest reply")
    rejection_reason: str | None = Field(None, description="Once rejected")
    protocol: ProtocolPublic | None = Field(None, description="Once the registry assigned it")
    protocol_status: str | None = _protocol_status()
    verification_code: str | None = Field(
        None,
        description="Once issued: the code printed on the document, checked at "
        "`GET /certificates/verify/{code}`",
        examples=[VERIFICATION_CODE_EXAMPLE],
    )
    issued_at: dt.datetime | None = Field(None, description="Once issued (UTC)")
    submitted_at: dt.datetime = Field(description="When it was applied for (UTC)")
    history: list[HistoryEntry] = Field(description="Every change, oldest first")

    @classmethod
    def of(cls, detail: CertificateDetail) -> CertificatePublic:
        c = detail.certificate
        return cls(
            id=c.id,
            number=c.number,
            kind=c.kind,
            certificate_type=c.certificate_type,
            title=c.title,
            department=c.department,
            details=c.details,
            property=None if c.tap_property is None else PropertyPublic(**c.tap_property),
            delivery_method=c.delivery_method,
            delivery_address=c.delivery_address,
            status=c.status,
            reply=c.reply,
            rejection_reason=c.rejection_reason,
            protocol=ProtocolPublic.of(c.protocol_number, c.protocol_date),
            protocol_status=c.protocol_status,
            verification_code=c.verification_code,
            issued_at=c.issued_at,
            submitted_at=c.created_on,
            history=[HistoryEntry(**vars(change)) for change in detail.history],
        )


class VerificationResult(BaseModel):
    """What anyone holding the paper may check (C-5): no personal data beyond initials."""

    authentic: Literal[True] = Field(description="Issued by the municipality, as printed")
    number: str = _number()
    certificate_type: str = _certificate_type()
    title: str = _title()
    issued_at: dt.datetime = Field(description="When it was issued (UTC)")
    protocol: ProtocolPublic = Field(description="The protocol number and date it carries")
    holder_initials: str | None = Field(description="The holder's initials", examples=["Ε. Π."])
