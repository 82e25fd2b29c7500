"""Recommendations: what the assembly proposes to adopt, each with every version it has had.

A recommendation has a title and a text. It is written at the facilitator's dashboard, or by a
table on its host's tablet (members propose through their host). Every change is kept as a
version: the title and text, who made it (the device, its role, and for a host the table) and when
(`now`, ms since the epoch). The device id is for the audit alone: it stays in the state, the log
and the snapshot, while `view` and `public` name only a role and a table.

Who may do what (`RULES`, then `decide`):

- the facilitator may add, edit and withdraw any recommendation;
- a host may add one for their table, and edit or withdraw only those their table wrote;
- no one else may write one (`forbidden`).

A recommendation under an open adoption vote is `locked`, and one that was adopted or withdrawn is
final: none of them may be edited or withdrawn (`wrong_phase`). The hall locks one with `lock`
when it opens an adoption vote on it, and releases it with `unlock` (adopted or not) when the vote
closes; both return events for the hall's log ("recommendation.lock", "recommendation.unlock"), so
replaying the log rebuilds the locks too. The hall wires this module in: `PARSERS` beside its
parsers, `RULES` beside its rules, `decide` for the ops in `OPS`, `evolve` for the events in
`EVENTS`, `public` for what devices see of those events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .actors import Actor, Role
from .commands import ident, optional_ident, text
from .errors import Code, Refused
from .events import Event
from .phases import TABLE_LEADS, Rule

TITLE_MAX = 120
TEXT_MAX = 5000
MAX_RECOMMENDATIONS = 500  # withdrawn ones included: they stay in the record
MAX_VERSIONS = 200  # per recommendation, the first included
MAX_CHARACTERS = 2_000_000  # titles and texts of every version together: each welcome carries them all


@dataclass(frozen=True, slots=True)
class AddRecommendation:
    recommendation: str
    title: str
    text: str
    theme: str | None = None  # the hall theme it grew from, if any (an id; the hall checks it exists)


@dataclass(frozen=True, slots=True)
class EditRecommendation:
    recommendation: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class WithdrawRecommendation:
    recommendation: str


Command = AddRecommendation | EditRecommendation | WithdrawRecommendation
Parser = Callable[[Mapping[str, Any]], Command]

PARSERS: dict[str, Parser] = {
    "recommendation.add": lambda a: AddRecommendation(
        ident(a, "recommendation"), text(a, "title", 1, TITLE_MAX), text(a, "text", 1, TEXT_MAX),
        optional_ident(a, "theme")),
    "recommendation.edit": lambda a: EditRecommendation(
        ident(a, "recommendation"), text(a, "title", 1, TITLE_MAX), text(a, "text", 1, TEXT_MAX)),
    "recommendation.withdraw": lambda a: WithdrawRecommendation(ident(a, "recommendation")),
}

# The host and the facilitator; that a host touches only their own table's is checked in `decide`.
RULES: dict[str, Rule] = {op: Rule(TABLE_LEADS) for op in PARSERS}

OPS = frozenset(RULES)  # the device ops
EVENTS = OPS | {"recommendation.lock", "recommendation.unlock"}  # the event ops `evolve` folds
PRIVATE_FIELDS = ("device",)


@dataclass(frozen=True, slots=True)
class Who:
    """Who changed a recommendation: the device (private), its role, and a host's table."""

    device: str
    role: str
    table: str | None = None  # None for the facilitator

    def label(self) -> dict[str, Any]:
        """What every device may see of who it was: the role and the table, never the device."""
        return {"role": self.role, "table": self.table}


@dataclass(frozen=True, slots=True)
class Version:
    title: str
    text: str
    by: Who
    at: int  # ms since the epoch


@dataclass(slots=True)
class Recommendation:
    id: str
    theme: str | None
    versions: list[Version]  # the first is the one it was added with; the last is current
    withdrawn_by: Who | None = None
    withdrawn_at: int | None = None
    locked: str | None = None  # the id of the open adoption vote on it
    adopted: str | None = None  # the id of the vote that adopted it: final

    @property
    def title(self) -> str:
        return self.versions[-1].title

    @property
    def text(self) -> str:
        return self.versions[-1].text

    @property
    def table(self) -> str | None:
        """The table that wrote it (whose host may change it), or None if the facilitator did."""
        return self.versions[0].by.table


@dataclass(slots=True)
class Recommendations:
    items: dict[str, Recommendation] = field(default_factory=dict)  # id -> recommendation, in order
    characters: int = 0  # of every version's title and text: derived, kept so a budget check costs nothing


# -- decide ---------------------------------------------------------------------------------------

def _who(actor: Actor) -> Who:
    return Who(actor.device, str(actor.role), actor.table if actor.role == Role.HOST else None)


def _stamp(actor: Actor, now: int) -> dict[str, Any]:
    who = _who(actor)
    return {"device": who.device, "role": who.role, "table": who.table, "at": now}


def _get(state: Recommendations, rec_id: str) -> Recommendation:
    rec = state.items.get(rec_id)
    if rec is None:
        raise Refused(Code.UNKNOWN_TARGET, f"no recommendation {rec_id}")
    return rec


def _open(rec: Recommendation) -> None:
    """Refused(wrong_phase) unless `rec` may change: not withdrawn, not adopted, not in a vote."""
    if rec.withdrawn_at is not None:
        raise Refused(Code.WRONG_PHASE, f"recommendation {rec.id} is withdrawn")
    if rec.adopted is not None:
        raise Refused(Code.WRONG_PHASE, f"recommendation {rec.id} is adopted: it is final")
    if rec.locked is not None:
        raise Refused(Code.WRONG_PHASE, f"recommendation {rec.id} is in an open adoption vote")


def _changeable(state: Recommendations, actor: Actor, rec_id: str) -> Recommendation:
    rec = _get(state, rec_id)
    if actor.role != Role.FACILITATOR and rec.table != actor.table:
        raise Refused(Code.FORBIDDEN, "only the table that wrote it or the facilitator may change it")
    _open(rec)
    return rec


def _room_for(state: Recommendations, title: str, text: str) -> None:
    """Refused(over_budget) if one more version would pass MAX_CHARACTERS: a host's tablet may
    write versions 20 times a second, and every welcome carries every version."""
    if state.characters + len(title) + len(text) > MAX_CHARACTERS:
        raise Refused(Code.OVER_BUDGET, f"the recommendations hold at most {MAX_CHARACTERS} characters in all")


def decide(state: Recommendations, actor: Actor, cmd: Command, op: str, now: int) -> list[Event]:
    """The events `actor`'s `cmd` (sent as `op`) makes happen at `now` (ms since the epoch), or Refused."""
    rule = RULES.get(op)
    if rule is None:
        raise Refused(Code.UNKNOWN_OP, f"no op {op} for recommendations")
    if actor.role not in rule.roles:
        raise Refused(Code.FORBIDDEN, f"a {actor.role} may not {op}")
    if actor.role == Role.HOST and actor.table is None:
        raise Refused(Code.FORBIDDEN, "a host without a table may not write recommendations")
    if isinstance(cmd, AddRecommendation):
        if cmd.recommendation in state.items:
            raise Refused(Code.DUPLICATE_ID, f"recommendation id {cmd.recommendation} is taken")
        if len(state.items) >= MAX_RECOMMENDATIONS:
            raise Refused(Code.OVER_BUDGET, f"an assembly holds at most {MAX_RECOMMENDATIONS} recommendations")
        _room_for(state, cmd.title, cmd.text)
        return [Event("recommendation.add", {"recommendation": cmd.recommendation, "title": cmd.title,
                                             "text": cmd.text, "theme": cmd.theme, **_stamp(actor, now)})]
    if isinstance(cmd, EditRecommendation):
        rec = _changeable(state, actor, cmd.recommendation)
        if cmd.title == rec.title and cmd.text == rec.text:
            raise Refused(Code.INVALID_ARGS, "nothing changed")
        if len(rec.versions) >= MAX_VERSIONS:
            raise Refused(Code.OVER_BUDGET, f"a recommendation keeps at most {MAX_VERSIONS} versions")
        _room_for(state, cmd.title, cmd.text)
        return [Event("recommendation.edit", {"recommendation": rec.id, "title": cmd.title, "text": cmd.text,
                                              **_stamp(actor, now)})]
    if isinstance(cmd, WithdrawRecommendation):
        rec = _changeable(state, actor, cmd.recommendation)
        return [Event("recommendation.withdraw", {"recommendation": rec.id, **_stamp(actor, now)})]
    raise Refused(Code.UNKNOWN_OP, f"{op} is not a recommendation command")


def lock(state: Recommendations, rec_id: str, poll: str) -> Event:
    """The event that puts `rec_id` under the adoption vote `poll`, for the hall to log with the
    vote's opening. Refused: unknown_target, or wrong_phase if withdrawn, adopted or already in a vote.
    """
    rec = _get(state, rec_id)
    _open(rec)
    return Event("recommendation.lock", {"recommendation": rec.id, "poll": poll})


def unlock(state: Recommendations, rec_id: str, poll: str, adopted: bool = False) -> Event:
    """The event that ends the vote `poll` on `rec_id`, for the hall to log with its closing: editable
    again, or final if `adopted`. Refused: unknown_target, or wrong_phase if `poll` does not hold it.
    """
    rec = _get(state, rec_id)
    if rec.locked != poll:
        raise Refused(Code.WRONG_PHASE, f"recommendation {rec.id} is not in vote {poll}")
    return Event("recommendation.unlock", {"recommendation": rec.id, "poll": poll, "adopted": adopted})


# -- evolve ---------------------------------------------------------------------------------------

def _data_who(d: Mapping[str, Any]) -> Who:
    return Who(d["device"], d["role"], d["table"])


def evolve(state: Recommendations, event: Event) -> Recommendations:
    """Fold `event` (one of `EVENTS`) into `state` (in place) and return it."""
    d = event.data
    op = event.op
    if op == "recommendation.add":
        version = Version(d["title"], d["text"], _data_who(d), d["at"])
        state.items[d["recommendation"]] = Recommendation(d["recommendation"], d["theme"], [version])
        state.characters += len(d["title"]) + len(d["text"])
        return state
    if op not in EVENTS:
        raise ValueError(f"event {op} cannot apply to the recommendations")
    rec = state.items[d["recommendation"]]
    if op == "recommendation.edit":
        rec.versions.append(Version(d["title"], d["text"], _data_who(d), d["at"]))
        state.characters += len(d["title"]) + len(d["text"])
    elif op == "recommendation.withdraw":
        rec.withdrawn_by, rec.withdrawn_at = _data_who(d), d["at"]
    elif op == "recommendation.lock":
        rec.locked = d["poll"]
    else:  # recommendation.unlock
        rec.locked = None
        if d["adopted"]:
            rec.adopted = d["poll"]
    return state


# -- what devices see -----------------------------------------------------------------------------

def public(event: Event) -> dict[str, Any]:
    """The data of a recommendation event as every device may see it: without the device id."""
    return {k: v for k, v in event.data.items() if k not in PRIVATE_FIELDS}


def _view(rec: Recommendation) -> dict[str, Any]:
    return {
        "recommendation": rec.id, "title": rec.title, "text": rec.text, "theme": rec.theme, "table": rec.table,
        "withdrawn": rec.withdrawn_at is not None,
        "withdrawn_by": None if rec.withdrawn_by is None else rec.withdrawn_by.label(),
        "withdrawn_at": rec.withdrawn_at, "locked": rec.locked, "adopted": rec.adopted,
        "versions": [{"title": v.title, "text": v.text, "at": v.at, "by": v.by.label()} for v in rec.versions],
    }


def view(state: Recommendations) -> dict[str, Any]:
    """Every recommendation with every version, the same for every device: no device id in it."""
    return {"recommendations": [_view(r) for r in state.items.values()]}


# -- snapshots ------------------------------------------------------------------------------------

def _dump_who(w: Who) -> list[Any]:
    return [w.device, w.role, w.table]


def dump(state: Recommendations) -> dict[str, Any]:
    """The state as plain data, device ids included (a snapshot is the audit's too)."""
    return {"recommendations": [
        {"id": r.id, "theme": r.theme,
         "versions": [[v.title, v.text, *_dump_who(v.by), v.at] for v in r.versions],
         "withdrawn": None if r.withdrawn_by is None else [*_dump_who(r.withdrawn_by), r.withdrawn_at],
         "locked": r.locked, "adopted": r.adopted}
        for r in state.items.values()
    ]}


def load(data: Mapping[str, Any]) -> Recommendations:
    """The state that `dump` wrote: `load(dump(s)) == s`."""
    state = Recommendations()
    for r in data["recommendations"]:
        rec = Recommendation(r["id"], r["theme"], [Version(v[0], v[1], Who(v[2], v[3], v[4]), v[5])
                                                   for v in r["versions"]],
                             locked=r["locked"], adopted=r["adopted"])
        if r["withdrawn"] is not None:
            w = r["withdrawn"]
            rec.withdrawn_by, rec.withdrawn_at = Who(w[0], w[1], w[2]), w[3]
        state.items[rec.id] = rec
        state.characters += sum(len(v.title) + len(v.text) for v in rec.versions)
    return state
