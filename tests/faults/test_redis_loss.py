"""Scenario 8: Redis itself goes down under load.

- SIGKILL with its append-only file on (fsync always, as docs/reliability.md asks for): Redis
  comes back with every write it acknowledged, so every command the tablets were told was stored
  is in the log once, and the epoch stays: devices resume with events, not snapshots.
- Restarted **empty** (its data gone): the store's epoch changes; the server processes restore
  the rooms from their memory and close every device with 1012; devices resync from snapshots of
  the new epoch, and their outboxes are sent again and applied once. What Redis alone held is
  gone (tests/server/test_epochs.py checks what is put back); here the oracle checks that the
  hall, seen from every device and every process, is one consistent picture again.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from faults.world import MakeWorld, World
from support import workload
from support.client import Device
from support.folds import fold_state
from support.oracle import Figures, _check_effort, report
from support.processes import RedisServer
from support.tablets import Tablet
from support.workload import brainstorm, seconds

from server.codec import decode_record


async def busy_hall(make_world: MakeWorld) -> tuple[World, list[Tablet], asyncio.Future[int]]:
    """Two processes, 3 tables of 4 tablets brainstorming for 12 s; returns 4 s into it."""
    world = await make_world(tables=3, processes=2)
    fac = await world.with_facilitator()
    tablets = await world.join(per_table=4)
    await fac.start_activity("a1")
    load = asyncio.ensure_future(workload.run(tablets, brainstorm, seconds(12), rate=3.0))
    await asyncio.sleep(seconds(4))
    return world, tablets, load


@pytest.mark.slow
async def test_redis_sigkilled_with_aof_loses_no_acked_command(make_world: MakeWorld,
                                                                redis_server: RedisServer) -> None:
    world, tablets, load = await busy_hall(make_world)
    acked_before = sum(len(t.ledger.acked) for t in tablets)
    await asyncio.to_thread(redis_server.kill)
    await asyncio.sleep(1.0)  # tablets keep writing into their outboxes; the servers answer server_busy
    await asyncio.to_thread(redis_server.start)
    await load
    epochs = {t.epochs.get(t.table_room) for t in tablets}
    fig = await world.verdict("8 Redis SIGKILL, AOF on", extra={"acked_before_kill": acked_before})
    fig.assert_clean()
    assert acked_before > 20 and fig.acked > acked_before
    assert len(epochs) == 1 and {t.epochs.get(t.table_room) for t in tablets} == epochs, "the epoch stays"


@pytest.mark.slow
async def test_redis_restarted_empty_moves_everyone_to_one_new_epoch(make_world: MakeWorld,
                                                                     redis_server: RedisServer) -> None:
    world, tablets, load = await busy_hall(make_world)
    before = {t.epochs.get(t.table_room) for t in tablets}
    wiped_at = time.monotonic()
    await asyncio.to_thread(redis_server.restart_empty)
    await load
    for t in world.everyone:  # every outbox answered, every device at the new heads
        assert await t.drained(60) and await t.caught_up(await world.heads(), 30)
    after = {t.epochs.get(room) for t in world.everyone for room in t.epochs}
    assert len(before) == 1 and len(after) == 1 and after != before, (before, after)
    assert all(t.ledger.reconnects and t.ledger.reconnects[-1].snapshots for t in tablets)
    assert not [v for t in world.everyone for v in t.ledger.violations], "no terminal close, no id_reused"
    # the new epoch's log holds each command once, and every command acked after the loss
    asm = world.assembly["assembly"]
    logged: dict[tuple[str, str | None, str], int] = {}
    for room in {"hall"} | {t.table_room for t in tablets}:
        for blob in await world.store.read(f"{asm}/{room}", 0, -1):
            r = decode_record(blob)
            if r.cmd is not None:
                logged[(room, r.device, r.cmd)] = logged.get((room, r.device, r.cmd), 0) + 1
    assert all(n == 1 for n in logged.values()), "no command applied twice"
    late = [(a.room, t.device, a.id) for t in tablets for a in t.ledger.acked.values() if a.at > wiped_at + 5]
    assert late and all(key in logged for key in late)
    # and every device's board is the one the servers show
    views = [await Device.connect(s.ws_url, world.assembly["facilitator_token"]) for s in world.servers]
    for t in tablets:
        shown = [fold_state(t.table_room, v.welcome["rooms"][t.table_room]["state"]).normal() for v in views]
        assert shown[0] == shown[1] == t.folds[t.table_room].normal(), t.name
    fig = Figures("8b Redis restarted empty", ops=sum(t.ledger.submitted for t in tablets),
                  acked=sum(len(t.ledger.acked) for t in tablets), logged=len(logged), pending=0,
                  extra={"acked_after_loss": len(late), "epochs": len(before | after)})
    _check_effort(fig, tablets)
    report(fig)
