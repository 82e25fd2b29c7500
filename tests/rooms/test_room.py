"""RoomModel: one interface over a table room and the hall, named as the wire names them."""

from __future__ import annotations

import pytest

from rooms import Actor, Code, Event, Refused, Role
from rooms import commands as c
from rooms.room import RoomModel, kind_of, table_room

M1 = Actor("dev-m1", Role.MEMBER, "7")
FAC = Actor("dev-fac", Role.FACILITATOR)


@pytest.mark.parametrize(("room", "kind"), [("hall", "hall"), ("table:7", "table"), ("table:a.b_c:d-1", "table"),
                                            ("table:" + "x" * 64, "table")])
def test_room_names_map_to_their_kind(room: str, kind: str) -> None:
    """`hall` is the hall and `table:<id>` with a valid id is a table room."""
    assert kind_of(room) == kind


@pytest.mark.parametrize("room", ["", "Hall", "halls", "table", "table:", "table:bad id", "table:" + "x" * 65,
                                  "tables:1", "table:1/2"])
def test_other_room_names_are_unknown_rooms(room: str) -> None:
    """Any other room name is refused as unknown_room, also when building a RoomModel."""
    with pytest.raises(Refused) as info:
        kind_of(room)
    assert info.value.code == Code.UNKNOWN_ROOM
    with pytest.raises(Refused):
        RoomModel(room)


def test_table_room_names_round_trip() -> None:
    """table_room builds the name that kind_of reads back as a table, and a new model knows its table id."""
    assert table_room("7") == "table:7"
    room = RoomModel(table_room("7"))
    assert room.kind == "table" and room.table.table == "7"


def test_a_room_parses_with_its_own_ops() -> None:
    """A table room parses table ops and refuses hall ops, and the other way round."""
    table_room_ = RoomModel("table:7")
    hall_room = RoomModel("hall")
    assert table_room_.parse("dot.add", {"target": "n1"}) == c.AddDot("n1")
    assert hall_room.parse("timer.stop", {}) == c.StopTimer()
    for room, op in [(table_room_, "timer.stop"), (hall_room, "dot.add")]:
        with pytest.raises(Refused) as info:
            room.parse(op, {})
        assert info.value.code == Code.UNKNOWN_OP


def test_a_table_room_decides_evolves_views_and_dumps() -> None:
    """Through RoomModel a table takes a note, shows it without its author, and reloads from its dump."""
    room = RoomModel("table:7")
    room.evolve(Event("activity.start", {"activity": "a1", "prompt": "", "dots": 5, "max_per_target": 3}))
    [e] = room.decide(M1, "note.add", room.parse("note.add", {"note": "n1", "text": "hi"}), now=0)
    room.evolve(e)
    assert room.public(e) == {"note": "n1", "text": "hi"}
    assert room.view(M1)["board"]["notes"] == [{"note": "n1", "text": "hi", "cluster": None, "mine": True}]
    assert RoomModel.load("table:7", room.dump()).dump() == room.dump()


def test_the_hall_room_decides_with_the_clock_it_is_given() -> None:
    """The hall's decide uses the `now` passed in (no clock of its own)."""
    room = RoomModel("hall")
    [e] = room.decide(FAC, "timer.start", room.parse("timer.start", {"seconds": 2}), now=5_000)
    room.evolve(e)
    assert room.view(None)["timer"] == {"seconds": 2, "ends_at": 7_000}
    assert RoomModel.load("hall", room.dump()).dump() == room.dump()


def test_the_wrong_kind_of_state_is_caught() -> None:
    """Asking a hall for its table state (or a table for its hall state) fails loudly, not silently."""
    with pytest.raises(AssertionError):
        _ = RoomModel("hall").table
    with pytest.raises(AssertionError):
        _ = RoomModel("table:7").hall
