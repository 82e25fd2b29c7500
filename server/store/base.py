"""The storage port: per-room append-only logs, exactly-once keys, snapshots, ballot boxes,
the assembly registry, and the fan-out of appended events to every server process.

Two backends implement it with the same behaviour (one contract test suite runs on both):
`sqlite.SqliteStore` (the embedded default, one process) and `redis.RedisStore` (many processes
sharing one Redis). The store knows nothing of notes or polls: an event is an opaque blob, a
room and a poll are keys. Every method that writes returns only once the write is stored.

Appends are conditional (`expect`: the seq the caller's decision was made on): that single
compare-and-append is what keeps every rule true across processes. A caller that gets
`conflict` catches up from the log and decides again.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

Listener = Callable[[str, bytes], None]  # (room key, event blob), called on the event loop
ReconnectListener = Callable[[], Awaitable[None]]
log = logging.getLogger("samling.store")


class Outcome(StrEnum):
    OK = "ok"  # appended: seq is the last new event's
    DUPLICATE = "duplicate"  # the key was seen: seq is what it was acked with
    CONFLICT = "conflict"  # the log moved past `expect`: seq is the head now
    STALE = "stale"  # a tally read before a newer ballot: count again
    UNCHANGED = "unchanged"  # a tally of what was already tallied: nothing to add


@dataclass(frozen=True, slots=True)
class Appended:
    outcome: Outcome
    seq: int
    digest: str = ""  # DUPLICATE: the digest the key was first stored with ("" if none was given)


@dataclass(frozen=True, slots=True)
class BoxChange:
    """A change to a poll's ballot box made atomically with an append to the hall's log."""

    poll: str
    action: Literal["open", "close", "tally", "touch"]  # touch: the counts changed outside the box (paper)
    options: int = 0  # open: how many choices
    version: int = 0  # tally: the box version the counts were read at


@dataclass(frozen=True, slots=True)
class Count:
    counts: list[int]
    voters: int
    version: int  # rises with every ballot changed (and at close)
    open: bool


@dataclass(frozen=True, slots=True)
class Box:
    """A poll's ballot box in full, as a backup carries it and a restore puts it back."""

    open: bool
    options: int
    version: int
    tallied: int  # the version the last tally was appended at (-1: none yet)
    ballots: dict[str, int]  # device -> its current choice
    keys: dict[str, int | None]  # exactly-once key of a cast -> its choice (None: kept by an older version)
    reasons: dict[str, str] = field(default_factory=dict)  # device -> the reason its ballot carries


class CastOutcome(StrEnum):
    OK = "ok"
    DUPLICATE = "duplicate"  # the key was seen with this same choice: nothing changed
    REUSED = "reused"  # the key was seen with another choice: refuse, nothing changed
    CLOSED = "closed"


def check_history(head: int, events: list[tuple[int, bytes]], snapshot: tuple[int, bytes] | None) -> None:
    """ValueError unless a room's history to import holds together: seqs rising from 1, none
    past the head, a snapshot at or below it (a log may skip seqs only where the store restored
    the room from a snapshot, see `Store.restore`)."""
    last = 0
    for seq, _ in events:
        if seq <= last:
            raise ValueError(f"event seqs must rise from 1: {seq} after {last}")
        last = seq
    if last > head or (snapshot is not None and not 0 < snapshot[0] <= head):
        raise ValueError(f"head {head} is behind its events or its snapshot")


def split_ack(value: str) -> tuple[int, str]:
    """An exactly-once key's stored value, "seq" or "seq:digest", as (seq, digest)."""
    seq, _, digest = value.partition(":")
    return int(seq), digest


def same_payload(stored: str, given: str) -> bool:
    """Whether a resend carries what the first copy did. An empty digest (a key kept by an older
    version, or the server's own follow-ups) matches anything: it cannot be told apart."""
    return not stored or not given or stored == given


class Store(ABC):
    """One interface, several backends (see the module docstring)."""

    name: str = "store"

    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}
        self._presence: dict[str, dict[str, tuple[float, dict[str, list[str]]]]] = {}  # in-process backends
        self.on_reconnect: ReconnectListener | None = None

    # -- life
    async def start(self) -> None:
        """Open connections, create what is missing. Must be awaited before any other call."""

    async def close(self) -> None:
        """Release everything; the store may not be used again."""

    # -- settings and the registry
    @abstractmethod
    async def setting(self, key: str, default: str) -> str:
        """The value kept under `key`, storing `default` first if there is none (set-if-absent)."""

    @abstractmethod
    async def replace_setting(self, key: str, old: str, new: str) -> str:
        """Set `key` to `new` if it is `old` or absent (compare-and-set); the value now."""

    @abstractmethod
    async def create_assembly(self, assembly: str, record: dict[str, Any], codes: dict[str, dict[str, Any]]) -> bool:
        """Keep a new assembly and its join codes; False (and nothing kept) if any code is taken."""

    @abstractmethod
    async def assembly(self, assembly: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def assemblies(self) -> list[str]: ...

    @abstractmethod
    async def lookup_code(self, code: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def add_member(self, assembly: str, device: str) -> int:
        """Count `device` as a member of `assembly`; the number of members now."""

    @abstractmethod
    async def members(self, assembly: str) -> int: ...

    # -- logs
    @abstractmethod
    async def head(self, room: str) -> int:
        """The seq of the room's last event (0 for an empty log)."""

    @abstractmethod
    async def read(self, room: str, after: int, limit: int = 1000) -> list[bytes]:
        """Up to `limit` event blobs with seq after+1, after+2, ... in order."""

    @abstractmethod
    async def append(self, room: str, expect: int, blobs: list[bytes], key: str | None = None,
                     box: BoxChange | None = None, digest: str = "") -> Appended:
        """Append `blobs` as seq expect+1.. if the head is `expect`, keeping `key` (exactly-once)
        with `digest` (what the command said, so a reused id with other args can be told); then
        fan them out to every process's listeners of `room`."""

    @abstractmethod
    async def acked(self, room: str, key: str) -> tuple[int, str] | None:
        """The (seq, digest) a command key was acked with, if it was."""

    @abstractmethod
    async def restore(self, room: str, seq: int, blob: bytes, epoch: str) -> bool:
        """Give a room whose log the store lost (or cut short) a new start in `epoch`: head `seq`
        and a snapshot at `seq`, only if its head is below `seq`, and, if it was restored in this
        epoch already, only if nothing was appended since. So of several processes restoring it,
        the one furthest ahead wins, and no event of the new epoch is ever overwritten. True if
        this call restored it."""

    @abstractmethod
    async def snapshot(self, room: str) -> tuple[int, bytes] | None: ...

    @abstractmethod
    async def save_snapshot(self, room: str, seq: int, blob: bytes) -> None:
        """Keep a snapshot of the room at `seq` (an older one never replaces a newer one)."""

    # -- ballot boxes
    @abstractmethod
    async def cast(self, poll: str, device: str, choice: int, key: str, reason: str | None = None) -> CastOutcome:
        """Put `device`'s ballot for `choice` in the box (replacing its earlier one), once per key;
        the same key again with another choice is REUSED and changes nothing. `reason` is an
        objection's reason (adoption votes): kept with the ballot, in the same atomic step, and
        dropped when the device's next ballot carries none."""

    @abstractmethod
    async def reasons(self, poll: str) -> list[str]:
        """The reasons of the ballots now in the box, sorted (so no order links one to a device):
        the minority statements of an adoption vote."""

    @abstractmethod
    async def ballot(self, poll: str, device: str) -> int | None:
        """`device`'s own current choice: only ever shown back to that device."""

    @abstractmethod
    async def count(self, poll: str) -> Count: ...

    # -- presence: who is connected, shared between processes, never stored for long
    async def report_presence(self, assembly: str, process: str, seated: dict[str, list[str]], now: float) -> None:
        """Keep this process's connected devices of `assembly` (table id -> device ids)."""
        self._presence.setdefault(assembly, {})[process] = (now, {t: list(d) for t, d in seated.items()})

    async def presence(self, assembly: str, now: float, fresh: float = 15.0) -> dict[str, list[str]]:
        """Connected devices per table of `assembly` (sorted device ids): a device counts once
        however many sockets and processes it has; a process that stopped reporting `fresh`
        seconds ago stops counting."""
        return _union(self._presence.get(assembly, {}).values(), now, fresh)

    # -- revoked devices: kept for the life of the assembly
    @abstractmethod
    async def revoke(self, assembly: str, device: str) -> None:
        """Shut `device` out of `assembly` for good."""

    @abstractmethod
    async def revoked(self, assembly: str) -> set[str]: ...

    async def forget_presence(self, assembly: str) -> None:
        """Drop every process's report of `assembly` (they report again within seconds if live)."""
        self._presence.pop(assembly, None)

    # -- the record: what a backup reads and a restore writes (server/backup.py)
    @abstractmethod
    async def member_devices(self, assembly: str) -> list[str]:
        """The devices counted as members of `assembly` (`add_member`), sorted."""

    @abstractmethod
    async def acks(self, room: str) -> dict[str, tuple[int, str]]:
        """Every exactly-once key of the room, with the (seq, digest) `acked` would answer."""

    @abstractmethod
    async def boxes(self, prefix: str) -> list[str]:
        """The polls of every ballot box whose poll key starts with `prefix`, sorted."""

    @abstractmethod
    async def box(self, poll: str) -> Box | None:
        """The whole ballot box of `poll`, or None if it was never opened."""

    @abstractmethod
    async def import_room(self, room: str, head: int, events: list[tuple[int, bytes]],
                          acks: dict[str, tuple[int, str]], snapshot: tuple[int, bytes] | None) -> bool:
        """Give a room that was never used (no event, key or snapshot) a history from a backup:
        the (seq, blob) events at their seqs, the head, the exactly-once keys and the snapshot,
        so appends go on at head+1 and a resend of an imported key is DUPLICATE. Nothing is
        fanned out: no process listens to a room of an assembly that is not in the registry
        yet (a restore keeps the registry for last). False, and nothing kept, if the room was
        used; ValueError if the history does not hold together (`check_history`)."""

    @abstractmethod
    async def import_box(self, poll: str, box: Box) -> bool:
        """Put back a ballot box from a backup, if `poll` never had one; False (nothing kept) if it did."""

    # -- fan-out
    async def listen(self, room: str, listener: Listener) -> None:
        """Call `listener` with every blob appended to `room` from now on, by any process."""
        first = room not in self._listeners
        self._listeners.setdefault(room, set()).add(listener)
        if first:
            await self._subscribe(room)

    async def unlisten(self, room: str, listener: Listener) -> None:
        listeners = self._listeners.get(room)
        if listeners is None:
            return
        listeners.discard(listener)
        if not listeners:
            del self._listeners[room]
            await self._unsubscribe(room)

    def _deliver(self, room: str, blob: bytes) -> None:
        for listener in list(self._listeners.get(room, ())):
            try:
                listener(room, blob)
            except Exception:  # a listener's bug must not look like a failed (but stored) append
                log.exception("listener of %s failed", room)

    async def _subscribe(self, room: str) -> None:
        """Backends that fan out across processes start receiving `room` here."""

    async def _unsubscribe(self, room: str) -> None: ...


def _union(reports: Any, now: float, fresh: float) -> dict[str, list[str]]:
    """Join (at, {table: [device]}) reports from processes into the devices of each table."""
    seen: dict[str, set[str]] = {}
    for at, seated in reports:
        if now - at <= fresh:
            for table, devices in seated.items():
                seen.setdefault(table, set()).update(devices)
    return {table: sorted(devices) for table, devices in seen.items() if devices}


def open_store(db: str | None, redis_url: str | None) -> Store:
    """The backend the settings ask for: Redis when a URL is given, else SQLite at `db`."""
    if redis_url:
        from .redis import RedisStore

        return RedisStore(redis_url)
    from .sqlite import SqliteStore

    return SqliteStore(db or "samling.db")
