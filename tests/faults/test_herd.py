"""Scenario 11: a thundering herd. 300 devices on one process; it is SIGKILLed and all of them
reconnect to the other at once (each with its own jitter and backoff).

The surviving process must take the herd without losing or doubling anything: the handshake
limits (a burst of 200 from one address, then 50 a second: every simulated tablet shares
127.0.0.1, as a hall behind one NAT does) refuse some at first, and those must come back after
their backoff. Every device must be back, caught up and equal to the server; the figures show
how long the herd took to settle (catch-up p50/p99).
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from faults.world import MakeWorld
from support import workload
from support.tablets import Tablet
from support.workload import brainstorm

HERD = int(os.environ.get("SAMLING_HERD") or "300")
TABLES = 30


@pytest.mark.slow
async def test_three_hundred_devices_of_a_killed_process_reconnect(make_world: MakeWorld) -> None:
    world = await make_world(tables=TABLES, processes=2)
    fac = await world.with_facilitator()
    victim, survivor = world.proxies
    herd: list[Tablet] = []
    for table in range(TABLES):  # the herd on the victim, in batches under the handshake limit
        herd += await world.join(per_table=HERD // TABLES, tables=[table], endpoints=[victim, survivor],
                                 start=False, ack_timeout=5.0)
    for i in range(0, len(herd), 50):
        await asyncio.gather(*(t.started(60) for t in herd[i:i + 50]))
        await asyncio.sleep(0.5)
    await fac.start_activity("a1")
    load = asyncio.ensure_future(workload.run(herd, brainstorm, 14, rate=0.25))
    await asyncio.sleep(4)
    on_victim = [t for t in herd if t.ledger.reconnects[-1].url == victim.ws_url]
    assert len(on_victim) >= 0.9 * len(herd), "the herd must start on the process about to die"
    before = {t.name: (len(t.ledger.reconnects), t.ledger.failed_connects) for t in on_victim}
    killed_at = time.monotonic()
    await asyncio.to_thread(world.servers[0].kill)
    try:
        async with asyncio.timeout(90):
            while not all(t.connected and len(t.ledger.reconnects) > before[t.name][0] for t in on_victim):
                await asyncio.sleep(0.1)
    except TimeoutError:
        stuck = [t for t in on_victim if not (t.connected and len(t.ledger.reconnects) > before[t.name][0])]
        raise AssertionError(f"{len(stuck)} not back: " + "; ".join(
            f"{t.name} conn={t.connected} rec={len(t.ledger.reconnects)} failed={t.ledger.failed_connects} "
            f"closes={t.ledger.closes[-2:]} stopped={t.stopped}" for t in stuck[:5])) from None
    back_in = time.monotonic() - killed_at
    await load
    failed = sum(t.ledger.failed_connects - before[t.name][1] for t in on_victim)
    fig = await world.verdict(f"11 thundering herd: {len(on_victim)} devices fail over at once",
                              extra={"all_back_s": round(back_in, 1), "failed_connects": failed})
    fig.assert_clean()
    assert all(t.ledger.reconnects[-1].url == survivor.ws_url for t in herd)
    assert fig.recovered >= len(on_victim)
