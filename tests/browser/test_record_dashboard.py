"""The record on the facilitator's dashboard in a real Chromium against a real server, in Danish as the
hall uses it: two tables' clusters sent to the hall board, grouped into a theme by tapping, the theme
renamed, a recommendation written and edited, an adoption vote by two-thirds with two members voting
over the socket and paper ballots entered on the dashboard, closed, and shown adopted with its numbers."""

from __future__ import annotations

import re
from typing import Any

from browser.conftest import LAPTOP, TABLET, drag, new_page, screenshot, watch_console
from browser.test_accessibility import problems
from playwright.async_api import Browser, Locator, Page, expect
from support.client import Device, join


async def seat(hall: dict[str, Any], table: int) -> Device:
    answer = await join(hall["server"].url, hall["assembly"]["tables"][table]["code"])
    return await Device.connect(hall["server"].ws_url, answer["token"])


async def cluster(member: Device, notes: list[str], title: str) -> None:
    """Cluster every note of the member's table under one `title` (the table is in its cluster phase)."""
    await member.ok("cluster.add", {"cluster": "k1", "title": title})
    for i in range(len(notes)):
        await member.ok("note.move", {"note": f"n{i}", "cluster": "k1"})


async def both_tables_at_results(boss: Device, one: Device, two: Device) -> None:
    """Table 1 clusters "Busser" (2 dots), table 2 "Flere busser" (1 dot); both reach their results."""
    await boss.ok("activity.start", {"activity": "a1", "prompt": "Hvordan kommer vi rundt?"}, room="hall")
    tables = {one: ["Flere busser om aftenen", "Billigere buskort"], two: ["Flere busser om aftenen"]}
    for member, notes in tables.items():
        await member.next_ev("activity.start", room=member.room)
        for i, text in enumerate(notes):
            await member.ok("note.add", {"note": f"n{i}", "text": text})
    await boss.ok("phase.set", {"phase": "cluster"}, room="hall")
    for member in tables:
        await member.next_ev("phase.set", room=member.room)
    await cluster(one, tables[one], "Busser")
    await cluster(two, tables[two], "Flere busser")
    await boss.ok("phase.set", {"phase": "vote"}, room="hall")
    for member in tables:
        await member.next_ev("phase.set", room=member.room)
    await one.ok("dot.add", {"target": "k1"})
    await one.ok("dot.add", {"target": "k1"})
    await two.ok("dot.add", {"target": "k1"})
    await boss.ok("phase.set", {"phase": "results"}, room="hall")


async def send_clusters(page: Page, table: str) -> None:
    await page.locator(f".table-card[data-table='{table}'] .card-open").click()
    dialog = page.locator("#table-dialog")
    await expect(dialog.locator("#td-phase")).to_have_attribute("data-phase", "results")
    await dialog.locator("#td-send").click()
    await expect(page.locator(".syn-card .syn-from", has_text=f"Bord {table}")).to_have_count(1)
    await dialog.locator("#td-close").click()


def card(where: Page | Locator, table: str) -> Locator:
    """A card of the hall board, by the table it came from."""
    page = where if isinstance(where, Page) else where.page
    return where.locator(".syn-card").filter(has=page.locator(".syn-from", has_text=f"Bord {table}"))


def column(page: Page, title: str) -> Locator:
    return page.locator(".syn-col").filter(has=page.locator(".syn-col-title", has_text=title))


async def test_from_table_clusters_to_an_adopted_recommendation(browser: Browser, hall: dict[str, Any]) -> None:
    server, assembly = hall["server"], hall["assembly"]
    boss = await Device.connect(server.ws_url, assembly["facilitator_token"])
    one, two = await seat(hall, 0), await seat(hall, 1)
    await both_tables_at_results(boss, one, two)

    _, page = await new_page(browser, LAPTOP)
    watch_console(page)
    await page.goto(f"{server.url}/facilitator#token={assembly['facilitator_token']}")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")

    # A day opens; a member checks in on their tablet and the dashboard counts them.
    await page.locator("#day-form input[name=label]").fill("Lørdag 14. oktober")
    await page.locator("#day-form [type=submit]").click()
    await expect(page.locator("#day-now")).to_contain_text("Lørdag 14. oktober")
    await one.ok("day.checkin", {}, room="hall")
    await expect(page.locator("#day-present")).to_have_text("1 deltager har tjekket ind i dag")
    # Table 2's member has not checked in: the facilitator counts their device present.
    await page.locator(".table-card[data-table='2'] .card-devices").click()
    devices = page.locator("#devices-dialog")
    await expect(devices.locator(".dd-mark")).to_have_count(2)
    assert await problems(page) == []
    await devices.locator(".dd-mark[data-present=true]").click()
    await expect(page.locator("#day-present")).to_have_text("2 deltagere har tjekket ind i dag")
    await devices.locator("#dd-close").click()

    # Both tables' clusters go to the hall board (from the table's board, or from its card in the
    # grid), with their provenance; they read alike.
    await send_clusters(page, "1")
    grid_send = page.locator(".table-card[data-table='2'] .card-send")
    await expect(grid_send).to_have_text("→Send 1 gruppe til salens tavle")
    await grid_send.click()
    await expect(grid_send).to_be_hidden()
    await expect(page.locator(".table-card[data-table='1'] .card-send")).to_be_hidden()
    cards = page.locator(".syn-card")
    await expect(cards).to_have_count(2)
    first = card(page, "1")
    await expect(first.locator(".syn-title")).to_have_text("Busser")
    await expect(first.locator(".syn-from")).to_have_text("Bord 1 · 2 prikker")
    await expect(page.locator(".syn-card.dup")).to_have_count(2)
    await expect(first.locator(".syn-dup")).to_contain_text("Bord 2")
    await expect(card(page, "2").locator(".syn-dup")).to_contain_text("Bord 1")
    await first.locator(".syn-notes summary").click()
    await expect(first.locator(".syn-notes .note")).to_have_text(["Flere busser om aftenen", "Billigere buskort"])

    # A theme; both cards go in by tapping the card, then the theme.
    await page.locator("#theme-form input[name=title]").fill("Transport")
    await page.locator("#theme-form [type=submit]").click()
    theme = column(page, "Transport")
    await expect(theme).to_have_count(1)
    for table in ("1", "2"):
        await card(page, table).locator(".syn-pick").click()
        await expect(page.locator("#syn-selection")).to_be_visible()
        await theme.locator(".syn-col-title").click()
        await expect(card(theme, table)).to_have_count(1)
    await expect(theme.locator(".syn-col-title")).to_contain_text("3 prikker")

    # Renamed.
    await theme.locator(".syn-rename").click()
    await theme.locator(".syn-tool input[name=title]").fill("Kollektiv trafik")
    await theme.locator(".syn-tool input[name=title]").press("Enter")
    theme = column(page, "Kollektiv trafik")
    await expect(theme.locator(".syn-card")).to_have_count(2)

    # A recommendation on the theme, then edited: a second version.
    await page.locator("#rec-new > summary").click()
    form = page.locator("#rec-form")
    await form.locator("input[name=title]").fill("Busser hver halve time")
    await form.locator("textarea[name=text]").fill("Kommunen sætter busser ind hver halve time.")
    await form.locator("select[name=theme]").select_option(label="Kollektiv trafik")
    await form.locator("[type=submit]").click()
    rec = page.locator(".rec")
    await expect(rec).to_have_count(1)
    await expect(rec.locator(".rec-meta").first).to_contain_text("facilitator")
    await expect(rec.locator(".rec-meta").first).to_contain_text("Kollektiv trafik")
    await rec.locator(".rec-edit-button").click()
    await rec.locator(".rec-edit textarea").fill("Kommunen sætter busser ind hver halve time, også om aftenen.")
    await rec.locator(".rec-edit [type=submit]").click()
    await expect(rec.locator(".rec-text")).to_contain_text("også om aftenen")
    await expect(rec.locator(".rec-meta").first).to_contain_text("2 udgaver")

    # An adoption vote by two-thirds; the recommendation is locked meanwhile.
    await rec.locator(".rec-vote").click()
    dialog = page.locator("#adoption-dialog")
    await expect(dialog).to_be_visible()
    await dialog.locator("input[name=rule][value=two_thirds]").check()
    assert await problems(page) == []
    await dialog.locator("[type=submit]").click()
    opened = await one.next_ev("poll.open", room="hall")
    poll = opened["data"]["poll"]
    assert opened["data"]["kind"] == "adoption" and opened["data"]["rule"]["rule"] == "two_thirds"
    await expect(dialog).to_be_hidden()
    await expect(rec).to_have_attribute("data-state", "locked")
    live = page.locator(f".poll-live[data-poll='{poll}']")
    await expect(live.locator(".poll-q")).to_have_text("Busser hver halve time")
    await expect(live.locator(".bar-label")).to_have_text(["For", "Imod", "Undlader at stemme"])

    # Paper ballots are entered on the dashboard, and two members vote over the socket. (The paper
    # goes in first: the server publishes a new tally when a ballot changes, so a paper entry after
    # the last ballot shows only in the final count.)
    await live.locator(".paper-fold > summary").click()
    await live.locator("input[name=count-0]").fill("2")
    await live.locator("input[name=count-1]").fill("0")
    await live.locator("input[name=count-2]").fill("1")
    await live.locator("input[name=paper_voters]").fill("3")
    await live.locator(".paper-form [type=submit]").click()
    await expect(live.locator(".paper-last")).to_contain_text("3 papirstemmer i alt")
    await one.ok("vote.cast", {"poll": poll, "choice": 0}, room="hall")
    await two.ok("vote.cast", {"poll": poll, "choice": 1}, room="hall")
    await expect(live.locator(".turnout")).to_have_text("5 af 5 til stede har stemt")
    await expect(live.locator(".bar-count")).to_have_text(["3", "1", "1"])
    await expect(live.locator(".paper-last")).to_contain_text("For 2, Imod 0, Undlader at stemme 1")
    await screenshot(page, "dashboard-record")
    assert await problems(page) == []
    await page.set_viewport_size(TABLET)
    await page.wait_for_timeout(150)
    assert await problems(page) == []
    await page.set_viewport_size(LAPTOP)

    # Closed: adopted, 3 for and 1 against of 4 (75 %), 1 abstained of 5 (20 %).
    await live.locator(".poll-head .btn-danger").click()
    past = page.locator(f".poll-past[data-poll='{poll}']")
    await expect(past.locator(".result-word")).to_have_text("Vedtaget")
    await expect(past.locator("[data-part=for]")).to_contain_text(re.compile(r"75\s?%"))
    await expect(past.locator("[data-part=against]")).to_contain_text(re.compile(r"25\s?%"))
    await expect(past.locator("[data-part=abstain]")).to_contain_text(re.compile(r"20\s?%"))
    await expect(past.locator("[data-part=turnout]")).to_contain_text(re.compile(r"5 af 5.*100\s?%"))
    await expect(rec).to_have_attribute("data-state", "adopted")
    await expect(rec.locator(".rec-state")).to_contain_text("Vedtaget")
    await screenshot(page, "dashboard-record-adopted")

    # The exports download with the facilitator's token; the report opens in its own tab.
    for button, ext in (("#export-zip", "zip"), ("#export-md", "md")):
        async with page.expect_download() as download_info:
            await page.locator(button).click()
        download = await download_info.value
        assert download.suggested_filename == f"samling-{assembly['assembly']}.{ext}"
        body = (await download.path()).read_bytes()
        assert body.startswith(b"PK") if ext == "zip" else "Busser hver halve time" in body.decode()
    href = await page.locator("#report-link").get_attribute("href")
    assert href == f"/facilitator/report?assembly={assembly['assembly']}#token={assembly['facilitator_token']}"
    async with page.context.expect_page() as report_info:
        await page.locator("#report-link").click()
    report = await report_info.value
    await expect(report.locator("main")).to_contain_text("Busser hver halve time")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_board_by_drag_merge_split_and_withdraw_and_a_slate(browser: Browser, hall: dict[str, Any]) -> None:
    """A card dragged into a theme, another put in a second theme; the themes merged; a card taken
    out and one withdrawn; a theme removed. Then a recommendation withdrawn, and two put to a
    consent vote together as a slate, with results hidden."""
    server, assembly = hall["server"], hall["assembly"]
    boss = await Device.connect(server.ws_url, assembly["facilitator_token"])
    one, two = await seat(hall, 0), await seat(hall, 1)
    await both_tables_at_results(boss, one, two)
    _, page = await new_page(browser, LAPTOP)
    watch_console(page)
    await page.goto(f"{server.url}/facilitator#token={assembly['facilitator_token']}")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")
    await send_clusters(page, "1")
    await send_clusters(page, "2")

    for title in ("Busser", "Trafik"):
        await page.locator("#theme-form input[name=title]").fill(title)
        await page.locator("#theme-form [type=submit]").click()
        await expect(column(page, title)).to_have_count(1)
    await drag(page, card(page, "1").locator(".syn-pick"), column(page, "Busser").locator(".syn-cards"))
    await expect(card(column(page, "Busser"), "1")).to_have_count(1)
    await card(page, "2").locator(".syn-pick").click()
    await column(page, "Trafik").locator(".syn-here").click()
    await expect(card(column(page, "Trafik"), "2")).to_have_count(1)

    # Trafik merged into Busser: one theme with both cards.
    await column(page, "Trafik").locator(".syn-merge").click()
    await column(page, "Trafik").locator(".syn-tool select").select_option(label="Busser")
    await column(page, "Trafik").locator(".syn-tool .btn-primary").click()
    await expect(column(page, "Trafik")).to_have_count(0)
    await expect(column(page, "Busser").locator(".syn-card")).to_have_count(2)

    # Table 2's card split out to unsorted, then withdrawn; the theme removed.
    await card(page, "2").locator(".syn-out").click()
    await expect(card(page.locator(".syn-unsorted"), "2")).to_have_count(1)
    await card(page, "2").locator(".syn-withdraw").click()
    await card(page, "2").locator(".btn-danger").click()
    await expect(page.locator(".syn-card")).to_have_count(1)
    await expect(page.locator(".syn-dup")).to_have_count(0)
    await column(page, "Busser").locator(".syn-remove").click()
    await column(page, "Busser").locator(".syn-confirm .btn-danger").click()
    await expect(page.locator(".syn-col")).to_have_count(1)
    await expect(card(page.locator(".syn-unsorted"), "1")).to_have_count(1)

    # Three recommendations (one from table 1's host); one withdrawn on the dashboard.
    host = await Device.connect(server.ws_url, (await join(server.url, assembly["tables"][0]["host_code"]))["token"])
    await host.ok("recommendation.add", {"recommendation": "r1", "title": "Natbusser", "text": "Busser om natten."},
                  room="hall")
    for rec, title in (("r2", "Cykelstier"), ("r3", "Gratis færger")):
        await boss.ok("recommendation.add", {"recommendation": rec, "title": title, "text": f"{title} til alle."},
                      room="hall")
    recs = page.locator(".rec")
    await expect(recs).to_have_count(3)
    natbus = page.locator(".rec[data-recommendation=r1]")
    await expect(natbus.locator(".rec-meta").first).to_contain_text("Bord 1 (vært)")
    ferry = page.locator(".rec[data-recommendation=r3]")
    await ferry.locator(".rec-withdraw").click()
    await ferry.locator(".rec-confirm .btn-danger").click()
    await expect(ferry).to_have_attribute("data-state", "withdrawn")
    await expect(ferry.locator(".rec-state")).to_have_text("Trukket tilbage")
    await expect(ferry.locator("input[type=checkbox]")).to_have_count(0)

    # A slate: both open recommendations, one consent vote each, results hidden.
    for rec in ("r1", "r2"):
        await page.locator(f".rec[data-recommendation={rec}] input[type=checkbox]").check()
    await expect(page.locator("#slate-text")).to_have_text("2 anbefalinger valgt")
    await page.locator("#slate-open").click()
    dialog = page.locator("#adoption-dialog")
    await expect(dialog.locator("#ad-recs li")).to_have_text(["Natbusser", "Cykelstier"])
    await dialog.locator("input[name=rule][value=consent]").check()
    await dialog.locator("input[name=quorum_kind][value=count]").check()
    await dialog.locator("input[name=quorum_value]").fill("2")
    await dialog.locator("input[name=hidden]").check()
    await dialog.locator("[type=submit]").click()
    opened = [await one.next_ev("poll.open", room="hall") for _ in range(2)]
    assert {ev["data"]["recommendation"] for ev in opened} == {"r1", "r2"}
    slates = {ev["data"]["slate"] for ev in opened}
    assert len(slates) == 1 and None not in slates
    assert all(ev["data"]["rule"] == {"rule": "consent", "threshold": None, "quorum": 2, "quorum_percent": None,
                                      "hidden": True} for ev in opened)
    live = page.locator(".poll-live")
    await expect(live).to_have_count(2)
    await expect(live.first.locator(".rule-badge")).to_contain_text("Samtykke")
    await expect(live.first).to_contain_text("Del af en samlet runde")
    await expect(page.locator("#slate-bar")).to_be_hidden()
    await expect(page.locator(".rec[data-state=locked]")).to_have_count(2)
    polls = [ev["data"]["poll"] for ev in opened]
    await one.ok("vote.cast", {"poll": polls[0], "choice": 0}, room="hall")
    await two.ok("vote.cast", {"poll": polls[0], "choice": 1, "reason": "Det bliver for dyrt"}, room="hall")
    first = page.locator(f".poll-live[data-poll='{polls[0]}']")
    await expect(first.locator(".turnout")).to_have_text("2 af 3 til stede har stemt")  # the host joined too
    await expect(first.locator(".bar-row")).to_have_count(0)

    # Closed: an objection stops the first (its reason shown, with no name); too few voted on the second.
    for poll in polls:
        await page.locator(f".poll-live[data-poll='{poll}'] .poll-head .btn-danger").click()
    past = page.locator(f".poll-past[data-poll='{polls[0]}']")
    await expect(past.locator(".result-word")).to_have_text("Ikke vedtaget")
    await expect(past.locator(".result-reason")).to_have_text("Nogen gjorde indsigelse.")
    await expect(past.locator(".result-statements li")).to_have_text(["Det bliver for dyrt"])
    await expect(past.locator(".bar-label")).to_have_text(["Samtykke", "Indsigelse", "Undlader at stemme"])
    await expect(past.locator(".bar-count")).to_have_text(["1", "1", "0"])
    other = page.locator(f".poll-past[data-poll='{polls[1]}']")
    await expect(other.locator(".result-reason")).to_have_text("Der stemte for få til, at afstemningen gælder.")
    for ev in opened:
        rec = page.locator(f".rec[data-recommendation={ev['data']['recommendation']}]")
        await expect(rec.locator(".rec-state")).to_have_text("Ikke vedtaget")
        await expect(rec).to_have_attribute("data-state", "open")
    await screenshot(page, "dashboard-record-slate")
    assert page.errors == []  # type: ignore[attr-defined]
