"""A simulated tablet that behaves like a careful real client, and keeps a ledger of everything.

`tests/support/client.py`'s `Device` is a thin socket for protocol tests: one connection, the
test drives every frame. A fault scenario needs the opposite: hundreds of devices that look after
themselves through drops, stalls and crashes the way the real tablet page must:

- an **outbox** of unacknowledged commands, kept in the object across reconnects and server
  switches (that is what "persistent" means here), resent with their original ids after every
  `welcome` and again after an ack timeout;
- **resume**: per room the last seq applied (`since`) and the epoch last seen (`epochs`), sent in
  `hello`; a seq gap on a live socket makes it reconnect with `since`;
- **failover**: a list of server URLs, moved through on connection failures, with jittered
  exponential backoff;
- **terminal closes** (1003, 1008, 1009, 4003) stop it and are recorded as violations: a correct
  client never earns one;
- a **fold** of each room (tests/support/folds.py), replaced by a `state` snapshot.

Everything the oracle needs is recorded in a `Ledger`: every command submitted, acked (with its
seq) or refused, every seq applied per room and epoch, every gap (with the client port, so an
injected drop can be told apart from a server bug), every reconnect and how long it took.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import msgpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from .client import _decode as decode_frame
from .client import join_response
from .folds import Fold, fold_state, new_fold

Frame = dict[str, Any]

#: Closes a correct client never earns: a retry would fail the same way.
TERMINAL = {1003, 1008, 1009, 4003}
#: Refusals that store nothing and ask for the same id again later.
RETRYABLE = {"rate_limited", "conflict", "server_busy"}
#: Refusals a client that never reuses ids and always says hello first must never see.
WRONG = {"id_reused", "bad_frame", "not_authenticated"}


class Endpoint(Protocol):
    """A server process or a proxy in front of one: where to join and where to connect."""

    @property
    def url(self) -> str: ...

    @property
    def ws_url(self) -> str: ...


@dataclass
class Pending:
    """A command in the outbox: sent or not, not yet answered."""

    id: str
    room: str
    op: str
    args: dict[str, Any]
    submitted: float
    future: asyncio.Future[Frame]
    sent_at: float | None = None
    sends: int = 0
    conn: int = -1  # the connection it was last sent on
    retry_after: float = 0.0


@dataclass(frozen=True)
class Acked:
    id: str
    room: str
    op: str
    args: dict[str, Any]
    seq: int | None
    at: float
    sends: int
    latency: float  # submitted -> ack, seconds


@dataclass(frozen=True)
class Refusal:
    id: str
    room: str
    op: str
    code: str


@dataclass(frozen=True)
class Gap:
    """Frames missing on a live socket: `missing` seqs of `room` (room None: the welcome itself)."""

    room: str | None
    epoch: str | None
    missing: tuple[int, ...]
    client_port: int
    at: float


@dataclass
class Reconnect:
    started: float  # when the connection was found lost (or the first connect began)
    welcomed: float | None = None
    resumed: bool = False  # a reconnect, not the first connect
    snapshots: int = 0  # rooms resumed with a `state` although `since` was sent
    url: str = ""

    @property
    def seconds(self) -> float | None:
        return None if self.welcomed is None else self.welcomed - self.started


@dataclass
class Ledger:
    submitted: int = 0
    acked: dict[str, Acked] = field(default_factory=dict)
    refused: dict[str, Refusal] = field(default_factory=dict)
    # room -> [(epoch, seq, how)], how: "state" (a snapshot replaced the room) or "ev" (one event applied)
    applied: dict[str, list[tuple[str | None, int, str]]] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    violations: list[tuple[str, str]] = field(default_factory=list)  # (kind, what): order, protocol, terminal
    reconnects: list[Reconnect] = field(default_factory=list)
    closes: list[tuple[int | None, str]] = field(default_factory=list)
    resends: int = 0
    failed_connects: int = 0  # connections refused, reset or not answered before a welcome

    def violation(self, what: str, kind: str = "protocol") -> None:
        self.violations.append((kind, what))


class Tablet:
    """One device (a member's tablet, a host's, the facilitator's dashboard or a display)."""

    def __init__(self, endpoints: Sequence[Endpoint], token: str, *, name: str = "tablet",
                 ack_timeout: float = 3.0, hello_timeout: float = 4.0, backoff: tuple[float, float] = (0.1, 2.0),
                 ping_interval: float | None = 20.0, seed: int | None = None, rcvbuf: int | None = None) -> None:
        self.endpoints = list(endpoints)
        self.token = token
        self.name = name
        self.ack_timeout = ack_timeout
        self.hello_timeout = hello_timeout
        self.backoff = backoff
        self.ping_interval = ping_interval
        self.rcvbuf = rcvbuf  # a small receive buffer makes a tablet that stops reading felt at once
        self.random = random.Random(seed if seed is not None else secrets.randbits(32))
        self.you: dict[str, Any] = {}
        self.since: dict[str, int] = {}
        self.epochs: dict[str, str | None] = {}
        self.folds: dict[str, Fold] = {}
        self.votes: dict[str, int] = {}  # poll -> last acked choice
        self.outbox: dict[str, Pending] = {}
        self.ledger = Ledger()
        self.presence: dict[str, int] | None = None
        self.ws: ClientConnection | None = None
        self.conn = 0
        self.url_index = 0
        self.stopped = False
        self.terminal: tuple[int | None, str] | None = None
        self._online = asyncio.Event()
        self._online.set()
        self._reading = asyncio.Event()
        self._reading.set()
        self._welcomed = asyncio.Event()
        self._changed = asyncio.Event()
        self._kick: asyncio.Event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._resender: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    # -- joining and life

    @classmethod
    async def join(cls, endpoints: Sequence[Endpoint], code: str, **kwargs: Any) -> Tablet:
        """Join a table with its code (POST /api/join, trying each endpoint) and keep the token."""
        last: Exception | None = None
        for endpoint in endpoints:
            try:
                resp = await join_response(endpoint.url, code, timeout=10)
            except Exception as exc:  # an endpoint that is down: try the next
                last = exc
                continue
            if resp.status_code == 200:
                return cls(endpoints, resp.json()["token"], **kwargs)
            last = AssertionError(f"join {code}: {resp.status_code} {resp.text}")
        raise AssertionError(f"could not join with {code}: {last}")

    def start(self) -> Tablet:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name=f"tablet-{self.name}")
        self._resender = loop.create_task(self._resend_loop(), name=f"tablet-resend-{self.name}")
        return self

    async def started(self, timeout: float = 20.0) -> Tablet:
        """Start and wait for the first welcome."""
        self.start()
        await self.wait_welcomed(timeout)
        return self

    async def wait_welcomed(self, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            await self._welcomed.wait()

    async def stop(self) -> None:
        self.stopped = True
        self._online.set()
        self._reading.set()
        self._kick.set()
        ws = self.ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 3)
        for task in (self._task, self._resender, *self._sends):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        for pending in self.outbox.values():
            if not pending.future.done():
                pending.future.cancel()

    @property
    def device(self) -> str:
        return str(self.you.get("device", ""))

    @property
    def role(self) -> str:
        return str(self.you.get("role", ""))

    @property
    def table_room(self) -> str:
        return f"table:{self.you['table']}"

    @property
    def connected(self) -> bool:
        return self.ws is not None and self._welcomed.is_set()

    @property
    def client_port(self) -> int:
        ws = self.ws
        return int(ws.local_address[1]) if ws is not None else 0

    # -- faults a test plays on this tablet itself

    async def go_offline(self) -> None:
        """The tablet loses its network: the socket goes, and it does not come back until online."""
        self._online.clear()
        self._welcomed.clear()
        ws = self.ws
        if ws is not None:
            ws.transport.abort()

    def go_online(self) -> None:
        self._online.set()

    def stop_reading(self) -> None:
        """The page stops reading its socket (a frozen tab): the server's frames pile up."""
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def reconnect(self) -> None:
        """Drop the socket and resume with `since` (what a client does when it suspects a gap)."""
        self._welcomed.clear()
        ws = self.ws
        if ws is not None:
            ws.transport.abort()

    # -- commands

    def new_id(self) -> str:
        return secrets.token_hex(8)  # random: a counter would tell others whose notes these are

    def submit(self, op: str, args: Mapping[str, Any] | None = None, room: str | None = None) -> Pending:
        """Put a command in the outbox and send it if connected; its future gets the ack or err."""
        pending = Pending(self.new_id(), room or self.table_room, op, dict(args or {}), time.monotonic(),
                          asyncio.get_running_loop().create_future())
        self.outbox[pending.id] = pending
        self.ledger.submitted += 1
        if self.connected:
            task = asyncio.get_running_loop().create_task(self._send_cmd(pending))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
        return pending

    async def call(self, op: str, args: Mapping[str, Any] | None = None, room: str | None = None,
                   timeout: float = 60.0) -> Frame:
        """Submit and wait for the answer, through any number of resends and reconnects."""
        pending = self.submit(op, args, room)
        async with asyncio.timeout(timeout):
            return await asyncio.shield(pending.future)

    async def ok(self, op: str, args: Mapping[str, Any] | None = None, room: str | None = None,
                 timeout: float = 60.0) -> Frame:
        answer = await self.call(op, args, room, timeout)
        if answer.get("t") != "ack":
            raise AssertionError(f"{self.name}: {op} {args} refused: {answer}")
        return answer

    def pending_in(self, op: str, room: str | None = None) -> list[Pending]:
        return [p for p in self.outbox.values() if p.op == op and room in (None, p.room)]

    async def _send_cmd(self, pending: Pending) -> None:
        ws, conn = self.ws, self.conn
        if ws is None or not self._welcomed.is_set() or pending.id not in self.outbox:
            return
        pending.sent_at, pending.conn = time.monotonic(), conn
        pending.sends += 1
        if pending.sends > 1:
            self.ledger.resends += 1
        frame = {"t": "cmd", "id": pending.id, "room": pending.room, "op": pending.op, "args": pending.args}
        with contextlib.suppress(ConnectionClosed, OSError, RuntimeError):
            await ws.send(msgpack.packb(frame, use_bin_type=True))

    async def _resend_loop(self) -> None:
        """Resend what stayed unanswered past the ack timeout, on the same socket (a lost ack)."""
        while not self.stopped:
            await asyncio.sleep(0.2)
            if not self.connected:
                continue
            now = time.monotonic()
            for pending in list(self.outbox.values()):
                due = pending.sent_at is None or pending.conn != self.conn \
                    or now - pending.sent_at > self.ack_timeout
                if due and now >= pending.retry_after:
                    await self._send_cmd(pending)

    # -- waiting for the room

    async def caught_up(self, heads: Mapping[str, int], timeout: float = 10.0) -> bool:
        """Wait until this device has applied every room of `heads` it is in up to that seq."""
        try:
            async with asyncio.timeout(timeout):
                while not all(self.since.get(r, -1) >= s for r, s in heads.items() if r in self.folds):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    async def drained(self, timeout: float = 60.0) -> bool:
        """Wait until every command in the outbox has been answered."""
        try:
            async with asyncio.timeout(timeout):
                while self.outbox:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    # -- the connection loop

    async def _run(self) -> None:
        attempt = 0
        lost_at: float | None = None
        while not self.stopped:
            if not self._online.is_set():
                await self._online.wait()
                lost_at = time.monotonic() if lost_at is not None else None  # catch-up counts from online
            if self.stopped:
                return
            endpoint = self.endpoints[self.url_index % len(self.endpoints)]
            record = Reconnect(lost_at or time.monotonic(), resumed=lost_at is not None, url=endpoint.ws_url)
            try:
                ws = await connect(endpoint.ws_url, compression=None, max_size=None, proxy=None,
                                   open_timeout=self.hello_timeout, close_timeout=2,
                                   ping_interval=self.ping_interval, ping_timeout=self.ping_interval,
                                   **await self._socket(endpoint.ws_url))
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError):
                self.ledger.failed_connects += 1
                self.url_index += 1
                attempt += 1
                lost_at = lost_at or record.started
                await self._backoff(attempt)
                continue
            self.ws = ws
            self.conn += 1
            welcomed = False
            try:
                welcomed = await self._session(ws, record)
            finally:
                self.ws = None
                self._welcomed.clear()
                with contextlib.suppress(Exception):
                    ws.transport.abort()
                self.ledger.closes.append((ws.close_code, ws.close_reason or ""))
            if ws.close_code in TERMINAL:
                self.terminal = (ws.close_code, ws.close_reason or "")
                self.ledger.violation(f"terminal close {ws.close_code} {ws.close_reason!r}", "terminal")
                self.stopped = True
                return
            lost_at = time.monotonic()
            if welcomed:
                attempt = 0
                await asyncio.sleep(self.random.uniform(0.0, 0.1))  # jitter: a hall must not return at once
            else:
                self.url_index += 1
                attempt += 1
                await self._backoff(attempt)

    async def _socket(self, url: str) -> dict[str, Any]:
        """connect()'s `sock`: ours, with the receive buffer set before connecting, if asked for."""
        if self.rcvbuf is None:
            return {}
        where = urlsplit(url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        # A WiFi-sized segment: over loopback (64 KiB segments) the server's kernel would otherwise
        # buffer megabytes for a tablet that stopped reading before the server itself could notice.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1400)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(self.hello_timeout):
                await asyncio.get_running_loop().sock_connect(sock, (where.hostname, where.port))
        except BaseException:
            sock.close()
            raise
        return {"sock": sock}

    async def _backoff(self, attempt: int) -> None:
        base, cap = self.backoff
        await asyncio.sleep(min(cap, base * 2 ** min(attempt, 10)) * self.random.uniform(0.5, 1.0))

    async def _session(self, ws: ClientConnection, record: Reconnect) -> bool:
        """One socket: hello, the welcome, the outbox resent, then frames until it ends."""
        port = int(ws.local_address[1])
        hello: Frame = {"t": "hello", "token": self.token}
        if self.since:
            hello["since"] = dict(self.since)
            hello["epochs"] = dict(self.epochs)
        try:
            await ws.send(msgpack.packb(hello, use_bin_type=True))
            async with asyncio.timeout(self.hello_timeout):
                first = decode_frame(await ws.recv())
        except (ConnectionClosed, OSError, TimeoutError):
            return False
        if first.get("t") == "err":
            self.ledger.violation(f"hello refused: {first}")
            return False
        if first.get("t") != "welcome":
            # the welcome never came but later frames did: only a dropped frame explains that
            self.ledger.gaps.append(Gap(None, None, (), port, time.monotonic()))
            return False
        self._welcome(first, record)
        self._welcomed.set()
        self._changed.set()
        for pending in sorted(self.outbox.values(), key=lambda p: p.submitted):
            await self._send_cmd(pending)
        try:
            while True:
                if not self._reading.is_set():
                    await self._reading.wait()
                frame = decode_frame(await ws.recv())
                if not self._frame(frame, port):
                    return True
        except (ConnectionClosed, OSError):
            return True

    def _welcome(self, w: Frame, record: Reconnect) -> None:
        self.you = dict(w.get("you") or {})
        for room, view in (w.get("rooms") or {}).items():
            epoch = view.get("epoch")
            seq = view["seq"]
            known = room in self.since
            same = known and self.epochs.get(room) == epoch
            if "state" in view:
                if same and seq < self.since[room]:
                    self.ledger.violation(f"{room}: welcome at seq {seq} is behind {self.since[room]} in one epoch",
                                          "order")
                if known:
                    record.snapshots += 1
                self.folds[room] = fold_state(room, view["state"])
                self.since[room] = seq
                self.ledger.applied.setdefault(room, []).append((epoch, seq, "state"))
            else:
                events = view.get("events") or []
                base = self.since.get(room)
                if not same or base is None:
                    self.ledger.violation(f"{room}: events without a basis (epoch {self.epochs.get(room)!r} -> "
                                          f"{epoch!r})", "order")
                    continue
                seqs = [e["seq"] for e in events]
                if seqs != list(range(base + 1, seq + 1)):
                    self.ledger.violation(f"{room}: welcome events {seqs[:3]}..{seqs[-3:]} after {base} to {seq}",
                                          "order")
                for ev in events:
                    if ev["seq"] == self.since[room] + 1:
                        self._apply(room, ev, epoch)
            self.epochs[room] = epoch
        votes = w.get("votes") or {}
        for poll, choice in votes.items():
            if not self.pending_in("vote.cast") and poll in self.votes and self.votes[poll] != choice:
                self.ledger.violation(f"welcome.votes[{poll}] = {choice}, last acked {self.votes[poll]}", "votes")
        record.welcomed = time.monotonic()
        self.ledger.reconnects.append(record)

    def _apply(self, room: str, ev: Frame, epoch: str | None) -> None:
        fold = self.folds.setdefault(room, new_fold(room))
        try:
            fold.apply(ev["op"], ev.get("data") or {})
        except (KeyError, ValueError, TypeError) as exc:
            self.ledger.violation(f"{room} #{ev['seq']} {ev['op']} does not fold: {exc!r}")
        self.since[room] = ev["seq"]
        self.ledger.applied.setdefault(room, []).append((epoch, ev["seq"], "ev"))

    def _frame(self, f: Frame, port: int) -> bool:
        """Handle one live frame; False to reconnect (a gap)."""
        t = f.get("t")
        self._changed.set()
        if t == "ev":
            room, seq = f.get("room"), f.get("seq")
            if room not in self.since or not isinstance(seq, int):
                self.ledger.violation(f"ev for {room!r} seq {seq!r}")
                return True
            last = self.since[room]
            if seq <= last:
                self.ledger.violation(f"{room}: seq {seq} again after {last} on a live socket", "order")
            elif seq == last + 1:
                self._apply(room, f, self.epochs.get(room))
            else:
                self.ledger.gaps.append(Gap(room, self.epochs.get(room), tuple(range(last + 1, seq)), port,
                                            time.monotonic()))
                return False
        elif t == "ack":
            self._ack(f)
        elif t == "err":
            self._err(f)
        elif t == "presence":
            self.presence = dict(f.get("tables") or {})
        elif t == "welcome":
            self.ledger.violation("a second welcome on one socket")
        elif t != "pong":
            self.ledger.violation(f"unexpected frame {str(f)[:200]}")
        return True

    def _ack(self, f: Frame) -> None:
        cmd_id = f.get("id")
        pending = self.outbox.pop(cmd_id, None) if isinstance(cmd_id, str) else None
        if pending is None:
            first = self.ledger.acked.get(cmd_id) if isinstance(cmd_id, str) else None
            if first is not None and first.seq != f.get("seq"):
                self.ledger.violation(f"{cmd_id} acked as #{first.seq} and then as #{f.get('seq')}")
            refused = self.ledger.refused.pop(cmd_id, None) if isinstance(cmd_id, str) else None
            if refused is not None:  # refused once, stored on a resend decided afresh: it counts as acked
                self.ledger.acked[refused.id] = Acked(refused.id, refused.room, refused.op, {}, f.get("seq"),
                                                      time.monotonic(), 2, 0.0)
            elif first is None:
                self.ledger.violation(f"ack for a command never sent: {f}")
            return
        now = time.monotonic()
        self.ledger.acked[pending.id] = Acked(pending.id, pending.room, pending.op, pending.args, f.get("seq"), now,
                                              pending.sends, now - pending.submitted)
        if pending.op == "vote.cast":
            self.votes[pending.args["poll"]] = pending.args["choice"]
        if not pending.future.done():
            pending.future.set_result(f)

    def _err(self, f: Frame) -> None:
        cmd_id, code = f.get("id"), str(f.get("code"))
        if code in WRONG or not isinstance(cmd_id, str):
            self.ledger.violation(f"err {code} for {cmd_id}: {f.get('msg')}")
        pending = self.outbox.get(cmd_id) if isinstance(cmd_id, str) else None
        if pending is None:
            if isinstance(cmd_id, str) and cmd_id in self.ledger.acked:
                self.ledger.violation(f"{cmd_id} acked and then refused {code}")
            return
        if code in RETRYABLE:
            pending.retry_after = time.monotonic() + self.random.uniform(0.3, 1.0)
            pending.sent_at = time.monotonic() - self.ack_timeout  # due once retry_after passes
            return
        del self.outbox[cmd_id]
        self.ledger.refused[cmd_id] = Refusal(cmd_id, pending.room, pending.op, code)
        if not pending.future.done():
            pending.future.set_result(f)


class Facilitator(Tablet):
    """The dashboard: the hall's commands as one-liners that wait for their ack."""

    async def start_activity(self, activity: str, dots: int = 5, max_per_target: int = 3,
                             show_totals: bool = False) -> Frame:
        return await self.ok("activity.start", {"activity": activity, "prompt": f"{activity}?", "dots": dots,
                                                "max_per_target": max_per_target, "show_totals": show_totals},
                             room="hall")

    async def set_phase(self, phase: str, tables: Sequence[str] | None = None) -> Frame:
        args: dict[str, Any] = {"phase": phase}
        if tables is not None:
            args["tables"] = list(tables)
        return await self.ok("phase.set", args, room="hall")

    async def open_poll(self, poll: str, options: Sequence[str], hidden: bool = False) -> Frame:
        return await self.ok("poll.open", {"poll": poll, "question": f"{poll}?", "kind": "choice",
                                           "options": list(options), "hidden": hidden}, room="hall")

    async def close_poll(self, poll: str) -> Frame:
        return await self.ok("poll.close", {"poll": poll}, room="hall")
