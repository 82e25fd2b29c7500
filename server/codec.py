"""The wire and storage codec: the only module that knows MessagePack.

Frames on the socket and events in a log are MessagePack maps. A stored event (a "record")
carries everything the room needs to replay it, including what other devices must never see
(a note's author); the frames built from it carry only the public part.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgpack

from rooms import Event


class BadFrame(Exception):
    """Not one MessagePack map: the socket closes with 1003."""


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


def _canonical(obj: Any) -> Any:
    if isinstance(obj, dict):
        return [[_canonical(k), _canonical(v)] for k, v in sorted(obj.items(), key=lambda kv: repr(kv[0]))]
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    return obj


def digest(op: Any, args: Any) -> str:
    """A short fingerprint of what a command says (op and args, map keys in any order), kept
    beside its exactly-once key: a resend must say the same, or it is another command that
    reused the id. 16 hex digits: a collision between two commands of one device is negligible."""
    return hashlib.blake2b(pack(_canonical([op, args])), digest_size=8).hexdigest()


#: How deep maps and arrays may nest in a client frame. A real command is 3 deep (the frame, its
#: args, a list of ids); the decoder alone allows about 1000, and code that walks a value
#: recursively (the exactly-once digest, packing) would hit Python's recursion limit first.
MAX_DEPTH = 32


def _too_deep(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether maps and arrays nest more than `limit` deep (walked without recursion)."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def pack_map(items: list[tuple[str, bytes]]) -> bytes:
    """A MessagePack map from keys and values that are packed already, so a part that many frames
    share (the hall's snapshot in every welcome of a reconnecting hall) is packed once."""
    n = len(items)
    if n < 16:
        head = bytes([0x80 | n])
    elif n < 1 << 16:
        head = b"\xde" + n.to_bytes(2, "big")
    else:
        head = b"\xdf" + n.to_bytes(4, "big")
    return head + b"".join(pack(key) + value for key, value in items)


def unpack_frame(data: bytes) -> dict[str, Any]:
    """One client frame, which must be a map with string keys, nested at most MAX_DEPTH deep."""
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for garbage
        raise BadFrame("not MessagePack") from exc
    if not isinstance(obj, dict):
        raise BadFrame("a frame must be a map")
    if _too_deep(obj):
        raise BadFrame(f"a frame may nest at most {MAX_DEPTH} deep")
    return obj


@dataclass(frozen=True, slots=True)
class Record:
    """One event as a room's log keeps it."""

    seq: int
    op: str
    data: dict[str, Any]
    cmd: str | None  # the command id that caused it (None for the server's own events)
    device: str | None  # who sent that command
    at: int  # ms since the epoch

    @property
    def event(self) -> Event:
        return Event(self.op, self.data)


def encode_record(r: Record) -> bytes:
    return pack({"s": r.seq, "o": r.op, "d": r.data, "c": r.cmd, "v": r.device, "a": r.at})


def decode_record(blob: bytes) -> Record:
    m = msgpack.unpackb(blob, raw=False, strict_map_key=False)
    return Record(m["s"], m["o"], m["d"], m["c"], m["v"], m["a"])


def decode(blob: bytes) -> Any:
    return msgpack.unpackb(blob, raw=False, strict_map_key=False)
