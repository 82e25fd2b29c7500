"""The record for the assembly's report, in its three forms (JSON, a zip of CSV files, Markdown),
over the real protocol on both stores: a small assembly runs from two tables' clusters to an
adopted recommendation, and every figure in every form is the one the votes made, with no
device id and no member's name anywhere."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from typing import Any

import httpx
from support.client import Device, join
from support.processes import TEST_SECRET
from support.record import table_at_results

from rooms import Role
from server.export import md
from server.i18n import gettext_for
from server.tokens import Claims, Tokens

Stack = Any  # tests/server/conftest.py: server, assembly, kind
NAME = "Mette Hansen"
CSV_FILES = {"notes.csv", "clusters.csv", "cards.csv", "themes.csv", "recommendations.csv",
             "recommendation_versions.csv", "polls.csv", "votes.csv", "days.csv", "paper_ballots.csv"}


async def seat(stack: Stack, table: int, host: bool = False) -> Device:
    t = stack.assembly["tables"][table]
    joined = await join(stack.server.url, t["host_code"] if host else t["code"], NAME)
    return await Device.connect(stack.server.ws_url, joined["token"])


async def small_assembly(stack: Stack) -> list[Device]:
    """Two tables' clusters as cards in one theme, a recommendation (written at table 1, edited by
    the facilitator) adopted under two-thirds by 3 digital votes and 3 paper ballots: for 4,
    against 1, abstain 1 of 6 present. Every device that took part, the facilitator first."""
    fac = await Device.connect(stack.server.ws_url, stack.assembly["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a1", "prompt": "Hvad skal byen?"}, room="hall")
    one, two = await seat(stack, 0, host=True), await seat(stack, 1, host=True)
    await table_at_results(fac, one, "Busser", ["natbus", "billigere kort"], 2)
    await table_at_results(fac, two, "Cykler | stier", ["cykelsti *langs* åen"], 1)
    await one.ok("card.send", {"card": "c1", "table": "1", "cluster": "k1"}, room="hall")
    await fac.ok("card.send", {"card": "c2", "table": "2", "cluster": "k1"}, room="hall")
    await fac.ok("theme.add", {"theme": "th1", "title": "Transport"}, room="hall")
    for card in ("c1", "c2"):
        await fac.ok("card.move", {"card": card, "theme": "th1"}, room="hall")
    await fac.ok("day.open", {"day": "d1", "label": "Lørdag"}, room="hall")
    members = [await seat(stack, t % 2) for t in range(3)]
    for m in members:
        await m.ok("day.checkin", {}, room="hall")
    await one.ok("recommendation.add", {"recommendation": "r1", "title": "Flere busser", "theme": "th1",
                                        "text": "Busser hvert kvarter."}, room="hall")
    await fac.ok("recommendation.edit", {"recommendation": "r1", "title": "Flere busser",
                                         "text": "Busser hvert kvarter til landsbyerne."}, room="hall")
    await fac.ok("poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1", "rule": "two_thirds"},
                 room="hall")
    for m, choice in zip(members, (0, 0, 1), strict=True):
        await m.ok("vote.cast", {"poll": "p1", "choice": choice}, room="hall")
    await fac.ok("poll.paper", {"poll": "p1", "counts": [2, 0, 1], "paper_voters": 3}, room="hall")
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("final"), timeout=5)
    return [fac, one, two, *members]


async def get(stack: Stack, rest: str, token: str | None) -> httpx.Response:
    url = f"{stack.server.url}/api/assemblies/{stack.assembly['assembly']}/{rest}"
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        return await http.get(url, headers=headers)


def csv_rows(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    raw = files[name]
    assert raw.startswith(b"\xef\xbb\xbf"), f"{name}: no byte order mark for Excel"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


async def test_every_export_holds_the_votes_as_cast_and_no_one(stack: Stack) -> None:
    """JSON, CSV and Markdown all say for 4, against 1, abstain 1 of 6 present, adopted under
    two-thirds; the themes, cards, versions, days and paper ballots are there; no device id and
    no member's name is in any of them."""
    devices = await small_assembly(stack)
    fac = stack.assembly["facilitator_token"]
    resp = await get(stack, "export.json", fac)
    assert resp.status_code == 200
    data = resp.json()
    [poll] = data["polls"]
    result = poll["result"]
    assert (result["for"], result["against"], result["abstain"], result["cast"], result["present"]) == (4, 1, 1, 6, 6)
    assert (result["for_percent"], result["against_percent"], result["abstain_percent"]) == (80.0, 20.0, 16.7)
    assert result["turnout_percent"] == 100.0 and result["adopted"] is True
    assert poll["rule"]["rule"] == "two_thirds" and poll["minority_statements"] == []
    assert [(e["counts"], e["paper_voters"], e["current"]) for e in poll["paper"]] == [([2, 0, 1], 3, True)]
    assert "by" not in data["paper_ballots"][0]
    [rec] = data["recommendations"]
    assert rec["text"] == "Busser hvert kvarter til landsbyerne." and rec["final_vote"] == "p1"
    assert rec["result"]["adopted"] is True and rec["adopted"] == "p1"
    assert [v["by"] for v in rec["versions"]] == [{"role": "host", "table": "1"},
                                                  {"role": "facilitator", "table": None}]
    [theme] = data["synthesis"]["themes"]
    assert theme["title"] == "Transport" and theme["table_names"] == ["Bord 1", "Bord 2"]
    assert [(k["title"], k["table_name"], k["dots"]) for k in data["synthesis"]["cards"]] == \
        [("Busser", "Bord 1", 2), ("Cykler | stier", "Bord 2", 1)]
    assert [(d["label"], d["present"]) for d in data["days"]] == [("Lørdag", 3)]
    [step] = data["trail"]
    assert [k["notes"] for k in step["cards"]] == [["natbus", "billigere kort"], ["cykelsti *langs* åen"]]
    assert step["recommendations"][0]["votes"][0]["adopted"] is True

    zipped = await get(stack, "export.zip", fac)
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as z:
        files = {name: z.read(name) for name in z.namelist()}
    assert set(files) == CSV_FILES
    [vote] = csv_rows(files, "votes.csv")
    assert {k: vote[k] for k in ("for", "against", "abstain", "cast", "present", "adopted", "rule")} == \
        {"for": "4", "against": "1", "abstain": "1", "cast": "6", "present": "6", "adopted": "true",
         "rule": "two_thirds"}
    assert (vote["for_percent"], vote["against_percent"], vote["abstain_percent"]) == ("80.0", "20.0", "16.7")
    notes = csv_rows(files, "notes.csv")
    assert [(n["table_name"], n["text"], n["cluster_title"], n["cluster_dots"]) for n in notes] == \
        [("Bord 1", "natbus", "Busser", "2"), ("Bord 1", "billigere kort", "Busser", "2"),
         ("Bord 2", "cykelsti *langs* åen", "Cykler | stier", "1")]
    assert [(d["label"], d["present"]) for d in csv_rows(files, "days.csv")] == [("Lørdag", "3")]
    assert [(v["version"], v["by_role"]) for v in csv_rows(files, "recommendation_versions.csv")] == \
        [("1", "host"), ("2", "facilitator")]
    [paper] = csv_rows(files, "paper_ballots.csv")
    assert (paper["counts"], paper["paper_voters"]) == ("for: 2; against: 0; abstain: 1", "3")
    [latest] = csv_rows(files, "recommendations.csv")
    assert latest["text"] == "Busser hvert kvarter til landsbyerne." and latest["adopted"] == "true"
    assert [t["tables"] for t in csv_rows(files, "themes.csv")] == ["Bord 1; Bord 2"]

    da = await get(stack, "export.md", fac)
    en = await get(stack, "export.md?lang=en", fac)
    assert da.status_code == en.status_code == 200
    assert da.headers["content-type"].startswith("text/markdown")
    yes = gettext_for("da")("Adopted")
    assert yes != "Adopted" and f"**{yes}**" in da.text
    for figure in ("4 (80,0 %)", "1 (20,0 %)", "1 (16,7 %)", "(100,0 %)"):
        assert figure in da.text, figure
    assert "**Adopted**" in en.text and "4 (80.0 %)" in en.text and "6 of 6 present" in en.text
    assert "Cykler \\| stier" in en.text and "cykelsti \\*langs\\* åen" in en.text

    texts = [resp.text, da.text, en.text, *(f.decode("utf-8-sig") for f in files.values())]
    ids = [d.you["device"] for d in devices]
    for text in texts:
        assert NAME not in text and "Mette" not in text
        for device in ids:
            assert device not in text, device


async def test_the_exports_need_this_assemblys_facilitator(stack: Stack) -> None:
    """Without a token, or with a member's or the display's, every export is 403; a genuine
    facilitator token for an assembly the store lacks is 404."""
    member = await join(stack.server.url, stack.assembly["tables"][0]["code"])
    for rest in ("export.json", "export.zip", "export.md"):
        for token in (None, "nonsense", member["token"], stack.assembly["display_token"]):
            resp = await get(stack, rest, token)
            assert resp.status_code == 403, (rest, token)
            assert resp.json()["error"] == "forbidden"
    ghost = Tokens(TEST_SECRET).issue(Claims("a000000000000", "f1", Role.FACILITATOR, None))
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        for rest in ("export.json", "export.zip", "export.md"):
            resp = await http.get(f"{stack.server.url}/api/assemblies/a000000000000/{rest}",
                                  headers={"Authorization": f"Bearer {ghost}"})
            assert resp.status_code == 404 and resp.json()["error"] == "unknown_assembly"


def test_people_s_words_cannot_make_markdown() -> None:
    """A title or note with Markdown's characters shows them as written, on one line."""
    assert md("a|b *c* [x](y)\n# d") == "a\\|b \\*c\\* \\[x\\](y) \\# d"
    assert md("æøå") == "æøå"


def test_the_report_page_is_safe_to_serve(stack: Stack) -> None:
    """/facilitator/report renders in Danish with the strict CSP, no inline script or style, and
    every script and style sheet it links exists."""
    with httpx.Client(base_url=stack.server.url, trust_env=False, timeout=10) as http:
        resp = http.get("/facilitator/report")
        assert resp.status_code == 200 and '<html lang="da">' in resp.text
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        html = resp.text
        for attrs, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I):
            assert "src=" in attrs and not body.strip()
        assert not re.search(r"<style\b|\sstyle\s*=|\son[a-z]+\s*=", html, re.I)
        linked = re.findall(r"""<(?:script|link)\b[^>]*(?:src|href)\s*=\s*["'](/[^"']*)""", html, re.I)
        assert "/static/js/report.js" in linked and "/static/css/report.css" in linked
        for url in linked:
            assert http.get(url).status_code == 200, url
        english = http.get("/facilitator/report?assembly=a1&lang=en").text
        assert "Print / save as PDF" in english and 'href="/facilitator/report?assembly=a1&amp;lang=da"' in english


async def test_an_assembly_without_themes_or_days_exports_whole(stack: Stack) -> None:
    """No days, no themes, a recommendation of no theme that was never voted on and a plain poll:
    every form still answers, the recommendation sits in the trail under no theme, and the CSV
    files of what is missing have their header row only."""
    fac = await Device.connect(stack.server.ws_url, stack.assembly["facilitator_token"])
    await fac.ok("recommendation.add", {"recommendation": "r1", "title": "Grønne tage", "text": "1. Alle tage"},
                 room="hall")
    await fac.ok("poll.open", {"poll": "p1", "question": "Kaffe?", "kind": "choice", "options": ["Ja", "Nej"]},
                 room="hall")
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("final"), timeout=5)
    token = stack.assembly["facilitator_token"]
    data = (await get(stack, "export.json", token)).json()
    assert data["days"] == [] and data["synthesis"]["themes"] == [] and data["paper_ballots"] == []
    assert data["trail"] == [{"theme": None, "title": None, "table_names": [], "cards": [], "recommendations": [
        {"recommendation": "r1", "title": "Grønne tage", "withdrawn": False, "adopted": False, "votes": []}]}]
    assert data["recommendations"][0]["final_vote"] is None and "minority_statements" not in data["polls"][0]
    with zipfile.ZipFile(io.BytesIO((await get(stack, "export.zip", token)).content)) as z:
        files = {name: z.read(name) for name in z.namelist()}
    for name in ("days.csv", "votes.csv", "cards.csv", "themes.csv", "paper_ballots.csv", "notes.csv"):
        assert csv_rows(files, name) == [], name
    [poll] = csv_rows(files, "polls.csv")
    assert (poll["question"], poll["counts"], poll["open"]) == ("Kaffe?", "Ja: 0; Nej: 0", "false")
    text = (await get(stack, "export.md?lang=en", token)).text
    assert "No themes." in text and "Not voted on." in text and "(no theme)" in text and "1\\. Alle tage" in text
    assert "### Kaffe?" in text and "- Ja: 0" in text
