"""Scenario 5: SIGKILL of a server process in the middle of a burst of notes and votes.

Whatever the killed process acknowledged is in Redis; whatever it had not answered is still in
the tablets' outboxes. Its devices fail over to the other process (each tablet holds the list of
server URLs and moves on when one fails), resend, and every ack, vote included, must hold.
"""

from __future__ import annotations

import asyncio

import pytest
from faults.world import MakeWorld
from support import workload
from support.workload import ballot, brainstorm, mixed, seconds


@pytest.mark.slow
async def test_sigkill_mid_burst_fails_over_to_the_other_process(make_world: MakeWorld) -> None:
    world = await make_world(tables=3, processes=2)
    fac = await world.with_facilitator()
    tablets = await world.join(per_table=5)
    await fac.start_activity("a1")
    await fac.open_poll("p1", ["ja", "nej", "blank"])
    victim = world.servers[0]
    load = asyncio.ensure_future(workload.run(tablets, mixed((3, brainstorm), (1, ballot("p1", 3))),
                                              seconds(14), rate=4.0))
    await asyncio.sleep(seconds(5))
    on_victim = [t for t in world.everyone if t.ledger.reconnects[-1].url == world.proxies[0].ws_url]
    in_flight = sum(len(t.outbox) for t in on_victim)
    await asyncio.to_thread(victim.kill)
    await load
    await world.settle_votes()
    await fac.close_poll("p1")
    fig = await world.verdict("5 SIGKILL mid-burst, failover", polls=["p1"],
                              extra={"on_killed": len(on_victim), "in_flight_at_kill": in_flight})
    fig.assert_clean()
    assert on_victim and all(t.connected for t in on_victim)
    assert all(t.ledger.reconnects[-1].url == world.proxies[1].ws_url for t in on_victim), "failed over"
    assert fig.recovered >= len(on_victim)
    assert fig.ballots > 20 and fig.extra["p1_voters"] == len({t.device for t in tablets if "p1" in t.votes})
