"""One device's socket: a bounded queue of frames to send, a writer that drains it, and a
command rate limit.

Rooms put frames here and never wait: a tablet on bad WiFi must not slow its table. A device
that falls `limit` frames behind is closed as too slow (code 4001) and catches up with `since`
when it returns, so memory per connection stays bounded whatever the device does.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

CLOSE_BAD_FRAME = 1003
CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
CLOSE_RESTART = 1012  # the server is restarting: reconnect
CLOSE_SLOW = 4001  # fell too far behind: reconnect with `since`
CLOSE_NO_HELLO = 4002  # no hello in time
CLOSE_AUTH = 4003  # the token is not (or no longer) valid: do not retry with it


class RateLimit:
    """A token bucket: `burst` commands at once, `rate` a second after that."""

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


class Outbox:
    """Frames on their way to one device, sent in order by one writer task."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], close: Callable[[int, str], Awaitable[None]],
                 limit: int) -> None:
        self._send, self._close, self.limit = send, close, limit
        self._frames: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self.closing: tuple[int, str] | None = None
        self.sent = 0

    def deliver(self, frame: bytes) -> None:
        if self.closing is not None:
            return
        if len(self._frames) >= self.limit:
            self.close_soon(CLOSE_SLOW, "slow: too far behind, reconnect with since")
            return
        self._frames.append(frame)
        self._wake.set()

    def close_soon(self, code: int, reason: str) -> None:
        """Close after nothing more is sent (a slow device's backlog is dropped: it will resume)."""
        if self.closing is None:
            self.closing = (code, reason)
            if code == CLOSE_SLOW:
                self._frames.clear()
            self._wake.set()

    async def run(self) -> None:
        """Send until closed. Returns after the close frame went out (or the socket died)."""
        while True:
            while self._frames:
                await self._send(self._frames.popleft())
                self.sent += 1
            if self.closing is not None:
                await self._close(*self.closing)
                return
            self._wake.clear()
            await self._wake.wait()
