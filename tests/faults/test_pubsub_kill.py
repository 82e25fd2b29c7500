"""Scenario 7: Redis drops the processes' pub/sub connections every ~2 s under load
(`CLIENT KILL TYPE pubsub`).

Pub/sub is at-most-once: what is published while a subscriber is reconnecting is gone for that
process. Its devices must still get every event, in order, because the process repairs gaps from
the stored streams (/healthz counts `gaps_repaired` and `catch_ups`). Nothing lost, no device
out of order, every device's fold equal to the server's.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from faults.world import MakeWorld
from support import workload
from support.client import healthz
from support.workload import brainstorm, seconds


@pytest.mark.slow
async def test_pubsub_connections_killed_every_two_seconds(make_world: MakeWorld) -> None:
    world = await make_world(tables=3, processes=2)
    fac = await world.with_facilitator()
    tablets = await world.join(per_table=5)
    await fac.start_activity("a1")
    load = asyncio.ensure_future(workload.run(tablets, brainstorm, seconds(12), rate=3.0))
    killer = aioredis.Redis.from_url(world.redis_url)
    killed = 0
    try:
        while not load.done():
            await asyncio.sleep(2.0)
            killed += int(await killer.client_kill_filter(_type="pubsub"))
    finally:
        await killer.aclose()
    await load
    counters = [await healthz(s.url) for s in world.servers]
    fig = await world.verdict("7 Redis pub/sub killed every 2 s", extra={
        "kills": killed, "gaps_repaired": sum(c["gaps_repaired"] for c in counters),
        "catch_ups": sum(c["catch_ups"] for c in counters)})
    fig.assert_clean()
    assert killed >= 8, "the pub/sub connections must really have been killed, again and again"
    assert fig.extra["catch_ups"] >= killed // 2, "each lost subscription must have led to a catch-up"
