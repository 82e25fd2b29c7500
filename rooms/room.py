"""One interface over both kinds of room, so the server handles a table and the hall alike.

A room is named as the wire names it: `hall`, or `table:<id>`. `RoomModel` holds the state and
offers the four things the server needs: decide, evolve, what a device may see of the room
(`view`), and what every device may see of an event (`public`).
"""

from __future__ import annotations

from typing import Any

from . import commands as c
from . import hall, snapshots, table
from .actors import Actor
from .errors import Code, Refused
from .events import Event
from .events import public as public_data
from .hall import HallCommand

HALL = "hall"
TABLE_PREFIX = "table:"


def kind_of(room: str) -> str:
    """"hall" or "table", or Refused(unknown_room) for any other name."""
    if room == HALL:
        return "hall"
    if room.startswith(TABLE_PREFIX) and c.ID_RE.fullmatch(room[len(TABLE_PREFIX):]):
        return "table"
    raise Refused(Code.UNKNOWN_ROOM, f"no room {room!r}")


def table_room(table_id: str) -> str:
    return TABLE_PREFIX + table_id


class RoomModel:
    """The live state of one room, with the rules that change it."""

    def __init__(self, room: str, state: table.TableState | hall.HallState | None = None) -> None:
        self.room = room
        self.kind = kind_of(room)
        if state is None:
            state = table.new_state(room[len(TABLE_PREFIX):]) if self.kind == "table" else hall.HallState()
        self.state = state

    @property
    def table(self) -> table.TableState:
        assert isinstance(self.state, table.TableState)
        return self.state

    @property
    def hall(self) -> hall.HallState:
        assert isinstance(self.state, hall.HallState)
        return self.state

    def parse(self, op: Any, args: Any) -> HallCommand:
        if self.kind == "table":
            return c.parse(self.kind, op, args)
        return hall.parse(op, args)

    def decide(self, actor: Actor, op: str, cmd: HallCommand, now: int) -> list[Event]:
        if self.kind == "table":
            return table.decide(self.table, actor, cmd, op)  # type: ignore[arg-type]
        return hall.decide(self.hall, actor, cmd, op, now)

    def evolve(self, event: Event) -> None:
        if self.kind == "table":
            table.evolve(self.table, event)
        else:
            hall.evolve(self.hall, event)

    def public(self, event: Event) -> dict[str, Any]:
        """What every device in the room may see of `event` (call after evolving it)."""
        if self.kind == "table":
            return public_data(event, table.public_show_totals(self.table))
        return hall.public(event, self.hall)

    def view(self, actor: Actor | None) -> dict[str, Any]:
        if self.kind == "table":
            return table.view(self.table, actor)
        return hall.view(self.hall)

    def dump(self) -> dict[str, Any]:
        if self.kind == "table":
            return snapshots.dump_table(self.table)
        return snapshots.dump_hall(self.hall)

    @classmethod
    def load(cls, room: str, data: dict[str, Any]) -> RoomModel:
        state = snapshots.load_table(data) if kind_of(room) == "table" else snapshots.load_hall(data)
        return cls(room, state)
