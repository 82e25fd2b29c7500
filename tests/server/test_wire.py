"""The direct write's framing (server/wire.py) is byte for byte what websockets itself writes."""

from __future__ import annotations

import asyncio

import pytest
from websockets.frames import Frame, Opcode

from server.wire import Inbox, frame_header


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 1 << 20])
def test_the_header_is_websockets_own_for_every_length_class(size: int) -> None:
    payload = bytes(size % 251 for _ in range(size))
    assert frame_header(size) + payload == Frame(Opcode.BINARY, payload).serialize(mask=False, extensions=[])


async def test_the_inbox_hands_frames_over_in_order_to_a_waiting_reader() -> None:
    """uvicorn's protocol puts what it reads; the app's receive gets it, in order, waiting when
    there is nothing; a reader that gives up (a hello timeout) loses nothing."""
    inbox = Inbox()
    assert inbox.empty()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert await reader == 1 and not inbox.empty()
    assert await inbox.get() == 2 and inbox.empty()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(inbox.get(), 0.01)
    inbox.put_nowait(3)
    assert await inbox.get() == 3
