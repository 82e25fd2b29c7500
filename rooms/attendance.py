"""Attendance: the assembly's days, who is present on each, and the paper ballots of a poll.

One member, one vote, and a turnout of the members *present*: an assembly meets on several days,
the facilitator opens each day (opening one closes the one before, in the same list of events),
seated devices check in for the open day, and the facilitator can mark a device present or absent
(a tablet that died). Members without a tablet vote on paper; the facilitator enters the paper
counts of an open poll, and entering them again replaces them (a correction) while both entries
stay in the log and in `audit()`.

This file is the whole of attendance, h11 style: `PARSERS` turns args into commands, `RULES`
says who may send which op, `decide` says which events happen (or `Refused`), `evolve` folds an
event in. Command ops and event ops are the same five names (`OPS`). A resend never counts twice:
checking in a device that is already present, or marking a device as it already is, decides
*no event* (an empty list), so the device gets its ack and nothing changes.

Who attended is private to the facilitator's record: `view` and `public` give only numbers;
`facilitator_view` and `audit` name devices.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from .actors import Actor
from .commands import OPTIONS_MAX, flag, ident, integer, parse_with, text
from .errors import Code, Refused
from .events import Event
from .phases import FACILITATOR, SEATED, Rule

MAX_DAYS = 60
LABEL_MAX = 80
PAPER_MAX = 10_000  # per option, and paper voters per entry
MAX_PRESENT = 10_000  # devices present on one day: only stops a runaway facilitator script
MAX_PAPER_ENTRIES = 10_000  # paper entries and corrections over the whole assembly


# -- commands -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DayOpen:
    day: str
    label: str  # as the assembly says it: "Lørdag 14. oktober"


@dataclass(frozen=True, slots=True)
class DayClose:
    day: str


@dataclass(frozen=True, slots=True)
class CheckIn:
    """The sending device is here, for the open day."""


@dataclass(frozen=True, slots=True)
class MarkPresent:
    device: str
    present: bool


@dataclass(frozen=True, slots=True)
class EnterPaperBallots:
    poll: str
    counts: tuple[int, ...]  # one per option of the poll
    paper_voters: int  # ballots handed in, blank ones included: at least sum(counts)


Command = DayOpen | DayClose | CheckIn | MarkPresent | EnterPaperBallots


def _present_flag(a: Mapping[str, Any]) -> bool:
    if "present" not in a:  # never read a missing flag as "absent"
        raise Refused(Code.INVALID_ARGS, "present: must be true or false")
    return flag(a, "present")


def _counts(a: Mapping[str, Any]) -> tuple[int, ...]:
    value = a.get("counts")
    if not isinstance(value, list) or not 1 <= len(value) <= OPTIONS_MAX:
        raise Refused(Code.INVALID_ARGS, f"counts: must be a list of 1-{OPTIONS_MAX} whole numbers")
    return tuple(integer({f"counts[{i}]": v}, f"counts[{i}]", 0, PAPER_MAX) for i, v in enumerate(value))


def _paper(a: Mapping[str, Any]) -> EnterPaperBallots:
    return EnterPaperBallots(ident(a, "poll"), _counts(a), integer(a, "paper_voters", 0, PAPER_MAX))


PARSERS: dict[str, Callable[[Mapping[str, Any]], Command]] = {
    "day.open": lambda a: DayOpen(ident(a, "day"), text(a, "label", 1, LABEL_MAX)),
    "day.close": lambda a: DayClose(ident(a, "day")),
    "day.checkin": lambda a: CheckIn(),
    "day.mark": lambda a: MarkPresent(ident(a, "device"), _present_flag(a)),
    "poll.paper": _paper,
}

RULES: dict[str, Rule] = {
    "day.open": Rule(FACILITATOR),
    "day.close": Rule(FACILITATOR),
    "day.checkin": Rule(SEATED),
    "day.mark": Rule(FACILITATOR),
    "poll.paper": Rule(FACILITATOR),
}

OPS = frozenset(PARSERS)  # the command ops, which are also the event ops `evolve` knows

_OP_OF: dict[type[Command], str] = {
    DayOpen: "day.open", DayClose: "day.close", CheckIn: "day.checkin", MarkPresent: "day.mark",
    EnterPaperBallots: "poll.paper",
}


def parse(op: Any, args: Any) -> Command:
    """Turn a device's `op` and `args` into an attendance command, or Refused naming the field."""
    return parse_with(PARSERS, op, args, "attendance")


# -- state ----------------------------------------------------------------------------------------

@dataclass(slots=True)
class Day:
    id: str
    label: str
    opened_at: int  # ms since the epoch, of the first opening
    closed_at: int | None = None
    present: set[str] = field(default_factory=set)  # device ids


@dataclass(frozen=True, slots=True)
class PaperEntry:
    poll: str
    counts: tuple[int, ...]
    paper_voters: int
    by: str  # the facilitator's device
    at: int  # ms since the epoch


@dataclass(slots=True)
class Attendance:
    days: dict[str, Day] = field(default_factory=dict)  # in the order first opened
    open_day: str | None = None
    paper: list[PaperEntry] = field(default_factory=list)  # every entry, corrections included, in order


class PollFacts(Protocol):
    """What `decide` needs to know of a poll: `hall.Poll` fits as it is."""

    @property
    def options(self) -> Sequence[str]: ...

    @property
    def open(self) -> bool: ...


NO_POLLS: Mapping[str, PollFacts] = MappingProxyType({})


# -- decide ---------------------------------------------------------------------------------------

def _the_open_day(state: Attendance) -> Day:
    if state.open_day is None:
        raise Refused(Code.WRONG_PHASE, "no day is open: the facilitator opens one first")
    return state.days[state.open_day]


def _open_day(state: Attendance, cmd: DayOpen, now: int) -> list[Event]:
    if state.open_day == cmd.day:
        raise Refused(Code.DUPLICATE_ID, f"day {cmd.day} is already open")
    if cmd.day not in state.days and len(state.days) >= MAX_DAYS:
        raise Refused(Code.OVER_BUDGET, f"an assembly meets on at most {MAX_DAYS} days")
    events: list[Event] = [] if state.open_day is None else [Event("day.close", {"day": state.open_day, "at": now})]
    return [*events, Event("day.open", {"day": cmd.day, "label": cmd.label, "at": now})]


def _close_day(state: Attendance, cmd: DayClose, now: int) -> list[Event]:
    if cmd.day not in state.days:
        raise Refused(Code.UNKNOWN_TARGET, f"no day {cmd.day}")
    if state.open_day != cmd.day:
        raise Refused(Code.WRONG_PHASE, f"day {cmd.day} is not open")
    return [Event("day.close", {"day": cmd.day, "at": now})]


def _mark(state: Attendance, device: str, present: bool, by: str | None) -> list[Event]:
    day = _the_open_day(state)
    if (device in day.present) == present:
        return []  # already so: a resend changes nothing and counts nothing twice
    if present and len(day.present) >= MAX_PRESENT:
        raise Refused(Code.OVER_BUDGET, f"at most {MAX_PRESENT} devices present on a day")
    if by is None:
        return [Event("day.checkin", {"day": day.id, "device": device})]
    return [Event("day.mark", {"day": day.id, "device": device, "present": present, "by": by})]


def _enter_paper(state: Attendance, actor: Actor, cmd: EnterPaperBallots, now: int,
                 polls: Mapping[str, PollFacts]) -> list[Event]:
    poll = polls.get(cmd.poll)
    if poll is None:
        raise Refused(Code.UNKNOWN_TARGET, f"no poll {cmd.poll}")
    if not poll.open:
        raise Refused(Code.POLL_CLOSED, f"poll {cmd.poll} is closed: paper ballots go in while it is open")
    if len(cmd.counts) != len(poll.options):
        raise Refused(Code.INVALID_ARGS, f"counts: must be {len(poll.options)} numbers, one per option")
    if sum(cmd.counts) > cmd.paper_voters:
        raise Refused(Code.INVALID_ARGS, f"paper_voters: must be at least the sum of counts ({sum(cmd.counts)})")
    if len(state.paper) >= MAX_PAPER_ENTRIES:
        raise Refused(Code.OVER_BUDGET, f"at most {MAX_PAPER_ENTRIES} paper entries")
    return [Event("poll.paper", {"poll": cmd.poll, "counts": list(cmd.counts), "paper_voters": cmd.paper_voters,
                                 "by": actor.device, "at": now})]


def decide(state: Attendance, actor: Actor, cmd: Command, op: str, now: int,
           polls: Mapping[str, PollFacts] = NO_POLLS) -> list[Event]:
    """The events `actor`'s `cmd` (sent as `op`) makes happen at `now` (ms since the epoch), or Refused.

    `polls` are the hall's polls by id (`hall_state.polls`), needed only for `poll.paper`. An
    empty list means the command is already so (a resend): acknowledge it, log nothing.
    """
    rule = RULES.get(op)
    if rule is None or _OP_OF.get(type(cmd)) != op:
        raise Refused(Code.UNKNOWN_OP, f"{op} is not an attendance op for {type(cmd).__name__}")
    if actor.role not in rule.roles:
        raise Refused(Code.FORBIDDEN, f"a {actor.role} may not {op}")
    if isinstance(cmd, DayOpen):
        return _open_day(state, cmd, now)
    if isinstance(cmd, DayClose):
        return _close_day(state, cmd, now)
    if isinstance(cmd, CheckIn):
        return _mark(state, actor.device, True, None)
    if isinstance(cmd, MarkPresent):
        return _mark(state, cmd.device, cmd.present, actor.device)
    return _enter_paper(state, actor, cmd, now, polls)


# -- evolve ---------------------------------------------------------------------------------------

def evolve(state: Attendance, event: Event) -> Attendance:
    """Fold `event` into `state` (in place) and return it."""
    d, op = event.data, event.op
    if op == "day.open":
        day = state.days.get(d["day"])
        if day is None:
            state.days[d["day"]] = Day(d["day"], d["label"], d["at"])
        else:  # reopened (closed by mistake): its check-ins and first opening stay
            day.label, day.closed_at = d["label"], None
        state.open_day = d["day"]
    elif op == "day.close":
        state.days[d["day"]].closed_at = d["at"]
        if state.open_day == d["day"]:
            state.open_day = None
    elif op == "day.checkin":
        state.days[d["day"]].present.add(d["device"])
    elif op == "day.mark":
        present = state.days[d["day"]].present
        if d["present"]:
            present.add(d["device"])
        else:
            present.discard(d["device"])
    elif op == "poll.paper":
        state.paper.append(PaperEntry(d["poll"], tuple(d["counts"]), d["paper_voters"], d["by"], d["at"]))
    else:
        raise ValueError(f"event {op} is not an attendance event")
    return state


# -- reading --------------------------------------------------------------------------------------

def present(state: Attendance) -> frozenset[str]:
    """The devices checked in for the open day (none when no day is open)."""
    return frozenset() if state.open_day is None else frozenset(state.days[state.open_day].present)


def present_count(state: Attendance) -> int:
    return 0 if state.open_day is None else len(state.days[state.open_day].present)


def checked_in(state: Attendance, device: str) -> bool:
    """Whether `device` is present on the open day: what its own tablet shows."""
    return state.open_day is not None and device in state.days[state.open_day].present


def _last_paper(state: Attendance, poll: str) -> PaperEntry | None:
    return next((e for e in reversed(state.paper) if e.poll == poll), None)


def paper(state: Attendance, poll: str) -> tuple[int, ...] | None:
    """The paper counts of `poll` as last entered (a correction replaces), or None if none were."""
    entry = _last_paper(state, poll)
    return None if entry is None else entry.counts


def paper_voters(state: Attendance, poll: str) -> int:
    entry = _last_paper(state, poll)
    return 0 if entry is None else entry.paper_voters


def poll_present(state: Attendance, poll: str) -> int:
    """The turnout base of `poll`: the devices present today plus that poll's paper voters."""
    return present_count(state) + paper_voters(state, poll)


def combine(state: Attendance, poll: str, counts: Sequence[int], voters: int) -> tuple[tuple[int, ...], int, int]:
    """The ballot box's `counts` and `voters` with the paper ballots added: (counts, voters, present)."""
    extra = paper(state, poll)
    total = tuple(counts) if extra is None else tuple(a + b for a, b in zip(counts, extra, strict=True))
    return total, voters + paper_voters(state, poll), poll_present(state, poll)


def audit(state: Attendance) -> list[dict[str, Any]]:
    """Every paper entry in order, corrections included: who entered what, and when."""
    return [{"poll": e.poll, "counts": list(e.counts), "paper_voters": e.paper_voters, "by": e.by, "at": e.at}
            for e in state.paper]


def _day_row(day: Day) -> dict[str, Any]:
    return {"day": day.id, "label": day.label, "opened_at": day.opened_at, "closed_at": day.closed_at,
            "present": len(day.present)}


def view(state: Attendance) -> dict[str, Any]:
    """Attendance as every device may see it: numbers only, never who."""
    return {"days": [_day_row(d) for d in state.days.values()], "open_day": state.open_day,
            "present": present_count(state)}


def facilitator_view(state: Attendance) -> dict[str, Any]:
    """The facilitator's record: each day's devices present, and the paper entries' audit."""
    days = [{**_day_row(d), "devices": sorted(d.present)} for d in state.days.values()]
    return {"days": days, "open_day": state.open_day, "present": present_count(state), "paper": audit(state)}


def public(event: Event, state: Attendance) -> dict[str, Any]:
    """What every device may see of an attendance event (call after evolving it): no device ids,
    and no paper counts (they reach devices in the next tally, which keeps a hidden poll hidden)."""
    d = event.data
    if event.op in ("day.checkin", "day.mark"):
        return {"day": d["day"], "present": len(state.days[d["day"]].present)}
    if event.op == "poll.paper":
        return {"poll": d["poll"], "paper_voters": d["paper_voters"]}
    return dict(d)


# -- snapshots ------------------------------------------------------------------------------------

def dump(state: Attendance) -> dict[str, Any]:
    """`state` as plain data (sets as sorted lists); `load(dump(s)) == s`."""
    return {
        "days": [[d.id, d.label, d.opened_at, d.closed_at, sorted(d.present)] for d in state.days.values()],
        "open_day": state.open_day,
        "paper": [[e.poll, list(e.counts), e.paper_voters, e.by, e.at] for e in state.paper],
    }


def load(data: Mapping[str, Any]) -> Attendance:
    days = {d[0]: Day(d[0], d[1], d[2], d[3], set(d[4])) for d in data["days"]}
    entries = [PaperEntry(e[0], tuple(e[1]), e[2], e[3], e[4]) for e in data["paper"]]
    return Attendance(days, data["open_day"], entries)
