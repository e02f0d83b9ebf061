"""Every stored event carries who did it and why (SPEC X-1; DESIGN "metadata")."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from portal_events import context
from portal_events.mapper import event_metadata
from sample_domain import Parcel, ParcelApplication


def test_x1_stored_events_carry_actor_correlation_and_causation():
    app = ParcelApplication()
    parcel = Parcel(label="p-1")
    with context.bound(
        correlation_id="corr-1", causation_id="cause-1", actor=context.Actor("u-7", "clerk")
    ):
        app.save(parcel)
    parcel.note("second")
    with context.bound(correlation_id="corr-2", actor=context.Actor.anonymous()):
        app.save(parcel)

    stored = list(app.events.get(parcel.id))
    assert event_metadata(stored[0]) == {
        "actor": {"id": "u-7", "role": "clerk"},
        "correlation_id": "corr-1",
        "causation_id": "cause-1",
    }
    assert event_metadata(stored[1])["actor"] == {"id": "anonymous", "role": "anonymous"}
    assert event_metadata(stored[1])["correlation_id"] == "corr-2"
    # The aggregate itself is rebuilt unaffected by the metadata.
    assert app.repository.get(parcel.id).notes == ["second"]
