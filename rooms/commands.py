"""Commands: what a device asks for, parsed from untrusted `args` into typed, checked values.

Parsing checks only shape (types, lengths, ranges); whether the command is allowed here and now
is the rooms' decision. Every failure is `Refused(invalid_args)` naming the field, so a device
learns exactly what it sent wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import Code, Refused
from .phases import SETTABLE, Phase

NOTE_MAX = 280
TITLE_MAX = 80
PROMPT_MAX = 500
QUESTION_MAX = 300
OPTION_MAX = 120
OPTIONS_MAX = 12
ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
TIMER_MAX = 24 * 3600
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AddNote:
    note: str
    text: str


@dataclass(frozen=True, slots=True)
class EditNote:
    note: str
    text: str


@dataclass(frozen=True, slots=True)
class RemoveNote:
    note: str


@dataclass(frozen=True, slots=True)
class MoveNote:
    note: str
    cluster: str | None


@dataclass(frozen=True, slots=True)
class AddCluster:
    cluster: str
    title: str


@dataclass(frozen=True, slots=True)
class RenameCluster:
    cluster: str
    title: str


@dataclass(frozen=True, slots=True)
class RemoveCluster:
    cluster: str


@dataclass(frozen=True, slots=True)
class AddDot:
    target: str


@dataclass(frozen=True, slots=True)
class RemoveDot:
    target: str


@dataclass(frozen=True, slots=True)
class SetPhase:
    phase: Phase
    tables: tuple[str, ...] | None = None  # hall only: None means every table


@dataclass(frozen=True, slots=True)
class StartActivity:
    activity: str
    prompt: str
    dots: int = 5
    max_per_target: int = 3
    show_totals: bool = False  # dot totals visible while voting (default: hidden until results)


@dataclass(frozen=True, slots=True)
class StartTimer:
    seconds: int


@dataclass(frozen=True, slots=True)
class StopTimer:
    pass


@dataclass(frozen=True, slots=True)
class Spotlight:
    table: str | None
    results: tuple[Mapping[str, Any], ...] = ()  # filled in by the server from the table's state


@dataclass(frozen=True, slots=True)
class OpenPoll:
    poll: str
    question: str
    kind: str  # "choice" or "scale"
    options: tuple[str, ...]  # the answers (choice) or the step labels (scale)
    hidden: bool = False  # counts withheld until the poll closes


@dataclass(frozen=True, slots=True)
class ClosePoll:
    poll: str


@dataclass(frozen=True, slots=True)
class CastVote:
    poll: str
    choice: int
    reason: str | None = None  # an objection's reason, in an adoption vote (rooms/adoption.py)


@dataclass(frozen=True, slots=True)
class Tally:
    """The server's count of a poll's ballot box, to be published to the hall."""

    poll: str
    counts: tuple[int, ...]
    voters: int
    present: int
    statements: tuple[str, ...] = ()  # a closed adoption vote's objections' reasons, sorted, anonymous


Command = (
    AddNote | EditNote | RemoveNote | MoveNote | AddCluster | RenameCluster | RemoveCluster | AddDot
    | RemoveDot | SetPhase | StartActivity | StartTimer | StopTimer | Spotlight | OpenPoll | ClosePoll
    | CastVote | Tally
)


def _bad(field: str, why: str) -> Refused:
    return Refused(Code.INVALID_ARGS, f"{field}: {why}")


def ident(args: Mapping[str, Any], field: str) -> str:
    value = args.get(field)
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise _bad(field, "must be an id of 1-64 letters, digits or . _ : -")
    return value


def optional_ident(args: Mapping[str, Any], field: str) -> str | None:
    return None if args.get(field) is None else ident(args, field)


def text(args: Mapping[str, Any], field: str, low: int, high: int) -> str:
    """A trimmed string of low..high characters (length counted after trimming)."""
    value = args.get(field, "" if low == 0 else None)
    if not isinstance(value, str):
        raise _bad(field, "must be a string")
    value = value.strip()
    if not low <= len(value) <= high:
        raise _bad(field, f"must be {low}-{high} characters after trimming")
    return value


def integer(args: Mapping[str, Any], field: str, low: int, high: int, default: int | None = None) -> int:
    value = args.get(field, default)
    if type(value) is not int or not low <= value <= high:
        raise _bad(field, f"must be a whole number from {low} to {high}")
    return value


def flag(args: Mapping[str, Any], field: str) -> bool:
    value = args.get(field, False)
    if not isinstance(value, bool):
        raise _bad(field, "must be true or false")
    return value


def phase(args: Mapping[str, Any]) -> Phase:
    value = args.get("phase")
    if value not in SETTABLE:
        raise _bad("phase", "must be one of " + ", ".join(SETTABLE))
    return Phase(value)


def strings(args: Mapping[str, Any], field: str, low: int, high: int, each: int) -> tuple[str, ...]:
    value = args.get(field)
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise _bad(field, f"must be a list of {low}-{high} strings")
    return tuple(text({f"{field}[{i}]": v}, f"{field}[{i}]", 1, each) for i, v in enumerate(value))


def _set_phase(a: Mapping[str, Any]) -> SetPhase:
    tables = a.get("tables")
    if tables is None:
        return SetPhase(phase(a))
    if not isinstance(tables, list) or len(tables) > 1000:
        raise _bad("tables", "must be a list of table ids")
    return SetPhase(phase(a), tuple(ident({f"tables[{i}]": t}, f"tables[{i}]") for i, t in enumerate(tables)))


def _start_activity(a: Mapping[str, Any]) -> StartActivity:
    dots = integer(a, "dots", 1, 20, default=5)
    return StartActivity(
        activity=ident(a, "activity"),
        prompt=text(a, "prompt", 0, PROMPT_MAX),
        dots=dots,
        max_per_target=integer(a, "max_per_target", 1, dots, default=min(3, dots)),
        show_totals=flag(a, "show_totals"),
    )


def _open_poll(a: Mapping[str, Any]) -> OpenPoll:
    kind = a.get("kind")
    if kind == "choice":
        options = strings(a, "options", 2, OPTIONS_MAX, OPTION_MAX)
    elif kind == "scale":
        options = strings(a, "labels", 3, 7, OPTION_MAX)
    else:
        raise _bad("kind", "must be 'choice' or 'scale'")
    return OpenPoll(ident(a, "poll"), text(a, "question", 1, QUESTION_MAX), kind, options, flag(a, "hidden"))


Parser = Callable[[Mapping[str, Any]], Command]

TABLE_PARSERS: dict[str, Parser] = {
    "note.add": lambda a: AddNote(ident(a, "note"), text(a, "text", 1, NOTE_MAX)),
    "note.edit": lambda a: EditNote(ident(a, "note"), text(a, "text", 1, NOTE_MAX)),
    "note.remove": lambda a: RemoveNote(ident(a, "note")),
    "note.move": lambda a: MoveNote(ident(a, "note"), optional_ident(a, "cluster")),
    "cluster.add": lambda a: AddCluster(ident(a, "cluster"), text(a, "title", 0, TITLE_MAX)),
    "cluster.rename": lambda a: RenameCluster(ident(a, "cluster"), text(a, "title", 0, TITLE_MAX)),
    "cluster.remove": lambda a: RemoveCluster(ident(a, "cluster")),
    "dot.add": lambda a: AddDot(ident(a, "target")),
    "dot.remove": lambda a: RemoveDot(ident(a, "target")),
    "phase.set": lambda a: SetPhase(phase(a)),
}

HALL_PARSERS: dict[str, Parser] = {
    "activity.start": _start_activity,
    "phase.set": _set_phase,
    "timer.start": lambda a: StartTimer(integer(a, "seconds", 1, TIMER_MAX)),
    "timer.stop": lambda a: StopTimer(),
    "spotlight": lambda a: Spotlight(optional_ident(a, "table")),
    "poll.open": _open_poll,
    "poll.close": lambda a: ClosePoll(ident(a, "poll")),
    "vote.cast": lambda a: CastVote(ident(a, "poll"), integer(a, "choice", 0, OPTIONS_MAX - 1)),
}


def parse_with(parsers: Mapping[str, Callable[[Mapping[str, Any]], T]], op: Any, args: Any, where: str) -> T:
    """Turn a device's `op` and `args` into a command by `parsers`: Refused(unknown_op) for an
    op they do not know (`where` says where, for the message), invalid_args for args not a map."""
    parser = parsers.get(op) if isinstance(op, str) else None
    if parser is None:
        raise Refused(Code.UNKNOWN_OP, f"no op {op!r} in {where}")
    if not isinstance(args, Mapping):
        raise _bad("args", "must be a map")
    return parser(args)


def parse(room_kind: str, op: str, args: Any) -> Command:
    """Turn a device's `op` and `args` for a room of `room_kind` ("table" or "hall") into a command."""
    return parse_with(TABLE_PARSERS if room_kind == "table" else HALL_PARSERS, op, args, f"a {room_kind} room")
