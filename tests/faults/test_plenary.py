"""Scenario 12: a plenary vote with many voters under churn, lost acks and a server restart.

120 devices vote (and change their minds) in one poll while their acks are dropped (20%), the
proxies cut every connection of one process every few seconds, and one process is restarted.
A ballot's ack may be lost and its resend answered as a duplicate, on another process, after a
reconnect: still, the box must end with exactly one ballot per device whose vote was acked,
holding the last choice that device had acked, and the final tally must say the same.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from faults.world import MakeWorld
from support import workload
from support.workload import ballot, seconds

VOTERS = int(os.environ.get("SAMLING_PLENARY_VOTERS") or "120")
TABLES = 12


@pytest.mark.slow
async def test_plenary_vote_under_churn_lost_acks_and_a_restart(make_world: MakeWorld) -> None:
    world = await make_world(tables=TABLES, processes=2)
    fac = await world.with_facilitator(ack_timeout=2.0)
    voters = await world.join(per_table=VOTERS // TABLES, ack_timeout=2.0)
    await fac.open_poll("p1", ["for", "imod", "blank", "ved ikke"])
    for proxy in world.proxies:
        proxy.drop(0.2, only={"ack", "err"})
    duration = seconds(14)
    voting = asyncio.ensure_future(workload.run(voters, ballot("p1", 4), duration, rate=0.7))
    cuts = 0
    for i in range(int(duration // 3)):
        await asyncio.sleep(3)
        if i == 1:
            await asyncio.to_thread(world.servers[1].restart)
        else:
            cuts += world.proxies[i % 2].cut()
    await voting
    for proxy in world.proxies:
        proxy.restore()
    await world.settle_votes()
    await fac.close_poll("p1")
    dropped = sum(p.dropped_total for p in world.proxies)
    fig = await world.verdict(f"12 plenary vote, {len(voters)} voters, churn + lost acks + restart", polls=["p1"],
                              extra={"cut": cuts, "acks_dropped": dropped,
                                     "changed": sum(1 for t in voters for a in t.ledger.acked.values()) - len(voters)})
    fig.assert_clean()
    assert fig.extra["p1_voters"] == len({t.device for t in voters if "p1" in t.votes}) == len(voters)
    assert dropped > 20 and cuts > 20 and fig.recovered > len(voters)
    assert fig.ballots > len(voters), "devices changed their votes too"
