"""The Fine aggregate (SPEC F-4..F-6) and the payer's profile as identity reports it (F-1).

A fine's id is derived from its municipality's code and its normalised number, so one fine is
one aggregate however often, by whomever and in whichever spelling it is looked up. It is
recorded once the fines register has it (found there, or registered there first), with the
register's details and base amount. Its holders are the users who looked it up with the right
plate: they see it and may pay it. At most one payment is open at a time; `PaymentCompleted`
marks it paid once, and a paid fine starts no payment again (F-6: never paid twice).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event
from portal_events.departments import MUNICIPAL_POLICE

# Fixed forever: ids derived from these namespaces are stored everywhere.
FINE_NAMESPACE = UUID("8d3f0a6c-2b7e-4c1d-9f5a-6e4b3c2d1a09")
PROFILE_NAMESPACE = UUID("5c1e7b2a-9d4f-4a3e-8b6c-0f1d2e3a4b5c")

FineStatus = Literal["payable", "payment_pending", "paid"]

# The department that records fines ahead of citizens (F-4) and follows them up on its worklist
# until they are paid.
FINES_DEPARTMENT = MUNICIPAL_POLICE


class FinesError(Exception):
    """Base of the fines service's domain errors."""


class FineNotFound(FinesError):
    """No such fine, or not one the caller may see."""


class MunicipalityForeign(FinesError):
    """The code is another municipality's: its fines are not paid here (F-2)."""

    def __init__(self, given: str, ours: str) -> None:
        super().__init__(given)
        self.given, self.ours = given, ours


class FineTypeUnknown(FinesError):
    """Not a fine type of this municipality's catalogue."""

    def __init__(self, given: str, payable: list[str]) -> None:
        super().__init__(given)
        self.given, self.payable = given, payable


class FineTypeNotPayable(FineTypeUnknown):
    """A known fine type that is paid elsewhere (e.g. to the State), not to the municipality."""


class FineDetailsMismatch(FinesError):
    """The fine number is on record with another plate (or type): not the caller's fine."""


class FineAlreadyRecorded(FinesError):
    """A clerk registered a fine whose number is already on record."""


class FineAlreadyPaid(FinesError):
    """The fine is paid: no new payment (F-6)."""


class PaymentInProgress(FinesError):
    """Another holder's payment of the fine is open."""


class ProfileIncomplete(FinesError):
    """F-1: the user's profile is not complete (or identity has not told us so yet)."""


class RegisterUnavailable(FinesError):
    """The fines register did not answer (down, slow or failing); nothing was recorded."""


class Fine(Aggregate):
    TOPIC = "fines:Fine"

    class Created(Aggregate.Created):
        # Never stored (Recorded is the created event); the library wants one with a TOPIC.
        TOPIC = "fines:Fine.Created"

    class Recorded(Aggregate.Created):
        """The fine as the register holds it. `registered_here`: the portal registered it
        (not found there, F-4); `recorded_by`: the citizen's or the clerk's id.

        Version 2 adds `department`: the department of the staff member who recorded it (the
        fine is that department's work until paid, X-3); None when a citizen's lookup recorded
        it. Version 1, stored before, reads with None (nothing is announced for it again)."""

        TOPIC = "fines:Fine.Recorded"
        class_version = 2
        municipality_code: str
        fine_number: str
        plate: str
        fine_type: str
        description: str
        issued_at: datetime
        base_amount: int
        reference: str
        registered_here: bool
        paid_in_register: bool
        recorded_by: UUID
        department: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["department"] = None

    class HolderAdded(Aggregate.Event):
        TOPIC = "fines:Fine.HolderAdded"
        user_id: UUID

    class Quoted(Aggregate.Event):
        TOPIC = "fines:Fine.Quoted"
        base: int
        surcharges: int
        total: int
        computed_at: datetime
        valid_until: datetime

    # Payment events repeat what the relay needs, so each translates to its contract alone.
    class PaymentStarted(Aggregate.Event):
        TOPIC = "fines:Fine.PaymentStarted"
        payment_id: UUID
        payer_id: UUID
        amount: int
        description: str
        reference: str

    class PaymentEnded(Aggregate.Event):
        """The open payment failed or expired: the fine is payable again."""

        TOPIC = "fines:Fine.PaymentEnded"
        payment_id: UUID
        outcome: str
        reason: str | None

    class Paid(Aggregate.Event):
        """FinePaid: the bank completed a payment of the fine (F-6)."""

        TOPIC = "fines:Fine.Paid"
        payment_id: UUID
        amount: int
        paid_at: datetime

    @staticmethod
    def create_id(municipality_code: str, fine_number: str, **_: object) -> UUID:
        return fine_id_for(municipality_code, fine_number)

    @event(Recorded)
    def __init__(
        self,
        municipality_code: str,
        fine_number: str,
        plate: str,
        fine_type: str,
        description: str,
        issued_at: datetime,
        base_amount: int,
        reference: str,
        registered_here: bool,
        paid_in_register: bool,
        recorded_by: UUID,
        department: str | None,
    ) -> None:
        self.municipality_code = municipality_code
        self.fine_number = fine_number
        self.plate = plate
        self.fine_type = fine_type
        self.description = description
        self.issued_at = issued_at
        self.base_amount = base_amount
        self.reference = reference
        self.registered_here = registered_here
        self.department = department
        self.holders: list[UUID] = []
        self.quote: dict[str, Any] | None = None
        self.open_payment: dict[str, Any] | None = None
        self.paid = paid_in_register
        self.paid_payment_id: UUID | None = None
        self.paid_at: datetime | None = None

    @property
    def status(self) -> FineStatus:
        if self.paid:
            return "paid"
        return "payment_pending" if self.open_payment is not None else "payable"

    def held_by(self, user_id: UUID) -> bool:
        return user_id in self.holders

    def add_holder(self, user_id: UUID) -> None:
        if user_id not in self.holders:
            self._holder_added(user_id)

    @event(HolderAdded)
    def _holder_added(self, user_id: UUID) -> None:
        self.holders.append(user_id)

    def record_quote(self, quote: dict[str, Any]) -> None:
        self._quoted(**quote)

    @event(Quoted)
    def _quoted(
        self, base: int, surcharges: int, total: int, computed_at: datetime, valid_until: datetime
    ) -> None:
        self.quote = {
            "base": base,
            "surcharges": surcharges,
            "total": total,
            "computed_at": computed_at,
            "valid_until": valid_until,
        }

    def start_payment(
        self, payment_id: UUID, payer_id: UUID, amount: int, description: str
    ) -> None:
        if self.paid:
            raise FineAlreadyPaid(str(self.id))
        if self.open_payment is not None:
            raise PaymentInProgress(str(self.id))
        self._payment_started(payment_id, payer_id, amount, description, self.reference)

    @event(PaymentStarted)
    def _payment_started(
        self, payment_id: UUID, payer_id: UUID, amount: int, description: str, reference: str
    ) -> None:
        self.open_payment = {"payment_id": payment_id, "payer_id": payer_id, "amount": amount}

    def end_payment(self, payment_id: UUID, outcome: str, reason: str | None) -> bool:
        """The payment failed or expired; False (nothing recorded) if it is not the open one
        (a repeat, or news of a payment already settled)."""
        if self.open_payment is None or self.open_payment["payment_id"] != payment_id:
            return False
        self._payment_ended(payment_id, outcome, reason)
        return True

    @event(PaymentEnded)
    def _payment_ended(self, payment_id: UUID, outcome: str, reason: str | None) -> None:
        self.open_payment = None

    def mark_paid(self, payment_id: UUID, amount: int, paid_at: datetime) -> bool:
        """Record the completed payment; False (nothing recorded) when the fine is paid
        already: a repeated PaymentCompleted changes nothing."""
        if self.paid:
            return False
        self._paid(payment_id, amount, paid_at)
        return True

    @event(Paid)
    def _paid(self, payment_id: UUID, amount: int, paid_at: datetime) -> None:
        self.paid = True
        self.paid_payment_id = payment_id
        self.paid_at = paid_at
        self.open_payment = None


class PayerProfile(Aggregate):
    """Whether a user's profile is complete, as identity last said (F-1). Identity's events
    carry the user aggregate's version: an older one arriving late changes nothing."""

    TOPIC = "fines:PayerProfile"

    class Created(Aggregate.Created):
        TOPIC = "fines:PayerProfile.Created"

    class Reported(Aggregate.Created):
        TOPIC = "fines:PayerProfile.Reported"
        user_id: UUID
        complete: bool
        identity_version: int

    class Changed(Aggregate.Event):
        TOPIC = "fines:PayerProfile.Changed"
        complete: bool
        identity_version: int

    @staticmethod
    def create_id(user_id: UUID, **_: object) -> UUID:
        return profile_id_for(user_id)

    @event(Reported)
    def __init__(self, user_id: UUID, complete: bool, identity_version: int) -> None:
        self.user_id = user_id
        self.complete = complete
        self.identity_version = identity_version

    def report(self, complete: bool, identity_version: int) -> None:
        if identity_version > self.identity_version:
            self._changed(complete, identity_version)

    @event(Changed)
    def _changed(self, complete: bool, identity_version: int) -> None:
        self.complete = complete
        self.identity_version = identity_version


def fine_id_for(municipality_code: str, fine_number: str) -> UUID:
    """Stable per (municipality code, normalised fine number)."""
    return uuid5(FINE_NAMESPACE, f"{municipality_code}\n{fine_number}")


def profile_id_for(user_id: UUID) -> UUID:
    return uuid5(PROFILE_NAMESPACE, str(user_id))
