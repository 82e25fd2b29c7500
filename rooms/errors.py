"""The one error family of the domain: a refused command, carrying a protocol error code.

A refusal changes nothing. The server turns it into an `err` frame with the same code, so every
rule of PROTOCOL.md has exactly one place that says no, and one code that tells the device why.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Error codes of PROTOCOL.md, plus the few this server adds (documented in docs/protocol.md)."""

    BAD_FRAME = "bad_frame"
    NOT_AUTHENTICATED = "not_authenticated"
    FORBIDDEN = "forbidden"
    WRONG_PHASE = "wrong_phase"
    UNKNOWN_TARGET = "unknown_target"
    INVALID_ARGS = "invalid_args"
    OVER_BUDGET = "over_budget"
    POLL_CLOSED = "poll_closed"
    RATE_LIMITED = "rate_limited"
    CONFLICT = "conflict"
    SERVER_BUSY = "server_busy"
    # Added by Samling:
    UNKNOWN_OP = "unknown_op"
    UNKNOWN_ROOM = "unknown_room"
    DUPLICATE_ID = "duplicate_id"
    ID_REUSED = "id_reused"  # a command id sent again with other args: not the same command


class Refused(Exception):
    """A command broke a rule. Nothing changed; tell the device `code` and `msg`."""

    def __init__(self, code: Code, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
