"""The hall: facilitator controls, activities and phases carried into the tables, timers and polls."""

from __future__ import annotations

from typing import Any

import pytest

from rooms import SYSTEM, Actor, Code, Event, Refused, Role, hall, snapshots, table
from rooms import commands as c
from rooms.hall import HallState
from rooms.phases import Phase
from rooms.room import RoomModel

FAC = Actor("dev-fac", Role.FACILITATOR)
M1 = Actor("dev-m1", Role.MEMBER, "1")
M2 = Actor("dev-m2", Role.MEMBER, "2")
HOST = Actor("dev-host", Role.HOST, "1")
DISPLAY = Actor("dev-display", Role.DISPLAY)
NOW = 1_700_000_000_000


def opened(*tables: str) -> HallState:
    """A hall whose assembly has `tables` (default 1, 2, 3)."""
    tables = tables or ("1", "2", "3")
    state = HallState()
    hall.evolve(state, Event("assembly.open", {"assembly": "asm1", "name": "Borgersamling",
                                               "tables": [{"id": t, "name": f"Table {t}"} for t in tables]}))
    return state


def act(state: HallState, actor: Actor, op: str, args: dict[str, Any], now: int = NOW) -> list[Event]:
    """Parse, decide and evolve one hall command; returns its events."""
    evs = hall.decide(state, actor, c.parse("hall", op, args), op, now)
    for e in evs:
        hall.evolve(state, e)
    return evs


def refused(state: HallState, actor: Actor, op: str, args: dict[str, Any]) -> Code:
    """The code a hall command is refused with; also checks the refusal changed nothing."""
    before = snapshots.dump_hall(state)
    with pytest.raises(Refused) as info:
        act(state, actor, op, args)
    assert snapshots.dump_hall(state) == before
    return info.value.code


def tally(state: HallState, poll: str, counts: list[int], voters: int, present: int = 10) -> Event:
    actor, cmd = hall.system_tally(poll, counts, voters, present)
    [e] = hall.decide(state, actor, cmd, "poll.tally", NOW)
    hall.evolve(state, e)
    return e


def with_activity(**args: Any) -> HallState:
    state = opened()
    act(state, FAC, "activity.start", {"activity": "a1", "prompt": "Why?", **args})
    return state


def with_poll(hidden: bool = False) -> HallState:
    state = opened()
    act(state, FAC, "poll.open", {"poll": "p1", "question": "Which?", "kind": "choice",
                                  "options": ["A", "B", "C"], "hidden": hidden})
    return state


FACILITATOR_OPS: list[tuple[str, dict[str, Any]]] = [
    ("activity.start", {"activity": "a9"}),
    ("phase.set", {"phase": "vote"}),
    ("timer.start", {"seconds": 60}),
    ("timer.stop", {}),
    ("spotlight", {"table": "1"}),
    ("poll.open", {"poll": "p9", "question": "Q", "kind": "scale", "labels": ["lo", "mid", "hi"]}),
    ("poll.close", {"poll": "p1"}),
]


# -- who ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "args"), FACILITATOR_OPS, ids=[op for op, _ in FACILITATOR_OPS])
@pytest.mark.parametrize("actor", [M1, HOST, DISPLAY, SYSTEM], ids=["member", "host", "display", "system"])
def test_hall_controls_are_facilitator_only(actor: Actor, op: str, args: dict[str, Any]) -> None:
    """Every hall control is forbidden to members, hosts, displays and the server's own actor."""
    state = with_poll()
    act(state, FAC, "activity.start", {"activity": "a1"})
    assert refused(state, actor, op, args) == Code.FORBIDDEN


@pytest.mark.parametrize(("op", "args"), FACILITATOR_OPS, ids=[op for op, _ in FACILITATOR_OPS])
def test_facilitator_may_use_every_hall_control(op: str, args: dict[str, Any]) -> None:
    """The same commands from the facilitator are accepted and logged under their own op."""
    state = with_poll()
    act(state, FAC, "activity.start", {"activity": "a1"})
    evs = act(state, FAC, op, args)
    assert [e.op for e in evs] == [op]


def test_a_device_cannot_publish_a_tally() -> None:
    """poll.tally is the server's alone: the facilitator deciding a Tally is forbidden."""
    state = with_poll()
    with pytest.raises(Refused) as info:
        hall.decide(state, FAC, c.Tally("p1", (1, 0, 0), 1, 5), "poll.tally", NOW)
    assert info.value.code == Code.FORBIDDEN


def test_hall_decide_refuses_unknown_ops() -> None:
    """hall.decide refuses an op outside the hall's rules with unknown_op."""
    with pytest.raises(Refused) as info:
        hall.decide(opened(), FAC, c.AddNote("n1", "t"), "note.add", NOW)
    assert info.value.code == Code.UNKNOWN_OP


# -- activities and phases -------------------------------------------------------------------------

def test_activity_start_names_every_table_and_sets_brainstorm() -> None:
    """activity.start records the activity with its settings and the tables, and puts the hall in brainstorm."""
    state = opened()
    [e] = act(state, FAC, "activity.start", {"activity": "a1", "prompt": "Why?", "dots": 4,
                                             "max_per_target": 2, "show_totals": True})
    assert e.data == {"activity": "a1", "prompt": "Why?", "dots": 4, "max_per_target": 2, "show_totals": True,
                      "tables": ["1", "2", "3"]}
    assert state.activity == e.data and state.activities == {"a1": e.data}
    assert state.phase == "brainstorm"


def test_activity_start_with_a_used_id_is_refused() -> None:
    """An activity id that has already run, even before another activity, is duplicate_id."""
    state = with_activity()
    assert refused(state, FAC, "activity.start", {"activity": "a1"}) == Code.DUPLICATE_ID
    act(state, FAC, "activity.start", {"activity": "a2"})
    assert refused(state, FAC, "activity.start", {"activity": "a1"}) == Code.DUPLICATE_ID
    assert state.activity is not None and state.activity["activity"] == "a2"
    assert list(state.activities) == ["a1", "a2"]


def test_phase_set_needs_an_activity() -> None:
    """Before any activity the hall cannot set a phase: wrong_phase."""
    assert refused(opened(), FAC, "phase.set", {"phase": "cluster"}) == Code.WRONG_PHASE


def test_phase_set_defaults_to_every_table() -> None:
    """phase.set without tables targets every table in order and sets the hall's phase."""
    state = with_activity()
    [e] = act(state, FAC, "phase.set", {"phase": "cluster"})
    assert e.data == {"phase": "cluster", "tables": ["1", "2", "3"], "all": True}
    assert state.phase == "cluster"


def test_phase_set_for_some_tables_leaves_the_hall_phase() -> None:
    """phase.set for listed tables targets only those (once each) and does not change the hall-wide phase."""
    state = with_activity()
    [e] = act(state, FAC, "phase.set", {"phase": "vote", "tables": ["3", "1", "3"]})
    assert e.data == {"phase": "vote", "tables": ["3", "1"], "all": False}
    assert state.phase == "brainstorm"


def test_phase_set_with_an_unknown_table_is_refused() -> None:
    """A table id the assembly does not have makes the whole phase.set unknown_target."""
    state = with_activity()
    assert refused(state, FAC, "phase.set", {"phase": "vote", "tables": ["1", "9"]}) == Code.UNKNOWN_TARGET


def test_follow_ups_of_activity_start_reach_every_table() -> None:
    """activity.start follows up at each table with the same activity, as the SYSTEM's activity.start."""
    state = opened()
    [e] = act(state, FAC, "activity.start", {"activity": "a1", "prompt": "P", "dots": 6, "max_per_target": 4})
    ups = hall.follow_ups(e)
    assert [(t, op) for t, _, op in ups] == [("1", "activity.start"), ("2", "activity.start"),
                                             ("3", "activity.start")]
    assert all(cmd == c.StartActivity("a1", "P", 6, 4, False) for _, cmd, _ in ups)


def test_follow_ups_of_phase_set_reach_only_the_named_tables() -> None:
    """phase.set follows up at the named tables only, or at all of them when none were named."""
    state = with_activity()
    [some] = act(state, FAC, "phase.set", {"phase": "vote", "tables": ["2"]})
    assert hall.follow_ups(some) == [("2", c.SetPhase(Phase.VOTE), "phase.set")]
    [every] = act(state, FAC, "phase.set", {"phase": "results"})
    assert [t for t, _, _ in hall.follow_ups(every)] == ["1", "2", "3"]
    assert {cmd for _, cmd, _ in hall.follow_ups(every)} == {c.SetPhase(Phase.RESULTS)}


def test_other_hall_events_have_no_follow_ups() -> None:
    """Timers, spotlights and polls stay in the hall."""
    state = with_poll()
    for op, args in [("timer.start", {"seconds": 5}), ("spotlight", {"table": "2"}), ("poll.close", {"poll": "p1"})]:
        [e] = act(state, FAC, op, args)
        assert hall.follow_ups(e) == []


def test_follow_ups_are_accepted_by_the_tables() -> None:
    """Carried into table rooms by the SYSTEM actor, the follow-ups start the activity and set the phase there."""
    state = opened("1", "2")
    tables = {t: table.new_state(t) for t in ("1", "2")}

    def carry(e: Event) -> None:
        for t, cmd, op in hall.follow_ups(e):
            for te in table.decide(tables[t], SYSTEM, cmd, op):
                table.evolve(tables[t], te)

    for e in act(state, FAC, "activity.start", {"activity": "a1", "dots": 3}):
        carry(e)
    for e in act(state, FAC, "phase.set", {"phase": "vote", "tables": ["2"]}):
        carry(e)
    assert tables["1"].phase == Phase.BRAINSTORM and tables["2"].phase == Phase.VOTE
    assert all(t.board is not None and t.board.activity == "a1" and t.board.dots == 3 for t in tables.values())


# -- timer and spotlight ---------------------------------------------------------------------------

@pytest.mark.parametrize("seconds", [1, 90, 86400])
def test_timer_ends_at_now_plus_seconds(seconds: int) -> None:
    """timer.start is sent as an end time: now + seconds * 1000 ms, the same for every screen."""
    state = opened()
    [e] = act(state, FAC, "timer.start", {"seconds": seconds}, now=NOW)
    assert e.data == {"seconds": seconds, "ends_at": NOW + seconds * 1000}
    assert state.timer == {"seconds": seconds, "ends_at": NOW + seconds * 1000}
    assert hall.view(state)["timer"] == state.timer


def test_timer_stop_clears_the_timer() -> None:
    """timer.stop removes the running timer from the hall."""
    state = opened()
    act(state, FAC, "timer.start", {"seconds": 60})
    act(state, FAC, "timer.stop", {})
    assert state.timer is None


def test_spotlight_a_known_table_or_nil() -> None:
    """spotlight shows a known table, nil clears it, an unknown table is unknown_target."""
    state = opened()
    act(state, FAC, "spotlight", {"table": "2"})
    assert state.spotlight == {"table": "2", "results": []}
    assert refused(state, FAC, "spotlight", {"table": "9"}) == Code.UNKNOWN_TARGET
    act(state, FAC, "spotlight", {"table": None})
    assert state.spotlight is None


def test_spotlight_carries_results_the_server_filled_in() -> None:
    """The server's results for the spotlit table travel in the event and the hall state."""
    state = opened()
    rows = ({"target": "c1", "kind": "cluster", "title": "T", "notes": ["a"], "dots": 4},)
    [e] = hall.decide(state, FAC, c.Spotlight("1", rows), "spotlight", NOW)
    hall.evolve(state, e)
    assert state.spotlight == {"table": "1", "results": [dict(rows[0])]}


# -- polls -----------------------------------------------------------------------------------------

def test_poll_open_records_an_open_poll() -> None:
    """poll.open adds an open poll with its options and no counts yet."""
    state = with_poll()
    poll = state.polls["p1"]
    assert (poll.kind, poll.options, poll.open, poll.counts, poll.hidden) == ("choice", ["A", "B", "C"], True,
                                                                               None, False)


def test_poll_open_with_a_used_id_is_refused() -> None:
    """A poll id already used, open or closed, is duplicate_id."""
    state = with_poll()
    args = {"poll": "p1", "question": "Again?", "kind": "choice", "options": ["y", "n"]}
    assert refused(state, FAC, "poll.open", args) == Code.DUPLICATE_ID
    act(state, FAC, "poll.close", {"poll": "p1"})
    assert refused(state, FAC, "poll.open", args) == Code.DUPLICATE_ID


def test_poll_close_is_final() -> None:
    """poll.close closes an open poll once; again is poll_closed, an unknown poll unknown_target."""
    state = with_poll()
    act(state, FAC, "poll.close", {"poll": "p1"})
    assert state.polls["p1"].open is False
    assert refused(state, FAC, "poll.close", {"poll": "p1"}) == Code.POLL_CLOSED
    assert refused(state, FAC, "poll.close", {"poll": "p9"}) == Code.UNKNOWN_TARGET


def test_tally_updates_counts_and_knows_if_final() -> None:
    """A tally sets counts, voters and present; it is final only once the poll is closed."""
    state = with_poll()
    e = tally(state, "p1", [2, 1, 0], 3, 12)
    assert e == Event("poll.tally", {"poll": "p1", "voters": 3, "present": 12, "final": False, "counts": [2, 1, 0]})
    poll = state.polls["p1"]
    assert (poll.counts, poll.voters, poll.present) == ([2, 1, 0], 3, 12)
    act(state, FAC, "poll.close", {"poll": "p1"})
    assert tally(state, "p1", [2, 2, 0], 4, 12).data["final"] is True
    assert state.polls["p1"].counts == [2, 2, 0]


def test_tally_of_an_unknown_poll_is_refused() -> None:
    """The server cannot publish a tally for a poll that does not exist."""
    actor, cmd = hall.system_tally("p9", [1, 0], 1, 1)
    with pytest.raises(Refused) as info:
        hall.decide(with_poll(), actor, cmd, "poll.tally", NOW)
    assert info.value.code == Code.UNKNOWN_TARGET


@pytest.mark.parametrize("actor", [M1, M2, HOST], ids=["member", "member-of-table-2", "host"])
def test_seated_devices_may_vote_on_an_open_poll(actor: Actor) -> None:
    """check_vote lets any member or host vote a valid choice on an open poll, and names the poll."""
    state = with_poll()
    assert hall.check_vote(state, actor, c.CastVote("p1", 0)) is state.polls["p1"]
    assert hall.check_vote(state, actor, c.CastVote("p1", 2)) is state.polls["p1"]


def vote_code(state: HallState, actor: Actor, poll: str, choice: int) -> Code:
    with pytest.raises(Refused) as info:
        hall.check_vote(state, actor, c.CastVote(poll, choice))
    return info.value.code


@pytest.mark.parametrize("actor", [DISPLAY, FAC], ids=["display", "facilitator"])
def test_check_vote_refuses_devices_without_a_seat(actor: Actor) -> None:
    """A display or the facilitator has no vote: forbidden."""
    assert vote_code(with_poll(), actor, "p1", 0) == Code.FORBIDDEN


def test_check_vote_refuses_a_closed_poll() -> None:
    """Once a poll is closed no vote is taken: poll_closed."""
    state = with_poll()
    act(state, FAC, "poll.close", {"poll": "p1"})
    assert vote_code(state, M1, "p1", 0) == Code.POLL_CLOSED


@pytest.mark.parametrize("choice", [3, 11, -1])
def test_check_vote_refuses_a_choice_outside_the_options(choice: int) -> None:
    """A choice index past the poll's options (3 here) is invalid_args."""
    assert vote_code(with_poll(), M1, "p1", choice) == Code.INVALID_ARGS


def test_check_vote_refuses_an_unknown_poll() -> None:
    """A vote for a poll that does not exist is unknown_target."""
    assert vote_code(with_poll(), M1, "p9", 0) == Code.UNKNOWN_TARGET


def test_a_vote_is_never_an_event_of_the_hall() -> None:
    """hall.decide never logs a vote: a member's vote.cast is invalid_args there, a display's forbidden."""
    state = with_poll()
    assert refused(state, M1, "vote.cast", {"poll": "p1", "choice": 0}) == Code.INVALID_ARGS
    assert refused(state, DISPLAY, "vote.cast", {"poll": "p1", "choice": 0}) == Code.FORBIDDEN


def test_public_withholds_a_hidden_polls_counts_until_final() -> None:
    """For a hidden poll, public() drops counts (keeping voters) from tallies until the final one."""
    state = with_poll(hidden=True)
    e = tally(state, "p1", [1, 2, 0], 3, 9)
    assert hall.public(e, state) == {"poll": "p1", "voters": 3, "present": 9, "final": False}
    act(state, FAC, "poll.close", {"poll": "p1"})
    final = tally(state, "p1", [1, 2, 0], 3, 9)
    assert hall.public(final, state)["counts"] == [1, 2, 0]


def test_public_shows_an_open_polls_counts_when_not_hidden() -> None:
    """A poll that is not hidden shows its live counts in every tally."""
    state = with_poll(hidden=False)
    e = tally(state, "p1", [1, 2, 0], 3, 9)
    assert hall.public(e, state) == e.data
    assert hall.public(e, state) is not e.data  # a copy: the log's event is never handed out to mutate


def test_room_model_public_for_the_hall_withholds_hidden_counts() -> None:
    """Through RoomModel, the hall's public tally of a hidden open poll has no counts."""
    room = RoomModel("hall", with_poll(hidden=True))
    actor, cmd = hall.system_tally("p1", [0, 1, 0], 1, 4)
    [e] = room.decide(actor, "poll.tally", cmd, NOW)
    room.evolve(e)
    assert "counts" not in room.public(e)


def test_view_of_a_hidden_open_poll_has_no_counts() -> None:
    """The hall view shows a hidden poll's voters but counts None while open, and the counts once closed."""
    state = with_poll(hidden=True)
    tally(state, "p1", [1, 2, 0], 3, 9)
    [p] = hall.view(state)["polls"]
    assert (p["counts"], p["voters"], p["open"], p["hidden"]) == (None, 3, True, True)
    act(state, FAC, "poll.close", {"poll": "p1"})
    [p] = hall.view(state)["polls"]
    assert (p["counts"], p["open"]) == ([1, 2, 0], False)


def test_view_of_an_open_poll_that_is_not_hidden_has_counts() -> None:
    """A poll that is not hidden shows its last tally's counts while open."""
    state = with_poll()
    tally(state, "p1", [0, 0, 5], 5)
    [p] = hall.view(state)["polls"]
    assert p["counts"] == [0, 0, 5]


def test_view_is_the_same_for_everyone_and_complete() -> None:
    """The hall view lists tables, the current activity, phase, timer, spotlight and polls."""
    state = with_activity()
    act(state, FAC, "timer.start", {"seconds": 30})
    v = hall.view(state)
    assert v["tables"] == [{"id": "1", "name": "Table 1"}, {"id": "2", "name": "Table 2"},
                           {"id": "3", "name": "Table 3"}]
    assert v["activity"]["activity"] == "a1" and v["phase"] == "brainstorm"
    assert v["timer"]["ends_at"] == NOW + 30_000 and v["polls"] == [] and v["spotlight"] is None


def test_evolve_refuses_an_unknown_event() -> None:
    """An event the hall does not know is a ValueError, not silently skipped."""
    with pytest.raises(ValueError):
        hall.evolve(opened(), Event("note.add", {}))
