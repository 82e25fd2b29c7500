"""The live protocol end to end: real server processes, real sockets, on both stores."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import msgpack
import pytest
from support.client import Device, healthz, join

Stack = Any  # tests/server/conftest.py: server, assembly, kind


async def facilitator(stack: Stack, dots: int = 5, max_per_target: int = 3, activity: str = "a1") -> Device:
    """The facilitator, connected, with an activity started and every table in brainstorm."""
    fac = await Device.connect(stack.server.ws_url, stack.assembly["facilitator_token"])
    await fac.ok("activity.start", {"activity": activity, "prompt": "Hvad skal vi anbefale?", "dots": dots,
                                    "max_per_target": max_per_target}, room="hall")
    return fac


async def member(stack: Stack, table: int = 0, name: str | None = None) -> Device:
    joined = await join(stack.server.url, stack.codes[table], name)
    return await Device.connect(stack.server.ws_url, joined["token"])


async def test_a_note_reaches_the_others_at_the_table_only(stack: Stack) -> None:
    """A note added on one tablet appears on the other tablet of its table, with the ack's seq, and
    nowhere else; the note's author is never in the event."""
    fac = await facilitator(stack)
    a, b, other = await member(stack), await member(stack), await member(stack, table=1)
    acked = await a.ok("note.add", {"note": "n1", "text": "  Flere cykelstier  "})
    ev = await b.next_ev("note.add", room=a.room)
    assert ev["seq"] == acked["seq"] and ev["cmd"] == acked["id"]
    assert ev["data"] == {"note": "n1", "text": "Flere cykelstier"}
    assert a.you["device"] not in repr(ev)
    assert (await fac.next_ev("note.add", room=a.room))["seq"] == acked["seq"]
    await asyncio.sleep(0.3)
    assert other.events(a.room) == []


async def test_frames_are_written_directly_a_turns_frames_together(stack: Stack) -> None:
    """The server writes frames without a task switch (server/wire.py): /healthz counts those
    writes; on the embedded store a note's author gets its `ev` and its `ack` written together."""
    before = await healthz(stack.server.url)
    a, b = await member(stack), await member(stack)
    fac = await facilitator(stack)
    await a.next_ev("activity.start", room=a.room)
    for i in range(5):
        await a.ok("note.add", {"note": f"n{i}", "text": f"idé {i}"})
    for _ in range(5):
        await b.next_ev("note.add", room=a.room)
    after = await healthz(stack.server.url)
    writes, frames = after["writes"] - before["writes"], after["frames_written"] - before["frames_written"]
    assert writes > 0 and frames >= 15  # at least the 5 acks and 10 evs of the two tablets
    if stack.kind == "sqlite":  # in-process, the author's ev and ack come in one turn
        assert frames > writes
    await fac.close()


async def test_start_up_objects_are_frozen_out_of_the_collector(stack: Stack) -> None:
    """server/collector.py: what start-up built is never walked by a full collection again, and
    young collections are spaced for a server (a hall reconnecting is a burst of allocations)."""
    from server.collector import MIDDLE, OLD, YOUNG

    gc = (await healthz(stack.server.url))["gc"]
    assert gc["frozen"] > 10_000 and gc["threshold"] == [YOUNG, MIDDLE, OLD]


async def test_welcome_lists_the_rooms_of_each_role(stack: Stack) -> None:
    """A member is in its table and the hall, the facilitator in the hall and every table, a display
    in the hall only."""
    fac = await Device.connect(stack.server.ws_url, stack.assembly["facilitator_token"])
    display = await Device.connect(stack.server.ws_url, stack.assembly["display_token"])
    a = await member(stack, table=1)
    tables = [f"table:{t['id']}" for t in stack.assembly["tables"]]
    assert set(fac.welcome["rooms"]) == {"hall", *tables}
    assert set(display.welcome["rooms"]) == {"hall"}
    assert set(a.welcome["rooms"]) == {"hall", tables[1]}
    assert a.you["role"] == "member" and isinstance(a.welcome["now"], int)


async def test_reconnect_with_since_returns_exactly_the_missed_events(stack: Stack) -> None:
    """A device that was away gets the events after its `since`, no more, no fewer, in order."""
    await facilitator(stack)
    a, b = await member(stack), await member(stack)
    await a.ok("note.add", {"note": "n1", "text": "en"})
    await b.next_ev("note.add")
    since = b.since()
    await b.close()
    seqs = [(await a.ok("note.add", {"note": f"m{i}", "text": f"tekst {i}"}))["seq"] for i in range(5)]
    back = await Device.connect(stack.server.ws_url, b.token, since=since)
    view = back.welcome["rooms"][a.room]
    assert [e["seq"] for e in view["events"]] == seqs
    assert [e["data"]["note"] for e in view["events"]] == [f"m{i}" for i in range(5)]
    assert view["seq"] == seqs[-1]
    assert back.welcome["rooms"]["hall"]["events"] == []


async def test_a_resent_command_id_gets_the_same_ack_and_no_duplicate(stack: Stack) -> None:
    """Exactly once: the same command id sent again (a lost ack, a reconnect) is acked with the
    first seq and makes no second event."""
    await facilitator(stack)
    a, b = await member(stack), await member(stack)
    first = await a.cmd("note.add", {"note": "n1", "text": "en"}, id="same")
    await a.close()
    a2 = await Device.connect(stack.server.ws_url, a.token)
    again = await a2.cmd("note.add", {"note": "n1", "text": "en"}, id="same")
    assert again == first
    later = await a2.ok("note.add", {"note": "n2", "text": "to"})
    assert later["seq"] == first["seq"] + 1
    await b.next_ev("note.add")
    await b.next(lambda f: f.get("t") == "ev" and f.get("seq") == later["seq"])
    assert [e["data"]["note"] for e in b.events(a2.room)] == ["n1", "n2"]


async def test_a_reused_id_with_other_args_is_refused(stack: Stack) -> None:
    """The same command id saying something else is not a resend: it is refused with id_reused and
    changes nothing, for a stored command (even after it would now be refused) and for a ballot;
    the true resend still gets its first ack, whatever the order of the map's keys."""
    fac = await facilitator(stack)
    a = await member(stack)
    first = await a.cmd("note.add", {"note": "n1", "text": "en"}, id="same")
    reused = await a.cmd("note.add", {"note": "n9", "text": "noget andet"}, id="same")
    assert reused["t"] == "err" and reused["code"] == "id_reused"
    assert await a.cmd("note.add", {"text": "en", "note": "n1"}, id="same") == first
    await fac.ok("phase.set", {"phase": "cluster"}, room="hall")
    await a.next_ev("phase.set", room=a.room)
    assert (await a.cmd("note.add", {"note": "n1", "text": "EN"}, id="same"))["code"] == "id_reused"
    assert await a.cmd("note.add", {"note": "n1", "text": "en"}, id="same") == first
    await fac.ok("poll.open", {"poll": "p1", "question": "Skal vi?", "kind": "choice", "options": ["ja", "nej"]},
                 room="hall")
    await a.ok("vote.cast", {"poll": "p1", "choice": 0}, room="hall", id="v")
    assert (await a.cmd("vote.cast", {"poll": "p1", "choice": 1}, room="hall", id="v"))["code"] == "id_reused"
    assert (await a.cmd("vote.cast", {"poll": "p1", "choice": 0}, room="hall", id="v"))["t"] == "ack"
    again = await Device.connect(stack.server.ws_url, a.token)
    assert again.welcome["votes"] == {"p1": 0}
    board = again.welcome["rooms"][a.room]["state"]["board"]
    assert [(n["note"], n["text"]) for n in board["notes"]] == [("n1", "en")]


async def test_the_same_id_from_another_device_is_its_own_command(stack: Stack) -> None:
    """Command ids are per device: another device's "c1" is a new command, not a duplicate."""
    await facilitator(stack)
    a, b = await member(stack), await member(stack)
    one = await a.cmd("note.add", {"note": "n1", "text": "en"}, id="x")
    two = await b.cmd("note.add", {"note": "n2", "text": "to"}, id="x")
    assert one["t"] == two["t"] == "ack" and two["seq"] == one["seq"] + 1


async def test_dots_keep_the_budget_and_the_cap(stack: Stack) -> None:
    """Dots: at most `max_per_target` on one target, at most `dots` in all, own dots only removed."""
    fac = await facilitator(stack, dots=4, max_per_target=2)
    a, b = await member(stack), await member(stack)
    for i in range(3):
        await a.ok("note.add", {"note": f"n{i}", "text": f"idé {i}"})
    await a.cmd("dot.add", {"target": "n0"})
    assert (await a.cmd("dot.add", {"target": "n0"}))["code"] == "wrong_phase"
    await fac.ok("phase.set", {"phase": "vote"}, room="hall")
    await a.next_ev("phase.set", room=a.room)
    assert (await a.cmd("dot.add", {"target": "n0"}))["t"] == "ack"
    assert (await a.cmd("dot.add", {"target": "n0"}))["t"] == "ack"
    assert (await a.cmd("dot.add", {"target": "n0"}))["code"] == "over_budget"
    assert (await a.cmd("dot.add", {"target": "n1"}))["t"] == "ack"
    assert (await a.cmd("dot.add", {"target": "n2"}))["t"] == "ack"
    assert (await a.cmd("dot.add", {"target": "n2"}))["code"] == "over_budget"
    assert (await b.cmd("dot.remove", {"target": "n0"}))["code"] == "unknown_target"
    assert (await a.cmd("dot.add", {"target": "nope"}))["code"] == "unknown_target"
    assert (await b.cmd("dot.add", {"target": "n2"}))["t"] == "ack"
    await fac.ok("phase.set", {"phase": "results"}, room="hall")
    ev = await b.next_ev("phase.set", room=a.room)
    while ev["data"]["phase"] != "results":
        ev = await b.next_ev("phase.set", room=a.room)
    assert ev["data"]["totals"] == {"n0": 2, "n1": 1, "n2": 2}


async def test_phase_timer_and_spotlight_reach_every_device(stack: Stack) -> None:
    """Hall decisions reach the hall's devices and, for phases, every table's own room."""
    fac = await facilitator(stack)
    a, display = await member(stack), await Device.connect(stack.server.ws_url, stack.assembly["display_token"])
    await a.ok("note.add", {"note": "n1", "text": "en idé"})
    await fac.ok("phase.set", {"phase": "cluster", "tables": ["1"]}, room="hall")
    assert (await a.next_ev("phase.set", room=a.room))["data"]["phase"] == "cluster"
    await fac.ok("timer.start", {"seconds": 300}, room="hall")
    timer = await display.next_ev("timer.start", room="hall")
    assert timer["data"]["seconds"] == 300 and timer["data"]["ends_at"] > display.welcome["now"]
    await fac.ok("spotlight", {"table": "1"}, room="hall")
    spot = await display.next_ev("spotlight", room="hall")
    assert spot["data"]["table"] == "1" and spot["data"]["results"][0]["title"] == "en idé"


async def test_a_spotlight_during_a_hidden_vote_shows_no_dots(stack: Stack) -> None:
    """While a table votes with totals hidden, spotlighting it shows its clusters but not their dots."""
    fac = await facilitator(stack)
    display = await Device.connect(stack.server.ws_url, stack.assembly["display_token"])
    a = await member(stack)
    await a.ok("note.add", {"note": "n1", "text": "idé"})
    await fac.ok("phase.set", {"phase": "vote"}, room="hall")
    await a.next(lambda f: f.get("op") == "phase.set" and f["room"] == a.room and f["data"]["phase"] == "vote")
    await a.ok("dot.add", {"target": "n1"})
    await fac.ok("spotlight", {"table": "1"}, room="hall")
    hidden = await display.next_ev("spotlight")
    assert hidden["data"]["results"][0]["title"] == "idé" and "dots" not in hidden["data"]["results"][0]
    await fac.ok("phase.set", {"phase": "results"}, room="hall")
    await a.next(lambda f: f.get("op") == "phase.set" and f["room"] == a.room and f["data"]["phase"] == "results")
    await fac.ok("spotlight", {"table": "1"}, room="hall")
    shown = await display.next(lambda f: f.get("op") == "spotlight" and f["seq"] > hidden["seq"])
    assert shown["data"]["results"][0]["dots"] == 1


async def test_a_poll_is_tallied_secretly(stack: Stack) -> None:
    """Votes are acked with no seq, can be changed, count once per device, and the display sees a
    tally without any device id; votes after close are refused."""
    fac = await facilitator(stack)
    display = await Device.connect(stack.server.ws_url, stack.assembly["display_token"])
    a, b = await member(stack), await member(stack, table=1)
    await fac.ok("poll.open", {"poll": "p1", "question": "Skal vi?", "kind": "choice",
                               "options": ["ja", "nej", "ved ikke"]}, room="hall")
    vote = await a.cmd("vote.cast", {"poll": "p1", "choice": 0}, room="hall")
    assert vote == {"t": "ack", "id": vote["id"], "room": "hall", "seq": None}
    await a.ok("vote.cast", {"poll": "p1", "choice": 1}, room="hall")
    await b.ok("vote.cast", {"poll": "p1", "choice": 1}, room="hall")
    tally = await display.next(lambda f: f.get("op") == "poll.tally" and f["data"]["voters"] == 2)
    await asyncio.sleep(0.3)
    last = [f for f in display.events("hall") if f["op"] == "poll.tally"][-1]
    assert last["data"]["counts"] == [0, 2, 0] and last["data"]["voters"] == 2 and tally["cmd"] is None
    assert a.you["device"] not in repr(display.frames) and b.you["device"] not in repr(display.frames)
    assert (await display.cmd("vote.cast", {"poll": "p1", "choice": 0}, room="hall"))["code"] == "forbidden"
    assert (await fac.cmd("vote.cast", {"poll": "p1", "choice": 0}, room="hall"))["code"] == "forbidden"
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    final = await display.next(lambda f: f.get("op") == "poll.tally" and f["data"]["final"])
    assert final["data"]["counts"] == [0, 2, 0]
    assert (await a.cmd("vote.cast", {"poll": "p1", "choice": 0}, room="hall"))["code"] == "poll_closed"
    again = await Device.connect(stack.server.ws_url, a.token)
    assert again.welcome["votes"] == {}  # closed polls are not listed; the ballot stays secret


async def test_a_hidden_poll_shows_only_turnout_until_it_closes(stack: Stack) -> None:
    """With results hidden, tallies carry `voters` but no counts until the poll closes."""
    fac = await facilitator(stack)
    display = await Device.connect(stack.server.ws_url, stack.assembly["display_token"])
    a = await member(stack)
    await fac.ok("poll.open", {"poll": "p2", "question": "?", "kind": "scale", "hidden": True,
                               "labels": ["uenig", "neutral", "enig"]}, room="hall")
    await a.ok("vote.cast", {"poll": "p2", "choice": 2}, room="hall")
    live = await display.next(lambda f: f.get("op") == "poll.tally" and f["data"]["voters"] == 1)
    tallies = [f["data"] for f in display.events("hall") if f["op"] == "poll.tally"]
    assert tallies[0]["present"] >= 1  # turnout "x of N" is known from the opening
    assert not any("counts" in t for t in tallies)
    assert "counts" not in live["data"] and live["data"]["voters"] == 1
    again = await Device.connect(stack.server.ws_url, a.token)
    assert again.welcome["votes"] == {"p2": 2}
    await fac.ok("poll.close", {"poll": "p2"}, room="hall")
    final = await display.next(lambda f: f.get("op") == "poll.tally" and f["data"]["final"])
    assert final["data"]["counts"] == [0, 0, 1]


async def test_bad_frames_get_their_error_and_the_socket_goes_on(stack: Stack) -> None:
    """Unknown frame types, ops, rooms, bad args and commands before hello are answered with an
    error code, and the device can still act afterwards."""
    await facilitator(stack)
    a = await member(stack)
    await a.send({"t": "nonsense"})
    assert (await a.next(lambda f: f.get("t") == "err"))["code"] == "bad_frame"
    assert (await a.cmd("note.fly", {}))["code"] == "unknown_op"
    assert (await a.cmd("note.add", {"note": "n1", "text": "x" * 281}))["code"] == "invalid_args"
    assert (await a.cmd("note.add", {"note": "n1", "text": 7}))["code"] == "invalid_args"
    assert (await a.cmd("note.add", {"note": "n1", "text": "x"}, room="table:2"))["code"] == "forbidden"
    assert (await a.cmd("note.add", {"note": "n1", "text": "x"}, room="table:99"))["code"] == "forbidden"
    assert (await a.cmd("note.add", {"note": "n1", "text": "x"}, room="kitchen"))["code"] == "unknown_room"
    assert (await a.cmd("activity.start", {"activity": "z", "prompt": "?"}, room="hall"))["code"] == "forbidden"
    await a.send({"t": "cmd", "id": 5, "room": a.room, "op": "note.add", "args": {}})
    assert (await a.next(lambda f: f.get("t") == "err" and f.get("id") is None))["code"] == "bad_frame"
    assert (await a.cmd("note.add", {"note": "n1", "text": "nu virker det"}))["t"] == "ack"

    raw = await Device.connect(stack.server.ws_url, a.token)
    fresh = await Device.connect(stack.server.ws_url, "forged", require_welcome=False)
    assert fresh.welcome is not None and fresh.welcome["code"] == "not_authenticated"
    assert raw.violations == []


@pytest.mark.parametrize("payload, code", [
    ("text frame", 1003),
    (msgpack.packb([1, 2, 3]), 1003),
    (b"\xc1\xc1\xc1", 1003),
    (msgpack.packb({"t": "cmd", "pad": "x" * 20000}), 1009),
])
async def test_transport_faults_close_the_socket_with_their_code(stack: Stack, payload: Any, code: int) -> None:
    """Text, non-map, undecodable and oversized frames close the socket with 1003 or 1009; the
    room goes on for everyone else."""
    await facilitator(stack)
    a, b = await member(stack), await member(stack)
    await a.send_raw(payload)
    closed = await a.wait_closed()
    assert closed.code == code
    assert (await b.ok("note.add", {"note": "n1", "text": "stadig her"}))["t"] == "ack"


async def test_a_command_before_hello_is_refused(stack: Stack) -> None:
    """Until welcome, any frame but hello is not_authenticated."""
    import websockets

    async with websockets.connect(stack.server.ws_url, compression=None) as ws:
        await ws.send(msgpack.packb({"t": "cmd", "id": "c1", "room": "hall", "op": "timer.stop", "args": {}}))
        answer = msgpack.unpackb(await ws.recv())
        assert answer["t"] == "err" and answer["code"] == "not_authenticated" and answer["id"] == "c1"


async def test_join_errors(stack: Stack) -> None:
    """Join codes forgive case and spaces; a wrong code is 404 unknown_code; guessing is throttled."""
    code = stack.codes[0]
    ok = await join(stack.server.url, f" {code[:3].lower()} {code[3:]} ")
    assert ok["room"] == "table:1" and ok["role"] == "member"
    wrong = await join(stack.server.url, "ZZZZZ9", expect=404)
    assert wrong["error"] == "unknown_code"
    statuses = []
    async with httpx.AsyncClient(base_url=stack.server.url) as http:
        for _ in range(15):
            statuses.append((await http.post("/api/join", json={"code": "ZZZZZ8"})).status_code)
        assert 429 in statuses
        assert (await http.post("/api/join", content=b"not json")).status_code in (400, 429)


async def test_a_host_code_makes_a_host(stack: Stack) -> None:
    """The table's host code joins as host, who may move the table through phases."""
    await facilitator(stack)
    host = await join(stack.server.url, stack.assembly["tables"][0]["host_code"])
    assert host["role"] == "host"
    dev = await Device.connect(stack.server.ws_url, host["token"])
    assert (await dev.cmd("phase.set", {"phase": "cluster"}))["t"] == "ack"
    plain = await member(stack)
    assert (await plain.cmd("phase.set", {"phase": "vote"}))["code"] == "forbidden"


async def test_export_has_the_boards_and_the_tallies_without_names(stack: Stack) -> None:
    """The facilitator's export holds every note, cluster, dot total and final tally, and no device id."""
    fac = await facilitator(stack)
    a = await member(stack, name="Mette")
    await a.ok("note.add", {"note": "n1", "text": "Bedre busser"})
    await fac.ok("poll.open", {"poll": "p1", "question": "?", "kind": "choice", "options": ["ja", "nej"]}, room="hall")
    await a.ok("vote.cast", {"poll": "p1", "choice": 0}, room="hall")
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"]["final"])
    url = f"{stack.server.url}/api/assemblies/{stack.assembly['assembly']}/export.json"
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 403
        assert (await http.get(url, headers={"Authorization": f"Bearer {a.token}"})).status_code == 403
        r = await http.get(url, headers={"Authorization": f"Bearer {stack.assembly['facilitator_token']}"})
    assert r.status_code == 200
    data = r.json()
    assert data["tables"][0]["activities"][0]["notes"] == [{"note": "n1", "text": "Bedre busser", "cluster": None}]
    assert data["polls"][0]["counts"] == [1, 0] and data["polls"][0]["open"] is False
    assert a.you["device"] not in r.text and "Mette" not in r.text
