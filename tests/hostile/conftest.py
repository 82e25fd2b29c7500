"""Hostile input against a real server process: each test starts its own server with the limits it
needs (the env), an assembly made by the real CLI, and ends by reading the server's log."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.processes import ServerProcess, create_assembly

#: Limits loose enough that a test from 127.0.0.1 meets only the limit it is about.
LOOSE = {"SAMLING_RATE": "100000", "SAMLING_BURST": "100000", "SAMLING_CONNECT_RATE": "100000",
         "SAMLING_CONNECT_BURST": "100000", "SAMLING_ADDRESS_RATE": "100000", "SAMLING_ADDRESS_BURST": "100000",
         "SAMLING_MAX_PER_ADDRESS": "100000", "SAMLING_MAX_CONNECTIONS": "100000"}


@dataclass
class Hall:
    """A server and a 2-table assembly made for it."""

    server: ServerProcess
    assembly: dict[str, Any]

    @property
    def codes(self) -> list[str]:
        return [t["code"] for t in self.assembly["tables"]]

    @property
    def host_codes(self) -> list[str]:
        return [t["host_code"] for t in self.assembly["tables"]]


@pytest.fixture
def hall(servers: Any, tmp_db: Path) -> Callable[..., Hall]:
    """Factory: `hall(SAMLING_X="1", ...)` starts a server (the embedded store, or Redis at
    `redis=`) with a fresh 2-table assembly and those settings on top of the defaults
    (`loose=True`: on top of LOOSE)."""

    def start(*, loose: bool = False, tables: int = 2, redis: str | None = None, **env: str) -> Hall:
        assembly = create_assembly("Fjendtlig", tables, db=None if redis else str(tmp_db), redis=redis)
        server = servers.start(db=tmp_db, redis=redis, env={**(LOOSE if loose else {}), **env})
        return Hall(server, assembly)

    return start


PROBLEM = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b|Exception in ASGI")


def problems(server: ServerProcess) -> list[str]:
    """The lines of a server's log that show it failed rather than refused: a traceback, an error."""
    return [line for line in server.log_text().splitlines() if PROBLEM.search(line)]


@pytest.fixture
def clean_log() -> Callable[[ServerProcess], None]:
    """`clean_log(server)` asserts the log has no traceback and no ERROR line."""

    def check(server: ServerProcess) -> None:
        found = problems(server)
        assert not found, "the server logged failures:\n" + "\n".join(found[:20])

    return check
