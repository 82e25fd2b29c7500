"""The codec: frames and records as MessagePack, and maps spliced from parts packed already."""

from __future__ import annotations

import msgpack
import pytest

from server.codec import digest, pack, pack_map


@pytest.mark.parametrize("size", [0, 1, 15, 16, 300, 70_000])
def test_a_map_spliced_from_packed_parts_reads_as_the_same_map(size: int) -> None:
    """Every map header size (fixmap, map16, map32) round-trips, values nested or not."""
    items = {f"k{i}": {"seq": i, "state": [i, "x" * (i % 5)]} for i in range(size)}
    spliced = pack_map([(k, pack(v)) for k, v in items.items()])
    assert msgpack.unpackb(spliced, raw=False) == items


def test_a_welcome_with_a_shared_part_decodes_like_one_packed_whole() -> None:
    welcome = {"t": "welcome", "now": 1, "votes": {}, "you": {"device": "d"},
               "rooms": {"hall": {"seq": 3, "epoch": "e", "state": {"polls": []}}, "table:1": {"seq": 2, "events": []}}}
    rooms = pack_map([(name, pack(part)) for name, part in welcome["rooms"].items()])
    spliced = pack_map([(k, pack(v)) for k, v in welcome.items() if k != "rooms"] + [("rooms", rooms)])
    assert msgpack.unpackb(spliced, raw=False) == welcome


def test_the_digest_ignores_map_order_and_sees_any_other_change() -> None:
    assert digest("note.add", {"note": "n1", "text": "a"}) == digest("note.add", {"text": "a", "note": "n1"})
    assert digest("note.add", {"note": "n1", "text": "a"}) != digest("note.add", {"note": "n1", "text": "b"})
    assert digest("note.add", {"note": "n1"}) != digest("note.edit", {"note": "n1"})
