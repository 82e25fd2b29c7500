"""The record of an assembly: all of it in one file (`backup`), put back on any store (`restore`),
and its members' names taken out once it is over (`purge`). The command line's `samling backup`,
`samling restore` and `samling purge` are these functions (docs/record.md).

A backup file is one MessagePack map, readable without Samling:

    {"format": "samling.backup", "version": 1, "samling": <version>, "made_at": <ms>,
     "assembly": <id>, "name": <name>, "sha256": <hex of content>, "content": <bytes>}

`content` is itself a packed map: the registry record and its join codes, every room's log (each
event as [seq, blob], the blobs exactly as the store keeps them: a backup never reads an event),
its exactly-once keys and latest snapshot, every ballot box of the assembly's polls, the members,
the revoked devices, and the signing secret only when asked for. Restore checks the hash before
it writes anything, and writes the registry record last, so no device can reach a half-restored
assembly.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rooms import Role
from rooms.room import HALL, table_room

from .assemblies import codes_of, new_code, new_id
from .codec import decode, decode_record, pack
from .hub import poll_key, room_key
from .store.base import Box, Store
from .tokens import Claims, Tokens

FORMAT = "samling.backup"
VERSION = 1
ASSEMBLY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
READ_BATCH = 1000
MEMBERS_AT_ONCE = 500

Progress = Callable[[int, int], None]  # (rooms done, rooms in all)


class BackupError(Exception):
    """What the organiser must know, in one line: the command prints it and exits non-zero."""


def _none(done: int, total: int) -> None:
    """No progress to show."""


def samling_version() -> str:
    try:
        return version("samling")
    except PackageNotFoundError:
        return "unknown"


def rooms_of(record: dict[str, Any]) -> list[str]:
    """The rooms of an assembly: the hall, then each table."""
    return [HALL] + [table_room(t["id"]) for t in record["tables"]]


# -- backup ---------------------------------------------------------------------------------------

async def backup(store: Store, assembly: str, secret: str | None = None, progress: Progress = _none) -> bytes:
    """The backup file of `assembly`, with the signing `secret` in it if one is given."""
    record = await store.assembly(assembly)
    if record is None:
        raise BackupError(f"no assembly {assembly!r} in this store")
    codes = {code: await store.lookup_code(code) for code in codes_of(record)}
    names = rooms_of(record)
    rooms = []
    for done, name in enumerate(names, 1):
        rooms.append(await _room(store, room_key(assembly, name), name))
        progress(done, len(names))
    prefix = poll_key(assembly, "")
    polls = []
    for key in await store.boxes(prefix):
        box = await store.box(key)
        if box is not None:
            polls.append(_box_data(key[len(prefix):], box))
    content = pack({
        "record": record, "codes": {code: data for code, data in codes.items() if data is not None},
        "rooms": rooms, "polls": polls, "members": await store.member_devices(assembly),
        "revoked": sorted(await store.revoked(assembly)), "settings": {} if secret is None else {"secret": secret},
    })
    return pack({"format": FORMAT, "version": VERSION, "samling": samling_version(), "made_at": int(time.time() * 1000),
                 "assembly": assembly, "name": record.get("name"), "sha256": hashlib.sha256(content).hexdigest(),
                 "content": content})


async def _room(store: Store, key: str, name: str) -> dict[str, Any]:
    """One room's whole log (from 0 to its head), its keys and its snapshot. Each event's seq is
    its record's own: a log restored after a loss (`Store.restore`) may skip seqs. Read in this
    order, a room that is live meanwhile still gives a history that holds together: the keys and
    the snapshot before the head (neither is ever ahead of it), the events only up to it."""
    acks = await store.acks(key)
    snapshot = await store.snapshot(key)
    head = await store.head(key)
    events: list[list[Any]] = []
    after = 0
    while after < head:
        batch = [(decode_record(blob).seq, blob) for blob in await store.read(key, after, READ_BATCH)]
        events += [[seq, blob] for seq, blob in batch if seq <= head]
        if len(batch) < READ_BATCH:
            break
        after = batch[-1][0]
    return {"room": name, "head": head, "events": events,
            "acks": [[k, seq, digest] for k, (seq, digest) in sorted(acks.items())],
            "snapshot": None if snapshot is None else list(snapshot)}


def _box_data(poll: str, box: Box) -> dict[str, Any]:
    return {"poll": poll, "open": box.open, "options": box.options, "version": box.version, "tallied": box.tallied,
            "ballots": sorted([d, c] for d, c in box.ballots.items()),
            "keys": sorted([k, c] for k, c in box.keys.items()),
            "reasons": sorted([d, r] for d, r in box.reasons.items())}


def write_file(path: str, data: bytes) -> None:
    """Write `data` whole or not at all (a half-written backup never replaces a good one),
    readable by its owner only: the file holds ballots, and perhaps the signing secret."""
    target = Path(path)
    part = target.with_name(target.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


# -- reading a backup -----------------------------------------------------------------------------

def read_backup(data: bytes) -> dict[str, Any]:
    """The header of a backup file with its checked `content` unpacked; BackupError if it is not
    one, comes from a newer Samling, or is damaged."""
    try:
        outer = decode(data)
    except Exception:
        raise BackupError("this is not a Samling backup, or it is damaged (it cannot be read)") from None
    if not isinstance(outer, dict) or outer.get("format") != FORMAT or not isinstance(outer.get("version"), int):
        raise BackupError("this is not a Samling backup")
    if outer["version"] > VERSION:
        raise BackupError(f"this backup is format {outer.get('version')!r}, made by a newer Samling "
                          f"({outer.get('samling')}); this one reads format {VERSION}")
    content = outer.get("content")
    if not isinstance(content, bytes) or hashlib.sha256(content).hexdigest() != outer.get("sha256"):
        raise BackupError("this backup is damaged: its content does not match its SHA-256")
    try:
        outer["content"] = decode(content)
    except Exception:
        raise BackupError("this backup is damaged: its content cannot be read") from None
    return outer


# -- restore --------------------------------------------------------------------------------------

@dataclass
class Restored:
    assembly: str
    record: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


async def restore(store: Store, data: bytes, as_id: str | None = None, progress: Progress = _none,
                  server_secret: str | None = None, new_codes: bool = False) -> Restored:
    """Recreate the backed-up assembly (as `as_id` if given, with freshly drawn join codes if
    `new_codes`) in a store where nothing of it exists yet: BackupError, and nothing written, if
    its id, a join code, a room or a ballot box is there already. `server_secret`: the
    SAMLING_SECRET the servers of this store sign with, if they are given one."""
    content = read_backup(data)["content"]
    try:
        record = dict(content["record"])
        old = str(record["id"])
        rooms: list[dict[str, Any]] = content["rooms"]
        polls: list[dict[str, Any]] = content["polls"]
        codes: dict[str, dict[str, Any]] = content["codes"]
    except (KeyError, TypeError, ValueError):
        raise BackupError("this backup lacks the assembly's record: it was not made by `samling backup`") from None
    assembly = as_id or old
    if not ASSEMBLY_ID.fullmatch(assembly):
        raise BackupError(f"--as {assembly!r}: an id is 1-64 letters, digits, '-' or '_'")
    record["id"] = assembly
    if new_codes:
        record["tables"] = _redrawn(record["tables"])
        codes = codes_of(record)
    codes = {code: {**data, "assembly": assembly} for code, data in codes.items()}
    await _check_empty(store, assembly, codes, rooms, polls)
    warnings = await _restore_secret(store, content.get("settings") or {}, server_secret)
    for done, room in enumerate(rooms, 1):
        await _import_room(store, room_key(assembly, room["room"]), room)
        progress(done, len(rooms))
    for poll in polls:
        if not await store.import_box(poll_key(assembly, poll["poll"]), _box(poll)):
            raise BackupError(f"poll {poll['poll']} has a ballot box in this store already")
    members: list[str] = content.get("members", [])
    for start in range(0, len(members), MEMBERS_AT_ONCE):
        await asyncio.gather(*(store.add_member(assembly, d) for d in members[start:start + MEMBERS_AT_ONCE]))
    for device in content.get("revoked", []):
        await store.revoke(assembly, device)
    try:
        kept = await store.create_assembly(assembly, record, codes)
    except (ValueError, sqlite3.IntegrityError):  # the id was taken meanwhile (Redis's check, SQLite's key)
        kept = False
    if not kept:
        raise BackupError(f"assembly {assembly} or one of its join codes was created in this store during the restore")
    return Restored(assembly, record, warnings)


def _redrawn(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tables with new member and host codes, all different (the store checks the rest)."""
    drawn: list[str] = []
    while len(drawn) < 2 * len(tables):
        code = new_code()
        if code not in drawn:
            drawn.append(code)
    fresh = iter(drawn)
    return [{**t, "code": next(fresh), "host_code": next(fresh)} for t in tables]


async def _check_empty(store: Store, assembly: str, codes: dict[str, Any], rooms: list[dict[str, Any]],
                       polls: list[dict[str, Any]]) -> None:
    """BackupError unless nothing of the assembly is in the store. The imports refuse a used room
    or box too, but only one at a time: asked here first, a refusal leaves nothing written."""
    if await store.assembly(assembly) is not None:
        raise BackupError(f"assembly {assembly} exists in this store already: restore onto a store without it, "
                          "or give it another id with --as NEW_ID")
    for code in codes:
        taken = await store.lookup_code(code)
        if taken is not None:
            raise BackupError(f"join code {code} is taken in this store (by assembly {taken.get('assembly')}): "
                              "restore onto another store, or draw new codes with --new-codes")
    for room in rooms:
        key = room_key(assembly, room["room"])
        if await store.head(key) or await store.snapshot(key) is not None or await store.acks(key):
            raise BackupError(f"room {key} has a history in this store already")
    for poll in polls:
        if await store.box(poll_key(assembly, poll["poll"])) is not None:
            raise BackupError(f"poll {poll['poll']} of assembly {assembly} has a ballot box in this store already")


async def _restore_secret(store: Store, settings: dict[str, Any], server_secret: str | None) -> list[str]:
    """Keep the backup's signing secret in a store that has none yet, so the old tokens work here."""
    secret = settings.get("secret")
    if not isinstance(secret, str):
        return ["the backup holds no signing secret: unless the servers of this store sign with the one from "
                "before, devices join again with their table's code, and the facilitator and display use the new "
                "links printed below"]
    if await store.setting("secret", secret) != secret:
        return ["this store signs tokens with its own secret, which a restore does not replace: devices join "
                "again with their table's code, and the facilitator and display use the new links below"]
    if server_secret not in (None, secret):
        return ["SAMLING_SECRET is set to another secret, and a server uses it before the store's: the tokens "
                "from before work only on a server without it"]
    return []


async def _import_room(store: Store, key: str, room: dict[str, Any]) -> None:
    events = [(int(seq), bytes(blob)) for seq, blob in room["events"]]
    acks = {str(k): (int(seq), str(digest)) for k, seq, digest in room["acks"]}
    snapshot = None if room["snapshot"] is None else (int(room["snapshot"][0]), bytes(room["snapshot"][1]))
    try:
        kept = await store.import_room(key, int(room["head"]), events, acks, snapshot)
    except ValueError as exc:
        raise BackupError(f"room {room['room']} of the backup does not hold together: {exc}") from None
    if not kept:
        raise BackupError(f"room {key} got a history in this store during the restore")


def _box(poll: dict[str, Any]) -> Box:
    return Box(bool(poll["open"]), int(poll["options"]), int(poll["version"]), int(poll["tallied"]),
               {str(d): int(c) for d, c in poll["ballots"]},
               {str(k): None if c is None else int(c) for k, c in poll["keys"]},
               {str(d): str(r) for d, r in poll.get("reasons", [])})


def sheet_of(record: dict[str, Any], tokens: Tokens, base_url: str) -> dict[str, Any]:
    """The organiser's sheet of a restored assembly (the shape `samling assembly create` prints):
    a new facilitator link, and the display's, signed with this store's secret."""
    assembly = str(record["id"])
    fac = tokens.issue(Claims(assembly, new_id("f"), Role.FACILITATOR, None))
    display = tokens.issue(Claims(assembly, str(record.get("display") or new_id("d")), Role.DISPLAY, None))
    return {"assembly": assembly, "name": record["name"],
            "facilitator_token": fac, "facilitator_url": f"{base_url}/facilitator#token={fac}",
            "display_token": display, "display_url": f"{base_url}/display#token={display}",
            "tables": [{"id": t["id"], "name": t["name"], "code": t.get("code") or "",
                        "host_code": t.get("host_code") or "", "join_url": f"{base_url}/j/{t.get('code')}"}
                       for t in record["tables"]]}


# -- purge ----------------------------------------------------------------------------------------

async def purge(store: Store, assembly: str) -> list[str]:
    """Take the members' names out of an assembly's store, keeping its anonymous record; what
    was done, one line each. Safe to run again.

    Where a name could be, and is: nowhere. The name a device gives at join (`POST /api/join`)
    is checked and thrown away by the server (server/app.py); it stays in that tablet's browser
    only (localStorage, for its greeting). The registry keeps the assembly's and tables' names
    and codes; a token signs a random device id, its role and table; presence, members, revoked
    devices, ballots and exactly-once keys hold device ids; an event holds the device id of its
    sender, and a label is derived from a device id, never stored. So what is removed here is
    what ties devices to the tables they sit at right now (presence), which is no part of the
    record; device ids stay, since the record's rules (one author, one voter) are kept by them.
    """
    if await store.assembly(assembly) is None:
        raise BackupError(f"no assembly {assembly!r} in this store")
    await store.forget_presence(assembly)
    return ["member names: none kept by the server (the name given at join is never stored)",
            "presence (which device sits at which table now): removed"]
