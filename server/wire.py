"""uvicorn's sans-I/O WebSocket protocol, plus one thing: a socket's frames written at once.

ASGI sends one message per `await send(...)`: in a busy hall that is a coroutine chain (Starlette's
wrappers, uvicorn's `send`) and a `transport.write` system call per frame per device, woken from a
writer task per device. Those were most of the server's CPU per delivered note (docs/performance.md).

This protocol advertises an ASGI extension, `samling.write`, whose `write(frames)` frames every
given message and writes them with one `transport.write`, synchronously, when the socket can take
them now (open, not closing, its buffer not over the high-water mark), and returns False otherwise,
leaving the frames to the ordinary, awaited ASGI `send`. It changes nothing else: the handshake,
reads, pings, close and flow control are uvicorn's.

Every device at a table gets the same bytes for a note, so the frame header is all that is built
per socket: a server's frames are not masked, and with no extension negotiated (compression is
off) a binary frame is its header and the payload as is. Building it here rather than through
websockets' `Frame.serialize` (pure Python, per frame per socket) is what RFC 6455 section 5.2
says and nothing more; while the connection is not plainly open, websockets frames as before.

Under another server the extension is absent
and `server/connection.py` sends through ASGI as before.

Run it with `uvicorn --ws server.wire:SamlingWebSocketProtocol` (the Procfile does; `samling serve`
passes the class).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request
from websockets.protocol import OPEN

from .connection import WRITE_EXTENSION

#: uvicorn's error log from WARNING up, for the accept (see `SamlingWebSocketProtocol.send`).
ACCEPTS = logging.getLogger("uvicorn.error.accepts")
ACCEPTS.setLevel(logging.WARNING)


class Inbox:
    """The part of `asyncio.Queue` uvicorn's protocol uses for the frames it has read
    (`put_nowait`, `get`, `empty`), for its one reader, the app's `receive`: a list and at most
    one waiting future instead of a queue's three deques and an event, about 1.5 KB a socket,
    which an idle hall of thousands of sockets notices (docs/performance.md)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class SamlingWebSocketProtocol(WebSocketsSansIOProtocol):
    """See the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake itself was refused
        if scope is not None:  # the app's task is created but has not run yet: it sees this
            scope["extensions"][WRITE_EXTENSION] = {"write": self.write_frames}

    async def send(self, message: Any) -> None:
        if message.get("type") != "websocket.accept":
            await super().send(message)
            return
        # The accept's INFO line ("WebSocket /ws" [accepted]) is dropped anyway (server/logs.py):
        # a logger that stops at WARNING never even builds it, which a hall reconnecting at once
        # notices. Refusals (403) and errors are still logged as uvicorn logs them.
        loud = self.logger
        if os.environ.get("SAMLING_LOG_SOCKETS") != "1":
            self.logger = ACCEPTS
        try:
            await super().send(message)
        finally:
            self.logger = loud
        if self.handshake_complete:
            # uvicorn keeps the upgrade request and the answer (headers and all) for the
            # socket's life; nothing reads them after the accept. An idle hall of thousands of
            # sockets is lighter by about a kilobyte each without them.
            self.request = self.response = None  # type: ignore[assignment]

    def write_frames(self, frames: Iterable[bytes]) -> bool:
        """Frame and write binary messages now, in one system call; False (nothing written) when
        the socket cannot take them now and they must go through the awaited ASGI send."""
        if (not self.handshake_complete or self.close_sent or self.disconnected
                or self.initial_response is not None or not self.writable.is_set()
                or self.transport.is_closing()):
            return False
        conn = self.conn
        if conn.state is OPEN and not conn.extensions and not conn.expect_continuation_frame:
            parts = conn.data_to_send()  # anything the protocol queued goes first (normally nothing)
            for frame in frames:
                parts.append(frame_header(len(frame)))
                parts.append(frame)
        else:
            try:
                for frame in frames:
                    conn.send_binary(frame)
            except InvalidState:  # the peer's close arrived: let the ASGI path report it
                return False
            parts = conn.data_to_send()
        self.transport.write(b"".join(parts))
        return True


def frame_header(size: int) -> bytes:
    """The header of an unmasked, final, binary WebSocket frame with a payload of `size` bytes
    (RFC 6455 section 5.2: FIN and opcode 2, then the length in 7, 7+16 or 7+64 bits)."""
    if size < 126:
        return bytes((0x82, size))
    if size < 1 << 16:
        return b"\x82\x7e" + size.to_bytes(2, "big")
    return b"\x82\x7f" + size.to_bytes(8, "big")
