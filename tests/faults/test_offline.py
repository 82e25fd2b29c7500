"""Scenario 3: a device offline while its room moves on, then back.

A tablet loses its network (5 s, 30 s; 2 min with SAMLING_LONG_FAULTS=1) while the rest of its
table keeps writing, and writes notes of its own meanwhile, which wait in its outbox. Back
online it must resume with `since`, have its own notes stored exactly once, and fold to exactly
the server's state. Past the history window (SAMLING_HISTORY=50) the resume must be a snapshot.
"""

from __future__ import annotations

import asyncio

import pytest
from faults.world import LONG, MakeWorld, World
from support import workload
from support.tablets import Tablet
from support.workload import brainstorm, seconds


async def offline_for(t: Tablet, duration: float, notes: int = 3) -> list[str]:
    """Offline for `duration` seconds, writing `notes` notes meanwhile; returns their command ids."""
    await t.go_offline()
    ids = []
    for i in range(notes):
        await asyncio.sleep(duration / (notes + 1))
        ids.append(t.submit("note.add", {"note": f"off{t.name}{i}".replace(".", "-"), "text": f"offline {i}"}).id)
    await asyncio.sleep(duration / (notes + 1))
    t.go_online()
    await t.wait_welcomed(30)
    return ids


def resumes_since(t: Tablet, before: int) -> list[int]:
    """The snapshot counts of the resumes after the first `before` connects."""
    return [r.snapshots for r in t.ledger.reconnects[before:] if r.resumed]


async def scene(world: World, sleepers: list[tuple[Tablet, float]], others: list[Tablet], rate: float) -> list[str]:
    longest = max(d for _, d in sleepers)
    load = asyncio.ensure_future(workload.run(others, brainstorm, longest + 2, rate))
    written = await asyncio.gather(*(offline_for(t, d) for t, d in sleepers))
    await load
    return [i for ids in written for i in ids]


@pytest.mark.slow
async def test_devices_offline_while_the_room_moves_on(make_world: MakeWorld) -> None:
    world = await make_world(tables=2, processes=2)
    fac = await world.with_facilitator()
    tablets = await world.join(per_table=4)
    await fac.start_activity("a1")
    durations = [seconds(5), seconds(30)] + ([120.0] if LONG else [])
    sleepers = list(zip(tablets[::2], durations, strict=False))
    others = [t for t in tablets if t not in {s for s, _ in sleepers}]
    before = {t.name: len(t.ledger.reconnects) for t, _ in sleepers}
    written = await scene(world, sleepers, others, rate=1.5)
    fig = await world.verdict("3 offline " + "/".join(f"{d:.0f}s" for _, d in sleepers), polls=[],
                              extra={f"off{d:.0f}s_resumes": len(resumes_since(t, before[t.name]))
                                     for t, d in sleepers})
    fig.assert_clean()
    for t, d in sleepers:
        assert resumes_since(t, before[t.name]), f"{t.name} never resumed after {d}s offline"
        assert t.since[t.table_room] > 10
    acked = {i for t, _ in sleepers for i in t.ledger.acked}
    assert set(written) <= acked, "the notes written offline were stored once they could be"
    short = sleepers[0][0]
    assert resumes_since(short, before[short.name])[0] == 0, "a short absence resumes with events, not a snapshot"


@pytest.mark.slow
async def test_offline_past_the_history_window_resumes_from_a_snapshot(make_world: MakeWorld) -> None:
    world = await make_world(tables=1, processes=2, env={"SAMLING_HISTORY": "50"})
    fac = await world.with_facilitator()
    tablets = await world.join(per_table=6)
    await fac.start_activity("a1")
    sleeper, others = tablets[0], tablets[1:]
    seq_before = sleeper.since[sleeper.table_room]
    before = len(sleeper.ledger.reconnects)
    await scene(world, [(sleeper, seconds(6))], others, rate=4.0)
    fig = await world.verdict("3 offline past the history window (SAMLING_HISTORY=50)")
    fig.assert_clean()
    assert (await world.heads())[sleeper.table_room] - seq_before > 50, "the table must have moved on past 50"
    assert resumes_since(sleeper, before)[0] >= 1, "past the window the table must come back as a snapshot"
    assert fig.snapshots >= 1
