"""The day most scenarios replay under their fault: one activity at every table, through all its
phases, with a plenary poll while the dots are placed.

Kept in one place so every scenario's figures measure the same work and can be compared.
"""

from __future__ import annotations

from collections.abc import Sequence

from support import workload
from support.tablets import Facilitator, Tablet
from support.workload import Choice, ballot, brainstorm, cluster, settle_votes, vote


def dots_and_ballots(poll: str, options: int) -> workload.Chooser:
    """While voting: mostly dots, sometimes a ballot in the open poll."""
    cast = ballot(poll, options)

    def choose(t: Tablet) -> Choice:
        if t.random.random() < 0.2:
            return cast(t) or vote(t)
        return vote(t)
    return choose


async def activity(fac: Facilitator, tablets: Sequence[Tablet], seconds: float, *, activity: str = "a1",
                   poll: str = "p1", rate: float = 2.0) -> int:
    """Brainstorm, cluster, vote (with a poll), results: `seconds` in all; returns commands sent."""
    third = seconds / 3
    await fac.start_activity(activity, dots=5, max_per_target=3)
    sent = await workload.run(tablets, brainstorm, third, rate)
    await fac.set_phase("cluster")
    sent += await workload.run(tablets, cluster, third, rate)
    await fac.set_phase("vote")
    await fac.open_poll(poll, ["ja", "nej", "ved ikke"])
    sent += await workload.run(tablets, dots_and_ballots(poll, 3), third, rate)
    await settle_votes(tablets)
    await fac.close_poll(poll)
    await fac.set_phase("results")
    return sent
