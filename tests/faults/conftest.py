"""Fixtures of the fault scenarios: `make_world` builds a World (see faults/world.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from faults.world import MakeWorld, World
from support.oracle import PRINTED, RssSampler, open_truth_store
from support.processes import ServerProcess, create_assembly
from support.proxy import FaultProxy


@pytest.fixture
async def make_world(servers: Any, redis_url: str) -> AsyncIterator[MakeWorld]:
    """Factory: `await make_world(tables=4, processes=2, env={...})` -> a running World."""
    worlds: list[World] = []

    async def make(*, tables: int = 4, processes: int = 2, env: Mapping[str, str] | None = None) -> World:
        assembly = await asyncio.to_thread(create_assembly, "Fejlsamling", tables, None, redis_url)
        started: list[ServerProcess] = []

        async def start_server(**kw: Any) -> ServerProcess:
            proc: ServerProcess = await servers.astart(redis=redis_url, env=dict(env or {}), **kw)
            return proc

        started = list(await asyncio.gather(*(start_server() for _ in range(processes))))
        proxies = [await FaultProxy(s.port, seed=i + 1).start() for i, s in enumerate(started)]
        store = await open_truth_store(redis_url, None)
        world = World(redis_url, assembly, started, proxies, store,
                      RssSampler(lambda: [s for s in servers.started]).start(), start_server=start_server)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        await world.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Every scenario's figures at the end of the run, also without -s."""
    if PRINTED:
        terminalreporter.section("fault scenario figures")
        for line in PRINTED:
            terminalreporter.write_line(line)
