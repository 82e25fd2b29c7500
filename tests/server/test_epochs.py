"""Epochs: when Redis loses its data, Samling notices, puts back what its processes hold, and
moves every device to a snapshot of the new epoch (issue 4, scenario 8).

Each test runs its own redis-server (not the session's), because it deletes that server's data.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from support.client import Device, healthz, join
from support.processes import RedisServer, create_assembly

pytestmark = pytest.mark.redis


async def start_activity(ws_url: str, asm: dict[str, Any]) -> Device:
    fac = await Device.connect(ws_url, asm["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a1", "prompt": "Hvad nu?"}, room="hall")
    return fac


def notes_of(welcome: dict[str, Any], room: str) -> list[str]:
    return [n["note"] for n in welcome["rooms"][room]["state"]["board"]["notes"]]


async def test_redis_restarted_empty_moves_devices_to_a_restored_epoch(servers: Any, tmp_path: Path) -> None:
    """Two processes on a Redis that comes back empty: every device is closed with 1012, its old
    epoch gets snapshots that still hold every note acked before (restored from the processes'
    memory), tokens and join codes still work, a command refused while Redis was down is applied
    once when sent again, and both processes agree afterwards."""
    redis = RedisServer(tmp_path / "redis").start()
    try:
        asm = create_assembly("Tom Redis", 2, db=None, redis=redis.url)
        one, two = servers.start(redis=redis.url), servers.start(redis=redis.url)
        fac = await start_activity(one.ws_url, asm)
        a_token = (await join(one.url, asm["tables"][0]["code"]))["token"]
        b_token = (await join(two.url, asm["tables"][0]["code"]))["token"]
        a = await Device.connect(one.ws_url, a_token)
        b = await Device.connect(two.ws_url, b_token)
        for i in range(5):
            await a.ok("note.add", {"note": f"a{i}", "text": f"fra a {i}"})
            await b.ok("note.add", {"note": f"b{i}", "text": f"fra b {i}"})
        await a.next(lambda f: f.get("t") == "ev" and f["data"].get("note") == "b4")
        before = a.epochs()
        assert before["table:1"] and before == b.epochs()
        since_a, since_b = a.since(), b.since()

        await asyncio.to_thread(redis.restart_empty)
        closes = await asyncio.gather(a.wait_closed(15), b.wait_closed(15), fac.wait_closed(15))
        assert {c.code for c in closes} == {1012}, closes

        back_a = await Device.connect(one.ws_url, a_token, since=since_a, epochs=before)
        back_b = await Device.connect(two.ws_url, b_token, since=since_b, epochs=before)
        for back in (back_a, back_b):
            part = back.welcome["rooms"]["table:1"]
            assert part["epoch"] != before["table:1"] and "state" in part and "events" not in part
            assert sorted(notes_of(back.welcome, "table:1")) == sorted([f"a{i}" for i in range(5)] +
                                                                       [f"b{i}" for i in range(5)])
        # a command sent again with its original id after the loss is applied once
        first = await back_a.ok("note.add", {"note": "after", "text": "efter"}, id="once")
        assert await back_a.cmd("note.add", {"note": "after", "text": "efter"}, id="once") == first
        await back_b.next(lambda f: f.get("t") == "ev" and f["data"].get("note") == "after")
        # the join codes and the display token were put back too
        newcomer = await join(two.url, asm["tables"][1]["code"])
        assert newcomer["room"] == "table:2"
        display = await Device.connect(two.ws_url, asm["display_token"])
        assert display.welcome["rooms"]["hall"]["epoch"] == back_a.welcome["rooms"]["hall"]["epoch"]
        on_one = await Device.connect(one.ws_url, asm["facilitator_token"])
        on_two = await Device.connect(two.ws_url, asm["facilitator_token"])
        assert on_one.welcome["rooms"]["table:1"] == on_two.welcome["rooms"]["table:1"]
        assert notes_of(on_one.welcome, "table:1").count("after") == 1
        stats = [await healthz(one.url), await healthz(two.url)]
        assert [s["epochs"] for s in stats] == [1, 1]
        assert sum(s["rooms_restored"] for s in stats) >= 3  # hall and both tables, by one process or the other
    finally:
        redis.stop()


async def test_redis_killed_with_its_append_only_file_keeps_the_epoch_and_every_ack(servers: Any,
                                                                                     tmp_path: Path) -> None:
    """SIGKILL of a Redis that runs appendonly (fsync always): nothing acked is lost, the epoch
    stays, and a device resuming with since gets events, not a snapshot."""
    redis = RedisServer(tmp_path / "redis").start()
    try:
        asm = create_assembly("Hård Redis", 1, db=None, redis=redis.url)
        server = servers.start(redis=redis.url)
        await start_activity(server.ws_url, asm)
        token = (await join(server.url, asm["tables"][0]["code"]))["token"]
        a = await Device.connect(server.ws_url, token)
        answers = await asyncio.gather(*(a.cmd("note.add", {"note": f"n{i}", "text": f"{i}"}) for i in range(40)))
        assert all(x["t"] == "ack" for x in answers)
        epochs, since = a.epochs(), a.since()
        await asyncio.to_thread(redis.kill)
        await asyncio.to_thread(redis.start)
        for _ in range(100):  # the server's next command meets the restarted Redis
            answer = await a.cmd("note.add", {"note": "late", "text": "sent"}, id="late")
            if answer["t"] == "ack":
                break
            assert answer["code"] == "server_busy", answer
            await asyncio.sleep(0.1)
        back = await Device.connect(server.ws_url, token, since=since, epochs=epochs)
        part = back.welcome["rooms"]["table:1"]
        assert part["epoch"] == epochs["table:1"]
        assert [e["data"]["note"] for e in part["events"]] == ["late"]
        assert (await healthz(server.url))["epochs"] == 0
    finally:
        redis.stop()


async def test_a_log_cut_short_by_a_failover_moves_the_epoch_on(servers: Any, redis_url: str,
                                                                 redis_server: RedisServer) -> None:
    """A room's log in Redis loses its last writes while its key space survives (a promoted
    replica that lagged): the next command meets the shorter log, the process moves the epoch on,
    restores the room from memory, closes its devices with 1012, and the resent command lands once
    after every note the devices had seen."""
    asm = create_assembly("Failover", 1, db=None, redis=redis_url)
    server = servers.start(redis=redis_url)
    await start_activity(server.ws_url, asm)
    token = (await join(server.url, asm["tables"][0]["code"]))["token"]
    a = await Device.connect(server.ws_url, token)
    for i in range(10):
        await a.ok("note.add", {"note": f"n{i}", "text": f"{i}"})
    epochs = a.epochs()
    key = f"{asm['assembly']}/table:1"
    with redis_server.client() as r:  # what a lagging replica would hold: the log 5 events shorter
        head = int(r.get(f"samling:head:{key}"))
        for seq in range(head - 4, head + 1):
            r.xdel(f"samling:log:{key}", f"{seq}-1")
        r.set(f"samling:head:{key}", head - 5)
    answer = await a.cmd("note.add", {"note": "x", "text": "efter"}, id="x")
    assert answer["t"] == "err" and answer["code"] == "conflict"
    assert (await a.wait_closed(10)).code == 1012
    back = await Device.connect(server.ws_url, token, since=a.since(), epochs=epochs)
    part = back.welcome["rooms"]["table:1"]
    assert part["epoch"] != epochs["table:1"] and part["seq"] == head
    assert notes_of(back.welcome, "table:1") == [f"n{i}" for i in range(10)]
    again = await back.ok("note.add", {"note": "x", "text": "efter"}, id="x")
    assert again["seq"] == head + 1
    assert (await healthz(server.url))["epochs"] == 1
