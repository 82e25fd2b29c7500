"""The world of a fault scenario: real server processes on one real Redis, a fault proxy in front
of each, an assembly, tablets joined at its tables, the facilitator, and the oracle's handles.

`make_world(...)` builds it; the test plays its fault and its load, then `world.verdict(name)`
settles everything and returns the oracle's figures. Every process, proxy and tablet is stopped
at teardown, and each tablet only ever talks to the proxies, so a fault can be aimed at one
server's traffic (or, with `own_proxy=True`, at one device's).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from support.oracle import Figures, RssSampler, verdict
from support.processes import ServerProcess
from support.proxy import FaultProxy
from support.tablets import Endpoint, Facilitator, Tablet
from support.workload import settle_votes

from server.store.base import Store

#: 2-minute faults run only when asked: SAMLING_LONG_FAULTS=1.
LONG = os.environ.get("SAMLING_LONG_FAULTS") == "1"


@dataclass
class World:
    redis_url: str
    assembly: dict[str, Any]
    servers: list[ServerProcess]
    proxies: list[FaultProxy]
    store: Store
    rss: RssSampler
    facilitator: Facilitator | None = None
    tablets: list[Tablet] = field(default_factory=list)
    extra_proxies: list[FaultProxy] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    start_server: Callable[..., Awaitable[ServerProcess]] | None = None

    @property
    def codes(self) -> list[str]:
        return [t["code"] for t in self.assembly["tables"]]

    @property
    def everyone(self) -> list[Tablet]:
        return ([self.facilitator] if self.facilitator else []) + self.tablets

    @property
    def all_proxies(self) -> list[FaultProxy]:
        return self.proxies + self.extra_proxies

    async def own_proxy(self, server: int = 0) -> FaultProxy:
        """A proxy of its own in front of one server, for a fault aimed at one device."""
        proxy = await FaultProxy(self.servers[server].port, seed=len(self.all_proxies) + 1).start()
        self.extra_proxies.append(proxy)
        return proxy

    async def join(self, per_table: int, tables: Sequence[int] | None = None,
                   endpoints: Sequence[Endpoint] | None = None, start: bool = True, **kw: Any) -> list[Tablet]:
        """`per_table` tablets at each table (all by default), each joining with the table's code."""
        chosen = range(len(self.codes)) if tables is None else tables
        made: list[Tablet] = []
        for t in chosen:
            for i in range(per_table):
                order = list(endpoints or self.proxies)
                k = 0 if endpoints else len(self.tablets) % len(order)  # spread devices over the processes
                tablet = await Tablet.join(order[k:] + order[:k], self.codes[t], name=f"t{t + 1}.{i + 1}",
                                           seed=len(self.tablets) + 1, **kw)
                self.tablets.append(tablet)
                made.append(tablet)
        if start:
            await asyncio.gather(*(t.started() for t in made))
        return made

    async def with_facilitator(self, **kw: Any) -> Facilitator:
        self.facilitator = Facilitator(self.proxies, self.assembly["facilitator_token"], name="facilitator", seed=0,
                                       **kw)
        await self.facilitator.started()
        return self.facilitator

    async def settle_votes(self, timeout: float = 60.0) -> None:
        await settle_votes(self.everyone, timeout)

    async def heads(self) -> dict[str, int]:
        from support.oracle import heads
        return await heads(self.store, self.assembly)

    def alive(self) -> list[ServerProcess]:
        return [s for s in self.servers if s.alive]

    async def verdict(self, scenario: str, *, polls: Sequence[str] = (), extra: Mapping[str, Any] | None = None,
                      tablets: Sequence[Tablet] | None = None) -> Figures:
        for proxy in self.all_proxies:
            proxy.restore()
        return await verdict(scenario, tablets=list(tablets) if tablets is not None else self.everyone,
                             store=self.store, assembly=self.assembly, auditors=self.alive(),
                             proxies=self.all_proxies, polls=polls, rss=self.rss, started=self.started, extra=extra)

    async def close(self) -> None:
        await asyncio.gather(*(t.stop() for t in self.everyone), return_exceptions=True)
        for proxy in self.all_proxies:
            await proxy.close()
        await self.rss.stop()
        with contextlib.suppress(Exception):
            await self.store.close()


MakeWorld = Callable[..., Awaitable[World]]
