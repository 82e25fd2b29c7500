"""Scenario 18, sizes and floods: frames at and over the 16 KiB cap; 1,000 commands a second from
one device; 100 connects a second from one address; 1,000 sockets that never say hello; the caps
on sockets per address and in all. The limits hold, and the other devices do not notice.

And the client address behind them: a forged X-Forwarded-For dodges nothing, while behind a
trusted proxy (SAMLING_TRUSTED_PROXIES) the forwarded address is the one that is counted.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
import msgpack
import pytest
import websockets
from support.client import Device, join, join_response

Hall = Any  # tests/hostile/conftest.py
CAP = 16 * 1024


def padded_ping(size: int) -> bytes:
    """A ping frame of exactly `size` bytes (the padding is a field the server ignores)."""
    pad = size - len(msgpack.packb({"t": "ping", "pad": ""}))
    for guess in range(pad, pad - 8, -1):  # the string's header grows with its length
        frame = msgpack.packb({"t": "ping", "pad": "x" * guess})
        if len(frame) == size:
            return frame
    raise AssertionError(f"cannot pad a ping to {size} bytes")


async def handshake(url: str, forwarded: str | None = None, **kwargs: Any) -> websockets.ClientConnection | int:
    """An open socket, or the HTTP status that refused it."""
    headers = {"X-Forwarded-For": forwarded, "Forwarded": f"for={forwarded}", "X-Real-IP": forwarded} \
        if forwarded else {}
    try:
        return await websockets.connect(url, compression=None, proxy=None, open_timeout=30, max_size=None,
                                        additional_headers=headers, **kwargs)
    except websockets.InvalidStatus as refusal:
        return refusal.response.status_code


async def healthz(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        answer: dict[str, Any] = (await http.get(f"{url}/healthz")).json()
        return answer


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait until `check()` (a coroutine function) is true."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.1)


# -- sizes ---------------------------------------------------------------------------------------


async def test_a_frame_of_exactly_16_kib_is_read_and_one_byte_more_closes_1009(
    hall: Callable[..., Hall], clean_log: Callable[[Any], None]
) -> None:
    h = hall()
    dev = await Device.connect(h.server.ws_url, h.assembly["display_token"])
    at_cap = padded_ping(CAP)
    assert len(at_cap) == CAP
    await dev.send_raw(at_cap)
    assert (await dev.next(lambda f: f.get("t") == "pong"))["now"] > 0
    over = padded_ping(CAP + 1)
    await dev.send_raw(over)
    assert (await dev.wait_closed()).code == 1009
    # A hello at the cap is a hello.
    hello = b""
    for n in range(CAP - 200, CAP):
        hello = msgpack.packb({"t": "hello", "token": h.assembly["display_token"], "pad": "x" * n})
        if len(hello) == CAP:
            break
    assert len(hello) == CAP
    async with websockets.connect(h.server.ws_url, compression=None, proxy=None) as ws:
        await ws.send(hello)
        assert msgpack.unpackb(await ws.recv())["t"] == "welcome"
    clean_log(h.server)


# -- floods --------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_thousand_commands_in_a_second_from_one_device(
    hall: Callable[..., Hall], clean_log: Callable[[Any], None]
) -> None:
    """With the default limits (20 a second, bursts of 60), a device that sends 1,000 notes in a
    second gets about 80 acks and rate_limited for the rest, every command answered; a device at
    the other table acts as fast during the flood as before it."""
    h = hall()
    fac = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a1"}, room="hall")
    flooder = await Device.connect(h.server.ws_url, (await join(h.server.url, h.codes[0]))["token"])
    neighbour = await Device.connect(h.server.ws_url, (await join(h.server.url, h.codes[0]))["token"])
    other = await Device.connect(h.server.ws_url, (await join(h.server.url, h.codes[1]))["token"])

    async def round_trips(tag: str, n: int) -> list[float]:
        times = []
        for i in range(n):
            started = time.monotonic()
            await other.ok("note.add", {"note": f"{tag}{i}", "text": "rolig"}, timeout=10)
            times.append(time.monotonic() - started)
            await asyncio.sleep(0.05)
        return times

    before = await round_trips("b", 10)
    started = time.monotonic()
    for i in range(1000):
        await flooder.send({"t": "cmd", "id": f"f{i}", "room": "table:1", "op": "note.add",
                            "args": {"note": f"f{i}", "text": "spam"}})
    sent_in = time.monotonic() - started
    during = await round_trips("d", 10)
    answers = [await flooder.next(lambda f, i=i: f.get("id") == f"f{i}" and f.get("t") in ("ack", "err"),
                                  timeout=30) for i in range(1000)]
    elapsed = time.monotonic() - started
    codes = [a.get("code", "ack") for a in answers]
    assert sent_in < 1.5, f"the test could not send 1,000 in about a second ({sent_in:.2f} s)"
    assert set(codes) <= {"ack", "rate_limited"}, set(codes)
    assert 60 <= codes.count("ack") <= 60 + 20 * elapsed + 2, (codes.count("ack"), elapsed)
    assert codes.count("rate_limited") >= 1000 - 60 - 20 * elapsed - 2
    # The table saw exactly the accepted notes; the other table's device was not slowed down.
    last = max(a["seq"] for a in answers if a["t"] == "ack")
    await neighbour.next(lambda f: f.get("seq") == last and f.get("room") == "table:1", timeout=10)
    assert len([e for e in neighbour.events("table:1") if e["data"].get("text") == "spam"]) == codes.count("ack")
    assert statistics.median(during) < max(0.5, 5 * statistics.median(before)), (before, during)
    assert max(during) < 3.0, during
    clean_log(h.server)


@pytest.mark.slow
async def test_a_hundred_connects_a_second_from_one_address(
    hall: Callable[..., Hall], clean_log: Callable[[Any], None]
) -> None:
    """With 20 connects at once and 10 a second from one address, 100 handshakes in a second
    let about 30 in; the rest get HTTP 429 with a JSON error and Retry-After, before any socket
    is accepted. A device connected before goes on, and a moment later connecting works again."""
    h = hall(SAMLING_CONNECT_RATE="10", SAMLING_CONNECT_BURST="20")
    fac = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"])
    refusals: list[websockets.InvalidStatus] = []
    opened: list[websockets.ClientConnection] = []

    async def one() -> None:
        try:
            opened.append(await websockets.connect(h.server.ws_url, compression=None, proxy=None, open_timeout=30))
        except websockets.InvalidStatus as refusal:
            refusals.append(refusal)

    started = time.monotonic()
    for _ in range(10):
        await asyncio.gather(*(one() for _ in range(10)))
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    try:
        assert len(opened) + len(refusals) == 100
        assert 20 <= len(opened) <= 20 + 10 * elapsed + 1, (len(opened), elapsed)
        for refusal in refusals:
            assert refusal.response.status_code == 429
            assert refusal.response.headers["Retry-After"] == "1"
            assert json.loads(refusal.response.body)["error"] == "rate_limited"
        assert (await fac.cmd("timer.stop", {}, room="hall"))["t"] == "ack"
        assert (await healthz(h.server.url))["refused"]["connect_rate"] == len(refusals)
        await asyncio.sleep(0.3)
        again = await handshake(h.server.ws_url)
        assert not isinstance(again, int), again
        await again.close()
    finally:
        await asyncio.gather(*(ws.close() for ws in opened))
    clean_log(h.server)


@pytest.mark.slow
async def test_a_thousand_sockets_that_never_say_hello_are_closed_and_nobody_notices(
    hall: Callable[..., Hall], clean_log: Callable[[Any], None]
) -> None:
    """1,000 sockets open and stay silent: each is closed with 4002 about 2 s after it opened
    (SAMLING_HELLO_TIMEOUT=2); a working device's commands stay quick the whole time, and every
    socket's slot is given back."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    h = hall(loose=True, SAMLING_HELLO_TIMEOUT="2")
    fac = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"])
    fac_hello_at = time.monotonic()
    ends: list[tuple[float, int | None]] = []

    async def idle() -> None:
        opened_at = time.monotonic()
        ws = await websockets.connect(h.server.ws_url, compression=None, proxy=None, open_timeout=60)
        try:
            async with asyncio.timeout(30):
                await ws.recv()
        except websockets.ConnectionClosed:
            pass
        ends.append((time.monotonic() - opened_at, ws.close_code))

    latencies: list[float] = []

    async def working() -> None:
        while len(ends) < 1000:
            started = time.monotonic()
            await fac.ok("timer.stop", {}, room="hall", timeout=10)
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.1)

    async def crowd() -> None:
        tasks: list[asyncio.Task[None]] = []
        for _ in range(20):
            tasks += [asyncio.create_task(idle()) for _ in range(50)]
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)

    await asyncio.wait_for(asyncio.gather(crowd(), working()), timeout=120)
    assert len(ends) == 1000
    codes = {code for _, code in ends}
    assert codes == {4002}, codes
    assert max(took for took, _ in ends) < 2 + 8, "a silent socket outlived its hello timeout by far"
    assert min(took for took, _ in ends) >= 1.5
    assert latencies and statistics.median(latencies) < 0.5 and max(latencies) < 3.0, latencies
    assert time.monotonic() - fac_hello_at > 2  # the facilitator, who said hello, was never closed
    assert fac.closed is None

    async def released() -> bool:
        return bool((await healthz(h.server.url))["sockets"] == 1)

    await eventually(released)
    clean_log(h.server)


# -- caps on sockets ------------------------------------------------------------------------------


async def test_sockets_per_address_are_capped_and_given_back(hall: Callable[..., Hall]) -> None:
    """With 5 sockets per address, the 6th is refused (429) until one of the 5 closes."""
    h = hall(SAMLING_MAX_PER_ADDRESS="5")
    held = [await handshake(h.server.ws_url) for _ in range(5)]
    assert not any(isinstance(ws, int) for ws in held), held
    assert await handshake(h.server.ws_url) == 429
    await held.pop().close()

    async def free() -> bool:
        return bool((await healthz(h.server.url))["sockets"] == 4)

    await eventually(free)
    back = await handshake(h.server.ws_url)
    assert not isinstance(back, int)
    held.append(back)
    health = await healthz(h.server.url)
    assert health["refused"] == {"per_address": 1} and health["sockets"] == 5
    for ws in held:
        await ws.close()  # type: ignore[union-attr]


async def test_sockets_in_all_are_capped_across_addresses(hall: Callable[..., Hall]) -> None:
    """Behind a trusted proxy, 4 sockets from 4 clients fill a process capped at 4: a fifth
    client's handshake gets 503 server_busy."""
    h = hall(SAMLING_MAX_CONNECTIONS="4", SAMLING_TRUSTED_PROXIES="127.0.0.1")
    held = [await handshake(h.server.ws_url, f"10.0.0.{i}") for i in range(1, 5)]
    assert not any(isinstance(ws, int) for ws in held), held
    try:
        await websockets.connect(h.server.ws_url, compression=None, proxy=None,
                                 additional_headers={"X-Forwarded-For": "10.0.0.9"})
        raise AssertionError("a fifth socket got in")
    except websockets.InvalidStatus as refusal:
        assert refusal.response.status_code == 503
        assert json.loads(refusal.response.body)["error"] == "server_busy"
    for ws in held:
        await ws.close()  # type: ignore[union-attr]


async def test_commands_are_limited_per_address_across_its_sockets(hall: Callable[..., Hall]) -> None:
    """Two sockets of one address share its bucket (10 at once, 1 a second here), each well within
    its own; a device at another address is not held back by them."""
    h = hall(SAMLING_ADDRESS_BURST="10", SAMLING_ADDRESS_RATE="1", SAMLING_TRUSTED_PROXIES="127.0.0.1")
    one = {"additional_headers": {"X-Forwarded-For": "10.0.0.1"}}
    a = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"], **one)
    b = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"], **one)
    c = await Device.connect(h.server.ws_url, h.assembly["facilitator_token"],
                             additional_headers={"X-Forwarded-For": "10.0.0.2"})
    answers = [await dev.cmd("timer.stop", {}, room="hall") for _ in range(6) for dev in (a, b)]
    codes = [x.get("code", "ack") for x in answers]
    assert codes.count("ack") in (10, 11) and codes.count("rate_limited") == 12 - codes.count("ack"), codes
    assert codes[:10] == ["ack"] * 10
    assert [(await c.cmd("timer.stop", {}, room="hall"))["t"] for _ in range(5)] == ["ack"] * 5
    assert "refusing address rate from 10.0.0.1" in h.server.log_text()


# -- whose address ------------------------------------------------------------------------------


async def test_a_forged_forwarded_for_dodges_no_limit(hall: Callable[..., Hall]) -> None:
    """Without trusted proxies the TCP peer is the client: a new X-Forwarded-For (or Forwarded,
    or X-Real-IP) on each try neither escapes the connect rate nor the join throttle."""
    h = hall(SAMLING_CONNECT_BURST="5", SAMLING_CONNECT_RATE="0.01")
    opened = [await handshake(h.server.ws_url, f"10.1.0.{i}") for i in range(5)]
    assert not any(isinstance(ws, int) for ws in opened)
    assert [await handshake(h.server.ws_url, f"10.2.0.{i}") for i in range(3)] == [429] * 3
    for ws in opened:
        await ws.close()  # type: ignore[union-attr]
    statuses = []
    async with httpx.AsyncClient(base_url=h.server.url, trust_env=False) as http:
        for i in range(14):
            answer = await http.post("/api/join", json={"code": "ZZZZZ9"}, headers={"X-Forwarded-For": f"10.3.0.{i}"})
            statuses.append(answer.status_code)
    assert statuses[:10] == [404] * 10 and statuses[10:] == [429] * 4
    assert (await join_response(h.server.url, h.codes[0])).status_code == 429  # the peer's bucket is empty
    assert "10.1.0" not in h.server.log_text() and "10.2.0" not in h.server.log_text()


@pytest.mark.parametrize("trusted", ["127.0.0.1", "127.0.0.0/8, 192.168.0.1"])
async def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(hall: Callable[..., Hall], trusted: str) -> None:
    """With SAMLING_TRUSTED_PROXIES naming the peer, X-Forwarded-For says who the client is: one
    client's empty buckets are its own, another client behind the same proxy gets in."""
    h = hall(SAMLING_CONNECT_BURST="3", SAMLING_CONNECT_RATE="0.01", SAMLING_TRUSTED_PROXIES=trusted)
    opened = [await handshake(h.server.ws_url, "10.0.0.1") for _ in range(3)]
    assert not any(isinstance(ws, int) for ws in opened)
    assert await handshake(h.server.ws_url, "10.0.0.1") == 429
    other = await handshake(h.server.ws_url, "10.0.0.2")
    assert not isinstance(other, int)
    opened.append(other)
    for ws in opened:
        await ws.close()  # type: ignore[union-attr]
    async with httpx.AsyncClient(base_url=h.server.url, trust_env=False) as http:
        wrong = [(await http.post("/api/join", json={"code": "ZZZZZ9"}, headers={"X-Forwarded-For": "10.0.0.1"}))
                 .status_code for _ in range(11)]
        assert wrong[-1] == 429
        right = await http.post("/api/join", json={"code": h.codes[0]}, headers={"X-Forwarded-For": "10.0.0.3"})
        assert right.status_code == 200
    assert "refusing connect rate from 10.0.0.1" in h.server.log_text()
