"""A table's results: its clusters (and unclustered notes) ranked by dots.

Pure, so the tablet, the display and the export rank the same way: most dots first, then by the
order the targets were created, so a tie never reshuffles between two screens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .table import Board


def ranked(board: Board) -> list[dict[str, Any]]:
    totals = board.totals()
    rows: list[dict[str, Any]] = []
    for order, cluster in enumerate(board.clusters.values()):
        notes = [n.text for n in board.notes.values() if n.cluster == cluster.id]
        rows.append({"target": cluster.id, "kind": "cluster", "title": cluster.title, "notes": notes,
                     "dots": totals.get(cluster.id, 0), "order": order})
    base = len(rows)
    for order, note in enumerate(n for n in board.notes.values() if n.cluster is None):
        rows.append({"target": note.id, "kind": "note", "title": note.text, "notes": [note.text],
                     "dots": totals.get(note.id, 0), "order": base + order})
    rows.sort(key=lambda r: (-r["dots"], r["order"]))
    for r in rows:
        del r["order"]
    return rows
