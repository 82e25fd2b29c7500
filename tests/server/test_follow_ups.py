"""A hall decision reaches every table even if the process that decided it dies before carrying
it there: the crash window between the hall's append and the tables' follow-ups is repaired by
whichever process sees the hall event (live, or when it loads the hall after a restart).

The crash is played by writing the hall event straight into the store, as a process that died
right after its append would have left it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from support.client import Device, healthz, join
from support.processes import create_assembly

from server.codec import Record, decode_record, encode_record
from server.store.base import Outcome, Store, open_store


async def append_to_hall(store: Store, assembly: str, op: str, data: dict[str, Any]) -> int:
    """What a process that crashed right after its hall append leaves behind."""
    key = f"{assembly}/hall"
    head = await store.head(key)
    blob = encode_record(Record(head + 1, op, data, f"crashed-{head}", "f-device", int(time.time() * 1000)))
    result = await store.append(key, head, [blob], key=f"f-device|crashed-{head}")
    assert result.outcome is Outcome.OK
    return result.seq


def activity(tables: list[str], name: str = "a1") -> dict[str, Any]:
    return {"activity": name, "prompt": "Hvad er vigtigst?", "dots": 5, "max_per_target": 3,
            "show_totals": False, "tables": tables}


async def table_ops(store: Store, assembly: str, table: str) -> list[str]:
    return [decode_record(b).op for b in await store.read(f"{assembly}/table:{table}", 0, -1)]


async def test_a_live_process_carries_a_hall_event_the_decider_never_carried(servers: Any, redis_url: str) -> None:
    """Redis: a hall activity.start appears in the log with no follow-ups; the running process
    sees it through pub/sub and starts the activity at every table within a few seconds, once."""
    asm = create_assembly("Nedbrud i hallen", 2, db=None, redis=redis_url)
    server = servers.start(redis=redis_url, env={"SAMLING_FOLLOW_UP_GRACE": "0.5"})
    member = await Device.connect(server.ws_url, (await join(server.url, asm["tables"][0]["code"]))["token"])
    store = open_store(None, redis_url)
    await store.start()
    try:
        seq = await append_to_hall(store, asm["assembly"], "activity.start", activity(["1", "2"]))
        ev = await member.next_ev("activity.start", room="table:1", timeout=10)
        assert ev["data"]["activity"] == "a1"
        await member.ok("note.add", {"note": "n1", "text": "det virker"})
        for _ in range(50):
            if await store.acked(f"{asm['assembly']}/table:2", f"hall:{seq}") is not None:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # time enough for a second, wrong, carry
        for table in ("1", "2"):
            assert (await table_ops(store, asm["assembly"], table)).count("activity.start") == 1
        assert (await healthz(server.url))["follow_ups_repaired"] == 2
    finally:
        await store.close()


async def test_a_restarted_process_carries_the_hall_event_when_it_loads_the_hall(servers: Any, tmp_db: Path) -> None:
    """SQLite: the server died after the hall's append; when it comes back and a device loads the
    hall, the tables get the activity and then the phase, in order, and an older phase is never
    carried over a newer one."""
    asm = create_assembly("Genstart", 2, db=str(tmp_db))
    store = open_store(str(tmp_db), None)
    await store.start()
    try:
        await append_to_hall(store, asm["assembly"], "activity.start", activity(["1", "2"]))
        await append_to_hall(store, asm["assembly"], "phase.set", {"phase": "cluster", "tables": ["1", "2"],
                                                                   "all": True})
        await append_to_hall(store, asm["assembly"], "phase.set", {"phase": "vote", "tables": ["2"], "all": False})
    finally:
        await store.close()
    server = servers.start(db=tmp_db, env={"SAMLING_FOLLOW_UP_GRACE": "0.2"})
    fac = await Device.connect(server.ws_url, asm["facilitator_token"])
    phases = {"table:1": "cluster", "table:2": "vote"}
    for room, phase in phases.items():
        await fac.next(lambda f, room=room, phase=phase: f.get("t") == "ev" and f["room"] == room
                       and f["op"] == "phase.set" and f["data"]["phase"] == phase, timeout=10)
    again = await Device.connect(server.ws_url, asm["facilitator_token"])
    assert {room: again.welcome["rooms"][room]["state"]["phase"] for room in phases} == phases
    ops = [f["op"] for f in fac.events("table:2")]
    assert ops == ["activity.start", "phase.set"]  # the cluster phase was never carried over the vote
    assert (await healthz(server.url))["follow_ups_repaired"] == 4
