"""The direct write's framing (server/wire.py) is byte for byte what websockets itself writes."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from server.wire import frame_header


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 1 << 20])
def test_the_header_is_websockets_own_for_every_length_class(size: int) -> None:
    payload = bytes(size % 251 for _ in range(size))
    assert frame_header(size) + payload == Frame(Opcode.BINARY, payload).serialize(mask=False, extensions=[])
