"""Scenario 13: random interleavings of conflicting moves and dots from several devices on two
server processes, checked against the model of the rules.

Hypothesis draws a program for four devices at one table (a host and three members): groups made,
renamed, removed and notes dragged between them, then dots placed and taken back on a small pool of
targets with a tight budget, so the devices fight over the same notes, groups and dots. Each
device runs its part in order and all four run at once, half of them on each process, so the
servers decide the interleaving. Then the model (`rooms`, the pure rules, with no I/O and no
concurrency) replays the stored log: every acked command must be one the rules accept at its
place in the log and must have produced exactly the events stored for it; no refused command may
be in the log; and the state the model ends in must be the state both processes show.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.client import Device
from support.processes import TEST_SECRET

from rooms import Actor, Refused, Role
from rooms.room import RoomModel
from server.codec import Record, decode_record
from server.store.base import open_store
from server.tokens import Tokens

NOTES = [f"n{i}" for i in range(6)]
CLUSTERS = ["k0", "k1", "k2"]
TARGETS = NOTES + CLUSTERS + ["nope"]

cluster_step = st.one_of(
    st.tuples(st.just("cluster.add"), st.fixed_dictionaries({"cluster": st.sampled_from(CLUSTERS),
                                                              "title": st.sampled_from(["Trafik", "Skole", ""])})),
    st.tuples(st.just("cluster.rename"), st.fixed_dictionaries({"cluster": st.sampled_from(CLUSTERS),
                                                                 "title": st.sampled_from(["Grønt", "By"])})),
    st.tuples(st.just("note.move"), st.fixed_dictionaries({"note": st.sampled_from(NOTES),
                                                            "cluster": st.sampled_from([*CLUSTERS, None])})),
    st.tuples(st.just("cluster.remove"), st.fixed_dictionaries({"cluster": st.sampled_from(CLUSTERS)})),
)
dot_step = st.tuples(st.sampled_from(["dot.add", "dot.add", "dot.remove"]),
                     st.fixed_dictionaries({"target": st.sampled_from(TARGETS)}))
program = st.tuples(st.lists(st.tuples(st.integers(0, 3), cluster_step), min_size=4, max_size=24),
                    st.lists(st.tuples(st.integers(0, 3), dot_step), min_size=4, max_size=30))


async def new_assembly(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=10) as http:
        answer = await http.post("/api/assemblies", json={"name": "Tovtrækkeri", "tables": 1},
                                 headers={"Authorization": f"Bearer {Tokens(TEST_SECRET).organiser()}"})
        assert answer.status_code == 201, answer.text
        made: dict[str, Any] = answer.json()
        return made


async def join_token(url: str, code: str) -> str:
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=10) as http:
        token: str = (await http.post("/api/join", json={"code": code})).json()["token"]
        return token


async def play(urls: list[str], redis_url: str, steps: tuple[list[Any], list[Any]]) -> None:
    base = urls[0].replace("ws://", "http://").removesuffix("/ws")
    asm = await new_assembly(base)
    table = asm["tables"][0]
    codes = [table["host_code"]] + [table["code"]] * 3
    devices = [await Device.connect(urls[i % 2], await join_token(base, code)) for i, code in enumerate(codes)]
    fac = await Device.connect(urls[0], asm["facilitator_token"])
    sent: dict[tuple[str, str], tuple[str, dict[str, Any], dict[str, Any]]] = {}  # (device, id) -> op, args, answer
    try:
        await fac.ok("activity.start", {"activity": "a1", "prompt": "?", "dots": 3, "max_per_target": 2}, room="hall")
        for i, note in enumerate(NOTES):
            dev = devices[i % 4]
            await dev.next_ev("activity.start", room="table:1") if i < 4 else None
            await dev.ok("note.add", {"note": note, "text": f"note {i}"}, room="table:1")

        async def run(part: list[tuple[int, tuple[str, dict[str, Any]]]]) -> None:
            async def one(k: int) -> None:
                for who, (op, args) in part:
                    if who == k:
                        dev = devices[k]
                        answer = await dev.cmd(op, args, room="table:1")
                        sent[(dev.you["device"], answer["id"])] = (op, args, answer)
            await asyncio.gather(*(one(k) for k in range(4)))

        for phase, part in (("cluster", steps[0]), ("vote", steps[1])):
            await fac.ok("phase.set", {"phase": phase}, room="hall")
            await asyncio.gather(*(d.next(lambda f, phase=phase: f.get("op") == "phase.set"
                                          and f["data"]["phase"] == phase, timeout=10) for d in devices))
            await run(part)
        views = [await Device.connect(url, asm["facilitator_token"]) for url in urls]
        shown = [v.welcome["rooms"]["table:1"]["state"] for v in views]
        await check(redis_url, asm, devices, fac.you["device"], sent, shown)
    finally:
        await Device.close_all()


async def check(redis_url: str, asm: dict[str, Any], devices: list[Device], fac_device: str,
                sent: dict[tuple[str, str], tuple[str, dict[str, Any], dict[str, Any]]],
                shown: list[dict[str, Any]]) -> None:
    store = open_store(None, redis_url)
    await store.start()
    try:
        records = [decode_record(b) for b in await store.read(f"{asm['assembly']}/table:1", 0, -1)]
    finally:
        await store.close()
    roles = {d.you["device"]: Role(d.you["role"]) for d in devices}
    model = RoomModel("table:1")
    by_cmd: dict[tuple[str | None, str | None], list[Record]] = {}
    for r in records:
        by_cmd.setdefault((r.device, r.cmd), []).append(r)
    for answer in (a for _, _, a in sent.values() if a["t"] == "err"):
        assert answer["code"] in {"wrong_phase", "unknown_target", "over_budget", "forbidden", "duplicate_id",
                                  "conflict"}, answer
    for device, cmd_id in {k for k, (_, _, a) in sent.items() if a["t"] == "err"}:
        assert (device, cmd_id) not in by_cmd, f"a refused command is in the log: {cmd_id}"
    done: set[tuple[str | None, str | None]] = set()
    for r in records:
        key = (r.device, r.cmd)
        if key in sent and key not in done:
            op, args, answer = sent[key]
            assert answer["t"] == "ack" and answer["seq"] == by_cmd[key][-1].seq, (op, args, answer)
            actor = Actor(r.device or "", roles[r.device or ""], "1")
            try:
                events = model.decide(actor, op, model.parse(op, args), 0)
            except Refused as refusal:
                why = f"the rules refuse {op} {args} at #{r.seq} ({refusal}) but the server stored it"
                raise AssertionError(why) from None
            assert [(e.op, e.data) for e in events] == [(x.op, x.data) for x in by_cmd[key]], (op, args)
            done.add(key)
            for event in events:
                model.evolve(event)
        elif key not in sent:
            model.evolve(r.event)  # the setup's notes and the phases the hall carried in
    assert {k for k, (_, _, a) in sent.items() if a["t"] == "ack"} == done, "an acked command is not in the log"
    expected = model.view(Actor(fac_device, Role.FACILITATOR, None))
    assert shown[0] == expected and shown[1] == expected


@pytest.mark.slow
def test_random_interleavings_on_two_processes_match_the_rules(servers: Any, redis_url: str) -> None:
    one, two = servers.start(redis=redis_url), servers.start(redis=redis_url)
    urls = [one.ws_url, two.ws_url]

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
    @given(program)
    def interleave(steps: tuple[list[Any], list[Any]]) -> None:
        asyncio.run(play(urls, redis_url, steps))

    interleave()
