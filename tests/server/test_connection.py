"""A device's outbox and rate limit: bounded, ordered, and fair to the rest of the room."""

from __future__ import annotations

import asyncio

from server.connection import CLOSE_SLOW, Outbox, RateLimit


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
    task = asyncio.create_task(box.run())
    for i in range(5):
        box.deliver(bytes([i]))
    await asyncio.sleep(0.01)
    assert wire.sent == [bytes([i]) for i in range(5)]
    box.close_soon(1000, "bye")
    await asyncio.wait_for(task, 1)
    assert wire.closed == (1000, "bye")


async def test_a_stalled_device_is_closed_as_slow_and_its_backlog_dropped() -> None:
    """A device that stops reading costs at most `limit` frames, then is closed with 4001 "slow";
    delivering never waits on it."""
    wire = Wire()
    wire.open.clear()
    box = Outbox(wire.send, wire.close, limit=100)
    task = asyncio.create_task(box.run())
    await asyncio.sleep(0)
    for _ in range(1000):
        box.deliver(b"x" * 100)  # returns at once however stalled the wire is
    assert box.closing is not None and box.closing[0] == CLOSE_SLOW
    assert len(box._frames) == 0
    wire.open.set()
    await asyncio.wait_for(task, 1)
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
