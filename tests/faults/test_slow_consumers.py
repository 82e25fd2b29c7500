"""Scenario 10: a slow projector link and a tablet that stops reading, during a 2,000-event burst.

The room never waits for one device: each socket has its own bounded queue (SAMLING_SEND_QUEUE,
200 here so it overflows quickly), and a device that falls that far behind is closed with 4001
"slow" and resumes with `since`. So with a projector on a throttled link and a frozen tablet in
the busiest room, the other tablets' ack times stay near a baseline burst measured in the same
test without those two, the server's memory stays bounded, and the frozen tablet gets its 4001.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from faults.world import MakeWorld
from support import workload
from support.oracle import percentile
from support.tablets import Tablet
from support.workload import brainstorm

BURST = 2000
BASELINE = 1000  # the baseline burst only has to show the others' usual ack times under the same rate
QUEUE = 200
LONG_TEXT = "En lang idé om hvordan byen kan blive bedre for alle, " * 4  # ~220 chars: big frames


def note_of(t: Tablet) -> str:
    return f"b{t.name}".replace(".", "-")


async def burst(writers: list[Tablet], events: int) -> float:
    """`events` note edits at the writers' table as fast as their rate limit allows; seconds taken."""
    room = writers[0].table_room
    for t in writers:
        if note_of(t) not in t.folds[room].normal()["notes"]:
            await t.ok("note.add", {"note": note_of(t), "text": "b"})
    start_seq = writers[0].since[room]
    began = time.monotonic()

    async def write(t: Tablet) -> None:
        note = note_of(t)
        while writers[0].since[room] - start_seq < events:
            if len(t.outbox) < 8:
                t.submit("note.edit", {"note": note, "text": f"{LONG_TEXT}{t.random.random()}"})
            await asyncio.sleep(1 / 15)

    await asyncio.gather(*(write(t) for t in writers))
    return time.monotonic() - began


def p99_ms(tablets: list[Tablet], since: float, until: float) -> float:
    return 1000 * percentile([a.latency for t in tablets for a in t.ledger.acked.values()
                              if since <= a.at <= until], 0.99)


async def measured_burst(writers: list[Tablet], steady: list[Tablet], events: int) -> tuple[float, float]:
    """A burst with steady light load at the other table: (their p99 ack ms, burst seconds)."""
    began = time.monotonic()
    load = asyncio.ensure_future(workload.run(steady, brainstorm, 600, rate=2.0))
    try:
        took = await burst(writers, events)
    finally:
        load.cancel()
    return p99_ms(steady, began, time.monotonic()), took


@pytest.mark.slow
async def test_a_slow_projector_and_a_frozen_tablet_do_not_slow_the_hall(make_world: MakeWorld) -> None:
    world = await make_world(tables=2, processes=1, env={"SAMLING_SEND_QUEUE": str(QUEUE)})
    fac = await world.with_facilitator()
    link = await world.own_proxy(server=0)
    projector = Tablet(world.proxies[:0] or [link], world.assembly["facilitator_token"], name="projector")
    await projector.started()
    world.tablets.append(projector)
    writers = await world.join(per_table=10, tables=[0])
    steady = await world.join(per_table=4, tables=[1])
    await fac.start_activity("a1")

    baseline, took_a = await measured_burst(writers, steady, BASELINE)
    rss_before = world.rss.current_mb(world.servers[0])
    # A fresh socket: one that carried a burst has grown its kernel buffers, and would hide a stall
    frozen = (await world.join(per_table=1, tables=[0], endpoints=world.servers, rcvbuf=4096))[0]

    link.throttled(rate=40_000, latency=0.15)
    frozen.stop_reading()
    faulted, took_b = await measured_burst(writers, steady, BURST)
    rss_after = world.rss.current_mb(world.servers[0])
    link.restore()
    frozen.resume_reading()
    try:
        async with asyncio.timeout(30):
            while not any(code == 4001 for code, _ in frozen.ledger.closes):
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"no 4001: closes {frozen.ledger.closes}, at {frozen.since} of {await world.heads()}, "
                             f"took {took_a:.1f}/{took_b:.1f}s") from None
    await frozen.wait_welcomed(30)

    fig = await world.verdict("10 slow projector + frozen tablet, 2000-event burst", extra={
        "p99_baseline_ms": round(baseline), "p99_faulted_ms": round(faulted), "burst_s": round(took_b, 1),
        "rss_growth_mb": round(rss_after - rss_before, 1),
        "projector_4001": sum(code == 4001 for code, _ in projector.ledger.closes)})
    fig.assert_clean()
    assert faulted <= max(2 * baseline, baseline + 250), f"others slowed down: p99 {faulted:.0f} vs {baseline:.0f} ms"
    rate_a, rate_b = BASELINE / took_a, BURST / took_b
    assert rate_b >= rate_a / 2, f"the burst itself was held back: {rate_b:.0f} vs {rate_a:.0f} events/s"
    reason = next(r for code, r in frozen.ledger.closes if code == 4001)
    assert "slow" in reason
    assert rss_after - rss_before < 100, "the server's memory must stay bounded while a device does not read"
