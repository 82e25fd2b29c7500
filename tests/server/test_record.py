"""From table clusters to an adopted recommendation over the real protocol, on both stores: a
card filled in by the server from its table, a hall theme, a recommendation, an adoption vote
with paper ballots, its final result, and turnout of the members checked in that day."""

from __future__ import annotations

from typing import Any

import httpx
from support.client import Device, join
from support.record import table_at_results

Stack = Any  # tests/server/conftest.py: server, assembly, kind


async def facilitator(stack: Stack) -> Device:
    return await Device.connect(stack.server.ws_url, stack.assembly["facilitator_token"])


async def seat(stack: Stack, table: int = 0, host: bool = False) -> Device:
    t = stack.assembly["tables"][table]
    joined = await join(stack.server.url, t["host_code"] if host else t["code"])
    return await Device.connect(stack.server.ws_url, joined["token"])


async def test_a_card_carries_its_tables_cluster_as_the_server_reads_it(stack: Stack) -> None:
    """card.send takes only ids from a device: the title, notes and dots come from the table's
    state; a host may send their own table's cluster, not another table's."""
    fac = await facilitator(stack)
    await fac.ok("activity.start", {"activity": "a1", "prompt": "Hvad skal byen?"}, room="hall")
    host = await seat(stack, 0, host=True)
    await table_at_results(fac, host, "Busser", ["natbus", "billigere kort"], 2)
    other = stack.assembly["tables"][1]["id"]
    refused = await host.cmd("card.send", {"card": "c0", "table": other, "cluster": "k1"}, room="hall")
    assert refused["t"] == "err" and refused["code"] == "forbidden"
    mine = host.room.split(":", 1)[1]
    await host.ok("card.send", {"card": "c1", "table": mine, "cluster": "k1", "title": "Forfalsket", "dots": 99},
                  room="hall")
    ev = await fac.next_ev("card.send", room="hall")
    assert ev["data"]["title"] == "Busser" and ev["data"]["dots"] == 2
    assert ev["data"]["notes"] == ["natbus", "billigere kort"] and ev["data"]["table"] == mine
    again = await fac.cmd("card.send", {"card": "c2", "table": mine, "cluster": "k1"}, room="hall")
    assert again["t"] == "err" and again["code"] == "duplicate_id"
    await fac.ok("theme.add", {"theme": "th1", "title": "Transport"}, room="hall")
    await fac.ok("card.move", {"card": "c1", "theme": "th1"}, room="hall")
    display = await Device.connect(stack.server.ws_url, stack.assembly["display_token"])
    [theme] = display.welcome["rooms"]["hall"]["state"]["synthesis"]["themes"]
    assert theme["tables"] == [mine] and theme["cards"] == ["c1"]


async def test_an_adoption_vote_with_paper_ballots_ends_in_a_result(stack: Stack) -> None:
    """Members checked in vote, the facilitator enters paper ballots, and the final tally after
    the close carries counts with paper added, turnout of those present, and the rule's verdict;
    the recommendation is locked during the vote and marked adopted after."""
    fac = await facilitator(stack)
    display = await Device.connect(stack.server.ws_url, stack.assembly["display_token"])
    members = [await seat(stack, t % 2) for t in range(4)]
    await fac.ok("day.open", {"day": "d1", "label": "Lørdag"}, room="hall")
    for m in members[:3]:
        await m.ok("day.checkin", {}, room="hall")
    await fac.ok("recommendation.add", {"recommendation": "r1", "title": "Flere busser",
                                        "text": "Busser hvert kvarter til landsbyerne."}, room="hall")
    await fac.ok("poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1", "rule": "two_thirds"},
                 room="hall")
    locked = await fac.cmd("recommendation.edit", {"recommendation": "r1", "title": "Færre busser",
                                                   "text": "Nej."}, room="hall")
    assert locked["t"] == "err" and locked["code"] == "wrong_phase"
    for m, choice in zip(members[:3], (0, 0, 1), strict=True):
        await m.ok("vote.cast", {"poll": "p1", "choice": choice}, room="hall")
    await fac.ok("poll.paper", {"poll": "p1", "counts": [2, 0, 1], "paper_voters": 3}, room="hall")
    live = await display.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("voters") == 6, timeout=5)
    assert live["data"]["counts"] == [4, 1, 1] and live["data"]["present"] == 6
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    final = await display.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("final"), timeout=5)
    result = final["data"]["result"]
    assert (result["for"], result["against"], result["abstain"], result["cast"]) == (4, 1, 1, 6)
    assert result["adopted"] is True and result["reason"] == "threshold_met"
    unlock = await display.next_ev("recommendation.unlock", room="hall")
    assert unlock["data"]["adopted"] is True and "device" not in unlock["data"]
    objection = await members[3].cmd("vote.cast", {"poll": "p1", "choice": 1, "reason": "dyrt"}, room="hall")
    assert objection["t"] == "err"


async def test_a_consent_vote_keeps_the_objections_reasons_as_anonymous_statements(stack: Stack) -> None:
    """An objection must carry its reason; the final tally lists the reasons of the objections
    standing at the close, sorted and without devices, and the vote is not adopted."""
    fac = await facilitator(stack)
    display = await Device.connect(stack.server.ws_url, stack.assembly["display_token"])
    a, b, c = [await seat(stack, 0) for _ in range(3)]
    await fac.ok("recommendation.add", {"recommendation": "r1", "title": "Bilfri bymidte",
                                        "text": "Ingen biler i bymidten fra 2030."}, room="hall")
    await fac.ok("poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1", "rule": "consent"},
                 room="hall")
    no_reason = await a.cmd("vote.cast", {"poll": "p1", "choice": 1}, room="hall")
    assert no_reason["t"] == "err" and no_reason["code"] == "invalid_args"
    await a.ok("vote.cast", {"poll": "p1", "choice": 1, "reason": "Handlende mister kunder"}, room="hall")
    await b.ok("vote.cast", {"poll": "p1", "choice": 1, "reason": "Ældre kan ikke komme ind"}, room="hall")
    await b.ok("vote.cast", {"poll": "p1", "choice": 0}, room="hall")  # b changes its mind: no longer objects
    await c.ok("vote.cast", {"poll": "p1", "choice": 0}, room="hall")
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    final = await display.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("final"), timeout=5)
    result = final["data"]["result"]
    assert result["adopted"] is False and result["reason"] == "objection" and result["objections"] == 1
    assert result["minority_statements"] == ["Handlende mister kunder"]
    assert a.you["device"] not in repr(final)
    auth = {"Authorization": f"Bearer {stack.assembly['facilitator_token']}"}
    base = f"{stack.server.url}/api/assemblies/{stack.assembly['assembly']}"
    async with httpx.AsyncClient() as http:
        exported = (await http.get(f"{base}/export.json", headers=auth)).json()
        markdown = (await http.get(f"{base}/export.md", headers=auth)).text
    [poll] = exported["polls"]
    assert poll["minority_statements"] == ["Handlende mister kunder"]
    assert "Handlende mister kunder" in markdown and a.you["device"] not in markdown


async def test_paper_ballots_entered_after_the_last_vote_reach_the_live_tally(stack: Stack) -> None:
    """A paper entry after the digital ballots have been tallied still brings a new tally with
    the paper counts (the entry moves the ballot box on)."""
    fac = await facilitator(stack)
    display = await Device.connect(stack.server.ws_url, stack.assembly["display_token"])
    m = await seat(stack, 0)
    await fac.ok("poll.open", {"poll": "p1", "question": "Kaffe?", "kind": "choice", "options": ["ja", "nej"]},
                 room="hall")
    await m.ok("vote.cast", {"poll": "p1", "choice": 0}, room="hall")
    await display.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("voters") == 1, timeout=5)
    await fac.ok("poll.paper", {"poll": "p1", "counts": [0, 2], "paper_voters": 2}, room="hall")
    tally = await display.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("voters") == 3, timeout=5)
    assert tally["data"]["counts"] == [1, 2] and not tally["data"]["final"]
