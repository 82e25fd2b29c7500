"""Limits a hostile or broken device meets: slow readers, floods, foreign pages, silent sockets."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import msgpack
import websockets
from support.client import Device, join
from support.processes import create_assembly


async def test_a_device_that_stops_reading_is_closed_and_the_room_goes_on(servers: Any, tmp_db: Any) -> None:
    """A display that never reads is closed with 4001 once its queue is full, while a reading
    display keeps receiving every event promptly."""
    asm = create_assembly("Langsom", 1, db=str(tmp_db))
    server = servers.start(db=tmp_db, env={"SAMLING_SEND_QUEUE": "20", "SAMLING_RATE": "2000",
                                           "SAMLING_BURST": "2000"})
    fac = await Device.connect(server.ws_url, asm["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a", "prompt": "?"}, room="hall")
    writer = await Device.connect(server.ws_url, (await join(server.url, asm["tables"][0]["code"]))["token"])
    for i in range(100):
        await writer.ok("note.add", {"note": f"n{i}", "text": f"{i} " + "x" * 270})
    reader = await Device.connect(server.ws_url, asm["display_token"])

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    stalled = await websockets.connect(server.ws_url, sock=sock, compression=None, max_size=None)
    await stalled.send(msgpack.packb({"t": "hello", "token": asm["display_token"]}))
    stalled.transport.pause_reading()  # stop reading: the kernel buffers fill, then the outbox

    last = None
    for i in range(300):
        last = await fac.ok("spotlight", {"table": "1" if i % 2 == 0 else None}, room="hall")
    got = await reader.next(lambda f: f.get("seq") == last["seq"], timeout=10)
    assert got["op"] == "spotlight"
    stalled.transport.resume_reading()
    try:
        async with asyncio.timeout(10):
            while True:
                await stalled.recv()
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4001
    finally:
        await stalled.close()


async def test_a_flood_of_commands_is_rate_limited(servers: Any, tmp_db: Any) -> None:
    """Past its burst, a connection's commands are refused with rate_limited; the socket stays."""
    asm = create_assembly("Flod", 1, db=str(tmp_db))
    server = servers.start(db=tmp_db, env={"SAMLING_RATE": "1", "SAMLING_BURST": "10"})
    fac = await Device.connect(server.ws_url, asm["facilitator_token"])
    answers = await asyncio.gather(*(fac.cmd("timer.stop", {}, room="hall") for _ in range(30)))
    codes = [a.get("code") for a in answers]
    assert codes.count(None) == 10 and codes.count("rate_limited") == 20
    await asyncio.sleep(1.1)
    assert (await fac.cmd("timer.stop", {}, room="hall"))["t"] == "ack"


async def test_a_foreign_origin_is_refused(servers: Any, tmp_db: Any) -> None:
    """A page from another site cannot open a socket; our own origin, and clients without one, can."""
    asm = create_assembly("Oprindelse", 1, db=str(tmp_db))
    server = servers.start(db=tmp_db)
    try:
        await websockets.connect(server.ws_url, origin="http://evil.example", compression=None)
        raise AssertionError("a foreign origin was let in")
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 403
    own = f"http://127.0.0.1:{server.port}"
    async with websockets.connect(server.ws_url, origin=own, compression=None) as ws:
        await ws.send(msgpack.packb({"t": "hello", "token": asm["display_token"]}))
        assert msgpack.unpackb(await ws.recv())["t"] == "welcome"


async def test_a_socket_that_never_says_hello_is_closed(servers: Any, tmp_db: Any) -> None:
    """A socket that does not authenticate is closed within the hello timeout (4002)."""
    server = servers.start(db=tmp_db, env={"SAMLING_HELLO_TIMEOUT": "1"})
    async with websockets.connect(server.ws_url, compression=None) as ws:
        try:
            async with asyncio.timeout(5):
                await ws.recv()
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4002
