"""The fault harness checked against itself: a proxy that corrupted streams, or an oracle that
could not see a lost, duplicated or misordered command, would make every scenario pass while
proving nothing. These run without a Samling server, in a second or two.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgpack
import pytest
from support.folds import TableFold
from support.oracle import Figures, Truth, _check_ballots, _check_commands, _check_folds, _check_order
from support.proxy import FaultProxy
from support.tablets import Acked, Gap, Refusal, Tablet
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from server.codec import Record
from server.store.base import Count

FRAMES = 300


def pad(i: int) -> str:
    return "x" * (70_000 if i % 50 == 0 else i * 20)


@pytest.fixture
async def numbered() -> AsyncIterator[int]:
    """A WebSocket server that sends FRAMES numbered `ev` frames of every length class (7-bit,
    16-bit and 64-bit lengths), then waits."""
    async def handler(ws: ServerConnection) -> None:
        for i in range(1, FRAMES + 1):
            await ws.send(msgpack.packb({"t": "ev", "room": "r", "seq": i, "pad": pad(i)}))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        yield next(iter(server.sockets)).getsockname()[1]


async def test_the_proxy_drops_whole_frames_and_says_which(numbered: int) -> None:
    async with FaultProxy(numbered, seed=7) as proxy:
        proxy.drop(0.3)
        async with connect(proxy.ws_url, compression=None, max_size=None) as ws:
            port = ws.local_address[1]
            got = []
            while len(got) + len(proxy.dropped_seqs(port, "r")) < FRAMES:
                frame = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 10))
                assert frame["pad"] == pad(frame["seq"]), "a frame arrived damaged"
                got.append(frame["seq"])
        dropped = proxy.dropped_seqs(port, "r")
        assert got == sorted(got) and not set(got) & dropped
        assert set(got) | dropped == set(range(1, FRAMES + 1))
        assert 0.15 * FRAMES < len(dropped) < 0.45 * FRAMES


async def test_blackhole_holds_frames_and_cut_ends_the_connection(numbered: int) -> None:
    async with FaultProxy(numbered) as proxy:
        async with connect(proxy.ws_url, compression=None, max_size=None, ping_interval=None) as ws:
            assert msgpack.unpackb(await ws.recv())["seq"] == 1
            proxy.blackhole()
            await asyncio.sleep(0.3)
            seen = 0
            with pytest.raises(TimeoutError):
                while True:
                    await asyncio.wait_for(ws.recv(), 0.5)
                    seen += 1
            assert seen < FRAMES - 1, "a blackhole must hold frames back"
            proxy.restore()
            assert msgpack.unpackb(await asyncio.wait_for(ws.recv(), 5))["seq"] == seen + 2
            assert proxy.cut() == 1
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 5)


def _tablet(device: str) -> Tablet:
    t = Tablet([], "token", name=device)
    t.you = {"device": device, "table": "1"}
    return t


def _record(seq: int, op: str, data: dict[str, Any], cmd: str | None, device: str | None) -> Record:
    return Record(seq, op, data, cmd, device, 0)


def test_the_oracle_sees_lost_duplicated_and_phantom_commands() -> None:
    a = _tablet("A")
    a.ledger.acked = {c: Acked(c, "table:1", "note.add", {"note": c}, s, 0, 1, 0) for c, s in
                      (("c1", 2), ("c2", 3), ("c3", 9))}
    a.ledger.refused = {"c4": Refusal("c4", "table:1", "note.add", "wrong_phase")}
    logs = {"table:1": [_record(1, "table.open", {}, None, None), _record(2, "note.add", {}, "c1", "A"),
                        _record(3, "note.add", {}, "c2", "A"), _record(4, "note.add", {}, "c2", "A"),
                        _record(5, "note.add", {}, "c4", "A"), _record(6, "note.add", {}, "c5", "A")]}
    fig = Figures("self-test")
    _check_commands(fig, [a], logs)
    assert (fig.lost, fig.dup, fig.phantom, fig.logged) == (1, 1, 2, 2)
    assert fig.order == 1, "c2 was acked as #3 but is logged twice: its ack no longer names one event"


def test_the_oracle_tells_injected_gaps_from_real_ones() -> None:
    a = _tablet("A")
    a.ledger.gaps = [Gap("table:1", None, (5, 6), 4000, 0), Gap("table:1", None, (9,), 4001, 0)]
    a.ledger.applied = {"table:1": [(None, 4, "state"), (None, 7, "ev"), (None, 8, "ev"), (None, 10, "ev")]}
    proxy = FaultProxy(1)
    proxy.dropped[4000] = []
    from support.proxy import Dropped
    proxy.dropped[4000] += [Dropped(0, "ev", "table:1", 5, None), Dropped(0, "ev", "table:1", 6, None)]
    fig = Figures("self-test")
    _check_order(fig, [a], [proxy])
    assert fig.extra["gaps_injected"] == 1
    assert fig.order == 3, "one unexplained gap, and two events applied across a gap"


def test_the_oracle_sees_a_device_that_folded_something_else() -> None:
    state = {"table": "1", "name": "Bord 1", "phase": "brainstorm",
             "board": {"activity": "a1", "prompt": "", "dots": 5, "max_per_target": 3, "show_totals": False,
                       "notes": [{"note": "n1", "text": "hej", "cluster": None, "mine": False}],
                       "clusters": [], "dots_used": 0}}
    logs = {"table:1": [_record(1, "table.open", {"table": "1", "name": "Bord 1"}, None, None),
                        _record(2, "activity.start", {"activity": "a1", "prompt": "", "dots": 5,
                                                      "max_per_target": 3, "show_totals": False}, None, None),
                        _record(3, "note.add", {"note": "n1", "text": "hej", "author": "A"}, "c1", "A")]}
    good, bad = _tablet("A"), _tablet("B")
    for t, text in ((good, "hej"), (bad, "hej!")):
        fold = TableFold.from_state(state)
        fold.notes["n1"][0] = text
        t.folds["table:1"], t.since["table:1"] = fold, 3
    fig = Figures("self-test")
    _check_folds(fig, [good, bad], Truth(logs, {}, [("ws://x", {"table:1": {"seq": 3, "state": state}})]))
    assert fig.diverged == 1 and "B" in fig.details[0]


def test_the_oracle_compares_the_box_with_the_last_acked_votes() -> None:
    a, b = _tablet("A"), _tablet("B")
    a.votes, b.votes = {"p1": 1}, {"p1": 1}
    hall = [_record(9, "poll.tally", {"poll": "p1", "counts": [0, 2], "voters": 2, "present": 2, "final": True},
                    None, None)]
    fig = Figures("self-test")
    _check_ballots(fig, [a, b], Truth({"hall": hall}, {"p1": Count([0, 2], 2, 5, False)}, []))
    assert fig.ballots_wrong == 0
    b.votes = {"p1": 0}
    _check_ballots(fig, [a, b], Truth({"hall": hall}, {"p1": Count([0, 2], 2, 5, False)}, []))
    assert fig.ballots_wrong == 1
