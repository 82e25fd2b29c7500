"""The hall: the whole assembly's room. Activities, the hall-wide phase, the timer, the
spotlight and the plenary polls live here.

Ballots are not events of this room: `check_vote` says whether a vote may be cast, the server
keeps the ballot box, and the hall only ever sees tallies. Some hall events carry on into the
tables (`follow_ups`): an activity or a phase set for the hall is set at each table, in each
table's own log, so a table's room alone decides what its members may do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import commands as c
from .actors import SYSTEM, Actor
from .errors import Code, Refused
from .events import Event
from .phases import HALL_RULES, Phase

MAX_POLLS = 1000
MAX_ACTIVITIES = 1000


@dataclass(slots=True)
class Poll:
    id: str
    question: str
    kind: str
    options: list[str]
    hidden: bool = False
    open: bool = True
    counts: list[int] | None = None  # the last published tally (None until the first)
    voters: int = 0
    present: int = 0

    def view(self) -> dict[str, Any]:
        show = not self.hidden or not self.open
        return {"poll": self.id, "question": self.question, "kind": self.kind, "options": self.options,
                "hidden": self.hidden, "open": self.open, "voters": self.voters, "present": self.present,
                "counts": self.counts if show else None}


@dataclass(slots=True)
class HallState:
    assembly: str = ""
    name: str = ""
    tables: dict[str, str] = field(default_factory=dict)  # table id -> name, in order
    activity: dict[str, Any] | None = None
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    phase: str | None = None  # the phase last set for the whole hall
    timer: dict[str, Any] | None = None  # {"seconds", "ends_at"} (ms since the epoch)
    spotlight: dict[str, Any] | None = None  # {"table", "results"}
    polls: dict[str, Poll] = field(default_factory=dict)


def _known_table(state: HallState, table: str) -> None:
    if table not in state.tables:
        raise Refused(Code.UNKNOWN_TARGET, f"no table {table}")


def _open_poll(state: HallState, poll_id: str) -> Poll:
    poll = state.polls.get(poll_id)
    if poll is None:
        raise Refused(Code.UNKNOWN_TARGET, f"no poll {poll_id}")
    if not poll.open:
        raise Refused(Code.POLL_CLOSED, f"poll {poll_id} is closed")
    return poll


def decide(state: HallState, actor: Actor, cmd: c.Command, op: str, now: int) -> list[Event]:
    """The hall events `actor`'s `cmd` makes happen at `now` (ms since the epoch), or Refused."""
    rule = HALL_RULES.get(op)
    if rule is None:
        raise Refused(Code.UNKNOWN_OP, f"no op {op} in the hall")
    if actor.role not in rule.roles:
        raise Refused(Code.FORBIDDEN, f"a {actor.role} may not {op}")
    if isinstance(cmd, c.StartActivity):
        if cmd.activity in state.activities:
            raise Refused(Code.DUPLICATE_ID, f"activity {cmd.activity} has already run")
        if len(state.activities) >= MAX_ACTIVITIES:
            raise Refused(Code.OVER_BUDGET, "too many activities")
        return [Event("activity.start", {"activity": cmd.activity, "prompt": cmd.prompt, "dots": cmd.dots,
                                         "max_per_target": cmd.max_per_target, "show_totals": cmd.show_totals,
                                         "tables": list(state.tables)})]
    if isinstance(cmd, c.SetPhase):
        if state.activity is None:
            raise Refused(Code.WRONG_PHASE, "start an activity first")
        tables = list(state.tables) if cmd.tables is None else list(dict.fromkeys(cmd.tables))
        for t in tables:
            _known_table(state, t)
        return [Event("phase.set", {"phase": str(cmd.phase), "tables": tables, "all": cmd.tables is None})]
    if isinstance(cmd, c.StartTimer):
        return [Event("timer.start", {"seconds": cmd.seconds, "ends_at": now + cmd.seconds * 1000})]
    if isinstance(cmd, c.StopTimer):
        return [Event("timer.stop", {})]
    if isinstance(cmd, c.Spotlight):
        if cmd.table is not None:
            _known_table(state, cmd.table)
        return [Event("spotlight", {"table": cmd.table, "results": [dict(r) for r in cmd.results]})]
    if isinstance(cmd, c.OpenPoll):
        if cmd.poll in state.polls:
            raise Refused(Code.DUPLICATE_ID, f"poll {cmd.poll} exists")
        if len(state.polls) >= MAX_POLLS:
            raise Refused(Code.OVER_BUDGET, "too many polls")
        return [Event("poll.open", {"poll": cmd.poll, "question": cmd.question, "kind": cmd.kind,
                                    "options": list(cmd.options), "hidden": cmd.hidden})]
    if isinstance(cmd, c.ClosePoll):
        _open_poll(state, cmd.poll)
        return [Event("poll.close", {"poll": cmd.poll})]
    if isinstance(cmd, c.Tally):
        poll = state.polls.get(cmd.poll)
        if poll is None:
            raise Refused(Code.UNKNOWN_TARGET, f"no poll {cmd.poll}")
        data: dict[str, Any] = {"poll": cmd.poll, "voters": cmd.voters, "present": cmd.present,
                                "final": not poll.open, "counts": list(cmd.counts)}
        return [Event("poll.tally", data)]
    if isinstance(cmd, c.CastVote):
        raise Refused(Code.INVALID_ARGS, "a vote goes to its ballot box, not the hall's log")
    raise Refused(Code.UNKNOWN_OP, f"{op} is not a hall command")


def check_vote(state: HallState, actor: Actor, cmd: c.CastVote) -> Poll:
    """Whether `actor` may cast `cmd` now. The ballot box makes the final check atomically."""
    if not actor.seated:
        raise Refused(Code.FORBIDDEN, f"a {actor.role} has no vote")
    poll = _open_poll(state, cmd.poll)
    if not 0 <= cmd.choice < len(poll.options):
        raise Refused(Code.INVALID_ARGS, f"choice: must be 0-{len(poll.options) - 1}")
    return poll


def follow_ups(event: Event) -> list[tuple[str, c.Command, str]]:
    """What a hall event makes each table do: (table id, command, op) for the SYSTEM actor."""
    d = event.data
    if event.op == "activity.start":
        cmd = c.StartActivity(d["activity"], d["prompt"], d["dots"], d["max_per_target"], d["show_totals"])
        return [(t, cmd, "activity.start") for t in d["tables"]]
    if event.op == "phase.set":
        return [(t, c.SetPhase(Phase(d["phase"])), "phase.set") for t in d["tables"]]
    return []


# -- evolve ---------------------------------------------------------------------------------------

def evolve(state: HallState, event: Event) -> HallState:
    """Fold `event` into `state` (in place) and return it."""
    d = event.data
    op = event.op
    if op == "assembly.open":
        state.assembly, state.name = d["assembly"], d["name"]
        state.tables = {t["id"]: t["name"] for t in d["tables"]}
    elif op == "activity.start":
        state.activity = dict(d)
        state.activities[d["activity"]] = dict(d)
        state.phase = "brainstorm"
    elif op == "phase.set":
        if d.get("all"):
            state.phase = d["phase"]
    elif op == "timer.start":
        state.timer = {"seconds": d["seconds"], "ends_at": d["ends_at"]}
    elif op == "timer.stop":
        state.timer = None
    elif op == "spotlight":
        state.spotlight = None if d["table"] is None else {"table": d["table"], "results": list(d["results"])}
    elif op == "poll.open":
        state.polls[d["poll"]] = Poll(d["poll"], d["question"], d["kind"], list(d["options"]), d["hidden"])
    elif op == "poll.close":
        state.polls[d["poll"]].open = False
    elif op == "poll.tally":
        poll = state.polls[d["poll"]]
        poll.counts, poll.voters, poll.present = list(d["counts"]), d["voters"], d["present"]
    else:
        raise ValueError(f"event {op} cannot apply to the hall")
    return state


def public(event: Event, state: HallState) -> dict[str, Any]:
    """The data of a hall event as every device may see it: a hidden poll's counts are withheld."""
    if event.op == "poll.tally":
        poll = state.polls.get(event.data["poll"])
        if poll is not None and poll.hidden and not event.data.get("final"):
            return {k: v for k, v in event.data.items() if k != "counts"}
    return dict(event.data)


def view(state: HallState) -> dict[str, Any]:
    """The hall's snapshot, the same for every device: no ballot is ever in it."""
    return {
        "assembly": state.assembly, "name": state.name,
        "tables": [{"id": k, "name": v} for k, v in state.tables.items()],
        "activity": state.activity, "phase": state.phase, "timer": state.timer,
        "spotlight": state.spotlight, "polls": [p.view() for p in state.polls.values()],
    }


def system_tally(poll: str, counts: list[int], voters: int, present: int) -> tuple[Actor, c.Tally]:
    return SYSTEM, c.Tally(poll, tuple(counts), voters, present)
