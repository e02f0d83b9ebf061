"""The fines service's Application: fines, their quotes and their payments (SPEC F-1..F-6).

Commands and queries only, nothing HTTP. The fines register is passed to the commands that ask
it (it is one of the service's resources); the catalogue comes from the environment
(`FINES_CATALOGUE_PATH`, else the file shipped with the service).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError
from portal_events.application import Idempotency, ServiceApplication, Written
from portal_events.payables import RF_REFERENCE_SHAPE, format_euros

from fines_service.catalogue import Catalogue, FineType, Quote, quote
from fines_service.domainmodel import (
    FINES_DEPARTMENT,
    Fine,
    FineAlreadyPaid,
    FineAlreadyRecorded,
    FineDetailsMismatch,
    FineNotFound,
    FineTypeNotPayable,
    FineTypeUnknown,
    MunicipalityForeign,
    PayerProfile,
    ProfileIncomplete,
    fine_id_for,
    profile_id_for,
)
from fines_service.identifiers import fine_reference, plate_for_display
from fines_service.register import FineNumberTaken, FinesRegister, RegisteredFine

log = structlog.get_logger()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Scope:
    """Which fines a caller sees: the citizen's own (those they hold), or all (clerks of the
    municipal police, admins, auditors). Outside it a fine does not exist (404)."""

    holder_id: UUID | None = None
    everything: bool = False

    def covers(self, fine: Fine) -> bool:
        return self.everything or (self.holder_id is not None and fine.held_by(self.holder_id))


EVERYTHING = Scope(everything=True)


@dataclass(frozen=True)
class LookupResult:
    fine: Fine
    found: bool  # in the register already (F-4); False: registered there by this lookup
    position: int | None


class FinesApplication(ServiceApplication):
    name = "fines"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        catalogue: Catalogue | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(env=env)
        self.catalogue = catalogue or Catalogue.load(self.env.get("FINES_CATALOGUE_PATH"))
        self.clock = clock

    # --- F-1: complete profiles, from identity's events ----------------------------------------

    def record_profile(self, user_id: UUID, complete: bool, identity_version: int) -> None:
        """What identity reported of the user's profile (idempotent, older reports ignored)."""

        def attempt() -> None:
            profile = self.find(profile_id_for(user_id), PayerProfile)
            if profile is None:
                profile = PayerProfile(
                    user_id=user_id, complete=complete, identity_version=identity_version
                )
            else:
                profile.report(complete, identity_version)
            if profile.pending_events:
                self.save(profile)

        self.retrying(attempt)

    def require_complete_profile(self, user_id: UUID) -> None:
        profile = self.find(profile_id_for(user_id), PayerProfile)
        if profile is None or not profile.complete:
            raise ProfileIncomplete(str(user_id))

    # --- F-2: the catalogue --------------------------------------------------------------------

    def check(self, municipality_code: str, fine_type: str) -> FineType:
        """The fine type, if this municipality collects it; else the reason it does not."""
        if municipality_code != self.catalogue.municipality_code:
            raise MunicipalityForeign(municipality_code, self.catalogue.municipality_code)
        payable = [t.code for t in self.catalogue.payable_types]
        known = self.catalogue.fine_types.get(fine_type)
        if known is None:
            raise FineTypeUnknown(fine_type, payable)
        if not known.payable_to_municipality:
            raise FineTypeNotPayable(fine_type, payable)
        return known

    # --- F-4, F-5: look a fine up (registering it if new), quote it ---------------------------

    def lookup(
        self,
        *,
        user_id: UUID,
        municipality_code: str,
        fine_type: str,
        fine_number: str,
        plate: str,
        issued_at: datetime,
        register: FinesRegister,
    ) -> LookupResult:
        """The fine with this number and plate, held by the caller from now on and quoted now.

        Known here: from our own record (the register need not answer). Else asked of the
        register, and registered there if it has no such fine (F-4), then recorded here. The
        register is asked before anything is recorded, so an outage records nothing, and the
        registration's key is the fine's id, so a retry registers nothing twice.
        """
        typed = self.check(municipality_code, fine_type)
        fine_id = fine_id_for(municipality_code, fine_number)
        found = True
        if self.find(fine_id, Fine) is None:
            registered = register.lookup(fine_number, plate)
            if registered is None:
                found = False
                try:
                    registered = register.record(
                        fine_id,
                        fine_number=fine_number,
                        plate=plate,
                        fine_type=typed.code,
                        issued_at=issued_at,
                        amount=typed.amount,
                    )
                except FineNumberTaken:
                    # On record with another plate: not this caller's fine.
                    raise FineDetailsMismatch(fine_number) from None
            self._record_from_register(
                self._new_fine(
                    fine_id, registered, municipality_code, user_id, not found, department=None
                )
            )

        def attempt() -> LookupResult:
            fine = self._get(fine_id)
            if fine.plate != plate:
                raise FineDetailsMismatch(fine_number)
            fine.add_holder(user_id)
            self._requote_if_expired(fine)
            position = self.save(fine)[-1].notification.id if fine.pending_events else None
            return LookupResult(fine, found, position)

        return self.retrying(attempt)

    def register_fine(
        self,
        *,
        clerk_id: UUID,
        fine_type: str,
        fine_number: str,
        plate: str,
        issued_at: datetime,
        register: FinesRegister,
        idempotency: Idempotency | None,
    ) -> Written[dict[str, Any]]:
        """A clerk of the municipal police records a fine ahead of the citizen (in the register,
        then here); FineAlreadyRecorded if its number is on record already."""
        typed = self.check(self.catalogue.municipality_code, fine_type)
        code = self.catalogue.municipality_code
        fine_id = fine_id_for(code, fine_number)

        def create() -> tuple[list[Fine], dict[str, Any]]:
            if self.find(fine_id, Fine) is not None:
                raise FineAlreadyRecorded(fine_number)
            try:
                registered = register.record(
                    fine_id,
                    fine_number=fine_number,
                    plate=plate,
                    fine_type=typed.code,
                    issued_at=issued_at,
                    amount=typed.amount,
                )
            except FineNumberTaken:
                raise FineAlreadyRecorded(fine_number) from None
            fine = self._new_fine(
                fine_id,
                registered,
                code,
                clerk_id,
                registered_here=True,
                department=FINES_DEPARTMENT,
            )
            return [fine], {"fine_id": str(fine_id)}

        return self.save_once(idempotency, create)

    def _record_from_register(self, fine: Fine) -> None:
        # IntegrityError: a concurrent lookup recorded it first (the same fine, same register).
        with contextlib.suppress(IntegrityError):
            self.save(fine)

    def _new_fine(
        self,
        fine_id: UUID,
        registered: RegisteredFine,
        municipality_code: str,
        recorded_by: UUID,
        registered_here: bool,
        department: str | None,
    ) -> Fine:
        """The fine as the register holds it; `department`: the recording staff member's, None
        for a citizen's lookup."""
        known = self.catalogue.fine_types.get(registered.fine_type)
        fine = Fine(
            municipality_code=municipality_code,
            fine_number=registered.fine_number,
            plate=registered.plate,
            fine_type=registered.fine_type,
            description=known.description if known else registered.fine_type,
            issued_at=registered.issued_at,
            base_amount=registered.amount,
            reference=fine_reference(municipality_code, registered.fine_number),
            registered_here=registered_here,
            paid_in_register=registered.paid,
            recorded_by=recorded_by,
            department=department,
        )
        assert fine.id == fine_id, "the register answered for another fine"
        if not fine.paid:
            fine.record_quote(self._quote(fine).as_dict())
        return fine

    def _quote(self, fine: Fine) -> Quote:
        return quote(fine.base_amount, fine.issued_at, self.clock(), self.catalogue.schedule)

    def _requote_if_expired(self, fine: Fine) -> None:
        if not fine.paid and (fine.quote is None or self.clock() >= fine.quote["valid_until"]):
            fine.record_quote(self._quote(fine).as_dict())

    def current_quote(self, fine: Fine) -> dict[str, Any] | None:
        """What the fine costs now (F-5): its last quote while it holds, else a fresh one (not
        recorded); None once paid."""
        if fine.paid:
            return None
        if fine.quote is not None and self.clock() < fine.quote["valid_until"]:
            return fine.quote
        return self._quote(fine).as_dict()

    # --- queries --------------------------------------------------------------------------------

    def fine(self, fine_id: UUID, *, scope: Scope) -> Fine:
        fine = self._get(fine_id)
        if not scope.covers(fine):
            raise FineNotFound(str(fine_id))
        return fine

    def fine_id_by_reference(self, rf: str) -> UUID:
        """The fine an RF code (valid, normalised) identifies; FineNotFound if none of ours."""
        reference, code = rf[4:], self.catalogue.municipality_code
        number = reference.removeprefix(code)
        if number == reference or not RF_REFERENCE_SHAPE.match(number):
            raise FineNotFound(rf)
        return fine_id_for(code, number)

    def _get(self, fine_id: UUID) -> Fine:
        return self.load(fine_id, Fine, not_found=FineNotFound)

    # --- F-6: payments --------------------------------------------------------------------------

    def start_payment(
        self, fine_id: UUID, *, payer_id: UUID, idempotency: Idempotency | None
    ) -> Written[dict[str, Any]]:
        """Start paying the fine: {payment_id, amount}. The caller's payment already open: that
        one again. An expired quote is renewed first and its total is charged (F-5). Raises
        FineNotFound (not a holder), FineAlreadyPaid, PaymentInProgress (another holder's)."""

        def create() -> tuple[list[Fine], dict[str, Any]]:
            fine = self.fine(fine_id, scope=Scope(holder_id=payer_id))
            open_payment = fine.open_payment
            if open_payment is not None and open_payment["payer_id"] == payer_id:
                return [], _payment_result(open_payment["payment_id"], open_payment["amount"])
            if fine.paid:
                raise FineAlreadyPaid(str(fine_id))
            self._requote_if_expired(fine)
            assert fine.quote is not None
            amount = fine.quote["total"]
            payment_id = uuid.uuid4()
            fine.start_payment(payment_id, payer_id, amount, payment_description(fine, amount))
            return [fine], _payment_result(payment_id, amount)

        return self.save_once(idempotency, create)

    def record_payment_completed(
        self, fine_id: UUID, payment_id: UUID, amount: int, completed_at: datetime
    ) -> None:
        """FinePaid, once: a repeated PaymentCompleted records nothing."""

        def change(fine: Fine) -> None:
            recorded = fine.mark_paid(payment_id, amount, completed_at)
            if not recorded and fine.paid_payment_id != payment_id:
                # Payments flags a second success for refund; here it is only noted.
                log.warning(
                    "fine_paid_again",
                    fine_id=str(fine_id),
                    payment_id=str(payment_id),
                    paid_by=str(fine.paid_payment_id),
                )

        self.changing(lambda: self._get(fine_id), change)

    def record_payment_ended(
        self, fine_id: UUID, payment_id: UUID, outcome: str, reason: str | None
    ) -> None:
        """The payment failed or expired: the fine is payable again (if it was that one)."""
        self.changing(
            lambda: self._get(fine_id),
            lambda fine: fine.end_payment(payment_id, outcome, reason),
        )


def _payment_result(payment_id: UUID | str, amount: int) -> dict[str, Any]:
    return {"payment_id": str(payment_id), "amount": amount}


def payment_description(fine: Fine, amount: int) -> str:
    """What the payer reads at the bank: "Πρόστιμο ΚΟΚ 123456 – ΥΖΑ1234 (40,00 €)"."""
    return (
        f"Πρόστιμο ΚΟΚ {fine.fine_number} – {plate_for_display(fine.plate)} "
        f"({format_euros(amount)})"
    )
