"""Contracts, envelope and registry (DESIGN "Between services"; SPEC X-1 for metadata)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from portal_events import schemas
from portal_events.contracts import (
    ProtocolAssignedV1,
    RequestSubmittedV1,
    all_contracts,
    contract_class,
)
from portal_events.envelope import Envelope, wrap


def _submitted() -> RequestSubmittedV1:
    return RequestSubmittedV1(
        request_id=uuid.uuid4(),
        number="2026/000001",
        kind="complaint",
        subject="Λακκούβα στην οδό Ερμού",
        department="technical",
        anonymous=False,
        submitted_by=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
    )


def _wrap(contract, sequence=1, subject="s-1"):
    return wrap(
        contract,
        source="requests",
        subject=subject,
        sequence=sequence,
        occurred_at=datetime.now(UTC),
        metadata={
            "correlation_id": "c-1",
            "causation_id": None,
            "actor": {"id": "u-1", "role": "citizen"},
        },
    )


def test_same_stored_event_gives_same_event_id():
    contract = _submitted()
    assert _wrap(contract).event_id == _wrap(contract).event_id
    assert _wrap(contract).event_id != _wrap(contract, sequence=2).event_id
    assert _wrap(contract).event_id != _wrap(contract, subject="s-2").event_id


def test_envelope_round_trips_and_decodes_its_contract():
    contract = _submitted()
    envelope = Envelope.from_bytes(_wrap(contract).to_bytes())
    assert envelope.type == "RequestSubmitted" and envelope.version == 1
    assert envelope.correlation_id == "c-1"
    assert envelope.actor == {"id": "u-1", "role": "citizen"}
    assert envelope.contract() == contract


def test_unknown_type_or_version_decodes_to_none():
    envelope = _wrap(_submitted()).model_copy(update={"type": "SomethingNew"})
    assert envelope.contract() is None
    assert contract_class("RequestSubmitted", 99) is None


def test_unknown_fields_are_ignored():
    envelope = _wrap(
        ProtocolAssignedV1(
            document_id=uuid.uuid4(),
            document_type="request",
            protocol_number="2026/000007",
            protocol_date=date(2026, 11, 25),
        )
    )
    envelope.data["added_later"] = "ignored by old consumers"
    decoded = Envelope.from_bytes(envelope.to_bytes()).contract()
    assert decoded.protocol_number == "2026/000007"


@pytest.mark.parametrize("contract", all_contracts(), ids=lambda c: f"{c.TYPE}.v{c.VERSION}")
def test_contract_schemas_match_snapshots(contract):
    """A contract changed by accident fails here; an intended additive change re-runs
    `python -m portal_events.schemas` and commits the new snapshot."""
    path = schemas.snapshot_path(contract)
    assert path.exists(), f"no snapshot for {contract.__name__}"
    assert schemas.render(contract) == path.read_text(encoding="utf-8")


def test_every_snapshot_has_a_contract():
    expected = {schemas.snapshot_path(c).name for c in all_contracts()}
    assert {p.name for p in schemas.SNAPSHOT_DIR.glob("*.json")} == expected
