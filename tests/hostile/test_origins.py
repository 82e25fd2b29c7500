"""Scenario 15, origins: a page from anywhere but our own origin cannot open the socket. Foreign,
`null`, look-alike hosts, another scheme or another port are refused at the handshake (HTTP 403,
before the socket is accepted); our own origin, a configured one, and a client that sends no
Origin at all (a script, judged by its token) get in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
import pytest
import websockets

Hall = Any  # tests/hostile/conftest.py


def refused(port: int) -> list[str]:
    """Origins that are not ours for a server on 127.0.0.1:port."""
    own = f"127.0.0.1:{port}"
    return [
        "http://evil.example",
        f"http://evil.example:{port}",
        "null",
        "",
        f"https://{own}",  # another scheme on the same host and port
        f"ws://{own}",
        f"file://{own}",
        f"http://127.0.0.1:{port + 1}",  # another port
        "http://127.0.0.1",
        f"http://localhost:{port}",  # the same machine by another name is another origin
        f"http://{own}.evil.example",  # look-alikes
        f"http://{own}@evil.example",
        f"http://evil.example/{own}",
        f"http://evil.example?{own}",
        f"http://{own}:80",
        "http://[::1",  # not even a URL
        f"http://127.0.0.1:{port}0",
        "http://127.0.0.1.nip.io:" + str(port),
    ]


async def status_of(url: str, origin: str, headers: dict[str, str] | None = None) -> int:
    """The handshake's HTTP status: 101 when the socket opened (it is closed again at once)."""
    try:
        ws = await websockets.connect(url, origin=origin or None, compression=None, proxy=None, open_timeout=10,
                                      additional_headers={**({"Origin": ""} if origin == "" else {}),
                                                          **(headers or {})})
    except websockets.InvalidStatus as refusal:
        return refusal.response.status_code
    await ws.close()
    return 101


async def welcomed(url: str, token: str, origin: str | None) -> bool:
    async with websockets.connect(url, origin=origin, compression=None, proxy=None) as ws:
        await ws.send(msgpack.packb({"t": "hello", "token": token}))
        return bool(msgpack.unpackb(await ws.recv())["t"] == "welcome")


async def test_foreign_null_look_alike_scheme_and_port_are_refused_before_accept(
    hall: Callable[..., Hall], clean_log: Callable[[Any], None]
) -> None:
    """Each origin that is not ours gets HTTP 403 at the handshake; the socket never opens."""
    h = hall()
    statuses = {origin: await status_of(h.server.ws_url, origin) for origin in refused(h.server.port)}
    assert statuses == {origin: 403 for origin in statuses}
    assert await welcomed(h.server.ws_url, h.assembly["display_token"], f"http://127.0.0.1:{h.server.port}")
    assert await welcomed(h.server.ws_url, h.assembly["display_token"], None)  # no Origin: a script
    log = h.server.log_text()
    assert log.count('"WebSocket /ws" 403') >= len(statuses)
    clean_log(h.server)


async def test_a_forwarded_scheme_is_not_trusted(hall: Callable[..., Hall]) -> None:
    """An https page cannot pass for ours by adding X-Forwarded-Proto: proxy headers count only
    from SAMLING_TRUSTED_PROXIES."""
    h = hall()
    assert await status_of(h.server.ws_url, f"https://127.0.0.1:{h.server.port}",
                           {"X-Forwarded-Proto": "https"}) == 403


async def test_configured_origins_get_in_and_their_look_alikes_do_not(hall: Callable[..., Hall]) -> None:
    """SAMLING_ALLOWED_ORIGINS and SAMLING_PUBLIC_URL are ours; anything merely like them is not."""
    h = hall(SAMLING_ALLOWED_ORIGINS="https://kiosk.example", SAMLING_PUBLIC_URL="https://samling.example/")
    assert await status_of(h.server.ws_url, "https://kiosk.example") == 101
    assert await status_of(h.server.ws_url, "https://samling.example") == 101
    for origin in ("http://kiosk.example", "https://kiosk.example:444", "https://kiosk.example.evil",
                   "https://samling.example:8443", "http://samling.example", "https://evil.samling.example"):
        assert await status_of(h.server.ws_url, origin) == 403, origin


@pytest.mark.parametrize("origin", ["http://evil.example", "null"])
async def test_refused_origins_do_not_use_up_the_address(hall: Callable[..., Hall], origin: str) -> None:
    """A hostile page in a hall tablet's browser must not lock the hall's NAT address out: its
    refused handshakes take no connect-rate token and no socket slot. With 3 connects allowed
    (and next to no refill), 20 refused origins still leave all 3 for the hall."""
    h = hall(SAMLING_CONNECT_BURST="3", SAMLING_CONNECT_RATE="0.01", SAMLING_MAX_PER_ADDRESS="3")
    for _ in range(20):
        assert await status_of(h.server.ws_url, origin) == 403
    for _ in range(3):
        assert await welcomed(h.server.ws_url, h.assembly["display_token"], None)
    assert await status_of(h.server.ws_url, f"http://127.0.0.1:{h.server.port}") == 429
