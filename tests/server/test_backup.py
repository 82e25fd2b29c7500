"""The record (server/backup.py): `samling backup`, `samling restore` and `samling purge`, run as an
organiser runs them, on both stores and across them, against servers that really ran the day."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from support.client import Device, join
from support.processes import ServerProcess, create_assembly, run_cli

from server.backup import BackupError, backup, read_backup, restore
from server.codec import decode, pack
from server.store.base import BoxChange, Store, open_store

NAME = "Mette Hansen"
TABLE_ROOMS = ["hall", "table:1", "table:2"]


@dataclass
class Place:
    """Somewhere an assembly can be kept: a SQLite file, or the test's Redis."""

    kind: str
    db: Path
    redis: str | None

    @property
    def cli(self) -> dict[str, Any]:
        return {"db": str(self.db), "redis": self.redis}

    async def open(self) -> Store:
        store = open_store(str(self.db), self.redis)
        await store.start()
        return store

    def stored_bytes(self) -> bytes:
        """Every byte the place keeps, to search for what must not be there."""
        if self.redis is None:
            return b"".join(p.read_bytes() for p in self.db.parent.glob(self.db.name + "*"))
        return _redis_bytes(self.redis)


def _redis_bytes(url: str) -> bytes:
    out: list[bytes] = []
    with redis.Redis.from_url(url) as r:
        for key in r.scan_iter(count=1000):
            kind = r.type(key)
            out.append(key)
            if kind == b"string":
                out.append(r.get(key) or b"")
            elif kind == b"hash":
                out += [k + b"=" + v for k, v in r.hgetall(key).items()]
            elif kind == b"set":
                out += list(r.smembers(key))
            elif kind == b"list":
                out += r.lrange(key, 0, -1)
            elif kind == b"stream":
                out += [b"".join(fields.values()) for _, fields in r.xrange(key)]
    return b"\n".join(out)


def place(kind: str, tmp_path: Path, name: str, request: pytest.FixtureRequest) -> Place:
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else None
    return Place(kind, tmp_path / f"{name}.db", redis_url)


@dataclass
class Day:
    """An assembly after a day at the tables, its devices and what the facilitator saw."""

    assembly: dict[str, Any]
    fac: Device
    mette: Device
    other: Device
    far: Device
    first_note: dict[str, Any]  # Mette's first note.add ack (id "mette-1")
    guest_token: str  # a device the facilitator removed

    @property
    def id(self) -> str:
        return str(self.assembly["assembly"])


async def a_day(server: ServerProcess, asm: dict[str, Any]) -> Day:
    """Notes at two tables, a cluster, dots, a closed poll and an open one, a removed device."""
    codes = [t["code"] for t in asm["tables"]]

    async def member(table: int, name: str | None = None) -> Device:
        return await Device.connect(server.ws_url, (await join(server.url, codes[table], name))["token"])

    fac = await Device.connect(server.ws_url, asm["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a1", "prompt": "Hvad skal vi anbefale?", "dots": 3,
                                    "max_per_target": 2}, room="hall")
    mette, other, far = await member(0, NAME), await member(0), await member(1)
    first = await mette.ok("note.add", {"note": "n1", "text": "Flere cykelstier"}, id="mette-1")
    await other.ok("note.add", {"note": "n2", "text": "Grønnere skolegårde"})
    await far.ok("note.add", {"note": "n3", "text": "Billigere busser"})
    await fac.ok("phase.set", {"phase": "cluster"}, room="hall")
    await mette.ok("cluster.add", {"cluster": "c1", "title": "Trafik"})
    await mette.ok("note.move", {"note": "n1", "cluster": "c1"})
    await fac.ok("phase.set", {"phase": "vote"}, room="hall")
    await mette.ok("dot.add", {"target": "c1"})
    await other.ok("dot.add", {"target": "n2"})
    await fac.ok("poll.open", {"poll": "p1", "question": "Skal vi?", "kind": "choice", "options": ["ja", "nej"]},
                 room="hall")
    await mette.ok("vote.cast", {"poll": "p1", "choice": 0}, room="hall")
    await far.ok("vote.cast", {"poll": "p1", "choice": 1}, room="hall")
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"]["poll"] == "p1" and f["data"]["final"])
    await fac.ok("poll.open", {"poll": "p2", "question": "Og nu?", "kind": "choice", "options": ["a", "b"]},
                 room="hall")
    await other.ok("vote.cast", {"poll": "p2", "choice": 1}, room="hall", id="other-v1")
    await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"]["poll"] == "p2" and f["data"]["voters"] == 1)
    guest = (await join(server.url, codes[1]))
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as http:
        revoked = await http.post(f"/api/assemblies/{asm['assembly']}/revoke", json={"device": guest["device"]},
                                  headers={"Authorization": f"Bearer {asm['facilitator_token']}"})
    assert revoked.status_code == 200
    return Day(asm, fac, mette, other, far, first, guest["token"])


async def welcome_rooms(server: ServerProcess, token: str) -> dict[str, Any]:
    """What a device is shown of each of its rooms on a fresh connect (its seq and state)."""
    async with await Device.connect(server.ws_url, token) as device:
        assert device.welcome is not None
        rooms = {room: {"seq": part["seq"], "state": part["state"]} for room, part in device.welcome["rooms"].items()}
        return {"rooms": rooms, "votes": device.welcome["votes"]}


async def everything(store: Store, assembly: str) -> dict[str, Any]:
    """All that the store keeps of an assembly, as the Store interface reads it."""
    record = await store.assembly(assembly)
    assert record is not None
    rooms = {}
    for room in TABLE_ROOMS:
        key = f"{assembly}/{room}"
        rooms[room] = (await store.head(key), await store.read(key, 0, -1), await store.acks(key),
                       await store.snapshot(key))
    boxes = {key.split("/", 1)[1]: await store.box(key) for key in await store.boxes(f"{assembly}/")}
    codes = {t[f]: await store.lookup_code(t[f]) for t in record["tables"] for f in ("code", "host_code")}
    return {"record": record, "codes": codes, "rooms": rooms, "boxes": boxes,
            "members": await store.member_devices(assembly), "revoked": await store.revoked(assembly)}


async def kept(where: Place, assembly: str) -> dict[str, Any]:
    store = await where.open()
    try:
        return await everything(store, assembly)
    finally:
        await store.close()


@pytest.mark.parametrize("command", ["backup", "restore", "purge"])
def test_every_record_command_says_why_and_what(command: str) -> None:
    """`--help` answers usage text and exits 0; backup's says what leaving out the secret means."""
    done = run_cli([command, "--help"], check=False)
    assert done.returncode == 0 and f"usage: samling {command}" in done.stdout
    if command == "backup":
        assert "--with-secret" in done.stdout and "will not work after a restore" in " ".join(done.stdout.split())


@pytest.mark.parametrize("source_kind, target_kind", [("sqlite", "sqlite"), ("sqlite", "redis"), ("redis", "sqlite")])
async def test_a_restored_assembly_is_served_as_it_was(servers: Any, tmp_path: Path, request: pytest.FixtureRequest,
                                                       source_kind: str, target_kind: str) -> None:
    """Backed up from one store and restored onto another (or the same kind), the assembly is kept
    exactly: every room's events, seqs, keys and snapshot, the ballot boxes, members, removed
    devices, the registry and its codes. A server on the restored store welcomes the facilitator
    and a member with the same notes, clusters, dots and tallies, answers a resent command with
    its first ack, goes on at the next seq, refuses the removed device, and counts new ballots
    with the restored ones."""
    source, target = place(source_kind, tmp_path, "source", request), place(target_kind, tmp_path, "target", request)
    asm = create_assembly("Testsamling", 2, **source.cli)
    server = servers.start(**source.cli)
    day = await a_day(server, asm)
    before = {who: await welcome_rooms(server, token) for who, token in
              [("fac", asm["facilitator_token"]), ("mette", day.mette.token), ("other", day.other.token)]}
    out = tmp_path / "assembly.samling"
    done = run_cli(["backup", day.id, "--out", str(out)], **source.cli)
    assert "rooms 3/3" in done.stderr and out.exists()
    server.stop()
    original = await kept(source, day.id)

    done = run_cli(["restore", str(out)], **target.cli)
    assert f"Restored assembly {day.id}" in done.stdout and "rooms 3/3" in done.stderr
    assert await kept(target, day.id) == original

    restored = servers.start(**target.cli)
    after = {who: await welcome_rooms(restored, token) for who, token in
             [("fac", asm["facilitator_token"]), ("mette", day.mette.token), ("other", day.other.token)]}
    assert after == before
    notes = after["fac"]["rooms"]["table:1"]["state"]["board"]["notes"]
    assert {n["text"] for n in notes} == {"Flere cykelstier", "Grønnere skolegårde"}
    assert after["other"]["votes"] == {"p2": 1}

    mette = await Device.connect(restored.ws_url, day.mette.token)
    assert await mette.cmd("note.add", {"note": "n1", "text": "Flere cykelstier"}, id="mette-1") == day.first_note
    head = original["rooms"]["table:1"][0]
    assert (await mette.ok("dot.add", {"target": "n2"}))["seq"] == head + 1
    fac = await Device.connect(restored.ws_url, asm["facilitator_token"])
    far = await Device.connect(restored.ws_url, day.far.token)
    await far.ok("vote.cast", {"poll": "p2", "choice": 0}, room="hall")
    tally = await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"]["voters"] == 2)
    assert tally["data"]["counts"] == [1, 1]
    guest = await Device.connect(restored.ws_url, day.guest_token, require_welcome=False)
    assert guest.welcome is not None and guest.welcome["code"] == "not_authenticated"
    assert len(original["revoked"]) == 1


async def test_without_the_secret_old_tokens_stop_and_new_links_work(servers: Any, tmp_path: Path) -> None:
    """Restored onto a server with another secret, a backup without the secret leaves the old
    tokens refused and says so; the facilitator link restore prints works there. With
    --with-secret, onto a fresh store whose server keeps its secret in the store, the old tokens
    work as before."""
    source, target, fresh = tmp_path / "s.db", tmp_path / "t.db", tmp_path / "f.db"
    asm = create_assembly("Testsamling", 1, db=source)
    out, secret_out = tmp_path / "plain.samling", tmp_path / "secret.samling"
    run_cli(["backup", asm["assembly"], "--out", str(out)], db=source)
    run_cli(["backup", asm["assembly"], "--out", str(secret_out), "--with-secret"], db=source)
    assert b"test-secret-" not in out.read_bytes() and b"test-secret-" in secret_out.read_bytes()

    done = run_cli(["restore", str(out)], db=target, secret="another-secret")
    assert "join again with their table's code" in done.stderr
    printed = re.search(r"facilitator#token=(\S+)", done.stdout)
    assert printed is not None
    server = servers.start(db=target, secret="another-secret")
    old = await Device.connect(server.ws_url, asm["facilitator_token"], require_welcome=False)
    assert old.welcome is not None and old.welcome["code"] == "not_authenticated"
    new = await Device.connect(server.ws_url, printed.group(1))
    assert new.you["role"] == "facilitator" and new.you["assembly"] == asm["assembly"]

    done = run_cli(["restore", str(secret_out)], db=fresh, secret="")
    assert done.stderr.count("note:") == 0
    server = servers.start(db=fresh, secret="")
    again = await Device.connect(server.ws_url, asm["facilitator_token"])
    assert again.you["role"] == "facilitator"


async def test_a_damaged_or_foreign_file_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    """A flipped byte, a cut-off file, a file that is no backup, one from a newer Samling, and
    one without the assembly's record are each refused with their reason, and the store stays
    empty; at the command line the refusal is one line and exit 1."""
    source, target = tmp_path / "s.db", tmp_path / "t.db"
    asm = create_assembly("Testsamling", 2, db=source)
    good = tmp_path / "good.samling"
    run_cli(["backup", asm["assembly"], "--out", str(good)], db=source)
    data = good.read_bytes()
    outer = decode(data)
    flipped = bytearray(data)
    flipped[len(data) - 40] ^= 0x01  # inside the content, which comes last
    hollow_content = pack({"nothing": True})
    hollow = pack({**outer, "content": hollow_content, "sha256": hashlib.sha256(hollow_content).hexdigest()})
    cases = {"flipped": (bytes(flipped), "damaged: its content does not match its SHA-256"),
             "cut": (data[: len(data) // 2], "damaged"),
             "foreign": (b'{"format": "something else"}', "not a Samling backup"),
             "newer": (pack({**outer, "version": 99}), "made by a newer Samling"),
             "hollow": (hollow, "lacks the assembly's record")}
    store = open_store(str(target), None)
    await store.start()
    try:
        for name, (content, reason) in cases.items():
            with pytest.raises(BackupError, match=re.escape(reason)):
                await restore(store, content)
            assert await store.assemblies() == [] and await store.head(f"{asm['assembly']}/hall") == 0, name
    finally:
        await store.close()
    path = tmp_path / "flipped.samling"
    path.write_bytes(bytes(flipped))
    done = run_cli(["restore", str(path)], db=target, check=False)
    assert done.returncode == 1
    assert done.stderr == "samling: this backup is damaged: its content does not match its SHA-256\n"


async def test_restore_never_lands_on_an_assembly_or_a_code_that_exists(tmp_path: Path) -> None:
    """Onto its own store, a restore is refused for the id and, under another id, for the codes,
    with one line and exit 1, and the store is as before; --as with --new-codes puts a copy
    beside the original, which keeps its codes."""
    db = tmp_path / "s.db"
    asm = create_assembly("Testsamling", 2, db=db)
    out = tmp_path / "a.samling"
    run_cli(["backup", asm["assembly"], "--out", str(out)], db=db)
    before = await kept(Place("sqlite", db, None), asm["assembly"])

    done = run_cli(["restore", str(out)], db=db, check=False)
    assert done.returncode == 1 and f"assembly {asm['assembly']} exists in this store already" in done.stderr
    done = run_cli(["restore", str(out), "--as", "kopi"], db=db, check=False)
    assert done.returncode == 1 and "join code" in done.stderr and "is taken" in done.stderr
    done = run_cli(["restore", str(out), "--as", "no/slash"], db=db, check=False)
    assert done.returncode == 1 and "--as" in done.stderr
    assert await kept(Place("sqlite", db, None), asm["assembly"]) == before

    run_cli(["restore", str(out), "--as", "kopi", "--new-codes"], db=db)
    copy, original = await kept(Place("sqlite", db, None), "kopi"), await kept(Place("sqlite", db, None),
                                                                               asm["assembly"])
    assert original == before
    assert set(copy["codes"]).isdisjoint(original["codes"])
    assert all(found is not None and found["assembly"] == "kopi" for found in copy["codes"].values())
    assert [r[1] for r in copy["rooms"].values()] == [r[1] for r in original["rooms"].values()]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_purge_leaves_no_name_and_keeps_the_record(servers: Any, tmp_path: Path,
                                                         request: pytest.FixtureRequest, kind: str) -> None:
    """A member joined as "Mette Hansen": after `samling purge` (asked first, cancelled unless
    yes; --yes for scripts; twice is once) the name is nowhere in the store nor in a backup,
    while every note, cluster, dot, ballot and tally is still there."""
    where = place(kind, tmp_path, "s", request)
    asm = create_assembly("Testsamling", 2, **where.cli)
    server = servers.start(**where.cli)
    day = await a_day(server, asm)
    server.stop()
    record = await kept(where, day.id)

    asked = run_cli(["purge", day.id], **where.cli, check=False)
    assert asked.returncode == 1 and "Type yes" in asked.stderr and "cancelled" in asked.stderr
    for _ in range(2):
        done = run_cli(["purge", day.id, "--yes"], **where.cli)
        assert "removed" in done.stdout
    out = tmp_path / "after.samling"
    run_cli(["backup", day.id, "--out", str(out)], **where.cli)
    assert NAME.encode() not in out.read_bytes() and NAME.encode() not in where.stored_bytes()
    assert await kept(where, day.id) == record
    assert b"Flere cykelstier" in out.read_bytes()
    assert run_cli(["purge", "nope", "--yes"], **where.cli, check=False).returncode == 1
    missing = tmp_path / "missing.db"
    done = run_cli(["purge", day.id, "--yes"], db=missing, check=False)  # never makes an empty store
    assert done.returncode == 1 and "there is no store at" in done.stderr and not missing.exists()


# -- in process: the functions behind the commands

@pytest.fixture
async def two_stores(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    one, two = open_store(str(tmp_path / "one.db"), None), open_store(str(tmp_path / "two.db"), None)
    await one.start()
    await two.start()
    yield one, two
    await one.close()
    await two.close()


async def test_a_log_restored_after_a_loss_round_trips(two_stores: tuple[Store, Store]) -> None:
    """A room whose log skips seqs (the store lost history and a process restored it from a
    snapshot) is backed up with each event's own seq and restored the same, and a ballot box
    with its ballots' reasons; progress counts every room."""
    from server.codec import Record, encode_record

    one, two = two_stores
    record = {"id": "a1", "name": "Tab", "tables": [{"id": "1", "name": "Bord 1", "code": "AAAAAA",
                                                     "host_code": "BBBBBB"}]}
    await one.create_assembly("a1", record, {"AAAAAA": {"assembly": "a1", "table": "1", "role": "member"},
                                             "BBBBBB": {"assembly": "a1", "table": "1", "role": "host"}})
    await one.append("a1/hall", 0, [encode_record(Record(1, "assembly.open", {}, None, None, 0))])
    await one.append("a1/hall", 1, [encode_record(Record(2, "poll.open", {}, "c", "f", 0))],
                     box=BoxChange("a1/p1", "open", options=3))
    await one.cast("a1/p1", "d1", 2, "d1|v1", reason="For dyrt")
    await one.cast("a1/p1", "d2", 0, "d2|v1")
    assert await one.restore("a1/table:1", 40, b"state@40", "e2")
    await one.append("a1/table:1", 40, [encode_record(Record(41, "note.add", {}, "c1", "d1", 0))], key="d1|c1")
    seen: list[tuple[int, int]] = []
    data = await backup(one, "a1", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]
    assert (await restore(two, data)).assembly == "a1"
    for room in ("a1/hall", "a1/table:1"):
        assert await two.read(room, 0) == await one.read(room, 0)
        assert (await two.head(room), await two.snapshot(room)) == (await one.head(room), await one.snapshot(room))
    assert await two.acked("a1/table:1", "d1|c1") == (41, "")
    assert await two.box("a1/p1") == await one.box("a1/p1") and await two.reasons("a1/p1") == ["For dyrt"]
    assert [e[0] for e in read_backup(data)["content"]["rooms"][1]["events"]] == [41]
    with pytest.raises(BackupError, match="no assembly"):
        await backup(one, "nope")
