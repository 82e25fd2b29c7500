"""Scenario 1: steady load across two processes sharing one Redis, no fault at all.

The baseline every other scenario is read against: with nothing going wrong, every figure the
oracle checks must be zero, and no device should even have needed to reconnect.
"""

from __future__ import annotations

import pytest
from faults.scenes import activity
from faults.world import MakeWorld
from support.workload import seconds


@pytest.mark.slow
async def test_steady_load_across_two_processes(make_world: MakeWorld) -> None:
    world = await make_world(tables=4, processes=2)
    fac = await world.with_facilitator()
    tablets = await world.join(per_table=6)
    sent = await activity(fac, tablets, seconds(21))
    fig = await world.verdict("1 steady load, 2 processes", polls=["p1"], extra={"tablets": len(tablets)})
    fig.assert_clean()
    assert sent > 500 and fig.logged > 300, "too little load to say anything"
    assert fig.recovered == 0, "no device should have needed to reconnect without a fault"
    assert {t.device for t in tablets[::6]} and all(t.connected for t in tablets)
