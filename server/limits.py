"""Limits per client address, on top of the per-socket ones in `connection.py`.

A per-socket bucket stops one socket from flooding, but a hostile client simply opens more
sockets. So each address (the TCP peer, or the forwarded client when the peer is a trusted
proxy: see `client_address`) also has:

- a cap on its open sockets, and the process a cap on all of them, so no one address can take
  every file descriptor;
- a connect-rate bucket, so a connect storm is refused at the handshake instead of costing a
  socket, a task and a hello timeout each;
- a command bucket shared by all its sockets.

The defaults are generous because a whole hall may sit behind one NAT address: the limits are
there to stop a runaway script, not to ration a full assembly. Everything here is in-memory and
per process: behind a load balancer each process keeps its own accounts.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from .connection import RateLimit
from .settings import Settings

log = logging.getLogger("samling.limits")

#: How many per-address buckets are kept before the full ones are forgotten.
KEEP = 10_000
#: Seconds between two log lines about the same kind of refusal (a flood must not flood the log).
LOG_EVERY = 10.0

#: What a refused handshake answers, by reason: (HTTP status, error code, message).
REFUSALS: dict[str, tuple[int, str, str]] = {
    "connect_rate": (429, "rate_limited", "too many connections from this address lately: retry in a moment"),
    "per_address": (429, "rate_limited", "too many open connections from this address"),
    "total": (503, "server_busy", "this server has all the connections it can take: retry in a moment"),
}


def client_address(scope: Any) -> str:
    """The client of an ASGI scope: the TCP peer, which uvicorn's proxy-header middleware
    replaces with the forwarded client only when the peer is in SAMLING_TRUSTED_PROXIES
    (`server/app.py`). A forged X-Forwarded-For from anyone else changes nothing here."""
    client = scope.get("client")
    return str(client[0]) if client else "?"


class Buckets:
    """One token bucket per address, bounded in number.

    A bucket that has refilled completely is the same as a new one, so forgetting it loses
    nothing; only under a spray of more than KEEP live addresses are the oldest dropped.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.buckets: dict[str, RateLimit] = {}

    def allow(self, address: str) -> bool:
        bucket = self.buckets.get(address)
        if bucket is None:
            if len(self.buckets) >= KEEP:
                self._prune()
            bucket = self.buckets[address] = RateLimit(self.rate, self.burst, self.clock)
        return bucket.allow()

    def _prune(self) -> None:
        now = self.clock()
        for key, bucket in list(self.buckets.items()):
            if bucket.tokens + (now - bucket.at) * bucket.rate >= bucket.burst:
                del self.buckets[key]
        if len(self.buckets) >= KEEP:
            for key in list(self.buckets)[: KEEP // 2]:
                del self.buckets[key]


class AddressLimits:
    """The accounts of one process: open sockets per address and in all, connect and command rates.

    `admit` is asked before a socket is accepted and, when it says yes, holds a slot until
    `release`. Every refusal is counted in `refused` (shown by /healthz) by its reason.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_connections = settings.max_connections
        self.max_per_address = settings.max_per_address
        self.connects = Buckets(settings.connect_rate, settings.connect_burst, clock)
        self.commands = Buckets(settings.address_rate, settings.address_burst, clock)
        self.open: dict[str, int] = {}
        self.total = 0
        self.refused: Counter[str] = Counter()
        self.clock = clock
        self._logged: dict[str, float] = {}

    def admit(self, address: str) -> str | None:
        """Take a socket slot for `address`, or say why not: "connect_rate" (too many
        handshakes lately), "per_address" or "total" (too many open sockets)."""
        if not self.connects.allow(address):
            return self._refuse("connect_rate", address)
        if self.total >= self.max_connections:
            return self._refuse("total", address)
        if self.open.get(address, 0) >= self.max_per_address:
            return self._refuse("per_address", address)
        self.open[address] = self.open.get(address, 0) + 1
        self.total += 1
        return None

    def release(self, address: str) -> None:
        """Give back the slot `admit` took, once the socket has ended."""
        left = self.open.get(address, 0) - 1
        if left > 0:
            self.open[address] = left
        else:
            self.open.pop(address, None)
        self.total = max(0, self.total - 1)

    def command(self, address: str) -> bool:
        """Whether one more command from this address may go now (all its sockets together)."""
        if self.commands.allow(address):
            return True
        self._refuse("address_rate", address)
        return False

    def _refuse(self, reason: str, address: str) -> str:
        self.refused[reason] += 1
        now = self.clock()
        if now - self._logged.get(reason, -LOG_EVERY) >= LOG_EVERY:
            self._logged[reason] = now
            log.warning("refusing %s from %s (%d refused for this reason so far; next note in %.0f s)",
                        reason.replace("_", " "), address, self.refused[reason], LOG_EVERY)
        return reason


#: True in the task that refused its handshake with an HTTP answer on purpose (see QuietDenials).
denied: ContextVar[bool] = ContextVar("samling_denied", default=False)


class QuietDenials(logging.Filter):
    """Drops uvicorn's "ASGI callable returned without completing handshake." after a handshake we
    refused on purpose with an HTTP answer (`denied` set in that task). uvicorn's websockets-sansio
    protocol sends the answer correctly and then logs that ERROR anyway (Kludex/uvicorn#3138), so a
    connect flood would write one ERROR line per refusal and trip every alert on the log. The same
    line from any other socket still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (denied.get() and record.getMessage().startswith("ASGI callable returned without completing"))


def quiet_denials() -> None:
    """Install QuietDenials on uvicorn's error log, once."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietDenials) for f in logger.filters):
        logger.addFilter(QuietDenials())
