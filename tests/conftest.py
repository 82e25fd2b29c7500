"""Fixtures that give each test real processes: a redis-server, Samling servers, a fresh db.

redis-server is required, never optional: scripts/test installs it, and a suite that silently skips
its fault tests when redis is missing would pass while proving nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.client import Device
from support.processes import TEST_SECRET, ProcessError, RedisServer, ServerProcess

_SERVERS = pytest.StashKey["Servers"]()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the whole session (starting one per test would be slow)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except ProcessError as e:
        problem = str(e)
    else:
        problem = ""
    if problem:  # failed outside the except block, so the report is one message, not a chain
        pytest.fail(f"cannot start redis-server, which these tests need: {problem}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session redis, emptied for this test (and restarted if an earlier test killed it)."""
    if not redis_server.ping():
        redis_server.restart()
    with redis_server.client() as r:
        r.flushall()
    return redis_server.url


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    """A fresh SQLite path; also the default db of `servers.start()`."""
    return tmp_path / "samling.db"


@pytest.fixture
def secret() -> str:
    """The secret every test process signs tokens with (fixed, so restarts keep tokens valid)."""
    return TEST_SECRET


@pytest.fixture(autouse=True)
async def _close_devices() -> AsyncIterator[None]:
    """Close the devices a test left open while their event loop still runs (see Device._open)."""
    yield
    await Device.close_all()


class Servers:
    """Starts Samling server processes on demand and stops every one of them at teardown."""

    def __init__(self, workdir: Path, secret: str, default_db: Path) -> None:
        self.workdir = workdir
        self.secret = secret
        self.default_db = default_db
        self.started: list[ServerProcess] = []

    def start(self, db: Path | str | None = None, redis: str | None = None, **kwargs: Any) -> ServerProcess:
        """Start a server (blocking until /healthz is 200). kwargs go to ServerProcess (port, env, ...)."""
        kwargs.setdefault("secret", self.secret)
        proc = ServerProcess(db=db if db is not None else self.default_db, redis=redis, workdir=self.workdir, **kwargs)
        self.started.append(proc)
        return proc.start()

    async def astart(self, db: Path | str | None = None, redis: str | None = None, **kwargs: Any
                     ) -> ServerProcess:
        """start() without blocking the event loop, for async tests with devices already connected."""
        return await asyncio.to_thread(self.start, db, redis, **kwargs)

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop()


@pytest.fixture
def servers(request: pytest.FixtureRequest, tmp_path: Path, tmp_db: Path, secret: str) -> Iterator[Servers]:
    """Factory: `servers.start(db=..., redis=...)` -> a running ServerProcess; all stopped afterwards."""
    factory = Servers(tmp_path, secret, tmp_db)
    request.node.stash[_SERVERS] = factory
    yield factory
    factory.stop_all()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """When a test fails, attach the tail of each server's log to the report: the cause is usually there."""
    report: pytest.TestReport = yield
    factory = item.stash.get(_SERVERS, None)
    if factory is not None and report.failed:
        for proc in factory.started:
            tail = "\n".join(proc.log_text().splitlines()[-60:])
            report.sections.append((f"server {proc.port} log (last 60 lines)", tail))
    return report
