"""Scenario 16, tokens: none, forged, signed with another secret, another assembly's, and on resume
with `since`: each is refused (`err` not_authenticated, then close 4003) and shows nothing of any
room. A genuine token of another assembly on the same server is its own assembly's device and sees
nothing of ours. A device revoked while connected is closed and cannot come back.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest
import websockets
from itsdangerous import URLSafeSerializer
from support.client import Device, join
from support.processes import TEST_SECRET, create_assembly

from rooms import Role
from server.tokens import SALT, Claims, Tokens

Hall = Any  # tests/hostile/conftest.py


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest) -> str | None:
    """The Redis URL to run on, or None for the embedded store."""
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else None


def tampered(token: str, **changes: Any) -> str:
    """The token with its payload edited and its signature kept: what a device that read its own
    token (it is signed, not encrypted) might try."""
    payload, signature = token.rsplit(".", 1)
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    index = {"assembly": 0, "device": 1, "role": 2, "table": 3}
    for name, value in changes.items():
        fields[index[name]] = value
    raw = base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{raw}.{signature}"


async def hello_answer(url: str, hello: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
    """Send one hello (and a command right behind it); return what the server sent and the close code."""
    frames: list[dict[str, Any]] = []
    async with websockets.connect(url, compression=None, proxy=None, open_timeout=10) as ws:
        await ws.send(msgpack.packb({"t": "hello", **hello}))
        await ws.send(msgpack.packb({"t": "cmd", "id": "c1", "room": "hall", "op": "timer.stop", "args": {}}))
        try:
            async with asyncio.timeout(10):
                async for message in ws:
                    frames.append(msgpack.unpackb(message, raw=False, strict_map_key=False))
        except websockets.ConnectionClosed:
            pass
        return frames, ws.close_code


def assert_refused(frames: list[dict[str, Any]], code: int | None) -> None:
    """Refused the protocol's way: one not_authenticated err (id nil), nothing of any room, 4003."""
    assert code == 4003, (code, frames)
    assert frames and frames[0] == {"t": "err", "id": None, "code": "not_authenticated",
                                    "msg": frames[0]["msg"]}, frames
    assert all(f["t"] == "err" and f["code"] == "not_authenticated" for f in frames), frames


async def test_tokens_that_are_not_genuine_are_refused_with_or_without_since(
    hall: Callable[..., Hall], store: str | None, tmp_path: Path, clean_log: Callable[[Any], None]
) -> None:
    """None, empty, non-strings, garbage, tampered (role, table, assembly), another secret, another
    salt, the organiser's token, and genuine tokens of an assembly this store does not hold."""
    h = hall(redis=store)
    asm = h.assembly["assembly"]
    member = await join(h.server.url, h.codes[0])
    elsewhere = create_assembly("Et andet sted", 1, db=str(tmp_path / "other.db"))  # same secret, other store
    cases: dict[str, dict[str, Any]] = {
        "no token": {},
        "nil": {"token": None},
        "empty": {"token": ""},
        "a number": {"token": 12345},
        "bytes": {"token": member["token"].encode()},
        "a list": {"token": [asm, member["device"], "facilitator", None]},
        "a map": {"token": {"assembly": asm, "role": "facilitator"}},
        "garbage": {"token": "forged"},
        "over 512 chars": {"token": member["token"] + "x" * 600},
        "a member made facilitator": {"token": tampered(member["token"], role="facilitator", table=None)},
        "a member moved to table 2": {"token": tampered(member["token"], table="2")},
        "a member of another device": {"token": tampered(member["token"], device="someone-else")},
        "signature cut off": {"token": member["token"].rsplit(".", 1)[0]},
        "another secret": {"token": URLSafeSerializer("another-secret", salt=SALT).dumps(
            [asm, "dev", "facilitator", None])},
        "another salt": {"token": URLSafeSerializer(TEST_SECRET, salt="samling.other").dumps(
            [asm, "dev", "facilitator", None])},
        "the organiser's token": {"token": Tokens(TEST_SECRET).organiser()},
        "another store's facilitator": {"token": elsewhere["facilitator_token"]},
        "an assembly nobody holds": {"token": Tokens(TEST_SECRET).issue(
            Claims("a00000000000", "dev", Role.FACILITATOR, None))},
    }
    for name, hello in cases.items():
        for since in (None, {"hall": 0, "table:1": 0, "table:2": 0}):
            frames, code = await hello_answer(h.server.ws_url, hello if since is None else {**hello, "since": since})
            try:
                assert_refused(frames, code)
            except AssertionError as failure:
                raise AssertionError(f"{name} (since={since}): {failure}") from None
    refusals = [line for line in h.server.log_text().splitlines() if "refused not_authenticated" in line]
    assert refusals, "refused hellos are not logged"
    assert member["token"] not in h.server.log_text()
    clean_log(h.server)


async def test_another_assemblys_token_sees_only_its_own_assembly(hall: Callable[..., Hall], tmp_db: Path) -> None:
    """Two assemblies on one server: B's devices are B's. Their room names are the same as A's,
    yet nothing crosses: not notes, not hall events, not the export or the sheet."""
    h = hall()
    other = create_assembly("Nabo", 2, db=str(tmp_db))
    a_fac = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"])
    b_fac = await Device.connect(h.server.ws_url, other["facilitator_token"])
    assert b_fac.you["assembly"] == other["assembly"] != a_fac.you["assembly"]
    await a_fac.ok("activity.start", {"activity": "a1"}, room="hall")
    await b_fac.ok("activity.start", {"activity": "b1"}, room="hall")
    a = await Device.connect(h.server.ws_url, (await join(h.server.url, h.codes[0]))["token"])
    b = await Device.connect(h.server.ws_url, (await join(h.server.url, other["tables"][0]["code"]))["token"],
                             since={"table:1": 0, "hall": 0})
    assert a.room == b.room == "table:1"
    await a.ok("note.add", {"note": "n1", "text": "kun i A"})
    await b.ok("note.add", {"note": "n1", "text": "kun i B"})  # the same note id: another board
    await b_fac.ok("timer.start", {"seconds": 60}, room="hall")
    await a_fac.next(lambda f: f.get("op") == "note.add" and f["data"]["text"] == "kun i A")
    await b_fac.next(lambda f: f.get("op") == "note.add" and f["data"]["text"] == "kun i B")
    await asyncio.sleep(0.5)
    assert "kun i B" not in repr(a.frames + a_fac.frames) and "kun i A" not in repr(b.frames + b_fac.frames)
    assert not [f for f in a_fac.frames if f.get("op") == "timer.start"]
    async with httpx.AsyncClient(base_url=h.server.url, trust_env=False) as http:
        for path in (f"/api/assemblies/{h.assembly['assembly']}/export.json",
                     f"/api/assemblies/{h.assembly['assembly']}/sheet"):
            answer = await http.get(path, headers={"Authorization": f"Bearer {other['facilitator_token']}"})
            assert answer.status_code == 403, path


async def test_since_for_rooms_a_device_is_not_in_shows_nothing_of_them(hall: Callable[..., Hall]) -> None:
    """A member resuming with `since` for another table gets its own rooms only, whatever it asks."""
    h = hall()
    fac = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a1"}, room="hall")
    other = await Device.connect(h.server.ws_url, (await join(h.server.url, h.codes[1]))["token"])
    await other.ok("note.add", {"note": "n1", "text": "hemmelig for bord 1"})
    me = await Device.connect(h.server.ws_url, (await join(h.server.url, h.codes[0]))["token"],
                              since={"table:2": 0, "table:1": 0, "hall": 0, "table:99": 0, "kitchen": 0})
    assert set(me.welcome["rooms"]) == {"hall", "table:1"}
    assert "hemmelig" not in repr(me.welcome)
    assert (await me.cmd("note.add", {"note": "n2", "text": "x"}, room="table:2"))["code"] == "forbidden"


async def test_a_second_hello_cannot_change_who_a_socket_is(hall: Callable[..., Hall]) -> None:
    """After welcome, a hello with the facilitator's token is bad_frame; the socket stays a member."""
    h = hall()
    me = await Device.connect(h.server.ws_url, (await join(h.server.url, h.codes[0]))["token"])
    await me.send({"t": "hello", "token": h.assembly["facilitator_token"]})
    assert (await me.next(lambda f: f.get("t") == "err"))["code"] == "bad_frame"
    assert (await me.cmd("timer.stop", {}, room="hall"))["code"] == "forbidden"


async def test_a_device_revoked_while_connected_is_closed_and_stays_out(hall: Callable[..., Hall]) -> None:
    """The facilitator revokes a device: its open socket closes with 4003 within 5 s, and its
    token is refused from then on, with or without since."""
    h = hall()
    joined = await join(h.server.url, h.codes[0])
    victim = await Device.connect(h.server.ws_url, joined["token"])
    bystander = await Device.connect(h.server.ws_url, (await join(h.server.url, h.codes[0]))["token"])
    async with httpx.AsyncClient(base_url=h.server.url, trust_env=False) as http:
        answer = await http.post(f"/api/assemblies/{h.assembly['assembly']}/revoke", json={"device": joined["device"]},
                                 headers={"Authorization": f"Bearer {h.assembly['facilitator_token']}"})
    assert answer.status_code in (200, 204), answer.text
    closed = await victim.wait_closed(timeout=5)
    assert closed.code == 4003
    for since in (None, victim.since()):
        frames, code = await hello_answer(h.server.ws_url, {"token": joined["token"],
                                                            **({"since": since} if since else {})})
        assert_refused(frames, code)
    assert (await bystander.cmd("timer.stop", {}, room="hall"))["code"] == "forbidden"  # still connected
