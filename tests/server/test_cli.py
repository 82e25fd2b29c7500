"""The command line, as an organiser meets it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.processes import REPO_ROOT, TEST_SECRET, free_port, run_cli


@pytest.mark.parametrize("argv", [[], ["serve"], ["assembly"], ["assembly", "create"], ["demo"]])
def test_every_command_has_help(argv: list[str]) -> None:
    """`--help` on every command answers usage text and exits 0."""
    done = run_cli([*argv, "--help"], check=False)
    assert done.returncode == 0 and "usage: samling" in done.stdout


def test_assembly_create_prints_the_sheet(tmp_path: Path) -> None:
    """Without --json the organiser gets readable links and every table's code."""
    done = run_cli(["assembly", "create", "Næstved borgersamling", "--tables", "3"], db=str(tmp_path / "s.db"))
    assert "Facilitator: http" in done.stdout and "Display:" in done.stdout
    assert done.stdout.count("/j/") == 3


def test_assembly_create_json_has_the_contracted_shape(tmp_path: Path) -> None:
    """--json prints exactly one object with the keys scripts rely on, and unique codes."""
    done = run_cli(["assembly", "create", "X", "--tables", "6", "--json"], db=str(tmp_path / "s.db"))
    sheet = json.loads(done.stdout)
    assert {"assembly", "facilitator_token", "facilitator_url", "display_token", "display_url", "tables"} <= set(sheet)
    assert [t["id"] for t in sheet["tables"]] == ["1", "2", "3", "4", "5", "6"]
    codes = [t["code"] for t in sheet["tables"]] + [t["host_code"] for t in sheet["tables"]]
    assert len(set(codes)) == 12 and all(len(c) == 6 for c in codes)
    assert all(t["join_url"].endswith("/j/" + t["code"]) for t in sheet["tables"])


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    """A table count out of range is refused with a message, not a traceback."""
    done = run_cli(["assembly", "create", "X", "--tables", "0"], db=str(tmp_path / "s.db"), check=False)
    assert done.returncode == 2 and "tables" in done.stderr and "Traceback" not in done.stderr


def _serve(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("no /healthz in time")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    return out


def test_demo_creates_three_tables_and_serves_them(tmp_path: Path) -> None:
    """`samling demo` prints the links of a 3-table assembly and serves them on the embedded store."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SAMLING_")}, "SAMLING_SECRET": TEST_SECRET}
    proc = _serve([sys.executable, "-m", "server", "demo", "--port", str(port), "--db", str(tmp_path / "d.db")],
                  env, tmp_path)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
    finally:
        out = _stop(proc)
    assert out.count("/j/") == 3 and "Facilitator:" in out and f"localhost:{port}" in out
    code = out.split("/j/")[1].split()[0]
    assert (tmp_path / "d.db").exists() and len(code) == 6


def test_the_procfile_runs_the_app(tmp_path: Path) -> None:
    """The Procfile's web line serves the app on $PORT."""
    line = next(x for x in (REPO_ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    port = free_port()
    env: dict[str, Any] = {**os.environ, "PORT": str(port), "SAMLING_DB": str(tmp_path / "p.db"),
                           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = _serve(["bash", "-c", "exec " + line.removeprefix("web:").strip()], env, REPO_ROOT)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
    finally:
        _stop(proc)
