"""Attendance: days opened and closed, check-ins counted once, paper ballots with their audit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rooms import SYSTEM, Actor, Code, Event, Refused, Role
from rooms import attendance as a
from rooms.attendance import Attendance
from rooms.hall import Poll

FAC = Actor("dev-fac", Role.FACILITATOR)
M1 = Actor("dev-m1", Role.MEMBER, "1")
M2 = Actor("dev-m2", Role.MEMBER, "2")
HOST = Actor("dev-host", Role.HOST, "1")
DISPLAY = Actor("dev-display", Role.DISPLAY)
NOW = 1_700_000_000_000


def polls() -> dict[str, Poll]:
    """The hall's polls as the caller passes them: p1 open with 3 options, p2 open with 2, p3 closed."""
    return {"p1": Poll("p1", "Which?", "choice", ["A", "B", "C"]),
            "p2": Poll("p2", "Yes?", "choice", ["yes", "no"]),
            "p3": Poll("p3", "Done?", "choice", ["yes", "no"], open=False)}


def act(state: Attendance, actor: Actor, op: str, args: dict[str, Any], now: int = NOW,
        log: list[Event] | None = None) -> list[Event]:
    """Parse, decide and evolve one attendance command; returns its events (and appends them to `log`)."""
    evs = a.decide(state, actor, a.parse(op, args), op, now, polls())
    for e in evs:
        a.evolve(state, e)
    if log is not None:
        log.extend(evs)
    return evs


def refused(state: Attendance, actor: Actor, op: str, args: dict[str, Any]) -> Code:
    """The code a command is refused with; also checks the refusal changed nothing."""
    before = a.dump(state)
    with pytest.raises(Refused) as info:
        act(state, actor, op, args)
    assert a.dump(state) == before
    return info.value.code


def day_open(day: str = "day-1", label: str = "Lørdag 14. oktober") -> Attendance:
    state = Attendance()
    act(state, FAC, "day.open", {"day": day, "label": label})
    return state


FACILITATOR_OPS: list[tuple[str, dict[str, Any]]] = [
    ("day.open", {"day": "day-2", "label": "Søndag"}),
    ("day.close", {"day": "day-1"}),
    ("day.mark", {"device": "dev-m1", "present": True}),
    ("poll.paper", {"poll": "p1", "counts": [1, 0, 0], "paper_voters": 1}),
]


# -- days ------------------------------------------------------------------------------------------

def test_day_open_records_the_day_and_makes_it_open() -> None:
    """day.open adds a day with its label and opening time, and it becomes the open day."""
    state = Attendance()
    evs = act(state, FAC, "day.open", {"day": "day-1", "label": "  Lørdag 14. oktober "})
    assert evs == [Event("day.open", {"day": "day-1", "label": "Lørdag 14. oktober", "at": NOW})]
    assert state.open_day == "day-1"
    assert state.days["day-1"] == a.Day("day-1", "Lørdag 14. oktober", NOW)


def test_day_close_closes_the_open_day() -> None:
    """day.close stamps the open day's closing time and leaves no day open."""
    state = day_open()
    assert act(state, FAC, "day.close", {"day": "day-1"}, now=NOW + 5) == [
        Event("day.close", {"day": "day-1", "at": NOW + 5})]
    assert state.open_day is None and state.days["day-1"].closed_at == NOW + 5


def test_opening_a_day_closes_the_open_one_in_the_same_events() -> None:
    """At most one day is open: opening day-2 first closes day-1, both in one list of events."""
    state = day_open()
    evs = act(state, FAC, "day.open", {"day": "day-2", "label": "Søndag"}, now=NOW + 9)
    assert [(e.op, e.data["day"]) for e in evs] == [("day.close", "day-1"), ("day.open", "day-2")]
    assert state.open_day == "day-2" and state.days["day-1"].closed_at == NOW + 9
    assert [d["day"] for d in a.view(state)["days"]] == ["day-1", "day-2"]


def test_opening_the_open_day_again_is_refused() -> None:
    """day.open for the day already open is duplicate_id."""
    assert refused(day_open(), FAC, "day.open", {"day": "day-1", "label": "Again"}) == Code.DUPLICATE_ID


def test_a_closed_day_reopens_with_its_check_ins() -> None:
    """Reopening a closed day (closed by mistake) keeps its first opening and who checked in."""
    state = day_open()
    act(state, M1, "day.checkin", {})
    act(state, FAC, "day.close", {"day": "day-1"})
    act(state, FAC, "day.open", {"day": "day-1", "label": "Lørdag (igen)"}, now=NOW + 60_000)
    day = state.days["day-1"]
    assert (state.open_day, day.opened_at, day.closed_at, day.label) == ("day-1", NOW, None, "Lørdag (igen)")
    assert a.present(state) == {"dev-m1"}


def test_at_most_max_days() -> None:
    """After MAX_DAYS days a new day is over_budget, but an existing one may still reopen."""
    state = Attendance()
    for i in range(a.MAX_DAYS):
        act(state, FAC, "day.open", {"day": f"d{i}", "label": f"Day {i}"})
    assert refused(state, FAC, "day.open", {"day": "one-more", "label": "X"}) == Code.OVER_BUDGET
    assert [e.op for e in act(state, FAC, "day.open", {"day": "d0", "label": "Day 0"})] == ["day.close", "day.open"]


def test_closing_an_unknown_or_closed_day_is_refused() -> None:
    """Closing a day that never opened is unknown_target; closing a day that is not open, wrong_phase."""
    state = day_open()
    assert refused(state, FAC, "day.close", {"day": "day-9"}) == Code.UNKNOWN_TARGET
    act(state, FAC, "day.open", {"day": "day-2", "label": "Søndag"})
    assert refused(state, FAC, "day.close", {"day": "day-1"}) == Code.WRONG_PHASE
    act(state, FAC, "day.close", {"day": "day-2"})
    assert refused(state, FAC, "day.close", {"day": "day-2"}) == Code.WRONG_PHASE


# -- check-in --------------------------------------------------------------------------------------

@pytest.mark.parametrize("actor", [M1, HOST], ids=["member", "host"])
def test_a_seated_device_checks_in_for_the_open_day(actor: Actor) -> None:
    """A member or host checking in is present on the open day, under its own device id."""
    state = day_open()
    assert act(state, actor, "day.checkin", {}) == [Event("day.checkin", {"day": "day-1", "device": actor.device})]
    assert a.present(state) == {actor.device} and a.present_count(state) == 1
    assert a.checked_in(state, actor.device) and not a.checked_in(state, "dev-other")


def test_checking_in_twice_counts_once() -> None:
    """A second check-in (a resend) decides no event and the device is counted once."""
    state = day_open()
    act(state, M1, "day.checkin", {})
    assert act(state, M1, "day.checkin", {}) == []
    act(state, M2, "day.checkin", {})
    assert a.present_count(state) == 2


def test_check_ins_belong_to_their_day() -> None:
    """A new day starts with nobody present; the earlier day keeps its count for the record."""
    state = day_open()
    act(state, M1, "day.checkin", {})
    act(state, FAC, "day.open", {"day": "day-2", "label": "Søndag"})
    assert a.present(state) == frozenset() and not a.checked_in(state, "dev-m1")
    assert [d["present"] for d in a.view(state)["days"]] == [1, 0]


def test_check_in_with_no_day_open_is_refused() -> None:
    """Checking in before any day opens, or after the day closed, is wrong_phase."""
    state = Attendance()
    assert refused(state, M1, "day.checkin", {}) == Code.WRONG_PHASE
    act(state, FAC, "day.open", {"day": "day-1", "label": "Lørdag"})
    act(state, FAC, "day.close", {"day": "day-1"})
    assert refused(state, M1, "day.checkin", {}) == Code.WRONG_PHASE
    assert a.present(state) == frozenset() and a.present_count(state) == 0


@pytest.mark.parametrize("actor", [DISPLAY, FAC, SYSTEM], ids=["display", "facilitator", "system"])
def test_devices_without_a_seat_cannot_check_in(actor: Actor) -> None:
    """A display, the facilitator or the server's own actor checking in is forbidden."""
    assert refused(day_open(), actor, "day.checkin", {}) == Code.FORBIDDEN


# -- marks by the facilitator ----------------------------------------------------------------------

def test_facilitator_marks_a_device_present_and_absent() -> None:
    """day.mark sets a device present or absent on the open day and says who marked it."""
    state = day_open()
    evs = act(state, FAC, "day.mark", {"device": "dev-m2", "present": True})
    assert evs == [Event("day.mark", {"day": "day-1", "device": "dev-m2", "present": True, "by": "dev-fac"})]
    assert a.present(state) == {"dev-m2"}
    act(state, M1, "day.checkin", {})
    act(state, FAC, "day.mark", {"device": "dev-m1", "present": False})
    assert a.present(state) == {"dev-m2"}


def test_marking_a_device_as_it_already_is_changes_nothing() -> None:
    """Marking a present device present, or an absent one absent, decides no event."""
    state = day_open()
    act(state, M1, "day.checkin", {})
    assert act(state, FAC, "day.mark", {"device": "dev-m1", "present": True}) == []
    assert act(state, FAC, "day.mark", {"device": "dev-m2", "present": False}) == []
    assert a.present_count(state) == 1


def test_marking_with_no_day_open_is_refused() -> None:
    """day.mark needs an open day: wrong_phase otherwise."""
    assert refused(Attendance(), FAC, "day.mark", {"device": "dev-m1", "present": True}) == Code.WRONG_PHASE


@pytest.mark.parametrize(("op", "args"), FACILITATOR_OPS, ids=[op for op, _ in FACILITATOR_OPS])
@pytest.mark.parametrize("actor", [M1, HOST, DISPLAY, SYSTEM], ids=["member", "host", "display", "system"])
def test_attendance_controls_are_facilitator_only(actor: Actor, op: str, args: dict[str, Any]) -> None:
    """Opening and closing days, marking devices and entering paper ballots are forbidden to anyone else."""
    assert refused(day_open(), actor, op, args) == Code.FORBIDDEN


@pytest.mark.parametrize(("op", "args"), FACILITATOR_OPS, ids=[op for op, _ in FACILITATOR_OPS])
def test_facilitator_may_use_every_attendance_control(op: str, args: dict[str, Any]) -> None:
    """The same commands from the facilitator are accepted and logged under their own op."""
    assert act(day_open(), FAC, op, args)[-1].op == op


def test_decide_refuses_an_op_that_does_not_match_the_command() -> None:
    """An op outside attendance, or a command sent under another op, is unknown_op."""
    sent: list[tuple[str, a.Command]] = [("note.add", a.CheckIn()), ("day.open", a.CheckIn()),
                                         ("day.checkin", a.DayClose("day-1"))]
    for op, cmd in sent:
        with pytest.raises(Refused) as info:
            a.decide(day_open(), FAC, cmd, op, NOW)
        assert info.value.code == Code.UNKNOWN_OP


# -- paper ballots ---------------------------------------------------------------------------------

def test_paper_ballots_are_entered_for_an_open_poll() -> None:
    """poll.paper records the counts and paper voters with who entered them and when."""
    state = Attendance()
    [e] = act(state, FAC, "poll.paper", {"poll": "p1", "counts": [3, 0, 1], "paper_voters": 5})
    assert e == Event("poll.paper", {"poll": "p1", "counts": [3, 0, 1], "paper_voters": 5, "by": "dev-fac",
                                     "at": NOW})
    assert a.paper(state, "p1") == (3, 0, 1) and a.paper_voters(state, "p1") == 5
    assert a.paper(state, "p2") is None and a.paper_voters(state, "p2") == 0


def test_paper_ballots_entered_again_replace_and_both_stay_in_the_audit() -> None:
    """A second entry for a poll is a correction: it replaces the counts, and the audit keeps both in order."""
    state = Attendance()
    act(state, FAC, "poll.paper", {"poll": "p1", "counts": [3, 0, 1], "paper_voters": 4}, now=NOW)
    act(state, FAC, "poll.paper", {"poll": "p2", "counts": [1, 1], "paper_voters": 2}, now=NOW + 1)
    act(state, FAC, "poll.paper", {"poll": "p1", "counts": [2, 1, 1], "paper_voters": 4}, now=NOW + 2)
    assert a.paper(state, "p1") == (2, 1, 1) and a.paper(state, "p2") == (1, 1)
    assert a.audit(state) == [
        {"poll": "p1", "counts": [3, 0, 1], "paper_voters": 4, "by": "dev-fac", "at": NOW},
        {"poll": "p2", "counts": [1, 1], "paper_voters": 2, "by": "dev-fac", "at": NOW + 1},
        {"poll": "p1", "counts": [2, 1, 1], "paper_voters": 4, "by": "dev-fac", "at": NOW + 2},
    ]


@pytest.mark.parametrize("counts", [[1, 0], [1, 0, 0, 0]])
def test_paper_counts_of_the_wrong_length_are_refused(counts: list[int]) -> None:
    """Paper counts must have one number per option of the poll (3 here): invalid_args naming counts."""
    with pytest.raises(Refused) as info:
        act(Attendance(), FAC, "poll.paper", {"poll": "p1", "counts": counts, "paper_voters": 9})
    assert info.value.code == Code.INVALID_ARGS and info.value.msg.startswith("counts:")


def test_paper_counts_above_the_paper_voters_are_refused() -> None:
    """More paper ballots counted than paper voters is invalid_args naming paper_voters; blanks may make it less."""
    with pytest.raises(Refused) as info:
        act(Attendance(), FAC, "poll.paper", {"poll": "p1", "counts": [2, 2, 0], "paper_voters": 3})
    assert info.value.code == Code.INVALID_ARGS and info.value.msg.startswith("paper_voters:")
    assert act(Attendance(), FAC, "poll.paper", {"poll": "p1", "counts": [2, 2, 0], "paper_voters": 6})


def test_paper_ballots_for_a_closed_or_unknown_poll_are_refused() -> None:
    """Paper counts go in only while the poll is open: poll_closed after, unknown_target for no poll."""
    state = Attendance()
    assert refused(state, FAC, "poll.paper", {"poll": "p3", "counts": [1, 0], "paper_voters": 1}) == Code.POLL_CLOSED
    assert refused(state, FAC, "poll.paper", {"poll": "p9", "counts": [1, 0], "paper_voters": 1}) == \
        Code.UNKNOWN_TARGET


def test_paper_voters_count_as_present_for_their_poll_only() -> None:
    """A poll's turnout base is today's check-ins plus its paper voters; other polls see only the check-ins."""
    state = day_open()
    act(state, M1, "day.checkin", {})
    act(state, M2, "day.checkin", {})
    act(state, FAC, "poll.paper", {"poll": "p1", "counts": [1, 2, 0], "paper_voters": 4})
    assert (a.poll_present(state, "p1"), a.poll_present(state, "p2")) == (6, 2)
    assert a.combine(state, "p1", [5, 0, 1], 6) == ((6, 2, 1), 10, 6)
    assert a.combine(state, "p2", [1, 1], 2) == ((1, 1), 2, 2)


# -- what devices see ------------------------------------------------------------------------------

def attended() -> Attendance:
    """Two days, three devices checked in or marked, and a paper entry."""
    state = day_open()
    act(state, M1, "day.checkin", {})
    act(state, HOST, "day.checkin", {})
    act(state, FAC, "day.open", {"day": "day-2", "label": "Søndag"}, now=NOW + 86_400_000)
    act(state, M2, "day.checkin", {})
    act(state, FAC, "day.mark", {"device": "dev-m1", "present": True})
    act(state, FAC, "poll.paper", {"poll": "p1", "counts": [1, 0, 0], "paper_voters": 1})
    return state


def test_view_gives_numbers_never_device_ids() -> None:
    """Every device's view has each day's label and number present, and no device id anywhere."""
    state = attended()
    v = a.view(state)
    assert v == {"days": [{"day": "day-1", "label": "Lørdag 14. oktober", "opened_at": NOW,
                           "closed_at": NOW + 86_400_000, "present": 2},
                          {"day": "day-2", "label": "Søndag", "opened_at": NOW + 86_400_000, "closed_at": None,
                           "present": 2}],
                 "open_day": "day-2", "present": 2}
    assert "dev-" not in json.dumps(v)


def test_facilitator_view_names_the_devices_and_the_paper_audit() -> None:
    """The facilitator's record lists each day's devices (sorted) and every paper entry."""
    f = a.facilitator_view(attended())
    assert [d["devices"] for d in f["days"]] == [["dev-host", "dev-m1"], ["dev-m1", "dev-m2"]]
    assert [d["present"] for d in f["days"]] == [2, 2]
    assert f["paper"] == [{"poll": "p1", "counts": [1, 0, 0], "paper_voters": 1, "by": "dev-fac", "at": NOW}]


def test_public_events_carry_no_device_ids() -> None:
    """What other devices see of a check-in or mark is the day's count; of a paper entry, no counts or author."""
    state = day_open()
    [e] = act(state, M1, "day.checkin", {})
    assert a.public(e, state) == {"day": "day-1", "present": 1}
    [e] = act(state, FAC, "day.mark", {"device": "dev-m2", "present": True})
    assert a.public(e, state) == {"day": "day-1", "present": 2}
    [e] = act(state, FAC, "poll.paper", {"poll": "p1", "counts": [1, 0, 0], "paper_voters": 1})
    assert a.public(e, state) == {"poll": "p1", "paper_voters": 1}
    [e] = act(state, FAC, "day.close", {"day": "day-1"})
    assert a.public(e, state) == e.data


# -- snapshots and replay --------------------------------------------------------------------------

@pytest.mark.parametrize("make", [Attendance, day_open, attended], ids=["empty", "one-day", "attended"])
def test_dump_load_round_trip(make: Any) -> None:
    """load(dump(s)) equals s, also through JSON: a snapshot is plain data with sets as sorted lists."""
    state = make()
    data = a.dump(state)
    assert a.load(data) == state
    assert a.load(json.loads(json.dumps(data))) == state
    assert all(d[4] == sorted(d[4]) for d in data["days"])


def test_replaying_the_events_rebuilds_the_live_state() -> None:
    """Folding the logged events into a fresh state gives exactly the live state, JSON round trip included."""
    live = Attendance()
    log: list[Event] = []
    act(live, FAC, "day.open", {"day": "day-1", "label": "Lørdag"}, log=log)
    act(live, M1, "day.checkin", {}, log=log)
    act(live, M1, "day.checkin", {}, log=log)
    act(live, FAC, "day.mark", {"device": "dev-m2", "present": True}, log=log)
    act(live, FAC, "day.mark", {"device": "dev-m1", "present": False}, log=log)
    act(live, FAC, "poll.paper", {"poll": "p1", "counts": [1, 1, 0], "paper_voters": 2}, log=log)
    act(live, FAC, "day.open", {"day": "day-2", "label": "Søndag"}, now=NOW + 1, log=log)
    act(live, HOST, "day.checkin", {}, log=log)
    act(live, FAC, "day.close", {"day": "day-2"}, now=NOW + 2, log=log)
    act(live, FAC, "day.open", {"day": "day-2", "label": "Søndag igen"}, now=NOW + 3, log=log)
    act(live, FAC, "poll.paper", {"poll": "p1", "counts": [2, 1, 0], "paper_voters": 3}, log=log)
    replayed = Attendance()
    for e in json.loads(json.dumps([[e.op, e.data] for e in log])):
        a.evolve(replayed, Event(e[0], e[1]))
    assert replayed == live


def test_evolve_refuses_an_unknown_event() -> None:
    """An event attendance does not know is a ValueError, not silently skipped."""
    with pytest.raises(ValueError):
        a.evolve(Attendance(), Event("note.add", {}))


# -- parsing ---------------------------------------------------------------------------------------

def test_every_op_parses_into_its_command() -> None:
    """Each op's well-formed args give the typed command, trimmed and checked."""
    assert a.parse("day.open", {"day": "day-3", "label": " Lørdag "}) == a.DayOpen("day-3", "Lørdag")
    assert a.parse("day.close", {"day": "day-3"}) == a.DayClose("day-3")
    assert a.parse("day.checkin", {}) == a.CheckIn()
    assert a.parse("day.mark", {"device": "dev-m1", "present": False}) == a.MarkPresent("dev-m1", False)
    assert a.parse("poll.paper", {"poll": "p1", "counts": [0, 10_000], "paper_voters": 10_000}) == \
        a.EnterPaperBallots("p1", (0, 10_000), 10_000)
    assert set(a.PARSERS) == set(a.RULES) == a.OPS


@pytest.mark.parametrize(("op", "args", "field"), [
    ("day.open", {"label": "Lørdag"}, "day"),
    ("day.open", {"day": "day 3", "label": "Lørdag"}, "day"),
    ("day.open", {"day": "day-3"}, "label"),
    ("day.open", {"day": "day-3", "label": "   "}, "label"),
    ("day.open", {"day": "day-3", "label": "x" * (a.LABEL_MAX + 1)}, "label"),
    ("day.close", {"day": 3}, "day"),
    ("day.mark", {"present": True}, "device"),
    ("day.mark", {"device": "dev-m1"}, "present"),
    ("day.mark", {"device": "dev-m1", "present": "yes"}, "present"),
    ("poll.paper", {"counts": [1], "paper_voters": 1}, "poll"),
    ("poll.paper", {"poll": "p1", "paper_voters": 1}, "counts"),
    ("poll.paper", {"poll": "p1", "counts": [], "paper_voters": 1}, "counts"),
    ("poll.paper", {"poll": "p1", "counts": [0] * 13, "paper_voters": 1}, "counts"),
    ("poll.paper", {"poll": "p1", "counts": "1,2", "paper_voters": 1}, "counts"),
    ("poll.paper", {"poll": "p1", "counts": [1, -1], "paper_voters": 1}, "counts[1]"),
    ("poll.paper", {"poll": "p1", "counts": [10_001, 0], "paper_voters": 1}, "counts[0]"),
    ("poll.paper", {"poll": "p1", "counts": [1, 1.5], "paper_voters": 1}, "counts[1]"),
    ("poll.paper", {"poll": "p1", "counts": [1, True], "paper_voters": 1}, "counts[1]"),
    ("poll.paper", {"poll": "p1", "counts": [1, 0]}, "paper_voters"),
    ("poll.paper", {"poll": "p1", "counts": [1, 0], "paper_voters": -1}, "paper_voters"),
])
def test_parse_errors_name_the_field(op: str, args: dict[str, Any], field: str) -> None:
    """Malformed args are invalid_args whose message starts with the offending field."""
    with pytest.raises(Refused) as info:
        a.parse(op, args)
    assert info.value.code == Code.INVALID_ARGS
    assert info.value.msg.startswith(f"{field}:"), info.value.msg


@pytest.mark.parametrize(("op", "args", "code"), [
    ("day.reopen", {}, Code.UNKNOWN_OP), (7, {}, Code.UNKNOWN_OP), ("day.checkin", [], Code.INVALID_ARGS),
])
def test_parse_refuses_unknown_ops_and_args_that_are_not_a_map(op: Any, args: Any, code: Code) -> None:
    """An op attendance does not have is unknown_op; args that are not a map are invalid_args."""
    with pytest.raises(Refused) as info:
        a.parse(op, args)
    assert info.value.code == code
