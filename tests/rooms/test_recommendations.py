"""Recommendations: written by the facilitator or a table's host, every version kept, locked in a vote."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rooms import SYSTEM, Actor, Code, Event, Refused, Role
from rooms import recommendations as r
from rooms.recommendations import Recommendations, Version, Who

FAC = Actor("dev-fac", Role.FACILITATOR)
HOST1 = Actor("dev-host1", Role.HOST, "1")
HOST2 = Actor("dev-host2", Role.HOST, "2")
M1 = Actor("dev-m1", Role.MEMBER, "1")
DISPLAY = Actor("dev-display", Role.DISPLAY)
NOW = 1_700_000_000_000
ADD = {"recommendation": "r1", "title": "Free buses", "text": "Make local buses free for under-20s."}


def act(state: Recommendations, actor: Actor, op: str, args: dict[str, Any], now: int = NOW) -> list[Event]:
    """Parse, decide and evolve one recommendation command; returns its events."""
    evs = r.decide(state, actor, r.PARSERS[op](args), op, now)
    for e in evs:
        r.evolve(state, e)
    return evs


def refused(state: Recommendations, actor: Actor, op: str, args: dict[str, Any]) -> Code:
    """The code a command is refused with; also checks the refusal changed nothing."""
    before = r.dump(state)
    with pytest.raises(Refused) as info:
        act(state, actor, op, args)
    assert r.dump(state) == before
    return info.value.code


def with_rec(actor: Actor = HOST1, **args: Any) -> Recommendations:
    """A state with recommendation r1, written by `actor`."""
    state = Recommendations()
    act(state, actor, "recommendation.add", {**ADD, **args})
    return state


def edit(rec: str = "r1", title: str = "Free buses", text: str = "New text.") -> dict[str, Any]:
    return {"recommendation": rec, "title": title, "text": text}


def locked(actor: Actor = HOST1) -> Recommendations:
    state = with_rec(actor)
    r.evolve(state, r.lock(state, "r1", "v1"))
    return state


# -- the rules as data ----------------------------------------------------------------------------

def test_parsers_rules_and_ops_agree() -> None:
    """Every device op has a parser and a rule for host and facilitator; evolve folds those and the locks."""
    assert set(r.PARSERS) == set(r.RULES) == r.OPS == {"recommendation.add", "recommendation.edit",
                                                       "recommendation.withdraw"}
    assert r.EVENTS == r.OPS | {"recommendation.lock", "recommendation.unlock"}
    assert all(rule.roles == {Role.HOST, Role.FACILITATOR} for rule in r.RULES.values())


# -- add ------------------------------------------------------------------------------------------

def test_facilitator_adds_a_recommendation() -> None:
    """recommendation.add records the title, text, theme, who (device and role) and when, as version 1."""
    state = Recommendations()
    [e] = act(state, FAC, "recommendation.add", {**ADD, "theme": "th-transport"}, now=NOW + 5)
    assert e == Event("recommendation.add", {"recommendation": "r1", "title": "Free buses",
                                             "text": "Make local buses free for under-20s.", "theme": "th-transport",
                                             "device": "dev-fac", "role": "facilitator", "table": None,
                                             "at": NOW + 5})
    rec = state.items["r1"]
    assert (rec.title, rec.text, rec.theme, rec.table) == ("Free buses", ADD["text"], "th-transport", None)
    assert rec.versions == [Version("Free buses", ADD["text"], Who("dev-fac", "facilitator"), NOW + 5)]


def test_host_adds_one_for_their_table() -> None:
    """A host's recommendation belongs to the host's table, and its version names that table."""
    state = with_rec(HOST1)
    rec = state.items["r1"]
    assert rec.table == "1" and rec.theme is None
    assert rec.versions[0].by == Who("dev-host1", "host", "1")


@pytest.mark.parametrize("op", sorted(r.OPS))
@pytest.mark.parametrize("actor", [M1, DISPLAY, SYSTEM], ids=["member", "display", "system"])
def test_only_hosts_and_the_facilitator_write(actor: Actor, op: str) -> None:
    """Members, displays and the server's own actor may not add, edit or withdraw: forbidden."""
    state = with_rec(FAC)
    args = {**ADD, "recommendation": "r2"} if op == "recommendation.add" else edit()
    assert refused(state, actor, op, args) == Code.FORBIDDEN


def test_a_host_without_a_table_may_not_write() -> None:
    """A host actor with no table cannot own a recommendation: forbidden."""
    assert refused(Recommendations(), Actor("dev-x", Role.HOST), "recommendation.add", ADD) == Code.FORBIDDEN


def test_a_used_id_is_refused_even_once_withdrawn() -> None:
    """An id already used, live or withdrawn, is duplicate_id."""
    state = with_rec()
    assert refused(state, FAC, "recommendation.add", ADD) == Code.DUPLICATE_ID
    act(state, HOST1, "recommendation.withdraw", {"recommendation": "r1"})
    assert refused(state, FAC, "recommendation.add", ADD) == Code.DUPLICATE_ID


def test_at_most_500_recommendations() -> None:
    """The 501st recommendation is over_budget, withdrawn ones counted."""
    state = Recommendations()
    for i in range(r.MAX_RECOMMENDATIONS):
        act(state, FAC, "recommendation.add", {**ADD, "recommendation": f"r{i}"})
    assert refused(state, FAC, "recommendation.add", {**ADD, "recommendation": "one-more"}) == Code.OVER_BUDGET


@pytest.mark.parametrize(("args", "field"), [
    ({**ADD, "title": ""}, "title"),
    ({**ADD, "title": "   "}, "title"),
    ({**ADD, "title": "t" * 121}, "title"),
    ({**ADD, "text": ""}, "text"),
    ({**ADD, "text": "x" * 5001}, "text"),
    ({**ADD, "text": 5}, "text"),
    ({**ADD, "recommendation": "has space"}, "recommendation"),
    ({**ADD, "theme": "bad theme"}, "theme"),
    ({**ADD, "theme": 7}, "theme"),
])
def test_parsers_check_lengths_and_ids(args: dict[str, Any], field: str) -> None:
    """A title outside 1-120 or a text outside 1-5000 characters, or a bad id, is invalid_args naming the field."""
    with pytest.raises(Refused) as info:
        r.PARSERS["recommendation.add"](args)
    assert info.value.code == Code.INVALID_ARGS and info.value.msg.startswith(f"{field}:")


def test_parsers_take_the_longest_and_trim() -> None:
    """A 120-character title and a 5000-character text are accepted, after trimming."""
    cmd = r.PARSERS["recommendation.add"]({**ADD, "title": " " + "t" * 120 + " ", "text": "x" * 5000})
    assert cmd == r.AddRecommendation("r1", "t" * 120, "x" * 5000, None)
    assert r.PARSERS["recommendation.edit"](edit(text="  y ")) == r.EditRecommendation("r1", "Free buses", "y")
    assert r.PARSERS["recommendation.withdraw"]({"recommendation": "r1"}) == r.WithdrawRecommendation("r1")


# -- edit -----------------------------------------------------------------------------------------

def test_every_version_is_kept_in_order_with_who_and_when() -> None:
    """Each edit appends a version with its title, text, who and when; the last is the current one."""
    state = with_rec(HOST1)
    act(state, HOST1, "recommendation.edit", edit(text="Second."), now=NOW + 1000)
    [e] = act(state, FAC, "recommendation.edit", edit(title="Free buses for youth", text="Second."), now=NOW + 2000)
    assert e.data == {"recommendation": "r1", "title": "Free buses for youth", "text": "Second.",
                      "device": "dev-fac", "role": "facilitator", "table": None, "at": NOW + 2000}
    rec = state.items["r1"]
    assert [(v.title, v.text, v.by, v.at) for v in rec.versions] == [
        ("Free buses", ADD["text"], Who("dev-host1", "host", "1"), NOW),
        ("Free buses", "Second.", Who("dev-host1", "host", "1"), NOW + 1000),
        ("Free buses for youth", "Second.", Who("dev-fac", "facilitator"), NOW + 2000),
    ]
    assert (rec.title, rec.text, rec.table) == ("Free buses for youth", "Second.", "1")


def test_an_edit_that_changes_nothing_is_refused() -> None:
    """The same title and text (after trimming) is invalid_args: nothing changed, no empty version."""
    state = with_rec()
    assert refused(state, HOST1, "recommendation.edit", edit(text=ADD["text"])) == Code.INVALID_ARGS
    assert refused(state, HOST1, "recommendation.edit", edit(text=f"  {ADD['text']}\n")) == Code.INVALID_ARGS
    assert len(state.items["r1"].versions) == 1


def test_a_host_changes_only_their_own_tables() -> None:
    """Another table's host, or any host on the facilitator's recommendation, is forbidden; the facilitator may."""
    state = with_rec(HOST1)
    act(state, FAC, "recommendation.add", {**ADD, "recommendation": "r2"})
    assert refused(state, HOST2, "recommendation.edit", edit()) == Code.FORBIDDEN
    assert refused(state, HOST2, "recommendation.withdraw", {"recommendation": "r1"}) == Code.FORBIDDEN
    assert refused(state, HOST1, "recommendation.edit", edit("r2")) == Code.FORBIDDEN
    assert [e.op for e in act(state, FAC, "recommendation.edit", edit())] == ["recommendation.edit"]
    assert [e.op for e in act(state, HOST1, "recommendation.edit", edit(text="Again."))] == ["recommendation.edit"]
    assert state.items["r1"].table == "1"  # the facilitator's edit leaves it the table's


def test_a_host_from_another_table_with_the_same_device_role_is_still_forbidden() -> None:
    """What counts is the table, not the role: a host moved to table 2 may no longer edit table 1's."""
    state = with_rec(HOST1)
    assert refused(state, Actor("dev-host1", Role.HOST, "2"), "recommendation.edit", edit()) == Code.FORBIDDEN


def test_unknown_recommendations_are_refused() -> None:
    """Editing or withdrawing an id that does not exist is unknown_target."""
    state = with_rec()
    assert refused(state, FAC, "recommendation.edit", edit("r9")) == Code.UNKNOWN_TARGET
    assert refused(state, FAC, "recommendation.withdraw", {"recommendation": "r9"}) == Code.UNKNOWN_TARGET


def test_at_most_200_versions() -> None:
    """After 200 versions (the first included) another edit is over_budget."""
    state = with_rec()
    for i in range(1, r.MAX_VERSIONS):
        act(state, HOST1, "recommendation.edit", edit(text=f"v{i}"))
    assert len(state.items["r1"].versions) == r.MAX_VERSIONS
    assert refused(state, HOST1, "recommendation.edit", edit(text="one more")) == Code.OVER_BUDGET


# -- withdraw -------------------------------------------------------------------------------------

def test_withdraw_marks_it_and_keeps_the_history() -> None:
    """Withdrawing records who and when, keeps every version, and then the recommendation is final."""
    state = with_rec()
    act(state, HOST1, "recommendation.edit", edit(text="Second."))
    [e] = act(state, HOST1, "recommendation.withdraw", {"recommendation": "r1"}, now=NOW + 9)
    assert e.data == {"recommendation": "r1", "device": "dev-host1", "role": "host", "table": "1", "at": NOW + 9}
    rec = state.items["r1"]
    assert (rec.withdrawn_by, rec.withdrawn_at, len(rec.versions)) == (Who("dev-host1", "host", "1"), NOW + 9, 2)
    assert refused(state, FAC, "recommendation.edit", edit(text="Third.")) == Code.WRONG_PHASE
    assert refused(state, FAC, "recommendation.withdraw", {"recommendation": "r1"}) == Code.WRONG_PHASE
    with pytest.raises(Refused) as info:
        r.lock(state, "r1", "v1")
    assert info.value.code == Code.WRONG_PHASE


# -- locks and adoption ---------------------------------------------------------------------------

def test_an_open_vote_locks_edits_and_withdrawal() -> None:
    """While an adoption vote is open on it, no one (not even the facilitator) may edit or withdraw it."""
    state = locked()
    assert state.items["r1"].locked == "v1"
    for actor in (HOST1, FAC):
        assert refused(state, actor, "recommendation.edit", edit()) == Code.WRONG_PHASE
        assert refused(state, actor, "recommendation.withdraw", {"recommendation": "r1"}) == Code.WRONG_PHASE


def test_lock_and_unlock_are_events() -> None:
    """lock and unlock give the events the hall logs with the vote's opening and closing."""
    state = with_rec()
    assert r.lock(state, "r1", "v1") == Event("recommendation.lock", {"recommendation": "r1", "poll": "v1"})
    r.evolve(state, r.lock(state, "r1", "v1"))
    assert r.unlock(state, "r1", "v1") == Event("recommendation.unlock", {"recommendation": "r1", "poll": "v1",
                                                                          "adopted": False})


def test_a_vote_that_does_not_adopt_unlocks_it() -> None:
    """After a vote that did not adopt it, the recommendation may be edited and voted on again."""
    state = locked()
    r.evolve(state, r.unlock(state, "r1", "v1", adopted=False))
    assert (state.items["r1"].locked, state.items["r1"].adopted) == (None, None)
    act(state, HOST1, "recommendation.edit", edit())
    r.evolve(state, r.lock(state, "r1", "v2"))
    assert state.items["r1"].locked == "v2"


def test_an_adopted_recommendation_is_final() -> None:
    """Adopted, it can be neither edited, withdrawn nor put to another vote."""
    state = locked()
    r.evolve(state, r.unlock(state, "r1", "v1", adopted=True))
    assert (state.items["r1"].locked, state.items["r1"].adopted) == (None, "v1")
    assert refused(state, FAC, "recommendation.edit", edit()) == Code.WRONG_PHASE
    assert refused(state, FAC, "recommendation.withdraw", {"recommendation": "r1"}) == Code.WRONG_PHASE
    with pytest.raises(Refused) as info:
        r.lock(state, "r1", "v2")
    assert info.value.code == Code.WRONG_PHASE


def test_lock_refuses_an_unknown_or_already_locked_recommendation() -> None:
    """Only a known recommendation not already in a vote can be locked."""
    state = locked()
    for rec, poll, code in [("r9", "v2", Code.UNKNOWN_TARGET), ("r1", "v2", Code.WRONG_PHASE)]:
        with pytest.raises(Refused) as info:
            r.lock(state, rec, poll)
        assert info.value.code == code


def test_unlock_needs_the_vote_that_holds_it() -> None:
    """Unlocking with another vote's id, or a recommendation not in a vote, is wrong_phase."""
    state = locked()
    for rec, poll, code in [("r1", "v2", Code.WRONG_PHASE), ("r9", "v1", Code.UNKNOWN_TARGET)]:
        with pytest.raises(Refused) as info:
            r.unlock(state, rec, poll)
        assert info.value.code == code
    with pytest.raises(Refused):
        r.unlock(with_rec(), "r1", "v1")


# -- what devices see -----------------------------------------------------------------------------

def busy_state() -> tuple[Recommendations, list[Event]]:
    """A state with every kind of change, and the events that made it."""
    state = Recommendations()
    log: list[Event] = []

    def run(actor: Actor, op: str, args: dict[str, Any], now: int) -> None:
        log.extend(act(state, actor, op, args, now))

    def hall(e: Event) -> None:
        log.append(e)
        r.evolve(state, e)

    run(HOST1, "recommendation.add", {**ADD, "theme": "th1"}, NOW)
    run(FAC, "recommendation.add", {**ADD, "recommendation": "r2", "title": "Bike lanes"}, NOW + 1)
    run(HOST2, "recommendation.add", {**ADD, "recommendation": "r3", "title": "Night trains"}, NOW + 2)
    run(FAC, "recommendation.edit", edit(text="Edited by the facilitator."), NOW + 3)
    run(HOST1, "recommendation.edit", edit(title="Free buses!", text="Edited by the facilitator."), NOW + 4)
    run(HOST2, "recommendation.withdraw", {"recommendation": "r3"}, NOW + 5)
    hall(r.lock(state, "r1", "v1"))
    hall(r.lock(state, "r2", "v2"))
    hall(r.unlock(state, "r2", "v2", adopted=True))
    return state, log


def test_view_shows_every_version_without_device_ids() -> None:
    """The view lists each version's title, text, at and a role/table label, and no device id anywhere."""
    state, _ = busy_state()
    v = r.view(state)
    assert "dev-" not in json.dumps(v)
    r1, r2, r3 = v["recommendations"]
    assert r1 == {
        "recommendation": "r1", "title": "Free buses!", "text": "Edited by the facilitator.", "theme": "th1",
        "table": "1", "withdrawn": False, "withdrawn_by": None, "withdrawn_at": None, "locked": "v1", "adopted": None,
        "versions": [
            {"title": "Free buses", "text": ADD["text"], "at": NOW, "by": {"role": "host", "table": "1"}},
            {"title": "Free buses", "text": "Edited by the facilitator.", "at": NOW + 3,
             "by": {"role": "facilitator", "table": None}},
            {"title": "Free buses!", "text": "Edited by the facilitator.", "at": NOW + 4,
             "by": {"role": "host", "table": "1"}},
        ],
    }
    assert (r2["adopted"], r2["locked"], r2["table"]) == ("v2", None, None)
    assert (r3["withdrawn"], r3["withdrawn_by"], r3["withdrawn_at"]) == (True, {"role": "host", "table": "2"},
                                                                         NOW + 5)


def test_public_events_leave_out_the_device() -> None:
    """What devices see of an event names the role and table but never the device; the log keeps it."""
    _, log = busy_state()
    for e in log:
        assert "device" not in r.public(e)
        assert {k: v for k, v in e.data.items() if k != "device"} == r.public(e)
    assert all(e.data["device"].startswith("dev-") for e in log if e.op in r.OPS)


# -- replay and snapshots -------------------------------------------------------------------------

def test_replaying_the_log_rebuilds_the_live_state() -> None:
    """Folding the logged events into a fresh state gives exactly the state built live."""
    live, log = busy_state()
    replayed = Recommendations()
    for e in log:
        r.evolve(replayed, e)
    assert replayed == live and r.view(replayed) == r.view(live)


def test_dump_and_load_round_trip() -> None:
    """load(dump(s)) equals s, device ids included, and the dump is plain JSON-able data."""
    for state in (Recommendations(), with_rec(), busy_state()[0]):
        data = r.dump(state)
        assert r.load(json.loads(json.dumps(data))) == state
    assert "dev-host1" in json.dumps(r.dump(busy_state()[0]))


def test_evolve_refuses_an_unknown_event() -> None:
    """An event outside EVENTS is a ValueError, not silently skipped."""
    with pytest.raises(ValueError):
        r.evolve(with_rec(), Event("note.add", {"recommendation": "r1"}))


def test_decide_refuses_unknown_ops() -> None:
    """decide refuses an op outside RULES with unknown_op."""
    with pytest.raises(Refused) as info:
        r.decide(Recommendations(), FAC, r.WithdrawRecommendation("r1"), "recommendation.delete", NOW)
    assert info.value.code == Code.UNKNOWN_OP


def test_the_record_has_a_character_budget_that_survives_a_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_CHARACTERS of titles and texts in all, a new recommendation or version is
    over_budget (a host's tablet cannot grow every welcome without end); the count is rebuilt on load."""
    monkeypatch.setattr(r, "MAX_CHARACTERS", 30)
    state = Recommendations()
    host = Actor("dev-h", Role.HOST, "1")
    add = r.AddRecommendation("r1", "Busser", "Flere busser")
    for e in r.decide(state, host, add, "recommendation.add", 1):
        r.evolve(state, e)
    assert state.characters == 18
    with pytest.raises(Refused) as info:
        r.decide(state, host, r.EditRecommendation("r1", "Busser", "Flere busser om aftenen"),
                               "recommendation.edit", 2)
    assert info.value.code is Code.OVER_BUDGET
    assert r.load(r.dump(state)) == state
