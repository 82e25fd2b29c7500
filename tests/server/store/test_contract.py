"""The storage contract: every test runs on SqliteStore and on RedisStore (a real redis-server).

The two backends must be interchangeable, so there is one suite and no backend-specific
expectations except where the brief of a backend demands more (Redis: fan-out across processes,
surviving a killed pub/sub connection). Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio
from support.processes import RedisServer, free_port

from server.store.base import Appended, Box, BoxChange, CastOutcome, Count, Outcome, Store
from server.store.redis import IMPORT_BATCH, RedisStore
from server.store.sqlite import SqliteStore

Opener = Callable[[], Awaitable[Store]]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens started stores on one shared place (a SQLite file or one Redis): several instances
    play several server processes. Every store opened is closed at teardown."""
    opened: list[Store] = []
    redis_url: str | None = request.getfixturevalue("redis_url") if request.param == "redis" else None

    async def open_one() -> Store:
        store: Store = SqliteStore(str(tmp_path / "s.db")) if redis_url is None else RedisStore(redis_url)
        await store.start()
        opened.append(store)
        return store

    yield open_one
    for store in reversed(opened):
        await store.close()


@pytest.fixture
async def store(open_store: Opener) -> Store:
    """A started store on a fresh file or an emptied Redis."""
    return await open_store()


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `check()` holds: fan-out through Redis arrives after `append` returns."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


def blobs(n: int, tag: str = "e") -> list[bytes]:
    """n distinct binary blobs (with bytes that are not valid UTF-8, as msgpack makes)."""
    return [f"{tag}{i}".encode() + b"\x00\xff\xc1" for i in range(1, n + 1)]


async def open_poll(store: Store, poll: str = "p", options: int = 3, room: str = "hall") -> int:
    """Open a ballot box the way the hall does (with an append); the room's head after it."""
    head = await store.head(room)
    result = await store.append(room, head, [b"open " + poll.encode()], box=BoxChange(poll, "open", options=options))
    assert result.outcome is Outcome.OK
    return result.seq


# -- settings and the registry

async def test_setting_is_set_if_absent(store: Store) -> None:
    """The first value stored under a key stays; later defaults do not replace it."""
    assert await store.setting("secret", "first") == "first"
    assert await store.setting("secret", "second") == "first"
    assert await store.setting("other", "x") == "x"


async def test_create_assembly_refuses_a_taken_code_and_keeps_nothing(store: Store) -> None:
    """An assembly whose codes clash with an existing one is refused whole: no record, no codes."""
    assert await store.create_assembly("a1", {"name": "One"}, {"AAAA": {"assembly": "a1", "table": 1}})
    refused = await store.create_assembly("a2", {"name": "Two"},
                                          {"BBBB": {"assembly": "a2", "table": 1}, "AAAA": {"assembly": "a2"}})
    assert refused is False
    assert await store.assembly("a2") is None
    assert await store.lookup_code("BBBB") is None
    assert await store.lookup_code("AAAA") == {"assembly": "a1", "table": 1}
    assert await store.assemblies() == ["a1"]


async def test_registry_round_trip(store: Store) -> None:
    """Assemblies and codes come back as stored, listed in creation order; unknown ones are None."""
    codes = {"K1": {"assembly": "b", "table": 1, "role": "member"}, "K2": {"assembly": "b", "table": 2}}
    assert await store.create_assembly("b", {"name": "Beta", "tables": [1, 2], "nested": {"x": None}}, codes)
    assert await store.create_assembly("a", {"name": "Alpha"}, {})
    assert await store.create_assembly("c", {"name": "Gamma"}, {"K3": {"assembly": "c"}})
    assert await store.assemblies() == ["b", "a", "c"]
    assert await store.assembly("b") == {"name": "Beta", "tables": [1, 2], "nested": {"x": None}}
    assert await store.assembly("zzz") is None
    assert await store.lookup_code("K2") == {"assembly": "b", "table": 2}
    assert await store.lookup_code("nope") is None


async def test_members_are_counted_once_per_device(store: Store) -> None:
    """Adding the same device twice counts it once, and assemblies are counted apart."""
    assert await store.members("a") == 0
    assert await store.add_member("a", "d1") == 1
    assert await store.add_member("a", "d2") == 2
    assert await store.add_member("a", "d1") == 2
    assert await store.add_member("b", "d1") == 1
    assert await store.members("a") == 2
    assert await store.members("b") == 1


# -- logs

async def test_append_numbers_events_and_read_returns_them_in_order(store: Store) -> None:
    """Appends get seq 1..n and `read` returns the events after any `after`, in order, up to `limit`."""
    assert await store.head("r") == 0
    assert await store.read("r", 0) == []
    events = blobs(7)
    assert await store.append("r", 0, events[:3]) == Appended(Outcome.OK, 3)
    assert await store.append("r", 3, events[3:4]) == Appended(Outcome.OK, 4)
    assert await store.append("r", 4, events[4:]) == Appended(Outcome.OK, 7)
    assert await store.head("r") == 7
    for after in range(8):
        assert await store.read("r", after) == events[after:]
    assert await store.read("r", 2, limit=3) == events[2:5]
    assert await store.read("r", 6, limit=3) == events[6:]
    assert await store.read("other", 0) == []
    assert await store.head("other") == 0


async def test_append_with_a_stale_expect_conflicts_and_writes_nothing(store: Store) -> None:
    """An append whose `expect` is not the head is refused with the head, and nothing is kept."""
    await store.append("r", 0, blobs(2))
    assert await store.append("r", 1, [b"late"], key="k1") == Appended(Outcome.CONFLICT, 2)
    assert await store.append("r", 5, [b"ahead"]) == Appended(Outcome.CONFLICT, 2)
    assert await store.head("r") == 2
    assert await store.read("r", 0) == blobs(2)
    assert await store.acked("r", "k1") is None


async def test_same_key_is_a_duplicate_with_the_first_seq(store: Store) -> None:
    """A key already acked returns DUPLICATE with its first seq, whatever `expect` is, and appends nothing."""
    assert await store.append("r", 0, blobs(2), key="k") == Appended(Outcome.OK, 2)
    assert await store.acked("r", "k") == (2, "")
    assert await store.append("r", 2, [b"again"], key="k") == Appended(Outcome.DUPLICATE, 2)
    assert await store.append("r", 0, [b"again"], key="k") == Appended(Outcome.DUPLICATE, 2)
    assert await store.head("r") == 2
    assert await store.read("r", 0) == blobs(2)
    assert await store.append("r", 2, [b"next"], key="k2") == Appended(Outcome.OK, 3)
    assert await store.acked("r", "k2") == (3, "")
    assert await store.acked("r", "unknown") is None
    assert await store.acked("other", "k") is None


async def test_a_key_keeps_the_digest_of_what_the_command_said(store: Store) -> None:
    """The digest stored with a key comes back on a duplicate and from acked(), so a resend that
    says something else can be refused; no digest is kept as ""."""
    assert await store.append("r", 0, [b"a"], key="k", digest="d1") == Appended(Outcome.OK, 1)
    assert await store.acked("r", "k") == (1, "d1")
    assert await store.append("r", 1, [b"a"], key="k", digest="d2") == Appended(Outcome.DUPLICATE, 1, "d1")
    assert await store.append("r", 1, [b"b"], key="plain") == Appended(Outcome.OK, 2)
    assert await store.append("r", 2, [b"b"], key="plain", digest="d3") == Appended(Outcome.DUPLICATE, 2, "")
    assert await store.read("r", 0) == [b"a", b"b"]


async def test_replace_setting_is_compare_and_set(store: Store) -> None:
    """A setting changes only from the value the caller saw (or from nothing): of two processes
    that both saw "e1", one moves it on and the other learns the winner's value."""
    assert await store.replace_setting("epoch", "e0", "e1") == "e1"  # absent: set
    assert await store.replace_setting("epoch", "e1", "e2") == "e2"
    assert await store.replace_setting("epoch", "e1", "e3") == "e2"
    assert await store.setting("epoch", "zz") == "e2"


async def test_restore_gives_a_lost_room_a_new_start_once_per_epoch(store: Store) -> None:
    """A room the store lost is restored at a seq with a snapshot; in the same epoch a restore
    from further ahead replaces it until the first append, never after; one at or below the head
    changes nothing; appends continue after the restored seq; a log cut short (a failover) is
    restored in a new epoch."""
    assert await store.restore("r", 40, b"state@40", "e1") is True
    assert await store.restore("r", 39, b"state@39", "e1") is False  # behind: the first copy stays
    assert await store.restore("r", 42, b"state@42", "e1") is True  # ahead, nothing appended yet: better
    assert await store.restore("r", 40, b"state@40", "e1") is False
    assert await store.head("r") == 42 and await store.snapshot("r") == (42, b"state@42")
    assert await store.read("r", 42) == []
    assert await store.append("r", 42, [b"e43"]) == Appended(Outcome.OK, 43)
    assert await store.restore("r", 45, b"state@45", "e1") is False  # the new epoch has begun: never overwritten
    assert await store.read("r", 42) == [b"e43"]
    assert await store.restore("r", 43, b"x", "e2") is False and await store.head("r") == 43
    await store.append("s", 0, [b"e1", b"e2"])
    assert await store.restore("s", 9, b"state@9", "e2") is True and await store.head("s") == 9
    assert await store.append("s", 9, [b"e10"]) == Appended(Outcome.OK, 10)
    assert await store.read("s", 9) == [b"e10"]


async def test_revoked_devices_are_kept_per_assembly(store: Store) -> None:
    """A revoked device stays revoked (twice is once), in its assembly only."""
    assert await store.revoked("a1") == set()
    await store.revoke("a1", "d1")
    await store.revoke("a1", "d1")
    await store.revoke("a1", "d2")
    assert await store.revoked("a1") == {"d1", "d2"} and await store.revoked("a2") == set()


async def test_presence_joins_the_processes_reports(store: Store) -> None:
    """Each process reports its devices per table; a device on two processes counts once, and a
    report older than `fresh` seconds counts no more."""
    await store.report_presence("a1", "p1", {"1": ["d1", "d2"]}, now=100.0)
    await store.report_presence("a1", "p2", {"1": ["d2", "d3"], "2": ["d4"]}, now=110.0)
    assert await store.presence("a1", now=111.0) == {"1": ["d1", "d2", "d3"], "2": ["d4"]}
    assert await store.presence("a1", now=120.0, fresh=15.0) == {"1": ["d2", "d3"], "2": ["d4"]}


async def test_snapshots_keep_only_the_newest(store: Store) -> None:
    """A snapshot replaces an older one but never a newer (or equal) one."""
    assert await store.snapshot("r") is None
    await store.save_snapshot("r", 5, b"five\x00\xff")
    assert await store.snapshot("r") == (5, b"five\x00\xff")
    await store.save_snapshot("r", 3, b"three")
    await store.save_snapshot("r", 5, b"five again")
    assert await store.snapshot("r") == (5, b"five\x00\xff")
    await store.save_snapshot("r", 9, b"nine")
    assert await store.snapshot("r") == (9, b"nine")
    assert await store.snapshot("other") is None


# -- ballot boxes

async def test_ballot_box_open_cast_change_count_close(store: Store) -> None:
    """Ballots are counted per device (a changed vote moves), and a cast after close is CLOSED."""
    assert await store.count("p") == Count([], 0, 0, False)
    assert await store.cast("p", "d1", 0, "x0") is CastOutcome.CLOSED  # no box yet
    await open_poll(store, options=3)
    assert await store.count("p") == Count([0, 0, 0], 0, 0, True)
    assert await store.cast("p", "d1", 0, "x1") is CastOutcome.OK
    assert await store.cast("p", "d2", 2, "x2") is CastOutcome.OK
    assert await store.cast("p", "d3", 2, "x3") is CastOutcome.OK
    assert await store.count("p") == Count([1, 0, 2], 3, 3, True)
    assert await store.cast("p", "d1", 1, "x4") is CastOutcome.OK  # changes its vote
    assert await store.count("p") == Count([0, 1, 2], 3, 4, True)
    assert await store.cast("p", "d1", 1, "x5") is CastOutcome.OK  # same choice: nothing changes
    assert await store.count("p") == Count([0, 1, 2], 3, 4, True)
    assert await store.ballot("p", "d1") == 1
    assert await store.ballot("p", "d2") == 2
    assert await store.ballot("p", "nobody") is None
    head = await store.head("hall")
    assert await store.append("hall", head, [b"close"], box=BoxChange("p", "close")) == Appended(Outcome.OK, head + 1)
    assert await store.count("p") == Count([0, 1, 2], 3, 5, False)
    assert await store.cast("p", "d1", 0, "x6") is CastOutcome.CLOSED
    assert await store.cast("p", "d9", 0, "x7") is CastOutcome.CLOSED
    assert await store.count("p") == Count([0, 1, 2], 3, 5, False)
    assert await store.ballot("p", "d1") == 1


async def test_duplicate_cast_key_is_counted_once(store: Store) -> None:
    """A cast whose key was seen changes nothing: DUPLICATE with the same choice, REUSED with another."""
    await open_poll(store, options=2)
    assert await store.cast("p", "d1", 0, "k") is CastOutcome.OK
    assert await store.cast("p", "d1", 0, "k") is CastOutcome.DUPLICATE
    assert await store.cast("p", "d1", 1, "k") is CastOutcome.REUSED
    assert await store.count("p") == Count([1, 0], 1, 1, True)
    assert await store.ballot("p", "d1") == 0


async def test_a_touch_moves_the_box_on_so_the_next_tally_is_not_unchanged(store: Store) -> None:
    """Paper ballots change a poll's counts outside its box: the append that records them
    "touches" the box, so a tally already published at the old version is followed by a new one."""
    await open_poll(store, options=2)
    await store.cast("p", "d1", 0, "k1")
    read = await store.count("p")
    head = await store.head("hall")
    assert (await store.append("hall", head, [b"t1"], box=BoxChange("p", "tally", version=read.version))).outcome \
        is Outcome.OK
    assert (await store.append("hall", head + 1, [b"t1"], box=BoxChange("p", "tally", version=read.version))).outcome \
        is Outcome.UNCHANGED
    assert (await store.append("hall", head + 1, [b"paper"], box=BoxChange("p", "touch"))).outcome is Outcome.OK
    after = await store.count("p")
    assert after.version == read.version + 1 and after.counts == read.counts and after.open
    assert (await store.append("hall", head + 2, [b"t2"], box=BoxChange("p", "tally", version=after.version))).outcome \
        is Outcome.OK


async def test_an_objections_reason_is_kept_with_its_ballot_and_dropped_with_it(store: Store) -> None:
    """A reason is kept per device with its current ballot (replaced by a newer one, dropped by a
    ballot without one, untouched by a duplicate or a cast after close) and read back sorted."""
    await open_poll(store, options=3)
    assert await store.reasons("p") == []
    assert await store.cast("p", "d1", 1, "k1", "Too expensive") is CastOutcome.OK
    assert await store.cast("p", "d2", 1, "k2", "Asked too late") is CastOutcome.OK
    assert await store.cast("p", "d3", 0, "k3") is CastOutcome.OK
    assert await store.reasons("p") == ["Asked too late", "Too expensive"]
    assert await store.cast("p", "d1", 1, "k4", "Far too expensive") is CastOutcome.OK  # same choice, new reason
    assert await store.cast("p", "d2", 0, "k5") is CastOutcome.OK  # no longer objects
    assert await store.cast("p", "d1", 1, "k4", "changed by a resend") is CastOutcome.DUPLICATE
    assert await store.reasons("p") == ["Far too expensive"]
    head = await store.head("hall")
    await store.append("hall", head, [b"close"], box=BoxChange("p", "close"))
    assert await store.cast("p", "d3", 1, "k6", "late") is CastOutcome.CLOSED
    assert await store.reasons("p") == ["Far too expensive"]
    assert await store.reasons("other") == []


async def test_tally_is_stale_unchanged_or_ok(store: Store) -> None:
    """A tally read before a newer ballot is STALE, a repeat of the last one UNCHANGED, else OK, and
    a refused tally appends nothing."""
    await open_poll(store, options=2)
    await store.cast("p", "d1", 0, "k1")
    read = await store.count("p")
    await store.cast("p", "d2", 1, "k2")  # arrives after the count was read
    head = await store.head("hall")
    stale = await store.append("hall", head, [b"tally"], box=BoxChange("p", "tally", version=read.version))
    assert stale == Appended(Outcome.STALE, head)
    assert await store.head("hall") == head
    fresh = await store.count("p")
    assert fresh == Count([1, 1], 2, 2, True)
    ok = await store.append("hall", head, [b"tally"], box=BoxChange("p", "tally", version=fresh.version))
    assert ok == Appended(Outcome.OK, head + 1)
    again = await store.append("hall", head + 1, [b"tally"], box=BoxChange("p", "tally", version=fresh.version))
    assert again == Appended(Outcome.UNCHANGED, head + 1)
    assert await store.read("hall", head) == [b"tally"]
    await store.cast("p", "d2", 0, "k3")  # a changed ballot makes a new tally worth appending
    newer = await store.count("p")
    assert newer.version == fresh.version + 1
    assert (await store.append("hall", head + 1, [b"t2"], box=BoxChange("p", "tally", version=newer.version))
            == Appended(Outcome.OK, head + 2))


async def test_choices_outside_the_box_are_kept_but_not_counted(store: Store) -> None:
    """A ballot for a choice the box does not have is the device's ballot, but counts for no option
    and no voter (as SqliteStore's count ignores it)."""
    await open_poll(store, options=2)
    assert await store.cast("p", "d1", 5, "k1") is CastOutcome.OK
    assert await store.cast("p", "d2", -1, "k2") is CastOutcome.OK
    assert await store.ballot("p", "d1") == 5
    assert await store.count("p") == Count([0, 0], 0, 2, True)
    assert await store.cast("p", "d1", 1, "k3") is CastOutcome.OK
    assert await store.count("p") == Count([0, 1], 1, 3, True)
    assert await store.cast("p", "d1", 7, "k4") is CastOutcome.OK
    assert await store.count("p") == Count([0, 0], 0, 4, True)


async def test_reopening_a_box_resets_it_but_counts_the_ballots_it_has(store: Store) -> None:
    """Opening a box again makes it open at version 0 with the new options, and (as the reference
    SqliteStore does) the ballots already cast stay and are counted."""
    await open_poll(store, options=3)
    await store.cast("p", "d1", 2, "k1")
    await store.cast("p", "d2", 0, "k2")
    head = await store.head("hall")
    await store.append("hall", head, [b"close"], box=BoxChange("p", "close"))
    await open_poll(store, options=2)
    assert await store.count("p") == Count([1, 0], 1, 0, True)
    assert await store.cast("p", "d1", 1, "k3") is CastOutcome.OK
    assert await store.count("p") == Count([1, 1], 2, 1, True)


async def test_an_empty_append_keeps_its_key(store: Store) -> None:
    """Appending no events is OK at the same head and still keeps the key (exactly once)."""
    await store.append("r", 0, [b"a"])
    assert await store.append("r", 1, [], key="k") == Appended(Outcome.OK, 1)
    assert await store.acked("r", "k") == (1, "")
    assert await store.append("r", 1, [b"b"], key="k") == Appended(Outcome.DUPLICATE, 1)
    assert await store.read("r", 0) == [b"a"]


async def test_box_change_waits_for_the_conditional_append(store: Store) -> None:
    """A box change whose append conflicts (or is a duplicate) changes nothing in the box."""
    assert await store.append("hall", 0, [b"x"], key="k") == Appended(Outcome.OK, 1)
    assert await store.append("hall", 0, [b"open"], box=BoxChange("p", "open", options=2)) == Appended(
        Outcome.CONFLICT, 1)
    assert await store.append("hall", 1, [b"open"], key="k", box=BoxChange("p", "open", options=2)) == Appended(
        Outcome.DUPLICATE, 1)
    assert await store.count("p") == Count([], 0, 0, False)
    assert await store.cast("p", "d1", 0, "c") is CastOutcome.CLOSED


# -- the record: what a backup reads and a restore writes

async def test_the_record_of_an_assembly_reads_back(store: Store) -> None:
    """A backup can read what the store keeps beside the logs: the members, each room's keys
    with their seq and digest, the ballot boxes under a prefix and each box in full."""
    for device in ("d2", "d1", "d3"):
        await store.add_member("a", device)
    await store.add_member("b", "d9")
    assert await store.member_devices("a") == ["d1", "d2", "d3"] and await store.member_devices("none") == []
    await store.append("r", 0, [b"x"], key="k1", digest="dd")
    await store.append("r", 1, [b"y", b"z"], key="k2")
    assert await store.acks("r") == {"k1": (1, "dd"), "k2": (3, "")} and await store.acks("other") == {}
    await open_poll(store, "a/p1", options=3)
    await open_poll(store, "a/p2", options=2)
    await open_poll(store, "a*/p", options=2)  # a glob character in a key is just a character
    await open_poll(store, "b/p1", options=2)
    assert await store.boxes("a/") == ["a/p1", "a/p2"]
    assert await store.boxes("a*/") == ["a*/p"] and await store.boxes("c/") == []
    await store.cast("a/p1", "d1", 2, "d1|c1")
    await store.cast("a/p1", "d2", 0, "d2|c1")
    await store.cast("a/p1", "d1", 1, "d1|c2")
    head = await store.head("hall")
    await store.append("hall", head, [b"close"], box=BoxChange("a/p1", "close"))
    assert await store.box("a/p1") == Box(False, 3, 4, -1, {"d1": 1, "d2": 0},
                                          {"d1|c1": 2, "d2|c1": 0, "d1|c2": 1})
    assert await store.box("a/p2") == Box(True, 2, 0, -1, {}, {})
    assert await store.box("a/nope") is None


async def test_an_imported_room_goes_on_as_if_its_events_were_appended(store: Store) -> None:
    """A room imported from a backup has its events at their seqs (a log restored after a loss
    may skip some), its head, keys and snapshot: appends go on after the head, a resend of an
    imported key is a duplicate, and the import fans nothing out."""
    got: list[bytes] = []
    await store.listen("r", lambda room, blob: got.append(blob))
    events = [(1, b"e1\x00\xff"), (2, b"e2"), (5, b"e5")]
    assert await store.import_room("r", 6, events, {"k": (2, "dd"), "j": (6, "")}, (4, b"state@4")) is True
    assert await store.head("r") == 6 and await store.read("r", 0) == [b"e1\x00\xff", b"e2", b"e5"]
    assert await store.read("r", 2) == [b"e5"] and await store.snapshot("r") == (4, b"state@4")
    assert await store.acked("r", "k") == (2, "dd") and await store.acks("r") == {"k": (2, "dd"), "j": (6, "")}
    assert await store.append("r", 6, [b"again"], key="k", digest="dd") == Appended(Outcome.DUPLICATE, 2, "dd")
    assert await store.append("r", 5, [b"e6"]) == Appended(Outcome.CONFLICT, 6)
    assert await store.append("r", 6, [b"e7"], key="n") == Appended(Outcome.OK, 7)
    assert await store.read("r", 5) == [b"e7"]
    await eventually(lambda: got == [b"e7"])
    many = [(seq, b"m%d" % seq) for seq in range(1, 2 * IMPORT_BATCH + 2)]  # more than one script call on Redis
    assert await store.import_room("big", len(many), many, {}, None) is True
    assert await store.head("big") == len(many)
    assert await store.read("big", 0, limit=-1) == [blob for _, blob in many]
    assert await store.import_room("empty", 0, [], {}, None) is True and await store.head("empty") == 0
    assert await store.append("empty", 0, [b"first"]) == Appended(Outcome.OK, 1)


async def test_a_room_in_use_is_never_imported_into(store: Store) -> None:
    """Importing into a room with events, a key, a snapshot or a head keeps nothing; a history that
    does not hold together is refused before anything is written."""
    await store.append("events", 0, [b"a"])
    await store.append("key", 0, [], key="k")
    await store.save_snapshot("snap", 3, b"s")
    await store.restore("head", 4, b"s", "e1")
    for room in ("events", "key", "snap", "head"):
        before = (await store.head(room), await store.read(room, 0), await store.snapshot(room))
        assert await store.import_room(room, 2, [(1, b"x"), (2, b"y")], {"k2": (2, "")}, None) is False
        assert (await store.head(room), await store.read(room, 0), await store.snapshot(room)) == before
        assert await store.acked(room, "k2") is None
    for head, events, snapshot in [(1, [(1, b"a"), (2, b"b")], None), (3, [(2, b"b"), (1, b"a")], None),
                                   (2, [(1, b"a")], (3, b"s")), (1, [(0, b"a")], None)]:
        with pytest.raises(ValueError):
            await store.import_room("fresh", head, events, {}, snapshot)
    assert await store.head("fresh") == 0 and await store.read("fresh", 0) == []


async def test_an_imported_ballot_box_counts_and_refuses_as_the_original(store: Store) -> None:
    """A box imported from another's `box` reads back the same, counts the same (choices outside
    it count for nothing), keeps its ballots' reasons and its keys: a resend is a duplicate, a
    reused key refused. A poll that has a box is never imported into."""
    await open_poll(store, "a/p", options=3)
    for device, choice, key in [("d1", 0, "d1|1"), ("d2", 2, "d2|1"), ("d3", 7, "d3|1"), ("d1", 1, "d1|2")]:
        await store.cast("a/p", device, choice, key, reason="For dyrt" if device == "d2" else None)
    original = await store.box("a/p")
    assert original is not None and original.reasons == {"d2": "For dyrt"}
    assert await store.import_box("b/p", original) is True
    assert await store.box("b/p") == original and await store.count("b/p") == await store.count("a/p")
    assert await store.reasons("b/p") == ["For dyrt"]
    assert await store.count("b/p") == Count([0, 1, 1], 2, 4, True)
    assert await store.ballot("b/p", "d1") == 1
    assert await store.cast("b/p", "d2", 2, "d2|1") is CastOutcome.DUPLICATE
    assert await store.cast("b/p", "d2", 0, "d2|1") is CastOutcome.REUSED
    assert await store.cast("b/p", "d4", 0, "d4|1") is CastOutcome.OK
    assert await store.count("b/p") == Count([1, 1, 1], 3, 5, True)
    old = Box(False, 2, 1, 1, {"d1": 1}, {"d1|1": None})  # a key kept without its choice
    assert await store.import_box("c/p", old) is True and await store.box("c/p") == old
    assert await store.cast("c/p", "d1", 0, "d1|1") is CastOutcome.DUPLICATE
    assert await store.import_box("a/p", old) is False and await store.box("a/p") == original


async def test_forgetting_presence_drops_every_report_of_the_assembly(store: Store) -> None:
    """After forget_presence no device of that assembly counts as connected; others are untouched."""
    await store.report_presence("a1", "p1", {"1": ["d1"]}, now=100.0)
    await store.report_presence("a2", "p1", {"1": ["d2"]}, now=100.0)
    await store.forget_presence("a1")
    await store.forget_presence("a1")
    assert await store.presence("a1", now=101.0) == {} and await store.presence("a2", now=101.0) == {"1": ["d2"]}


# -- fan-out

async def test_listeners_receive_appended_blobs_in_order(open_store: Opener) -> None:
    """A listener gets every blob appended to its room in log order, from any instance sharing the
    store (for Redis a second instance: the fan-out between processes), and none after unlisten."""
    listening = await open_store()
    writer = await open_store() if isinstance(listening, RedisStore) else listening
    got: list[tuple[str, bytes]] = []
    other: list[bytes] = []

    def listener(room: str, blob: bytes) -> None:
        got.append((room, blob))

    await listening.listen("r", listener)
    await listening.listen("r2", lambda room, blob: other.append(blob))
    events = blobs(20)
    head = 0
    for i in range(0, 20, 4):
        head = (await writer.append("r", head, events[i:i + 4])).seq
    await writer.append("elsewhere", 0, [b"not for r"])
    await writer.append("r2", 0, [b"for r2"])
    await eventually(lambda: len(got) == 20 and other == [b"for r2"])
    assert got == [("r", blob) for blob in events]
    assert (await writer.append("r", 0, [b"conflicting"])).outcome is Outcome.CONFLICT
    await listening.unlisten("r", listener)
    await writer.append("r", head, [b"after unlisten"])
    await writer.append("r2", 1, [b"marker"])
    await eventually(lambda: other == [b"for r2", b"marker"])
    assert len(got) == 20  # neither the refused append nor the one after unlisten arrived


async def test_concurrent_appends_with_the_same_expect_one_wins(open_store: Opener) -> None:
    """Two instances appending on the same expect at once: exactly one is OK, the other CONFLICT."""
    first, second = await open_store(), await open_store()
    await first.append("r", 0, [b"base"])
    for round_ in range(10):
        head = await first.head("r")
        results = await asyncio.gather(first.append("r", head, [b"a%d" % round_]),
                                       second.append("r", head, [b"b%d" % round_]))
        outcomes = sorted(r.outcome for r in results)
        assert outcomes == [Outcome.CONFLICT, Outcome.OK]
        assert {r.seq for r in results} == {head + 1}
    assert await second.head("r") == 11
    assert len(await first.read("r", 0)) == 11


async def test_data_survives_close_and_reopen(open_store: Opener) -> None:
    """Everything written is there for a new instance after the first one is closed."""
    store = await open_store()
    await store.setting("secret", "s")
    await store.create_assembly("a", {"name": "A"}, {"C1": {"assembly": "a"}})
    await store.add_member("a", "d1")
    await store.append("r", 0, blobs(3), key="k")
    await store.save_snapshot("r", 2, b"snap")
    await open_poll(store, options=2)
    await store.cast("p", "d1", 1, "c1")
    await store.close()

    again = await open_store()
    assert await again.setting("secret", "other") == "s"
    assert await again.assemblies() == ["a"]
    assert await again.assembly("a") == {"name": "A"}
    assert await again.lookup_code("C1") == {"assembly": "a"}
    assert await again.members("a") == 1
    assert await again.head("r") == 3
    assert await again.read("r", 0) == blobs(3)
    assert await again.acked("r", "k") == (3, "")
    assert await again.append("r", 3, [b"x"], key="k") == Appended(Outcome.DUPLICATE, 3)
    assert await again.snapshot("r") == (2, b"snap")
    assert await again.count("p") == Count([0, 1], 1, 1, True)
    assert await again.ballot("p", "d1") == 1
    assert await again.cast("p", "d1", 1, "c1") is CastOutcome.DUPLICATE


# -- Redis only

@pytest.mark.redis
async def test_redis_fanout_recovers_after_the_pubsub_connection_is_killed(redis_url: str) -> None:
    """After Redis kills the pub/sub connection, the store reconnects, calls on_reconnect, and
    delivers later appends again (exactly once each)."""
    store, writer = RedisStore(redis_url), RedisStore(redis_url)
    await store.start()
    await writer.start()
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        reconnects = asyncio.Event()
        calls: list[int] = []
        got: list[bytes] = []

        async def on_reconnect() -> None:
            calls.append(await store.head("r"))  # the store is usable from the callback (catch-up)
            reconnects.set()

        store.on_reconnect = on_reconnect
        await store.listen("r", lambda room, blob: got.append(blob))
        await writer.append("r", 0, [b"before"])
        await eventually(lambda: got == [b"before"])

        killed = await admin.client_kill_filter(_type="pubsub")  # CLIENT KILL TYPE pubsub
        assert killed == 1  # the listening instance's subscriber (the writer subscribes nothing)
        await asyncio.wait_for(reconnects.wait(), 10)
        assert calls == [1]

        await writer.append("r", 1, [b"after 1", b"after 2"])
        await eventually(lambda: len(got) == 3)
        await asyncio.sleep(0.2)  # nothing may arrive twice (no silent re-subscription besides ours)
        assert got == [b"before", b"after 1", b"after 2"]

        await store.listen("r2", lambda room, blob: got.append(blob))  # and new rooms subscribe fine
        await writer.append("r2", 0, [b"r2"])
        await eventually(lambda: got[-1:] == [b"r2"])
    finally:
        await admin.aclose()
        await store.close()
        await writer.close()


@pytest.mark.redis
async def test_redis_publishes_and_appends_under_the_prefix(redis_url: str) -> None:
    """The log is a stream of `{seq}-1` entries under the store's prefix, so two prefixes share one
    Redis without seeing each other's rooms."""
    one, two = RedisStore(redis_url, prefix="one:"), RedisStore(redis_url, prefix="two:")
    await one.start()
    await two.start()
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        got: list[bytes] = []
        await two.listen("r", lambda room, blob: got.append(blob))
        await one.append("r", 0, [b"a", b"b"])
        assert await two.head("r") == 0
        assert [entry_id for entry_id, _ in await admin.xrange("one:log:r") or []] == [b"1-1", b"2-1"]
        await two.append("r", 0, [b"mine"])
        await eventually(lambda: got == [b"mine"])
    finally:
        await admin.aclose()
        await one.close()
        await two.close()


@pytest.mark.redis
async def test_redis_import_keeps_the_stream_ids(redis_url: str) -> None:
    """An imported log is a stream of `{seq}-1` entries like an appended one, gaps and all."""
    store = RedisStore(redis_url)
    await store.start()
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await store.import_room("r", 4, [(1, b"a"), (3, b"c")], {}, (3, b"s"))
        await store.append("r", 4, [b"e"])
        assert [entry_id for entry_id, _ in await admin.xrange("samling:log:r") or []] == [b"1-1", b"3-1", b"5-1"]
    finally:
        await admin.aclose()
        await store.close()


@pytest.mark.redis
async def test_redis_fanout_recovers_after_redis_restarts(redis_url: str, redis_server: RedisServer) -> None:
    """When Redis itself crashes and comes back, the reader keeps retrying (with backoff) until it
    is back, then calls on_reconnect, and acked events are still in the log (append-only file)."""
    store = RedisStore(redis_url)
    await store.start()
    try:
        reconnects = asyncio.Event()
        got: list[bytes] = []

        async def on_reconnect() -> None:
            reconnects.set()

        store.on_reconnect = on_reconnect
        await store.listen("r", lambda room, blob: got.append(blob))
        await store.append("r", 0, [b"acked"], key="k")
        await eventually(lambda: got == [b"acked"])

        await asyncio.to_thread(redis_server.kill)
        await asyncio.sleep(0.5)  # a few failed attempts while it is down
        assert not reconnects.is_set()
        await asyncio.to_thread(redis_server.start)
        await asyncio.wait_for(reconnects.wait(), 10)

        assert await store.read("r", 0) == [b"acked"]
        assert await store.append("r", 1, [b"again"], key="k") == Appended(Outcome.DUPLICATE, 1)
        await store.append("r", 1, [b"live"])
        await eventually(lambda: got == [b"acked", b"live"])
    finally:
        await store.close()


@pytest.mark.redis
async def test_redis_silent_pubsub_connection_counts_as_lost(redis_url: str) -> None:
    """A pub/sub connection that stops answering (here: Redis paused) is given up after a missed
    heartbeat PING, and the store reconnects and calls on_reconnect."""
    store = RedisStore(redis_url)
    store.heartbeat = 0.2
    await store.start()
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        reconnects = asyncio.Event()

        async def on_reconnect() -> None:
            reconnects.set()

        store.on_reconnect = on_reconnect
        got: list[bytes] = []
        await store.listen("r", lambda room, blob: got.append(blob))
        await admin.client_pause(600, all=True)
        await asyncio.wait_for(reconnects.wait(), 10)
        await asyncio.sleep(1.2)  # past the pause (a reconnect made during it may have to be redone)
        await store.append("r", 0, [b"after"])
        await eventually(lambda: got == [b"after"])
    finally:
        await admin.aclose()
        await store.close()


@pytest.mark.redis
async def test_redis_warns_when_redis_would_lose_acked_events(redis_url: str, caplog: pytest.LogCaptureFixture
                                                               ) -> None:
    """start() warns when Redis runs without the append-only file, and is quiet when it has one."""
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        store = RedisStore(redis_url)
        with caplog.at_level("WARNING", logger="samling.store"):
            await store.start()
            await store.close()
        assert not [r for r in caplog.records if r.name == "samling.store"]

        await admin.config_set("appendonly", "no")
        store = RedisStore(redis_url)
        with caplog.at_level("WARNING", logger="samling.store"):
            await store.start()
            await store.close()
        warnings = [r.getMessage() for r in caplog.records if r.name == "samling.store"]
        assert len(warnings) == 1
        assert "appendonly no" in warnings[0] and "appendonly yes" in warnings[0] and "everysec" in warnings[0]
    finally:
        await admin.config_set("appendonly", "yes")
        await admin.aclose()


@pytest.mark.redis
async def test_redis_start_fails_loudly_when_redis_is_unreachable() -> None:
    """start() raises when nothing answers at the URL, instead of serving on a store that cannot store."""
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(redis.ConnectionError):
        await store.start()
    await store.close()  # harmless after a failed start


async def test_sqlite_writes_asked_at_once_are_one_commit_and_fail_alone(tmp_path: Path) -> None:
    """Group commit: appends asked for together each get their own outcome (a stale one conflicts,
    a duplicate key is a duplicate) and one write that raises fails alone; what was acked is kept."""
    path = tmp_path / "batch.db"
    store = SqliteStore(str(path))
    await store.start()
    try:
        results = await asyncio.gather(
            store.append("r", 0, [b"a"], key="k1"),
            store.append("r", 0, [b"b"], key="k2"),  # stale by then: a conflict
            store.append("s", 0, [b"c"], key="k3"),
            store.create_assembly("a1", {"id": "a1"}, {}),
            store.create_assembly("a1", {"id": "a1"}, {}),  # the same id: raises, and only here
            store.append("s", 1, [b"d"], key="k3"),
            return_exceptions=True)
        assert results[0] == Appended(Outcome.OK, 1) and results[1] == Appended(Outcome.CONFLICT, 1)
        assert results[2] == Appended(Outcome.OK, 1) and results[3] is True
        assert isinstance(results[4], sqlite3.IntegrityError)
        assert results[5] == Appended(Outcome.DUPLICATE, 1)
    finally:
        await store.close()
    again = SqliteStore(str(path))
    await again.start()
    try:
        assert await again.read("r", 0) == [b"a"] and await again.read("s", 0) == [b"c"]
        assert await again.assembly("a1") == {"id": "a1"}
    finally:
        await again.close()
