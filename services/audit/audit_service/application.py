"""The audit service's Application (SPEC X-1): its own events (the auditors' reads, the history
verifications) and the archive's queries (cases, export, checkpoints).

The archive lives in the same database as the Application's events (`archive.Archive`, on the
Application's datastore); with in-memory persistence (unit tests) there is none, and only the
commands work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from portal_events.application import ServiceApplication

from audit_service.archive import Archive, CaseRoot, Checkpoint, ExportFilter
from audit_service.domainmodel import AuditorRead, CaseNotFound, ReadKind, Verification


class AuditApplication(ServiceApplication):
    name = "audit"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        datastore = getattr(self.recorder, "datastore", None)
        self._archive = Archive(datastore) if isinstance(datastore, PostgresDatastore) else None

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            raise RuntimeError("the archive needs PostgreSQL persistence")
        return self._archive

    # --- commands ------------------------------------------------------------------------------

    def record_read(
        self,
        *,
        auditor_id: UUID,
        auditor_role: str,
        kind: ReadKind,
        case: str | None = None,
        case_aggregate_id: UUID | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> int:
        """Record that an auditor read the history (before they get the answer); the position
        of the record (for read-your-writes). `query` values are kept as text, absent ones
        left out."""
        read = AuditorRead(
            auditor_id=auditor_id,
            auditor_role=auditor_role,
            kind=kind.value,
            case=case,
            case_aggregate_id=case_aggregate_id,
            query={name: str(value) for name, value in (query or {}).items() if value is not None},
        )
        return self.save(read)[-1].notification.id

    def record_verification(
        self,
        service: str,
        position: int,
        events: int,
        ok: bool,
        problem: str | None,
        events_per_second: float,
    ) -> None:
        """Record one verification of `service`'s chain (the CLI's `verify`), for
        `GET /audit/integrity`."""
        self.save(
            Verification(
                service=service,
                position=position,
                events=events,
                ok=ok,
                problem=problem,
                events_per_second=events_per_second,
            )
        )

    # --- queries -------------------------------------------------------------------------------

    def case_root(self, reference: str) -> CaseRoot:
        """The root aggregate of the case `reference` (an aggregate id or human number) names;
        CaseNotFound when nothing archived does."""
        root = self.archive.find_root(reference)
        if root is None:
            raise CaseNotFound(reference)
        return root

    def case_history(self, root: CaseRoot) -> list[dict[str, Any]]:
        """Every event of the case, across services, in causal order."""
        return self.archive.case_events(root)

    def export(self, wanted: ExportFilter) -> Iterator[dict[str, Any]]:
        return self.archive.export(wanted)

    def last_checkpoints(self) -> dict[str, Checkpoint]:
        return self.archive.last_checkpoints()
