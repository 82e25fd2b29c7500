"""The assembly's record for its report: every table's boards and every poll's tally.

Built from the rooms' state, as the facilitator sees it: notes without authors, dot totals
without who placed them, polls as tallies only. No ballot and no name ever leaves here.
"""

from __future__ import annotations

import time
from typing import Any

from rooms.room import HALL, table_room
from rooms.table import board_view

from .hub import Hub


async def assembly_export(hub: Hub, assembly: str) -> dict[str, Any] | None:
    record = await hub.assembly(assembly)
    if record is None:
        return None
    hall = (await hub.live(assembly, HALL)).model.hall
    tables = []
    for t in record["tables"]:
        state = (await hub.live(assembly, table_room(t["id"]))).model.table
        boards = list(state.past.values()) + ([state.board] if state.board is not None else [])
        activities = []
        for board in boards:
            view = board_view(board, None, state.phase, full=True)
            for note in view["notes"]:
                note.pop("mine", None)
            activities.append(view)
        tables.append({"id": t["id"], "name": t["name"], "phase": str(state.phase), "activities": activities})
    return {
        "assembly": assembly, "name": record["name"], "created_at": record.get("created_at"),
        "exported_at": int(time.time() * 1000), "members": await hub.store.members(assembly),
        "activities": list(hall.activities.values()), "tables": tables,
        "polls": [p.view() for p in hall.polls.values()],
    }
