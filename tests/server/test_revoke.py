"""Revoking a device: the facilitator removes a tablet that should not be there; it is closed
within seconds on every process and its token is refused from then on."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from support.client import Device, join
from support.processes import create_assembly


async def revoke(url: str, assembly: str, token: str | None, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
        return await http.post(f"/api/assemblies/{assembly}/revoke", json=body, headers=headers)


async def test_a_revoked_device_is_closed_on_every_process_and_cannot_resume(servers: Any, redis_url: str) -> None:
    """The facilitator finds a device by its label in the presence list and removes it: its
    sockets on both processes close with 4003 within seconds, its hello and its join-made token
    are refused on both, the other member at the table goes on, and the presence list drops it."""
    asm = create_assembly("Ubuden gæst", 1, redis=redis_url)
    one, other = servers.start(redis=redis_url), servers.start(redis=redis_url)
    fac = await Device.connect(one.ws_url, asm["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a1", "prompt": "?"}, room="hall")
    code = asm["tables"][0]["code"]
    guest_token = (await join(one.url, code))["token"]
    guest_one = await Device.connect(one.ws_url, guest_token)
    guest_two = await Device.connect(other.ws_url, guest_token)
    member = await Device.connect(other.ws_url, (await join(other.url, code))["token"])
    label = guest_one.you["label"]
    assert len(label) == 4 and label != member.you["label"]
    seen = await fac.next(lambda f: f.get("t") == "presence" and f["tables"].get("1") == 2, timeout=10)
    listed = {d["label"]: d["device"] for d in seen["devices"]["1"]}
    assert set(listed) == {label, member.you["label"]}

    started = time.monotonic()
    answer = await revoke(one.url, asm["assembly"], asm["facilitator_token"], {"device": listed[label]})
    assert answer.status_code == 200 and answer.json()["label"] == label
    assert (await guest_one.wait_closed(2)).code == 4003
    assert (await guest_two.wait_closed(10)).code == 4003
    assert time.monotonic() - started < 10
    for server in (one, other):
        refused = await Device.connect(server.ws_url, guest_token, require_welcome=False)
        assert refused.welcome is not None and refused.welcome["code"] == "not_authenticated"
        assert (await refused.wait_closed()).code == 4003
    await member.ok("note.add", {"note": "n1", "text": "vi fortsætter"})
    await fac.next(lambda f: f.get("t") == "presence" and f["tables"].get("1") == 1, timeout=10)


@pytest.mark.parametrize("who", ["none", "member", "display", "other_assembly"])
async def test_only_the_assemblys_facilitator_may_revoke(servers: Any, tmp_db: Any, who: str) -> None:
    """No token, a member's, the display's or another assembly's facilitator: 403, nothing revoked."""
    asm = create_assembly("Kun facilitatoren", 1, db=str(tmp_db))
    other = create_assembly("En anden", 1, db=str(tmp_db))
    server = servers.start(db=tmp_db)
    victim = (await join(server.url, asm["tables"][0]["code"]))["token"]
    device = (await Device.connect(server.ws_url, victim)).you["device"]
    tokens = {"none": None, "member": (await join(server.url, asm["tables"][0]["code"]))["token"],
              "display": asm["display_token"], "other_assembly": other["facilitator_token"]}
    answer = await revoke(server.url, asm["assembly"], tokens[who], {"device": device})
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    assert (await Device.connect(server.ws_url, victim)).you["device"] == device


async def test_revoke_refuses_bad_bodies_and_the_facilitator_itself(servers: Any, tmp_db: Any) -> None:
    """A body without a device id, a wrong type, an overlong id or not a map is 400; and the
    facilitator cannot lock itself out."""
    asm = create_assembly("Fejl", 1, db=str(tmp_db))
    server = servers.start(db=tmp_db)
    fac_token = asm["facilitator_token"]
    me = (await Device.connect(server.ws_url, fac_token)).you["device"]
    for body in ({}, {"device": 7}, {"device": "x" * 65}, ["device"], {"device": me}):
        answer = await revoke(server.url, asm["assembly"], fac_token, body)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_args", body
    assert (await Device.connect(server.ws_url, fac_token)).you["device"] == me
