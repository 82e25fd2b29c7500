"""The one oracle of every fault scenario: "nothing lost, no one where they don't belong".

After a scenario settles (`settle`: every outbox answered, every device at the log's head), it
compares what the simulated tablets were told with what the store holds:

- every acknowledged command is in its room's log exactly once, at the seq its ack named
  (lost = 0, dup = 0); nothing refused or unanswered is in a log (phantom = 0); no outbox is left
  holding a command (pending = 0);
- each device applied each room's seqs with no gap and no repeat within an epoch; a gap seen on a
  live socket counts only if the fault proxy did not drop exactly those frames (order = 0);
- each device's fold of each room equals the server's: a fresh welcome from every live process,
  and the fold of the stored log itself, all agree (diverged = 0);
- every poll's box holds one ballot per device whose vote was acked, each the last choice acked,
  and the final tally in the hall's log says the same (ballots_wrong = 0).

It also reports the effort it took (reconnects, snapshot resumes, catch-up times, peak RSS of
the server processes), prints one fixed-format line per scenario and keeps the latest figures of
each scenario in a JSON-lines file, from which docs/reliability.md's table is refreshed
(`PYTHONPATH=tests .venv/bin/python -m support.oracle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from server.codec import Record, decode_record
from server.store.base import Store, open_store

from .client import Device
from .folds import fold_records, fold_state
from .processes import REPO_ROOT, ServerProcess
from .proxy import FaultProxy
from .tablets import Endpoint, Tablet

RESULTS = Path(os.environ.get("SAMLING_FAULT_RESULTS") or REPO_ROOT / "tests" / "faults" / ".results.jsonl")
DETAILS = 12  # explanation lines kept for a failure message
PRINTED: list[str] = []  # this session's lines, repeated in the terminal summary


@dataclass
class Figures:
    scenario: str
    ops: int = 0  # commands submitted by every device
    acked: int = 0  # commands acked (ballots included)
    logged: int = 0  # acked log commands found in their room's log
    lost: int = 0  # acked log commands missing from the log
    dup: int = 0  # commands stored more than once
    phantom: int = 0  # commands stored although refused or never acked
    pending: int = 0  # commands still in an outbox after settling
    order: int = 0  # gaps, repeats and regressions seen by devices within an epoch (injected drops excepted)
    diverged: int = 0  # device folds (and server views) that differ from the server's truth
    violations: int = 0  # everything else a correct client must never see (terminal closes, id_reused, ...)
    ballots: int = 0  # acked vote.cast commands
    ballots_wrong: int = 0  # polls whose box or final tally disagrees with the devices' acked votes
    recovered: int = 0  # reconnects that reached a welcome
    snapshots: int = 0  # rooms resumed with a snapshot although `since` was sent
    catchup_p50_ms: float = 0.0
    catchup_p99_ms: float = 0.0
    rss_mb: float = 0.0  # peak resident memory (VmHWM) of the largest server process
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        if len(self.details) < DETAILS:
            self.details.append(line)

    def line(self) -> str:
        extra = " ".join(f"{k}={_fmt(v)}" for k, v in self.extra.items())
        return (f"[fault] {self.scenario}: ops={self.ops} acked={self.acked} logged={self.logged} lost={self.lost} "
                f"dup={self.dup} phantom={self.phantom} pending={self.pending} order={self.order} "
                f"diverged={self.diverged} violations={self.violations} ballots={self.ballots} "
                f"ballots_wrong={self.ballots_wrong} recovered={self.recovered} snapshots={self.snapshots} "
                f"catchup_p50={self.catchup_p50_ms:.0f}ms p99={self.catchup_p99_ms:.0f}ms "
                f"rss={self.rss_mb:.0f}MB time={self.seconds:.0f}s" + (f" | {extra}" if extra else ""))

    def assert_clean(self) -> None:
        """The oracle's verdict: every figure that must be zero is zero."""
        bad = {k: getattr(self, k) for k in ("lost", "dup", "phantom", "pending", "order", "diverged", "violations",
                                             "ballots_wrong") if getattr(self, k)}
        assert not bad, f"{self.scenario}: {bad}\n  " + "\n  ".join(self.details)


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- server memory --------------------------------------------------------------------------------

def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB (empty if it is gone)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


class RssSampler:
    """Samples the servers' memory every half second, so a process killed or restarted mid-run
    still counts with the peak it reached before it went."""

    def __init__(self, servers: Callable[[], Iterable[ServerProcess]], every: float = 0.5) -> None:
        self.servers = servers
        self.every = every
        self.peak: dict[int, int] = {}  # pid -> VmHWM kB
        self.rss: dict[int, int] = {}  # pid -> last VmRSS kB
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for server in self.servers():
            if server.alive and server.proc is not None:
                status = proc_status(server.proc.pid)
                if status:
                    self.peak[server.proc.pid] = max(self.peak.get(server.proc.pid, 0), status.get("VmHWM", 0))
                    self.rss[server.proc.pid] = status.get("VmRSS", 0)

    def current_mb(self, server: ServerProcess) -> float:
        self.sample()
        return self.rss.get(server.proc.pid, 0) / 1024 if server.proc is not None else 0.0

    @property
    def peak_mb(self) -> float:
        self.sample()
        return max(self.peak.values(), default=0) / 1024

    def start(self) -> RssSampler:
        async def loop() -> None:
            while True:
                self.sample()
                await asyncio.sleep(self.every)
        self._task = asyncio.get_running_loop().create_task(loop())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# -- the server's truth ---------------------------------------------------------------------------

@dataclass
class Truth:
    """What the store holds: every room's log, every poll's box, and fresh welcomes."""

    logs: dict[str, list[Record]]
    counts: dict[str, Any]  # poll -> store Count
    views: list[tuple[str, dict[str, Any]]]  # (endpoint, welcome rooms) per live server


def room_names(assembly: Mapping[str, Any]) -> list[str]:
    return ["hall"] + [f"table:{t['id']}" for t in assembly["tables"]]


async def open_truth_store(redis_url: str | None, db: Path | str | None) -> Store:
    store = open_store(str(db) if db is not None else "", redis_url)
    await store.start()
    return store


async def heads(store: Store, assembly: Mapping[str, Any]) -> dict[str, int]:
    return {room: await store.head(f"{assembly['assembly']}/{room}") for room in room_names(assembly)}


async def read_truth(store: Store, assembly: Mapping[str, Any], polls: Iterable[str],
                     auditors: Sequence[Endpoint]) -> Truth:
    asm = assembly["assembly"]
    logs = {room: [decode_record(b) for b in await store.read(f"{asm}/{room}", 0, -1)]
            for room in room_names(assembly)}
    counts = {poll: await store.count(f"{asm}/{poll}") for poll in polls}
    views = []
    for endpoint in auditors:
        dev = await Device.connect(endpoint.ws_url, assembly["facilitator_token"], timeout=20)
        try:
            assert dev.welcome is not None
            views.append((endpoint.ws_url, dev.welcome["rooms"]))
        finally:
            await dev.close()
    return Truth(logs, counts, views)


# -- settling -------------------------------------------------------------------------------------

async def settle(tablets: Sequence[Tablet], store: Store, assembly: Mapping[str, Any], timeout: float = 90.0) -> None:
    """Wait until every outbox is answered and every device is at its rooms' heads (asking a device
    that stays behind to resume with `since`, as a client does when it suspects it missed the end)."""
    deadline = time.monotonic() + timeout
    await asyncio.gather(*(t.drained(max(1.0, deadline - time.monotonic())) for t in tablets if not t.stopped))
    previous: dict[str, int] | None = None
    while time.monotonic() < deadline:
        now = await heads(store, assembly)
        done = await asyncio.gather(*(t.caught_up(now, 3.0) for t in tablets if not t.stopped))
        behind = [t for t, ok in zip([t for t in tablets if not t.stopped], done, strict=True) if not ok]
        for t in behind:
            t.reconnect()
        if not behind and now == previous:
            return
        previous = now
        await asyncio.sleep(0.3)


# -- the verdict ----------------------------------------------------------------------------------

def _index(logs: Mapping[str, list[Record]]) -> dict[tuple[str, str | None, str], list[int]]:
    index: dict[tuple[str, str | None, str], list[int]] = {}
    for room, records in logs.items():
        for r in records:
            if r.cmd is not None:
                index.setdefault((room, r.device, r.cmd), []).append(r.seq)
    return index


def _check_commands(fig: Figures, tablets: Sequence[Tablet], logs: Mapping[str, list[Record]]) -> None:
    index = _index(logs)
    ours = {t.device for t in tablets}
    known: set[tuple[str, str | None, str]] = set()
    for t in tablets:
        fig.ops += t.ledger.submitted
        fig.pending += len(t.outbox)
        for a in t.ledger.acked.values():
            fig.acked += 1
            if a.op == "vote.cast":
                fig.ballots += 1
                continue
            key = (a.room, t.device, a.id)
            known.add(key)
            seqs = index.get(key, [])
            if not seqs:
                fig.lost += 1
                fig.note(f"lost: {t.name} {a.op} {a.id} acked #{a.seq} in {a.room}")
                continue
            fig.logged += 1
            if seqs != [a.seq]:
                fig.order += 1
                fig.note(f"ack/log mismatch: {t.name} {a.op} {a.id} acked #{a.seq}, logged at {seqs}")
        for r in t.ledger.refused.values():
            key = (r.room, t.device, r.id)
            known.add(key)
            if key in index:
                fig.phantom += 1
                fig.note(f"phantom: {t.name} {r.op} {r.id} refused {r.code} but logged at {index[key]}")
    for key, seqs in index.items():
        if len(seqs) > 1:
            fig.dup += len(seqs) - 1
            fig.note(f"dup: {key} logged at {seqs}")
        if key[1] in ours and key not in known:
            fig.phantom += 1
            fig.note(f"phantom: {key} logged at {seqs} but never answered to its device")


def _explained(gap: Any, proxies: Sequence[FaultProxy]) -> bool:
    if gap.room is None:
        return any(d.t == "welcome" for p in proxies for d in p.dropped.get(gap.client_port, []))
    dropped: set[int] = set()
    for p in proxies:
        dropped |= p.dropped_seqs(gap.client_port, gap.room)
    return bool(gap.missing) and set(gap.missing) <= dropped


def _check_order(fig: Figures, tablets: Sequence[Tablet], proxies: Sequence[FaultProxy]) -> None:
    explained = 0
    for t in tablets:
        for gap in t.ledger.gaps:
            if _explained(gap, proxies):
                explained += 1
            else:
                fig.order += 1
                fig.note(f"gap: {t.name} missed {gap.room} {gap.missing[:5]} on port {gap.client_port}")
        for room, applied in t.ledger.applied.items():
            for (e0, s0, _), (e1, s1, how) in zip(applied, applied[1:], strict=False):
                if e0 != e1:
                    continue
                if (how == "ev" and s1 != s0 + 1) or (how == "state" and s1 < s0):
                    fig.order += 1
                    fig.note(f"order: {t.name} {room} applied {how} #{s1} after #{s0}")
        for kind, what in t.ledger.violations:
            if kind == "order":
                fig.order += 1
            else:
                fig.violations += 1
            fig.note(f"{kind}: {t.name}: {what}")
    fig.extra.setdefault("gaps_injected", explained)


def _diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    keys = [k for k in a if a.get(k) != b.get(k)] + [k for k in b if k not in a]
    return "; ".join(f"{k}: {str(a.get(k))[:120]} != {str(b.get(k))[:120]}" for k in keys)


def _check_folds(fig: Figures, tablets: Sequence[Tablet], truth: Truth) -> None:
    if not truth.views:
        raise AssertionError("no live server to compare the devices with")
    ref_url, ref = truth.views[0]
    normal = {room: fold_state(room, view["state"]).normal() for room, view in ref.items()}
    for url, view in truth.views[1:]:
        for room, v in view.items():
            theirs = fold_state(room, v["state"]).normal()
            if theirs != normal.get(room) or v["seq"] != ref[room]["seq"]:
                fig.diverged += 1
                fig.note(f"servers disagree on {room}: {url} vs {ref_url}: {_diff(theirs, normal.get(room, {}))}")
    for room, records in truth.logs.items():
        folded = fold_records(room, [(r.op, r.data) for r in records]).normal()
        if folded != normal.get(room) or (records and records[-1].seq != ref[room]["seq"]):
            fig.diverged += 1
            fig.note(f"the log of {room} folds to another state than the server shows: {_diff(folded, normal[room])}")
    for t in tablets:
        wrong = [room for room, f in t.folds.items() if f.normal() != normal.get(room)
                 or t.since.get(room) != ref[room]["seq"]]
        if wrong:
            fig.diverged += 1
            room = wrong[0]
            fig.note(f"diverged: {t.name} {room} at #{t.since.get(room)} vs #{ref[room]['seq']}: "
                     f"{_diff(t.folds[room].normal(), normal[room])}")


def _check_ballots(fig: Figures, tablets: Sequence[Tablet], truth: Truth) -> None:
    hall = truth.logs.get("hall", [])
    for poll, count in truth.counts.items():
        choices = [t.votes[poll] for t in tablets if poll in t.votes]
        expected = [choices.count(i) for i in range(len(count.counts))]
        if count.voters != len(choices) or list(count.counts) != expected:
            fig.ballots_wrong += 1
            fig.note(f"ballots: {poll} box {count.voters} voters {count.counts}, devices acked {len(choices)} "
                     f"{expected}")
        finals = [r.data for r in hall if r.op == "poll.tally" and r.data["poll"] == poll and r.data.get("final")]
        if not count.open:
            if len(finals) != 1 or finals[0]["counts"] != list(count.counts) or finals[0]["voters"] != count.voters:
                fig.ballots_wrong += 1
                fig.note(f"ballots: {poll} final tallies {finals} vs box {count.voters} {count.counts}")
        fig.extra[f"{poll}_voters"] = count.voters


def _check_effort(fig: Figures, tablets: Sequence[Tablet]) -> None:
    times = []
    for t in tablets:
        for r in t.ledger.reconnects:
            if r.resumed and r.seconds is not None:
                fig.recovered += 1
                times.append(r.seconds * 1000)
            fig.snapshots += r.snapshots
    fig.catchup_p50_ms, fig.catchup_p99_ms = percentile(times, 0.5), percentile(times, 0.99)


async def verdict(scenario: str, *, tablets: Sequence[Tablet], store: Store, assembly: Mapping[str, Any],
                  auditors: Sequence[Endpoint], proxies: Sequence[FaultProxy] = (), polls: Iterable[str] = (),
                  rss: RssSampler | None = None, started: float | None = None,
                  extra: Mapping[str, Any] | None = None, settle_timeout: float = 90.0) -> Figures:
    """Settle, read the truth, and compute the figures (printed and recorded; not yet asserted)."""
    await settle(tablets, store, assembly, settle_timeout)
    truth = await read_truth(store, assembly, polls, auditors)
    fig = Figures(scenario)
    _check_commands(fig, tablets, truth.logs)
    _check_order(fig, tablets, proxies)
    _check_folds(fig, tablets, truth)
    _check_ballots(fig, tablets, truth)
    _check_effort(fig, tablets)
    fig.rss_mb = rss.peak_mb if rss is not None else 0.0
    fig.seconds = time.monotonic() - started if started is not None else 0.0
    fig.extra.update(extra or {})
    report(fig)
    return fig


# -- the record -----------------------------------------------------------------------------------

def report(fig: Figures, path: Path = RESULTS) -> None:
    """Print the scenario's line and keep it as the latest figures of that scenario."""
    print("\n" + fig.line(), flush=True)
    PRINTED.append(fig.line())
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=REPO_ROOT, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    entry = {k: v for k, v in asdict(fig).items() if k != "details"}
    entry.update(when=time.strftime("%Y-%m-%d %H:%M"), commit=commit)
    lines = []
    with contextlib.suppress(FileNotFoundError):
        lines = [ln for ln in path.read_text().splitlines()
                 if ln.strip() and json.loads(ln).get("scenario") != fig.scenario]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(ln + "\n" for ln in lines + [json.dumps(entry, sort_keys=True)]))


COLUMNS = ("ops", "acked", "logged", "lost", "dup", "order", "diverged", "recovered", "snapshots",
           "catchup_p50_ms", "catchup_p99_ms", "rss_mb", "seconds")


def _scenario_order(row: Mapping[str, Any]) -> tuple[int, str]:
    """Scenarios are named "<issue number> <what>": sort by the number, then the name."""
    first = str(row["scenario"]).split(" ", 1)[0]
    return (int(first) if first.isdigit() else 10**6, str(row["scenario"]))


def markdown(path: Path = RESULTS) -> str:
    """The latest figures as the rows of docs/reliability.md's table."""
    rows = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    out = ["| scenario | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for r in sorted(rows, key=_scenario_order):
        out.append(f"| {r['scenario']} | " + " | ".join(_fmt(round(r[c]) if isinstance(r[c], float) else r[c])
                                                       for c in COLUMNS) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown())
