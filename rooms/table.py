"""A table's room: its board of notes, clusters and dots for each activity, and its phase.

`decide(state, actor, command)` checks every rule and returns the events, changing nothing;
`evolve(state, event)` folds one event into the state. The server owns the state object and
feeds it events in log order, so replaying a table's log from nothing rebuilds it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import commands as c
from .actors import Actor, Role
from .errors import Code, Refused
from .events import Event
from .phases import MODERATORS, TABLE_RULES, Phase
from .results import ranked

MAX_NOTES = 500  # per board: a table of 8 writes dozens; this only stops a runaway device
MAX_CLUSTERS = 100


@dataclass(slots=True)
class Note:
    id: str
    text: str
    author: str
    cluster: str | None = None


@dataclass(slots=True)
class Cluster:
    id: str
    title: str


@dataclass(slots=True)
class Board:
    """One activity's work at one table."""

    activity: str
    prompt: str = ""
    dots: int = 5
    max_per_target: int = 3
    show_totals: bool = False
    notes: dict[str, Note] = field(default_factory=dict)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    placed: dict[tuple[str, str], int] = field(default_factory=dict)  # (device, target) -> dots

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, target), n in self.placed.items():
            out[target] = out.get(target, 0) + n
        return out

    def used_by(self, device: str) -> int:
        return sum(n for (d, _), n in self.placed.items() if d == device)

    def is_target(self, target: str) -> bool:
        note = self.notes.get(target)
        return target in self.clusters or (note is not None and note.cluster is None)

    def drop_dots_on(self, target: str) -> None:
        for key in [k for k in self.placed if k[1] == target]:
            del self.placed[key]


@dataclass(slots=True)
class TableState:
    table: str
    name: str = ""
    phase: Phase = Phase.IDLE
    board: Board | None = None
    past: dict[str, Board] = field(default_factory=dict)  # earlier activities, for the record


# -- decide ---------------------------------------------------------------------------------------

def _check_rule(state: TableState, actor: Actor, op: str) -> None:
    rule = TABLE_RULES[op]
    if actor.role not in rule.roles:
        raise Refused(Code.FORBIDDEN, f"a {actor.role} may not {op}")
    if actor.seated and actor.table != state.table:
        raise Refused(Code.FORBIDDEN, "not your table")
    if state.phase not in rule.phases:
        raise Refused(Code.WRONG_PHASE, f"{op} is not possible in the {state.phase} phase")


def _board(state: TableState) -> Board:
    if state.board is None:
        raise Refused(Code.WRONG_PHASE, "no activity has started")
    return state.board


def _own_note(board: Board, actor: Actor, note_id: str, own_only: bool) -> Note:
    note = board.notes.get(note_id)
    if note is None:
        raise Refused(Code.UNKNOWN_TARGET, f"no note {note_id}")
    if own_only and actor.role not in MODERATORS and note.author != actor.device:
        raise Refused(Code.FORBIDDEN, "only its author or the host may change a note")
    return note


def _cluster(board: Board, cluster_id: str) -> Cluster:
    cluster = board.clusters.get(cluster_id)
    if cluster is None:
        raise Refused(Code.UNKNOWN_TARGET, f"no cluster {cluster_id}")
    return cluster


def decide(state: TableState, actor: Actor, cmd: c.Command, op: str) -> list[Event]:
    """The events that `actor`'s `cmd` (sent as `op`) makes happen at this table, or Refused."""
    if op not in TABLE_RULES:
        raise Refused(Code.UNKNOWN_OP, f"no op {op} in a table room")
    _check_rule(state, actor, op)
    if isinstance(cmd, c.StartActivity):
        return [Event("activity.start", {"activity": cmd.activity, "prompt": cmd.prompt, "dots": cmd.dots,
                                         "max_per_target": cmd.max_per_target, "show_totals": cmd.show_totals})]
    if isinstance(cmd, c.SetPhase):
        _board(state)
        data: dict[str, Any] = {"phase": str(cmd.phase)}
        if cmd.phase == Phase.RESULTS and state.board is not None:
            data["totals"] = state.board.totals()
        return [Event("phase.set", data)]
    board = _board(state)
    rule = TABLE_RULES[op]
    if isinstance(cmd, c.AddNote):
        if cmd.note in board.notes or cmd.note in board.clusters:
            raise Refused(Code.DUPLICATE_ID, f"note id {cmd.note} is taken")
        if len(board.notes) >= MAX_NOTES:
            raise Refused(Code.OVER_BUDGET, f"a board holds at most {MAX_NOTES} notes")
        return [Event("note.add", {"note": cmd.note, "text": cmd.text, "author": actor.device})]
    if isinstance(cmd, c.EditNote):
        _own_note(board, actor, cmd.note, rule.own_only)
        return [Event("note.edit", {"note": cmd.note, "text": cmd.text})]
    if isinstance(cmd, c.RemoveNote):
        _own_note(board, actor, cmd.note, rule.own_only)
        return [Event("note.remove", {"note": cmd.note})]
    if isinstance(cmd, c.MoveNote):
        _own_note(board, actor, cmd.note, False)
        if cmd.cluster is not None:
            _cluster(board, cmd.cluster)
        return [Event("note.move", {"note": cmd.note, "cluster": cmd.cluster})]
    if isinstance(cmd, c.AddCluster):
        if cmd.cluster in board.clusters or cmd.cluster in board.notes:
            raise Refused(Code.DUPLICATE_ID, f"cluster id {cmd.cluster} is taken")
        if len(board.clusters) >= MAX_CLUSTERS:
            raise Refused(Code.OVER_BUDGET, f"a board holds at most {MAX_CLUSTERS} clusters")
        return [Event("cluster.add", {"cluster": cmd.cluster, "title": cmd.title})]
    if isinstance(cmd, c.RenameCluster):
        _cluster(board, cmd.cluster)
        return [Event("cluster.rename", {"cluster": cmd.cluster, "title": cmd.title})]
    if isinstance(cmd, c.RemoveCluster):
        _cluster(board, cmd.cluster)
        return [Event("cluster.remove", {"cluster": cmd.cluster})]
    if isinstance(cmd, c.AddDot):
        if not board.is_target(cmd.target):
            raise Refused(Code.UNKNOWN_TARGET, f"{cmd.target} is not a cluster or an unclustered note")
        if board.used_by(actor.device) >= board.dots:
            raise Refused(Code.OVER_BUDGET, f"all {board.dots} dots are placed")
        if board.placed.get((actor.device, cmd.target), 0) >= board.max_per_target:
            raise Refused(Code.OVER_BUDGET, f"at most {board.max_per_target} dots on one target")
        return [Event("dot.add", {"target": cmd.target, "member": actor.device})]
    if isinstance(cmd, c.RemoveDot):
        if board.placed.get((actor.device, cmd.target), 0) <= 0:
            raise Refused(Code.UNKNOWN_TARGET, f"you have no dot on {cmd.target}")
        return [Event("dot.remove", {"target": cmd.target, "member": actor.device})]
    raise Refused(Code.UNKNOWN_OP, f"{op} is not a table command")


# -- evolve ---------------------------------------------------------------------------------------

def _open(s: TableState, d: dict[str, Any]) -> None:
    s.table, s.name = d["table"], d.get("name", "")


def _start(s: TableState, d: dict[str, Any]) -> None:
    if s.board is not None:
        s.past[s.board.activity] = s.board
    s.board = Board(d["activity"], d["prompt"], d["dots"], d["max_per_target"], d.get("show_totals", False))
    s.phase = Phase.BRAINSTORM


def _phase(s: TableState, d: dict[str, Any]) -> None:
    s.phase = Phase(d["phase"])


def _note_add(b: Board, d: dict[str, Any]) -> None:
    b.notes[d["note"]] = Note(d["note"], d["text"], d["author"])


def _note_edit(b: Board, d: dict[str, Any]) -> None:
    b.notes[d["note"]].text = d["text"]


def _note_remove(b: Board, d: dict[str, Any]) -> None:
    del b.notes[d["note"]]
    b.drop_dots_on(d["note"])


def _note_move(b: Board, d: dict[str, Any]) -> None:
    b.notes[d["note"]].cluster = d["cluster"]
    if d["cluster"] is not None:
        b.drop_dots_on(d["note"])  # a clustered note is no longer a target of its own


def _cluster_add(b: Board, d: dict[str, Any]) -> None:
    b.clusters[d["cluster"]] = Cluster(d["cluster"], d["title"])


def _cluster_rename(b: Board, d: dict[str, Any]) -> None:
    b.clusters[d["cluster"]].title = d["title"]


def _cluster_remove(b: Board, d: dict[str, Any]) -> None:
    del b.clusters[d["cluster"]]
    b.drop_dots_on(d["cluster"])
    for note in b.notes.values():
        if note.cluster == d["cluster"]:
            note.cluster = None


def _dot(delta: int) -> Callable[[Board, dict[str, Any]], None]:
    def apply(b: Board, d: dict[str, Any]) -> None:
        key = (d["member"], d["target"])
        n = b.placed.get(key, 0) + delta
        if n > 0:
            b.placed[key] = n
        else:
            b.placed.pop(key, None)
    return apply


TABLE_EVOLVERS: dict[str, Callable[[TableState, dict[str, Any]], None]] = {
    "table.open": _open,
    "activity.start": _start,
    "phase.set": _phase,
}

BOARD_EVOLVERS: dict[str, Callable[[Board, dict[str, Any]], None]] = {
    "note.add": _note_add,
    "note.edit": _note_edit,
    "note.remove": _note_remove,
    "note.move": _note_move,
    "cluster.add": _cluster_add,
    "cluster.rename": _cluster_rename,
    "cluster.remove": _cluster_remove,
    "dot.add": _dot(+1),
    "dot.remove": _dot(-1),
}


def evolve(state: TableState, event: Event) -> TableState:
    """Fold `event` into `state` (in place, for speed) and return it."""
    data = dict(event.data)
    if event.op in TABLE_EVOLVERS:
        TABLE_EVOLVERS[event.op](state, data)
    elif state.board is not None and event.op in BOARD_EVOLVERS:
        BOARD_EVOLVERS[event.op](state.board, data)
    else:
        raise ValueError(f"event {event.op} cannot apply to table {state.table}")
    return state


# -- views ----------------------------------------------------------------------------------------

def board_view(board: Board, viewer: str | None, phase: Phase, full: bool = False) -> dict[str, Any]:
    """A board as `viewer` (a device id, or None) may see it; `full` for the facilitator's export."""
    totals_visible = full or board.show_totals or phase == Phase.RESULTS
    view: dict[str, Any] = {
        "activity": board.activity, "prompt": board.prompt, "dots": board.dots,
        "max_per_target": board.max_per_target, "show_totals": board.show_totals,
        "notes": [{"note": n.id, "text": n.text, "cluster": n.cluster, "mine": n.author == viewer}
                  for n in board.notes.values()],
        "clusters": [{"cluster": k.id, "title": k.title} for k in board.clusters.values()],
        "dots_used": sum(board.placed.values()),
    }
    if viewer is not None:
        view["my_dots"] = {t: n for (d, t), n in board.placed.items() if d == viewer}
    if totals_visible:
        view["totals"] = board.totals()
        view["results"] = ranked(board)
    return view


def view(state: TableState, viewer: Actor | None) -> dict[str, Any]:
    """The snapshot of a table that a `welcome` carries to `viewer`: no author, no one else's dots."""
    device = viewer.device if viewer is not None and viewer.seated else None
    return {
        "table": state.table, "name": state.name, "phase": str(state.phase),
        "board": None if state.board is None else board_view(state.board, device, state.phase),
    }


def public_show_totals(state: TableState) -> bool:
    """Whether dot events may say where a dot went right now."""
    return state.board is not None and (state.board.show_totals or state.phase == Phase.RESULTS)


def new_state(table: str) -> TableState:
    return TableState(table=table)


__all__ = ["Board", "Cluster", "Note", "Role", "TableState", "decide", "evolve", "new_state", "view"]
