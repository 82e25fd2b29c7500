"""A table's room: who may do what in which phase, dot budgets, targets, views and public events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rooms import SYSTEM, Actor, Code, Event, Refused, Role, events, snapshots, table
from rooms import commands as c
from rooms.phases import Phase
from rooms.room import RoomModel
from rooms.table import TableState

# Device ids that never occur by chance inside other text, so a leak is a substring.
M1 = Actor("dev-m1-7f3a", Role.MEMBER, "1")
M2 = Actor("dev-m2-91c2", Role.MEMBER, "1")
M3 = Actor("dev-m3-0b5d", Role.MEMBER, "1")
HOST = Actor("dev-host-44e1", Role.HOST, "1")
OTHER = Actor("dev-other-c3d9", Role.MEMBER, "2")
OTHER_HOST = Actor("dev-otherhost-a8b0", Role.HOST, "2")
FAC = Actor("dev-fac-5e6f", Role.FACILITATOR)
DISPLAY = Actor("dev-display-2d7c", Role.DISPLAY)
DEVICES = [a.device for a in (M1, M2, M3, HOST, OTHER, OTHER_HOST, FAC, DISPLAY)]


def build(*evs: tuple[str, dict[str, Any]], table_id: str = "1") -> TableState:
    """A table state made by folding `evs` (op, data) into a fresh state, as a replay would."""
    state = table.new_state(table_id)
    for op, data in evs:
        table.evolve(state, Event(op, data))
    return state


def activity(name: str = "a1", dots: int = 5, mpt: int = 3, show_totals: bool = False) -> tuple[str, dict[str, Any]]:
    return "activity.start", {"activity": name, "prompt": "What matters?", "dots": dots, "max_per_target": mpt,
                              "show_totals": show_totals}


def at(phase: str, dots: int = 5, mpt: int = 3, show_totals: bool = False) -> TableState:
    """Table 1 with activity a1 started and set to `phase`."""
    return build(("table.open", {"table": "1", "name": "Table 1"}), activity("a1", dots, mpt, show_totals),
                 ("phase.set", {"phase": phase}))


def act(state: TableState, actor: Actor, op: str, args: dict[str, Any]) -> list[Event]:
    """Parse, decide and evolve one command as the server would; returns the events it made."""
    cmd = c.parse("table", op, args)
    evs = table.decide(state, actor, cmd, op)
    for e in evs:
        table.evolve(state, e)
    return evs


def refused(state: TableState, actor: Actor, op: str, args: dict[str, Any]) -> Code:
    """The code `actor`'s command is refused with; also checks the refusal changed nothing."""
    before = snapshots.dump_table(state)
    with pytest.raises(Refused) as info:
        act(state, actor, op, args)
    assert snapshots.dump_table(state) == before
    return info.value.code


def set_phase(state: TableState, phase: str) -> None:
    act(state, HOST, "phase.set", {"phase": phase})


def add_notes(state: TableState, actor: Actor, *ids: str) -> None:
    """Add notes `ids` written by `actor` (passing through brainstorm), then return to the phase it was in."""
    phase = str(state.phase)
    set_phase(state, "brainstorm")
    for n in ids:
        act(state, actor, "note.add", {"note": n, "text": f"text of {n}"})
    set_phase(state, phase)


def voting(*note_ids: str, dots: int = 5, mpt: int = 3, show_totals: bool = False) -> TableState:
    """Table 1 in the vote phase with unclustered notes `note_ids` written by M1."""
    state = at("brainstorm", dots, mpt, show_totals)
    for n in note_ids:
        act(state, M1, "note.add", {"note": n, "text": f"text of {n}"})
    set_phase(state, "vote")
    return state


def dot(state: TableState, actor: Actor, target: str, n: int = 1) -> None:
    for _ in range(n):
        act(state, actor, "dot.add", {"target": target})


# -- building and folding --------------------------------------------------------------------------

def test_build_helper_reaches_the_requested_phase() -> None:
    """Folding table.open, activity.start and phase.set gives a named table with a fresh board in that phase."""
    state = at("cluster", dots=4, mpt=2)
    assert (state.table, state.name, state.phase) == ("1", "Table 1", Phase.CLUSTER)
    assert state.board is not None
    assert (state.board.activity, state.board.dots, state.board.max_per_target) == ("a1", 4, 2)
    assert state.board.notes == {} and state.board.placed == {}


def test_activity_start_sets_brainstorm() -> None:
    """An activity starts every table in the brainstorm phase."""
    state = build(("table.open", {"table": "1"}), activity())
    assert state.phase == Phase.BRAINSTORM


def test_board_events_before_any_activity_cannot_be_folded() -> None:
    """A board event on a table with no activity, or an unknown event, is a ValueError, not a silent no-op."""
    state = build(("table.open", {"table": "1"}))
    with pytest.raises(ValueError):
        table.evolve(state, Event("note.add", {"note": "n1", "text": "t", "author": M1.device}))
    with pytest.raises(ValueError):
        table.evolve(at("brainstorm"), Event("note.fly", {}))


# -- who may do what in which phase ----------------------------------------------------------------

def test_member_adds_a_note_in_brainstorm() -> None:
    """A member of the table adds a note in brainstorm; the event names the note, text and author."""
    state = at("brainstorm")
    evs = act(state, M1, "note.add", {"note": "n1", "text": "  More buses  "})
    assert evs == [Event("note.add", {"note": "n1", "text": "More buses", "author": M1.device})]
    assert state.board is not None
    note = state.board.notes["n1"]
    assert (note.text, note.author, note.cluster) == ("More buses", M1.device, None)


def test_host_adds_a_note_in_brainstorm() -> None:
    """A host is a member with controls: it may write notes too."""
    state = at("brainstorm")
    act(state, HOST, "note.add", {"note": "n1", "text": "t"})
    assert state.board is not None and state.board.notes["n1"].author == HOST.device


@pytest.mark.parametrize("phase", ["cluster", "vote", "results"])
def test_note_add_outside_brainstorm_is_wrong_phase(phase: str) -> None:
    """A member cannot add a note once the table has left brainstorm."""
    assert refused(at(phase), M1, "note.add", {"note": "n1", "text": "t"}) == Code.WRONG_PHASE


def test_nothing_is_possible_before_the_first_activity() -> None:
    """In the idle phase (no activity yet) notes are wrong_phase and the host cannot set a phase."""
    state = build(("table.open", {"table": "1"}))
    assert state.phase == Phase.IDLE
    assert refused(state, M1, "note.add", {"note": "n1", "text": "t"}) == Code.WRONG_PHASE
    assert refused(state, HOST, "phase.set", {"phase": "brainstorm"}) == Code.WRONG_PHASE


@pytest.mark.parametrize("actor", [FAC, DISPLAY], ids=["facilitator", "display"])
def test_display_and_facilitator_cannot_add_notes(actor: Actor) -> None:
    """Only seated devices write notes: the facilitator and a display are forbidden."""
    assert refused(at("brainstorm"), actor, "note.add", {"note": "n1", "text": "t"}) == Code.FORBIDDEN


@pytest.mark.parametrize("actor", [OTHER, OTHER_HOST], ids=["member", "host"])
def test_a_seat_at_another_table_is_forbidden_here(actor: Actor) -> None:
    """A member or host of table 2 can neither write, vote nor set the phase at table 1."""
    state = at("brainstorm")
    assert refused(state, actor, "note.add", {"note": "n1", "text": "t"}) == Code.FORBIDDEN
    assert refused(voting("n1"), actor, "dot.add", {"target": "n1"}) == Code.FORBIDDEN
    assert refused(state, actor, "phase.set", {"phase": "cluster"}) == Code.FORBIDDEN


def test_display_can_do_nothing_at_a_table() -> None:
    """A display is read-only: every table op is forbidden to it."""
    state = at("cluster")
    add_notes(state, M1, "n1")
    act(state, M1, "cluster.add", {"cluster": "c1", "title": "T"})
    for op, args in [("note.edit", {"note": "n1", "text": "x"}), ("note.remove", {"note": "n1"}),
                     ("note.move", {"note": "n1", "cluster": "c1"}), ("cluster.add", {"cluster": "c2"}),
                     ("cluster.rename", {"cluster": "c1", "title": "x"}), ("cluster.remove", {"cluster": "c1"}),
                     ("phase.set", {"phase": "vote"})]:
        assert refused(state, DISPLAY, op, args) == Code.FORBIDDEN, op


@pytest.mark.parametrize("phase", ["brainstorm", "cluster"])
def test_author_edits_and_removes_own_note(phase: str) -> None:
    """A note's author may edit and then remove it in brainstorm and in cluster."""
    state = at(phase)
    add_notes(state, M1, "n1")
    assert act(state, M1, "note.edit", {"note": "n1", "text": " better "}) == [
        Event("note.edit", {"note": "n1", "text": "better"})]
    assert state.board is not None and state.board.notes["n1"].text == "better"
    act(state, M1, "note.remove", {"note": "n1"})
    assert "n1" not in state.board.notes


def test_another_member_may_not_edit_or_remove_a_note() -> None:
    """A member who did not write a note is forbidden to edit or remove it."""
    state = at("brainstorm")
    act(state, M1, "note.add", {"note": "n1", "text": "t"})
    assert refused(state, M2, "note.edit", {"note": "n1", "text": "mine now"}) == Code.FORBIDDEN
    assert refused(state, M2, "note.remove", {"note": "n1"}) == Code.FORBIDDEN


@pytest.mark.parametrize("actor", [HOST, FAC], ids=["host", "facilitator"])
def test_host_and_facilitator_edit_and_remove_any_note(actor: Actor) -> None:
    """The table's host and the facilitator may edit and remove a note someone else wrote."""
    state = at("cluster")
    add_notes(state, M1, "n1")
    act(state, actor, "note.edit", {"note": "n1", "text": "tidied"})
    assert state.board is not None and state.board.notes["n1"].text == "tidied"
    assert state.board.notes["n1"].author == M1.device  # an edit does not change who wrote it
    act(state, actor, "note.remove", {"note": "n1"})
    assert state.board.notes == {}


@pytest.mark.parametrize("phase", ["vote", "results"])
def test_notes_are_frozen_in_vote_and_results(phase: str) -> None:
    """Once voting starts, even the author cannot edit or remove a note."""
    state = at("brainstorm")
    act(state, M1, "note.add", {"note": "n1", "text": "t"})
    set_phase(state, phase)
    assert refused(state, M1, "note.edit", {"note": "n1", "text": "x"}) == Code.WRONG_PHASE
    assert refused(state, HOST, "note.remove", {"note": "n1"}) == Code.WRONG_PHASE


def test_unknown_note_or_cluster_is_unknown_target() -> None:
    """Editing, removing or moving a note that does not exist, or into a missing cluster, is unknown_target."""
    state = at("cluster")
    add_notes(state, M1, "n1")
    assert refused(state, M1, "note.edit", {"note": "n9", "text": "x"}) == Code.UNKNOWN_TARGET
    assert refused(state, HOST, "note.remove", {"note": "n9"}) == Code.UNKNOWN_TARGET
    assert refused(state, M1, "note.move", {"note": "n9", "cluster": None}) == Code.UNKNOWN_TARGET
    assert refused(state, M1, "note.move", {"note": "n1", "cluster": "c9"}) == Code.UNKNOWN_TARGET
    assert refused(state, M1, "cluster.rename", {"cluster": "c9", "title": "x"}) == Code.UNKNOWN_TARGET
    assert refused(state, HOST, "cluster.remove", {"cluster": "c9"}) == Code.UNKNOWN_TARGET


def test_members_cluster_notes_in_the_cluster_phase() -> None:
    """In cluster any member adds, renames and fills clusters (also with another member's note)."""
    state = at("cluster")
    add_notes(state, M1, "n1")
    act(state, M2, "cluster.add", {"cluster": "c1", "title": " Transport "})
    act(state, M3, "cluster.rename", {"cluster": "c1", "title": "Buses"})
    act(state, M2, "note.move", {"note": "n1", "cluster": "c1"})
    assert state.board is not None
    assert state.board.clusters["c1"].title == "Buses" and state.board.notes["n1"].cluster == "c1"
    act(state, M3, "note.move", {"note": "n1", "cluster": None})
    assert state.board.notes["n1"].cluster is None


@pytest.mark.parametrize("phase", ["brainstorm", "vote", "results"])
def test_clustering_outside_the_cluster_phase_is_wrong_phase(phase: str) -> None:
    """Clusters and moves belong to the cluster phase only."""
    state = at("brainstorm")
    act(state, M1, "note.add", {"note": "n1", "text": "t"})
    set_phase(state, phase)
    assert refused(state, M1, "cluster.add", {"cluster": "c1"}) == Code.WRONG_PHASE
    assert refused(state, M1, "note.move", {"note": "n1", "cluster": None}) == Code.WRONG_PHASE


def test_only_host_or_facilitator_removes_a_cluster() -> None:
    """A member is forbidden to remove a cluster; the host and the facilitator may."""
    state = at("cluster")
    act(state, M1, "cluster.add", {"cluster": "c1"})
    act(state, M1, "cluster.add", {"cluster": "c2"})
    assert refused(state, M1, "cluster.remove", {"cluster": "c1"}) == Code.FORBIDDEN
    act(state, HOST, "cluster.remove", {"cluster": "c1"})
    act(state, FAC, "cluster.remove", {"cluster": "c2"})
    assert state.board is not None and state.board.clusters == {}


@pytest.mark.parametrize("actor", [M1, DISPLAY, OTHER_HOST], ids=["member", "display", "other-host"])
def test_phase_set_by_anyone_but_a_lead_is_forbidden(actor: Actor) -> None:
    """A member, a display or another table's host may not change this table's phase."""
    assert refused(at("brainstorm"), actor, "phase.set", {"phase": "cluster"}) == Code.FORBIDDEN


@pytest.mark.parametrize("actor", [HOST, FAC, SYSTEM], ids=["host", "facilitator", "system"])
def test_host_facilitator_and_system_set_the_phase(actor: Actor) -> None:
    """The table's host, the facilitator and the server (carrying a hall decision) set the phase, any way round."""
    state = at("vote")
    for phase in ["cluster", "brainstorm", "results", "vote"]:
        evs = act(state, actor, "phase.set", {"phase": phase})
        assert evs[0].op == "phase.set" and evs[0].data["phase"] == phase
        assert state.phase == Phase(phase)


def test_only_the_system_starts_an_activity_at_a_table() -> None:
    """activity.start at a table is forbidden to every device, even the host and facilitator; the server may."""
    state = at("brainstorm")
    cmd = c.StartActivity("a2", "p", 4, 2, True)
    for actor in [M1, HOST, FAC, DISPLAY]:
        with pytest.raises(Refused) as info:
            table.decide(state, actor, cmd, "activity.start")
        assert info.value.code == Code.FORBIDDEN
    evs = table.decide(state, SYSTEM, cmd, "activity.start")
    assert evs == [Event("activity.start", {"activity": "a2", "prompt": "p", "dots": 4, "max_per_target": 2,
                                            "show_totals": True})]


def test_system_may_do_nothing_but_phases_and_activities() -> None:
    """The server's SYSTEM actor cannot write notes or place dots at a table."""
    state = at("brainstorm")
    with pytest.raises(Refused) as info:
        table.decide(state, SYSTEM, c.AddNote("n1", "t"), "note.add")
    assert info.value.code == Code.FORBIDDEN


def test_decide_refuses_an_op_the_table_does_not_know() -> None:
    """table.decide itself refuses an op outside the table's rules with unknown_op."""
    with pytest.raises(Refused) as info:
        table.decide(at("brainstorm"), M1, c.ClosePoll("p1"), "poll.close")
    assert info.value.code == Code.UNKNOWN_OP


# -- dot budgets -----------------------------------------------------------------------------------

def test_five_dots_then_over_budget() -> None:
    """A member places the activity's 5 dots; the sixth is over_budget."""
    state = voting("n1", "n2", "n3", "n4", "n5", "n6")
    for n in ["n1", "n2", "n3", "n4", "n5"]:
        dot(state, M1, n)
    assert state.board is not None and state.board.used_by(M1.device) == 5
    assert refused(state, M1, "dot.add", {"target": "n6"}) == Code.OVER_BUDGET


def test_budget_follows_the_activity_setting() -> None:
    """With dots=2 a member has exactly two dots."""
    state = voting("n1", "n2", "n3", dots=2, mpt=1)
    dot(state, M1, "n1")
    dot(state, M1, "n2")
    assert refused(state, M1, "dot.add", {"target": "n3"}) == Code.OVER_BUDGET


def test_max_per_target_caps_dots_on_one_target() -> None:
    """At most max_per_target (3) of one member's dots go on one target; the rest can go elsewhere."""
    state = voting("n1", "n2")
    dot(state, M1, "n1", 3)
    assert refused(state, M1, "dot.add", {"target": "n1"}) == Code.OVER_BUDGET
    dot(state, M1, "n2", 2)
    assert state.board is not None and state.board.placed == {(M1.device, "n1"): 3, (M1.device, "n2"): 2}


def test_max_per_target_is_per_member() -> None:
    """One member's full target does not stop another member from dotting it."""
    state = voting("n1")
    dot(state, M1, "n1", 3)
    dot(state, M2, "n1", 3)
    assert state.board is not None and state.board.totals() == {"n1": 6}


def test_two_members_have_separate_budgets() -> None:
    """One member spending all dots leaves another member's budget whole."""
    state = voting("n1", "n2")
    dot(state, M1, "n1", 3)
    dot(state, M1, "n2", 2)
    assert refused(state, M1, "dot.add", {"target": "n2"}) == Code.OVER_BUDGET
    dot(state, M2, "n1", 3)
    dot(state, M2, "n2", 2)
    assert state.board is not None
    assert state.board.used_by(M1.device) == 5 and state.board.used_by(M2.device) == 5


def test_dot_remove_takes_back_only_own_dots() -> None:
    """A member removes its own dot (freeing budget) but not another member's: that is unknown_target."""
    state = voting("n1", "n2", "n3", "n4", "n5", "n6")
    dot(state, M1, "n1", 3)
    dot(state, M1, "n2", 2)
    assert refused(state, M2, "dot.remove", {"target": "n1"}) == Code.UNKNOWN_TARGET
    assert refused(state, M1, "dot.remove", {"target": "n3"}) == Code.UNKNOWN_TARGET
    evs = act(state, M1, "dot.remove", {"target": "n1"})
    assert evs == [Event("dot.remove", {"target": "n1", "member": M1.device})]
    assert state.board is not None and state.board.placed[(M1.device, "n1")] == 2
    dot(state, M1, "n6")  # the freed dot can be spent again
    act(state, M1, "dot.remove", {"target": "n6"})
    assert (M1.device, "n6") not in state.board.placed  # no zero entries linger


@pytest.mark.parametrize("actor", [FAC, DISPLAY], ids=["facilitator", "display"])
def test_only_seated_devices_place_dots(actor: Actor) -> None:
    """The facilitator and a display have no dots."""
    assert refused(voting("n1"), actor, "dot.add", {"target": "n1"}) == Code.FORBIDDEN


@pytest.mark.parametrize("phase", ["brainstorm", "cluster", "results"])
def test_dots_only_in_the_vote_phase(phase: str) -> None:
    """dot.add and dot.remove are wrong_phase outside vote (so results are final)."""
    state = voting("n1")
    dot(state, M1, "n1")
    set_phase(state, phase)
    assert refused(state, M1, "dot.add", {"target": "n1"}) == Code.WRONG_PHASE
    assert refused(state, M1, "dot.remove", {"target": "n1"}) == Code.WRONG_PHASE


def test_a_new_activity_gives_a_fresh_budget_and_archives_the_old_board() -> None:
    """A new activity starts an empty board with full budgets, and the old board is kept in `past`."""
    state = voting("n1", "n2")
    dot(state, M1, "n1", 3)
    dot(state, M1, "n2", 2)
    old = state.board
    for e in table.decide(state, SYSTEM, c.StartActivity("a2", "Next?", 3, 2, False), "activity.start"):
        table.evolve(state, e)
    assert state.past == {"a1": old}
    assert old is not None and old.used_by(M1.device) == 5 and set(old.notes) == {"n1", "n2"}
    assert state.board is not None and state.board.activity == "a2" and state.board.placed == {}
    assert (state.board.dots, state.board.max_per_target) == (3, 2)
    assert state.phase == Phase.BRAINSTORM
    act(state, M1, "note.add", {"note": "n1", "text": "the id is free again on a new board"})
    set_phase(state, "vote")
    dot(state, M1, "n1", 2)
    assert refused(state, M1, "dot.add", {"target": "n1"}) == Code.OVER_BUDGET  # the new cap is 2
    assert old.placed == {(M1.device, "n1"): 3, (M1.device, "n2"): 2}  # the archive did not move


# -- dot targets -----------------------------------------------------------------------------------

def clustered_vote() -> TableState:
    """Vote phase with cluster c1 holding n1, and n2 unclustered."""
    state = at("brainstorm")
    act(state, M1, "note.add", {"note": "n1", "text": "a"})
    act(state, M2, "note.add", {"note": "n2", "text": "b"})
    set_phase(state, "cluster")
    act(state, M1, "cluster.add", {"cluster": "c1", "title": "C"})
    act(state, M1, "note.move", {"note": "n1", "cluster": "c1"})
    set_phase(state, "vote")
    return state


def test_a_cluster_and_an_unclustered_note_are_targets() -> None:
    """Dots go on a cluster or on a note that is in no cluster."""
    state = clustered_vote()
    dot(state, M1, "c1")
    dot(state, M1, "n2")
    assert state.board is not None and state.board.totals() == {"c1": 1, "n2": 1}


def test_a_clustered_note_or_unknown_id_is_not_a_target() -> None:
    """A note inside a cluster, or an id that names nothing, is unknown_target."""
    state = clustered_vote()
    assert refused(state, M1, "dot.add", {"target": "n1"}) == Code.UNKNOWN_TARGET
    assert refused(state, M1, "dot.add", {"target": "nope"}) == Code.UNKNOWN_TARGET


def test_moving_a_dotted_note_into_a_cluster_returns_its_dots() -> None:
    """When a dotted note joins a cluster its dots vanish and go back to their members' budgets."""
    state = voting("n1", "n2")
    dot(state, M1, "n1", 3)
    dot(state, M2, "n1", 1)
    dot(state, M2, "n2", 1)
    set_phase(state, "cluster")
    act(state, M3, "cluster.add", {"cluster": "c1"})
    act(state, M3, "note.move", {"note": "n1", "cluster": "c1"})
    assert state.board is not None
    assert state.board.placed == {(M2.device, "n2"): 1}
    assert state.board.used_by(M1.device) == 0 and state.board.used_by(M2.device) == 1
    set_phase(state, "vote")
    dot(state, M1, "c1", 3)
    dot(state, M1, "n2", 2)  # all 5 back


def test_removing_a_cluster_unclusters_its_notes_and_drops_its_dots() -> None:
    """cluster.remove puts its notes back as unclustered targets and returns the dots that were on it."""
    state = clustered_vote()
    dot(state, M1, "c1", 3)
    dot(state, M2, "n2", 1)
    set_phase(state, "cluster")
    act(state, HOST, "cluster.remove", {"cluster": "c1"})
    assert state.board is not None
    assert state.board.clusters == {} and state.board.notes["n1"].cluster is None
    assert state.board.placed == {(M2.device, "n2"): 1}
    set_phase(state, "vote")
    dot(state, M1, "n1")  # the freed note is a target again
    assert refused(state, M1, "dot.add", {"target": "c1"}) == Code.UNKNOWN_TARGET


def test_removing_a_dotted_note_drops_its_dots() -> None:
    """note.remove takes the note's dots with it, giving them back."""
    state = voting("n1", "n2")
    dot(state, M2, "n1", 2)
    set_phase(state, "cluster")
    act(state, M1, "note.remove", {"note": "n1"})
    assert state.board is not None and state.board.placed == {} and state.board.used_by(M2.device) == 0


# -- ids -------------------------------------------------------------------------------------------

def test_duplicate_note_id_is_refused() -> None:
    """A note id already on the board, even another member's, is duplicate_id."""
    state = at("brainstorm")
    act(state, M1, "note.add", {"note": "n1", "text": "first"})
    assert refused(state, M2, "note.add", {"note": "n1", "text": "second"}) == Code.DUPLICATE_ID
    assert state.board is not None and state.board.notes["n1"].text == "first"


def test_duplicate_cluster_id_is_refused() -> None:
    """A cluster id already taken by a cluster is duplicate_id."""
    state = at("cluster")
    act(state, M1, "cluster.add", {"cluster": "c1", "title": "one"})
    assert refused(state, M2, "cluster.add", {"cluster": "c1", "title": "two"}) == Code.DUPLICATE_ID


def test_notes_and_clusters_share_one_id_space() -> None:
    """A cluster may not take a note's id, nor a note a cluster's, since both can be dot targets."""
    state = at("brainstorm")
    act(state, M1, "note.add", {"note": "x1", "text": "t"})
    set_phase(state, "cluster")
    assert refused(state, M1, "cluster.add", {"cluster": "x1"}) == Code.DUPLICATE_ID
    act(state, M1, "cluster.add", {"cluster": "c1"})
    set_phase(state, "brainstorm")
    assert refused(state, M1, "note.add", {"note": "c1", "text": "t"}) == Code.DUPLICATE_ID


def test_a_removed_note_id_may_be_reused() -> None:
    """After a note is removed its id is free again (and starts without dots)."""
    state = at("brainstorm")
    act(state, M1, "note.add", {"note": "n1", "text": "a"})
    act(state, M1, "note.remove", {"note": "n1"})
    act(state, M2, "note.add", {"note": "n1", "text": "b"})
    assert state.board is not None and state.board.notes["n1"].author == M2.device


# -- views -----------------------------------------------------------------------------------------

def busy_table(show_totals: bool = False) -> TableState:
    """Vote phase: M1 wrote n1 and n2, M2 wrote n3 (clustered in c1); both placed dots."""
    state = at("brainstorm", show_totals=show_totals)
    act(state, M1, "note.add", {"note": "n1", "text": "alpha"})
    act(state, M1, "note.add", {"note": "n2", "text": "beta"})
    act(state, M2, "note.add", {"note": "n3", "text": "gamma"})
    set_phase(state, "cluster")
    act(state, M2, "cluster.add", {"cluster": "c1", "title": "Greek"})
    act(state, M2, "note.move", {"note": "n3", "cluster": "c1"})
    set_phase(state, "vote")
    dot(state, M1, "n1", 2)
    dot(state, M1, "c1", 1)
    dot(state, M2, "c1", 3)
    return state


@pytest.mark.parametrize("viewer", [M1, M2, M3, HOST, FAC, DISPLAY, None],
                         ids=["m1", "m2", "m3", "host", "facilitator", "display", "anonymous"])
@pytest.mark.parametrize("phase", ["vote", "results"])
def test_view_never_contains_a_device_id(viewer: Actor | None, phase: str) -> None:
    """No view of a table, for any viewer in any phase, holds any device id (no authors, no voters)."""
    state = busy_table()
    set_phase(state, phase)
    text = json.dumps(table.view(state, viewer))
    for device in DEVICES:
        assert device not in text


def test_view_marks_the_viewers_own_notes_as_mine() -> None:
    """`mine` is true exactly on the notes the viewer wrote, and false for every note for a non-seated viewer."""
    state = busy_table()

    def mine(viewer: Actor | None) -> dict[str, bool]:
        return {n["note"]: n["mine"] for n in table.view(state, viewer)["board"]["notes"]}

    assert mine(M1) == {"n1": True, "n2": True, "n3": False}
    assert mine(M2) == {"n1": False, "n2": False, "n3": True}
    assert mine(M3) == {"n1": False, "n2": False, "n3": False}
    assert mine(FAC) == mine(DISPLAY) == mine(None) == {"n1": False, "n2": False, "n3": False}


def test_view_shows_my_dots_only_for_the_viewer() -> None:
    """`my_dots` holds the viewer's own dots per target, and is absent for a viewer without a seat."""
    state = busy_table()
    assert table.view(state, M1)["board"]["my_dots"] == {"n1": 2, "c1": 1}
    assert table.view(state, M2)["board"]["my_dots"] == {"c1": 3}
    assert table.view(state, M3)["board"]["my_dots"] == {}
    for viewer in [FAC, DISPLAY, None]:
        assert "my_dots" not in table.view(state, viewer)["board"]


def test_view_counts_dots_used_without_saying_where() -> None:
    """While totals are hidden the view says how many dots are down at the table, not on what."""
    board = table.view(busy_table(), M3)["board"]
    assert board["dots_used"] == 6
    assert "totals" not in board and "results" not in board


@pytest.mark.parametrize("viewer", [M1, HOST, FAC, DISPLAY], ids=["member", "host", "facilitator", "display"])
def test_totals_hidden_while_voting_unless_show_totals(viewer: Actor) -> None:
    """In the vote phase no viewer sees totals or results, unless the activity shows totals."""
    assert "totals" not in table.view(busy_table(), viewer)["board"]
    shown = table.view(busy_table(show_totals=True), viewer)["board"]
    assert shown["totals"] == {"n1": 2, "c1": 4}
    assert [r["target"] for r in shown["results"]] == ["c1", "n1", "n2"]


def test_totals_and_ranked_results_visible_in_results() -> None:
    """In results every viewer sees the totals and the ranking: most dots first, then creation order."""
    state = busy_table()
    set_phase(state, "results")
    board = table.view(state, DISPLAY)["board"]
    assert board["totals"] == {"n1": 2, "c1": 4}
    assert [(r["target"], r["kind"], r["dots"]) for r in board["results"]] == [
        ("c1", "cluster", 4), ("n1", "note", 2), ("n2", "note", 0)]
    assert board["results"][0]["notes"] == ["gamma"] and board["results"][0]["title"] == "Greek"


def test_phase_set_to_results_carries_totals() -> None:
    """The phase.set event into results carries the board's totals; other phase changes do not."""
    state = busy_table()
    evs = act(state, HOST, "phase.set", {"phase": "results"})
    assert evs == [Event("phase.set", {"phase": "results", "totals": {"n1": 2, "c1": 4}})]
    assert "totals" not in act(state, HOST, "phase.set", {"phase": "vote"})[0].data


def test_public_show_totals_follows_phase_and_setting() -> None:
    """Dot events may say where a dot went only in results, or while voting with show_totals."""
    assert table.public_show_totals(busy_table()) is False
    assert table.public_show_totals(busy_table(show_totals=True)) is True
    state = busy_table()
    set_phase(state, "results")
    assert table.public_show_totals(state) is True
    assert table.public_show_totals(build(("table.open", {"table": "1"}))) is False


# -- public events ---------------------------------------------------------------------------------

def test_public_note_add_has_no_author() -> None:
    """What others see of note.add is the note and its text, never its author."""
    state = at("brainstorm")
    [e] = act(state, M1, "note.add", {"note": "n1", "text": "t"})
    assert e.data["author"] == M1.device  # the log keeps it (for `mine` and the host's rights)
    assert events.public(e) == {"note": "n1", "text": "t"}
    assert events.public(e, show_totals=False) == {"note": "n1", "text": "t"}


def test_public_dot_events_never_name_the_member() -> None:
    """dot.add and dot.remove lose the member always, and the target too while totals are hidden."""
    state = voting("n1")
    [add] = act(state, M1, "dot.add", {"target": "n1"})
    [rem] = act(state, M1, "dot.remove", {"target": "n1"})
    for e in (add, rem):
        assert e.data == {"target": "n1", "member": M1.device}
        assert events.public(e, show_totals=True) == {"target": "n1"}
        assert events.public(e, show_totals=False) == {}


def test_public_leaves_other_events_whole() -> None:
    """Events with nothing private (edits, clusters, phases) are public as they are."""
    e = Event("cluster.add", {"cluster": "c1", "title": "T"})
    assert events.public(e, show_totals=False) == {"cluster": "c1", "title": "T"}
    assert events.public(Event("phase.set", {"phase": "results", "totals": {"c1": 2}})) == {
        "phase": "results", "totals": {"c1": 2}}


def test_room_model_public_hides_dot_targets_while_totals_are_hidden() -> None:
    """Through RoomModel, a table's dot events show their target only when the table's totals are visible."""
    room = RoomModel("table:1", voting("n1"))
    [e] = table.decide(room.table, M1, c.AddDot("n1"), "dot.add")
    room.evolve(e)
    assert room.public(e) == {}
    room.table.board.show_totals = True  # type: ignore[union-attr]
    assert room.public(e) == {"target": "n1"}
