"""Scenario 6: a rolling restart. Both processes get SIGTERM, one after the other, each started
again before the next goes, as a deploy does, while the hall keeps working.

A restart is not a fault of the client: devices must see 1012 (or a dropped connection) and come
back, never a code that tells a client to give up (1003, 1008, 1009, 4003); nothing is lost.
"""

from __future__ import annotations

import asyncio

import pytest
from faults.world import MakeWorld
from support import workload
from support.tablets import TERMINAL
from support.workload import brainstorm, seconds


@pytest.mark.slow
async def test_rolling_restart_of_both_processes(make_world: MakeWorld) -> None:
    world = await make_world(tables=3, processes=2)
    fac = await world.with_facilitator()
    tablets = await world.join(per_table=5)
    await fac.start_activity("a1")
    load = asyncio.ensure_future(workload.run(tablets, brainstorm, seconds(16), rate=2.0))
    for server in world.servers:
        await asyncio.sleep(seconds(3))
        await asyncio.to_thread(server.restart)
    await load
    codes = sorted({code for t in world.everyone for code, _ in t.ledger.closes if code is not None})
    moves = sum(len(t.ledger.reconnects) - 1 for t in world.everyone)
    fig = await world.verdict("6 rolling restart (SIGTERM both)",
                              extra={"close_codes": "/".join(map(str, codes)), "reconnects": moves})
    fig.assert_clean()
    assert 1012 in codes, "uvicorn's shutdown should say 'restarting'"
    assert not set(codes) & TERMINAL
    assert all(t.connected for t in world.everyone)
    assert fig.recovered >= len(world.everyone), "every device was on a restarted process at some point"
