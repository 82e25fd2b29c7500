"""rooms/ is the pure domain: no clock, no randomness, no network, no storage, no server."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rooms

ROOMS_DIR = Path(rooms.__file__).resolve().parent

FORBIDDEN = frozenset({
    "asyncio", "redis", "msgpack", "starlette", "time", "random", "socket", "sqlite3", "os", "secrets",
    "uuid", "datetime", "threading", "httpx", "websockets", "uvicorn", "server",
})


def imported_names(source: str) -> list[str]:
    """Every module name an `import`, `from ... import` or literal `__import__("...")` in `source` names."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module:
                names.append(node.module)
            # `from . import server` or `from os import path`: the imported names may be modules too
            names.extend(f"{node.module or ''}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.append(node.args[0].value)
    return names


def forbidden_in(source: str) -> list[str]:
    """The imports of `source` that break purity: a forbidden top-level module, or any `server` module."""
    bad = []
    for name in imported_names(source):
        parts = [p for p in name.split(".") if p]
        if parts and (parts[0] in FORBIDDEN or "server" in parts):
            bad.append(name)
    return bad


def rooms_sources() -> list[Path]:
    return sorted(ROOMS_DIR.rglob("*.py"))


def test_the_walk_sees_the_whole_domain() -> None:
    """The purity walk reads every module of rooms/, so a pass is not a pass over nothing."""
    names = {p.name for p in rooms_sources()}
    assert {"__init__.py", "commands.py", "phases.py", "table.py", "hall.py", "room.py", "snapshots.py",
            "events.py"} <= names


@pytest.mark.parametrize("path", rooms_sources(), ids=lambda p: p.name)
def test_rooms_module_imports_no_io(path: Path) -> None:
    """A rooms/ module imports nothing that touches the clock, randomness, network, storage or the server."""
    assert forbidden_in(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("source", [
    "import time",
    "import os.path",
    "from datetime import datetime",
    "from asyncio import sleep",
    "import random as r",
    "from server import app",
    "from server.store import redis",
    "from .. import server",
    "from ..server.hub import Hub",
    "x = __import__('secrets')",
    "def f():\n    import uuid\n",
])
def test_purity_check_catches_forbidden_imports(source: str) -> None:
    """The checker flags each way of importing a forbidden module, so it cannot pass by being blind."""
    assert forbidden_in(source)


@pytest.mark.parametrize("source", [
    "from . import commands",
    "from .actors import Role",
    "import re",
    "from dataclasses import dataclass",
    "from collections.abc import Mapping",
    "from typing import TYPE_CHECKING",
])
def test_purity_check_allows_pure_imports(source: str) -> None:
    """The checker lets pure standard-library and in-package imports through (no false alarms)."""
    assert forbidden_in(source) == []
