"""Scenario 4: a sleeping tablet. Its link goes half-open: the proxy stops forwarding both ways
without closing, as when a tablet's screen locks and its WiFi sleeps mid-session.

The server cannot learn this from TCP; only its WebSocket keepalive can (uvicorn's ping, here
SAMLING_WS_PING=1 so it answers in seconds rather than 40 s). It must then free the device's
task and queue: the facilitator's presence shows the device gone. When the tablet wakes (its
stale socket dies, the network is back), it resumes cleanly and the note it wrote just before
sleeping is stored exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from faults.world import MakeWorld
from support import workload
from support.workload import brainstorm, seconds

PING = 1.0


async def until(check: Callable[[], bool], timeout: float) -> float:
    """Seconds until check() held; TimeoutError after `timeout`."""
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.1)
    return time.monotonic() - start


@pytest.mark.slow
async def test_a_half_open_tablet_is_dropped_by_the_server_and_resumes_cleanly(make_world: MakeWorld) -> None:
    world = await make_world(tables=2, processes=2, env={"SAMLING_WS_PING": str(PING)})
    fac = await world.with_facilitator()
    table1 = await world.join(per_table=4, tables=[0])
    own = await world.own_proxy(server=0)
    sleeper = (await world.join(per_table=1, tables=[1], endpoints=[own, *world.proxies]))[0]
    awake = (await world.join(per_table=1, tables=[1]))[0]
    await fac.start_activity("a1")
    table = sleeper.you["table"]
    await until(lambda: (fac.presence or {}).get(table) == 2, 15)

    load = asyncio.ensure_future(workload.run([*table1, awake], brainstorm, seconds(12), 1.5))
    own.blackhole()
    written = sleeper.submit("note.add", {"note": "zzz", "text": "skrevet lige før dvale"})
    detected = await until(lambda: (fac.presence or {}).get(table) == 1, 4 * PING + 15)
    assert sleeper.ws is not None, "the tablet itself must not have noticed: it is asleep"

    await asyncio.sleep(2)
    own.cut()
    own.restore()
    await sleeper.wait_welcomed(30)
    await until(lambda: (fac.presence or {}).get(table) == 2, 15)
    await load
    fig = await world.verdict("4 sleeping tablet (half-open, ws ping 1 s)",
                              extra={"detected_s": round(detected, 1)})
    fig.assert_clean()
    assert written.id in sleeper.ledger.acked
    assert sleeper.ledger.reconnects[-1].resumed
