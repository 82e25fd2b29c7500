"""Python's cyclic garbage collector, set for a server whose heap is mostly long-lived sockets.

A full collection walks every tracked object, and CPython starts one whenever the objects that
survived into the oldest generation grew by a quarter. A hall reconnecting at once is exactly
such growth: on 10,000 sockets the bench measured ten full collections during the connect storm,
1.8 s in all, the longest pausing every socket for 0.4 s (docs/performance.md). So:

- what start-up built (modules, templates, the catalogue) is frozen: never walked again;
- young collections run every YOUNG allocations instead of every 700, so a burst of frames or
  handshakes does not promote its short-lived objects into the older generations as fast, and
  the older generations fill (and are walked) less often. Acyclic garbage is freed by reference
  counting as always; only cycles wait a little longer.

The figures with and without are in docs/performance.md (`load_tests/bench.py --workloads idle`).
"""

from __future__ import annotations

import gc

#: Allocations (net) between two young collections; CPython's default is 700.
YOUNG = 10_000
#: Young collections per middle one, and middle ones per full one (CPython: 10 and 10).
MIDDLE, OLD = 10, 10


def settle_after_start() -> None:
    """Collect what start-up left behind, freeze the rest, and set the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)


def stats() -> dict[str, object]:
    """For /healthz: objects frozen at start-up, the thresholds, and collections per generation."""
    return {"frozen": gc.get_freeze_count(), "threshold": list(gc.get_threshold()),
            "collections": [g["collections"] for g in gc.get_stats()]}
