"""The hall: the whole assembly's room. Activities, the hall-wide phase, the timer, the
spotlight and the plenary polls live here.

Ballots are not events of this room: `check_vote` says whether a vote may be cast, the server
keeps the ballot box, and the hall only ever sees tallies. Some hall events carry on into the
tables (`follow_ups`): an activity or a phase set for the hall is set at each table, in each
table's own log, so a table's room alone decides what its members may do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from . import adoption
from . import attendance as att
from . import commands as c
from . import recommendations as recs
from . import synthesis as syn
from .actors import SYSTEM, Actor
from .errors import Code, Refused
from .events import Event
from .phases import HALL_RULES, Phase, Rule

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
    # an adoption vote (kind "adoption"): on which recommendation, by which rule, and its result
    recommendation: str | None = None
    rule: dict[str, Any] | None = None  # adoption.rule_to_data
    slate: str | None = None  # polls opened together on several recommendations share one slate id
    result: dict[str, Any] | None = None  # adoption.to_data of the final tally
    paper: dict[str, Any] | None = None  # the paper ballots in the last tally: {"counts", "voters"}

    def view(self) -> dict[str, Any]:
        show = not self.hidden or not self.open
        view = {"poll": self.id, "question": self.question, "kind": self.kind, "options": self.options,
                "hidden": self.hidden, "open": self.open, "voters": self.voters, "present": self.present,
                "counts": self.counts if show else None}
        if self.paper is not None:  # withheld with the counts while a hidden poll is open
            view["paper"] = self.paper if show else {"voters": self.paper["voters"]}
        if self.kind == ADOPTION:
            view.update(recommendation=self.recommendation, rule=self.rule, slate=self.slate, result=self.result)
        return view


ADOPTION = "adoption"
REASON_MAX = adoption.REASON_MAX


@dataclass(frozen=True, slots=True)
class OpenAdoption:
    """Open an adoption vote on one recommendation: its options follow from the rule."""

    poll: str
    recommendation: str
    rule: adoption.AdoptionRule
    slate: str | None = None


HallCommand: TypeAlias = c.Command | OpenAdoption | syn.Command | recs.Command | att.Command


def _parse_open_poll(a: Mapping[str, Any]) -> c.OpenPoll | OpenAdoption:
    if a.get("kind") != ADOPTION:
        return c.HALL_PARSERS["poll.open"](a)  # type: ignore[return-value]
    return OpenAdoption(c.ident(a, "poll"), c.ident(a, "recommendation"), adoption.parse_rule(a),
                        c.optional_ident(a, "slate"))


def _parse_cast_vote(a: Mapping[str, Any]) -> c.CastVote:
    reason = a.get("reason")
    return c.CastVote(c.ident(a, "poll"), c.integer(a, "choice", 0, c.OPTIONS_MAX - 1),
                      None if reason is None else c.text(a, "reason", 1, REASON_MAX))


PARSERS: dict[str, Callable[[Mapping[str, Any]], HallCommand]] = {
    **c.HALL_PARSERS, "poll.open": _parse_open_poll, "vote.cast": _parse_cast_vote,
    **syn.PARSERS, **recs.PARSERS, **att.PARSERS,
}

RULES: dict[str, Rule] = {**HALL_RULES, **syn.RULES, **recs.RULES, **att.RULES}


def parse(op: Any, args: Any) -> HallCommand:
    """A device's `op` and `args` for the hall, as a typed command, or Refused naming the field."""
    return c.parse_with(PARSERS, op, args, "a hall room")


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
    synthesis: syn.Synthesis = field(default_factory=syn.Synthesis)  # the hall's board of themes
    recommendations: recs.Recommendations = field(default_factory=recs.Recommendations)
    attendance: att.Attendance = field(default_factory=att.Attendance)  # the days, who is present, paper ballots


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


def decide(state: HallState, actor: Actor, cmd: HallCommand, op: str, now: int) -> list[Event]:
    """The hall events `actor`'s `cmd` makes happen at `now` (ms since the epoch), or Refused."""
    rule = RULES.get(op)
    if rule is None:
        raise Refused(Code.UNKNOWN_OP, f"no op {op} in the hall")
    if actor.role not in rule.roles:
        raise Refused(Code.FORBIDDEN, f"a {actor.role} may not {op}")
    if op in syn.OPS:
        return syn.decide(state.synthesis, actor, cmd, op, state.tables)  # type: ignore[arg-type]
    if op in recs.OPS:
        return recs.decide(state.recommendations, actor, cmd, op, now)  # type: ignore[arg-type]
    if op in att.OPS:
        return att.decide(state.attendance, actor, cmd, op, now, state.polls)  # type: ignore[arg-type]
    if isinstance(cmd, OpenAdoption):
        return _open_adoption(state, cmd)
    if isinstance(cmd, c.Tally):
        return _tally(state, cmd)
    return _decide_plenary(state, cmd, op, now)


def _decide_plenary(state: HallState, cmd: HallCommand, op: str, now: int) -> list[Event]:
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
        _new_poll(state, cmd.poll)
        return [Event("poll.open", {"poll": cmd.poll, "question": cmd.question, "kind": cmd.kind,
                                    "options": list(cmd.options), "hidden": cmd.hidden})]
    if isinstance(cmd, c.ClosePoll):
        _open_poll(state, cmd.poll)
        return [Event("poll.close", {"poll": cmd.poll})]
    if isinstance(cmd, c.CastVote):
        raise Refused(Code.INVALID_ARGS, "a vote goes to its ballot box, not the hall's log")
    raise Refused(Code.UNKNOWN_OP, f"{op} is not a hall command")


def _new_poll(state: HallState, poll: str) -> None:
    if poll in state.polls:
        raise Refused(Code.DUPLICATE_ID, f"poll {poll} exists")
    if len(state.polls) >= MAX_POLLS:
        raise Refused(Code.OVER_BUDGET, "too many polls")


def _open_adoption(state: HallState, cmd: OpenAdoption) -> list[Event]:
    """An adoption vote: the recommendation's current title is the question, and the
    recommendation stays locked (no edits) until the vote's final tally."""
    _new_poll(state, cmd.poll)
    lock = recs.lock(state.recommendations, cmd.recommendation, cmd.poll)  # Refused if it cannot be voted on
    title = state.recommendations.items[cmd.recommendation].title
    return [Event("poll.open", {"poll": cmd.poll, "question": title, "kind": ADOPTION,
                                "options": list(adoption.options(cmd.rule)), "hidden": cmd.rule.hidden,
                                "recommendation": cmd.recommendation, "rule": adoption.rule_to_data(cmd.rule),
                                "slate": cmd.slate}), lock]


def _tally(state: HallState, cmd: c.Tally) -> list[Event]:
    """The ballot box's count, with the paper ballots entered for the poll added and turnout
    counted of those present today (the members checked in, when a day is open). The final
    tally of an adoption vote carries its result by the rule, and releases the recommendation."""
    poll = state.polls.get(cmd.poll)
    if poll is None:
        raise Refused(Code.UNKNOWN_TARGET, f"no poll {cmd.poll}")
    if len(cmd.counts) != len(poll.options):
        raise Refused(Code.INVALID_ARGS, f"counts: poll {cmd.poll} has {len(poll.options)} options")
    paper = att.paper(state.attendance, cmd.poll)
    paper_voters = att.paper_voters(state.attendance, cmd.poll)
    present = cmd.present
    if state.attendance.open_day is not None:  # turnout of those checked in today (a voter was there)
        present = max(att.present_count(state.attendance), cmd.voters)
    counts = list(cmd.counts) if paper is None else [a + b for a, b in zip(cmd.counts, paper, strict=True)]
    data: dict[str, Any] = {"poll": cmd.poll, "voters": cmd.voters + paper_voters,
                            "present": present + paper_voters, "final": not poll.open,
                            "counts": counts}
    if paper is not None:
        data["paper"] = {"counts": list(paper), "voters": paper_voters}
    events = [Event("poll.tally", data)]
    if poll.kind == ADOPTION and not poll.open and poll.rule is not None and poll.recommendation is not None:
        rule = adoption.parse_rule(poll.rule)
        result = adoption.outcome(rule, cmd.counts, present, paper)
        data["result"] = adoption.to_data(result) | {"minority_statements": list(cmd.statements)}
        rec = state.recommendations.items.get(poll.recommendation)
        if rec is not None and rec.locked == cmd.poll:
            events.append(recs.unlock(state.recommendations, poll.recommendation, cmd.poll, result.adopted))
    return events


def check_vote(state: HallState, actor: Actor, cmd: c.CastVote) -> Poll:
    """Whether `actor` may cast `cmd` now. The ballot box makes the final check atomically.
    In an adoption vote an objection (consent) or a veto (gradients) must carry its reason,
    and no other ballot may; no other poll takes a reason."""
    if not actor.seated:
        raise Refused(Code.FORBIDDEN, f"a {actor.role} has no vote")
    poll = _open_poll(state, cmd.poll)
    if not 0 <= cmd.choice < len(poll.options):
        raise Refused(Code.INVALID_ARGS, f"choice: must be 0-{len(poll.options) - 1}")
    if poll.kind == ADOPTION and poll.rule is not None:
        adoption.check_ballot(adoption.parse_rule(poll.rule), cmd.choice, cmd.reason)
    elif cmd.reason is not None:
        raise Refused(Code.INVALID_ARGS, "reason: only an objection in an adoption vote carries one")
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
        state.polls[d["poll"]] = Poll(d["poll"], d["question"], d["kind"], list(d["options"]), d["hidden"],
                                      recommendation=d.get("recommendation"), rule=d.get("rule"),
                                      slate=d.get("slate"))
    elif op == "poll.close":
        state.polls[d["poll"]].open = False
    elif op == "poll.tally":
        poll = state.polls[d["poll"]]
        poll.counts, poll.voters, poll.present = list(d["counts"]), d["voters"], d["present"]
        if "result" in d:
            poll.result = dict(d["result"])
        poll.paper = dict(d["paper"]) if "paper" in d else None
    elif op in syn.OPS:
        syn.evolve(state.synthesis, event)
    elif op in recs.EVENTS:
        recs.evolve(state.recommendations, event)
    elif op in att.OPS:
        att.evolve(state.attendance, event)
    else:
        raise ValueError(f"event {op} cannot apply to the hall")
    return state


def public(event: Event, state: HallState) -> dict[str, Any]:
    """The data of a hall event as every device may see it: a hidden poll's counts are withheld."""
    if event.op == "poll.tally":
        poll = state.polls.get(event.data["poll"])
        if poll is not None and poll.hidden and not event.data.get("final"):
            return {k: v for k, v in event.data.items() if k not in ("counts", "paper")}
    if event.op in recs.EVENTS:
        return recs.public(event)  # who wrote a version, by role and table, never by device
    if event.op in att.OPS:
        return att.public(event, state.attendance)  # how many are present, never who
    return dict(event.data)


def view(state: HallState) -> dict[str, Any]:
    """The hall's snapshot, the same for every device: no ballot is ever in it."""
    return {
        "assembly": state.assembly, "name": state.name,
        "tables": [{"id": k, "name": v} for k, v in state.tables.items()],
        "activity": state.activity, "phase": state.phase, "timer": state.timer,
        "spotlight": state.spotlight, "polls": [p.view() for p in state.polls.values()],
        "synthesis": syn.view(state.synthesis),
        "recommendations": recs.view(state.recommendations)["recommendations"],
        "attendance": att.view(state.attendance),
    }


def system_tally(poll: str, counts: list[int], voters: int, present: int) -> tuple[Actor, c.Tally]:
    return SYSTEM, c.Tally(poll, tuple(counts), voters, present)
