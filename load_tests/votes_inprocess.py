"""The cost of a plenary's ballots inside one process, sockets aside: a hub on a real store and
N concurrent `vote.cast` commands through `Hub.execute`, timed (wall and CPU). A quick way to see
what a change to the vote path or a store adapter costs (docs/performance.md).

    .venv/bin/python load_tests/votes_inprocess.py --store sqlite
    .venv/bin/python load_tests/votes_inprocess.py --store redis --redis redis://127.0.0.1:6379/15

With Redis it adds an assembly to that database (use a scratch one); with SQLite it uses a
temporary file. Prints one line; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rooms import Actor, Role  # noqa: E402
from server.assemblies import create_assembly  # noqa: E402
from server.hub import Hub  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.store.base import open_store  # noqa: E402
from server.tokens import Tokens  # noqa: E402


async def run(store_kind: str, redis_url: str | None, voters: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "votes.db"), redis_url if store_kind == "redis" else None)
        await store.start()
        hub = Hub(store, Settings())
        await hub.open_epoch()
        try:
            made = await create_assembly(store, Tokens("bench-secret-" * 3), "Votes", voters // 8 + 1, "http://x")
            asm = made["assembly"]
            fac = Actor("facilitator", Role.FACILITATOR, None)
            await hub.execute(fac, asm, "hall", "activity.start", {"activity": "a", "prompt": "?"}, "c1")
            await hub.execute(fac, asm, "hall", "poll.open", {"poll": "p", "question": "?", "kind": "choice",
                                                              "options": ["ja", "nej"]}, "c2")
            actors = [Actor(f"d{i}", Role.MEMBER, str(i // 8 + 1)) for i in range(voters)]
            wall, cpu = time.perf_counter(), time.process_time()
            answers = await asyncio.gather(*(hub.execute(a, asm, "hall", "vote.cast", {"poll": "p", "choice": i % 2},
                                                         f"v{i}") for i, a in enumerate(actors)))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            acked = sum(1 for x in answers if x["t"] == "ack")
            return (f"{store_kind}: {voters} concurrent votes, {acked} acked: wall {wall:.3f} s, CPU {cpu:.3f} s "
                    f"({1e6 * cpu / voters:.0f} µs a vote)")
        finally:
            await hub.close()
            await store.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", choices=["sqlite", "redis"], default="sqlite", help="the store to vote into")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/15", help="Redis URL (a scratch database)")
    p.add_argument("--voters", type=int, default=2000, help="concurrent voters (default 2000)")
    a = p.parse_args()
    print(asyncio.run(run(a.store, a.redis, a.voters)))


if __name__ == "__main__":
    main()
