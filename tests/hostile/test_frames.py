"""Scenario 14, hostile frames: random bytes and well-formed but wrong maps (wrong types, huge ints,
deep nesting, 10,000-element arrays, unknown ops), sent by every role to a real server process.

Whatever arrives, the server answers within the protocol (an `err`, or a close with 1003 or 1009)
and goes on: it stays up, a normal device still works, and its log has no traceback or ERROR line.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from rooms.errors import Code

Hall = Any  # tests/hostile/conftest.py

#: Every code an `err` may carry (docs/protocol.md, Error codes; rooms/errors.py is their one list).
CODES = {str(code) for code in Code}
SERVER_FRAMES = {"welcome", "ev", "ack", "err", "pong", "presence"}
#: How the server may end a socket that sent garbage: not MessagePack or not a map, too big, bad token.
FAULT_CLOSES = {1003, 1009}

TABLE_OPS = ["note.add", "note.edit", "note.remove", "note.move", "cluster.add", "cluster.rename",
             "cluster.remove", "dot.add", "dot.remove", "phase.set", "activity.start"]
HALL_OPS = ["activity.start", "phase.set", "timer.start", "timer.stop", "spotlight", "poll.open", "vote.cast",
            "poll.close", "poll.tally"]
ARGS = ["note", "text", "cluster", "title", "target", "phase", "activity", "prompt", "dots", "max_per_target",
        "show_totals", "seconds", "table", "tables", "poll", "question", "kind", "options", "labels", "hidden",
        "choice"]
ROOMS = ["hall", "table:1", "table:2", "table:99", "table:", "table:1:2", "kitchen", "", "HALL"]

leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(), st.text(max_size=300),
    st.binary(max_size=64),
    st.sampled_from(["brainstorm", "cluster", "vote", "results", "idle", "1", "choice", "scale"]),
    st.builds(msgpack.Timestamp, st.integers(0, 2**32 - 1), st.integers(0, 999_999_999)),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=16)),
)
value = st.recursive(leaf, lambda kids: st.lists(kids, max_size=6) | st.dictionaries(st.text(max_size=12), kids,
                                                                                      max_size=6), max_leaves=30)
args = st.one_of(value, st.dictionaries(st.sampled_from(ARGS), value, max_size=6))
frames = st.fixed_dictionaries(
    {"t": st.one_of(st.sampled_from(["cmd", "cmd", "cmd", "hello", "ping", "ev", "welcome", "CMD"]), value)},
    optional={"id": st.one_of(st.text(min_size=1, max_size=70), value),
              "room": st.one_of(st.sampled_from(ROOMS), value),
              "op": st.one_of(st.sampled_from(TABLE_OPS + HALL_OPS), st.text(max_size=20), value), "args": args,
              "token": value, "since": st.one_of(st.dictionaries(st.sampled_from(ROOMS), value, max_size=4), value)},
)
#: Values near the valid ones (ids that exist, small numbers), so some commands get far or succeed.
plausible = st.one_of(st.sampled_from(["n1", "k1", "p1", "a1", "1", "2", "vote", "choice", "scale"]),
                      st.integers(-3, 25), st.lists(st.sampled_from(["1", "2", "ja", "nej"]), max_size=4))
#: Commands with a valid envelope (so they reach the rooms' checks) and wrong, huge or odd args.
commands = st.fixed_dictionaries({
    "t": st.just("cmd"), "id": st.text(min_size=1, max_size=64), "room": st.sampled_from(ROOMS[:4]),
    "op": st.one_of(st.sampled_from(TABLE_OPS + HALL_OPS), st.sampled_from(TABLE_OPS + HALL_OPS),
                    st.text(max_size=12)),
    "args": st.one_of(st.dictionaries(st.sampled_from(ARGS), st.one_of(plausible, value), max_size=7), value),
})
ROLES = [None, "member", "host", "facilitator", "display"]


def token_of(hall: Hall, role: str | None) -> str | None:
    """A genuine token for the role, joined fresh for member and host (a new device each time)."""
    if role is None:
        return None
    if role in ("facilitator", "display"):
        return str(hall.assembly[f"{role}_token"])
    code = hall.codes[0] if role == "member" else hall.host_codes[0]
    answer = httpx.post(f"{hall.server.url}/api/join", json={"code": code}, trust_env=False, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def exchange(url: str, payloads: Sequence[bytes | str], token: str | None = None
             ) -> tuple[list[dict[str, Any]], int | None]:
    """Say hello with `token` (if any), send the payloads, then a ping. Returns every frame the
    server sent and how the socket ended: None when the pong came back (the socket lives on), else
    the close code."""
    answers: list[dict[str, Any]] = []
    with connect(url, compression=None, max_size=None, proxy=None, open_timeout=20, close_timeout=5) as ws:
        try:
            if token is not None:
                ws.send(msgpack.packb({"t": "hello", "token": token}))
                welcome = msgpack.unpackb(ws.recv(timeout=20), raw=False, strict_map_key=False)
                assert welcome["t"] == "welcome", welcome
            for payload in payloads:
                ws.send(payload)
            ws.send(msgpack.packb({"t": "ping"}))
            while True:
                message = ws.recv(timeout=20)
                assert isinstance(message, bytes), f"a text frame from the server: {message!r}"
                frame = msgpack.unpackb(message, raw=False, strict_map_key=False)
                assert isinstance(frame, dict), frame
                answers.append(frame)
                if frame.get("t") == "pong":
                    return answers, None
        except ConnectionClosed as closed:
            return answers, closed.rcvd.code if closed.rcvd is not None else None


def check_answers(answers: list[dict[str, Any]]) -> None:
    """Every frame the server sent is one the protocol defines; every refusal has a known code."""
    for frame in answers:
        assert frame.get("t") in SERVER_FRAMES, frame
        if frame["t"] == "err":
            assert frame.get("code") in CODES and isinstance(frame.get("msg"), str), frame
            assert frame.get("id") is None or isinstance(frame["id"], str), frame
            assert frame["code"] != "server_busy", f"a hostile frame made the server fail: {frame}"


def still_works(hall: Hall, clean_log: Callable[[Any], None]) -> None:
    """The server is up, a fresh device's note is acked, and nothing failed in the log."""
    assert httpx.get(f"{hall.server.url}/healthz", trust_env=False, timeout=10).status_code == 200
    activity = f"a{uuid.uuid4().hex[:12]}"
    answers, closed = exchange(hall.server.ws_url, [msgpack.packb(
        {"t": "cmd", "id": activity, "room": "hall", "op": "activity.start", "args": {"activity": activity}})],
        hall.assembly["facilitator_token"])
    assert closed is None and any(f.get("t") == "ack" and f.get("id") == activity for f in answers), answers
    note = {"t": "cmd", "id": "ok", "room": "table:1", "op": "note.add", "args": {"note": activity, "text": "her"}}
    answers, closed = exchange(hall.server.ws_url, [msgpack.packb(note)], token_of(hall, "member"))
    assert closed is None and any(f.get("t") == "ack" and f.get("id") == "ok" for f in answers), answers
    clean_log(hall.server)


FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@pytest.mark.slow
def test_random_bytes_never_crash_the_server(hall: Callable[..., Hall], clean_log: Callable[[Any], None]) -> None:
    """Random binary and text frames, before and after hello, from every role: each is answered
    or closes the socket with 1003/1009; nothing else."""
    h = hall(loose=True)
    tokens = {role: token_of(h, role) for role in ROLES}

    @FUZZ
    @given(payloads=st.lists(st.one_of(st.binary(max_size=600), st.binary(min_size=16000, max_size=17000),
                                       st.text(max_size=50)), min_size=1, max_size=4),
           role=st.sampled_from(ROLES))
    def fuzz(payloads: list[bytes | str], role: str | None) -> None:
        answers, closed = exchange(h.server.ws_url, payloads, tokens[role])
        check_answers(answers)
        assert closed is None or closed in FAULT_CLOSES, (closed, answers)
        if any(isinstance(p, str) for p in payloads):
            assert closed == 1003

    fuzz()
    still_works(h, clean_log)


@pytest.mark.slow
def test_wrong_maps_never_crash_the_server(hall: Callable[..., Hall], clean_log: Callable[[Any], None]) -> None:
    """MessagePack maps with every field of the wrong type, huge ints, timestamps and ext types,
    unknown ops and rooms, sent by every role: each gets an err (or a close for a bad hello).
    Most are commands with a valid envelope, so that their args reach every op's own checks."""
    h = hall(loose=True)
    tokens = {role: token_of(h, role) for role in ROLES}
    fac = tokens["facilitator"]
    start = msgpack.packb({"t": "cmd", "id": "start", "room": "hall", "op": "activity.start",
                           "args": {"activity": "fuzz", "dots": 20, "max_per_target": 20}})
    assert exchange(h.server.ws_url, [start], fac)[1] is None

    @FUZZ
    @given(batch=st.lists(st.one_of(commands, commands, commands, frames), min_size=1, max_size=6),
           role=st.sampled_from([*ROLES, *ROLES[1:], *ROLES[1:]]))
    def fuzz(batch: list[dict[str, Any]], role: str | None) -> None:
        payloads = [msgpack.packb(f, use_bin_type=True) for f in batch]
        answers, closed = exchange(h.server.ws_url, payloads, tokens[role])
        check_answers(answers)
        hello_first = role is None and any(f.get("t") == "hello" for f in batch)
        big = any(len(p) > 16384 for p in payloads)
        allowed = {None} | ({4003} if hello_first else set()) | ({1009} if big else set())
        assert closed in allowed, (closed, answers, batch)

    fuzz()
    still_works(h, clean_log)


def nested(depth: int, inner: Any = None) -> bytes:
    """A MessagePack value nested `depth` one-element arrays deep, built by hand (packb stops at 512)."""
    return b"\x91" * depth + msgpack.packb(inner)


def cmd_bytes(room: str, op: Any, args_bytes: bytes, cmd_id: str = "x") -> bytes:
    """A `cmd` map whose `args` are the given raw MessagePack bytes."""
    head = msgpack.packb({"t": "cmd", "id": cmd_id, "room": room, "op": op})
    return bytes([head[0] + 1]) + head[1:] + msgpack.packb("args") + args_bytes  # one more key in the fixmap


def args_map(**fields: bytes) -> bytes:
    """A map of raw MessagePack values (to put deep values inside args)."""
    out = bytes([0x80 + len(fields)])
    for key, raw in fields.items():
        out += msgpack.packb(key) + raw
    return out


HUGE = [2**64 - 1, 2**63, -(2**63), 2**31, -1]
CASES: list[tuple[str, str, list[bytes], set[int | None]]] = [
    ("deep nesting past the decoder's stack", "member", [b"\x81\xa4args" + nested(15000)], {1003}),
    ("deep nesting inside a note", "member",
     [cmd_bytes("table:1", "note.add", args_map(note=msgpack.packb("n"), text=nested(900)))], {1003}),
    ("deep nesting in an unknown arg of a command", "facilitator",
     [cmd_bytes("hall", "timer.start", args_map(seconds=msgpack.packb(60), extra=nested(900)))], {1003}),
    ("nesting just past the limit", "facilitator",
     [cmd_bytes("hall", "timer.start", args_map(seconds=msgpack.packb(60), extra=nested(31)))], {1003}),
    ("nesting at the limit in an unknown arg of an accepted command", "facilitator",
     [cmd_bytes("hall", "timer.start", args_map(seconds=msgpack.packb(60), extra=nested(30))),
      cmd_bytes("hall", "activity.start", args_map(activity=msgpack.packb("deep"), extra=nested(30)), "y")], {None}),
    ("deep nesting in since", None, [msgpack.packb({"t": "ping"})], {1003}),
    ("10,000 tables in a phase.set", "facilitator",
     [msgpack.packb({"t": "cmd", "id": "x", "room": "hall", "op": "phase.set",
                     "args": {"phase": "vote", "tables": [1] * 10_000}})], {None}),
    ("10,000 options in a poll", "facilitator",
     [msgpack.packb({"t": "cmd", "id": "x", "room": "hall", "op": "poll.open",
                     "args": {"poll": "p", "question": "?", "kind": "choice", "options": [0] * 10_000}})], {None}),
    ("10,000 elements as args, id and room", "member",
     [msgpack.packb({"t": "cmd", "id": "x", "room": "table:1", "op": "note.add", "args": [0] * 10_000}),
      msgpack.packb({"t": "cmd", "id": [0] * 5000, "room": "table:1", "op": "note.add", "args": {}}),
      msgpack.packb({"t": "cmd", "id": "y", "room": [0] * 5000, "op": "note.add", "args": {}})], {None}),
    ("a 1,000-room since on hello", "member", [], {None}),
    ("huge ints everywhere", "facilitator",
     [msgpack.packb({"t": "cmd", "id": f"h{i}", "room": "hall", "op": op, "args": {field: n}})
      for i, (op, field, n) in enumerate((op, field, n) for n in HUGE for op, field in
                                         (("timer.start", "seconds"), ("activity.start", "dots"),
                                          ("activity.start", "max_per_target"), ("vote.cast", "choice"),
                                          ("spotlight", "table")))]
     + [msgpack.packb({"t": "cmd", "id": 2**64 - 1, "room": "hall", "op": "timer.stop"})], {None}),
    ("huge ints in a member's commands", "member",
     [msgpack.packb({"t": "cmd", "id": f"m{i}", "room": "hall", "op": "vote.cast", "args": {"poll": n, "choice": n}})
      for i, n in enumerate(HUGE)]
     + [msgpack.packb({"t": "cmd", "id": "z", "room": "table:1", "op": "dot.add", "args": {"target": 2**64 - 1}})],
     {None}),
    ("unknown ops and system ops", "facilitator",
     [msgpack.packb({"t": "cmd", "id": f"u{i}", "room": room, "op": op, "args": {}})
      for i, (room, op) in enumerate([("hall", "note.explode"), ("hall", ""), ("hall", 7), ("hall", None),
                                      ("hall", "poll.tally"), ("table:1", "activity.start"), ("hall", "__class__"),
                                      ("table:1", "../../etc/passwd"), ("hall", "note.add"), ("table:2", "spotlight"),
                                      ("hall", "x" * 5000), ("hall", b"phase.set")])], {None}),
    ("a map with non-string keys", "member", [b"\x81\x01\x02"], {1003}),
    ("timestamps and ext types as every field", "member",
     [msgpack.packb({"t": msgpack.Timestamp(1, 0), "id": msgpack.ExtType(5, b"x")}),
      msgpack.packb({"t": "cmd", "id": "e", "room": msgpack.Timestamp(0, 0), "op": "note.add", "args": {}}),
      msgpack.packb({"t": "cmd", "id": "f", "room": "table:1", "op": msgpack.ExtType(1, b""),
                     "args": {"note": msgpack.Timestamp(0, 0)}})], {None}),
    ("a broken timestamp", "member", [b"\x81\xa1t\xd6\xff\x00"], {1003}),
]


def since_hello(case: str) -> bytes | None:
    """The hello for the cases that attack it (None: a plain hello with the role's token)."""
    if case == "deep nesting in since":
        return b"\x82" + msgpack.packb("t") + msgpack.packb("hello") + msgpack.packb("since") + nested(900)
    if case == "a 1,000-room since on hello":
        return msgpack.packb({"t": "hello", "since": {f"table:{i}": i if i % 10 else 2**64 - 1 for i in range(1000)}})
    return None


@pytest.mark.parametrize("case, role, payloads, closes", CASES, ids=[c[0] for c in CASES])
def test_crafted_frames_are_answered_and_the_server_goes_on(
    hall: Callable[..., Hall], clean_log: Callable[[Any], None], case: str, role: str | None,
    payloads: list[bytes], closes: set[int | None],
) -> None:
    """Each crafted frame gets a well-formed answer or the close its fault calls for, and a
    normal device still works afterwards."""
    h = hall(loose=True)
    token = token_of(h, role)
    hello = since_hello(case)
    if hello is not None:
        # The attack is in the hello itself: add the facilitator's token to the crafted map.
        fields = msgpack.unpackb(hello, raw=False) if case != "deep nesting in since" else None
        if fields is not None:
            fields["token"] = h.assembly["facilitator_token"]
            hello = msgpack.packb(fields)
        else:
            hello = b"\x83" + msgpack.packb("token") + msgpack.packb(h.assembly["facilitator_token"]) + hello[1:]
        answers, closed = exchange(h.server.ws_url, [hello, *payloads], None)
        welcomed = bool(answers) and answers[0]["t"] == "welcome"
        assert welcomed is (closed is None), answers
    else:
        answers, closed = exchange(h.server.ws_url, payloads, token)
    check_answers(answers)
    assert closed in closes, (closed, answers)
    if closed is None and hello is None:  # every command was answered, by an ack or an err
        answered = {f.get("id") for f in answers if f["t"] in ("ack", "err")}
        assert len(answered) + sum(f["t"] == "err" and f.get("id") is None for f in answers) >= len(payloads), \
            answers
    still_works(h, clean_log)
