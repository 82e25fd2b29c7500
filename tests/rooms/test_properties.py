"""Random command sequences: rules hold after every step, and a room's log replays to exactly its state."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rooms import SYSTEM, Actor, Event, Refused, Role, events, hall, snapshots, table
from rooms import commands as c
from rooms.hall import HallState
from rooms.phases import Phase
from rooms.room import RoomModel
from rooms.table import Board, TableState

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

M1 = Actor("dev-m1-7f3a", Role.MEMBER, "1")
M2 = Actor("dev-m2-91c2", Role.MEMBER, "1")
M3 = Actor("dev-m3-0b5d", Role.MEMBER, "1")
HOST = Actor("dev-host-44e1", Role.HOST, "1")
OTHER = Actor("dev-other-c3d9", Role.MEMBER, "2")
FAC = Actor("dev-fac-5e6f", Role.FACILITATOR)
DISPLAY = Actor("dev-display-2d7c", Role.DISPLAY)
SEATED_HERE = {M1.device, M2.device, M3.device, HOST.device}
DEVICES = [a.device for a in (M1, M2, M3, HOST, OTHER, FAC, DISPLAY)]
VIEWERS = [M1, M2, M3, HOST, OTHER, FAC, DISPLAY, None]

MISSING: Any = "<missing>"  # a pool value meaning "leave this key out of args"


def pool(valid: list[Any], invalid: list[Any]) -> st.SearchStrategy[Any]:
    """A field's values, weighted so that most draws are valid and some are not (MISSING: left out)."""
    return st.sampled_from(valid * 4 + invalid)


def args_from(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Args maps drawing each field from its pool."""
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not MISSING})


GARBAGE_ARGS = st.sampled_from([None, [], "args", 3, {}, {"note": ["n1"], "target": {"x": 1}}])
ONE_IN_TEN = st.integers(0, 9)


# -- tables ----------------------------------------------------------------------------------------

NOTE_IDS = pool(["n1", "n2", "n3", "n4", "n5"], ["c1", MISSING, "", "bad id", 7])
CLUSTER_IDS = pool(["c1", "c2", "c3"], ["n1", None, MISSING, "bad id"])
TARGETS = pool(["n1", "n2", "n3", "n4", "n5", "c1", "c2", "c3"], ["x", MISSING, 3])
TEXTS = pool(["idea", "  padded  ", "x" * 280], ["", "   ", "x" * 281, 5, MISSING])
TITLES = pool(["", "Title", "t" * 80], ["t" * 81, None, MISSING])
PHASE_NAMES = ["brainstorm", "cluster", "vote", "results"]
PHASES = pool(PHASE_NAMES, ["idle", MISSING])

TABLE_ARGS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "note.add": args_from({"note": NOTE_IDS, "text": TEXTS}),
    "note.edit": args_from({"note": NOTE_IDS, "text": TEXTS}),
    "note.remove": args_from({"note": NOTE_IDS}),
    "note.move": args_from({"note": NOTE_IDS, "cluster": CLUSTER_IDS}),
    "cluster.add": args_from({"cluster": CLUSTER_IDS, "title": TITLES}),
    "cluster.rename": args_from({"cluster": CLUSTER_IDS, "title": TITLES}),
    "cluster.remove": args_from({"cluster": CLUSTER_IDS}),
    "dot.add": args_from({"target": TARGETS}),
    "dot.remove": args_from({"target": TARGETS}),
    "phase.set": args_from({"phase": PHASES}),
    "activity.start": args_from({"activity": st.just("a9")}),  # not a device's op at a table: unknown_op
    "nope": args_from({}),
}
assert set(c.TABLE_PARSERS) < set(TABLE_ARGS), "the generator must cover every table op"

# Ops are mostly those that make sense in the current phase, so runs get deep (notes, clusters, dots);
# "phase" (the server moves the table on) and "activity" (a new one starts) are mixed in.
FITTING_OPS = {
    Phase.IDLE: ["note.add", "phase.set"],
    Phase.BRAINSTORM: ["note.add"] * 4 + ["note.edit", "note.remove"],
    Phase.CLUSTER: ["note.move"] * 3 + ["cluster.add", "cluster.remove"] * 2 + ["cluster.rename", "note.edit",
                                                                                 "note.remove"],
    Phase.VOTE: ["dot.add"] * 4 + ["dot.remove"] * 2,
    Phase.RESULTS: ["phase.set", "dot.add"],
}
TABLE_STEPS = {phase: st.sampled_from(ops * 4 + list(TABLE_ARGS) + ["phase"] * 3 + ["activity"])
               for phase, ops in FITTING_OPS.items()}
TABLE_ACTORS = st.sampled_from([M1, M2, M3, HOST] * 3 + [HOST, OTHER, FAC, DISPLAY])
# One draw per command: (actor, malformed args if 0, args, which id on the board to aim at if < 70).
TABLE_COMMANDS = {op: st.tuples(TABLE_ACTORS, ONE_IN_TEN, args, st.integers(0, 99)) for op, args in TABLE_ARGS.items()}
PHASE_CHANGE = st.integers(1, 3)  # to one of the three other phases (from idle: any but results)
NEW_ACTIVITY = st.tuples(st.integers(1, 6), st.integers(1, 6), st.booleans())
SETTABLE = [Phase(p) for p in PHASE_NAMES]


def check_board(board: Board) -> None:
    assert not set(board.notes) & set(board.clusters), "a note and a cluster share an id"
    for note in board.notes.values():
        assert note.cluster is None or note.cluster in board.clusters, f"note {note.id} in a missing cluster"
        assert note.author in SEATED_HERE, "a note by someone without a seat here"
        assert 1 <= len(note.text) <= c.NOTE_MAX and note.text == note.text.strip()
    for cluster in board.clusters.values():
        assert len(cluster.title) <= c.TITLE_MAX
    used: dict[str, int] = {}
    for (device, target), n in board.placed.items():
        assert device in SEATED_HERE, "a dot by someone without a seat here"
        assert 1 <= n <= board.max_per_target, f"{n} dots of one member on {target}"
        assert board.is_target(target), f"a dot on {target}, which is not a target"
        # counted here too, not only through the code under test
        assert target in board.clusters or (target in board.notes and board.notes[target].cluster is None)
        used[device] = used.get(device, 0) + n
    for device in SEATED_HERE:
        assert used.get(device, 0) == board.used_by(device) <= board.dots, f"{device} is over budget"


def check_table(state: TableState) -> None:
    assert (state.board is None) == (state.phase == Phase.IDLE)
    for board in [*state.past.values(), *([state.board] if state.board else [])]:
        check_board(board)


def draw_table_command(data: st.DataObject, state: TableState, activities: list[str]
                       ) -> tuple[Actor, c.Command, str]:
    """Draw one step as (actor, command, op); parsing a device's args may raise Refused."""
    op = data.draw(TABLE_STEPS[state.phase])
    if op == "phase":
        here = SETTABLE.index(state.phase) if state.phase in SETTABLE else 3
        return SYSTEM, c.SetPhase(SETTABLE[(here + data.draw(PHASE_CHANGE)) % 4]), "phase.set"
    if op == "activity":
        dots, mpt, show = data.draw(NEW_ACTIVITY)
        activities.append(f"a{len(activities) + 1}")
        return SYSTEM, c.StartActivity(activities[-1], "prompt", dots, min(mpt, dots), show), "activity.start"
    actor, garbage, args, pick = data.draw(TABLE_COMMANDS[op])
    board = state.board
    if garbage == 0:
        args = data.draw(GARBAGE_ARGS)
    elif board is not None and op not in ("note.add", "cluster.add") and pick < 70:
        # mostly aim at what is on the board, so moves, dots and removals happen
        for key, ids in (("note", list(board.notes)), ("cluster", list(board.clusters)),
                         ("target", [*board.notes, *board.clusters])):
            if key in args and ids:
                args[key] = ids[pick % len(ids)]
    return actor, c.parse("table", op, args), op


def replay_table(log: list[Event]) -> TableState:
    state = table.new_state("1")
    for e in log:
        table.evolve(state, e)
    return state


@SETTINGS
@given(st.data())
def test_table_rules_hold_and_the_log_replays(data: st.DataObject) -> None:
    """Under any command sequence a table only refuses (changing nothing), keeps budgets, caps, targets and
    clusters valid, never publishes a device id, and its log replays and its snapshot reloads to the same state."""
    state = table.new_state("1")
    log = [Event("table.open", {"table": "1", "name": "Table 1"})]
    if data.draw(st.booleans()):  # half the runs begin in brainstorm; the rest try everything before any activity
        log.append(Event("activity.start", {"activity": "a0", "prompt": "", "dots": 5, "max_per_target": 3}))
    for e in log:
        table.evolve(state, e)
    activities: list[str] = []
    for _ in range(data.draw(st.integers(0, 70))):
        before = snapshots.dump_table(state)
        try:
            actor, cmd, op = draw_table_command(data, state, activities)
            new = table.decide(state, actor, cmd, op)
        except Refused as refusal:
            event(f"refused {refusal.code}")
            assert snapshots.dump_table(state) == before, "a refused command changed the state"
            continue
        for e in new:
            dropped = state.board is not None and e.op in ("note.move", "note.remove", "cluster.remove") and any(
                t in (e.data.get("note"), e.data.get("cluster")) for _, t in state.board.placed)
            table.evolve(state, e)
            log.append(e)
            event(f"accepted {e.op}" + (" (dropping dots)" if dropped else ""))
            text = json.dumps(events.public(e, table.public_show_totals(state)))
            assert not any(d in text for d in DEVICES), f"public {e.op} names a device"
        check_table(state)
    if state.board is not None and any(state.board.used_by(d) == state.board.dots for d in SEATED_HERE):
        event("someone spent the whole budget")

    for viewer in VIEWERS:
        view = table.view(state, viewer)
        assert not any(d in json.dumps(view) for d in DEVICES), "a view names a device"
        if state.board is not None:
            for n in view["board"]["notes"]:
                assert n["mine"] == (viewer is not None and state.board.notes[n["note"]].author == viewer.device)

    dumped = snapshots.dump_table(state)
    assert snapshots.dump_table(replay_table(log)) == dumped, "replaying the log gives another state"
    assert snapshots.dump_table(snapshots.load_table(dumped)) == dumped
    assert snapshots.dump_table(snapshots.load_table(json.loads(json.dumps(dumped)))) == dumped
    assert RoomModel.load("table:1", dumped).dump() == dumped


# Dots meet a board that is being reshaped: a denser run at the paths where dots must move or vanish.

RESHAPE_OPS = ["dot.add"] * 4 + ["dot.remove", "note.move", "note.move", "cluster.remove", "note.remove",
                                 "cluster.add", "to vote", "to vote", "to cluster"]
RESHAPE_IDS = ["n1", "n2", "n3", "n4", "n5", "c1", "c2", "c3"]
reshape_steps = st.lists(st.tuples(st.sampled_from(RESHAPE_OPS), st.sampled_from([M1, M2, M3, HOST]),
                                   st.sampled_from(RESHAPE_IDS), st.sampled_from(["c1", "c2", "c3", None])),
                         min_size=12, max_size=50)


def reshaped_board(dots: int, mpt: int) -> tuple[TableState, list[Event]]:
    """Table 1 voting on n1-n5 (n1, n2 in cluster c1; c2 empty) with `dots` per member, `mpt` per target."""
    log = [Event("table.open", {"table": "1", "name": "Table 1"}),
           Event("activity.start", {"activity": "a1", "prompt": "", "dots": dots, "max_per_target": mpt})]
    log += [Event("note.add", {"note": f"n{i}", "text": f"note {i}", "author": [M1, M2][i % 2].device})
            for i in range(1, 6)]
    log += [Event("phase.set", {"phase": "cluster"}),
            Event("cluster.add", {"cluster": "c1", "title": "one"}),
            Event("cluster.add", {"cluster": "c2", "title": "two"}),
            Event("note.move", {"note": "n1", "cluster": "c1"}),
            Event("note.move", {"note": "n2", "cluster": "c1"}),
            Event("phase.set", {"phase": "vote"})]
    return replay_table(log), log


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 6), reshape_steps)
def test_dots_stay_on_targets_while_the_board_is_reshaped(dots: int, mpt: int,
                                                          steps: list[tuple[str, Actor, str, str | None]]) -> None:
    """Dots placed, then notes moved or removed and clusters removed between votes: every dot stays on a valid
    target within budget and cap, and the log still replays to the same state."""
    state, log = reshaped_board(dots, min(mpt, dots))
    for op, actor, ident, cluster in steps:
        try:
            if op.startswith("to "):
                actor, op, cmd = SYSTEM, "phase.set", c.SetPhase(Phase(op[3:]))
            else:
                if op == "cluster.remove":
                    actor = HOST  # only a lead may; members being refused is proven elsewhere
                args = {"target": ident, "note": ident, "cluster": ident if op == "cluster.add" else cluster}
                cmd = c.parse("table", op, args)
            new = table.decide(state, actor, cmd, op)
        except Refused as refusal:
            event(f"refused {refusal.code}")
            continue
        for e in new:
            board = state.board
            assert board is not None
            if e.op != "dot.add" and any(t in (e.data.get("note"), e.data.get("cluster")) for _, t in board.placed):
                event(f"{e.op} drops dots")
            event(f"accepted {e.op}")
            table.evolve(state, e)
            log.append(e)
        check_table(state)
    assert snapshots.dump_table(replay_table(log)) == snapshots.dump_table(state)


# -- the hall --------------------------------------------------------------------------------------

TABLES = ["1", "2"]
ACTIVITY_IDS = pool(["a1", "a2", "a3", "a4"], [MISSING, "bad id"])
POLL_IDS = pool(["p1", "p2", "p3"], [MISSING, 9])
HALL_ARGS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "activity.start": args_from({
        "activity": ACTIVITY_IDS, "prompt": pool(["", "Why?", MISSING], [3]),
        "dots": pool([1, 3, 5, 20, MISSING], [0, True]), "max_per_target": pool([1, 2, MISSING], [6]),
        "show_totals": pool([True, False, MISSING], [1])}),
    "phase.set": args_from({"phase": PHASES,
                            "tables": pool([MISSING, None, ["1"], ["2", "1"], ["1", "1"], []], [["9"], "1"])}),
    "timer.start": args_from({"seconds": pool([1, 60, 86400], [0, True, MISSING])}),
    "timer.stop": args_from({}),
    "spotlight": args_from({"table": pool(["1", "2", None, MISSING], ["9", 5])}),
    "poll.open": args_from({
        "poll": POLL_IDS, "question": pool(["Q?"], ["", MISSING]), "kind": pool(["choice", "scale"], ["rank", MISSING]),
        "options": pool([["a", "b"], ["a", "b", "c", "d"]], [["a"], MISSING]),
        "labels": pool([["1", "2", "3"], ["l"] * 7], [["1", "2"], MISSING]),
        "hidden": pool([True, False, MISSING], ["yes"])}),
    "poll.close": args_from({"poll": POLL_IDS}),
    "vote.cast": args_from({"poll": POLL_IDS, "choice": pool([0, 1, 2, 3], [11, -1, True])}),
    "poll.tally": args_from({"poll": POLL_IDS}),  # server-only: not parseable from a device
    "nope": args_from({}),
}
assert set(c.HALL_PARSERS) < set(HALL_ARGS), "the generator must cover every hall op"

HALL_ACTORS = st.sampled_from([FAC] * 6 + [M1, HOST, OTHER, DISPLAY, SYSTEM])
HALL_STEPS = st.sampled_from(["activity.start", "phase.set", "poll.open", "poll.close"] * 3 + list(HALL_ARGS)
                             + ["tally"] * 8 + ["vote"] * 8 + ["tick"] * 2)
# One draw per command: (actor, malformed args if 0, args, which existing poll to aim at if < 60).
HALL_COMMANDS = {op: st.tuples(HALL_ACTORS, ONE_IN_TEN, args, st.integers(0, 99)) for op, args in HALL_ARGS.items()}
# (which poll: an existing one when < 60, else one that does not exist; counts; voters; present)
TALLY = st.tuples(st.integers(0, 63), st.lists(st.integers(0, 50), max_size=7), st.integers(0, 2000),
                  st.integers(0, 2000))
VOTE = st.tuples(st.sampled_from([M1, HOST, OTHER] * 2 + [FAC, DISPLAY, SYSTEM]), st.integers(0, 63),
                 st.integers(-1, 4))
TICK = st.integers(0, 10**6)


def pick_poll(state: HallState, pick: int) -> str:
    """Mostly a poll that exists (open or closed), now and then one that does not."""
    polls = list(state.polls)
    return polls[pick % len(polls)] if polls and pick < 60 else "p9"


def replay_hall(log: list[Event]) -> HallState:
    state = HallState()
    for e in log:
        hall.evolve(state, e)
    return state


def check_hall(state: HallState, closed: set[str]) -> None:
    assert (state.activity is None) == (state.phase is None) == (not state.activities)
    if state.activity is not None:
        assert state.activities[state.activity["activity"]] == state.activity
    assert all(not state.polls[p].open for p in closed), "a closed poll reopened"
    closed.update(p for p, poll in state.polls.items() if not poll.open)
    for p in hall.view(state)["polls"]:
        if p["hidden"] and p["open"]:
            assert p["counts"] is None, "a hidden open poll shows its counts"


@SETTINGS
@given(st.data())
def test_hall_rules_hold_and_the_log_replays(data: st.DataObject) -> None:
    """Under any command sequence the hall only refuses, keeps closed polls closed and hidden counts hidden,
    its follow-ups are always accepted by the tables, and its log replays and snapshot reloads to the same state."""
    state = HallState()
    log = [Event("assembly.open", {"assembly": "asm", "name": "Assembly",
                                   "tables": [{"id": t, "name": f"Table {t}"} for t in TABLES]})]
    hall.evolve(state, log[0])
    tables = {t: table.new_state(t) for t in TABLES}
    table_logs: dict[str, list[Event]] = {t: [] for t in TABLES}
    closed: set[str] = set()
    now = 1_700_000_000_000
    for _ in range(data.draw(st.integers(0, 30))):
        before = snapshots.dump_hall(state)
        step = data.draw(HALL_STEPS)
        try:
            if step == "tick":
                now += data.draw(TICK)
                continue
            if step == "vote":  # check_vote must allow exactly the votes this oracle allows
                actor, pick, choice = data.draw(VOTE)
                poll = pick_poll(state, pick)
                target = state.polls.get(poll)
                allowed = actor.seated and target is not None and target.open and 0 <= choice < len(target.options)
                try:
                    assert hall.check_vote(state, actor, c.CastVote(poll, choice)) is target
                except Refused:
                    assert not allowed, f"a valid vote of {actor.role} on {poll} was refused"
                    raise
                assert allowed, f"check_vote let {actor.role} vote {choice} on {poll}"
                event("vote allowed")
                continue
            if step == "tally":
                pick, counts, voters, present = data.draw(TALLY)
                actor, cmd = hall.system_tally(pick_poll(state, pick), counts, voters, present)
                op = "poll.tally"
            else:
                actor, garbage, args, pick = data.draw(HALL_COMMANDS[step])
                if garbage == 0:
                    args = data.draw(GARBAGE_ARGS)
                elif step in ("poll.close", "vote.cast") and state.polls and pick < 60:
                    args["poll"] = pick_poll(state, pick)
                op = step
                cmd = c.parse("hall", op, args)
            new = hall.decide(state, actor, cmd, op, now)
        except Refused as refusal:
            event(f"refused {refusal.code}")
            assert snapshots.dump_hall(state) == before, "a refused command changed the hall"
            continue
        for e in new:
            hall.evolve(state, e)
            log.append(e)
            event(f"accepted {e.op}")
            if e.op == "timer.start":
                assert e.data["ends_at"] == now + e.data["seconds"] * 1000
            if e.op == "poll.tally":
                tallied = state.polls[e.data["poll"]]
                assert e.data["final"] == (not tallied.open)
                if tallied.hidden and tallied.open:
                    event("hidden tally")
                    assert "counts" not in hall.public(e, state)
            for t, tcmd, top in hall.follow_ups(e):
                for te in table.decide(tables[t], SYSTEM, tcmd, top):  # a Refused here fails the test
                    table.evolve(tables[t], te)
                    table_logs[t].append(te)
        check_hall(state, closed)

    dumped = snapshots.dump_hall(state)
    assert snapshots.dump_hall(replay_hall(log)) == dumped, "replaying the hall's log gives another state"
    assert snapshots.dump_hall(snapshots.load_hall(dumped)) == dumped
    assert snapshots.dump_hall(snapshots.load_hall(json.loads(json.dumps(dumped)))) == dumped
    assert RoomModel.load("hall", dumped).dump() == dumped
    for t in TABLES:
        replayed = table.new_state(t)
        for te in table_logs[t]:
            table.evolve(replayed, te)
        assert snapshots.dump_table(replayed) == snapshots.dump_table(tables[t])
        if state.activity is not None:
            board = tables[t].board
            assert board is not None and board.activity == state.activity["activity"]
