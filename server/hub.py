"""The live rooms of one server process: each room's state, kept current from the store's log,
the devices listening to it, and the path of a command from a device to every other device.

A command is decided on this process's copy of the room at seq S and appended only if the log
is still at S (the store's compare-and-append). If another process got there first, this one
catches up from the log and decides again. So every rule holds across processes without locks
shared between them, and every device sees one order: the log's.

Events reach the room from the store's fan-out (Redis pub/sub, or in-process). Fan-out may drop
messages (pub/sub is at-most-once): a gap in seq is repaired from the stored log, and a
reconnect to Redis catches every room up.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from rooms import SYSTEM, Actor, Code, Event, Refused, Role, synthesis
from rooms import commands as c
from rooms.hall import HallCommand, check_vote
from rooms.hall import follow_ups as hall_follow_ups
from rooms.results import ranked
from rooms.room import HALL, RoomModel, table_room
from rooms.table import public_show_totals

from .codec import Record, decode, decode_record, digest, encode_record, pack
from .connection import Corks
from .settings import Settings
from .store.base import Appended, BoxChange, CastOutcome, Outcome, Store, same_payload
from .tokens import device_label

log = logging.getLogger("samling.hub")

READ_BATCH = 1000
MAX_ATTEMPTS = 16
BACKOFF_AFTER = 3  # attempts; then a short random pause, so two processes racing on one room stop colliding
TALLY_INTERVAL = 0.05  # s: at most ~20 tallies a second per poll
TALLY_QUIET = 0.02  # s with no new ballot: the burst is over, publish now
TALLY_COST = 0.0001  # s between tallies per device in the hall: each tally goes to every one of them
PRESENCE_EVERY = 0.05  # s: the least time between two presence reports of an assembly
PRESENCE_SHARE = 0.1  # at most this share of the process's time goes to presence reports
REVOKED_FRESH = 1.0  # s: a hello trusts the revoked devices read this recently


class Subscriber(Protocol):
    """A device's connection, as a room sees it: somewhere to put frames, never waited on."""

    def deliver(self, frame: bytes) -> None: ...

    def close_soon(self, code: int, reason: str) -> None: ...


CLOSE_RESTORED = 1012  # the store lost history and was restored: reconnect, and take a snapshot
CLOSE_REVOKED = 4003  # the facilitator removed this device: its token is no longer valid


@dataclass(eq=False)
class LiveRoom:
    key: str  # the store's name: "<assembly>/<room>"
    name: str  # the wire's name: "hall" or "table:<id>"
    assembly: str
    model: RoomModel
    seq: int = 0
    ready: bool = False
    catching_up: bool = False
    repair_queued: bool = False
    catch_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscribers: set[Subscriber] = field(default_factory=set)
    front: set[Subscriber] = field(default_factory=set)  # the displays and facilitators among them: served first
    pending: dict[int, Record] = field(default_factory=dict)  # arrived ahead of a gap
    # hall only: (table, op) -> the newest hall seq of that op for that table; and the hall
    # events still to check, oldest first (see Hub._carry)
    carried: dict[tuple[str, str], int] = field(default_factory=dict)
    uncarried: deque[Record] = field(default_factory=deque)
    carrier: asyncio.Task[None] | None = None
    recent: deque[dict[str, Any]] = field(default_factory=deque)  # bounded by Settings.history
    shared_view: tuple[int, dict[str, Any]] | None = None  # hall only: (seq, view), the same for everyone
    shared_part: tuple[tuple[int, str], bytes] | None = None  # hall only: ((seq, epoch), packed welcome part)


@dataclass
class _Pacer:
    dirty: bool = False
    last: float = 0.0  # when the last tally went out (monotonic)
    changed: float = 0.0  # when the last ballot came in
    task: asyncio.Task[None] | None = None


def room_key(assembly: str, room: str) -> str:
    return f"{assembly}/{room}"


def poll_key(assembly: str, poll: str) -> str:
    return f"{assembly}/{poll}"


def err(cmd_id: Any, code: Code | str, msg: str) -> dict[str, Any]:
    return {"t": "err", "id": cmd_id, "code": str(code), "msg": msg}


def ack(cmd_id: str, room: str, seq: int | None) -> dict[str, Any]:
    return {"t": "ack", "id": cmd_id, "room": room, "seq": seq}


class Hub:
    def __init__(self, store: Store, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.rooms: dict[str, LiveRoom] = {}
        self.assemblies: dict[str, dict[str, Any]] = {}
        self._pacers: dict[str, _Pacer] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.corks = Corks()  # the sockets written to in this turn of the loop (server/connection.py)
        self.stats: dict[str, int] = {"gaps_repaired": 0, "conflicts": 0, "catch_ups": 0, "snapshots": 0,
                                      "snapshot_loads": 0, "replayed": 0, "epochs": 0, "rooms_restored": 0,
                                      "follow_ups_repaired": 0}
        store.on_reconnect = self.catch_up_all
        self.process = secrets.token_hex(6)
        # The name of the store's history. It changes when the store may have lost events (Redis
        # restarted empty, a failover that went back in seq): a device then gets snapshots, never
        # new events folded onto what it knew before.
        self.epoch = ""
        self._epoch_lock = asyncio.Lock()
        #: what the app must put back into a store that lost everything (settings, assemblies)
        self.on_history_lost: Callable[[], Awaitable[None]] | None = None
        self._seated: dict[str, dict[str, dict[str, int]]] = {}  # assembly -> table -> device -> sockets
        self._watchers: dict[str, set[Subscriber]] = {}  # assembly -> facilitators' outboxes
        self._sockets: dict[tuple[str, str], set[Subscriber]] = {}  # (assembly, device) -> its outboxes here
        self._revoked: dict[str, set[str]] = {}  # assembly -> revoked devices, as last read from the store
        self._revoked_at: dict[str, float] = {}  # assembly -> when that read began
        self._revoked_reads: dict[str, asyncio.Lock] = {}
        self._presence_sent: dict[str, dict[str, list[str]]] = {}
        self._presence_task: asyncio.Task[None] | None = None
        self._presence_dirty: set[str] = set()
        self._presence_flush: asyncio.Task[None] | None = None
        self._presence_next = 0.0  # monotonic time before which no presence report starts

    def now(self) -> int:
        return int(self.clock() * 1000)

    # -- the assembly and its rooms --------------------------------------------------------------

    async def assembly(self, assembly: str) -> dict[str, Any] | None:
        record = self.assemblies.get(assembly)
        if record is None:
            record = await self.store.assembly(assembly)
            if record is not None:
                self.assemblies[assembly] = record
        return record

    async def rooms_of(self, actor: Actor, assembly: str) -> list[str]:
        """The rooms a device is in, by its role (PROTOCOL.md, "Rooms by role")."""
        if actor.role in (Role.MEMBER, Role.HOST) and actor.table is not None:
            return [HALL, table_room(actor.table)]
        if actor.role is Role.FACILITATOR:
            record = await self.assembly(assembly) or {"tables": []}
            return [HALL] + [table_room(t["id"]) for t in record["tables"]]
        return [HALL]

    async def live(self, assembly: str, name: str) -> LiveRoom:
        """The room, loaded from its snapshot and log and listening to the fan-out."""
        key = room_key(assembly, name)
        room = self.rooms.get(key)
        if room is not None:
            if not room.ready:
                await room.loaded.wait()
                if not room.ready:
                    raise Refused(Code.SERVER_BUSY, f"room {name} could not be loaded")
            return room
        room = LiveRoom(key, name, assembly, RoomModel(name), recent=deque(maxlen=self.settings.history))
        self.rooms[key] = room
        try:
            await self.store.listen(key, self._on_blob)
            snap = await self.store.snapshot(key)
            if snap is not None:
                room.seq, room.model = snap[0], RoomModel.load(name, decode(snap[1]))
                self.stats["snapshot_loads"] += 1
            while True:
                blobs = await self.store.read(key, room.seq, READ_BATCH)
                for blob in blobs:
                    record = decode_record(blob)
                    room.model.evolve(record.event)
                    room.seq = record.seq
                    self._carry(room, record)
                self.stats["replayed"] += len(blobs)
                if len(blobs) < READ_BATCH:
                    break
            room.ready = True
            self._drain(room)
        except BaseException:
            del self.rooms[key]
            await self.store.unlisten(key, self._on_blob)
            raise
        finally:
            room.loaded.set()
        return room

    # -- events arriving ---------------------------------------------------------------------------

    def _on_blob(self, key: str, blob: bytes) -> None:
        room = self.rooms.get(key)
        if room is not None:
            self._advance(room, decode_record(blob))

    def _advance(self, room: LiveRoom, record: Record) -> None:
        """Take one event in log order; hold it back if one before it is missing."""
        if record.seq <= room.seq:
            return
        if not room.ready or room.catching_up or record.seq != room.seq + 1:
            room.pending[record.seq] = record
            if room.ready and not room.catching_up and not room.repair_queued:
                room.repair_queued = True
                self.stats["gaps_repaired"] += 1
                self._spawn(self.catch_up(room))
            return
        self._apply(room, record)
        self._drain(room)

    def _drain(self, room: LiveRoom) -> None:
        for seq in sorted(room.pending):
            record = room.pending.pop(seq)
            if seq == room.seq + 1:
                self._apply(room, record)
            elif seq > room.seq + 1:
                room.pending[seq] = record
                break

    def _apply(self, room: LiveRoom, record: Record) -> None:
        event = record.event
        try:
            room.model.evolve(event)
        except Exception:  # a stored event that does not apply: a bug, never a device's doing
            log.exception("event %s #%s does not apply to %s", record.op, record.seq, room.key)
        room.seq = record.seq
        self._carry(room, record)
        frame = {"t": "ev", "room": room.name, "seq": record.seq, "op": record.op,
                 "data": room.model.public(event), "cmd": record.cmd}
        room.recent.append(frame)
        if room.subscribers:
            data = pack(frame)
            front = room.front
            for sub in list(front):  # the big screen first: a tally reaches 2,000 tablets after it
                sub.deliver(data)
            for sub in list(room.subscribers):
                if sub not in front:
                    sub.deliver(data)
        if record.seq % self.settings.snapshot_every == 0:
            self._spawn(self._save_snapshot(room, record.seq, pack(room.model.dump())))

    async def catch_up(self, room: LiveRoom) -> None:
        """Read what the log holds past this room's seq (a gap, a conflict, a reconnect)."""
        if not room.ready:
            return
        async with room.catch_lock:
            room.repair_queued = False
            room.catching_up = True
            self.stats["catch_ups"] += 1
            try:
                for _ in range(100):
                    before = room.seq
                    blobs = await self.store.read(room.key, room.seq, READ_BATCH)
                    records = [decode_record(blob) for blob in blobs]
                    for record in records:
                        if record.seq == room.seq + 1:
                            room.pending.pop(record.seq, None)
                            self._apply(room, record)
                    self._drain(room)
                    hole = room.seq == before and (not records or records[0].seq > before + 1)
                    if hole and await self._jump_to_snapshot(room):
                        continue
                    if len(blobs) < READ_BATCH and not room.pending:
                        return
                    if len(blobs) < READ_BATCH:
                        await asyncio.sleep(0.01)  # a newer event overtook its own append: read again
                log.error("room %s: could not close a gap up to %s", room.key, max(room.pending))
            finally:
                room.catching_up = False
                self._drain(room)

    async def _jump_to_snapshot(self, room: LiveRoom) -> bool:
        """The log has nothing after this room's seq yet its head is further on: another process
        restored the room from further ahead (see `Store.restore`). Take that snapshot, and send
        this room's devices to a fresh welcome. True if catch_up should read again (the room
        moved, or there was no hole after all)."""
        if await self.store.head(room.key) <= room.seq:
            return False
        # The read that found nothing may just have come before an append that the head read
        # came after: read again, now that the head says there is more.
        again = await self.store.read(room.key, room.seq, 1)
        if again and decode_record(again[0]).seq == room.seq + 1:
            return True  # no hole: catch_up reads on
        snap = await self.store.snapshot(room.key)
        if snap is None or snap[0] <= room.seq:
            log.error("room %s: the log skips from %s to its head with no snapshot to bridge it", room.key, room.seq)
            return False
        log.warning("room %s: restored elsewhere at #%s; leaving #%s for it", room.key, snap[0], room.seq)
        room.model, room.seq = RoomModel.load(room.name, decode(snap[1])), snap[0]
        room.recent.clear()
        room.pending = {seq: r for seq, r in room.pending.items() if seq > room.seq}
        self.stats["snapshot_loads"] += 1
        self._send_away(room)
        return True

    @staticmethod
    def _send_away(room: LiveRoom) -> None:
        """Close every socket of a room whose past its devices can no longer be given as events:
        they come back with a fresh welcome (a snapshot)."""
        for sub in list(room.subscribers):
            sub.close_soon(CLOSE_RESTORED, "the server restored its store: reconnect")
        room.subscribers.clear()
        room.front.clear()

    async def catch_up_all(self) -> None:
        """After the fan-out was down: check the store still has its history, then read what
        every room missed."""
        if await self.check_epoch():
            return
        for room in list(self.rooms.values()):
            await self.catch_up(room)

    # -- epochs: when the store loses history ------------------------------------------------------

    async def open_epoch(self) -> None:
        """Learn the store's epoch (making one on a new store). Call once before serving."""
        self.epoch = await self.store.setting("epoch", secrets.token_hex(8))

    async def check_epoch(self, regressed: LiveRoom | None = None) -> bool:
        """Whether the store lost history since this process last looked; if so, put back what
        this process still holds, and move every device to the new epoch. `regressed`: a room
        whose log is behind what this process applied (a failover that lost writes)."""
        async with self._epoch_lock:
            seen = self.epoch
            now = await self.store.setting("epoch", secrets.token_hex(8))  # gone with the data: made anew
            if now == seen and regressed is not None and await self.store.head(regressed.key) < regressed.seq:
                now = await self.store.replace_setting("epoch", seen, secrets.token_hex(8))
            if now == seen:
                return False
            await self._history_lost(seen, now)
            return True

    async def _history_lost(self, old: str, new: str) -> None:
        log.error("the store lost history (epoch %s -> %s): restoring %d rooms from this process's memory; "
                  "every device reloads", old, new, len(self.rooms))
        self.stats["epochs"] += 1
        self.epoch = new  # from now on every welcome names the new epoch
        if self.on_history_lost is not None:
            await self.on_history_lost()
        moved: list[LiveRoom] = []
        for room in list(self.rooms.values()):
            if not room.ready:
                continue
            async with room.lock:
                restored = await self.store.restore(room.key, room.seq, pack(room.model.dump()), new)
                if restored and room.name == HALL:
                    for poll in room.model.hall.polls.values():
                        if poll.open:  # its ballots are gone; voting goes on from an empty box
                            box = BoxChange(poll_key(room.assembly, poll.id), "open", len(poll.options))
                            await self.store.append(room.key, room.seq, [], None, box)
            self.stats["rooms_restored"] += restored
            room.recent.clear()
            moved.append(room)
            if not restored:  # another process restored it first: load that
                self.rooms.pop(room.key, None)
                await self.store.unlisten(room.key, self._on_blob)
        for room in moved:  # only now: a device that comes straight back finds every room restored
            self._send_away(room)

    async def _save_snapshot(self, room: LiveRoom, seq: int, blob: bytes) -> None:
        await self.store.save_snapshot(room.key, seq, blob)
        self.stats["snapshots"] += 1

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- commands ------------------------------------------------------------------------------------

    async def execute(self, actor: Actor, assembly: str, name: str, op: Any, args: Any, cmd_id: str) -> dict[str, Any]:
        """Run one device command: the `ack` or `err` frame to answer it with."""
        room = await self.live(assembly, name)
        key = f"{actor.device}|{cmd_id}"
        said = digest(op, args)
        try:
            cmd = room.model.parse(op, args)
            if isinstance(cmd, c.CastVote):
                return await self._vote(room, actor, cmd, cmd_id, key)
            if isinstance(cmd, c.Spotlight) and cmd.table is not None:
                cmd = replace(cmd, results=tuple(await self._results(assembly, cmd.table)))
            if isinstance(cmd, synthesis.SendCard):
                cmd = await self._fill_card(room, actor, cmd)
            result = await self._decide_and_append(room, actor, str(op), cmd, cmd_id, key, digest=said)
            if result.outcome is Outcome.DUPLICATE and not same_payload(result.digest, said):
                raise Refused(Code.ID_REUSED, f"command id {cmd_id!r} was already used for another command")
        except Refused as refusal:
            seen = None if refusal.code is Code.ID_REUSED else await self.store.acked(room.key, key)
            if seen is not None:  # a resend of a command stored before
                if same_payload(seen[1], said):
                    await self._reach(room, seen[0])
                    return ack(cmd_id, name, seen[0])
                refusal = Refused(Code.ID_REUSED, f"command id {cmd_id!r} was already used for another command")
            return err(cmd_id, refusal.code, refusal.msg)
        await self._reach(room, result.seq)
        return ack(cmd_id, name, result.seq)

    async def _reach(self, room: LiveRoom, seq: int | None) -> None:
        """Before acking `seq`, have this process's room hold it: a resend whose first attempt was
        stored but unanswered (Redis restarted under it) is acked from the store, and the event
        may not have come back through pub/sub yet. A device resuming after that ack must find it."""
        if isinstance(seq, int) and seq > room.seq:
            await self.catch_up(room)

    async def _decide_and_append(self, room: LiveRoom, actor: Actor, op: str, cmd: HallCommand, cmd_id: str | None,
                                 key: str | None, box: BoxChange | None = None, digest: str = "") -> Appended:
        async with room.lock:
            for attempt in range(MAX_ATTEMPTS):
                if attempt >= BACKOFF_AFTER:
                    await asyncio.sleep(random.uniform(0, 0.002 * attempt))
                now = self.now()
                events = room.model.decide(actor, op, cmd, now)
                change = box or self._box_change(room, events)
                records = [Record(room.seq + i + 1, e.op, dict(e.data), cmd_id, None if actor is SYSTEM else
                                  actor.device, now) for i, e in enumerate(events)]
                expect = room.seq
                result = await self.store.append(room.key, expect, [encode_record(r) for r in records], key, change,
                                                 digest)
                if result.outcome is Outcome.OK:
                    for record in records:
                        self._advance(room, record)
                    break
                if result.outcome is not Outcome.CONFLICT:
                    return result
                self.stats["conflicts"] += 1
                if result.seq < expect:  # the log went back: the store lost history (checked outside the lock)
                    self._spawn(self.check_epoch(regressed=room))
                    raise Refused(Code.CONFLICT, "the server is restoring its store: send the command again")
                await self.catch_up(room)
            else:
                raise Refused(Code.CONFLICT, "the room is busy: send the command again")
        for event in events:
            await self._follow_up(room, event, result.seq)
        return result

    def _box_change(self, room: LiveRoom, events: list[Event]) -> BoxChange | None:
        for event in events:
            if event.op == "poll.open":
                return BoxChange(poll_key(room.assembly, event.data["poll"]), "open", len(event.data["options"]))
            if event.op == "poll.close":
                return BoxChange(poll_key(room.assembly, event.data["poll"]), "close")
            if event.op == "poll.paper":  # paper counts join the tally: the next one must go out
                return BoxChange(poll_key(room.assembly, event.data["poll"]), "touch")
        return None

    async def _follow_up(self, room: LiveRoom, event: Event, seq: int) -> None:
        """Carry a hall decision into the tables, and publish a closed poll's final tally."""
        if room.name != HALL:
            return
        if event.op in ("poll.open", "poll.close", "poll.paper"):  # turnout from the start, paper, the final count
            self.request_tally(room, event.data["poll"])
        for table, cmd, op in hall_follow_ups(event):
            target = await self.live(room.assembly, table_room(table))
            try:
                await self._decide_and_append(target, SYSTEM, op, cmd, None, f"hall:{seq}")
            except Refused as refusal:
                log.warning("%s at %s after hall #%s: %s", op, target.key, seq, refusal)
            except Exception:  # the hall's event is stored and acked: carry on with the other tables
                log.exception("%s at %s after hall #%s failed", op, target.key, seq)

    def _carry(self, room: LiveRoom, record: Record) -> None:
        """Note a hall event that tables must follow, and make sure they do: the process that
        decided it carries it into the tables at once, but it may die in between. So every
        process that sees the event checks, a little later and in log order, that each table has
        it (by its key `hall:<seq>`), and carries it there if not. Only the newest activity, and
        the newest phase after it, are carried, so a late repair never takes a table back."""
        if room.name != HALL:
            return
        follow = hall_follow_ups(record.event)
        if not follow:
            return
        for table, _, op in follow:
            room.carried[(table, op)] = record.seq
        room.uncarried.append(record)
        if room.carrier is None or room.carrier.done():
            room.carrier = asyncio.get_running_loop().create_task(self._ensure_carried(room))
            self._tasks.add(room.carrier)
            room.carrier.add_done_callback(self._tasks.discard)

    async def _ensure_carried(self, room: LiveRoom) -> None:
        while room.uncarried:
            record = room.uncarried[0]
            wait = record.at / 1000 + self.settings.follow_up_grace - self.clock()
            await asyncio.sleep(max(wait, 0.0) if record.at else self.settings.follow_up_grace)
            room.uncarried.popleft()
            for table, cmd, op in hall_follow_ups(record.event):
                newest = room.carried.get((table, op)) == record.seq
                if op == "phase.set":
                    newest = newest and record.seq > room.carried.get((table, "activity.start"), 0)
                if newest and self.rooms.get(room.key) is room:
                    await self._carry_into(room, table, cmd, op, record.seq)

    async def _carry_into(self, room: LiveRoom, table: str, cmd: c.Command, op: str, seq: int) -> None:
        key = f"hall:{seq}"
        try:
            target = await self.live(room.assembly, table_room(table))
            if await self.store.acked(target.key, key) is not None:
                return
            log.warning("hall #%s (%s) never reached %s: carrying it now", seq, op, target.key)
            self.stats["follow_ups_repaired"] += 1
            await self._decide_and_append(target, SYSTEM, op, cmd, None, key)
        except Refused as refusal:
            log.warning("%s at table %s after hall #%s: %s", op, table, seq, refusal)
        except Exception:
            log.exception("carrying hall #%s into table %s", seq, table)

    async def _results(self, assembly: str, table: str) -> list[dict[str, Any]]:
        record = await self.assembly(assembly)
        if record is None or table not in {t["id"] for t in record["tables"]}:
            raise Refused(Code.UNKNOWN_TARGET, f"no table {table}")
        state = (await self.live(assembly, table_room(table))).model.table
        if state.board is None:
            return []
        rows = ranked(state.board)
        if not public_show_totals(state):  # the hall must not learn what the table cannot see yet
            for row in rows:
                del row["dots"]
        return rows

    async def _fill_card(self, hall: LiveRoom, actor: Actor, cmd: synthesis.SendCard) -> synthesis.SendCard:
        """A card for the hall's board carries the cluster as its table has it now (title, notes,
        dots), never what a device claims. A host may send only their own table's clusters."""
        if actor.role is Role.HOST and actor.table != cmd.table:
            raise Refused(Code.FORBIDDEN, "a host sends only their own table's clusters")
        if cmd.table not in hall.model.hall.tables:
            raise Refused(Code.UNKNOWN_TARGET, f"no table {cmd.table}")
        table = await self.live(hall.assembly, table_room(cmd.table))
        return synthesis.fill(cmd, table.model.table)

    # -- ballots -------------------------------------------------------------------------------------

    async def _vote(self, room: LiveRoom, actor: Actor, cmd: c.CastVote, cmd_id: str, key: str) -> dict[str, Any]:
        try:
            check_vote(room.model.hall, actor, cmd)
        except Refused as refusal:
            if refusal.code is not Code.POLL_CLOSED:
                raise
        outcome = await self.store.cast(poll_key(room.assembly, cmd.poll), actor.device, cmd.choice, key, cmd.reason)
        if outcome is CastOutcome.REUSED:
            raise Refused(Code.ID_REUSED, f"command id {cmd_id!r} was already used for another choice")
        if outcome is CastOutcome.CLOSED:
            raise Refused(Code.POLL_CLOSED, f"poll {cmd.poll} is closed")
        if outcome is CastOutcome.OK:
            self.request_tally(room, cmd.poll)
        return ack(cmd_id, room.name, None)

    def request_tally(self, room: LiveRoom, poll: str) -> None:
        """Publish the poll's tally soon: at most one per TALLY_INTERVAL, always one after the last ask."""
        pacer = self._pacers.setdefault(poll_key(room.assembly, poll), _Pacer())
        pacer.dirty = True
        pacer.changed = time.monotonic()
        if pacer.task is None or pacer.task.done():
            pacer.task = asyncio.get_running_loop().create_task(self._pace(room, poll, pacer))

    async def _pace(self, room: LiveRoom, poll: str, pacer: _Pacer) -> None:
        """While ballots pour in, a tally every `spread` seconds: 50 ms in a hall of a few hundred,
        longer in a bigger one (each tally is a frame to every device in the hall, and 20 a second
        to 2,000 devices would starve the ballots themselves). Once they stop for TALLY_QUIET, the
        tally goes out at once (never sooner than TALLY_INTERVAL after the last), so the big
        screen shows the last vote within tens of milliseconds whatever the size of the hall."""
        while pacer.dirty:
            spread = min(1.0, max(TALLY_INTERVAL, len(room.subscribers) * TALLY_COST))
            due = max(pacer.last + TALLY_INTERVAL, min(pacer.last + spread, pacer.changed + TALLY_QUIET))
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # a ballot may have come in meanwhile: work out when again
            pacer.dirty = False
            try:
                await self._tally(room, poll)
            except Exception:
                log.exception("tally of %s in %s", poll, room.assembly)
            pacer.last = time.monotonic()

    async def _tally(self, room: LiveRoom, poll: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            count = await self.store.count(poll_key(room.assembly, poll))
            present = await self.store.members(room.assembly)
            # once closed, an adoption vote's objections are read out as anonymous statements
            statements = [] if count.open else await self.store.reasons(poll_key(room.assembly, poll))
            cmd = c.Tally(poll, tuple(count.counts), count.voters, present, tuple(statements))
            box = BoxChange(poll_key(room.assembly, poll), "tally", version=count.version)
            result = await self._decide_and_append(room, SYSTEM, "poll.tally", cmd, None, None, box)
            if result.outcome is not Outcome.STALE:
                return

    async def my_ballots(self, assembly: str, device: str) -> dict[str, int]:
        """The device's own choices in the hall's open polls, so a reload shows its vote."""
        hall = await self.live(assembly, HALL)
        mine: dict[str, int] = {}
        for poll in hall.model.hall.polls.values():
            if poll.open:
                choice = await self.store.ballot(poll_key(assembly, poll.id), device)
                if choice is not None:
                    mine[poll.id] = choice
        return mine

    # -- devices -------------------------------------------------------------------------------------

    def resume(self, room: LiveRoom, actor: Actor, since: Any, epoch: Any = None) -> dict[str, Any]:
        """A room's part of `welcome`: the events after `since` if this process still has them
        all and the device knew this epoch, else a snapshot. Call and subscribe with no await
        between, so nothing slips through."""
        part: dict[str, Any] = {"seq": room.seq, "epoch": self.epoch}
        if type(since) is int and 0 <= since <= room.seq and (epoch is None or epoch == self.epoch):
            if since == room.seq:
                return part | {"events": []}
            recent = room.recent
            if recent and recent[0]["seq"] <= since + 1 and room.seq - since <= self.settings.history:
                return part | {"events": [f for f in recent if f["seq"] > since]}
        return part | {"state": self._view(room, actor)}

    def resume_packed(self, room: LiveRoom, actor: Actor, since: Any, epoch: Any = None) -> bytes:
        """`resume`, packed; the hall's snapshot part is the same for every device at one seq, so
        it is packed once per seq."""
        part = self.resume(room, actor, since, epoch)
        if room.name != HALL or "state" not in part:
            return pack(part)
        at = (room.seq, self.epoch)
        if room.shared_part is None or room.shared_part[0] != at:
            room.shared_part = (at, pack(part))
        return room.shared_part[1]

    @staticmethod
    def _view(room: LiveRoom, actor: Actor) -> dict[str, Any]:
        """A room's snapshot for `actor`. The hall's is the same for every device, so it is built
        once per seq, not once per welcome: a hall reconnecting at once asks for it hundreds of
        times at the same seq."""
        if room.name != HALL:
            return room.model.view(actor)
        if room.shared_view is None or room.shared_view[0] != room.seq:
            room.shared_view = (room.seq, room.model.view(actor))
        return room.shared_view[1]

    # -- revoked devices -----------------------------------------------------------------------------

    async def revoke(self, assembly: str, device: str) -> None:
        """Shut a device out: stored for every process, and its sockets here closed now (other
        processes close theirs at their next presence check, within seconds)."""
        await self.store.revoke(assembly, device)
        self._revoked.setdefault(assembly, set()).add(device)
        self._close_revoked(assembly, {device})

    async def _read_revoked(self, assembly: str) -> set[str]:
        """The store's revoked devices of `assembly`, kept for `revoked_here`."""
        began = time.monotonic()
        revoked = await self.store.revoked(assembly)
        self._revoked[assembly] = revoked
        self._revoked_at[assembly] = began
        return revoked

    async def is_revoked(self, assembly: str, device: str) -> bool:
        """Whether a hello must be refused. A hall reconnecting at once reads the store once per
        REVOKED_FRESH, not once per device; a revoke on this process counts at once, one on
        another within that second (and its sockets here close at the next presence check)."""
        if time.monotonic() - self._revoked_at.get(assembly, -REVOKED_FRESH) >= REVOKED_FRESH:
            async with self._revoked_reads.setdefault(assembly, asyncio.Lock()):
                if time.monotonic() - self._revoked_at.get(assembly, -REVOKED_FRESH) >= REVOKED_FRESH:
                    await self._read_revoked(assembly)
        return device in self._revoked.get(assembly, ())

    def revoked_here(self, assembly: str, device: str) -> bool:
        """What this process last read: checked on every command, without a round trip."""
        return device in self._revoked.get(assembly, ())

    async def _enforce_revoked(self, assembly: str) -> None:
        self._close_revoked(assembly, await self._read_revoked(assembly))

    def _close_revoked(self, assembly: str, devices: set[str]) -> None:
        for device in devices:
            for outbox in list(self._sockets.get((assembly, device), ())):
                outbox.close_soon(CLOSE_REVOKED, "revoked: this device was removed by the facilitator")

    # -- presence: which tables have devices connected, for the facilitator's grid ------------------

    def connected(self, assembly: str, actor: Actor, outbox: Subscriber) -> None:
        """A device said hello on this process."""
        self._sockets.setdefault((assembly, actor.device), set()).add(outbox)
        if actor.seated and actor.table is not None:
            devices = self._seated.setdefault(assembly, {}).setdefault(actor.table, {})
            devices[actor.device] = devices.get(actor.device, 0) + 1
        elif actor.role is Role.FACILITATOR:
            self._watchers.setdefault(assembly, set()).add(outbox)
            self._presence_sent.pop(assembly, None)  # the newcomer needs the current picture
        self._presence_soon(assembly)

    def disconnected(self, assembly: str, actor: Actor, outbox: Subscriber) -> None:
        sockets = self._sockets.get((assembly, actor.device), set())
        sockets.discard(outbox)
        if not sockets:
            self._sockets.pop((assembly, actor.device), None)
        if actor.seated and actor.table is not None:
            devices = self._seated.get(assembly, {}).get(actor.table, {})
            devices[actor.device] = devices.get(actor.device, 1) - 1
            if devices.get(actor.device, 0) <= 0:
                devices.pop(actor.device, None)
        self._watchers.get(assembly, set()).discard(outbox)
        self._presence_soon(assembly)

    def _presence_soon(self, assembly: str) -> None:
        """Publish `assembly`'s presence once for any number of connects and disconnects meanwhile:
        a whole hall reconnecting at once costs one report, not hundreds."""
        self._presence_dirty.add(assembly)
        if self._presence_flush is None or self._presence_flush.done():
            self._presence_flush = asyncio.get_running_loop().create_task(self._flush_presence())

    async def _flush_presence(self) -> None:
        """Report dirty assemblies one after another. A report walks every device of its
        assembly, so a huge hall reconnecting would spend its time reporting itself half-connected:
        the pause before the next report grows with what the last one cost, keeping reports to
        PRESENCE_SHARE of the process's time (a hall of 160 is reported every PRESENCE_EVERY)."""
        while self._presence_dirty:
            await asyncio.sleep(max(PRESENCE_EVERY, self._presence_next - time.monotonic()))
            assembly = self._presence_dirty.pop()
            began = time.monotonic()
            try:
                await self._publish_presence(assembly)
            except Exception:
                log.exception("presence of %s", assembly)
            cost = time.monotonic() - began
            self._presence_next = time.monotonic() + cost * (1 - PRESENCE_SHARE) / PRESENCE_SHARE

    async def _publish_presence(self, assembly: str) -> None:
        """Report this process's counts, and tell its facilitators the hall's, if they changed."""
        now = self.clock()
        tables = self._seated.get(assembly, {})
        await self.store.report_presence(assembly, self.process, {t: list(d) for t, d in tables.items() if d}, now)
        watchers = self._watchers.get(assembly)
        if not watchers:
            return
        seated = await self.store.presence(assembly, now)
        total = {table: len(devices) for table, devices in seated.items()}
        if self._presence_sent.get(assembly) != seated:
            self._presence_sent[assembly] = seated
            devices = {table: [{"device": d, "label": device_label(d)} for d in ds] for table, ds in seated.items()}
            frame = pack({"t": "presence", "tables": total, "devices": devices, "now": self.now()})
            for watcher in list(watchers):
                watcher.deliver(frame)

    async def presence_loop(self, every: float = 3.0) -> None:
        """Keep every process's report fresh and the facilitators' picture current (and, while at
        it, notice a store that lost its history even if no fan-out connection broke)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.check_epoch()
            except Exception:
                log.exception("checking the store's epoch")
            for assembly in set(self._seated) | set(self._watchers) | {a for a, _ in self._sockets}:
                try:
                    await self._enforce_revoked(assembly)
                    await self._publish_presence(assembly)
                except Exception:
                    log.exception("presence of %s", assembly)

    def start(self) -> None:
        self._presence_task = asyncio.get_running_loop().create_task(self.presence_loop())

    async def close(self) -> None:
        for task in (self._presence_task, self._presence_flush):
            if task is not None:
                task.cancel()
        for pacer in self._pacers.values():
            if pacer.task is not None:
                pacer.task.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *(p.task for p in self._pacers.values() if p.task),
                             *(t for t in (self._presence_task, self._presence_flush) if t), return_exceptions=True)
