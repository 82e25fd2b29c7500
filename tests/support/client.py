"""A test client that speaks the live protocol (PROTOCOL.md) over a real WebSocket.

It plays one device: it joins over HTTP, says hello, keeps every frame the server sends, and lets a
test wait for the frame it cares about without caring how other frames interleave with it (an `ack`
and the `ev` it caused may arrive in either order, and other devices' events arrive in between).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import httpx
import msgpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any]
Pred = Callable[[Frame], bool]


async def join_response(base_url: str, code: str, name: str | None = None, *, timeout: float = 5.0
                        ) -> httpx.Response:
    """POST /api/join and return the raw response, for tests about refusals (404, 429)."""
    body: dict[str, str] = {"code": code}
    if name is not None:
        body["name"] = name
    async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=timeout) as http:
        return await http.post("/api/join", json=body)


async def join(base_url: str, code: str, name: str | None = None, *, expect: int = 200,
               timeout: float = 5.0) -> dict[str, Any]:
    """Join a table with its code and return the JSON answer ({token, assembly, room, role}).

    Raises AssertionError unless the status is `expect`; pass expect=404 to get the error body.
    """
    resp = await join_response(base_url, code, name, timeout=timeout)
    if resp.status_code != expect:
        raise AssertionError(f"POST /api/join {code!r}: expected {expect}, got {resp.status_code}: {resp.text}")
    answer: dict[str, Any] = resp.json()
    return answer


async def healthz(base_url: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """GET /healthz's JSON: the process's counters (gaps repaired, epochs, tasks, ...)."""
    async with httpx.AsyncClient(trust_env=False, timeout=timeout) as http:
        answer: dict[str, Any] = (await http.get(f"{base_url}/healthz")).json()
        return answer


@dataclass(frozen=True)
class CloseInfo:
    """How the socket ended: the close code and reason (1006 and "" when it just dropped)."""

    code: int | None
    reason: str


class DeviceClosed(ConnectionError):
    """The socket closed while a test was still waiting for a frame that never came."""


def _short(frame: object, limit: int = 300) -> str:
    text = repr(frame)
    return text if len(text) <= limit else text[:limit] + "..."


class Mailbox:
    """Frames not yet taken by the test, like an asyncio.Queue but with selective receive:
    `take(pred)` removes the first matching frame and leaves the others for later waits."""

    def __init__(self) -> None:
        self._items: list[Frame] = []
        self._changed = asyncio.Event()
        self.closed = False

    def put(self, frame: Frame) -> None:
        self._items.append(frame)
        self._changed.set()

    def close(self) -> None:
        self.closed = True
        self._changed.set()

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def drain(self) -> list[Frame]:
        """Take everything waiting, e.g. to assert that nothing unexpected arrived."""
        items, self._items = self._items, []
        return items

    async def get(self, timeout: float = 5.0) -> Frame:
        return await self.take(lambda _: True, timeout)

    async def take(self, pred: Pred, timeout: float = 5.0) -> Frame:
        """The first frame matching pred, waiting up to timeout seconds for one to arrive."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for i, frame in enumerate(self._items):
                        if pred(frame):
                            return self._items.pop(i)
                    if self.closed:
                        raise DeviceClosed(f"socket closed; waiting frames: {self._describe()}")
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"no matching frame within {timeout}s; waiting frames: {self._describe()}") from None

    def _describe(self) -> str:
        if not self._items:
            return "(none)"
        return "\n  " + "\n  ".join(_short(f) for f in self._items[-20:])


def _decode(message: bytes | str) -> Frame:
    """One server frame as a dict; anything the protocol forbids becomes a '!'-typed marker frame
    so a test sees the violation instead of the reader dying silently."""
    if isinstance(message, str):
        return {"t": "!text", "raw": message}
    try:
        # strict_map_key=False: maps keyed by integers (tallies per option index) are legal msgpack.
        obj = msgpack.unpackb(message, raw=False, strict_map_key=False)
    except Exception as e:  # any decode failure is a protocol violation to report
        return {"t": "!undecodable", "raw": message, "error": repr(e)}
    return obj if isinstance(obj, dict) else {"t": "!not_a_map", "raw": obj}


class Device:
    """One connected device (tablet, dashboard or display) holding one token."""

    # Command ids continue per token across Device instances: a reconnected device that restarted
    # at "c1" would collide with its earlier commands and get their old acks (exactly-once).
    _id_counters: ClassVar[dict[str, itertools.count[int]]] = {}
    # Devices not yet closed: a socket a test forgot to close would otherwise be garbage-collected
    # during some later test, and its ResourceWarning (an error under our filterwarnings) would fail that one.
    _open: ClassVar[set[Device]] = set()

    def __init__(self, ws: ClientConnection, token: str) -> None:
        self.ws = ws
        self.token = token
        self.welcome: Frame | None = None
        self.frames: list[Frame] = []
        self.inbox = Mailbox()
        self.closed: CloseInfo | None = None
        self._reader = asyncio.create_task(self._read(), name=f"device-reader-{id(self)}")
        self._loop = asyncio.get_running_loop()
        Device._open.add(self)

    @classmethod
    async def connect(
        cls,
        ws_url: str,
        token: str,
        since: Mapping[str, int] | None = None,
        *,
        epochs: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        require_welcome: bool = True,
        **connect_kwargs: Any,
    ) -> Self:
        """Open the socket, send hello and wait for the first frame, kept as `.welcome`.

        With require_welcome=False a refusal (an `err` frame, or a close with no frame at all) is
        returned for the test to inspect instead of raised: `.welcome` is then the err frame or None.
        """
        ws = await connect(ws_url, compression=None, max_size=None, proxy=None, open_timeout=timeout,
                           **connect_kwargs)
        dev = cls(ws, token)
        hello: Frame = {"t": "hello", "token": token}
        if since is not None:
            hello["since"] = dict(since)
        if epochs is not None:
            hello["epochs"] = dict(epochs)
        try:
            await dev.send(hello)
            dev.welcome = await dev.inbox.get(timeout)
        except (DeviceClosed, ConnectionClosed):
            if require_welcome:
                await dev.close()
                raise DeviceClosed(f"closed before welcome: {dev.closed}") from None
            await dev.wait_closed(timeout)
            return dev
        except BaseException:
            await dev.close()
            raise
        if require_welcome and dev.welcome.get("t") != "welcome":
            await dev.close()
            raise AssertionError(f"expected welcome, got {_short(dev.welcome)}; close: {dev.closed}")
        return dev

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # What the welcome said about this device.

    @property
    def you(self) -> dict[str, Any]:
        assert self.welcome is not None and self.welcome.get("t") == "welcome", self.welcome
        you: dict[str, Any] = self.welcome["you"]
        return you

    @property
    def room(self) -> str:
        """This device's own table room, "table:<id>"; facilitators and displays have none."""
        table = self.you.get("table")
        if table is None:
            raise ValueError(f"a {self.you.get('role')} device has no table room: pass room= explicitly")
        return f"table:{table}"

    # Sending.

    async def send(self, frame: Mapping[str, Any]) -> None:
        """Send one frame as a binary MessagePack map."""
        await self.ws.send(msgpack.packb(dict(frame), use_bin_type=True))

    async def send_raw(self, data: bytes | str) -> None:
        """Send exactly these bytes (binary frame) or this text (text frame): for malformed-input tests."""
        await self.ws.send(data)

    def new_id(self) -> str:
        counter = self._id_counters.setdefault(self.token, itertools.count(1))
        return f"c{next(counter)}"

    async def cmd(self, op: str, args: Mapping[str, Any] | None = None, room: str | None = None,
                  id: str | None = None, timeout: float = 5.0) -> Frame:
        """Send a command and return its answer: the `ack` or `err` frame with the same id."""
        cmd_id = id if id is not None else self.new_id()
        await self.send({"t": "cmd", "id": cmd_id, "room": room if room is not None else self.room,
                         "op": op, "args": dict(args or {})})
        return await self.next(lambda f: f.get("t") in ("ack", "err") and f.get("id") == cmd_id, timeout)

    async def ok(self, op: str, args: Mapping[str, Any] | None = None, room: str | None = None,
                 id: str | None = None, timeout: float = 5.0) -> Frame:
        """Like cmd, but the command must be acked."""
        answer = await self.cmd(op, args, room, id, timeout)
        if answer.get("t") != "ack":
            raise AssertionError(f"{op} {dict(args or {})} was refused: {answer}")
        return answer

    # Receiving.

    async def next(self, pred: Pred | None = None, timeout: float = 5.0) -> Frame:
        """Take the next frame matching pred (any frame when None); frames that don't match stay
        waiting for later calls. Raises TimeoutError listing what is waiting, DeviceClosed if closed."""
        return await self.inbox.take(pred or (lambda _: True), timeout)

    async def next_ev(self, op: str | None = None, room: str | None = None, timeout: float = 5.0) -> Frame:
        """The next `ev` frame, optionally of one op and/or room."""
        return await self.next(
            lambda f: f.get("t") == "ev" and op in (None, f.get("op")) and room in (None, f.get("room")),
            timeout,
        )

    def events(self, room: str) -> list[Frame]:
        """Every `ev` frame received for room so far, taken or not, in arrival order."""
        return [f for f in self.frames if f.get("t") == "ev" and f.get("room") == room]

    def epochs(self) -> dict[str, str]:
        """Each room's epoch as the welcome gave it: send it back with `since`."""
        assert self.welcome is not None
        return {room: part["epoch"] for room, part in self.welcome.get("rooms", {}).items() if "epoch" in part}

    def since(self) -> dict[str, int]:
        """The last seq seen per room (welcome and events): what a reconnecting client sends in hello."""
        seen: dict[str, int] = {}
        if self.welcome is not None and self.welcome.get("t") == "welcome":
            for room, view in self.welcome.get("rooms", {}).items():
                if isinstance(view, Mapping) and isinstance(view.get("seq"), int):
                    seen[room] = view["seq"]
        for f in self.frames:
            if f.get("t") == "ev" and isinstance(f.get("seq"), int):
                seen[f["room"]] = max(seen.get(f["room"], 0), f["seq"])
        return seen

    @property
    def violations(self) -> list[Frame]:
        """Frames the protocol forbids (text, undecodable, not a map); a test should expect none."""
        return [f for f in self.frames if str(f.get("t", "")).startswith("!")]

    # Closing.

    async def wait_closed(self, timeout: float = 5.0) -> CloseInfo:
        """Wait for the server to close the socket and say how."""
        async with asyncio.timeout(timeout):
            await asyncio.shield(self._reader)
        assert self.closed is not None
        return self.closed

    @classmethod
    async def close_all(cls) -> None:
        """Close every device still open on the running loop; the conftest calls this after each test."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(dev.close() for dev in list(cls._open) if dev._loop is loop))

    async def close(self) -> None:
        """Close from our side (code 1000) and stop the reader."""
        Device._open.discard(self)
        await self.ws.close()
        try:
            async with asyncio.timeout(5):
                await self._reader
        except TimeoutError:
            self._reader.cancel()

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                frame = _decode(message)
                self.frames.append(frame)
                self.inbox.put(frame)
        except ConnectionClosed:
            pass
        finally:
            self.closed = CloseInfo(self.ws.close_code, self.ws.close_reason or "")
            self.inbox.close()
