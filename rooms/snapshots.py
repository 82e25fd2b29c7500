"""A room's state as plain data and back, so a snapshot can be stored and a join costs the
state, not the whole history. `load(dump(s))` equals `s`; the tests hold the two to that.
"""

from __future__ import annotations

from typing import Any

from . import attendance, recommendations, synthesis
from .hall import HallState, Poll
from .phases import Phase
from .table import Board, Cluster, Note, TableState


def _dump_board(b: Board) -> dict[str, Any]:
    return {
        "activity": b.activity, "prompt": b.prompt, "dots": b.dots, "max_per_target": b.max_per_target,
        "show_totals": b.show_totals,
        "notes": [[n.id, n.text, n.author, n.cluster] for n in b.notes.values()],
        "clusters": [[k.id, k.title] for k in b.clusters.values()],
        "placed": [[d, t, n] for (d, t), n in b.placed.items()],
    }


def _load_board(d: dict[str, Any]) -> Board:
    b = Board(d["activity"], d["prompt"], d["dots"], d["max_per_target"], d["show_totals"])
    b.notes = {n[0]: Note(n[0], n[1], n[2], n[3]) for n in d["notes"]}
    b.clusters = {k[0]: Cluster(k[0], k[1]) for k in d["clusters"]}
    b.placed = {(p[0], p[1]): p[2] for p in d["placed"]}
    return b


def dump_table(s: TableState) -> dict[str, Any]:
    return {
        "table": s.table, "name": s.name, "phase": str(s.phase),
        "board": None if s.board is None else _dump_board(s.board),
        "past": [_dump_board(b) for b in s.past.values()],
    }


def load_table(d: dict[str, Any]) -> TableState:
    s = TableState(d["table"], d["name"], Phase(d["phase"]))
    s.board = None if d["board"] is None else _load_board(d["board"])
    s.past = {b["activity"]: _load_board(b) for b in d["past"]}
    return s


def dump_hall(s: HallState) -> dict[str, Any]:
    return {
        "assembly": s.assembly, "name": s.name, "tables": [[k, v] for k, v in s.tables.items()],
        "activity": s.activity, "activities": list(s.activities.values()), "phase": s.phase,
        "timer": s.timer, "spotlight": s.spotlight,
        "polls": [[p.id, p.question, p.kind, p.options, p.hidden, p.open, p.counts, p.voters, p.present,
                   p.recommendation, p.rule, p.slate, p.result, p.paper]
                  for p in s.polls.values()],
        "synthesis": synthesis.dump(s.synthesis),
        "recommendations": recommendations.dump(s.recommendations),
        "attendance": attendance.dump(s.attendance),
    }


def load_hall(d: dict[str, Any]) -> HallState:
    s = HallState(d["assembly"], d["name"], {k: v for k, v in d["tables"]})
    s.activity, s.phase, s.timer, s.spotlight = d["activity"], d["phase"], d["timer"], d["spotlight"]
    s.activities = {a["activity"]: a for a in d["activities"]}
    s.polls = {p[0]: Poll(*p) for p in d["polls"]}  # a snapshot from before adoption votes has 9 fields
    # snapshots from before issue 6 have none of these: their hall had none
    if "synthesis" in d:
        s.synthesis = synthesis.load(d["synthesis"])
    if "recommendations" in d:
        s.recommendations = recommendations.load(d["recommendations"])
    if "attendance" in d:
        s.attendance = attendance.load(d["attendance"])
    return s
