"""What a device knows of a room, folded from the frames it applied, in one comparable shape.

The fault oracle asks one question of every device: does what it folded from `welcome` and `ev`
frames equal what the server holds? Both sides are reduced here to the same plain data (a
"normal form"), so the comparison is `==` and a difference prints readably:

- a table: its name, phase, current activity, notes {id: [text, cluster]}, clusters {id: title},
  dots used, and the dot totals only while they are visible (show_totals or the results phase);
- the hall: the activity, the hall phase, the timer, the spotlighted table and each poll's
  open flag, voters, present and counts (None while hidden and open).

Three sources fold into it: live events (a device), a `state` snapshot (a device, or an auditor's
fresh welcome), and the stored log itself (the server's truth, read straight from the store).
The fold mirrors `rooms/table.py` and `rooms/hall.py` on purpose without importing them: a bug in
the server's evolve must not be copied into the oracle that is meant to catch it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _drop_zero(totals: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in totals.items() if v > 0}


@dataclass
class TableFold:
    """A table as a device sees it. Dot totals are tracked only while visible (see protocol.md:
    with totals hidden, dot events say only that a dot moved)."""

    name: str = ""
    phase: str = "idle"
    activity: str | None = None
    show_totals: bool = False
    notes: dict[str, list[Any]] = field(default_factory=dict)  # id -> [text, cluster]
    clusters: dict[str, str] = field(default_factory=dict)
    dots_used: int = 0
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def totals_visible(self) -> bool:
        return self.activity is not None and (self.show_totals or self.phase == "results")

    def _drop_dots(self, target: str) -> None:
        self.dots_used -= self.totals.pop(target, 0) if self.totals_visible else 0

    def apply(self, op: str, d: dict[str, Any]) -> None:
        if op == "table.open":
            self.name = d.get("name", "")
        elif op == "activity.start":
            self.activity, self.show_totals, self.phase = d["activity"], bool(d.get("show_totals")), "brainstorm"
            self.notes, self.clusters, self.dots_used, self.totals = {}, {}, 0, {}
        elif op == "phase.set":
            self.phase = d["phase"]
            if "totals" in d:
                self.totals = _drop_zero(dict(d["totals"]))
        elif op == "note.add":
            self.notes[d["note"]] = [d["text"], None]
        elif op == "note.edit":
            self.notes[d["note"]][0] = d["text"]
        elif op == "note.remove":
            del self.notes[d["note"]]
            self._drop_dots(d["note"])
        elif op == "note.move":
            self.notes[d["note"]][1] = d["cluster"]
            if d["cluster"] is not None:
                self._drop_dots(d["note"])
        elif op == "cluster.add":
            self.clusters[d["cluster"]] = d.get("title", "")
        elif op == "cluster.rename":
            self.clusters[d["cluster"]] = d["title"]
        elif op == "cluster.remove":
            del self.clusters[d["cluster"]]
            self._drop_dots(d["cluster"])
            for note in self.notes.values():
                if note[1] == d["cluster"]:
                    note[1] = None
        elif op in ("dot.add", "dot.remove"):
            step = 1 if op == "dot.add" else -1
            self.dots_used += step
            if "target" in d:
                self.totals[d["target"]] = self.totals.get(d["target"], 0) + step
                self.totals = _drop_zero(self.totals)
        else:
            raise ValueError(f"unknown table event {op}")

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> TableFold:
        fold = cls(name=s.get("name", ""), phase=s["phase"])
        board = s.get("board")
        if board is not None:
            fold.activity, fold.show_totals = board["activity"], bool(board.get("show_totals"))
            fold.notes = {n["note"]: [n["text"], n["cluster"]] for n in board["notes"]}
            fold.clusters = {k["cluster"]: k["title"] for k in board["clusters"]}
            fold.dots_used = board["dots_used"]
            fold.totals = _drop_zero(dict(board.get("totals") or {}))
        return fold

    def normal(self) -> dict[str, Any]:
        return {"name": self.name, "phase": self.phase, "activity": self.activity, "notes": self.notes,
                "clusters": self.clusters, "dots_used": self.dots_used,
                "totals": self.totals if self.totals_visible else None}


@dataclass
class HallFold:
    """The hall as every device sees it (no ballot is ever in it)."""

    name: str = ""
    activity: str | None = None
    phase: str | None = None
    timer: dict[str, Any] | None = None
    spotlight: str | None = None
    hidden: dict[str, bool] = field(default_factory=dict)
    polls: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, op: str, d: dict[str, Any]) -> None:
        if op == "assembly.open":
            self.name = d["name"]
        elif op == "activity.start":
            self.activity, self.phase = d["activity"], "brainstorm"
        elif op == "phase.set":
            if d.get("all"):
                self.phase = d["phase"]
        elif op == "timer.start":
            self.timer = {"seconds": d["seconds"], "ends_at": d["ends_at"]}
        elif op == "timer.stop":
            self.timer = None
        elif op == "spotlight":
            self.spotlight = d["table"]
        elif op == "poll.open":
            self.hidden[d["poll"]] = bool(d.get("hidden"))
            self.polls[d["poll"]] = {"open": True, "voters": 0, "present": 0, "counts": None}
        elif op == "poll.close":
            self.polls[d["poll"]]["open"] = False
        elif op == "poll.tally":
            poll = self.polls[d["poll"]]
            poll.update(voters=d["voters"], present=d["present"], counts=d.get("counts"))
        else:
            raise ValueError(f"unknown hall event {op}")

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> HallFold:
        fold = cls(name=s["name"], phase=s["phase"], timer=s["timer"])
        fold.activity = None if s["activity"] is None else s["activity"]["activity"]
        fold.spotlight = None if s["spotlight"] is None else s["spotlight"]["table"]
        for p in s["polls"]:
            fold.hidden[p["poll"]] = bool(p["hidden"])
            fold.polls[p["poll"]] = {"open": p["open"], "voters": p["voters"], "present": p["present"],
                                     "counts": p["counts"]}
        return fold

    def normal(self) -> dict[str, Any]:
        polls = {}
        for pid, p in self.polls.items():
            shown = not (self.hidden.get(pid) and p["open"])
            polls[pid] = {**p, "counts": list(p["counts"]) if shown and p["counts"] is not None else None}
        return {"name": self.name, "activity": self.activity, "phase": self.phase, "timer": self.timer,
                "spotlight": self.spotlight, "polls": polls}


Fold = TableFold | HallFold


def new_fold(room: str) -> Fold:
    return HallFold() if room == "hall" else TableFold()


def fold_state(room: str, state: dict[str, Any]) -> Fold:
    return HallFold.from_state(state) if room == "hall" else TableFold.from_state(state)


def fold_records(room: str, records: list[tuple[str, dict[str, Any]]]) -> Fold:
    """Fold a room's stored log, (op, stored data) in seq order, as a device would see it.

    Stored data is a superset of the public data (authors, dot placers, every dot's target), so
    dot totals are kept always and shown only while visible, which is what a snapshot shows.
    """
    fold = new_fold(room)
    if isinstance(fold, TableFold):
        totals: dict[str, int] = {}
        for op, data in records:
            fold.apply(op, data)
            totals = _shadow_totals(totals, op, data)
            fold.totals, fold.dots_used = dict(totals), sum(totals.values())
        return fold
    for op, data in records:
        fold.apply(op, data)
    return fold


def _shadow_totals(totals: dict[str, int], op: str, d: dict[str, Any]) -> dict[str, int]:
    """Every dot's place, from stored data, with the same side effects as rooms/table.py."""
    if op == "activity.start":
        return {}
    if op in ("dot.add", "dot.remove"):
        totals[d["target"]] = totals.get(d["target"], 0) + (1 if op == "dot.add" else -1)
    elif op == "note.remove" or (op == "note.move" and d["cluster"] is not None):
        totals.pop(d["note"], None)
    elif op == "cluster.remove":
        totals.pop(d["cluster"], None)
    return _drop_zero(totals)
