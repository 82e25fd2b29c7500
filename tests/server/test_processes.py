"""Several server processes, crashes and restarts: the store is the truth, every process agrees."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis
from support.client import Device, join
from support.processes import create_assembly


@pytest.fixture
def two(servers: Any, redis_url: str) -> tuple[Any, Any, dict[str, Any]]:
    """Two server processes on one Redis, with a 2-table assembly, each signing with the secret
    kept in Redis (no SAMLING_SECRET), so a token from one must be accepted by the other."""
    asm = create_assembly("To processer", 2, redis=redis_url, secret="")
    one = servers.start(redis=redis_url, secret="")
    other = servers.start(redis=redis_url, secret="")
    return one, other, asm


async def start_activity(url: str, asm: dict[str, Any], dots: int = 5, max_per_target: int = 3) -> Device:
    fac = await Device.connect(url, asm["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a1", "prompt": "?", "dots": dots, "max_per_target": max_per_target},
                 room="hall")
    return fac


async def test_two_processes_on_one_redis_act_as_one(two: tuple[Any, Any, dict[str, Any]]) -> None:
    """Notes added on both processes reach devices on both, each device seeing one order, no gaps."""
    one, other, asm = two
    await start_activity(one.ws_url, asm)
    code = asm["tables"][0]["code"]
    a = await Device.connect(one.ws_url, (await join(one.url, code))["token"])
    b = await Device.connect(other.ws_url, (await join(other.url, code))["token"])
    watcher = await Device.connect(other.ws_url, (await join(one.url, code))["token"])
    sends = [dev.cmd("note.add", {"note": f"{name}{i}", "text": f"{name} {i}"})
             for i in range(20) for name, dev in (("a", a), ("b", b))]
    answers = await asyncio.gather(*sends)
    assert all(x["t"] == "ack" for x in answers), [x for x in answers if x["t"] != "ack"]
    top = max(x["seq"] for x in answers)
    for dev in (a, b, watcher):
        await dev.next(lambda f, top=top: f.get("t") == "ev" and f.get("seq") == top, timeout=10)
    orders = [[(e["seq"], e["data"]["note"]) for e in d.events(a.room) if e["op"] == "note.add"]
              for d in (a, b, watcher)]
    assert orders[0] == orders[1] == orders[2]
    seqs = [s for s, _ in orders[0]]
    assert seqs == list(range(seqs[0], seqs[0] + 40))
    assert sorted(x["seq"] for x in answers) == seqs


async def test_one_members_dots_on_two_processes_keep_the_budget(two: tuple[Any, Any, dict[str, Any]]) -> None:
    """The same member on two processes, placing dots at once, never exceeds the budget or the cap."""
    one, other, asm = two
    fac = await start_activity(one.ws_url, asm, dots=5, max_per_target=3)
    token = (await join(one.url, asm["tables"][0]["code"]))["token"]
    a1, a2 = await Device.connect(one.ws_url, token), await Device.connect(other.ws_url, token)
    for i in range(3):
        await a1.ok("note.add", {"note": f"n{i}", "text": f"idé {i}"})
    await fac.ok("phase.set", {"phase": "vote"}, room="hall")
    await a2.next(lambda f: f.get("op") == "phase.set" and f["data"]["phase"] == "vote")
    tries = [dev.cmd("dot.add", {"target": f"n{i % 3}"}, id=f"d{dev is a2}{i}")
             for i in range(12) for dev in (a1, a2)]
    answers = await asyncio.gather(*tries)
    acked = [x for x in answers if x["t"] == "ack"]
    assert len(acked) == 5
    assert {x["code"] for x in answers if x["t"] == "err"} <= {"over_budget", "conflict"}
    await fac.ok("phase.set", {"phase": "results"}, room="hall")
    results = await a1.next(lambda f: f.get("op") == "phase.set" and f["room"] == a1.room
                            and f["data"]["phase"] == "results")
    totals = results["data"]["totals"]
    assert sum(totals.values()) == 5 and max(totals.values()) <= 3


async def test_one_device_votes_once_across_processes(two: tuple[Any, Any, dict[str, Any]]) -> None:
    """A device voting on two processes at once is one voter, its last acked choice counted."""
    one, other, asm = two
    fac = await start_activity(one.ws_url, asm)
    display = await Device.connect(other.ws_url, asm["display_token"])
    await fac.ok("poll.open", {"poll": "p1", "question": "?", "kind": "choice", "options": ["ja", "nej"]}, room="hall")
    voters = []
    for t in range(2):
        for _ in range(3):
            voters.append((await join(one.url, asm["tables"][t]["code"]))["token"])
    devices = [await Device.connect(url, tok) for tok in voters for url in (one.ws_url, other.ws_url)]
    answers = await asyncio.gather(*(d.cmd("vote.cast", {"poll": "p1", "choice": i % 2}, room="hall")
                                     for i, d in enumerate(devices)))
    assert all(x["t"] == "ack" and x["seq"] is None for x in answers)
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    final = await display.next(lambda f: f.get("op") == "poll.tally" and f["data"]["final"], timeout=10)
    assert final["data"]["voters"] == 6 and sum(final["data"]["counts"]) == 6


async def test_a_missed_pubsub_message_is_repaired(two: tuple[Any, Any, dict[str, Any]], redis_url: str) -> None:
    """When Redis drops a process's pub/sub connection, its devices still get every event, in order."""
    one, other, asm = two
    await start_activity(one.ws_url, asm)
    code = asm["tables"][0]["code"]
    a = await Device.connect(one.ws_url, (await join(one.url, code))["token"])
    b = await Device.connect(other.ws_url, (await join(other.url, code))["token"])
    await a.ok("note.add", {"note": "n0", "text": "før"})
    await b.next_ev("note.add")
    killer = redis.Redis.from_url(redis_url)
    try:
        for i in range(1, 6):
            killer.client_kill_filter(_type="pubsub")
            await a.ok("note.add", {"note": f"n{i}", "text": f"under {i}"})
    finally:
        killer.close()
    last = await a.ok("note.add", {"note": "n6", "text": "efter"})
    await b.next(lambda f: f.get("seq") == last["seq"], timeout=10)
    seen = [e["data"]["note"] for e in b.events(a.room) if e["op"] == "note.add"]
    assert seen == [f"n{i}" for i in range(7)]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_kill_9_right_after_acks_loses_nothing(kind: str, servers: Any, tmp_db: Path, request: Any) -> None:
    """Every acked event survives SIGKILL of the server process: after a restart the table holds
    them all, and a device resuming with `since` gets exactly what it missed."""
    url = request.getfixturevalue("redis_url") if kind == "redis" else None
    asm = create_assembly("Nedbrud", 1, db=None if url else str(tmp_db), redis=url)
    server = servers.start(db=tmp_db, redis=url)
    await start_activity(server.ws_url, asm)
    token = (await join(server.url, asm["tables"][0]["code"]))["token"]
    a = await Device.connect(server.ws_url, token)
    since = a.since()
    answers = await asyncio.gather(*(a.cmd("note.add", {"note": f"n{i}", "text": f"note {i}"}) for i in range(50)))
    assert all(x["t"] == "ack" for x in answers)
    server.kill()
    await a.wait_closed()
    await asyncio.to_thread(server.restart)
    back = await Device.connect(server.ws_url, token, since=since)
    events = back.welcome["rooms"]["table:1"].get("events")
    if events is not None:
        notes = [e["data"]["note"] for e in events if e["op"] == "note.add"]
    else:
        notes = [n["note"] for n in back.welcome["rooms"]["table:1"]["state"]["board"]["notes"]]
    assert sorted(notes) == sorted(f"n{i}" for i in range(50))
    fresh = await Device.connect(server.ws_url, token)
    board = fresh.welcome["rooms"]["table:1"]["state"]["board"]
    assert len(board["notes"]) == 50 and all(n["mine"] for n in board["notes"])
    assert fresh.welcome["rooms"]["table:1"]["seq"] == max(x["seq"] for x in answers)
