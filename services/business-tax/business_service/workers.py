"""The business service's workers, each over a work list of a read model (a restart loses
nothing; `claim_first` hands each row to one worker at a time, across replicas).

- `Filer` (B-2, B-3): files accepted declarations with the information system and reports paid
  debts to it; while the system is down it records the failed attempt with the next one after an
  exponential backoff. The system is idempotent per declaration and per payment, so a retry
  after a lost answer files or records nothing twice.
- `QuoteExpirer` (B-2): rejects declarations whose quote ran out before any payment started.
- `WarrantSyncer` (B-1): syncs the warrants of every ΑΦΜ it knows, the one synced longest ago
  first; while the system is down it waits for its next poll.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from portal_events import context
from portal_events.background import PollingWorker, RetryPolicy
from portal_web.service import Runtime

from business_service.application import BusinessApplication
from business_service.municipal_system import (
    MUNICIPAL_SYSTEM,
    DebtAlreadyPaid,
    DeclarationAlreadyFiled,
    MunicipalSystem,
    MunicipalSystemUnavailable,
)
from business_service.settings import BusinessSettings
from business_service.views import DeclarationSummaryView, PendingFilingView, WarrantSyncView

log = structlog.get_logger()


def utc_now() -> datetime:
    return datetime.now(UTC)


class Filer(PollingWorker):
    name = "filer"
    actor = context.Actor.system("business-filer")

    def __init__(
        self,
        app: BusinessApplication,
        view: PendingFilingView,
        system: MunicipalSystem,
        policy: RetryPolicy,
        *,
        poll_seconds: float = 1.0,
        concurrency: int = 2,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(poll_seconds=poll_seconds, concurrency=concurrency)
        self.app, self.view, self.system, self.policy, self.clock = app, view, system, policy, clock

    @classmethod
    def of(cls, runtime: Runtime) -> Filer:
        settings: BusinessSettings = runtime.settings
        pending = runtime.read_model(PendingFilingView)
        filer = cls(
            runtime.application,
            pending.view,
            runtime.resources[MUNICIPAL_SYSTEM],
            RetryPolicy(settings.filing_retry_base_seconds, settings.filing_retry_max_seconds),
            poll_seconds=settings.filer_poll_seconds,
            concurrency=settings.filer_concurrency,
        )
        pending.on_applied(filer.wake)  # a new acceptance is filed at once; polling: retries
        return filer

    def process_one(self) -> bool:
        """File or report one due item, if any; True when the system was asked."""
        with self.view.claim_due(self.clock()) as row:
            if row is None:
                return False
            with context.bound(correlation_id=row["correlation_id"], actor=self.actor):
                if row["kind"] == "declaration":
                    return self._file(row["item_id"])
                return self._report(row["item_id"])

    def _next_attempt(self, attempts: int) -> datetime:
        return self.clock() + timedelta(seconds=self.policy.delay(attempts + 1))

    def _not_yet(self, next_attempt_at: datetime | None) -> bool:
        """The aggregate's own next attempt is later: the view has not caught up with the last
        failure yet (without this, a failure would be retried at once until it had)."""
        return next_attempt_at is not None and next_attempt_at > self.clock()

    def _file(self, declaration_id: UUID) -> bool:
        declaration = self.app.unfiled_declaration(declaration_id)
        if declaration is None or self._not_yet(declaration.next_filing_at):
            return False  # the view lags a moment behind the declaration
        try:
            receipt = self.system.file_declaration(self.app.filing_of(declaration))
        except MunicipalSystemUnavailable as exc:
            next_at = self._next_attempt(declaration.filing_attempts)
            self.app.record_filing_failed(declaration_id, str(exc), next_at)
            log.warning(
                "declaration_filing_failed",
                declaration_id=str(declaration_id),
                attempt=declaration.filing_attempts + 1,
                reason=str(exc),
                next_attempt_at=next_at.isoformat(),
            )
        except DeclarationAlreadyFiled as exc:
            if exc.existing_declaration_id == str(declaration_id):
                self._filed_before(declaration_id)
            else:
                self.app.record_filing_refused(declaration_id, str(exc))
                log.error("declaration_filing_refused", declaration_id=str(declaration_id))
        else:
            self.app.record_filed(declaration_id, receipt.receipt, receipt.filed_at)
            log.info("declaration_filed", declaration_id=str(declaration_id))
        return True

    def _filed_before(self, declaration_id: UUID) -> None:
        """The system holds this very declaration (an attempt whose answer was lost filed it)
        but refused it as a second one instead of answering its receipt again: it is filed.
        The system named no receipt, so the declaration's id (its key there too) stands in."""
        self.app.record_filed(declaration_id, str(declaration_id), self.clock())
        log.warning("declaration_filed_before", declaration_id=str(declaration_id))

    def _report(self, debt_uuid: UUID) -> bool:
        debt = self.app.unreported_debt(debt_uuid)
        if debt is None or self._not_yet(debt.next_report_at):
            return False
        assert debt.paid_payment_id is not None and debt.paid_at is not None
        try:
            self.system.record_debt_payment(
                debt.debt_id, debt.paid_payment_id, debt.paid_amount or 0, debt.paid_at
            )
        except MunicipalSystemUnavailable as exc:
            next_at = self._next_attempt(debt.report_attempts)
            self.app.record_debt_report_failed(debt_uuid, str(exc), next_at)
            log.warning("debt_payment_report_failed", debt_id=debt.debt_id, reason=str(exc))
        except DebtAlreadyPaid as exc:
            self.app.record_debt_report_refused(debt_uuid, f"paid already: {exc}")
            log.error("debt_paid_elsewhere", debt_id=debt.debt_id)
        else:
            self.app.record_debt_reported(debt_uuid)
            log.info("debt_payment_reported", debt_id=debt.debt_id)
        return True


class QuoteExpirer(PollingWorker):
    name = "quote-expirer"
    actor = context.Actor.system("business-quote-expirer")

    def __init__(
        self,
        app: BusinessApplication,
        view: DeclarationSummaryView,
        *,
        poll_seconds: float = 30.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(poll_seconds=poll_seconds)
        self.app, self.view, self.clock = app, view, clock

    @classmethod
    def of(cls, runtime: Runtime) -> QuoteExpirer:
        settings: BusinessSettings = runtime.settings
        return cls(
            runtime.application,
            runtime.read_model(DeclarationSummaryView).view,
            poll_seconds=settings.quote_expirer_poll_seconds,
        )

    def process_one(self) -> bool:
        """Reject one declaration whose quote ran out unpaid; True when one was."""
        with self.view.claim_expired_quote(self.clock()) as row:
            if row is None:
                return False
            with context.bound(actor=self.actor):
                return self.app.expire_quote(row["declaration_id"])


class WarrantSyncer(PollingWorker):
    name = "warrant-syncer"
    actor = context.Actor.system("business-warrant-syncer")

    def __init__(
        self,
        app: BusinessApplication,
        view: WarrantSyncView,
        system: MunicipalSystem,
        *,
        interval: timedelta,
        poll_seconds: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(poll_seconds=poll_seconds)
        self.app, self.view, self.system = app, view, system
        self.interval, self.clock = interval, clock

    @classmethod
    def of(cls, runtime: Runtime) -> WarrantSyncer:
        settings: BusinessSettings = runtime.settings
        return cls(
            runtime.application,
            runtime.read_model(WarrantSyncView).view,
            runtime.resources[MUNICIPAL_SYSTEM],
            interval=timedelta(seconds=settings.warrant_sync_interval_seconds),
            poll_seconds=settings.warrant_syncer_poll_seconds,
        )

    def process_one(self) -> bool:
        """Sync the ΑΦΜ due first; True when it was synced (False: none due, or the system is
        down, so the loop waits for its next poll)."""
        with self.view.claim_due(self.clock() - self.interval) as row:
            if row is None:
                return False
            with context.bound(actor=self.actor):
                try:
                    self.app.sync_warrants(row["afm"], self.system, record_sync=True)
                except MunicipalSystemUnavailable as exc:
                    log.warning("warrant_sync_failed", afm=row["afm"], reason=str(exc))
                    return False
            return True
