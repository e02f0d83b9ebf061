"""The audit service's side of Kafka: it publishes nothing and consumes what every service's
sealer publishes (SPEC X-1): each stored event (`StoredEventSealedV1` on `audit.history`) and the
heads of their chains (`HistoryCheckpointV1` on `audit.checkpoints`), into the archive.

Both handlers are idempotent by the archive's primary keys (service and position): a message
delivered again, or a sealer's resend after a crash, inserts nothing.
"""

from __future__ import annotations

from portal_events.consumer import Handler
from portal_events.contracts import Contract, HistoryCheckpointV1, StoredEventSealedV1
from portal_events.envelope import Envelope

from audit_service.application import AuditApplication


def handlers(app: AuditApplication) -> dict[type[Contract], Handler]:
    def stored_event_sealed(envelope: Envelope, contract: StoredEventSealedV1) -> None:
        app.archive.keep_event(contract)

    def history_checkpoint(envelope: Envelope, contract: HistoryCheckpointV1) -> None:
        app.archive.keep_checkpoint(contract)

    return {
        StoredEventSealedV1: stored_event_sealed,
        HistoryCheckpointV1: history_checkpoint,
    }
