"""The `/ws` endpoint: PROTOCOL.md over one WebSocket, one MessagePack map per binary frame.

Every frame from a device is untrusted. Its transport-level faults close the socket (a text
frame or a non-map: 1003; too big: 1009). Everything else is answered with an `err` and the
socket goes on: a bad command never costs a device its connection, and never touches the room.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from rooms import Code, Refused
from rooms.actors import Role
from rooms.room import kind_of

from .codec import BadFrame, pack, pack_map, unpack_frame
from .connection import (
    CLOSE_AUTH,
    CLOSE_BAD_FRAME,
    CLOSE_NO_HELLO,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    WRITE_EXTENSION,
    Outbox,
    RateLimit,
)
from .hub import Hub, LiveRoom, err
from .limits import REFUSALS, AddressLimits, client_address, denied, quiet_denials
from .settings import Settings
from .tokens import Claims, Tokens, device_label

log = logging.getLogger("samling.socket")

#: Refusals logged (the first AUDIT_PER_SOCKET of each socket): someone may be probing the hall.
AUDITED = {Code.NOT_AUTHENTICATED, Code.FORBIDDEN, Code.RATE_LIMITED}
AUDIT_PER_SOCKET = 5
CLOSE_TRY_LATER = 1013


def origin_allowed(ws: WebSocket, settings: Settings) -> bool:
    """A browser's socket must come from our own pages (or a configured origin); other clients
    send no Origin and are judged by their token alone.

    Our own pages are the origin of SAMLING_PUBLIC_URL, or the Host this socket was opened on
    with the matching scheme (an https page for wss, http for ws): a page on another port,
    another scheme or a look-alike host is refused, and so is `null` (a sandboxed or file page).
    """
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    if origin in settings.allowed_origins or "*" in settings.allowed_origins:
        return True
    try:
        page = urlsplit(origin)
    except ValueError:  # e.g. "http://[::1": not an origin at all
        return False
    if settings.public_url:
        public = urlsplit(settings.base_url)
        if (page.scheme, page.netloc) == (public.scheme, public.netloc):
            return True
    scheme = "https" if ws.scope.get("scheme") == "wss" else "http"
    host = ws.headers.get("host", "")
    return bool(host) and page.scheme == scheme and page.netloc == host


class Session:
    """One device on one socket, from hello to close."""

    def __init__(self, ws: WebSocket, hub: Hub, tokens: Tokens, settings: Settings,
                 addresses: AddressLimits | None = None, address: str = "?") -> None:
        self.ws, self.hub, self.tokens, self.settings = ws, hub, tokens, settings
        self.addresses, self.address = addresses, address
        self.audited = 0  # refusals of authority logged for this socket (see `_audit`)
        fast = ws.scope.get("extensions", {}).get(WRITE_EXTENSION)
        self.outbox = Outbox(self._send, self._close, settings.send_queue,
                             fast.get("write") if isinstance(fast, dict) else None, hub.corks)
        self.limit = RateLimit(settings.rate, settings.burst)
        self.claims: Claims | None = None
        self.rooms: dict[str, LiveRoom] = {}

    async def _send(self, frame: bytes) -> None:
        await self.ws.send_bytes(frame)

    async def _close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)

    def reply(self, frame: dict[str, Any]) -> None:
        if frame.get("t") == "err" and frame.get("code") in AUDITED:
            self._audit(frame)
        self.outbox.deliver(pack(frame))

    def _audit(self, frame: dict[str, Any]) -> None:
        """Log a refusal of authority (a bad token, a forbidden command, a flood), so an operator
        can see who probes the hall and revoke that device. Only the first few of each socket:
        a hostile client must not be able to fill the disk through the log."""
        self.audited += 1
        if self.audited > AUDIT_PER_SOCKET:
            return
        claims = self.claims
        who = "a socket without hello" if claims is None else \
            f"{claims.role} {claims.device} (assembly {claims.assembly}, table {claims.table})"
        more = "; further refusals on this socket are not logged" if self.audited == AUDIT_PER_SOCKET else ""
        log.warning("refused %s for %s from %s: %s%s", frame.get("code"), who, self.address,
                    str(frame.get("msg"))[:200], more)

    async def run(self) -> None:
        try:
            await self._read()
        except WebSocketDisconnect:
            pass
        finally:
            for room in self.rooms.values():
                room.subscribers.discard(self.outbox)
                room.front.discard(self.outbox)
            if self.claims is not None:
                self.hub.disconnected(self.claims.assembly, self.claims.actor, self.outbox)
            await self.outbox.finish()  # let a close frame and its reason go out

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.hello_timeout
        while self.outbox.closing is None:
            if self.claims is None:
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await self.ws.receive()
                except TimeoutError:
                    self.outbox.close_soon(CLOSE_NO_HELLO, "no hello in time")
                    return
            else:
                message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                self.outbox.close_soon(CLOSE_BAD_FRAME, "binary MessagePack frames only")
                return
            data: bytes = message.get("bytes") or b""
            if len(data) > self.settings.max_frame:
                self.outbox.close_soon(CLOSE_TOO_BIG, f"frames are at most {self.settings.max_frame} bytes")
                return
            try:
                frame = unpack_frame(data)
            except BadFrame as exc:
                self.outbox.close_soon(CLOSE_BAD_FRAME, str(exc))
                return
            await self.handle(frame)

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("t")
        if kind == "hello":
            if self.claims is not None:
                self.reply(err(None, Code.BAD_FRAME, "hello was already said"))
            else:
                await self.hello(frame)
        elif kind == "cmd":
            await self.command(frame)
        elif kind == "ping":
            self.reply({"t": "pong", "now": self.hub.now()})
        else:
            self.reply(err(frame.get("id") if isinstance(frame.get("id"), str) else None, Code.BAD_FRAME,
                           "t must be hello, cmd or ping"))

    async def hello(self, frame: dict[str, Any]) -> None:
        claims = self.tokens.read(frame.get("token"))
        record = None if claims is None else await self.hub.assembly(claims.assembly)
        if claims is None or record is None:
            self.reply(err(None, Code.NOT_AUTHENTICATED, "this token is not valid here"))
            self.outbox.close_soon(CLOSE_AUTH, "not authenticated")
            return
        if await self.hub.is_revoked(claims.assembly, claims.device):
            self.reply(err(None, Code.NOT_AUTHENTICATED, "this device was removed by the facilitator"))
            self.outbox.close_soon(CLOSE_AUTH, "revoked")
            return
        actor = claims.actor
        names = await self.hub.rooms_of(actor, claims.assembly)
        rooms = [await self.hub.live(claims.assembly, name) for name in names]
        votes = await self.hub.my_ballots(claims.assembly, actor.device) if actor.seated else {}
        since = frame.get("since") if isinstance(frame.get("since"), dict) else {}
        epochs = frame.get("epochs") if isinstance(frame.get("epochs"), dict) else {}
        assert isinstance(since, dict) and isinstance(epochs, dict)
        # From here to subscribing, no await: the welcome and the live events meet at one seq.
        you = {"device": actor.device, "role": str(actor.role), "table": actor.table, "assembly": claims.assembly,
               "label": device_label(actor.device)}
        parts = [(room.name, self.hub.resume_packed(room, actor, since.get(room.name), epochs.get(room.name)))
                 for room in rooms]
        self.outbox.deliver(pack_map([("t", pack("welcome")), ("now", pack(self.hub.now())), ("votes", pack(votes)),
                                      ("you", pack(you)), ("rooms", pack_map(parts))]))
        for room in rooms:
            room.subscribers.add(self.outbox)
            if actor.role in (Role.DISPLAY, Role.FACILITATOR):
                room.front.add(self.outbox)
            self.rooms[room.name] = room
        self.claims = claims
        self.hub.connected(claims.assembly, actor, self.outbox)

    async def command(self, frame: dict[str, Any]) -> None:
        cmd_id = frame.get("id")
        if not isinstance(cmd_id, str) or not 1 <= len(cmd_id) <= 64:
            self.reply(err(None, Code.BAD_FRAME, "id must be a string of 1-64 characters"))
            return
        if self.claims is None:
            self.reply(err(cmd_id, Code.NOT_AUTHENTICATED, "say hello first"))
            return
        if not self.limit.allow() or (self.addresses is not None and not self.addresses.command(self.address)):
            self.reply(err(cmd_id, Code.RATE_LIMITED, "too many commands: slow down"))
            return
        room = frame.get("room")
        if not isinstance(room, str) or room not in self.rooms:
            try:
                kind_of(room if isinstance(room, str) else "")
            except Refused as refusal:
                self.reply(err(cmd_id, refusal.code, refusal.msg))
                return
            self.reply(err(cmd_id, Code.FORBIDDEN, f"you are not in room {room!r}"))
            return
        if self.claims.role is Role.DISPLAY:
            self.reply(err(cmd_id, Code.FORBIDDEN, "a display only watches"))
            return
        if self.hub.revoked_here(self.claims.assembly, self.claims.device):
            self.reply(err(cmd_id, Code.NOT_AUTHENTICATED, "this device was removed by the facilitator"))
            self.outbox.close_soon(CLOSE_AUTH, "revoked")
            return
        try:
            answer = await self.hub.execute(self.claims.actor, self.claims.assembly, room, frame.get("op"),
                                            frame.get("args", {}), cmd_id)
        except Exception:
            log.exception("command %s in %s failed", frame.get("op"), room)
            answer = err(cmd_id, Code.SERVER_BUSY, "the server could not store this: send it again")
        self.reply(answer)


#: Where devices open their socket.
PATH = "/ws"


class SocketRoute:
    """Middleware that takes `/ws` straight to `endpoint`, past Starlette's router and its
    exception wrappers (the HTTP pages still go through them). Each layer keeps a coroutine alive
    for the socket's whole life: without them an idle hall of thousands of sockets is lighter by
    about 2 KB a socket, and a hall reconnecting at once gets through faster (docs/performance.md)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == PATH:
            await endpoint(WebSocket(scope, receive, send))
        else:
            await self.app(scope, receive, send)


async def endpoint(ws: WebSocket) -> None:
    samling = ws.app.state.samling
    if not origin_allowed(ws, samling.settings):
        await ws.close(CLOSE_POLICY, "origin not allowed")
        return
    address = client_address(ws.scope)
    refused = samling.addresses.admit(address)
    if refused is not None:
        await refuse_handshake(ws, refused)
        return
    try:
        await ws.accept()
        await Session(ws, samling.hub, samling.tokens, samling.settings, samling.addresses, address).run()
    finally:
        samling.addresses.release(address)


async def refuse_handshake(ws: WebSocket, reason: str) -> None:
    """Refuse a socket before accepting it, with an HTTP answer a script can read (429 or 503,
    `Retry-After`, a JSON error body) when the server supports the ASGI denial-response
    extension (uvicorn does); else close before accept, which the client sees as HTTP 403."""
    status, code, msg = REFUSALS[reason]
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        quiet_denials()
        denied.set(True)
        await ws.send_denial_response(JSONResponse({"error": code, "msg": msg}, status_code=status,
                                                   headers={"Retry-After": "1"}))
    else:
        await ws.close(CLOSE_TRY_LATER, msg)
