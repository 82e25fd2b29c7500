"""A table's work up to its results, over the protocol: what the record's tests start from."""

from __future__ import annotations

from support.client import Device


async def table_at_results(fac: Device, tablet: Device, title: str, notes: list[str], dots: int) -> None:
    """The tablet's table writes `notes`, groups them under `title` (cluster `k1`), puts `dots` on
    it and reaches its results; the facilitator moves only that table through the phases."""
    table = tablet.room.split(":", 1)[1]
    for i, text in enumerate(notes):
        await tablet.ok("note.add", {"note": f"n{i}", "text": text})
    for phase in ("cluster", "vote", "results"):
        await fac.ok("phase.set", {"phase": phase, "tables": [table]}, room="hall")
        await tablet.next_ev("phase.set", room=tablet.room)
        if phase == "cluster":
            await tablet.ok("cluster.add", {"cluster": "k1", "title": title})
            for i in range(len(notes)):
                await tablet.ok("note.move", {"note": f"n{i}", "cluster": "k1"})
        elif phase == "vote":
            for _ in range(dots):
                await tablet.ok("dot.add", {"target": "k1"})
