"""The benchmark, run tiny: `load_tests/bench.py --quick` must start its own server, drive every
workload over the real protocol, print its one table and lose nothing.

Structure and zero loss only, never speed: the figures depend on the machine and on whoever else
is using it, so a timed assertion here would fail for reasons that are not Samling's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "load_tests" / "bench.py"


def _row(out: str, workload: str, figure: str) -> str:
    """The value of the table row whose figure starts with `figure`."""
    m = re.search(rf"^\| {re.escape(workload)}\s+\| {re.escape(figure)}[^|]*\| ([^|]+?)\s*\|$", out, re.MULTILINE)
    assert m, f"no row {workload!r} / {figure!r} in:\n{out[-4000:]}"
    return m.group(1)


@pytest.mark.slow
def test_the_quick_bench_prints_every_row_and_loses_nothing(tmp_path: Path) -> None:
    raw = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--store", "sqlite", "--workloads", "tables,plenary,idle",
         "--steps", "2,3", "--configs", "40x0.5", "--counts", "30,60", "--json", str(raw)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"bench.py exited {proc.returncode}:\n{out[-6000:]}"

    # One table, with a row for each figure of each workload asked for.
    assert re.search(r"^\| workload\s+\| figure\s+\| value\s+\|$", out, re.MULTILINE), out[-4000:]
    held = _row(out, "tables", "rooms of 8 held")
    assert re.match(r"\d+", held), held
    assert _row(out, "tables", "lost (never delivered") == "0"
    assert re.match(r"[\d.]+ / [\d.]+$", _row(out, "tables", "at 3 rooms: p50 / p99 ms"))
    assert _row(out, "tables", "at 3 rooms: server CPU")
    assert re.match(r"[\d.]+$", _row(out, "plenary", "40 votes in 0.5 s: all counted"))
    assert _row(out, "plenary", "40 votes: lost votes") == "0"
    assert re.match(r"[\d.]+ / [\d.]+$", _row(out, "idle", "RSS per connection KB at 30 / 60"))
    assert re.match(r"[\d.]+ / [\d.]+", _row(out, "idle", "connects/s"))
    assert _row(out, "idle", "connect errors") == "0"
    for workload in ("tables", "plenary", "idle"):
        assert _row(out, workload, "seq gaps / err frames") == "0 / 0 / 0 / 0", workload
    assert "| assembly" not in out, "a workload that was not asked for ran"

    # The raw results say the same, and everything it started is gone.
    res = json.loads(raw.read_text())["results"]
    assert res["tables"]["never_delivered"] == 0
    assert all(s["lost"] == 0 and s["dup"] == 0 and s["misrouted"] == 0 for s in res["tables"]["steps"])
    assert res["plenary"]["rounds"][0]["lost_votes"] == 0
    assert [lv["open"] for lv in res["idle"]["levels"]] == [30, 60]
    for workload in ("tables", "plenary", "idle"):
        checks = res[workload]["checks"]
        assert checks["seq_gaps"] == checks["seq_back"] == checks["err_frames"] == 0, checks
    pids = re.findall(r"server process\(es\) \[(\d+)\]", out)
    assert len(pids) == 3, out[:2000]
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), \
            f"server {pid} still runs"
