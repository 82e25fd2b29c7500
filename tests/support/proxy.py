"""A TCP fault proxy that sits between simulated tablets and one server port.

Real networks in a hall lose frames, stall, throttle and leave half-open sockets behind a
sleeping tablet. The fault scenarios need those faults on demand and reproducibly, without
touching the server, so this proxy runs in the test's own event loop and forwards bytes
between 127.0.0.1 clients and the server, with these controls:

- `drop`: a fraction of the server's WebSocket *data* frames is dropped. The server's frames are
  unmasked, so the proxy can parse their headers and drop whole frames: the stream stays a valid
  WebSocket stream and the client sees exactly what a lost message looks like (a missing `ack`,
  a gap in `seq`). Control frames (ping, pong, close) always pass. Every dropped frame is decoded
  and kept per client port, so a test can tell an injected gap from a server bug.
- `throttle`: bytes per second and added latency, server to client (a slow projector link).
- `blackhole`: stop forwarding in both directions without closing: a half-open TCP connection.
- `cut`: abort every connection at once (a WiFi drop).
- `refuse`: new connections are accepted and aborted at once (a server that is unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Self

import msgpack

from .processes import free_port

CHUNK = 16 * 1024


@dataclass
class Throttle:
    """Server-to-client pacing: `rate` bytes/s (None: unlimited) and `latency` seconds added."""

    rate: float | None = None
    latency: float = 0.0


@dataclass
class Dropped:
    """A server frame the proxy dropped, as far as it could decode it."""

    at: float
    t: str | None
    room: str | None
    seq: int | None
    id: str | None


@dataclass
class _Link:
    """One proxied connection: the client's socket and ours to the server."""

    client_port: int
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    opened: float = field(default_factory=time.monotonic)

    def abort(self) -> None:
        for writer in (self.client, self.server):
            _abort(writer)
        for task in self.tasks:
            task.cancel()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close at once with RST rather than FIN: the peer sees the connection die, as on lost WiFi."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()


async def _close(writer: asyncio.StreamWriter, abort: bool = True) -> None:
    """Close (or abort) and wait until the transport is really gone (no ResourceWarning later)."""
    if abort:
        _abort(writer)
    else:
        writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


def _frame_summary(payload: bytes) -> tuple[str | None, str | None, int | None, str | None]:
    try:
        frame = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception:  # a frame we cannot read is still dropped; we just cannot say what it was
        return None, None, None, None
    if not isinstance(frame, dict):
        return None, None, None, None
    seq = frame.get("seq")
    return frame.get("t"), frame.get("room"), seq if isinstance(seq, int) else None, frame.get("id")


class FaultProxy:
    """Listen on a free loopback port and forward every connection to `target_port`."""

    def __init__(self, target_port: int, *, seed: int = 1, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self.random = random.Random(seed)
        self.drop_rate = 0.0
        self.drop_only: frozenset[str] | None = None  # drop only frames of these `t` (e.g. "ack")
        self.throttle = Throttle()
        self.refusing = False
        self.links: dict[int, _Link] = {}
        self.dropped: dict[int, list[Dropped]] = defaultdict(list)  # client port -> frames dropped
        self.frames = 0  # server data frames seen (forwarded or dropped)
        self.accepted = 0
        self.refused = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()  # Server.wait_closed (3.11) does not wait for them

    # -- life

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- controls

    def drop(self, fraction: float, only: set[str] | None = None) -> None:
        """Drop this fraction of the server's data frames from now on (0 stops dropping); with
        `only`, just of the frames whose `t` is in it (only={"ack", "err"}: lost answers)."""
        self.drop_rate = fraction
        self.drop_only = frozenset(only) if only is not None else None

    def throttled(self, rate: float | None = None, latency: float = 0.0) -> None:
        self.throttle = Throttle(rate, latency)

    def blackhole(self) -> None:
        """Stop forwarding both ways, keeping every connection open: a half-open socket."""
        self._flowing.clear()

    def restore(self) -> None:
        """Forward again, and stop dropping, throttling and refusing."""
        self.drop_rate = 0.0
        self.drop_only = None
        self.throttle = Throttle()
        self.refusing = False
        self._flowing.set()

    def cut(self) -> int:
        """Abort every open connection; returns how many there were."""
        links = list(self.links.values())
        for link in links:
            link.abort()
        self.links.clear()
        return len(links)

    def refuse(self, on: bool = True) -> None:
        self.refusing = on

    def dropped_seqs(self, client_port: int, room: str) -> set[int]:
        """The seqs of `room` whose `ev` frames were dropped on the connection from client_port."""
        return {d.seq for d in self.dropped.get(client_port, []) if d.t == "ev" and d.room == room
                and d.seq is not None}

    @property
    def dropped_total(self) -> int:
        return sum(len(v) for v in self.dropped.values())

    # -- forwarding

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        peer: Any = writer.get_extra_info("peername")
        if self.refusing:
            self.refused += 1
            await _close(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            self.refused += 1
            await _close(writer)
            return
        self.accepted += 1
        link = _Link(int(peer[1]), writer, up_writer)
        self.links[link.client_port] = link
        loop = asyncio.get_running_loop()
        link.tasks = [loop.create_task(self._upstream(reader, up_writer)),
                      loop.create_task(self._downstream(up_reader, writer, link.client_port))]
        try:
            await asyncio.gather(*link.tasks, return_exceptions=True)
        finally:
            if self.links.get(link.client_port) is link:
                del self.links[link.client_port]
            for w in (writer, up_writer):
                await _close(w, abort=False)

    async def _upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Client to server: bytes as they come, unless blackholed."""
        try:
            while True:
                await self._flowing.wait()
                data = await reader.read(CHUNK)
                await self._flowing.wait()
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.write_eof()

    async def _downstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        """Server to client: the HTTP head as is, then WebSocket frames one by one (after a 101)."""
        pipe = _Paced(writer, self)
        try:
            await self._forward(reader, pipe, port)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            with contextlib.suppress(ConnectionError, OSError):
                await pipe.close()  # the server ended the stream: what is queued still goes out, then EOF
        except (ConnectionError, OSError):
            pass
        finally:
            pipe.task.cancel()

    async def _forward(self, reader: asyncio.StreamReader, pipe: _Paced, port: int) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        await pipe.send(head)
        if not head.startswith(b"HTTP/1.1 101"):
            while data := await reader.read(CHUNK):
                await pipe.send(data)
        else:
            while True:
                frame, payload, data_frame = await _read_frame(reader)
                if data_frame:
                    self.frames += 1
                    if self.drop_rate and self.random.random() < self.drop_rate:
                        t, room, seq, cmd_id = _frame_summary(payload)
                        if self.drop_only is None or t in self.drop_only:
                            self.dropped[port].append(Dropped(time.monotonic(), t, room, seq, cmd_id))
                            continue
                await pipe.send(frame)
        await pipe.close()


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes, bool]:
    """One whole WebSocket frame from the server: (its bytes, its payload, whether it is a complete
    text or binary message). Server frames are unmasked, but a mask is honoured if present."""
    head = await reader.readexactly(2)
    fin, opcode = head[0] & 0x80, head[0] & 0x0F
    masked, length = head[1] & 0x80, head[1] & 0x7F
    ext = b""
    if length == 126:
        ext = await reader.readexactly(2)
        length = int.from_bytes(ext, "big")
    elif length == 127:
        ext = await reader.readexactly(8)
        length = int.from_bytes(ext, "big")
    mask = await reader.readexactly(4) if masked else b""
    raw = await reader.readexactly(length)
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(raw)) if mask else raw
    return head + ext + mask + raw, payload, bool(fin) and opcode in (1, 2)


class _Paced:
    """The server-to-client writer, through the proxy's throttle and blackhole.

    With a throttle, chunks wait in a small bounded queue for their release time (arrival +
    latency) and leave at the configured rate; the bound makes the server feel the slow link as
    TCP backpressure, as it would from a real one.
    """

    def __init__(self, writer: asyncio.StreamWriter, proxy: FaultProxy) -> None:
        self.writer, self.proxy = writer, proxy
        self.queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(maxsize=64)
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def send(self, data: bytes) -> None:
        await self.proxy._flowing.wait()
        if self.task.done():
            raise ConnectionError("client gone")
        await self.queue.put((time.monotonic(), data))

    async def close(self) -> None:
        """Send what is queued, then EOF (the server closed its side first)."""
        if not self.task.done():
            await self.queue.put(None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.task), 5)
        with contextlib.suppress(Exception):
            self.writer.write_eof()

    async def _run(self) -> None:
        try:
            while (item := await self.queue.get()) is not None:
                arrived, data = item
                throttle = self.proxy.throttle
                if throttle.latency:
                    delay = arrived + throttle.latency - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                step = CHUNK // 4 if throttle.rate else max(len(data), 1)
                for start in range(0, len(data), step):
                    piece = data[start:start + step]
                    await self.proxy._flowing.wait()
                    self.writer.write(piece)
                    await self.writer.drain()
                    if throttle.rate:
                        await asyncio.sleep(len(piece) / throttle.rate)
        except (ConnectionError, OSError):
            pass
