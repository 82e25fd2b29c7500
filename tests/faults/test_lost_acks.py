"""Scenario 2: lost acks. The proxies drop 20% of every server-to-client frame (acks, events,
welcomes alike); the tablets resend unanswered commands with the same id after a timeout, and
resume with `since` when a seq gap shows an event went missing.

Exactly-once is what is on trial: a resend of a stored command must get its original ack and
never a second event, whichever process it reaches.
"""

from __future__ import annotations

import pytest
from faults.scenes import activity
from faults.world import MakeWorld
from support.workload import seconds


@pytest.mark.slow
async def test_twenty_percent_of_server_frames_lost(make_world: MakeWorld) -> None:
    world = await make_world(tables=3, processes=2)
    fac = await world.with_facilitator(ack_timeout=2.0)
    tablets = await world.join(per_table=4, ack_timeout=2.0)
    for proxy in world.proxies:
        proxy.drop(0.2)
    sent = await activity(fac, tablets, seconds(16), rate=1.5)
    dropped = sum(p.dropped_total for p in world.proxies)
    resends = sum(t.ledger.resends for t in world.everyone)
    fig = await world.verdict("2 lost acks (20% of server frames dropped)", polls=["p1"],
                              extra={"dropped": dropped, "resends": resends})
    fig.assert_clean()
    assert sent > 200 and dropped > 100, "the fault must actually have happened"
    assert resends > 0 and fig.recovered > 0, "lost frames must have been repaired by resends and resumes"
    assert fig.extra["gaps_injected"] > 0
