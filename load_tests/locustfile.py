"""A day of a citizens' assembly, played by locust users over Samling's real protocol.

Run it through `load_tests/run` (which starts the servers and creates the assembly), or by hand:

    SAMLING_ASSEMBLY=asm.json .venv/bin/locust -f load_tests/locustfile.py --headless \\
        -u 200 -r 20 -t 60s --host http://127.0.0.1:8000

Settings (environment):

- `SAMLING_ASSEMBLY` (required): a file holding `samling assembly create NAME --tables N --json`.
- `SAMLING_HOSTS`: comma-separated base URLs of server processes; users are spread over them
  round-robin. Default: locust's `--host`.
- `SAMLING_PHASE_SECONDS`: how long the facilitator stays in each phase, `MIN-MAX` seconds
  (default `20-40`).
- `SAMLING_DISPLAYS`: how many display users (default 2).

Users:

- `Tablet` (most users): joins a table with POST /api/join (tables round-robin, so ~8 per table
  when the assembly has users/8 tables), says hello, then writes notes in bursts while the table
  brainstorms, adds clusters and moves notes while it clusters, places dots while it votes, and
  votes in every open poll.
- `Facilitator` (exactly one): walks the hall through brainstorm -> cluster -> vote -> results ->
  a new activity, one phase every SAMLING_PHASE_SECONDS; opens a poll with the vote phase and
  closes it with results.
- `Display` (SAMLING_DISPLAYS of them): the plenary screen; reads the hall only.

What is reported to locust (see load_tests/README.md):

- `WS <op>`: a command, from send to its `ack`; an `err` is a failure whose message is the code.
- `WS hello`: opening the socket until `welcome`.
- `E2E note seen at table`: a note's text carries its send time; every other tablet at the table
  reports how long it took to arrive there.
- `E2E tally after poll.open` / `E2E final tally after poll.close`: at each display, from the
  facilitator's send to the first / final tally.
- `WS seq gap`, `WS socket closed`, and a command failed with `no answer` (neither ack nor err
  within 30 s): faults, always failures.

The websocket client (`GeventWebSocket` below) is websockets' Sans-I/O `ClientProtocol` (a
dependency of Samling itself) over a plain socket, which locust's gevent monkey-patching makes
cooperative: one greenlet per device reads, the user's greenlet sends. `websockets.sync.client`
also runs under gevent, but it closes a socket from one greenlet while another still polls it
through `selectors`, and when hundreds of users stop at once libev aborts the whole process
("I/O watcher with invalid fd found in epoll_ctl"); see load_tests/README.md.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import random
import re
import resource
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

import gevent
import msgpack
from gevent.event import AsyncResult
from gevent.lock import RLock
from locust import FastHttpUser, User, between, constant, events, task
from locust.runners import WorkerRunner
from websockets.client import ClientProtocol
from websockets.exceptions import WebSocketException
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

log = logging.getLogger("samling.load")

#: err codes that a tablet may legitimately get when it acts on a phase or poll that just ended:
#: its view of the room is a frame behind the log (the `phase.set` or `poll.close` is in flight).
#: Everything else (over_budget, unknown_target, rate_limited, ...) means the test or the server
#: is wrong, and so does any refusal of a facilitator's command.
EXPECTED_REFUSALS: dict[str, set[str]] = {
    "note.add": {"wrong_phase"},
    "cluster.add": {"wrong_phase"},
    "note.move": {"wrong_phase"},
    "dot.add": {"wrong_phase"},
    "vote.cast": {"poll_closed"},
}

NOTE_CAP = 440  # a board holds 500 notes; stop short, leaving room for notes still in flight
CLUSTER_CAP = 40  # a board holds 100 clusters
STAMP = re.compile(r"@(\d+\.\d+)$")
WORDS = ("bus", "skole", "klima", "cykelsti", "bibliotek", "grønne områder", "sundhed", "ældre",
         "unge", "boliger", "trafik", "natur", "fællesskab", "energi", "vand", "jobs", "kultur")

# --- settings ----------------------------------------------------------------------------------

ASSEMBLY: dict[str, Any] = {}
HOSTS: list[str] = []


def _phase_seconds() -> tuple[float, float]:
    raw = os.environ.get("SAMLING_PHASE_SECONDS", "20-40")
    lo, _, hi = raw.partition("-")
    a, b = float(lo), float(hi or lo)
    if a <= 0 or b < a:
        raise ValueError(f"SAMLING_PHASE_SECONDS must be MIN-MAX seconds, not {raw!r}")
    return a, b


PHASE_SECONDS = _phase_seconds()
RUN_ID = secrets.token_hex(3)  # activity and poll ids must be new even on a reused assembly
_user_numbers = itertools.count()
_table_numbers = itertools.count()
_activity_numbers = itertools.count(1)
_poll_numbers = itertools.count(1)
#: poll id -> time.time() when the facilitator sent poll.close (same process; for the displays)
CLOSE_SENT: dict[str, float] = {}
COUNTS = {"display_frames": 0, "seq_gaps": 0, "e2e_samples": 0}
SETUP = {"failed": ""}


def _ws_url(base: str) -> str:
    return re.sub(r"^http", "ws", base.rstrip("/")) + "/ws"


def _next_host() -> str:
    return HOSTS[next(_user_numbers) % len(HOSTS)]


def _new_id(prefix: str) -> str:
    """Random ids: a counter would let the table tell whose note or dot it is (protocol.md)."""
    return prefix + secrets.token_urlsafe(9)


def _fire(request_type: str, name: str, ms: float, length: int = 0, error: str | None = None) -> None:
    events.request.fire(request_type=request_type, name=name, response_time=ms, response_length=length,
                        exception=error, context={})


@events.init.add_listener
def _load_settings(environment: Any, **_: Any) -> None:
    path = os.environ.get("SAMLING_ASSEMBLY")
    if not path:
        raise SystemExit("SAMLING_ASSEMBLY must name a file holding `samling assembly create ... --json`")
    with open(path, encoding="utf-8") as f:
        ASSEMBLY.update(json.load(f))
    hosts = [h.strip() for h in os.environ.get("SAMLING_HOSTS", "").split(",") if h.strip()]
    if not hosts and environment.host:
        hosts = [environment.host]
    if not hosts:
        raise SystemExit("give the server with --host http://127.0.0.1:PORT or SAMLING_HOSTS")
    HOSTS[:] = hosts


# --- a websocket client for gevent -----------------------------------------------------------------


class Closed(Exception):
    """The socket is closed: the close code the server sent (1006 when it just dropped)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"close {code} {reason}".strip())
        self.code = code


class GeventWebSocket:
    """websockets' Sans-I/O client protocol over one (gevent-patched) TCP socket.

    No threads, no selectors: `recv` blocks on the socket in the calling greenlet, `send` writes
    from the calling greenlet, a lock keeps the protocol state and the writes of the two apart.
    Pings from the server are answered as they are read. `close` may be called from any
    greenlet: gevent wakes a greenlet blocked in `recv` on that socket with an error.
    """

    def __init__(self, url: str, timeout: float) -> None:
        uri = parse_uri(url)
        self.proto = ClientProtocol(uri, max_size=None)  # no extensions: no compression, like the server
        self.lock = RLock()
        self.messages: collections.deque[bytes] = collections.deque()
        self.parts: list[bytes] = []
        self.eof = False
        self.sock = socket.create_connection((uri.host, uri.port), timeout=timeout)
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.proto.send_request(self.proto.connect())
                self._flush()
            response = None
            while response is None:
                for event in self._receive():
                    if isinstance(event, Response):
                        response = event
                if response is None and self.eof:
                    raise Closed(1006, "closed during the handshake")
            if self.proto.handshake_exc is not None:
                raise self.proto.handshake_exc
            self.sock.settimeout(None)
        except BaseException:
            self.sock.close()
            raise

    def send(self, data: bytes) -> None:
        with self.lock:
            if self.proto.state is not State.OPEN:
                raise Closed(self.proto.close_code or 1006, self.proto.close_reason or "")
            self.proto.send_binary(data)
            self._flush()

    def recv(self, timeout: float | None = None) -> bytes:
        """The next message; raises Closed once the connection is closed, TimeoutError after timeout."""
        self.sock.settimeout(timeout)
        try:
            while not self.messages:
                if self.eof or self.proto.state is State.CLOSED:
                    raise Closed(self.proto.close_code or 1006, self.proto.close_reason or "")
                for event in self._receive():
                    if isinstance(event, Response):
                        continue
                    if event.opcode in (Opcode.BINARY, Opcode.TEXT, Opcode.CONT):
                        self.parts.append(event.data)
                        if event.fin:
                            self.messages.append(b"".join(self.parts))
                            self.parts = []
        finally:
            if timeout is not None:
                self.sock.settimeout(None)
        return self.messages.popleft()

    def close(self) -> None:
        """Send a close frame if still open, then drop the TCP connection (no waiting for the reply)."""
        with self.lock:
            if self.proto.state is State.OPEN:
                try:
                    self.proto.send_close(1000)
                    self._flush()
                except OSError:
                    pass
        self.sock.close()

    def _receive(self) -> list[Any]:
        try:
            data = self.sock.recv(65536)
        except OSError:
            rcvd = self.proto.close_rcvd
            if rcvd is None:
                raise
            self.eof = True  # the server said goodbye, then reset the connection: the goodbye counts
            raise Closed(rcvd.code, rcvd.reason) from None
        with self.lock:
            if data:
                self.proto.receive_data(data)
            else:
                self.eof = True
                self.proto.receive_eof()
            events = self.proto.events_received()
            try:
                self._flush()  # pongs, and the answer to a close
            except OSError:
                pass
        return events

    def _flush(self) -> None:
        for chunk in self.proto.data_to_send():
            if chunk:
                self.sock.sendall(chunk)
            else:  # SEND_EOF: half-close
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass


# --- one device's socket -----------------------------------------------------------------------


class Device:
    """One socket of one device: says hello, keeps each room's seq, sends commands, reports acks.

    A background greenlet reads every frame. It checks that each room's `ev` seqs rise by exactly
    one, matches `ack`/`err` to the command that caused it, and hands each `ev` to `on_ev`.
    """

    def __init__(self, base_url: str, token: str, on_ev: Callable[[dict[str, Any], float, int, bool], None],
                 on_state: Callable[[str, dict[str, Any]], None]) -> None:
        self.url = _ws_url(base_url)
        self.token = token
        self.on_ev = on_ev
        self.on_state = on_state
        self.seqs: dict[str, int] = {}
        self.pending: dict[str, tuple[str, float, dict[str, Any], AsyncResult | None]] = {}
        self.ws: GeventWebSocket | None = None
        self.reader: gevent.Greenlet | None = None
        self.stopping = False
        self.welcome: dict[str, Any] = {}

    @property
    def alive(self) -> bool:
        return self.ws is not None and self.reader is not None and not self.reader.dead

    def open(self) -> bool:
        """Connect and say hello (with `since` when reconnecting). Reports `WS hello`."""
        self.close()
        self.stopping = False
        t0 = time.perf_counter()
        try:
            self.ws = GeventWebSocket(self.url, timeout=15)
            hello: dict[str, Any] = {"t": "hello", "token": self.token}
            if self.seqs:
                hello["since"] = dict(self.seqs)
            self.ws.send(msgpack.packb(hello))
            raw = self.ws.recv(timeout=15)
        except (OSError, Closed, WebSocketException) as e:
            _fire("WS", "hello", (time.perf_counter() - t0) * 1000, 0, f"{type(e).__name__}: {e}")
            self.close()
            return False
        frame = _decode(raw)
        ms = (time.perf_counter() - t0) * 1000
        if frame.get("t") != "welcome":
            _fire("WS", "hello", ms, len(raw), f"no welcome: {frame.get('t')} {frame.get('code')}")
            self.close()
            return False
        _fire("WS", "hello", ms, len(raw))
        self.welcome = frame
        for room, r in frame["rooms"].items():
            if "events" in r:
                for ev in r["events"]:  # a resume: the missed events, checked and applied like live ones
                    self._ev(ev, 0, replay=True)
            else:
                self.on_state(room, r["state"])
            self.seqs[room] = r["seq"]
        self.reader = gevent.spawn(self._read)
        return True

    def close(self) -> None:
        self.stopping = True
        self.pending.clear()
        if self.reader is not None and gevent.getcurrent() is not self.reader:
            self.reader.kill(block=False)
        self.reader = None
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # closing a dead socket: nothing left to do
                pass
        self.ws = None

    def cmd(self, room: str, op: str, args: dict[str, Any], *, wait: float = 0) -> dict[str, Any] | None:
        """Send a command; the ack or err is reported when it arrives. With wait, block for it."""
        cid = _new_id("c")
        done = AsyncResult() if wait else None
        self.pending[cid] = (op, time.perf_counter(), args, done)
        try:
            if self.ws is None:
                raise Closed(1006, "not connected")
            self.ws.send(msgpack.packb({"t": "cmd", "id": cid, "room": room, "op": op, "args": args}))
        except (OSError, Closed) as e:
            self.pending.pop(cid, None)
            _fire("WS", op, 0, 0, f"send failed: {type(e).__name__}")
            return None
        if done is None:
            return None
        try:
            answer: dict[str, Any] = done.get(timeout=wait)
            return answer
        except gevent.Timeout:
            self.pending.pop(cid, None)
            _fire("WS", op, wait * 1000, 0, "no answer")
            return None

    def expire(self, after: float = 30.0) -> None:
        """Report commands that got neither ack nor err within `after` seconds, and forget them."""
        now = time.perf_counter()
        for cid, (op, t0, _args, done) in list(self.pending.items()):
            if done is None and now - t0 > after:
                del self.pending[cid]
                _fire("WS", op, (now - t0) * 1000, 0, "no answer")

    def _read(self) -> None:
        assert self.ws is not None
        ws = self.ws
        while True:
            try:
                raw = ws.recv()
            except (Closed, OSError) as e:
                if not self.stopping:
                    why = str(e) if isinstance(e, Closed) else f"dropped: {type(e).__name__}"
                    _fire("WS", "socket closed", 0, 0, why)
                    for op, _t0, _args, done in self.pending.values():
                        _fire("WS", op, 0, 0, "no answer")
                        if done is not None:  # wake a waiting cmd(); it was reported just now
                            done.set({"t": "closed"})
                    self.pending.clear()
                return
            except Exception as e:  # the reader must never die silently
                if not self.stopping:
                    _fire("WS", "socket closed", 0, 0, f"{type(e).__name__}: {e}")
                return
            try:
                self._frame(_decode(raw), len(raw) if isinstance(raw, bytes) else 0)
            except Exception:
                log.exception("handling a frame failed")

    def _frame(self, frame: dict[str, Any], size: int) -> None:
        if self.stopping:
            return  # frames already read when the user stopped: their commands are no longer tracked
        t = frame.get("t")
        if t == "ev":
            self._ev(frame, size, replay=False)
        elif t in ("ack", "err"):
            entry = self.pending.pop(frame.get("id") or "", None)
            if entry is None:
                if t == "err":  # an err for no command of ours (id nil: bad_frame, not_authenticated)
                    _fire("WS", "err", 0, size, str(frame.get("code")))
                return
            op, t0, args, done = entry
            ms = (time.perf_counter() - t0) * 1000
            if t == "ack":
                _fire("WS", op, ms, size)
            else:
                _fire("WS", op, ms, size, str(frame.get("code")))
                self.on_refused(op, args, str(frame.get("code")))
            if done is not None:
                done.set(frame)

    def on_refused(self, op: str, args: dict[str, Any], code: str) -> None:
        """Overridden by users that keep budgets (dots) counted at send time."""

    def _ev(self, ev: dict[str, Any], size: int, replay: bool) -> None:
        room, seq = ev.get("room"), ev.get("seq")
        if not isinstance(room, str) or not isinstance(seq, int):
            _fire("WS", "bad ev", 0, size, repr(ev)[:120])
            return
        last = self.seqs.get(room)
        if last is not None:
            if seq <= last:
                return  # already applied (a resume overlapping a live frame); the protocol says ignore
            if seq != last + 1:
                COUNTS["seq_gaps"] += 1
                _fire("WS", "seq gap", 0, size, f"{room}: expected {last + 1}, got {seq}")
        self.seqs[room] = seq
        self.on_ev(ev, time.time(), size, replay)


def _decode(raw: bytes | str) -> dict[str, Any]:
    if isinstance(raw, str):
        return {"t": "!text"}
    obj = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    return obj if isinstance(obj, dict) else {"t": "!not_a_map"}


# --- setup: an activity for every table ---------------------------------------------------------


@events.test_start.add_listener
def _start_activity(environment: Any, **_: Any) -> None:
    """One facilitator connection starts the first activity and puts every table in brainstorm."""
    if isinstance(environment.runner, WorkerRunner):
        return  # the master (or the local runner) does it once
    dev = Device(HOSTS[0], ASSEMBLY["facilitator_token"], lambda *a: None, lambda *a: None)
    try:
        if not dev.open():
            raise RuntimeError("the facilitator could not connect")
        started = dev.cmd("hall", "activity.start", _activity_args(), wait=30)
        phased = dev.cmd("hall", "phase.set", {"phase": "brainstorm"}, wait=30)
        if not started or started.get("t") != "ack" or not phased or phased.get("t") != "ack":
            raise RuntimeError(f"activity.start -> {started}, phase.set -> {phased}")
    except Exception as e:
        SETUP["failed"] = str(e)
        log.error("setup failed, stopping: %s", e)
        gevent.spawn_later(0.1, environment.runner.quit)
    finally:
        dev.close()


def _activity_args() -> dict[str, Any]:
    n = next(_activity_numbers)
    return {"activity": f"lt-{RUN_ID}-a{n}", "prompt": f"Hvad skal kommunen prioritere? (runde {n})",
            "dots": 5, "max_per_target": 3, "show_totals": n % 3 == 0}


# --- the users ----------------------------------------------------------------------------------


class Tablet(FastHttpUser):
    """A member's tablet at one table."""

    weight = 100
    wait_time = between(2, 5)
    host = None

    def __init__(self, environment: Any) -> None:
        self.host = _next_host()
        super().__init__(environment)
        self.table = ASSEMBLY["tables"][next(_table_numbers) % len(ASSEMBLY["tables"])]
        self.dev: Device | None = None
        self.token = ""
        self.room = ""
        self.failures = 0
        self._reset_board("idle")
        self.open_polls: dict[str, int] = {}
        self.voted: dict[str, int] = {}
        self.my_notes: set[str] = set()

    def _reset_board(self, phase: str, dots: int = 5, max_per_target: int = 3) -> None:
        self.phase = phase
        self.notes: dict[str, str | None] = {}
        self.clusters: list[str] = []
        self.dots = dots
        self.max_per_target = max_per_target
        self.my_dots: dict[str, int] = {}

    # connection

    def on_start(self) -> None:
        self._connect()

    def on_stop(self) -> None:
        if self.dev is not None:
            self.dev.close()

    def _connect(self) -> bool:
        if not self.token:
            with self.client.post("/api/join", json={"code": self.table["code"], "name": "Load"},
                                  name="/api/join", catch_response=True) as resp:
                if resp.status_code != 200:
                    resp.failure(f"{resp.status_code} {(resp.text or '')[:80]}")
                    return False
                body = resp.json()
                self.token, self.room = body["token"], body["room"]
        if self.dev is None:
            self.dev = Device(self.host, self.token, self._on_ev, self._on_state)
            self.dev.on_refused = self._on_refused  # type: ignore[method-assign]
        return self.dev.open()

    def _on_state(self, room: str, state: dict[str, Any]) -> None:
        if room == "hall":
            self.open_polls = {p["poll"]: len(p["options"]) for p in state.get("polls", []) if p.get("open")}
            self.voted = {p: c for p, c in self.dev.welcome.get("votes", {}).items()} if self.dev else {}
            return
        board = state.get("board")
        if board is None:
            self._reset_board(state.get("phase", "idle"))
            return
        self._reset_board(state["phase"], board["dots"], board["max_per_target"])
        self.notes = {n["note"]: n.get("cluster") for n in board["notes"]}
        self.clusters = [c["cluster"] for c in board["clusters"]]
        self.my_dots = dict(board.get("my_dots") or {})

    def _on_ev(self, ev: dict[str, Any], now: float, size: int, replay: bool) -> None:
        op, data = ev["op"], ev.get("data") or {}
        if ev["room"] == "hall":
            if op == "poll.open":
                self.open_polls[data["poll"]] = len(data["options"])
            elif op == "poll.close":
                self.open_polls.pop(data["poll"], None)
                self.voted.pop(data["poll"], None)
            return
        if op == "note.add":
            note = data["note"]
            self.notes[note] = None
            if note not in self.my_notes and not replay:
                m = STAMP.search(data.get("text", ""))
                if m:
                    COUNTS["e2e_samples"] += 1
                    _fire("E2E", "note seen at table", max(0.0, (now - float(m.group(1))) * 1000), size)
        elif op == "note.move":
            self.notes[data["note"]] = data.get("cluster")
        elif op == "note.remove":
            self.notes.pop(data["note"], None)
        elif op == "cluster.add":
            self.clusters.append(data["cluster"])
        elif op == "cluster.remove":
            k = data["cluster"]
            if k in self.clusters:
                self.clusters.remove(k)
            self.notes = {n: (None if c == k else c) for n, c in self.notes.items()}
            self.my_dots.pop(k, None)
        elif op == "phase.set":
            self.phase = data["phase"]
        elif op == "activity.start":
            self._reset_board("brainstorm", data.get("dots", 5), data.get("max_per_target", 3))

    def _on_refused(self, op: str, args: dict[str, Any], code: str) -> None:
        if op == "dot.add":  # the dot was counted when sent; give it back
            t = args["target"]
            self.my_dots[t] = self.my_dots.get(t, 1) - 1
        elif op == "vote.cast" and self.voted.get(args["poll"]) == args["choice"]:
            self.voted.pop(args["poll"], None)

    # behaviour

    @task
    def act(self) -> None:
        if self.dev is None or not self.dev.alive:
            self.failures += 1
            if not self._connect():
                gevent.sleep(min(30.0, 0.5 * 2 ** min(self.failures, 6)) * random.uniform(0.5, 1.0))
                return
        self.failures = 0
        self.dev.expire()
        self._vote()
        if self.phase == "brainstorm":
            self._write_notes()
        elif self.phase == "cluster":
            self._cluster()
        elif self.phase == "vote":
            self._dots()

    def _send(self, op: str, args: dict[str, Any], room: str | None = None) -> None:
        assert self.dev is not None
        self.dev.cmd(room or self.room, op, args)

    def _vote(self) -> None:
        for poll, n in list(self.open_polls.items()):
            mine = self.voted.get(poll)
            if mine is None or random.random() < 0.05:  # vote once; now and then change one's mind
                choice = random.randrange(n)
                if choice == mine:
                    continue
                self.voted[poll] = choice
                self._send("vote.cast", {"poll": poll, "choice": choice}, room="hall")

    def _write_notes(self) -> None:
        for _ in range(random.randint(1, 4)):
            if self.phase != "brainstorm" or len(self.notes) >= NOTE_CAP or self.dev is None or not self.dev.alive:
                return
            note = _new_id("n")
            self.my_notes.add(note)
            text = f"{random.choice(WORDS)} og {random.choice(WORDS)} @{time.time():.6f}"
            self._send("note.add", {"note": note, "text": text})
            gevent.sleep(random.uniform(0.2, 0.8))

    def _cluster(self) -> None:
        if random.random() < 0.25 and len(self.clusters) < CLUSTER_CAP:
            self._send("cluster.add", {"cluster": _new_id("k"), "title": random.choice(WORDS).capitalize()})
        if self.notes and self.clusters and random.random() < 0.7:
            note = random.choice(list(self.notes))
            cluster = None if random.random() < 0.1 else random.choice(self.clusters)
            self._send("note.move", {"note": note, "cluster": cluster})

    def _dots(self) -> None:
        for _ in range(random.randint(1, 2)):
            if sum(self.my_dots.values()) >= self.dots:
                return
            targets = self.clusters + [n for n, c in self.notes.items() if c is None]
            targets = [t for t in targets if self.my_dots.get(t, 0) < self.max_per_target]
            if not targets:
                return
            target = random.choice(targets)
            self.my_dots[target] = self.my_dots.get(target, 0) + 1
            self._send("dot.add", {"target": target})


class Facilitator(User):
    """The lead facilitator: moves the whole hall through the phases and runs the plenary polls."""

    fixed_count = 1
    wait_time = constant(0)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.base = _next_host()
        self.dev = Device(self.base, ASSEMBLY["facilitator_token"], lambda *a: None, lambda *a: None)
        self.stage = itertools.cycle(["cluster", "vote", "results", "new"])
        self.poll: str | None = None

    def on_start(self) -> None:
        self.dev.open()

    def on_stop(self) -> None:
        self.dev.close()

    @task
    def next_phase(self) -> None:
        gevent.sleep(random.uniform(*PHASE_SECONDS))
        if not self.dev.alive and not self.dev.open():
            return
        stage = next(self.stage)
        seconds = int(random.uniform(*PHASE_SECONDS))
        if stage == "new":
            self.dev.cmd("hall", "activity.start", _activity_args(), wait=60)
        else:
            if stage == "results" and self.poll:
                CLOSE_SENT[self.poll] = time.time()
                self.dev.cmd("hall", "poll.close", {"poll": self.poll}, wait=30)
                self.poll = None
            self.dev.cmd("hall", "phase.set", {"phase": stage}, wait=60)
            if stage == "vote":
                self.poll = f"lt-{RUN_ID}-p{next(_poll_numbers)}"
                options = random.choice([["Ja", "Nej", "Ved ikke"], ["A", "B", "C", "D"]])
                self.dev.cmd("hall", "poll.open", {
                    "poll": self.poll, "kind": "choice", "options": options, "hidden": random.random() < 0.3,
                    "question": f"Skal forslaget med i rapporten? @{time.time():.6f}"}, wait=30)
        self.dev.cmd("hall", "timer.start", {"seconds": max(1, seconds)}, wait=30)


class Display(User):
    """The plenary screen: reads the hall; reports how fast the polls' tallies reach it."""

    fixed_count = int(os.environ.get("SAMLING_DISPLAYS", "2"))
    wait_time = constant(2)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.dev = Device(_next_host(), ASSEMBLY["display_token"], self._on_ev, lambda *a: None)
        self.opened: dict[str, float] = {}  # poll -> facilitator's send time, until its first tally
        self.failures = 0

    def on_start(self) -> None:
        self.dev.open()

    def on_stop(self) -> None:
        self.dev.close()

    @task
    def watch(self) -> None:
        if not self.dev.alive:
            self.failures += 1
            if not self.dev.open():
                gevent.sleep(min(30.0, 0.5 * 2 ** min(self.failures, 6)))
                return
        self.failures = 0

    def _on_ev(self, ev: dict[str, Any], now: float, size: int, replay: bool) -> None:
        COUNTS["display_frames"] += 1
        op, data = ev["op"], ev.get("data") or {}
        if replay:
            return
        if op == "poll.open":
            m = STAMP.search(data.get("question", ""))
            if m:
                self.opened[data["poll"]] = float(m.group(1))
        elif op == "poll.tally":
            poll = data.get("poll")
            sent = self.opened.pop(poll, None)
            if sent is not None:
                _fire("E2E", "tally after poll.open", max(0.0, (now - sent) * 1000), size)
            if data.get("final") and poll in CLOSE_SENT:
                _fire("E2E", "final tally after poll.close", max(0.0, (now - CLOSE_SENT[poll]) * 1000), size)


# --- the verdict --------------------------------------------------------------------------------


def unexpected_failures(environment: Any) -> list[str]:
    """Every failure that is not an expected boundary refusal (EXPECTED_REFUSALS), as text."""
    bad = []
    for e in environment.stats.errors.values():
        if e.method == "WS" and e.error in EXPECTED_REFUSALS.get(e.name, ()):
            continue
        bad.append(f"{e.occurrences}x {e.method} {e.name}: {e.error}")
    return bad


VERDICT: list[str] = []


@events.quitting.add_listener
def _verdict(environment: Any, **_: Any) -> None:
    """Exit 0 unless something unexpected failed; boundary refusals are reported but expected."""
    if isinstance(environment.runner, WorkerRunner):
        return
    bad = unexpected_failures(environment)
    if SETUP["failed"]:
        bad.append(f"setup: {SETUP['failed']}")
    if environment.runner is not None and environment.runner.exceptions:
        bad.append(f"{len(environment.runner.exceptions)} exceptions in user code")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    VERDICT.append(f"samling: {COUNTS['e2e_samples']} note deliveries timed, {COUNTS['seq_gaps']} seq gaps, "
                   f"{COUNTS['display_frames']} hall events at the displays; "
                   f"locust used {usage.ru_utime + usage.ru_stime:.1f} s of CPU")
    if bad:
        VERDICT.append("samling: unexpected failures:\n  " + "\n  ".join(bad))
        environment.process_exit_code = 1
    else:
        from locust import log as locust_log
        VERDICT.append("samling: no unexpected failures")
        environment.process_exit_code = 2 if locust_log.unhandled_greenlet_exception else 0


@events.quit.add_listener
def _print_verdict(exit_code: int, **_: Any) -> None:
    """After locust's own tables, so the last lines of the run say what the exit code means."""
    if VERDICT:
        print("\n" + "\n".join(VERDICT) + f"\nsamling: locust exit code {exit_code}", flush=True)
