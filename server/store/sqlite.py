"""The embedded store: one SQLite file (WAL), written from one thread, fanned out in-process.

SQLite calls block, so they run on a single worker thread with one connection: the event loop
never waits on the disk, and one writer means transactions never contend. `synchronous=NORMAL`
in WAL mode makes a committed transaction survive a crash of the process (the protocol's
promise); `SAMLING_SQLITE_SYNC=FULL` also survives the machine losing power, at a cost per write.

Writes are group-committed: every write asked for while the worker is busy waits for the next
batch, and a batch is one transaction (a write that fails is rolled back alone, see `_batch`).
Nobody hears "done" before the batch's COMMIT, so an ack still means stored; what a busy hall
saves is a thread hand-over and a commit per note (docs/performance.md).

An append is the hot path (every note a tablet adds), so it asks SQLite as little as it can: the
ack row (with its digest) goes in first and its PRIMARY KEY says whether the key was seen; the
head moves by a compare-and-set UPDATE that says whether the log was where the caller thought;
then the events go in. Three statements, no SELECT, and nothing cached: the file is the truth,
also when another process (`samling assembly create`) appends to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .base import Appended, Box, BoxChange, CastOutcome, Count, Outcome, Store, check_history

T = TypeVar("T")
Write = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]"]  # a write asked for, and its answer

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assemblies (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS codes (code TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (assembly TEXT, device TEXT, PRIMARY KEY (assembly, device)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (room TEXT, seq INTEGER, blob BLOB NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heads (room TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS acks (room TEXT, key TEXT, seq INTEGER, digest TEXT, PRIMARY KEY (room, key)) WITHOUT ROWID;
-- where versions before acks.digest kept the digests: read, never written
CREATE TABLE IF NOT EXISTS ack_digests (room TEXT, key TEXT, digest TEXT, PRIMARY KEY (room, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (room TEXT PRIMARY KEY, seq INTEGER NOT NULL, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS restored (room TEXT PRIMARY KEY, epoch TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS revoked (assembly TEXT, device TEXT, PRIMARY KEY (assembly, device)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS boxes (poll TEXT PRIMARY KEY, open INTEGER, options INTEGER,
                                  version INTEGER, tallied INTEGER);
CREATE TABLE IF NOT EXISTS ballots (poll TEXT, device TEXT, choice INTEGER, PRIMARY KEY (poll, device)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ballot_keys (poll TEXT, key TEXT, PRIMARY KEY (poll, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ballot_choices (poll TEXT, key TEXT, choice INTEGER, PRIMARY KEY (poll, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ballot_reasons (poll TEXT, device TEXT, reason TEXT,
                                           PRIMARY KEY (poll, device)) WITHOUT ROWID;
"""


class SqliteStore(Store):
    name = "sqlite"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="samling-sqlite")
        self._db: sqlite3.Connection | None = None
        self._cur: sqlite3.Cursor | None = None  # the appends' own: db.execute makes a cursor a call
        self._writes: list[Write] = []
        self._writing = False

    # -- plumbing
    def _open(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        sync = os.environ.get("SAMLING_SQLITE_SYNC", "NORMAL").upper()
        db.execute(f"PRAGMA synchronous={'FULL' if sync == 'FULL' else 'NORMAL'}")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        db.execute("BEGIN IMMEDIATE")  # two processes opening one old file: one adds the column
        try:
            if "digest" not in {row[1] for row in db.execute("PRAGMA table_info(acks)")}:
                db.execute("ALTER TABLE acks ADD COLUMN digest TEXT")  # NULL: see ack_digests
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._db, self._cur = db, db.cursor()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one immediate transaction on the worker thread."""
        db = self._db
        assert db is not None, "SqliteStore.start() was not awaited"
        db.execute("BEGIN IMMEDIATE")
        try:
            out = fn(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return out

    async def _tx_async(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in the next batch of writes (see the module docstring); its result once the
        batch is committed. `fn` may run twice (see `_batch`): it must depend on nothing but its
        arguments and the file, and change nothing but the file."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._writes.append((fn, done))
        if not self._writing:
            self._writing = True
            loop.call_soon(self._next_batch, loop)  # after this turn: what else it asks joins in
        return await done

    # A batch goes to the worker and its outcomes come back by plain callbacks (no task, no
    # wrapped concurrent future): when writes come one at a time, that hand-over is most of what
    # a write costs the process.
    def _next_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop: give the writes asked so far to the worker as one batch, or stop."""
        batch, self._writes = self._writes, []
        if not batch:
            self._writing = False
            return
        try:
            self._pool.submit(self._write_batch, loop, batch)
        except BaseException as e:  # the store was closed
            self._batch_done(loop, batch, [(False, e)] * len(batch))

    def _write_batch(self, loop: asyncio.AbstractEventLoop, batch: list[Write]) -> None:
        """On the worker: the batch, then its outcomes to the loop."""
        try:
            outcomes = self._batch([fn for fn, _ in batch])
        except BaseException as e:  # the COMMIT itself failed: nothing of the batch is kept
            outcomes = [(False, e)] * len(batch)
        loop.call_soon_threadsafe(self._batch_done, loop, batch, outcomes)

    def _batch_done(self, loop: asyncio.AbstractEventLoop, batch: list[Write],
                    outcomes: list[tuple[bool, Any]]) -> None:
        """On the loop: tell each write its outcome (only now: the batch is committed), then the next."""
        for (_, done), (ok, value) in zip(batch, outcomes, strict=True):
            if not done.done():
                done.set_result(value) if ok else done.set_exception(value)
        self._next_batch(loop)

    def _batch(self, fns: list[Callable[[sqlite3.Connection], Any]]) -> list[tuple[bool, Any]]:
        """One transaction on the worker thread. The writes run back to back: a savepoint around
        each would cost two statements a write, for a failure that hardly ever comes (a write
        that refuses returns its refusal, it does not raise). When one does raise, the whole
        transaction is rolled back and the batch run again with a savepoint per write, so that
        write fails alone; nobody has seen a result of the first try."""
        db = self._db
        assert db is not None, "SqliteStore.start() was not awaited"
        if len(fns) == 1:
            try:
                return [(True, self._tx(fns[0]))]
            except Exception as e:
                return [(False, e)]
        db.execute("BEGIN IMMEDIATE")
        try:
            outcomes: list[tuple[bool, Any]] = [(True, fn(db)) for fn in fns]
        except Exception:
            if db.in_transaction:  # some errors (SQLITE_FULL, IOERR) end the transaction themselves
                db.execute("ROLLBACK")
            return self._batch_apart(db, fns)
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return outcomes

    @staticmethod
    def _batch_apart(db: sqlite3.Connection, fns: list[Callable[[sqlite3.Connection], Any]]) -> list[tuple[bool, Any]]:
        """One transaction, a savepoint per write: a write that raises is rolled back alone."""
        outcomes: list[tuple[bool, Any]] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for fn in fns:
                db.execute("SAVEPOINT write")
                try:
                    outcomes.append((True, fn(db)))
                    db.execute("RELEASE write")
                except Exception as e:
                    db.execute("ROLLBACK TO write")
                    db.execute("RELEASE write")
                    outcomes.append((False, e))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return outcomes

    async def start(self) -> None:
        await self._run(self._open)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = self._cur = None
        self._pool.shutdown(wait=True)

    # -- settings and the registry
    async def setting(self, key: str, default: str) -> str:
        def go(db: sqlite3.Connection) -> str:
            db.execute("INSERT OR IGNORE INTO settings VALUES (?, ?)", (key, default))
            return str(db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()[0])
        return await self._tx_async(go)

    async def replace_setting(self, key: str, old: str, new: str) -> str:
        def go(db: sqlite3.Connection) -> str:
            db.execute("INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value "
                       "WHERE settings.value = ?", (key, new, old))
            return str(db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()[0])
        return await self._tx_async(go)

    async def create_assembly(self, assembly: str, record: dict[str, Any], codes: dict[str, dict[str, Any]]) -> bool:
        def go(db: sqlite3.Connection) -> bool:
            marks = ",".join("?" * len(codes))
            if codes and db.execute(f"SELECT 1 FROM codes WHERE code IN ({marks})", list(codes)).fetchone():
                return False
            db.execute("INSERT INTO assemblies VALUES (?, ?)", (assembly, json.dumps(record)))
            db.executemany("INSERT INTO codes VALUES (?, ?)", [(k, json.dumps(v)) for k, v in codes.items()])
            return True
        return await self._tx_async(go)

    async def assembly(self, assembly: str) -> dict[str, Any] | None:
        return await self._json("SELECT data FROM assemblies WHERE id = ?", assembly)

    async def assemblies(self) -> list[str]:
        def go(db: sqlite3.Connection) -> list[str]:
            return [r[0] for r in db.execute("SELECT id FROM assemblies ORDER BY rowid")]
        return await self._tx_async(go)

    async def lookup_code(self, code: str) -> dict[str, Any] | None:
        return await self._json("SELECT data FROM codes WHERE code = ?", code)

    async def _json(self, sql: str, arg: str) -> dict[str, Any] | None:
        def go(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute(sql, (arg,)).fetchone()
            return None if row is None else dict(json.loads(row[0]))
        return await self._run(lambda: go(self._conn()))

    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None, "SqliteStore.start() was not awaited"
        return self._db

    async def add_member(self, assembly: str, device: str) -> int:
        def go(db: sqlite3.Connection) -> int:
            db.execute("INSERT OR IGNORE INTO members VALUES (?, ?)", (assembly, device))
            return int(db.execute("SELECT count(*) FROM members WHERE assembly = ?", (assembly,)).fetchone()[0])
        return await self._tx_async(go)

    async def members(self, assembly: str) -> int:
        def go() -> int:
            sql = "SELECT count(*) FROM members WHERE assembly = ?"
            return int(self._conn().execute(sql, (assembly,)).fetchone()[0])
        return await self._run(go)

    async def revoke(self, assembly: str, device: str) -> None:
        def go(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR IGNORE INTO revoked VALUES (?, ?)", (assembly, device))
        await self._tx_async(go)

    async def revoked(self, assembly: str) -> set[str]:
        def go() -> set[str]:
            return {r[0] for r in self._conn().execute("SELECT device FROM revoked WHERE assembly = ?", (assembly,))}
        return await self._run(go)

    # -- logs
    @staticmethod
    def _head(db: sqlite3.Connection, room: str) -> int:
        row = db.execute("SELECT seq FROM heads WHERE room = ?", (room,)).fetchone()
        return 0 if row is None else int(row[0])

    async def head(self, room: str) -> int:
        return await self._run(lambda: self._head(self._conn(), room))

    async def read(self, room: str, after: int, limit: int = 1000) -> list[bytes]:
        def go() -> list[bytes]:
            rows = self._conn().execute(
                "SELECT blob FROM events WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?", (room, after, limit))
            return [bytes(r[0]) for r in rows]
        return await self._run(go)

    async def append(self, room: str, expect: int, blobs: list[bytes], key: str | None = None,
                     box: BoxChange | None = None, digest: str = "") -> Appended:
        result = await self._tx_async(lambda db: self._append(db, room, expect, blobs, key, box, digest))
        if result.outcome is Outcome.OK:
            for blob in blobs:
                self._deliver(room, blob)
        return result

    def _append(self, db: sqlite3.Connection, room: str, expect: int, blobs: list[bytes], key: str | None,
                box: BoxChange | None, digest: str) -> Appended:
        """The append's outcome, in the order of the contract: a key seen is DUPLICATE (whatever
        `expect`), then a head other than `expect` is CONFLICT, then the box may refuse. Without
        a box, the constraints answer the first two as the rows go in (the module docstring); a
        box change is rare and asks first, as it must not change the box of a refused append."""
        cur = self._cur
        assert cur is not None, "SqliteStore.start() was not awaited"
        if box is not None:
            refused = self._refusal(db, room, expect, key, box)
            if refused is not None:
                return refused
        head = expect + len(blobs)
        if key is not None:
            try:
                cur.execute("INSERT INTO acks VALUES (?, ?, ?, ?)", (room, key, head, digest))
            except sqlite3.IntegrityError:
                seen = self._acked(db, room, key)
                if seen is None:
                    raise
                return Appended(Outcome.DUPLICATE, *seen)
        # The head moves only from `expect`: heads, not the events table, is the truth (a restore
        # moves a head past its events). A room without a row is at 0.
        if expect == 0:
            moved = cur.execute("INSERT INTO heads VALUES (?, ?) ON CONFLICT (room) DO UPDATE SET seq = excluded.seq "
                                "WHERE heads.seq = 0", (room, head)).rowcount
        else:
            moved = cur.execute("UPDATE heads SET seq = ? WHERE room = ? AND seq = ?", (head, room, expect)).rowcount
        if moved != 1:
            if key is not None:  # the ack row just inserted: this append keeps nothing
                db.execute("DELETE FROM acks WHERE room = ? AND key = ?", (room, key))
            return Appended(Outcome.CONFLICT, self._head(db, room))
        if len(blobs) == 1:
            cur.execute("INSERT INTO events VALUES (?, ?, ?)", (room, head, blobs[0]))
        elif blobs:
            cur.executemany("INSERT INTO events VALUES (?, ?, ?)",
                            [(room, expect + i, blob) for i, blob in enumerate(blobs, 1)])
        return Appended(Outcome.OK, head)

    @classmethod
    def _refusal(cls, db: sqlite3.Connection, room: str, expect: int, key: str | None,
                 box: BoxChange) -> Appended | None:
        """An append with a box change, asked in order before anything is written: the refusal,
        or None with the box changed (the rest of the append then cannot be refused)."""
        if key is not None:
            seen = cls._acked(db, room, key)
            if seen is not None:
                return Appended(Outcome.DUPLICATE, *seen)
        head = cls._head(db, room)
        if head != expect:
            return Appended(Outcome.CONFLICT, head)
        refusal = cls._change_box(db, box)
        return None if refusal is None else Appended(refusal, head)

    @staticmethod
    def _change_box(db: sqlite3.Connection, box: BoxChange) -> Outcome | None:
        if box.action == "open":
            db.execute("INSERT OR REPLACE INTO boxes VALUES (?, 1, ?, 0, -1)", (box.poll, box.options))
            return None
        if box.action == "close":
            db.execute("UPDATE boxes SET open = 0, version = version + 1 WHERE poll = ?", (box.poll,))
            return None
        if box.action == "touch":
            db.execute("UPDATE boxes SET version = version + 1 WHERE poll = ?", (box.poll,))
            return None
        row = db.execute("SELECT version, tallied FROM boxes WHERE poll = ?", (box.poll,)).fetchone()
        version, tallied = (0, -1) if row is None else (int(row[0]), int(row[1]))
        if version != box.version:
            return Outcome.STALE
        if tallied == version:
            return Outcome.UNCHANGED
        db.execute("UPDATE boxes SET tallied = ? WHERE poll = ?", (version, box.poll))
        return None

    @staticmethod
    def _acked(db: sqlite3.Connection, room: str, key: str) -> tuple[int, str] | None:
        """A key's (seq, digest). Its digest is in acks, or NULL there and in ack_digests when an
        older version stored the key (a key stored without a digest has "")."""
        row = db.execute("SELECT a.seq, coalesce(a.digest, d.digest, '') FROM acks a LEFT JOIN ack_digests d "
                         "ON d.room = a.room AND d.key = a.key WHERE a.room = ? AND a.key = ?", (room, key)).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    async def acked(self, room: str, key: str) -> tuple[int, str] | None:
        return await self._run(lambda: self._acked(self._conn(), room, key))

    async def restore(self, room: str, seq: int, blob: bytes, epoch: str) -> bool:
        def go(db: sqlite3.Connection) -> bool:
            head = self._head(db, room)
            last = db.execute("SELECT epoch, seq FROM restored WHERE room = ?", (room,)).fetchone()
            if head >= seq or (last is not None and last[0] == epoch and last[1] != head):
                return False
            db.execute("INSERT OR REPLACE INTO restored VALUES (?, ?, ?)", (room, epoch, seq))
            db.execute("INSERT OR REPLACE INTO heads VALUES (?, ?)", (room, seq))
            db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", (room, seq, blob))
            return True
        return await self._tx_async(go)

    async def snapshot(self, room: str) -> tuple[int, bytes] | None:
        def go() -> tuple[int, bytes] | None:
            row = self._conn().execute("SELECT seq, blob FROM snapshots WHERE room = ?", (room,)).fetchone()
            return None if row is None else (int(row[0]), bytes(row[1]))
        return await self._run(go)

    async def save_snapshot(self, room: str, seq: int, blob: bytes) -> None:
        def go(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO snapshots VALUES (?, ?, ?) ON CONFLICT (room) DO UPDATE "
                       "SET seq = excluded.seq, blob = excluded.blob WHERE excluded.seq > snapshots.seq",
                       (room, seq, blob))
        await self._tx_async(go)

    # -- ballot boxes
    async def cast(self, poll: str, device: str, choice: int, key: str, reason: str | None = None) -> CastOutcome:
        def go(db: sqlite3.Connection) -> CastOutcome:
            if db.execute("SELECT 1 FROM ballot_keys WHERE poll = ? AND key = ?", (poll, key)).fetchone():
                sql = "SELECT choice FROM ballot_choices WHERE poll = ? AND key = ?"
                first = db.execute(sql, (poll, key)).fetchone()
                return CastOutcome.REUSED if first is not None and int(first[0]) != choice else CastOutcome.DUPLICATE
            row = db.execute("SELECT open FROM boxes WHERE poll = ?", (poll,)).fetchone()
            if row is None or not row[0]:
                return CastOutcome.CLOSED
            prev = db.execute("SELECT choice FROM ballots WHERE poll = ? AND device = ?", (poll, device)).fetchone()
            if prev is None or int(prev[0]) != choice:
                db.execute("INSERT OR REPLACE INTO ballots VALUES (?, ?, ?)", (poll, device, choice))
                db.execute("UPDATE boxes SET version = version + 1 WHERE poll = ?", (poll,))
            if reason is None:
                db.execute("DELETE FROM ballot_reasons WHERE poll = ? AND device = ?", (poll, device))
            else:
                db.execute("INSERT OR REPLACE INTO ballot_reasons VALUES (?, ?, ?)", (poll, device, reason))
            db.execute("INSERT INTO ballot_keys VALUES (?, ?)", (poll, key))
            db.execute("INSERT INTO ballot_choices VALUES (?, ?, ?)", (poll, key, choice))
            return CastOutcome.OK
        return await self._tx_async(go)

    async def reasons(self, poll: str) -> list[str]:
        def go() -> list[str]:
            sql = "SELECT reason FROM ballot_reasons WHERE poll = ? ORDER BY reason"
            return [str(r[0]) for r in self._conn().execute(sql, (poll,))]
        return await self._run(go)

    async def ballot(self, poll: str, device: str) -> int | None:
        def go() -> int | None:
            sql = "SELECT choice FROM ballots WHERE poll = ? AND device = ?"
            row = self._conn().execute(sql, (poll, device)).fetchone()
            return None if row is None else int(row[0])
        return await self._run(go)

    async def count(self, poll: str) -> Count:
        def go(db: sqlite3.Connection) -> Count:
            row = db.execute("SELECT options, version, open FROM boxes WHERE poll = ?", (poll,)).fetchone()
            if row is None:
                return Count([], 0, 0, False)
            counts = [0] * int(row[0])
            for choice, n in db.execute("SELECT choice, count(*) FROM ballots WHERE poll = ? GROUP BY choice",
                                        (poll,)):
                if 0 <= choice < len(counts):
                    counts[choice] = int(n)
            return Count(counts, sum(counts), int(row[1]), bool(row[2]))
        return await self._tx_async(go)

    # -- the record (server/backup.py)
    async def member_devices(self, assembly: str) -> list[str]:
        def go() -> list[str]:
            sql = "SELECT device FROM members WHERE assembly = ? ORDER BY device"
            return [r[0] for r in self._conn().execute(sql, (assembly,))]
        return await self._run(go)

    async def acks(self, room: str) -> dict[str, tuple[int, str]]:
        def go() -> dict[str, tuple[int, str]]:
            rows = self._conn().execute(
                "SELECT a.key, a.seq, coalesce(a.digest, d.digest, '') FROM acks a LEFT JOIN ack_digests d "
                "ON d.room = a.room AND d.key = a.key WHERE a.room = ?", (room,))
            return {str(key): (int(seq), str(digest)) for key, seq, digest in rows}
        return await self._run(go)

    async def boxes(self, prefix: str) -> list[str]:
        def go() -> list[str]:
            sql = "SELECT poll FROM boxes WHERE substr(poll, 1, ?) = ? ORDER BY poll"
            return [r[0] for r in self._conn().execute(sql, (len(prefix), prefix))]
        return await self._run(go)

    async def box(self, poll: str) -> Box | None:
        def go(db: sqlite3.Connection) -> Box | None:  # in a transaction: the box and its ballots at one instant
            row = db.execute("SELECT open, options, version, tallied FROM boxes WHERE poll = ?", (poll,)).fetchone()
            if row is None:
                return None
            ballots = {str(d): int(c) for d, c in db.execute("SELECT device, choice FROM ballots WHERE poll = ?",
                                                             (poll,))}
            keys = {str(k): None if c is None else int(c) for k, c in db.execute(
                "SELECT k.key, c.choice FROM ballot_keys k LEFT JOIN ballot_choices c "
                "ON c.poll = k.poll AND c.key = k.key WHERE k.poll = ?", (poll,))}
            reasons = {str(d): str(r) for d, r in db.execute(
                "SELECT device, reason FROM ballot_reasons WHERE poll = ?", (poll,))}
            return Box(bool(row[0]), int(row[1]), int(row[2]), int(row[3]), ballots, keys, reasons)
        return await self._tx_async(go)

    async def import_room(self, room: str, head: int, events: list[tuple[int, bytes]],
                          acks: dict[str, tuple[int, str]], snapshot: tuple[int, bytes] | None) -> bool:
        check_history(head, events, snapshot)

        def go(db: sqlite3.Connection) -> bool:
            if self._head(db, room) or any(
                    db.execute(f"SELECT 1 FROM {table} WHERE room = ? LIMIT 1", (room,)).fetchone()
                    for table in ("events", "acks", "snapshots")):
                return False
            db.executemany("INSERT INTO events VALUES (?, ?, ?)", [(room, seq, blob) for seq, blob in events])
            db.execute("INSERT OR REPLACE INTO heads VALUES (?, ?)", (room, head))
            db.executemany("INSERT INTO acks VALUES (?, ?, ?, ?)",
                           [(room, key, seq, digest) for key, (seq, digest) in acks.items()])
            if snapshot is not None:
                db.execute("INSERT INTO snapshots VALUES (?, ?, ?)", (room, *snapshot))
            return True
        return await self._tx_async(go)

    async def import_box(self, poll: str, box: Box) -> bool:
        def go(db: sqlite3.Connection) -> bool:
            for table in ("boxes", "ballots", "ballot_keys", "ballot_reasons"):
                if db.execute(f"SELECT 1 FROM {table} WHERE poll = ? LIMIT 1", (poll,)).fetchone():
                    return False
            db.execute("INSERT INTO boxes VALUES (?, ?, ?, ?, ?)",
                       (poll, int(box.open), box.options, box.version, box.tallied))
            db.executemany("INSERT INTO ballots VALUES (?, ?, ?)", [(poll, d, c) for d, c in box.ballots.items()])
            db.executemany("INSERT INTO ballot_keys VALUES (?, ?)", [(poll, k) for k in box.keys])
            db.executemany("INSERT INTO ballot_choices VALUES (?, ?, ?)",
                           [(poll, k, c) for k, c in box.keys.items() if c is not None])
            db.executemany("INSERT INTO ballot_reasons VALUES (?, ?, ?)",
                           [(poll, d, r) for d, r in box.reasons.items()])
            return True
        return await self._tx_async(go)
