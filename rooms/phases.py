"""The phases of a table's activity, and the rule table of who may do what in which phase.

This file is the whole of the permission rules, as data (h11 style): an op missing from a
table is unknown, a role missing from an entry is forbidden, a phase missing is the wrong phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .actors import Role


class Phase(StrEnum):
    IDLE = "idle"  # before the first activity: nothing to do yet
    BRAINSTORM = "brainstorm"
    CLUSTER = "cluster"
    VOTE = "vote"
    RESULTS = "results"


SETTABLE = (Phase.BRAINSTORM, Phase.CLUSTER, Phase.VOTE, Phase.RESULTS)
ANY_PHASE = frozenset(Phase)

SEATED = frozenset({Role.MEMBER, Role.HOST})
TABLE_LEADS = frozenset({Role.HOST, Role.FACILITATOR})
MODERATORS = frozenset({Role.HOST, Role.FACILITATOR})  # may change any note, not just their own
FACILITATOR = frozenset({Role.FACILITATOR})


@dataclass(frozen=True, slots=True)
class Rule:
    roles: frozenset[Role]
    phases: frozenset[Phase] = ANY_PHASE
    own_only: bool = False  # seated roles may touch only their own notes; MODERATORS any


TABLE_RULES: dict[str, Rule] = {
    "note.add": Rule(SEATED, frozenset({Phase.BRAINSTORM})),
    "note.edit": Rule(SEATED | MODERATORS, frozenset({Phase.BRAINSTORM, Phase.CLUSTER}), own_only=True),
    "note.remove": Rule(SEATED | MODERATORS, frozenset({Phase.BRAINSTORM, Phase.CLUSTER}), own_only=True),
    "note.move": Rule(SEATED | MODERATORS, frozenset({Phase.CLUSTER})),
    "cluster.add": Rule(SEATED | MODERATORS, frozenset({Phase.CLUSTER})),
    "cluster.rename": Rule(SEATED | MODERATORS, frozenset({Phase.CLUSTER})),
    "cluster.remove": Rule(TABLE_LEADS, frozenset({Phase.CLUSTER})),
    "dot.add": Rule(SEATED, frozenset({Phase.VOTE})),
    "dot.remove": Rule(SEATED, frozenset({Phase.VOTE})),
    "phase.set": Rule(TABLE_LEADS | {Role.SYSTEM}),
    "activity.start": Rule(frozenset({Role.SYSTEM})),
}

HALL_RULES: dict[str, Rule] = {
    "activity.start": Rule(FACILITATOR),
    "phase.set": Rule(FACILITATOR),
    "timer.start": Rule(FACILITATOR),
    "timer.stop": Rule(FACILITATOR),
    "spotlight": Rule(FACILITATOR),
    "poll.open": Rule(FACILITATOR),
    "poll.close": Rule(FACILITATOR),
    "vote.cast": Rule(SEATED),
    "poll.tally": Rule(frozenset({Role.SYSTEM})),
}
