"""One device's socket: a bounded queue of frames to send, a writer that drains it, and a
command rate limit.

Rooms put frames here and never wait: a tablet on bad WiFi must not slow its table. A device
that falls `limit` frames behind is closed as too slow (code 4001) and catches up with `since`
when it returns, so memory per connection stays bounded whatever the device does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable

CLOSE_BAD_FRAME = 1003
CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
CLOSE_RESTART = 1012  # the server is restarting: reconnect
CLOSE_SLOW = 4001  # fell too far behind: reconnect with `since`
CLOSE_NO_HELLO = 4002  # no hello in time
CLOSE_AUTH = 4003  # the token is not (or no longer) valid: do not retry with it

#: The ASGI extension by which the server writes a socket's frames at once (server/wire.py).
WRITE_EXTENSION = "samling.write"


class RateLimit:
    """A token bucket: `burst` commands at once, `rate` a second after that."""

    __slots__ = ("rate", "burst", "clock", "tokens", "at")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = float(burst)
        self.at = clock()

    def ready(self) -> bool:
        """Whether one more may go now (without taking it)."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return self.tokens >= 1

    def allow(self) -> bool:
        """Take one if one may go now."""
        if self.ready():
            self.tokens -= 1
            return True
        return False


class Corks:
    """Outboxes given frames during this turn of the event loop, written together at its end.

    A device often gets several frames in one turn (its own note's `ev` and then its `ack`; a
    reconnect's welcome and what follows): one `transport.write` for all of them instead of one
    each. One callback per turn for the whole process, however many sockets were written to.
    """

    def __init__(self) -> None:
        self._boxes: list[Outbox] = []
        self.writes = 0  # direct writes, and the frames they carried (/healthz)
        self.frames = 0

    def add(self, box: Outbox) -> None:
        if not self._boxes:
            asyncio.get_running_loop().call_soon(self.flush)
        self._boxes.append(box)

    def flush(self) -> None:
        boxes, self._boxes = self._boxes, []
        for box in boxes:
            box.flush()


class Outbox:
    """Frames on their way to one device, in order.

    With `write` (the server's `samling.write` extension, server/wire.py) frames are written at the
    end of the loop's turn, all of a turn's frames in one write, without a task switch. When the
    socket cannot take them now (its buffer is full: a slow device), or to close, or when there is
    no `write`, a writer task sends them one by one through the awaited ASGI send; while it has
    any, every later frame waits behind them, so the order never changes. The writer is started
    the first time it is needed: most sockets never need one, and an idle hall of thousands of
    sockets is lighter by a task, an event and a queue each (docs/performance.md, idle).
    """

    __slots__ = ("_send", "_close", "limit", "_write", "_corks", "_frames", "_writer", "_wake", "_corked",
                 "_sending", "_finished", "closing", "sent")

    def __init__(self, send: Callable[[bytes], Awaitable[None]], close: Callable[[int, str], Awaitable[None]],
                 limit: int, write: Callable[[Iterable[bytes]], bool] | None = None,
                 corks: Corks | None = None) -> None:
        self._send, self._close, self.limit = send, close, limit
        self._write, self._corks = write, corks if write is not None else None
        self._frames: list[bytes] = []  # at most `limit`: a list is lighter than a deque
        self._writer: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._corked = False  # in `corks`, to be flushed at the end of this turn
        self._sending = False  # the writer task holds frames: everything goes through it
        self._finished = False  # the socket is gone: nothing is sent or started any more
        self.closing: tuple[int, str] | None = None
        self.sent = 0

    def deliver(self, frame: bytes) -> None:
        if self.closing is not None or self._finished:
            return
        if len(self._frames) >= self.limit:
            self.close_soon(CLOSE_SLOW, "slow: too far behind, reconnect with since")
            return
        self._frames.append(frame)
        if self._corks is not None and not self._sending:
            if not self._corked:
                self._corked = True
                self._corks.add(self)
        else:
            self._hand_over()

    def flush(self) -> None:
        """Write every waiting frame now if the socket takes them; else hand them to the writer."""
        self._corked = False
        if not self._frames or self._sending:
            return
        if self.closing is None and self._write is not None and self._write(self._frames):
            self.sent += len(self._frames)
            if self._corks is not None:
                self._corks.writes += 1
                self._corks.frames += len(self._frames)
            self._frames.clear()
        else:
            self._sending = True
            self._hand_over()

    def close_soon(self, code: int, reason: str) -> None:
        """Close after nothing more is sent (a slow device's backlog is dropped: it will resume)."""
        if self.closing is None:
            self.closing = (code, reason)
            if code == CLOSE_SLOW:
                self._frames.clear()
            self._hand_over()

    def _hand_over(self) -> None:
        """Wake the writer task, starting it the first time (never once the socket is gone: no
        one would be left to hear how it ended)."""
        if self._finished:
            return
        if self._wake is None:
            self._wake = asyncio.Event()
            self._writer = asyncio.get_running_loop().create_task(self._run(self._wake))
        self._wake.set()

    async def _run(self, wake: asyncio.Event) -> None:
        """Send until closed. Returns after the close frame went out (or the socket died)."""
        while True:
            # Frames are the writer's only once handed over (or with no direct write at all):
            # else the end of the turn writes them.
            while self._frames and (self._sending or self._corks is None or self.closing is not None):
                self._sending = True
                await self._send(self._frames.pop(0))
                self.sent += 1
            self._sending = False
            if self.closing is not None:
                await self._close(*self.closing)
                return
            wake.clear()
            await wake.wait()

    async def finish(self, timeout: float = 2.0) -> None:
        """The socket is done: give a close frame (and its reason) `timeout` to go out, then stop
        the writer."""
        self._finished = True
        writer = self._writer
        if writer is None:
            return
        if self.closing is not None and not writer.done():
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(writer), timeout)
        writer.cancel()
        with contextlib.suppress(BaseException):  # its error, if any, is the socket's end: seen
            await writer
