"""Background loops are restarted after a failure and report their health."""

from __future__ import annotations

import asyncio

from portal_events.background import BackgroundLoops


def test_a_failing_loop_is_restarted_and_reported_down_meanwhile():
    async def scenario():
        runs = []
        release = asyncio.Event()

        async def flaky() -> None:
            runs.append(len(runs))
            if len(runs) == 1:
                raise ConnectionError("Kafka not reachable yet")
            await release.wait()

        loops = BackgroundLoops(first_delay=0.2)
        loops.start("relay", flaky)
        check = loops.health_checks()["relay"]
        await asyncio.sleep(0.05)
        down_while_waiting = check()
        await asyncio.sleep(0.3)
        up_after_restart = check()
        await loops.stop()
        return runs, down_while_waiting, up_after_restart

    runs, down_while_waiting, up_after_restart = asyncio.run(scenario())
    assert runs == [0, 1]
    assert down_while_waiting is False
    assert up_after_restart is True
