"""Who is acting: a device with a role, and for members and hosts, a seat at one table.

The device id is the identity the rules count by: one dot budget per device per activity, one
vote per device per poll. The same token on two sockets (a reload, a second tab) is the same
device, so it shares that budget and that vote.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    MEMBER = "member"
    HOST = "host"
    FACILITATOR = "facilitator"
    DISPLAY = "display"
    SYSTEM = "system"  # the server itself, carrying a hall decision into the tables


@dataclass(frozen=True, slots=True)
class Actor:
    device: str
    role: Role
    table: str | None = None

    @property
    def seated(self) -> bool:
        """A member or host: someone with a seat, notes, dots and a vote."""
        return self.role in (Role.MEMBER, Role.HOST)


SYSTEM = Actor(device="system", role=Role.SYSTEM)
