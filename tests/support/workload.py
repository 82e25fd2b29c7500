"""What the simulated tablets do during a scenario: a table's work, as a hall would do it.

Each phase has a chooser that picks a tablet's next command from what that tablet currently
knows of its table (its fold), as a person at the tablet would: write and edit notes while
brainstorming, make and rename groups and drag notes into them while clustering, place and take
back dots while voting, and vote (and change a vote) in a plenary poll. Commands the room refuses
because the phase moved on, or a dot budget ran out, are fine: a refusal stores nothing, and the
oracle checks exactly that. Load stays under the socket rate limit (20/s, bursts of 60): each
tablet keeps at most a few commands in flight, as a person would.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from .folds import TableFold
from .tablets import Tablet

#: Multiplies every scenario's durations (SAMLING_FAULT_SCALE=3 for a longer soak).
SCALE = float(os.environ.get("SAMLING_FAULT_SCALE") or "1")

Choice = tuple[str, dict[str, Any]] | None
Chooser = Callable[[Tablet], Choice]


def seconds(s: float) -> float:
    return s * SCALE


def _board(t: Tablet) -> TableFold | None:
    fold = t.folds.get(t.table_room)
    return fold if isinstance(fold, TableFold) else None


def _rid(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(5)}"


def brainstorm(t: Tablet) -> Choice:
    """Mostly new notes; sometimes an edit of a note this tablet wrote (it knows its own ids)."""
    mine = [a.args["note"] for a in t.ledger.acked.values() if a.op == "note.add"]
    board = _board(t)
    mine = [n for n in mine if board is not None and n in board.notes]
    if mine and t.random.random() < 0.3:
        return "note.edit", {"note": t.random.choice(mine), "text": f"rettet {secrets.token_hex(3)}"}
    return "note.add", {"note": _rid("n"), "text": f"idé {secrets.token_hex(4)}"}


def cluster(t: Tablet) -> Choice:
    """Groups made, renamed, and notes dragged into them (never removed: see folds.py on dots)."""
    board = _board(t)
    if board is None:
        return None
    roll = t.random.random()
    if not board.clusters or roll < 0.15:
        return "cluster.add", {"cluster": _rid("k"), "title": f"gruppe {secrets.token_hex(2)}"}
    if roll < 0.3:
        return "cluster.rename", {"cluster": t.random.choice(list(board.clusters)),
                                  "title": f"navn {secrets.token_hex(2)}"}
    if not board.notes:
        return None
    target = t.random.choice([*board.clusters, None])
    return "note.move", {"note": t.random.choice(list(board.notes)), "cluster": target}


def vote(t: Tablet) -> Choice:
    """Dots on groups and loose notes; now and then one taken back from where this tablet put one."""
    board = _board(t)
    if board is None:
        return None
    targets = list(board.clusters) + [n for n, (_, k) in board.notes.items() if k is None]
    if not targets:
        return None
    placed: dict[str, int] = {}
    for a in t.ledger.acked.values():
        if a.op in ("dot.add", "dot.remove") and a.args:
            placed[a.args["target"]] = placed.get(a.args["target"], 0) + (1 if a.op == "dot.add" else -1)
    own = [k for k, n in placed.items() if n > 0]
    if own and t.random.random() < 0.25:
        return "dot.remove", {"target": t.random.choice(own)}
    return "dot.add", {"target": t.random.choice(targets)}


def ballot(poll: str, options: int) -> Chooser:
    """A vote, or a changed vote, but never while this tablet's last vote is unanswered: the
    order of a device's ballots is then the order of its acks, which the oracle relies on."""
    def choose(t: Tablet) -> Choice:
        if t.pending_in("vote.cast"):
            return None
        return "vote.cast", {"poll": poll, "choice": t.random.randrange(options)}
    return choose


async def run(tablets: Sequence[Tablet], chooser: Chooser, duration: float, rate: float = 2.0,
              inflight: int = 4, room: Callable[[Tablet], str] | None = None) -> int:
    """Every tablet sends about `rate` commands a second for `duration` seconds; returns how many."""
    sent = 0
    deadline = time.monotonic() + duration

    async def one(t: Tablet) -> None:
        nonlocal sent
        await asyncio.sleep(t.random.uniform(0, 1 / rate))
        while time.monotonic() < deadline and not t.stopped:
            if len(t.outbox) < inflight:
                choice = chooser(t)
                if choice is not None:
                    op, args = choice
                    t.submit(op, args, room(t) if room is not None else ("hall" if op == "vote.cast" else None))
                    sent += 1
            await asyncio.sleep(t.random.uniform(0.5, 1.5) / rate)

    await asyncio.gather(*(one(t) for t in tablets))
    return sent


def mixed(*weighted: tuple[float, Chooser]) -> Chooser:
    """Pick one of several choosers by weight, falling back to the next when one has nothing to do."""
    total = sum(w for w, _ in weighted)

    def choose(t: Tablet) -> Choice:
        roll = t.random.uniform(0, total)
        first = 0
        for i, (weight, _) in enumerate(weighted):
            roll -= weight
            if roll <= 0:
                first = i
                break
        for _, chooser in weighted[first:] + weighted[:first]:
            if (choice := chooser(t)) is not None:
                return choice
        return None
    return choose


async def settle_votes(tablets: Sequence[Tablet], timeout: float = 60.0) -> None:
    """Every vote answered before a poll closes, so the box is compared with settled ballots."""
    async def one(t: Tablet) -> None:
        for pending in t.pending_in("vote.cast"):
            async with asyncio.timeout(timeout):
                await asyncio.shield(pending.future)
    await asyncio.gather(*(one(t) for t in tablets))
