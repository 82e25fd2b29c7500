"""Scenario 9: Redis frozen for 10 s (SIGSTOP, then SIGCONT) under load.

A frozen Redis answers nothing and closes nothing: appends, casts and pub/sub all hang. Tablets
time out and resend (each socket handles one frame at a time, so a resend waits behind the frozen
command rather than racing it); the pub/sub reader gives up on its silent connection after two
heartbeats and, once Redis is back, reconnects and catches every room up. When Redis wakes, every
command that was waiting is stored exactly once and every device catches up.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from faults.world import MakeWorld
from support import workload
from support.processes import RedisServer
from support.workload import ballot, brainstorm, mixed, seconds

FROZEN = 10.0


@pytest.mark.slow
async def test_redis_frozen_for_ten_seconds(make_world: MakeWorld, redis_server: RedisServer) -> None:
    world = await make_world(tables=3, processes=2)
    fac = await world.with_facilitator()
    tablets = await world.join(per_table=4)
    await fac.start_activity("a1")
    await fac.open_poll("p1", ["ja", "nej"])
    load = asyncio.ensure_future(workload.run(tablets, mixed((3, brainstorm), (1, ballot("p1", 2))),
                                              FROZEN + seconds(8), rate=1.5))
    await asyncio.sleep(seconds(3))
    assert redis_server.proc is not None
    pid = redis_server.proc.pid
    acked_before = sum(len(t.ledger.acked) for t in tablets)
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(FROZEN)
        waiting = sum(len(t.outbox) for t in tablets)
        acked_frozen = sum(len(t.ledger.acked) for t in tablets) - acked_before
    finally:
        os.kill(pid, signal.SIGCONT)
    await load
    await world.settle_votes()
    await fac.close_poll("p1")
    fig = await world.verdict("9 Redis SIGSTOP 10 s", polls=["p1"],
                              extra={"waiting_at_wake": waiting, "acked_while_frozen": acked_frozen})
    fig.assert_clean()
    assert waiting > 0, "commands must have been held up by the frozen Redis"
    assert acked_frozen <= len(tablets), "nothing can be stored while Redis is frozen (a few were mid-flight)"
    assert all(t.connected for t in world.everyone)
