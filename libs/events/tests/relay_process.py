"""Runs the outbox relay for the sample application in its own process, so a test can kill it.

With a fourth argument, the process kills itself (SIGKILL: no clean-up of any kind) while it
translates the event of the parcel with that label, i.e. in the middle of a batch whose earlier
messages are already handed to the producer and whose position is not yet recorded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from portal_events.relay import OutboxRelay
from sample_domain import Parcel, ParcelApplication, make_translate


def dying_at(label: str, translate):
    def translate_or_die(domain_event):
        if isinstance(domain_event, Parcel.Registered) and domain_event.label == label:
            os.kill(os.getpid(), signal.SIGKILL)
        return translate(domain_event)

    return translate_or_die


def main(bootstrap: str, topic: str, batch_size: int, die_at: str | None) -> None:
    app = ParcelApplication()  # persistence settings come from the environment
    translate = make_translate(topic)
    relay = OutboxRelay(
        app,
        dying_at(die_at, translate) if die_at else translate,
        source="tests",
        bootstrap_servers=bootstrap,
        batch_size=batch_size,
    )
    asyncio.run(relay.run())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
