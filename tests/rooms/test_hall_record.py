"""The hall from table ideas to adopted recommendations: cards and themes, recommendations,
adoption votes under each rule, attendance and paper ballots, all through the hall's own
decide/evolve, its snapshot and what devices may see."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rooms import SYSTEM, Actor, Code, Event, Refused, Role, attendance, hall, snapshots, synthesis, table
from rooms import commands as c
from rooms.hall import HallState
from rooms.room import RoomModel

FAC = Actor("dev-fac", Role.FACILITATOR)
HOST1 = Actor("dev-host1", Role.HOST, "1")
M1 = Actor("dev-m1", Role.MEMBER, "1")
M2 = Actor("dev-m2", Role.MEMBER, "2")
NOW = 1_700_000_000_000


def opened() -> HallState:
    state = HallState()
    hall.evolve(state, Event("assembly.open", {"assembly": "asm1", "name": "Borgersamling",
                                               "tables": [{"id": t, "name": f"Bord {t}"} for t in ("1", "2")]}))
    return state


def act(state: HallState, actor: Actor, op: str, args: dict[str, Any], now: int = NOW) -> list[Event]:
    """Parse, decide and evolve one hall command, as the server does; returns its events."""
    events = hall.decide(state, actor, hall.parse(op, args), op, now)
    for e in events:
        hall.evolve(state, e)
    return events


def refused(state: HallState, actor: Actor, op: str, args: dict[str, Any]) -> Code:
    before = snapshots.dump_hall(state)
    with pytest.raises(Refused) as info:
        act(state, actor, op, args)
    assert snapshots.dump_hall(state) == before
    return info.value.code


def tally(state: HallState, poll: str, counts: list[int], voters: int, present: int) -> list[Event]:
    actor, cmd = hall.system_tally(poll, counts, voters, present)
    events = hall.decide(state, actor, cmd, "poll.tally", NOW)
    for e in events:
        hall.evolve(state, e)
    return events


def table_with_cluster(table_id: str, title: str, notes: list[str], dots: int) -> table.TableState:
    """A table at results with one named cluster holding `notes` and `dots` dots on it."""
    t = table.new_state(table_id)
    seat = Actor(f"dev-t{table_id}", Role.MEMBER, table_id)

    def do(actor: Actor, op: str, args: dict[str, Any]) -> None:
        cmd = c.StartActivity("a1", "Hvad skal byen?", 5) if op == "activity.start" else c.parse("table", op, args)
        for e in table.decide(t, actor, cmd, op):
            table.evolve(t, e)

    do(SYSTEM, "activity.start", {})
    for i, text in enumerate(notes):
        do(seat, "note.add", {"note": f"n{i}", "text": text})
    do(SYSTEM, "phase.set", {"phase": "cluster"})
    do(seat, "cluster.add", {"cluster": "k1", "title": title})
    for i in range(len(notes)):
        do(seat, "note.move", {"note": f"n{i}", "cluster": "k1"})
    do(SYSTEM, "phase.set", {"phase": "vote"})
    for _ in range(dots):
        do(seat, "dot.add", {"target": "k1"})
    do(SYSTEM, "phase.set", {"phase": "results"})
    return t


def send_card(state: HallState, actor: Actor, card: str, t: table.TableState) -> list[Event]:
    cmd = synthesis.fill(hall.parse("card.send", {"card": card, "table": t.table, "cluster": "k1"}), t)  # type: ignore[arg-type]
    events = hall.decide(state, actor, cmd, "card.send", NOW)
    for e in events:
        hall.evolve(state, e)
    return events


def with_recommendation(rec: str = "r1") -> HallState:
    state = opened()
    act(state, FAC, "recommendation.add", {"recommendation": rec, "title": "Flere busser",
                                           "text": "Byen kører busser hvert kvarter."})
    return state


def test_two_tables_clusters_become_one_hall_theme_with_both_tables() -> None:
    """Clusters sent from two tables land on the board with provenance and group into one theme."""
    state = opened()
    t1 = table_with_cluster("1", "Busser", ["flere busser om aftenen", "billigere buskort"], 3)
    t2 = table_with_cluster("2", "Busser", ["flere busser om aftenen"], 2)
    send_card(state, FAC, "c1", t1)
    [ev] = send_card(state, FAC, "c2", t2)
    assert ev.data["duplicates"], "the same note at two tables is flagged as a likely duplicate"
    act(state, FAC, "theme.add", {"theme": "th1", "title": "Transport"})
    act(state, FAC, "card.move", {"card": "c1", "theme": "th1"})
    act(state, FAC, "card.move", {"card": "c2", "theme": "th1"})
    [theme] = hall.view(state)["synthesis"]["themes"]
    assert theme["tables"] == ["1", "2"] and theme["cards"] == ["c1", "c2"] and theme["dots"] == 5


def test_a_host_sends_only_their_own_tables_cluster() -> None:
    """A host's card from another table is refused forbidden, from their own accepted."""
    state = opened()
    t2 = table_with_cluster("2", "Skole", ["mere idræt"], 1)
    with pytest.raises(Refused) as info:
        send_card(state, HOST1, "c1", t2)
    assert info.value.code is Code.FORBIDDEN
    t1 = table_with_cluster("1", "Skole", ["mere idræt"], 1)
    assert send_card(state, HOST1, "c1", t1)[0].data["table"] == "1"


@pytest.mark.parametrize(("rule", "counts", "adopted", "reason"), [
    ({"rule": "majority"}, [5, 4, 3], True, "majority_for"),
    ({"rule": "majority"}, [4, 4, 3], False, "tie"),
    ({"rule": "two_thirds"}, [6, 3, 9], True, "threshold_met"),
    ({"rule": "two_thirds"}, [5, 3, 0], False, "below_threshold"),
    ({"rule": "threshold", "threshold": 80}, [8, 2, 0], True, "threshold_met"),
    ({"rule": "threshold", "threshold": 80}, [7, 2, 0], False, "below_threshold"),
    ({"rule": "consent"}, [9, 0, 1], True, "consent"),
    ({"rule": "consent"}, [9, 1, 0], False, "objection"),
    ({"rule": "gradients", "threshold": 75}, [3, 2, 1, 1, 0, 0, 0, 0], True, "threshold_met"),
    ({"rule": "gradients", "threshold": 75}, [3, 2, 1, 0, 0, 0, 1, 1], False, "veto"),
])
def test_an_adoption_vote_is_decided_by_its_rule_at_the_final_tally(
        rule: dict[str, Any], counts: list[int], adopted: bool, reason: str) -> None:
    """Each rule's verdict arrives with the final tally, and the recommendation is released marked adopted or not."""
    state = with_recommendation()
    [opened_ev, lock] = act(state, FAC, "poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1", **rule})
    assert opened_ev.data["question"] == "Flere busser" and lock.op == "recommendation.lock"
    assert len(opened_ev.data["options"]) == len(counts)
    assert refused(state, FAC, "recommendation.edit", {"recommendation": "r1", "title": "Færre busser",
                                                         "text": "x"}) is Code.WRONG_PHASE
    tally(state, "p1", counts, sum(counts), 20)
    assert state.polls["p1"].result is None, "no result while the vote is open"
    act(state, FAC, "poll.close", {"poll": "p1"})
    events = tally(state, "p1", counts, sum(counts), 20)
    result = events[0].data["result"]
    assert (result["adopted"], result["reason"]) == (adopted, reason)
    assert events[1].op == "recommendation.unlock" and events[1].data["adopted"] is adopted
    assert state.recommendations.items["r1"].adopted == ("p1" if adopted else None) or not adopted
    assert len(tally(state, "p1", counts, sum(counts), 20)) == 1, "a repeated final tally releases nothing twice"


def test_abstentions_are_reported_apart_and_turnout_is_of_those_present() -> None:
    """Abstain counts in turnout and quorum but neither for nor against."""
    state = with_recommendation()
    act(state, FAC, "poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1", "rule": "majority",
                                  "quorum_percent": 50})
    act(state, FAC, "poll.close", {"poll": "p1"})
    [ev, _] = tally(state, "p1", [3, 2, 5], 10, 16)
    r = ev.data["result"]
    assert (r["for"], r["against"], r["abstain"], r["cast"]) == (3, 2, 5, 10)
    assert r["turnout_percent"] == 62.5 and r["quorum_met"] is True and r["adopted"] is True


def test_paper_ballots_join_the_totals_and_the_turnout() -> None:
    """Paper counts entered by the facilitator are added to the box's counts, voters and present, and kept for audit."""
    state = with_recommendation()
    act(state, FAC, "poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1", "rule": "two_thirds"})
    act(state, FAC, "poll.paper", {"poll": "p1", "counts": [1, 1, 0], "paper_voters": 2})
    act(state, FAC, "poll.paper", {"poll": "p1", "counts": [2, 0, 0], "paper_voters": 2}, now=NOW + 5)
    [ev] = tally(state, "p1", [3, 2, 0], 5, 10)
    assert ev.data["counts"] == [5, 2, 0] and ev.data["voters"] == 7 and ev.data["present"] == 12
    assert hall.view(state)["polls"][0]["paper"] == {"counts": [2, 0, 0], "voters": 2}, "a reload shows the paper"
    act(state, FAC, "poll.close", {"poll": "p1"})
    [final, _] = tally(state, "p1", [3, 2, 0], 5, 10)
    assert final.data["result"]["for"] == 5 and final.data["result"]["adopted"] is True
    audit = hall.view(state)["attendance"]
    assert "paper" not in audit, "who entered paper ballots is the facilitator's record, not every device's"
    entries = [(a["counts"], a["by"], a["at"]) for a in attendance.audit(state.attendance)]
    assert entries == [([1, 1, 0], "dev-fac", NOW), ([2, 0, 0], "dev-fac", NOW + 5)]


def test_with_a_day_open_turnout_counts_those_checked_in() -> None:
    """Once a day is open, `present` is the members checked in that day, not every member registered."""
    state = opened()
    act(state, FAC, "day.open", {"day": "d1", "label": "Lørdag"})
    act(state, M1, "day.checkin", {})
    act(state, M2, "day.checkin", {})
    assert act(state, M2, "day.checkin", {}) == [], "a second check-in counts once"
    act(state, FAC, "poll.open", {"poll": "p1", "kind": "choice", "question": "Kaffe?", "options": ["ja", "nej"]})
    [ev] = tally(state, "p1", [1, 0], 1, 40)
    assert ev.data["present"] == 2
    assert hall.public(Event("day.checkin", {"day": "d1", "device": "dev-m1"}), state) == {"day": "d1", "present": 2}


def test_an_objection_must_carry_a_reason_and_only_an_objection_may() -> None:
    """check_vote refuses an objection without a reason, a reason on a consent, and a reason in a plain poll."""
    state = with_recommendation()
    act(state, FAC, "poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1", "rule": "consent"})
    act(state, FAC, "poll.open", {"poll": "p2", "kind": "choice", "question": "?", "options": ["a", "b"]})
    for poll, choice, reason in (("p1", 1, None), ("p1", 0, "fordi"), ("p2", 0, "fordi")):
        args: dict[str, Any] = {"poll": poll, "choice": choice}
        if reason is not None:
            args["reason"] = reason
        with pytest.raises(Refused) as info:
            hall.check_vote(state, M1, hall.parse("vote.cast", args))  # type: ignore[arg-type]
        assert info.value.code is Code.INVALID_ARGS
    ok = hall.parse("vote.cast", {"poll": "p1", "choice": 1, "reason": "  For dyrt  "})
    assert hall.check_vote(state, M1, ok).id == "p1"  # type: ignore[arg-type]


def test_a_hidden_adoption_tally_withholds_counts_and_paper_until_final() -> None:
    """While a hidden vote is open, devices see turnout only; the final tally shows everything."""
    state = with_recommendation()
    act(state, FAC, "poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1", "rule": "majority",
                                  "hidden": True})
    act(state, FAC, "poll.paper", {"poll": "p1", "counts": [1, 0, 0], "paper_voters": 1})
    [ev] = tally(state, "p1", [2, 1, 0], 3, 9)
    seen = hall.public(ev, state)
    assert "counts" not in seen and "paper" not in seen and seen["voters"] == 4
    [poll] = hall.view(state)["polls"]
    assert poll["counts"] is None and poll["paper"] == {"voters": 1}, "a snapshot withholds paper counts too"
    act(state, FAC, "poll.close", {"poll": "p1"})
    [final, _] = tally(state, "p1", [2, 1, 0], 3, 9)
    assert hall.public(final, state)["counts"] == [3, 1, 0]


def test_recommendation_events_never_show_a_device_to_other_devices() -> None:
    """Who wrote a version is told by role and table; the device id stays in the log only."""
    state = opened()
    [ev] = act(state, HOST1, "recommendation.add", {"recommendation": "r1", "title": "Cykelstier",
                                                    "text": "Sikre cykelstier til skolerne."})
    assert ev.data["device"] == "dev-host1"
    assert "dev-host1" not in json.dumps(hall.public(ev, state)) and "dev-host1" not in json.dumps(hall.view(state))


def test_the_whole_record_survives_a_snapshot_and_a_replay() -> None:
    """A hall with cards, themes, recommendations, a decided vote, days and paper ballots
    loads from its snapshot, and replays from its events, to the same state."""
    state = opened()
    log: list[Event] = []
    log.extend(act(state, FAC, "recommendation.add", {"recommendation": "r1", "title": "Flere busser",
                                                       "text": "Hvert kvarter."}))
    log.extend(act(state, FAC, "recommendation.edit", {"recommendation": "r1", "title": "Flere busser",
                                                        "text": "Hvert tiende minut."}, now=NOW + 1))
    log.extend(send_card(state, FAC, "c1", table_with_cluster("1", "Busser", ["natbus"], 2)))
    log.extend(act(state, FAC, "theme.add", {"theme": "th1", "title": "Transport"}))
    log.extend(act(state, FAC, "card.move", {"card": "c1", "theme": "th1"}))
    log.extend(act(state, FAC, "day.open", {"day": "d1", "label": "Lørdag"}))
    log.extend(act(state, M1, "day.checkin", {}))
    log.extend(act(state, FAC, "poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1",
                                             "rule": "threshold", "threshold": 60, "slate": "s1"}))
    log.extend(act(state, FAC, "poll.paper", {"poll": "p1", "counts": [1, 0, 0], "paper_voters": 1}))
    log.extend(act(state, FAC, "poll.close", {"poll": "p1"}))
    log.extend(tally(state, "p1", [1, 0, 0], 1, 3))
    assert state.polls["p1"].result is not None and state.polls["p1"].result["adopted"] is True
    assert state.recommendations.items["r1"].adopted == "p1"
    loaded = snapshots.load_hall(json.loads(json.dumps(snapshots.dump_hall(state))))
    assert snapshots.dump_hall(loaded) == snapshots.dump_hall(state)
    assert hall.view(loaded) == hall.view(state)
    replayed = opened()
    for event in log:
        hall.evolve(replayed, Event(event.op, json.loads(json.dumps(event.data))))
    assert snapshots.dump_hall(replayed) == snapshots.dump_hall(state)
    model = RoomModel("hall", loaded)  # the room model routes the new ops too
    assert isinstance(model.parse("theme.rename", {"theme": "th1", "title": "Trafik"}), synthesis.RenameTheme)


def test_a_snapshot_from_before_the_record_still_loads() -> None:
    """A hall snapshot written before issue 6 (9 poll fields, no board) loads with empty record parts."""
    old = {"assembly": "a", "name": "n", "tables": [["1", "Bord 1"]], "activity": None, "activities": [],
           "phase": None, "timer": None, "spotlight": None,
           "polls": [["p1", "?", "choice", ["a", "b"], False, True, None, 0, 0]]}
    state = snapshots.load_hall(old)
    assert state.polls["p1"].kind == "choice" and state.synthesis.cards == {}
    assert hall.view(state)["recommendations"] == []
