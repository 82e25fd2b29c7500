"""Scenario 19: a soak. Devices come and go for minutes (tablets sleeping, waking, reloading)
while their tables work; after a warm-up, the server processes' memory, their number of asyncio
tasks and Redis's key count must stay flat: nothing a device leaves behind may pile up.

A few minutes in CI; longer with SAMLING_FAULT_SCALE (e.g. 10 for half an hour).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from faults.world import MakeWorld
from support import workload
from support.client import healthz
from support.oracle import proc_status
from support.workload import brainstorm, seconds

SAMPLE_EVERY = 5.0  # s


async def sample(world: Any) -> dict[str, float]:
    tasks = sum([int((await healthz(s.url))["tasks"]) for s in world.servers])
    rss = sum(proc_status(s.proc.pid).get("VmRSS", 0) for s in world.servers) / 1024
    async with aioredis.Redis.from_url(world.redis_url) as r:
        keys = int(await r.dbsize())
    return {"rss_mb": rss, "tasks": tasks, "keys": keys, "at": time.monotonic()}


async def key_names(url: str) -> set[str]:
    async with aioredis.Redis.from_url(url) as r:
        return {k.decode() async for k in r.scan_iter(count=1000)}


async def churn(world: Any, until: float) -> int:
    """Every second a few tablets drop and come back (as if asleep, or reloaded)."""
    cycles = 0
    tablets = world.tablets
    while time.monotonic() < until:
        chosen = tablets[cycles % len(tablets)::7]
        for t in chosen[: len(chosen) // 2]:
            t.reconnect()
        for t in chosen[len(chosen) // 2:]:
            await t.go_offline()
        await asyncio.sleep(0.5)
        for t in chosen:
            t.go_online()
        await asyncio.sleep(0.5)
        cycles += 1
    return cycles


@pytest.mark.slow
async def test_a_churning_hall_leaves_nothing_behind(make_world: MakeWorld) -> None:
    world = await make_world(tables=4, processes=2)
    fac = await world.with_facilitator()
    tablets = await world.join(per_table=6)
    await fac.start_activity("a1")
    length = seconds(100)
    until = time.monotonic() + length
    samples: list[dict[str, float]] = []

    names_warm: set[str] = set()

    async def watch() -> None:
        nonlocal names_warm
        while time.monotonic() < until:
            samples.append(await sample(world))
            if not names_warm and time.monotonic() > until - length * 0.7:
                names_warm = await key_names(world.redis_url)
            await asyncio.sleep(SAMPLE_EVERY)

    load = workload.run(tablets, brainstorm, length, rate=1.0)
    _, cycles, _ = await asyncio.gather(load, churn(world, until), watch())
    await asyncio.sleep(3)  # the churn's last sockets close
    samples.append(await sample(world))
    names_at_end = await key_names(world.redis_url)
    warm = [s for s in samples if s["at"] >= samples[0]["at"] + length * 0.3]
    first, last = warm[0], warm[-1]
    growth = {k: last[k] - first[k] for k in ("rss_mb", "tasks", "keys")}
    fig = await world.verdict("19 soak: devices churning", extra={
        "cycles": cycles, "rss_growth_mb": round(growth["rss_mb"], 1), "tasks_growth": growth["tasks"],
        "keys_growth": growth["keys"], "new_keys": len(names_at_end - names_warm), "samples": len(samples)})
    fig.assert_clean()
    assert cycles >= length * 0.8 and fig.recovered > cycles
    # the only keys a steady hall may still add are each room's first snapshot (one per room, ever)
    new_keys = names_at_end - names_warm
    assert all(":snap:" in k for k in new_keys) and len(new_keys) <= 5, new_keys
    assert abs(growth["tasks"]) <= 10, samples
    assert growth["rss_mb"] < 20, samples
