"""Presence: the facilitator sees how many devices each table has connected, across processes."""

from __future__ import annotations

from typing import Any

from support.client import Device, join
from support.processes import create_assembly


def _is_presence(expected: dict[str, int]) -> Any:
    return lambda f: f.get("t") == "presence" and f["tables"] == expected


async def test_the_facilitator_sees_devices_per_table_on_both_processes(servers: Any, redis_url: str) -> None:
    """Devices connected on either process count once per device per table; leaving is seen too."""
    asm = create_assembly("Tilstede", 2, redis=redis_url)
    one, other = servers.start(redis=redis_url), servers.start(redis=redis_url)
    fac = await Device.connect(one.ws_url, asm["facilitator_token"])
    first = await fac.next(lambda f: f.get("t") == "presence")
    assert first["tables"] == {}
    a = (await join(one.url, asm["tables"][0]["code"]))["token"]
    b = (await join(one.url, asm["tables"][0]["code"]))["token"]
    c = (await join(one.url, asm["tables"][1]["code"]))["token"]
    a1 = await Device.connect(one.ws_url, a)
    await Device.connect(other.ws_url, a)  # the same device on a second socket: still one device
    await Device.connect(other.ws_url, b)
    await Device.connect(one.ws_url, c)
    await fac.next(_is_presence({"1": 2, "2": 1}), timeout=10)
    await a1.close()
    b_socket = [d for d in Device._open if d.token == b][0]
    await b_socket.close()
    await fac.next(_is_presence({"1": 1, "2": 1}), timeout=10)


async def test_presence_on_the_embedded_store(servers: Any, tmp_db: Any) -> None:
    """On one process with SQLite, presence is counted in memory the same way."""
    asm = create_assembly("Tilstede", 1, db=str(tmp_db))
    server = servers.start(db=tmp_db)
    token = (await join(server.url, asm["tables"][0]["code"]))["token"]
    member = await Device.connect(server.ws_url, token)
    fac = await Device.connect(server.ws_url, asm["facilitator_token"])
    await fac.next(_is_presence({"1": 1}), timeout=10)
    await member.close()
    await fac.next(_is_presence({}), timeout=10)
