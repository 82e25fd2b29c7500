"""What only the SQLite store has to get right: files made by older versions, other processes
writing to the same file behind its back, and writes that fail inside a group commit.

The contract suite (test_contract.py) holds for both backends; these tests reach into the file
with a plain sqlite3 connection, as another process (`samling assembly create`) or an older
version of Samling would. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from pathlib import Path

import pytest

from server.store.base import Appended, BoxChange, Outcome
from server.store.sqlite import SqliteStore

#: The tables of a log as versions before acks.digest made them: digests in a table of their own.
OLD_SCHEMA = """
CREATE TABLE events (room TEXT, seq INTEGER, blob BLOB NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID;
CREATE TABLE heads (room TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE acks (room TEXT, key TEXT, seq INTEGER, PRIMARY KEY (room, key)) WITHOUT ROWID;
CREATE TABLE ack_digests (room TEXT, key TEXT, digest TEXT, PRIMARY KEY (room, key)) WITHOUT ROWID;
INSERT INTO events VALUES ('r', 1, x'01'), ('r', 2, x'02');
INSERT INTO heads VALUES ('r', 2);
INSERT INTO acks VALUES ('r', 'with', 1), ('r', 'without', 2);
INSERT INTO ack_digests VALUES ('r', 'with', 'd1');
"""


def behind_the_back(path: Path, *sql: tuple[str, tuple[object, ...]]) -> None:
    """Write to the file as another process would: its own connection, its own transaction."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("BEGIN IMMEDIATE")
        for statement, args in sql:
            db.execute(statement, args)
        db.execute("COMMIT")


Opener = Callable[[Path], Awaitable[SqliteStore]]


@pytest.fixture
async def opened() -> AsyncIterator[Opener]:
    """Opens started stores on a given file; all of them are closed at teardown."""
    stores: list[SqliteStore] = []

    async def open_one(path: Path) -> SqliteStore:
        store = SqliteStore(str(path))
        stores.append(store)
        await store.start()
        return store

    yield open_one
    for store in reversed(stores):
        await store.close()


def old_file(path: Path) -> Path:
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.executescript(OLD_SCHEMA)
    return path


async def test_an_older_file_keeps_its_keys_and_their_digests(tmp_path: Path, opened: Opener) -> None:
    """A file whose digests are in ack_digests: opening it adds acks.digest, and every key it
    kept is still a duplicate with its first digest (so a resend that says the same is told from
    one that reuses the id); new keys go on as before."""
    store = await opened(old_file(tmp_path / "old.db"))
    assert await store.acked("r", "with") == (1, "d1")
    assert await store.acked("r", "without") == (2, "")
    assert await store.append("r", 2, [b"x"], key="with", digest="d1") == Appended(Outcome.DUPLICATE, 1, "d1")
    other = await store.append("r", 2, [b"x"], key="with", digest="d9")
    assert other == Appended(Outcome.DUPLICATE, 1, "d1") and other.digest != "d9"  # detectable: the hub refuses
    assert await store.append("r", 2, [b"x"], key="without", digest="d9") == Appended(Outcome.DUPLICATE, 2, "")
    assert await store.append("r", 2, [b"\x03"], key="new", digest="d3") == Appended(Outcome.OK, 3)
    assert await store.append("r", 3, [b"x"], key="new", digest="d3") == Appended(Outcome.DUPLICATE, 3, "d3")
    assert await store.read("r", 0) == [b"\x01", b"\x02", b"\x03"]
    with closing(sqlite3.connect(tmp_path / "old.db")) as db:
        assert "digest" in {row[1] for row in db.execute("PRAGMA table_info(acks)")}
        assert db.execute("SELECT count(*) FROM ack_digests").fetchone()[0] == 1  # new digests go in acks


async def test_two_processes_opening_an_older_file_at_once_add_the_column_once(tmp_path: Path, opened: Opener) -> None:
    """Two stores (two processes) opening the same old file together: neither fails."""
    path = old_file(tmp_path / "old.db")
    first, second = await asyncio.gather(opened(path), opened(path))
    assert await first.acked("r", "with") == (1, "d1") and await second.acked("r", "with") == (1, "d1")
    again = await opened(path)  # and opening it once more changes nothing
    assert await again.append("r", 2, [b"\x03"], key="k", digest="d") == Appended(Outcome.OK, 3)


async def test_a_head_moved_behind_the_stores_back_conflicts_with_the_true_head(tmp_path: Path, opened: Opener) -> None:
    """Another process appends (or restores) a room: an append on the head the store saw is a
    CONFLICT with the head the file has, keeps nothing (no event, no key), and an append on the
    true head goes on from it with no gap and nothing overwritten."""
    path = tmp_path / "s.db"
    store = await opened(path)
    assert await store.append("r", 0, [b"e1"], key="k1") == Appended(Outcome.OK, 1)
    behind_the_back(path, ("INSERT INTO events VALUES ('r', 2, x'6532')", ()),
                    ("UPDATE heads SET seq = 2 WHERE room = 'r'", ()))
    assert await store.append("r", 1, [b"mine"], key="k2", digest="d") == Appended(Outcome.CONFLICT, 2)
    assert await store.acked("r", "k2") is None
    assert await store.read("r", 0) == [b"e1", b"e2"]
    behind_the_back(path, ("UPDATE heads SET seq = 40 WHERE room = 'r'", ()))  # a restore: past the events
    assert await store.append("r", 2, [b"mine"], key="k2") == Appended(Outcome.CONFLICT, 40)
    assert await store.append("r", 40, [b"e41"], key="k2") == Appended(Outcome.OK, 41)
    assert await store.read("r", 2) == [b"e41"] and await store.head("r") == 41


async def test_a_room_created_behind_the_stores_back_conflicts(tmp_path: Path, opened: Opener) -> None:
    """A room the store never saw, given a head by another process: expecting it empty is a
    CONFLICT; a room whose head row is at 0 (an empty append) can be appended to from 0."""
    path = tmp_path / "s.db"
    store = await opened(path)
    behind_the_back(path, ("INSERT INTO heads VALUES ('r', 5)", ()))
    assert await store.append("r", 0, [b"x"], key="k") == Appended(Outcome.CONFLICT, 5)
    assert await store.acked("r", "k") is None
    assert await store.append("s", 0, [], key="empty") == Appended(Outcome.OK, 0)
    assert await store.append("s", 0, [b"s1", b"s2"], key="two") == Appended(Outcome.OK, 2)
    assert await store.read("s", 0) == [b"s1", b"s2"]


async def test_a_write_that_fails_in_a_batch_fails_alone_with_all_it_wrote(tmp_path: Path, opened: Opener) -> None:
    """An append that raises after writing part of itself (an event row in the way, which only a
    broken file has) in a batch of appends: it alone fails, its key and head are not kept, and
    every other append of the batch (keys, conflicts, duplicates, box changes) is as if alone."""
    path = tmp_path / "s.db"
    store = await opened(path)
    assert await store.append("r", 0, [b"r1"], key="seen", digest="d0") == Appended(Outcome.OK, 1)
    behind_the_back(path, ("INSERT INTO events VALUES ('bad', 1, x'00')", ()))
    results = await asyncio.gather(
        store.append("r", 1, [b"r2"], key="k1", digest="d1"),
        store.append("bad", 0, [b"b1"], key="kb", digest="db"),  # the ack and the head go in, then the event fails
        store.append("r", 1, [b"late"], key="k2"),  # stale by then: a conflict
        store.append("r", 5, [b"x"], key="seen", digest="d9"),  # a duplicate first, whatever the head
        store.append("hall", 0, [b"open"], key="p", box=BoxChange("p", "open", options=2)),
        store.append("s", 0, [b"s1", b"s2"], key="k3"),
        return_exceptions=True)
    assert results[0] == Appended(Outcome.OK, 2)
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert results[2] == Appended(Outcome.CONFLICT, 2)
    assert results[3] == Appended(Outcome.DUPLICATE, 1, "d0")
    assert results[4] == Appended(Outcome.OK, 1) and results[5] == Appended(Outcome.OK, 2)
    assert await store.acked("bad", "kb") is None and await store.head("bad") == 0
    assert await store.read("r", 0) == [b"r1", b"r2"] and await store.read("s", 0) == [b"s1", b"s2"]
    assert await store.acked("r", "k1") == (2, "d1") and await store.acked("r", "k2") is None
    assert (await store.count("p")).open


async def test_a_write_after_close_fails_and_does_not_hang(tmp_path: Path) -> None:
    """The hand-over to the worker refuses once the store is closed: the caller hears why."""
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.start()
    await store.close()
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(store.append("r", 0, [b"x"], key="k"), 5)
