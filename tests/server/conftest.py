"""A running Samling on each store: the same cases run on the embedded store and on Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from support.processes import ServerProcess, create_assembly


@dataclass
class Stack:
    """One server process and an assembly created for it, on one store."""

    kind: str
    server: ServerProcess
    assembly: dict[str, Any]
    db: str
    redis: str | None

    @property
    def codes(self) -> list[str]:
        return [t["code"] for t in self.assembly["tables"]]


@pytest.fixture(params=["sqlite", "redis"])
def stack(request: pytest.FixtureRequest, servers: Any, tmp_db: Any) -> Stack:
    """A server with a fresh 2-table assembly, on the store named by the test's parameter."""
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else None
    assembly = create_assembly("Testsamling", 2, db=str(tmp_db) if redis is None else None, redis=redis)
    server = servers.start(db=tmp_db, redis=redis)
    return Stack(request.param, server, assembly, str(tmp_db), redis)


@pytest.fixture(params=["sqlite", "redis"])
def stack_kind(request: pytest.FixtureRequest) -> str:
    """The store a test runs on, for tests that start their own servers."""
    return str(request.param)
