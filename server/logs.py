"""What the server's log says, and what it leaves out.

uvicorn writes three INFO lines for every WebSocket (`"WebSocket /ws" [accepted]`,
`connection open`, `connection closed`). A hall of 160 tablets that reconnects after a WiFi drop
writes 480 of them in a second, and formatting and writing them cost about a twelfth of the
server's CPU while connecting (docs/performance.md). Samling logs what matters about a socket
itself (refusals, slow devices, revocations), so these lines are dropped unless
`SAMLING_LOG_SOCKETS=1`. Startup, shutdown, warnings and errors are untouched.
"""

from __future__ import annotations

import logging
import os

_PER_SOCKET = ('%s - "WebSocket %s" [accepted]', "connection open", "connection closed")


class QuietSockets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and record.msg in _PER_SOCKET)


def quiet_socket_lines() -> None:
    """Install QuietSockets on uvicorn's error log once (after uvicorn configured logging)."""
    if os.environ.get("SAMLING_LOG_SOCKETS") == "1":
        return
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietSockets) for f in logger.filters):
        logger.addFilter(QuietSockets())
