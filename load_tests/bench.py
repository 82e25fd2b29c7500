#!/usr/bin/env python3
"""Samling's benchmark: the hall at full size and far beyond, measured, printed as one table.

    .venv/bin/python load_tests/bench.py [--store sqlite|redis] [--processes N]
                                          [--workloads tables,plenary,idle,assembly] [--quick] [--json FILE]

A script that prints figures, not a timed test: it starts redis-server (for `--store redis`, unless
`--redis URL` is given) and the Samling server process(es) itself, on 127.0.0.1 only, drives them
with its own load generator, prints one table and stops every process it started, by PID.

Workloads (one fresh store and fresh server processes each):

  tables    T rooms (tables) x 8 devices; each device sends note.add at a Poisson rate (2/s);
            every other device at the table must receive the note's `ev`. T is stepped up
            (32, 48, 72, 108, 162, 243, 364, ... rooms, 4 s each) until a step has p99 > 100 ms or
            loses anything, then bisected twice. Reported: the largest T that held, and p50/p99
            and server CPU per delivery at 48 rooms.
  plenary   2,000 devices vote (vote.cast) at uniform random times within 0.5 s; the time from
            the last vote sent to a display seeing a `poll.tally` with all 2,000 counted; lost votes.
  idle      joined, silent connections up to 1k / 5k / 10k: server RSS per connection above a
            warm baseline, and connects/s with 100 handshakes in flight (a connection counts once
            its `hello` is answered with `welcome`).
  assembly  a real hall: 20 tables x 8 at a realistic rate (a note every 5 s per device): p99.

The method is that of the peer baselines the goals are set against: one generator process on
its own core, websockets' sans-I/O ClientProtocol on raw asyncio transports (uvloop when
installed), no task per connection, one merged Poisson process choosing the sender, the send time
in the payload and latency = receipt - send on the same monotonic clock, devices joined over HTTP
before every measured interval. Server(s) and redis-server are pinned to CPU 0 and the generator
to the last CPU when the machine has at least 2; the generator's own CPU is reported and a figure
it may have limited is flagged `generator-bound`.

Run `--help` for every option; `--quick` runs a small bounded version (< 60 s) for smoke tests.
Figures are only as good as the machine is quiet: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgpack
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

REPO = Path(__file__).resolve().parents[1]
PY = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
MAX_TABLES = 500  # an assembly has at most 500 tables (server/assemblies.py): more rooms take more assemblies
CLK_TCK = os.sysconf("SC_CLK_TCK")
now = time.monotonic
pack = msgpack.packb
unpack = msgpack.unpackb

# Every simulated device comes from 127.0.0.1, which the per-address limits (server/limits.py) would
# count as one runaway client: lifted for the servers this script starts, as load_tests/run does.
# The per-socket limits (20 commands/s, bursts of 60) stay as shipped: 2 notes/s is far below them.
LIFTED_LIMITS = {name: "1000000" for name in (
    "SAMLING_MAX_PER_ADDRESS", "SAMLING_MAX_CONNECTIONS", "SAMLING_CONNECT_RATE", "SAMLING_CONNECT_BURST",
    "SAMLING_ADDRESS_RATE", "SAMLING_ADDRESS_BURST")}


# ------------------------------------------------------------------------------------------------
# Measuring processes through /proc (no psutil: Samling's venv has no need of it)

def proc_cpu(pid: int) -> tuple[float, float] | None:
    """(user + system, system) CPU seconds of a process, all its threads, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLK_TCK, stime / CLK_TCK


def proc_rss(pid: int) -> int | None:
    """Resident set size of a process in bytes (VmRSS), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat: busy counts
    user, nice and system time, so the CPU of processes other than ours can be told apart."""
    with open("/proc/stat") as f:
        parts = f.readline().split()
    user, nice, system, steal = int(parts[1]), int(parts[2]), int(parts[3]), int(parts[8])
    return (user + nice + system) / CLK_TCK, steal / CLK_TCK


def gen_cpu() -> float:
    """CPU seconds of this process (the generator), every thread."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def load_average() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class Meter:
    """CPU of the generator, the server processes (together) and redis-server over one interval,
    in % of one core, plus what every other process on the machine used ("foreign") and steal:
    a figure taken while someone else was busy is marked, never silently kept."""

    def __init__(self, servers: list[int], redis: int | None) -> None:
        self.servers, self.redis = servers, redis

    def _read(self) -> dict[str, Any]:
        srv = [proc_cpu(p) for p in self.servers]
        return {"t": now(), "gen": gen_cpu(), "machine": machine_cpu(),
                "server": (sum(c[0] for c in srv if c), sum(c[1] for c in srv if c)),
                "redis": proc_cpu(self.redis) if self.redis else None}

    def start(self) -> None:
        self.a = self._read()

    def stop(self) -> dict[str, float]:
        a, b = self.a, self._read()
        dt = max(1e-6, b["t"] - a["t"])
        gen = b["gen"] - a["gen"]
        server = b["server"][0] - a["server"][0]
        redis = (b["redis"][0] - a["redis"][0]) if a["redis"] and b["redis"] else 0.0
        busy = b["machine"][0] - a["machine"][0]
        res = {"gen_cpu_s": round(gen, 3), "server_cpu_s": round(server, 3),
               "gen_cpu_pct": round(100 * gen / dt, 1), "server_cpu_pct": round(100 * server / dt, 1),
               "server_sys_pct": round(100 * (b["server"][1] - a["server"][1]) / dt, 1),
               "foreign_cpu_pct": round(max(0.0, 100 * (busy - gen - server - redis) / dt), 1),
               "steal_pct": round(100 * (b["machine"][1] - a["machine"][1]) / dt, 1)}
        if self.redis:
            res.update(redis_cpu_s=round(redis, 3), redis_cpu_pct=round(100 * redis / dt, 1))
        return res


def pct(sorted_vals: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of sorted values, as fanout.py takes it."""
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


def ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000.0, 2)


# ------------------------------------------------------------------------------------------------
# The processes under test

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def resp_command(port: int, *args: str) -> bytes:
    """One Redis command over a plain socket (RESP), so the bench needs no Redis client of its own."""
    out = f"*{len(args)}\r\n".encode() + b"".join(f"${len(x.encode())}\r\n{x}\r\n".encode() for x in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(out)
        return s.recv(65536)


class Pinning:
    """Which CPU each process runs on. The server side (server processes and redis-server) gets
    CPU 0 and the generator the last CPU, so that the generator is not the bottleneck and "what one
    core buys" is comparable with the peers; with more server processes than the cores left, the
    servers spread over every core and the generator shares one (said in the output)."""

    def __init__(self, processes: int, enabled: bool, server_cpus: str | None) -> None:
        cores = sorted(os.sched_getaffinity(0))
        self.cores = cores
        self.enabled = enabled and len(cores) >= 2 and shutil.which("taskset") is not None
        self.gen: int | None = None
        self.servers: list[int | None] = [None] * processes
        self.redis: int | None = None
        self.notes: list[str] = []
        if not self.enabled:
            self.notes.append(f"no pinning ({len(cores)} CPU{'s' if len(cores) != 1 else ''}"
                              f"{'' if shutil.which('taskset') else ', no taskset'}): every figure shares cores")
            return
        self.gen = cores[-1]
        pool = [int(c) for c in server_cpus.split(",")] if server_cpus else cores[:-1]
        if not server_cpus and processes > len(pool):
            pool = cores          # spread the servers; the generator shares its core with one of them
        self.servers = [pool[i % len(pool)] for i in range(processes)]
        self.redis = self.servers[0]
        shared = sorted({c for c in self.servers if c == self.gen})
        where = ", ".join(f"server {i + 1} on CPU {c}" for i, c in enumerate(self.servers))
        self.notes.append(f"pinned: {where}; redis-server (if started) on CPU {self.redis}; "
                          f"generator on CPU {self.gen}")
        if shared:
            self.notes.append(f"the generator shares CPU {shared[0]} with a server process ({len(cores)} cores for "
                              f"{processes} server processes + generator): its figures are a lower bound")

    def prefix(self, cpu: int | None) -> list[str]:
        return ["taskset", "-c", str(cpu)] if self.enabled and cpu is not None else []


def server_env() -> dict[str, str]:
    """The servers' environment: what the options say, never a stray REDIS_URL or proxy."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "SAMLING_DB") and not k.lower().endswith("_proxy")}
    env.update(LIFTED_LIMITS, PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost")
    return env


class Stack:
    """redis-server (when the bench starts its own) and the server processes of one workload.
    Everything it starts it stops again, by PID, also when the bench is interrupted."""

    def __init__(self, a: argparse.Namespace, pin: Pinning, work: Path) -> None:
        self.a, self.pin, self.work = a, pin, work
        self.redis_url: str | None = a.redis
        self.redis_proc: subprocess.Popen[bytes] | None = None
        self.redis_pid: int | None = None
        self.redis_port: int | None = None
        self.servers: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self.db: Path | None = None
        self.runs = 0
        self.keep_logs = False  # set when a server logged errors: its log is evidence

    # -- redis
    def start_redis(self) -> None:
        """Our own redis-server on a free port, durable as Samling asks (appendonly yes, fsync every
        second), so that the Redis figures include the cost of the append-only file."""
        port = free_port()
        rdir = self.work / "redis"
        rdir.mkdir(exist_ok=True)
        cmd = self.pin.prefix(self.pin.redis) + [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
            "--appendfsync", "everysec", "--save", "", "--dir", str(rdir), "--daemonize", "no",
            "--logfile", str(rdir / "redis.log")]
        self.redis_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.redis_pid, self.redis_port = self.redis_proc.pid, port
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        deadline = now() + 10
        while now() < deadline:
            with contextlib.suppress(OSError):
                if resp_command(port, "PING").startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def redis_pid_of_url(self) -> int | None:
        """The PID of a Redis given by --redis, if it runs on this machine (for its CPU and RSS)."""
        if not self.redis_url or self.redis_proc is not None:
            return self.redis_pid
        try:
            port = int(self.redis_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
            info = resp_command(port, "INFO", "server").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            return None
        for line in info.splitlines():
            if line.startswith("process_id:"):
                return int(line.split(":")[1])
        return None

    # -- one workload's store, assemblies and servers
    def fresh_store(self, tables: int, workload: str) -> list[dict[str, Any]]:
        """A fresh store with enough assemblies for `tables` tables (500 each), created with the
        CLI before the servers start, exactly as an organiser would."""
        self.runs += 1
        self.db = self.work / f"{workload}-{self.runs}.db"
        if self.redis_proc is not None and self.redis_port is not None:
            resp_command(self.redis_port, "FLUSHALL")      # only ever our own redis-server
        assemblies = []
        left = tables
        while left > 0:
            n = min(MAX_TABLES, left)
            cmd = [PY, "-m", "server", "assembly", "create", f"Bench {workload} {len(assemblies) + 1}",
                   "--tables", str(n), "--json", "--db", str(self.db)]
            if self.redis_url:
                cmd += ["--redis", self.redis_url]
            r = subprocess.run(cmd, cwd=REPO, env=server_env(), capture_output=True, text=True, timeout=120,
                               check=False)
            if r.returncode != 0:
                raise RuntimeError(f"assembly create failed ({r.returncode}): {r.stderr[-2000:]}")
            assemblies.append(json.loads(r.stdout[r.stdout.index("{"):]))
            left -= n
        return assemblies

    def start_servers(self) -> None:
        self.servers, self.ports = [], []
        assert self.db is not None
        for i in range(self.a.processes):
            port = free_port()
            cmd = self.pin.prefix(self.pin.servers[i]) + [
                PY, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(self.db)]
            if self.redis_url:
                cmd += ["--redis", self.redis_url]
            log = open(self.work / f"server-{self.runs}-{port}.log", "wb")
            self.servers.append(subprocess.Popen(cmd, cwd=REPO, env=server_env(), stdout=log, stderr=subprocess.STDOUT))
            self.ports.append(port)
        for p, port in zip(self.servers, self.ports, strict=True):
            deadline = now() + 30
            while True:
                if p.poll() is not None:
                    raise RuntimeError(f"the server on port {port} exited ({p.returncode}); log in {self.work}")
                with contextlib.suppress(OSError):
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                        if s.recv(64).startswith(b"HTTP/1.1 200"):
                            break
                if now() > deadline:
                    raise RuntimeError(f"the server on port {port} did not answer /healthz within 30 s")
                time.sleep(0.1)

    @property
    def server_pids(self) -> list[int]:
        return [p.pid for p in self.servers]

    def server_errors(self) -> tuple[int, list[str]]:
        """ERROR lines the servers logged in this workload (a clean run has none), and the most
        frequent distinct ones with numbers folded, so that a report says what went wrong."""
        lines: Counter[str] = Counter()
        n = 0
        for port in self.ports:
            with contextlib.suppress(OSError):
                text = (self.work / f"server-{self.runs}-{port}.log").read_text(errors="replace")
                for line in text.splitlines():
                    n += " ERROR " in line
                    if " ERROR " in line or "Error: " in line or "Exception: " in line:
                        lines[re.sub(r"\d+", "N", line.split(" ERROR ", 1)[-1])[:200]] += 1
        return n, [f"{v} x {k}" for k, v in lines.most_common(6)]

    def stop_servers(self) -> None:
        for p in self.servers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.servers:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.servers = []

    def stop_all(self) -> None:
        self.stop_servers()
        if self.redis_proc is not None and self.redis_proc.poll() is None:
            self.redis_proc.send_signal(signal.SIGTERM)
            try:
                self.redis_proc.wait(10)
            except subprocess.TimeoutExpired:
                self.redis_proc.kill()
                self.redis_proc.wait(5)


# ------------------------------------------------------------------------------------------------
# The generator: one WebSocket per device, no task per connection

class Device:
    """One joined device and its socket. Kept small: the idle workload holds 10,000 of them."""

    __slots__ = ("idx", "token", "room", "rkey", "role", "proc", "conn", "seqs", "welcomed", "seen", "tag")

    def __init__(self, idx: int, token: str, room: str, rkey: int, role: str, proc: int) -> None:
        self.idx, self.token, self.room, self.rkey, self.role, self.proc = idx, token, room, rkey, role, proc
        self.conn: Conn | None = None
        self.seqs: dict[str, int] = {}
        self.welcomed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.seen: set[int] = set()
        self.tag = f"d{idx}."


class Conn(asyncio.Protocol):
    """websockets' sans-I/O ClientProtocol driven by an asyncio transport: handshake, framing and
    masking from the library, and nothing else per connection (no task, no queue), so that one
    generator core drives thousands of sockets at the same cost for every server measured."""

    def __init__(self, bench: Bench, dev: Device, uri: str) -> None:
        self.bench, self.dev = bench, dev
        self.ws = ClientProtocol(parse_uri(uri), max_size=None)
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost = False
        self.raw = False  # frames read by hand once the handshake is done (`_frames`)
        self.buf = b""
        dev.conn = self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def _flush(self) -> None:
        out = self.ws.data_to_send()
        if out and not self.lost and self.transport is not None:
            self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        if self.raw:
            self._frames(data)
            return
        ws = self.ws
        ws.receive_data(data)
        for ev in ws.events_received():
            if type(ev) is Frame:
                if ev.opcode is Opcode.BINARY:
                    self.bench.on_frame(self.dev, ev.data)
                elif ev.opcode is Opcode.CLOSE:
                    self.bench.closed_by_server += 1
                    code = int.from_bytes(ev.data[:2], "big") if len(ev.data) >= 2 else 1005
                    self.bench.closes[f"{self.dev.role} {code}"] += 1
                elif ev.opcode is Opcode.TEXT:
                    self.bench.text_frames += 1
            elif not self.opened.done():       # the handshake's answer
                if ws.handshake_exc is not None:
                    self.opened.set_exception(ws.handshake_exc)
                else:
                    self.opened.set_result(None)
                    self.send(pack({"t": "hello", "token": self.dev.token}))
                    self.raw = True            # from now on frames are read by `_frames`
        self._flush()                          # pongs, close frames

    def _frames(self, data: bytes) -> None:
        """Server frames read by hand (RFC 6455 section 5.2: a server's frames are unmasked, and
        Samling's are never fragmented): websockets' parser costs the generator more per frame
        than some servers spend, and the generator must not be what limits the figure."""
        buf = self.buf + data if self.buf else data
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, size = buf[pos], buf[pos + 1]
            head = 2
            if size & 0x80:                    # a masked server frame: not WebSocket
                self.bench.text_frames += 1
                self.close()
                return
            if size == 126:
                if n - pos < 4:
                    break
                size, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif size == 127:
                if n - pos < 10:
                    break
                size, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            end = pos + head + size
            if end > n:
                break
            payload, opcode = buf[pos + head:end], b0 & 0x0F
            pos = end
            if opcode == 2:
                self.bench.on_frame(self.dev, payload)
            elif opcode == 8:
                self.bench.closed_by_server += 1
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.bench.closes[f"{self.dev.role} {code}"] += 1
                if self.transport is not None:
                    self.transport.close()
                self.buf = b""
                return
            elif opcode == 9:                  # ping: pong through the library, which masks
                self.ws.send_pong(payload)
                self._flush()
            elif opcode == 1:
                self.bench.text_frames += 1
        self.buf = buf[pos:]

    def send(self, data: bytes) -> None:
        if self.lost or self.transport is None:
            self.bench.send_errors += 1
            return
        self.ws.send_binary(data)
        self.transport.write(b"".join(self.ws.data_to_send()))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        else:
            self.bench.conns_lost += 1

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.abort()


class HttpLane:
    """One keep-alive HTTP/1.1 connection for POST /api/join: a few lanes per server join
    thousands of devices quickly without an HTTP client library, all before the measured interval."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        raw = json.dumps(body).encode()
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            assert self.reader is not None
            try:
                self.writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                                  f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
                                  + raw)
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
                continue
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
            payload = await self.reader.readexactly(int(headers.get("content-length", "0")))
            if headers.get("connection", "").lower() == "close":
                self.close()
            return status, payload
        raise ConnectionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Bench:
    """The generator's state: devices, the assemblies' codes, the counters every workload checks
    (seq gaps, err frames, closes), and the per-step accounting of the tables workload."""

    def __init__(self, a: argparse.Namespace, stack: Stack, assemblies: list[dict[str, Any]]) -> None:
        self.a, self.stack, self.assemblies = a, stack, assemblies
        self.rnd = random.Random(a.seed)
        self.run = secrets.token_hex(2)       # note, poll and activity ids unique across runs on one store
        self.meter = Meter(stack.server_pids, stack.redis_pid_of_url())
        self.devices: list[Device] = []
        self.facilitators: list[Device] = []
        self.fac_waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.fac_n = 0
        self.lanes = [[HttpLane(port) for _ in range(a.join_lanes)] for port in stack.ports]
        # counters over the whole workload
        self.seq_gap = self.seq_back = self.acks = self.own_echo = self.unparsed = 0
        self.closed_by_server = self.conns_lost = self.send_errors = self.text_frames = 0
        self.errs: Counter[str] = Counter()
        self.closes: Counter[str] = Counter()  # "<role> <close code>"
        self.join_retries = 0
        # tables
        self.sent_rkey: list[int] = []
        self.sent_from: list[int] = []
        self.step_start = 0
        self.lat: list[float] = []
        self.delivered = self.dup = self.late = 0
        self.last_delivery = 0.0
        self.board_notes: Counter[int] = Counter()
        self.activities = 0
        # plenary
        self.tallies: list[tuple[float, Any, int]] = []
        self.proc_rr = 0
        self.pad = ""
        self.last_step: tuple[list[Device], int] = ([], 0)

    # -- receiving: the hot path
    def on_frame(self, dev: Device, data: bytes) -> None:
        m = unpack(data)
        t = m.get("t")
        if t == "ev":
            room, seq = m["room"], m["seq"]
            last = dev.seqs.get(room)
            if last is not None and seq != last + 1:
                if seq > last:
                    self.seq_gap += 1
                else:
                    self.seq_back += 1
            if last is None or seq > last:
                dev.seqs[room] = seq
            op = m["op"]
            if op == "note.add":
                if dev.role == "facilitator":
                    return
                d = m["data"]
                try:
                    i = int(d["note"].rsplit(".", 1)[1])
                    ts = float(d["text"].split(" ", 2)[1])
                except (KeyError, ValueError, IndexError, AttributeError):
                    self.unparsed += 1
                    return
                if i < len(self.sent_from) and self.sent_from[i] == dev.idx:
                    self.own_echo += 1          # the sender's own ev: not a delivery
                    return
                self.on_msg(dev, i, ts)
            elif op == "poll.tally" and dev.role == "display":
                d = m["data"]
                self.tallies.append((now(), d.get("poll"), d.get("voters") or 0))
        elif t == "ack" or t == "err":
            if t == "ack":
                self.acks += 1
            else:
                code = str(m.get("code"))
                self.errs[code] += 1
                if sum(self.errs.values()) <= 5:
                    print(f"  err {code}: {m.get('msg')} (cmd {m.get('id')})", flush=True)
            if dev.role == "facilitator":
                fut = self.fac_waiting.pop(m.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result(m)
        elif t == "welcome":
            for room, part in (m.get("rooms") or {}).items():
                if isinstance(part, dict) and type(part.get("seq")) is int:
                    dev.seqs[room] = part["seq"]
            if not dev.welcomed.done():
                dev.welcomed.set_result(None)

    def on_msg(self, dev: Device, i: int, ts: float) -> None:
        t = now()
        self.last_delivery = t
        if i < self.step_start:
            self.late += 1
            return
        if i in dev.seen:
            self.dup += 1
            return
        dev.seen.add(i)
        self.delivered += 1
        self.lat.append(t - ts)

    # -- devices
    def next_proc(self) -> int:
        """Devices are spread over the server processes round-robin."""
        p = self.proc_rr % len(self.stack.ports)
        self.proc_rr += 1
        return p

    async def join(self, tables: list[int]) -> list[Device]:
        """Join one device per entry of `tables` (global table indexes) with POST /api/join, before
        any measured interval; 429 and 503 are retried with back-off."""
        work = list(enumerate(tables))
        out: list[Device | None] = [None] * len(work)
        procs = [self.next_proc() for _ in work]
        queues: list[list[tuple[int, int]]] = [[] for _ in self.stack.ports]
        for (i, t), p in zip(work, procs, strict=True):
            queues[p].append((i, t))

        async def lane(http: HttpLane, q: list[tuple[int, int]], proc: int) -> None:
            while q:
                i, t = q.pop()
                asm, table = self.table(t)
                for attempt in range(8):
                    try:
                        status, body = await http.post("/api/join", {"code": table["code"]})
                    except (OSError, asyncio.IncompleteReadError):
                        status, body = 0, b""
                    if status == 200:
                        j = json.loads(body)
                        out[i] = Device(len(self.devices) + i, j["token"], j["room"], t, j["role"], proc)
                        break
                    if status not in (0, 429, 503):
                        raise RuntimeError(f"POST /api/join answered {status}: {body[:200]!r}")
                    self.join_retries += 1
                    await asyncio.sleep(0.05 * 2 ** attempt)
                else:
                    raise RuntimeError("POST /api/join: gave up after 8 tries")

        await asyncio.gather(*(lane(h, queues[p], p) for p, hs in enumerate(self.lanes) for h in hs))
        devs = [d for d in out if d is not None]
        self.devices.extend(devs)
        return devs

    def table(self, t: int) -> tuple[dict[str, Any], dict[str, Any]]:
        asm = self.assemblies[t // MAX_TABLES]
        return asm, asm["tables"][t % MAX_TABLES]

    async def connect(self, devs: list[Device], concurrency: int) -> tuple[list[Device], int, float]:
        """Open the devices' sockets, `concurrency` handshakes in flight; a device counts as
        connected once its hello is answered with welcome. Returns (connected, errors, seconds)."""
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(concurrency)
        first: list[BaseException] = []

        async def one(d: Device) -> bool:
            async with sem:
                try:
                    port = self.stack.ports[d.proc]
                    await loop.create_connection(lambda: Conn(self, d, f"ws://127.0.0.1:{port}/ws"),
                                                 "127.0.0.1", port)
                    assert d.conn is not None
                    await asyncio.wait_for(d.conn.opened, 15)
                    await asyncio.wait_for(d.welcomed, 15)
                    return True
                except Exception as exc:  # any failure to connect is counted and the first one reported
                    if not first:
                        first.append(exc)
                    return False

        t0 = now()
        ok = await asyncio.gather(*(one(d) for d in devs))
        dt = now() - t0
        nerr = ok.count(False)
        if nerr:
            print(f"  connect errors: {nerr} (first: {first[0]!r})", flush=True)
        return [d for d, good in zip(devs, ok, strict=True) if good], nerr, dt

    async def open_facilitators(self) -> None:
        """One facilitator socket per assembly (on the first process): it starts the activity and
        opens polls, and stays connected, as a dashboard would, receiving every table's events."""
        for asm in self.assemblies:
            dev = Device(-1 - len(self.facilitators), asm["facilitator_token"], "hall", -1, "facilitator", 0)
            ok, nerr, _ = await self.connect([dev], 1)
            if nerr:
                raise RuntimeError("the facilitator could not connect")
            self.facilitators.append(dev)

    async def fac_cmd(self, fac: Device, op: str, args: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        self.fac_n += 1
        cid = f"f{self.run}.{self.fac_n}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.fac_waiting[cid] = fut
        assert fac.conn is not None
        fac.conn.send(pack({"t": "cmd", "id": cid, "room": "hall", "op": op, "args": args}))
        m = await asyncio.wait_for(fut, timeout)
        if m["t"] == "err":
            raise RuntimeError(f"the facilitator's {op} was refused: {m.get('code')}: {m.get('msg')}")
        return m

    async def new_activity(self) -> None:
        """A fresh activity in every assembly: every table starts an empty board in brainstorm, so
        no board reaches its 500 notes during a long step series."""
        self.activities += 1
        for fac in self.facilitators:
            await self.fac_cmd(fac, "activity.start", {"activity": f"b{self.run}-{self.activities}",
                                                       "prompt": "Hvad skal vi anbefale?", "dots": 5,
                                                       "max_per_target": 3})
        self.board_notes.clear()

    def close_all(self) -> None:
        for d in self.devices + self.facilitators:
            if d.conn is not None:
                d.conn.close()

    def checks(self) -> dict[str, Any]:
        """The protocol checks of the whole workload: each must be 0 but acks."""
        return {"seq_gaps": self.seq_gap, "seq_back": self.seq_back, "err_frames": sum(self.errs.values()),
                "errs": dict(self.errs), "closed_by_server": self.closed_by_server,
                "closes": dict(self.closes), "conns_lost": self.conns_lost,
                "send_errors": self.send_errors, "unparsed": self.unparsed, "join_retries": self.join_retries,
                "acks": self.acks}


# ------------------------------------------------------------------------------------------------
# tables

def note_pad(msg_bytes: int) -> str:
    """Padding for a note's text, as long as the peers' message body at the same --msg-bytes (the
    shared generator's rule), so that Samling carries the same payload as the peers."""
    samjson_body = msg_bytes - len(json.dumps({"t": "msg", "id": 10 ** 7, "ts": time.monotonic(), "body": ""}))
    return "x" * max(0, samjson_body - len(f"{10 ** 7} {time.monotonic()!r} "))


async def tables_step(b: Bench, rooms: list[list[Device]], rate_total: float, duration: float,
                      grace: float) -> dict[str, Any]:
    """Send note.add at `rate_total` a second for `duration` s, one merged Poisson process choosing
    a random sender among the rooms' devices; then wait up to `grace` s for every other device
    of each room to receive each note. Counts by note id: lost, duplicated, misrouted."""
    active = [d for r in rooms for d in r]
    n = len(active)
    for d in active:
        d.seen = set()
    b.step_start = len(b.sent_from)
    b.lat, b.delivered, b.dup = [], 0, 0
    late0, gap0, err0 = b.late, b.seq_gap + b.seq_back, sum(b.errs.values())
    cls0, lost0, acks0 = b.closed_by_server, b.conns_lost, b.acks
    pad, rnd, run = b.pad, b.rnd, b.run
    sent_rkey, sent_from, board = b.sent_rkey, b.sent_from, b.board_notes
    lags: list[float] = []
    b.meter.start()
    t = t0 = now()
    end = t0 + duration
    burst = 0
    while True:
        t += rnd.expovariate(rate_total)
        if t >= end:
            break
        wait = t - now()
        if wait > 0.0005:
            burst = 0
            await asyncio.sleep(wait)
        else:
            burst += 1
            if burst >= 32:                  # behind schedule: still let the receives run
                burst = 0
                await asyncio.sleep(0)
        d = active[rnd.randrange(n)]
        i = len(sent_from)
        sent_rkey.append(d.rkey)
        sent_from.append(d.idx)
        board[d.rkey] += 1
        ts = now()
        lags.append(ts - t)
        assert d.conn is not None
        d.conn.send(pack({"t": "cmd", "id": f"{d.tag}{i}", "room": d.room, "op": "note.add",
                          "args": {"note": f"{run}.{i}", "text": f"{i} {ts!r} {pad}"}}))
    send_end = now()
    sent = len(sent_from) - b.step_start
    cpu = b.meter.stop()
    size = {r[0].rkey: len(r) for r in rooms if r}
    expected = sum(size[sent_rkey[i]] - 1 for i in range(b.step_start, len(sent_from)))
    deadline = send_end + grace
    while b.delivered < expected and now() < deadline:
        await asyncio.sleep(0.01)
    good, mis = count_good(b, active)
    lat = sorted(b.lat)
    lags.sort()
    res: dict[str, Any] = {
        "rooms": len(rooms), "devices": n, "offered_msg_s": round(rate_total, 1), "sent": sent,
        "sent_msg_s": round(sent / duration, 1), "expected_deliveries": expected, "delivered": good,
        "delivered_msg_s": round(good / duration, 1), "lost": expected - good, "dup": b.dup, "misrouted": mis,
        "late_prev_step": b.late - late0, "seq_gaps": b.seq_gap + b.seq_back - gap0,
        "err_frames": sum(b.errs.values()) - err0, "unacked": sent - (b.acks - acks0),
        "closed_by_server": b.closed_by_server - cls0, "conns_lost": b.conns_lost - lost0,
        "p50_ms": ms(pct(lat, 50)), "p90_ms": ms(pct(lat, 90)), "p99_ms": ms(pct(lat, 99)),
        "max_ms": ms(lat[-1] if lat else None), "gen_lag_p99_ms": ms(pct(lags, 99)),
        "server_rss_mb": round(sum(proc_rss(p) or 0 for p in b.stack.server_pids) / 2 ** 20, 1),
    }
    res.update(cpu)
    if good:
        res["server_cpu_us_per_delivery"] = round(1e6 * cpu["server_cpu_s"] / good, 1)
        res["gen_cpu_us_per_delivery"] = round(1e6 * cpu["gen_cpu_s"] / good, 1)
        if "redis_cpu_s" in cpu:
            res["server_redis_cpu_us_per_delivery"] = round(1e6 * (cpu["server_cpu_s"] + cpu["redis_cpu_s"]) / good, 1)
    b.last_step = (active, expected)
    return res


def count_good(b: Bench, active: list[Device]) -> tuple[int, int]:
    """Deliveries by id: to the sender's room and not to the sender is good, anything else misrouted."""
    good = mis = 0
    for d in active:
        for i in d.seen:
            if b.sent_rkey[i] == d.rkey and b.sent_from[i] != d.idx:
                good += 1
            else:
                mis += 1
    return good, mis


def held(r: dict[str, Any], limit: float) -> bool:
    return (r["lost"] == 0 and r["dup"] == 0 and r["misrouted"] == 0 and r["p99_ms"] is not None
            and r["p99_ms"] <= limit and r["sent_msg_s"] >= 0.9 * r["offered_msg_s"])


def gen_bound(r: dict[str, Any], processes: int) -> bool:
    """The generator, not the server, may be the limit: near a full core while the servers are not,
    or behind its own send schedule (the peers' generator applies the same rule)."""
    return bool((r.get("gen_cpu_pct", 0) >= 90 and r.get("server_cpu_pct", 100) < 85 * processes)
                or (r.get("gen_lag_p99_ms") or 0) > 50)


async def drain(b: Bench, quiet: float, cap: float) -> tuple[float, bool]:
    """After an overloaded step: wait until nothing arrived for `quiet` s (at most `cap` s)."""
    t0 = now()
    while now() - t0 < cap:
        if now() - max(b.last_delivery, t0) >= quiet:
            return round(now() - t0, 2), True
        await asyncio.sleep(0.05)
    return round(now() - t0, 2), False


async def run_tables(b: Bench, a: argparse.Namespace) -> dict[str, Any]:
    """Step the number of rooms up until one fails (p99 over the limit, or anything lost), then
    bisect; the peers' suite does the same with the same steps, step length and grace."""
    b.pad = note_pad(a.msg_bytes)
    rooms: list[list[Device]] = []
    steps: list[dict[str, Any]] = []
    t_start = now()

    async def ensure_rooms(t: int) -> float:
        if t <= len(rooms):
            return 0.0
        new = [r for r in range(len(rooms), t) for _ in range(a.k)]
        devs = await b.join(new)
        ok, nerr, dt = await b.connect(devs, a.connect_concurrency)
        by_room: dict[int, list[Device]] = {}
        for d in ok:
            by_room.setdefault(d.rkey, []).append(d)
        rooms.extend(by_room.get(r, []) for r in range(len(rooms), t))
        await asyncio.sleep(a.settle)
        return dt

    async def one(t: int, kind: str) -> dict[str, Any]:
        dt = await ensure_rooms(t)
        active = [r for r in rooms[:t] if len(r) == a.k]
        per_step = a.rate * a.k * a.duration
        if max((b.board_notes[r[0].rkey] for r in active), default=0) + 3 * per_step + 20 > 480:
            await b.new_activity()
            await asyncio.sleep(a.settle)
        r = await tables_step(b, active, len(active) * a.k * a.rate, a.duration, a.grace)
        r.update(kind=kind, connect_s=round(dt, 2))
        r["held"] = held(r, a.p99_limit)
        r["gen_bound"] = gen_bound(r, a.processes)
        r["noisy"] = r["foreign_cpu_pct"] > a.noise_limit or r["steal_pct"] > a.noise_limit
        if not r["held"]:
            r["drain_s"], r["drained"] = await drain(b, a.drain_quiet, a.drain_cap)
            act, exp = b.last_step
            r["undelivered_after_drain"] = exp - count_good(b, act)[0]
        steps.append(r)
        print(f"  [tables {kind}] rooms={r['rooms']} sent={r['sent_msg_s']}/s delivered={r['delivered_msg_s']}/s "
              f"p50={r['p50_ms']} p99={r['p99_ms']} max={r['max_ms']} ms lost={r['lost']} dup={r['dup']} "
              f"mis={r['misrouted']} errs={r['err_frames']} gaps={r['seq_gaps']} cpu gen/srv(sys)/redis="
              f"{r['gen_cpu_pct']}/{r['server_cpu_pct']}({r['server_sys_pct']})/{r.get('redis_cpu_pct', '-')}% "
              f"lag99={r['gen_lag_p99_ms']} foreign={r['foreign_cpu_pct']}% held={r['held']}"
              f"{' GEN-BOUND?' if r['gen_bound'] else ''}{' NOISY' if r['noisy'] else ''}", flush=True)
        return r

    best: int | None = None
    fail: int | None = None
    for t in a.step_list:
        if now() - t_start > a.time_budget:
            print("  time budget reached: stopping the step series", flush=True)
            break
        r = await one(t, "step")
        if not r["held"] and r["noisy"] and r.get("drained", True):
            print("  other processes were busy during that step: trying it once more", flush=True)
            r = await one(t, "retry")
        if r["held"]:
            best = t
        else:
            fail = t
            break
    recovered = not steps or steps[-1].get("drained", True)
    if fail is not None and best is not None and recovered:
        lo, hi = best, fail
        for _ in range(a.refine):
            mid = (lo + hi) // 2
            if mid in (lo, hi) or now() - t_start > a.time_budget:
                break
            r = await one(mid, "refine")
            if r["held"]:
                lo = mid
            else:
                hi = mid
                if not r.get("drained", True):
                    break
        best, fail = lo, hi
    held_steps = [s for s in steps if s["held"]]
    top = max(held_steps, key=lambda s: s["rooms"]) if held_steps else None
    first_fail = next((s for s in steps if s["rooms"] == fail), None) if fail is not None else None
    return {"workload": "tables", "k": a.k, "rate": a.rate, "duration_s": a.duration, "p99_limit_ms": a.p99_limit,
            "steps": steps, "max_held": top and {k: top[k] for k in ("rooms", "p50_ms", "p99_ms", "gen_bound",
                                                                        "gen_cpu_pct", "server_cpu_pct")},
            "first_failed": first_fail and {k: first_fail.get(k) for k in (
                "rooms", "p99_ms", "lost", "gen_cpu_pct", "server_cpu_pct", "gen_lag_p99_ms", "gen_bound")},
            "bound_by_max_step": fail is None,
            "never_delivered": max(0, sum(s.get("undelivered_after_drain", s["lost"]) for s in steps) - b.late)}


# ------------------------------------------------------------------------------------------------
# plenary

async def run_plenary(b: Bench, a: argparse.Namespace) -> dict[str, Any]:
    """N voters (K a table) and one display: each voter casts one vote at a uniform random time in
    B s. Measured: the last vote sent -> the display's first poll.tally with all N counted."""
    rounds = []
    first_table = 0
    for n, burst in a.configs:
        tables = [first_table + i // a.k for i in range(n)]
        first_table += math.ceil(n / a.k)
        poll = f"p{b.run}.{len(rounds) + 1}"
        fac = b.facilitators[0]
        await b.fac_cmd(fac, "poll.open", {"poll": poll, "question": "Skal anbefalingen med?", "kind": "choice",
                                           "options": ["ja", "nej"]})
        display = Device(-100 - len(rounds), b.assemblies[0]["display_token"], "hall", -1, "display", 0)
        shown, nerr_d, _ = await b.connect([display], 1)
        voters = await b.join(tables)
        voters, nerr, conn_s = await b.connect(voters, a.connect_concurrency)
        await asyncio.sleep(a.settle)
        b.tallies = []
        acks0, err0 = b.acks, sum(b.errs.values())
        offsets = sorted(b.rnd.uniform(0, burst) for _ in voters)
        sent_at: list[float] = []
        b.meter.start()
        t0 = now() + 0.05
        for k, off in enumerate(offsets):
            wait = t0 + off - now()
            if wait > 0.0005:
                await asyncio.sleep(wait)
            d = voters[k]
            assert d.conn is not None
            sent_at.append(now())
            d.conn.send(pack({"t": "cmd", "id": f"{d.tag}v{b.run}{len(rounds)}", "room": "hall", "op": "vote.cast",
                              "args": {"poll": poll, "choice": b.rnd.randrange(2)}}))
        last = sent_at[-1] if sent_at else now()
        deadline = last + a.plenary_timeout

        def counted(poll: str = poll) -> int:
            return max((v for _, p, v in b.tallies if p == poll), default=0)

        while now() < deadline and counted() < len(voters):
            await asyncio.sleep(0.001)
        cpu = b.meter.stop()
        seen = [(t, v) for t, p, v in b.tallies if p == poll]
        final = counted()
        t_all = next((t for t, v in seen if v >= len(voters)), None)
        lags = []
        best = j = 0
        for k in range(1, final + 1):          # the k-th vote sent -> the first tally showing >= k
            while best < k and j < len(seen):
                best = max(best, seen[j][1])
                j += 1
            if best >= k:
                lags.append(seen[j - 1][0] - sent_at[k - 1])
        lags.sort()
        res = {"voters": len(voters), "burst_s": burst, "connect_errors": nerr + nerr_d, "votes_sent": len(sent_at),
               "final_count": final, "lost_votes": len(voters) - final, "tallies_seen": len(seen),
               "complete_after_last_ms": ms(None if t_all is None else t_all - last),
               "tally_lag_p50_ms": ms(pct(lags, 50)), "tally_lag_p99_ms": ms(pct(lags, 99)),
               "send_window_s": round(last - sent_at[0], 3) if sent_at else None,
               "vote_acks": b.acks - acks0, "err_frames": sum(b.errs.values()) - err0, "connect_s": round(conn_s, 2)}
        res.update(cpu)
        rounds.append(res)
        print(f"  [plenary] N={res['voters']} B={burst}s all counted {res['complete_after_last_ms']} ms after the "
              f"last vote; lag p50/p99={res['tally_lag_p50_ms']}/{res['tally_lag_p99_ms']} ms; "
              f"lost={res['lost_votes']} "
              f"acks={res['vote_acks']} errs={res['err_frames']} cpu gen/srv/redis={res['gen_cpu_pct']}/"
              f"{res['server_cpu_pct']}/{res.get('redis_cpu_pct', '-')}% foreign={res['foreign_cpu_pct']}%",
              flush=True)
        for d in voters + shown:
            if d.conn is not None:
                d.conn.close()
        await asyncio.sleep(0.3)
    return {"workload": "plenary", "rounds": rounds}


# ------------------------------------------------------------------------------------------------
# idle

async def run_idle(b: Bench, a: argparse.Namespace) -> dict[str, Any]:
    """Joined, silent sockets up to each count: the servers' RSS per socket above a warm baseline
    (one room of K), and connects/s with `--connect-concurrency` handshakes in flight."""
    tables = len(b.assemblies[0]["tables"])
    per_table = math.ceil(max(a.counts) / max(1, tables - 1))
    warm, _, _ = await b.connect(await b.join([0] * a.k), a.connect_concurrency)
    await asyncio.sleep(1.0)
    pids = b.stack.server_pids
    base = sum(proc_rss(p) or 0 for p in pids)
    rpid = b.meter.redis
    redis_base = proc_rss(rpid) if rpid else None
    levels = []
    have = 0
    opened: list[Device] = []
    for target in a.counts:
        devs = await b.join([1 + i // per_table for i in range(have, target)])   # outside the measured interval
        b.meter.start()
        ok, nerr, dt = await b.connect(devs, a.connect_concurrency)
        cpu = b.meter.stop()
        opened.extend(ok)
        have = target
        await asyncio.sleep(a.settle_idle)
        rss = sum(proc_rss(p) or 0 for p in pids)
        n_open = sum(1 for d in opened if d.conn is not None and not d.conn.lost)
        rec: dict[str, Any] = {
            "target": target, "open": n_open, "connect_errors": nerr,
            "connects_per_s": round(len(devs) / dt, 1) if dt > 0 else None,
            "server_rss_mb": round(rss / 2 ** 20, 1), "base_rss_mb": round(base / 2 ** 20, 1),
            "rss_per_conn_kb": round((rss - base) / max(1, n_open) / 1024, 1),
            "connect_gen_cpu_pct": cpu["gen_cpu_pct"], "connect_server_cpu_pct": cpu["server_cpu_pct"],
            "connect_foreign_cpu_pct": cpu["foreign_cpu_pct"]}
        if redis_base is not None and rpid:
            rec["redis_rss_mb"] = round((proc_rss(rpid) or 0) / 2 ** 20, 1)
        rec["gen_bound"] = cpu["gen_cpu_pct"] >= 90 and cpu["server_cpu_pct"] < 85 * len(pids)
        levels.append(rec)
        print(f"  [idle] open={n_open} rss={rec['server_rss_mb']} MB ({rec['rss_per_conn_kb']} KB a socket) "
              f"connects/s={rec['connects_per_s']} (cpu gen/srv {cpu['gen_cpu_pct']}/{cpu['server_cpu_pct']}%) "
              f"errors={nerr}", flush=True)
        if nerr:
            break
    del warm
    return {"workload": "idle", "levels": levels}


# ------------------------------------------------------------------------------------------------
# assembly: a real hall at a realistic rate

async def run_assembly(b: Bench, a: argparse.Namespace) -> dict[str, Any]:
    """20 tables x 8 at a realistic rate for a longer step: the latency a real hall would see."""
    b.pad = note_pad(a.msg_bytes)
    devs = await b.join([r for r in range(a.assembly_tables) for _ in range(a.k)])
    ok, nerr, _ = await b.connect(devs, a.connect_concurrency)
    rooms: dict[int, list[Device]] = {}
    for d in ok:
        rooms.setdefault(d.rkey, []).append(d)
    await asyncio.sleep(a.settle)
    r = await tables_step(b, list(rooms.values()), len(ok) * a.assembly_rate, a.assembly_duration, a.grace)
    r.update(connect_errors=nerr, rate_per_device=a.assembly_rate, gen_bound=gen_bound(r, a.processes))
    print(f"  [assembly] {r['rooms']} tables x {a.k} at {a.assembly_rate}/s a device: p50={r['p50_ms']} "
          f"p99={r['p99_ms']} max={r['max_ms']} ms lost={r['lost']} errs={r['err_frames']} "
          f"cpu srv={r['server_cpu_pct']}%", flush=True)
    return {"workload": "assembly", **r}


# ------------------------------------------------------------------------------------------------
# Running a workload and the table

def tables_needed(workload: str, a: argparse.Namespace) -> int:
    if workload == "tables":
        return max(a.step_list)
    if workload == "plenary":
        return sum(math.ceil(n / a.k) for n, _ in a.configs)
    if workload == "idle":
        return min(MAX_TABLES, math.ceil(max(a.counts) / a.k) + 1)
    return a.assembly_tables


RUNNERS = {"tables": run_tables, "plenary": run_plenary, "idle": run_idle, "assembly": run_assembly}


async def run_workload(workload: str, a: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    assemblies = stack.fresh_store(tables_needed(workload, a), workload)
    stack.start_servers()
    b = Bench(a, stack, assemblies)
    load0 = load_average()
    print(f"==> {workload}: {len(stack.ports)} server process(es) {stack.server_pids} on ports {stack.ports}; "
          f"load average {load0:.2f}", flush=True)
    try:
        await b.open_facilitators()
        await b.new_activity()
        res = await RUNNERS[workload](b, a)
    finally:
        b.close_all()
        for lanes in b.lanes:
            for lane in lanes:
                lane.close()
        await asyncio.sleep(0.2)
        stack.stop_servers()
        errors, samples = stack.server_errors()
    if errors:
        stack.keep_logs = True
        print(f"  the servers logged {errors} error lines; the most frequent:", flush=True)
        for line in samples:
            print(f"    {line}", flush=True)
    res.update(checks=b.checks(), server_error_lines=errors, server_error_samples=samples,
               load_average_before=load0, load_average_after=load_average())
    return res


def fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        x = f"{x:.1f}" if abs(x) >= 10 or x == int(x) else f"{x:.2f}"
    return f"{x}{unit}"


def table_rows(results: dict[str, Any], a: argparse.Namespace) -> list[tuple[str, str, str]]:
    """The figures of every workload run, one (workload, figure, value) row each."""
    rows: list[tuple[str, str, str]] = []
    t = results.get("tables")
    if t:
        top, ff = t["max_held"], t["first_failed"]
        held_txt = fmt(top and top["rooms"]) + (f" (first failed {ff['rooms']})" if ff else
                                                " (never failed: raise --steps)")
        if top and top["gen_bound"] or ff and ff.get("gen_bound"):
            held_txt += ", generator-bound"
        rows.append(("tables", f"rooms of {a.k} held (p99 <= {a.p99_limit:g} ms, 0 lost)", held_txt))
        if ff:
            rows.append(("tables", "at the first failed step: p99 ms; CPU % server / generator",
                         f"{fmt(ff['p99_ms'])}; {fmt(ff['server_cpu_pct'])} / {fmt(ff['gen_cpu_pct'])}"))
        ref = next((s for s in t["steps"] if s["rooms"] == a.ref_rooms and s["held"]), None) or \
            next((s for s in t["steps"] if s["rooms"] == a.ref_rooms), None)
        if ref:
            rows.append(("tables", f"at {ref['rooms']} rooms: p50 / p99 ms",
                         f"{fmt(ref['p50_ms'])} / {fmt(ref['p99_ms'])}"))
            cpu = fmt(ref.get("server_cpu_us_per_delivery"))
            if "server_redis_cpu_us_per_delivery" in ref:
                cpu += f" ({fmt(ref['server_redis_cpu_us_per_delivery'])} with Redis)"
            rows.append(("tables", f"at {ref['rooms']} rooms: server CPU µs per delivery", cpu))
            rows.append(("tables", f"at {ref['rooms']} rooms: generator CPU µs per delivery; CPU %",
                         f"{fmt(ref.get('gen_cpu_us_per_delivery'))}; {fmt(ref['gen_cpu_pct'])}"))
        rows.append(("tables", "lost (never delivered, all steps)", fmt(t["never_delivered"])))
    p = results.get("plenary")
    if p:
        for r in p["rounds"]:
            rows.append(("plenary", f"{r['voters']} votes in {r['burst_s']:g} s: all counted, ms after the last vote",
                         fmt(r["complete_after_last_ms"])))
            rows.append(("plenary", f"{r['voters']} votes: tally lag p50 / p99 ms; server CPU %",
                         f"{fmt(r['tally_lag_p50_ms'])} / {fmt(r['tally_lag_p99_ms'])}; {fmt(r['server_cpu_pct'])}"))
            rows.append(("plenary", f"{r['voters']} votes: lost votes", fmt(r["lost_votes"])))
    i = results.get("idle")
    if i:
        lv = i["levels"]
        rows.append(("idle", "RSS per connection KB at " + " / ".join(str(x["target"]) for x in lv),
                     " / ".join(fmt(x["rss_per_conn_kb"]) for x in lv)))
        rows.append(("idle", "server RSS MB at " + " / ".join(str(x["target"]) for x in lv),
                     " / ".join(fmt(x["server_rss_mb"]) for x in lv)))
        cps = " / ".join(fmt(x["connects_per_s"]) for x in lv)
        if any(x["gen_bound"] for x in lv):
            cps += ", generator-bound"
        rows.append(("idle", "connects/s (hello answered) at " + " / ".join(str(x["target"]) for x in lv), cps))
        rows.append(("idle", "connect errors", fmt(sum(x["connect_errors"] for x in lv))))
    s = results.get("assembly")
    if s:
        rows.append(("assembly", f"{s['rooms']} tables x {a.k} at {s['rate_per_device']:g}/s a device: "
                                 "p50 / p99 / max ms",
                     f"{fmt(s['p50_ms'])} / {fmt(s['p99_ms'])} / {fmt(s['max_ms'])}"))
        rows.append(("assembly", "lost", fmt(s["lost"])))
    foreign = {"tables": [x["foreign_cpu_pct"] for x in (t or {}).get("steps", [])],
               "plenary": [x["foreign_cpu_pct"] for x in (p or {}).get("rounds", [])],
               "idle": [x["connect_foreign_cpu_pct"] for x in (i or {}).get("levels", [])],
               "assembly": [s["foreign_cpu_pct"]] if s else []}
    for w in ("tables", "plenary", "idle", "assembly"):
        r = results.get(w)
        if r:
            rows.append((w, "other processes' CPU %, median / max of the measured intervals",
                         f"{fmt(statistics.median(foreign[w]))} / {fmt(max(foreign[w]))}" if foreign[w] else "–"))
            c = r["checks"]
            closes = f" ({', '.join(f'{k}: {v}' for k, v in sorted(c['closes'].items()))})" if c["closes"] else ""
            rows.append((w, "seq gaps / err frames / closed by server / server ERROR lines",
                         f"{c['seq_gaps'] + c['seq_back']} / {c['err_frames']} / {c['closed_by_server']}{closes} / "
                         f"{r['server_error_lines']}"))
    return rows


def render(rows: list[tuple[str, str, str]]) -> str:
    w1 = max(len("workload"), *(len(r[0]) for r in rows))
    w2 = max(len("figure"), *(len(r[1]) for r in rows))
    w3 = max(len("value"), *(len(r[2]) for r in rows))
    out = [f"| {'workload':<{w1}} | {'figure':<{w2}} | {'value':<{w3}} |",
           f"|{'-' * (w1 + 2)}|{'-' * (w2 + 2)}|{'-' * (w3 + 2)}|"]
    out += [f"| {r[0]:<{w1}} | {r[1]:<{w2}} | {r[2]:<{w3}} |" for r in rows]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------
# Options

QUICK = {"steps": "2,3,4", "duration": 1.5, "grace": 2.0, "refine": 0, "time_budget": 20.0, "configs": "100x0.5",
         "counts": "50,150", "settle_idle": 1.0, "assembly_tables": 3, "assembly_duration": 3.0, "assembly_rate": 0.5,
         "ref_rooms": 3, "plenary_timeout": 5.0}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="load_tests/bench.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", choices=("sqlite", "redis"), default="sqlite",
                    help="the embedded store (a fresh SQLite file per workload) or Redis (default sqlite)")
    ap.add_argument("--processes", type=int, default=1,
                    help="server processes; more than 1 needs --store redis; devices are spread over them round-robin")
    ap.add_argument("--redis", metavar="URL",
                    help="use this Redis (never flushed: each workload adds assemblies to it) instead of starting "
                         "our own redis-server on a free port (appendonly yes, appendfsync everysec)")
    ap.add_argument("--workloads", default="tables,plenary,idle,assembly",
                    help="comma-separated, from tables, plenary, idle, assembly (default all four)")
    ap.add_argument("--quick", action="store_true",
                    help="a small bounded run (< 60 s) for smoke tests: tiny steps, 100 voters, 150 idle sockets")
    ap.add_argument("--json", metavar="FILE", help="write every raw result here")
    ap.add_argument("--seed", type=int, default=1, help="random seed of the Poisson process and the votes")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the servers and the generator to CPUs")
    ap.add_argument("--server-cpus", metavar="LIST",
                    help="CPUs for the server processes, round-robin, e.g. 0 or 0,1 (default: all but the generator's)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (stores, server logs)")
    ap.add_argument("--connect-concurrency", type=int, default=100, help="handshakes in flight (default 100)")
    ap.add_argument("--join-lanes", type=int, default=4,
                    help="keep-alive HTTP connections per server process for POST /api/join (default 4)")
    ap.add_argument("--settle", type=float, default=0.5, help="pause after connecting a batch, s (default 0.5)")
    g = ap.add_argument_group("tables")
    g.add_argument("--steps", default="32,48,72,108,162,243,364,546,820",
                   help="rooms per step (default the peers' suite: 32,48,72,108,162,243,364,546,820)")
    g.add_argument("--k", type=int, default=8, help="devices per table (default 8)")
    g.add_argument("--rate", type=float, default=2.0, help="note.add per second per device, Poisson (default 2)")
    g.add_argument("--msg-bytes", type=int, default=200,
                   help="size of the peers' message at the same load; the note text matches its body (default 200)")
    g.add_argument("--duration", type=float, default=4.0, help="send phase of a step, s (default 4)")
    g.add_argument("--grace", type=float, default=2.0,
                   help="wait after a step for stragglers; a delivery not seen by then is lost, s (default 2)")
    g.add_argument("--refine", type=int, default=2, help="bisections after the first failed step (default 2)")
    g.add_argument("--p99-limit", type=float, default=100.0,
                   help="a step holds with p99 at most this, ms (default 100)")
    g.add_argument("--ref-rooms", type=int, default=48,
                   help="the step whose p50/p99 and CPU per delivery are reported (default 48)")
    g.add_argument("--time-budget", type=float, default=90.0, help="no new step after this many s (default 90)")
    g.add_argument("--drain-quiet", type=float, default=2.5,
                   help="after a failed step the backlog is over once nothing arrived for this long, s (default 2.5)")
    g.add_argument("--drain-cap", type=float, default=15.0,
                   help="wait at most this long for the backlog, s (default 15)")
    g.add_argument("--noise-limit", type=float, default=15.0,
                   help="foreign CPU or steal %% above which a failed step is retried once (default 15)")
    g = ap.add_argument_group("plenary")
    g.add_argument("--configs", default="2000x0.5",
                   help="rounds as VOTERSxBURST_SECONDS, comma-separated (default 2000x0.5)")
    g.add_argument("--plenary-timeout", type=float, default=10.0,
                   help="wait this long after the last vote for all to be counted, s (default 10)")
    g = ap.add_argument_group("idle")
    g.add_argument("--counts", default="1000,5000,10000", help="open sockets at each level (default 1000,5000,10000)")
    g.add_argument("--settle-idle", type=float, default=2.0, help="pause before reading RSS, s (default 2)")
    g = ap.add_argument_group("assembly")
    g.add_argument("--assembly-tables", type=int, default=20, help="tables of a real hall (default 20)")
    g.add_argument("--assembly-rate", type=float, default=0.2,
                   help="notes per second per device: one every 5 s while a table brainstorms (default 0.2)")
    g.add_argument("--assembly-duration", type=float, default=15.0, help="how long, s (default 15)")
    return ap


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = parser()
    a = ap.parse_args(argv)
    if a.quick:
        given = {x.split("=", 1)[0].lstrip("-").replace("-", "_") for x in (argv or sys.argv[1:]) if x.startswith("--")}
        for k, v in QUICK.items():
            if k not in given:
                setattr(a, k, v)
    if a.processes < 1:
        ap.error("--processes must be at least 1")
    if a.processes > 1 and a.store != "redis":
        ap.error("--processes > 1 needs --store redis: the embedded store fans events out inside one process only")
    if a.redis and a.store != "redis":
        ap.error("--redis URL goes with --store redis")
    if a.redis:
        host = a.redis.split("//", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1].rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost"):
            ap.error("the bench loads 127.0.0.1 only: --redis must be a local Redis")
    a.workload_list = [w for w in a.workloads.split(",") if w]
    unknown = set(a.workload_list) - set(RUNNERS)
    if unknown or not a.workload_list:
        ap.error(f"unknown workloads {sorted(unknown)}; known: {', '.join(RUNNERS)}")
    a.step_list = sorted({int(x) for x in str(a.steps).split(",") if x})
    a.configs = [(int(n), float(b)) for n, b in (c.split("x") for c in str(a.configs).split(",") if c)]
    a.counts = sorted({int(x) for x in str(a.counts).split(",") if x})
    if a.store == "redis" and not a.redis and not shutil.which("redis-server"):
        ap.error("--store redis needs redis-server on PATH (or --redis URL)")
    return a


def raise_nofile() -> int:
    """10,000 sockets need 10,000 descriptors here and in the server: raise the soft limit to the
    hard one (the servers inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    # Ctrl-C and a plain `kill PID` both end the run through the `finally` below, which stops every
    # process the bench started (a background job would otherwise ignore SIGINT, and SIGTERM would
    # leave the servers running).
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    nofile = raise_nofile()
    need = max(a.counts) + 200 if "idle" in a.workload_list else 0
    if nofile < need:
        print(f"bench: RLIMIT_NOFILE is {nofile}; idle at {max(a.counts)} sockets needs more", file=sys.stderr)
        return 2
    pin = Pinning(a.processes, not a.no_pin, a.server_cpus)
    work = Path(tempfile.mkdtemp(prefix="samling-bench."))
    stack = Stack(a, pin, work)
    results: dict[str, Any] = {}
    header: list[str] = []
    rc = 0
    loop_name = None
    t0 = now()
    load0 = load_average()
    try:
        if a.store == "redis" and not a.redis:
            stack.start_redis()
        if pin.enabled and pin.gen is not None:
            os.sched_setaffinity(0, {pin.gen})      # after starting redis: only the generator moves
        header = [f"store: {a.store}" + (f" ({stack.redis_url}, started by the bench with appendonly yes, "
                                         "appendfsync everysec)" if stack.redis_proc else
                                         f" ({a.redis}, given)" if a.redis else " (a fresh SQLite file per workload)"),
                  f"server processes: {a.processes}; machine: {len(pin.cores)} CPUs; "
                  f"load average {load0:.2f} at the start", *pin.notes]
        for line in header:
            print(f"==> {line}", flush=True)

        async def go() -> None:
            for w in a.workload_list:
                results[w] = await run_workload(w, a, stack)

        try:
            import uvloop
            uvloop.run(go())
            loop_name = "uvloop"
        except ImportError:
            asyncio.run(go())
            loop_name = "asyncio"
    except KeyboardInterrupt:
        rc = 130
    except Exception as exc:  # reported; the processes are stopped below either way
        print(f"bench: {exc!r}", file=sys.stderr)
        rc = 1
    finally:
        stack.stop_all()
        if (a.keep or rc or stack.keep_logs) and rc != 130:
            print(f"bench: stores and server logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    load1 = load_average()
    rows = table_rows(results, a)
    print()
    for line in header:
        print(f"# {line}")
    print(f"# load average {load0:.2f} at the start, {load1:.2f} at the end; {now() - t0:.0f} s")
    if rows:
        print(render(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"argv": sys.argv[1:] if argv is None else argv, "header": header, "store": a.store,
                       "processes": a.processes, "load_average": [load0, load1], "results": results,
                       "rows": rows, "loop": loop_name}, f, indent=1, default=str)
    return rc


if __name__ == "__main__":
    sys.exit(main())
