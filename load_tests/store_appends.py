"""The cost of `SqliteStore.append` alone: N rooms appending notes at once, as the hub does
(`store.append(room, expect, [blob], key, None, digest)`, `expect` the head the last append
returned), timed in wall and process CPU time (the event loop and the SQLite worker thread
together). A quick way to see what a change to the store's hot path costs, without sockets.

    .venv/bin/python load_tests/store_appends.py                          # this tree's store
    .venv/bin/python load_tests/store_appends.py --baseline HEAD          # ... beside HEAD's
    .venv/bin/python load_tests/store_appends.py --rooms 1,10,100 --appends 20000 --runs 3

Each run uses a fresh SQLite file in a temporary directory (or under --dir, which should be on the
disk the server uses: tmpfs hides the cost of writing). With --baseline REV the store module of
that git revision (`git show REV:server/store/sqlite.py`, or a file) is loaded beside this tree's,
and the two are run in turn, run after run, so both see the same machine. Prints each run and
the medians; nothing is asserted but that every append was OK. A figure is only as good as the
machine was quiet: the load average is printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import server.store.sqlite as current  # noqa: E402
from server.store.base import Outcome  # noqa: E402


def load_baseline(rev: str, tmp: str) -> ModuleType:
    """The SQLite store module as it is at git revision `rev` (or in the file `rev`), imported as a
    sibling of this tree's (so its relative imports find this tree's `server.store.base`)."""
    if Path(rev).is_file():
        source = Path(rev).read_text()
    else:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:server/store/sqlite.py"],
                                check=True, capture_output=True, text=True).stdout
    path = Path(tmp) / "sqlite_baseline.py"
    path.write_text(source)
    name = "server.store._sqlite_baseline"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def note(i: int, size: int) -> bytes:
    """A blob about as long as an encoded note.add record (MessagePack, a 138-character text)."""
    return b"note.add %d " % i + b"x" * max(0, size - 16)


async def one_run(module: ModuleType, db: str, rooms: int, appends: int, size: int) -> dict[str, float]:
    store = module.SqliteStore(db)
    await store.start()
    per_room = max(1, appends // rooms)

    async def room(r: int) -> int:
        name, head = f"a1/t{r}", 0
        for i in range(per_room):
            key = f"dev{r}|c{i}"
            said = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
            result = await store.append(name, head, [note(i, size)], key, None, said)
            if result.outcome is not Outcome.OK:
                raise RuntimeError(f"{name}: append {i} at {head} gave {result}")
            head = result.seq
        return head

    try:
        wall, cpu = time.perf_counter(), time.process_time()
        heads = await asyncio.gather(*(room(r) for r in range(rooms)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert heads == [per_room] * rooms, heads
    finally:
        await store.close()
    total = per_room * rooms
    return {"appends": total, "per_s": total / wall, "cpu_us": 1e6 * cpu / total, "wall": wall}


async def main_async(a: argparse.Namespace) -> None:
    sync = os.environ.get("SAMLING_SQLITE_SYNC", "NORMAL")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs, "
          f"SQLite {sqlite3.sqlite_version}, SAMLING_SQLITE_SYNC={sync}")
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        impls: list[tuple[str, ModuleType]] = []
        if a.baseline:
            impls.append((Path(a.baseline).name, load_baseline(a.baseline, tmp)))
        impls.append(("this tree", current))
        rooms_list = [int(x) for x in a.rooms.split(",")]
        width = max(len(label) for label, _ in impls)
        results: dict[tuple[str, int], list[dict[str, float]]] = {}
        n = 0
        for run in range(1, a.runs + 1):
            for rooms in rooms_list:
                for label, module in impls:
                    n += 1
                    got = await one_run(module, str(Path(tmp) / f"run{n}.db"), rooms, a.appends, a.blob_bytes)
                    results.setdefault((label, rooms), []).append(got)
                    print(f"run {run} rooms {rooms:4d} {label:>{width}}: {got['appends']:6.0f} appends in "
                          f"{got['wall']:6.3f} s, {got['per_s']:7.0f}/s, CPU {got['cpu_us']:6.1f} µs an append",
                          flush=True)
        print(f"\nmedians of {a.runs} runs")
        print(f"{'rooms':>5} {'store':>{width}} {'appends/s':>10} {'CPU µs/append':>14}")
        for rooms in rooms_list:
            base: dict[str, Any] | None = None
            for label, _ in impls:
                runs = results[(label, rooms)]
                med = {k: statistics.median(r[k] for r in runs) for k in ("per_s", "cpu_us")}
                vs = "" if base is None or label != "this tree" else (
                    f"   ({med['per_s'] / base['per_s']:.2f}x the appends/s, "
                    f"{med['cpu_us'] / base['cpu_us']:.2f}x the CPU)")
                print(f"{rooms:5d} {label:>{width}} {med['per_s']:10.0f} {med['cpu_us']:14.1f}{vs}")
                if label != "this tree":
                    base = med


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rooms", default="1,10,100",
                   help="comma-separated numbers of rooms appending at once, each measured (default 1,10,100)")
    p.add_argument("--appends", type=int, default=20000,
                   help="appends a run, split evenly over the rooms (default 20000)")
    p.add_argument("--runs", type=int, default=3, help="runs of each (rooms, store), medians reported (default 3)")
    p.add_argument("--baseline", metavar="REV", default=None,
                   help="also measure server/store/sqlite.py as it is at git revision REV (e.g. HEAD), "
                        "or a copy of it in the file REV")
    p.add_argument("--blob-bytes", type=int, default=200, help="bytes an event blob (default 200)")
    p.add_argument("--dir", default=None, help="where the temporary SQLite files go (default: the system's temp dir)")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
