"""Runs the outbox relay for the sample application in its own process, so a test can kill it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from portal_events.relay import OutboxRelay
from sample_domain import ParcelApplication, make_translate


def main(bootstrap: str, topic: str, batch_size: int) -> None:
    app = ParcelApplication()  # persistence settings come from the environment
    relay = OutboxRelay(
        app,
        make_translate(topic),
        source="tests",
        bootstrap_servers=bootstrap,
        batch_size=batch_size,
    )
    asyncio.run(relay.run())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
