"""Snapshots: a room is loaded from its latest snapshot plus the events after it, not its history."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from support.client import Device, join
from support.processes import create_assembly


async def test_a_restarted_server_loads_rooms_from_snapshots(stack_kind: str, servers: Any, tmp_db: Any,
                                                             request: Any) -> None:
    """After 45 notes with a snapshot every 10 events, a fresh process replays at most 9 events
    per room, and a device sees exactly the state it saw before the restart."""
    url = request.getfixturevalue("redis_url") if stack_kind == "redis" else None
    asm = create_assembly("Snapshot", 1, db=None if url else str(tmp_db), redis=url)
    env = {"SAMLING_SNAPSHOT_EVERY": "10"}
    server = servers.start(db=tmp_db, redis=url, env=env)
    fac = await Device.connect(server.ws_url, asm["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a", "prompt": "?"}, room="hall")
    token = (await join(server.url, asm["tables"][0]["code"]))["token"]
    a = await Device.connect(server.ws_url, token)
    for i in range(45):
        await a.ok("note.add", {"note": f"n{i}", "text": f"note {i}"})
    before = (await Device.connect(server.ws_url, token)).welcome["rooms"]["table:1"]
    await asyncio.sleep(0.2)
    async with httpx.AsyncClient() as http:
        assert (await http.get(server.url + "/healthz")).json()["snapshots"] >= 4
    await Device.close_all()
    server.stop()
    await asyncio.to_thread(server.restart)
    after = (await Device.connect(server.ws_url, token)).welcome["rooms"]["table:1"]
    assert after == before and len(after["state"]["board"]["notes"]) == 45
    async with httpx.AsyncClient() as http:
        health = (await http.get(server.url + "/healthz")).json()
    assert health["snapshot_loads"] == 1 and health["replayed"] < 10  # the table (47 events) from #40
