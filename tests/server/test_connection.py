"""A device's outbox and rate limit: bounded, ordered, and fair to the rest of the room."""

from __future__ import annotations

import asyncio
from typing import Any

from server.connection import CLOSE_SLOW, Corks, Outbox, RateLimit


class Wire:
    """A socket stand-in that can be stalled: frames go through only while `open` is set."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed: tuple[int, str] | None = None
        self.open = asyncio.Event()
        self.open.set()

    async def send(self, frame: bytes) -> None:
        await self.open.wait()
        self.sent.append(frame)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


async def test_frames_go_out_in_order() -> None:
    """Everything delivered is sent, in the order delivered."""
    wire = Wire()
    box = Outbox(wire.send, wire.close, limit=10)
    for i in range(5):
        box.deliver(bytes([i]))
    await asyncio.sleep(0.01)
    assert wire.sent == [bytes([i]) for i in range(5)]
    box.close_soon(1000, "bye")
    await asyncio.wait_for(box.finish(), 1)
    assert wire.closed == (1000, "bye")


async def test_a_stalled_device_is_closed_as_slow_and_its_backlog_dropped() -> None:
    """A device that stops reading costs at most `limit` frames, then is closed with 4001 "slow";
    delivering never waits on it."""
    wire = Wire()
    wire.open.clear()
    box = Outbox(wire.send, wire.close, limit=100)
    await asyncio.sleep(0)
    for _ in range(1000):
        box.deliver(b"x" * 100)  # returns at once however stalled the wire is
    assert box.closing is not None and box.closing[0] == CLOSE_SLOW
    assert len(box._frames) == 0
    wire.open.set()
    await asyncio.wait_for(box.finish(), 1)
    assert wire.closed is not None and wire.closed[0] == CLOSE_SLOW and "since" in wire.closed[1]
    assert len(wire.sent) <= 1


def test_rate_limit_allows_a_burst_then_the_rate() -> None:
    """A burst goes through at once; after it, commands pass at the sustained rate only."""
    now = [0.0]
    limit = RateLimit(rate=10, burst=5, clock=lambda: now[0])
    assert [limit.allow() for _ in range(7)] == [True] * 5 + [False] * 2
    now[0] += 0.1
    assert limit.allow() and not limit.allow()
    now[0] += 10
    assert sum(limit.allow() for _ in range(20)) == 5


class Socket:
    """The server's `samling.write` stand-in: takes frames at once while `takes` is set."""

    def __init__(self) -> None:
        self.writes: list[list[bytes]] = []
        self.takes = True

    def write(self, frames: Any) -> bool:
        if not self.takes:
            return False
        self.writes.append(list(frames))
        return True


async def test_a_turns_frames_go_out_in_one_write_without_the_writer() -> None:
    """With the server's direct write, everything one device gets in one turn of the loop is one
    write, in order, and the awaited ASGI send is not used at all."""
    wire, socket, corks = Wire(), Socket(), Corks()
    box = Outbox(wire.send, wire.close, limit=10, write=socket.write, corks=corks)
    other = Outbox(wire.send, wire.close, limit=10, write=socket.write, corks=corks)
    for i in range(3):
        box.deliver(bytes([i]))
    other.deliver(b"o")
    assert socket.writes == []  # nothing before the end of the turn
    await asyncio.sleep(0)
    assert socket.writes == [[b"\x00", b"\x01", b"\x02"], [b"o"]]
    assert (corks.writes, corks.frames, box.sent) == (2, 4, 3)
    box.deliver(b"\x03")
    await asyncio.sleep(0)
    assert socket.writes[-1] == [b"\x03"] and wire.sent == []
    assert box._writer is None  # no writer task was ever needed
    box.close_soon(1000, "bye")
    await asyncio.wait_for(box.finish(), 1)
    assert wire.closed == (1000, "bye")


async def test_when_the_socket_cannot_take_frames_they_wait_in_order_for_the_writer() -> None:
    """A full socket buffer (a slow device) sends the frames through the awaited path; frames
    delivered meanwhile wait behind them, and the direct write resumes only once they are out."""
    wire, socket, corks = Wire(), Socket(), Corks()
    box = Outbox(wire.send, wire.close, limit=100, write=socket.write, corks=corks)
    socket.takes = False
    wire.open.clear()  # the awaited send is stalled too, as uvicorn's is while paused
    box.deliver(b"a")
    box.deliver(b"b")
    await asyncio.sleep(0.01)
    socket.takes = True  # the buffer drains: a direct write would now jump the queue
    box.deliver(b"c")
    await asyncio.sleep(0.01)
    assert socket.writes == [] and wire.sent == []
    wire.open.set()
    await asyncio.sleep(0.01)
    assert wire.sent == [b"a", b"b", b"c"]
    box.deliver(b"d")
    await asyncio.sleep(0.01)
    assert socket.writes == [[b"d"]]
    box.close_soon(1000, "bye")
    await asyncio.wait_for(box.finish(), 1)


async def test_a_close_sends_what_was_delivered_before_it() -> None:
    """Frames delivered in the same turn as a close still go out, before the close frame."""
    wire, socket, corks = Wire(), Socket(), Corks()
    box = Outbox(wire.send, wire.close, limit=10, write=socket.write, corks=corks)
    box.deliver(b"err")
    box.close_soon(4003, "revoked")
    box.deliver(b"late")
    await asyncio.wait_for(box.finish(), 1)
    assert [f for w in socket.writes for f in w] + wire.sent == [b"err"]
    assert wire.closed == (4003, "revoked")


async def test_nothing_starts_a_writer_once_the_socket_is_gone() -> None:
    """A room may still deliver to (or close) a socket that has just ended: no task is started
    that would end in an error nobody hears."""
    wire, socket, corks = Wire(), Socket(), Corks()
    box = Outbox(wire.send, wire.close, limit=10, write=socket.write, corks=corks)
    await box.finish()
    socket.takes = False
    box.deliver(b"late")
    box.close_soon(4003, "revoked")
    await asyncio.sleep(0.01)
    assert box._writer is None and wire.closed is None and socket.writes == []
