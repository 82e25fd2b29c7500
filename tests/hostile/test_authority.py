"""Scenario 17, authority: a device may do only what its role allows, where it sits. Another
table's room, the facilitator's ops, a display's writes, someone else's note or dot, a vote cast
"for" someone else, a second vote and dots over budget: each is refused with its code (or, for a
second vote, replaces the first and still counts once), nothing changes, and refusals of authority
are logged with the device that tried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from support.client import Device, join

Hall = Any  # tests/hostile/conftest.py

FACILITATOR_OPS = [
    ("activity.start", {"activity": "x", "prompt": "?"}),
    ("phase.set", {"phase": "results"}),
    ("timer.start", {"seconds": 60}),
    ("timer.stop", {}),
    ("spotlight", {"table": "1"}),
    ("poll.open", {"poll": "p9", "question": "?", "kind": "choice", "options": ["a", "b"]}),
    ("poll.close", {"poll": "p1"}),
]


async def seated(h: Hall, table: int = 0, host: bool = False) -> Device:
    code = h.host_codes[table] if host else h.codes[table]
    return await Device.connect(h.server.ws_url, (await join(h.server.url, code))["token"])


async def test_every_refusal_of_authority_has_its_code_and_changes_nothing(
    hall: Callable[..., Hall], clean_log: Callable[[Any], None]
) -> None:
    h = hall()
    fac = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"])
    display = await Device.connect(h.server.ws_url, h.assembly["display_token"])
    await fac.ok("activity.start", {"activity": "a1", "dots": 2, "max_per_target": 2}, room="hall")
    a, b, host = await seated(h), await seated(h), await seated(h, host=True)
    other_table, other_host = await seated(h, 1), await seated(h, 1, host=True)
    await a.ok("note.add", {"note": "na", "text": "A's idé"})
    await b.ok("note.add", {"note": "nb", "text": "B's idé"})
    await other_table.ok("note.add", {"note": "nx", "text": "bord 2"})

    async def code(dev: Device, op: str, args: dict[str, Any], room: str) -> str:
        return str((await dev.cmd(op, args, room=room)).get("code"))

    # Another table: a member and a host of table 2 in table 1's room, and the reverse.
    assert await code(other_table, "note.add", {"note": "z", "text": "ind"}, "table:1") == "forbidden"
    assert await code(other_host, "phase.set", {"phase": "vote"}, "table:1") == "forbidden"
    assert await code(other_host, "note.remove", {"note": "na"}, "table:1") == "forbidden"
    assert await code(a, "note.edit", {"note": "nx", "text": "overtaget"}, "table:2") == "forbidden"
    # The facilitator's ops, from a member and a host.
    for dev in (a, host):
        for op, args in FACILITATOR_OPS:
            assert await code(dev, op, args, "hall") == "forbidden", (dev.you["role"], op)
    # A member's hands on someone else's note; a member moving the table through phases.
    assert await code(b, "note.edit", {"note": "na", "text": "B was here"}, "table:1") == "forbidden"
    assert await code(b, "note.remove", {"note": "na"}, "table:1") == "forbidden"
    assert await code(a, "phase.set", {"phase": "vote"}, "table:1") == "forbidden"
    # A display writes nothing anywhere; a facilitator has no seat.
    for op, args in [("timer.stop", {}), *FACILITATOR_OPS[:2], ("vote.cast", {"poll": "p1", "choice": 0})]:
        assert await code(display, op, args, "hall") == "forbidden", op
    assert await code(display, "note.add", {"note": "d", "text": "skærm"}, "table:1") == "forbidden"
    assert await code(fac, "note.add", {"note": "f", "text": "fra scenen"}, "table:1") == "forbidden"

    # Dots: the budget, the cap per target, and only one's own dots come off.
    await fac.ok("phase.set", {"phase": "vote"}, room="hall")
    await a.next(lambda f: f.get("op") == "phase.set" and f["room"] == "table:1" and f["data"]["phase"] == "vote")
    assert await code(fac, "dot.add", {"target": "na"}, "table:1") == "forbidden"
    await a.ok("dot.add", {"target": "nb"})
    await a.ok("dot.add", {"target": "nb"})
    assert await code(a, "dot.add", {"target": "na"}, "table:1") == "over_budget"
    assert await code(b, "dot.remove", {"target": "nb"}, "table:1") == "unknown_target"
    await b.ok("dot.add", {"target": "na"})

    # What the refusals left behind: the notes untouched, the dots as placed, no activity "x".
    await fac.ok("phase.set", {"phase": "results"}, room="hall")
    ev = await a.next(lambda f: f.get("op") == "phase.set" and f["room"] == "table:1"
                      and f["data"]["phase"] == "results")
    assert ev["data"]["totals"] == {"nb": 2, "na": 1}
    table1 = [f["op"] for f in fac.events("table:1")]
    assert table1.count("note.add") == 2 and "note.edit" not in table1 and "note.remove" not in table1
    assert [f["data"]["activity"] for f in fac.events("hall") if f["op"] == "activity.start"] == ["a1"]
    assert "overtaget" not in repr(fac.frames) and "skærm" not in repr(fac.frames)

    # Logged: who was refused, with the device id an operator needs to act on it.
    log = h.server.log_text()
    for dev in (other_table, other_host, a, b, host, display, fac):
        assert f"refused forbidden for {dev.you['role']} {dev.you['device']}" in log, dev.you
    clean_log(h.server)


async def test_a_vote_counts_once_for_its_own_device_whatever_it_claims(
    hall: Callable[..., Hall], clean_log: Callable[[Any], None]
) -> None:
    """A vote.cast naming another device counts as the sender's own; a second vote with a new
    command id replaces the first (one ballot per device); a member cannot close the poll."""
    h = hall()
    fac = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"])
    display = await Device.connect(h.server.ws_url, h.assembly["display_token"])
    await fac.ok("poll.open", {"poll": "p1", "question": "Skal vi?", "kind": "choice", "options": ["ja", "nej"]},
                 room="hall")
    a, b = await seated(h), await seated(h, 1)
    await b.ok("vote.cast", {"poll": "p1", "choice": 1}, room="hall")
    someone_else = {"device": b.you["device"], "member": b.you["device"], "voter": b.you["device"],
                    "actor": {"device": b.you["device"], "role": "member"}}
    first = await a.cmd("vote.cast", {"poll": "p1", "choice": 0, **someone_else}, room="hall", id="v1")
    second = await a.cmd("vote.cast", {"poll": "p1", "choice": 0, **someone_else}, room="hall", id="v2")
    third = await a.cmd("vote.cast", {"poll": "p1", "choice": 1}, room="hall", id="v3")
    assert first["t"] == second["t"] == third["t"] == "ack" and first["seq"] is None
    assert (await a.cmd("poll.close", {"poll": "p1"}, room="hall"))["code"] == "forbidden"
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    final = await display.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("final"), timeout=10)
    assert final["data"]["voters"] == 2 and final["data"]["counts"] == [0, 2]
    for dev in (a, b):
        assert dev.you["device"] not in repr(display.frames)
    await asyncio.sleep(0.2)
    clean_log(h.server)


async def test_refusal_logging_is_bounded_per_socket(hall: Callable[..., Hall]) -> None:
    """A device that keeps trying forbidden things is logged a few times, not once per try: the
    log cannot be used to fill the disk."""
    h = hall()
    a = await seated(h)
    for _ in range(40):
        assert (await a.cmd("timer.stop", {}, room="hall"))["code"] == "forbidden"
    lines = [line for line in h.server.log_text().splitlines() if f"member {a.you['device']}" in line]
    assert 1 <= len(lines) <= 5 and "not logged" in lines[-1]
