"""The facilitator's dashboard in a real Chromium against a real server: it runs the hall (activity,
phases, timer, spotlight, polls) and watches the tables, while member devices play over the socket."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from browser.conftest import LAPTOP, new_page, screenshot, serious_problems, watch_console
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from support.client import Device, join


async def members(hall: dict[str, Any], per_table: list[int]) -> list[Device]:
    """Join and connect `per_table[i]` member devices at table i."""
    server, tables = hall["server"], hall["assembly"]["tables"]
    devices = []
    for i, n in enumerate(per_table):
        for _ in range(n):
            answer = await join(server.url, tables[i]["code"])
            devices.append(await Device.connect(server.ws_url, answer["token"]))
    return devices


async def open_dashboard(browser: Browser, hall: dict[str, Any]) -> tuple[BrowserContext, Page]:
    context, page = await new_page(browser, LAPTOP)
    watch_console(page)
    token = hall["assembly"]["facilitator_token"]
    await page.goto(f"{hall['server'].url}/facilitator?lang=en#token={token}")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")
    return context, page


async def open_display(browser: Browser, hall: dict[str, Any]) -> tuple[BrowserContext, Page]:
    context, page = await new_page(browser, LAPTOP)
    watch_console(page)
    await page.goto(f"{hall['server'].url}/display?lang=en#token={hall['assembly']['display_token']}")
    await expect(page.locator("#stage")).to_have_attribute("data-mode", "prompt")
    return context, page


async def dismiss_messages(page: Page) -> None:
    """Close the confirmations, as a facilitator would, so a screenshot shows the page itself."""
    buttons = page.locator(".message button")
    while await buttons.count():
        await buttons.first.click()


def card(page: Page, table: str) -> Locator:
    return page.locator(f".table-card[data-table='{table}']")


async def test_dashboard_runs_activity_phases_timer_and_spotlight(browser: Browser, hall: dict[str, Any]) -> None:
    server = hall["server"]
    one, two = await members(hall, [1, 1])
    _, page = await open_dashboard(browser, hall)
    _, display = await open_display(browser, hall)

    # The token left the address bar and stays in the browser for the next visit.
    assert "token" not in page.url and page.url.endswith("/facilitator?lang=en")
    stored = await page.evaluate("localStorage.getItem('samling.token.facilitator')")
    assert stored == hall["assembly"]["facilitator_token"]
    assert "token" not in display.url

    # Both tables are in the grid, before any activity.
    await expect(page.locator(".table-card")).to_have_count(2)
    await expect(card(page, "1").locator(".phase-badge")).to_have_text("Not started")

    # Start an activity: every member's table room gets it.
    form = page.locator("#activity-form")
    await expect(form).to_be_visible()
    await form.locator("textarea[name=prompt]").fill("Hvad skal kommunen gøre for klimaet?")
    await form.locator("input[name=dots]").fill("4")
    await form.locator("input[name=max_per_target]").fill("2")
    await form.get_by_role("button", name="Start activity at all tables").click()
    for dev in (one, two):
        ev = await dev.next_ev("activity.start", room=dev.room)
        assert ev["data"]["prompt"] == "Hvad skal kommunen gøre for klimaet?"
        assert (ev["data"]["dots"], ev["data"]["max_per_target"], ev["data"]["show_totals"]) == (4, 2, False)
    await expect(page.locator("#activity-now")).to_have_text("Hvad skal kommunen gøre for klimaet?")
    await expect(card(page, "1").locator(".phase-badge")).to_have_text("Brainstorm")
    await expect(display.locator(".prompt")).to_have_text("Hvad skal kommunen gøre for klimaet?")

    # The grid counts notes live, as members write them.
    await one.ok("note.add", {"note": "n1", "text": "Flere cykelstier"})
    await expect(card(page, "1").locator("[data-stat=notes] b")).to_have_text("1")
    await one.ok("note.add", {"note": "n2", "text": "Gratis busser"})
    await one.ok("note.add", {"note": "n3", "text": "Solceller på skolerne"})
    await two.ok("note.add", {"note": "m1", "text": "Mere natur"})
    await expect(card(page, "1").locator("[data-stat=notes] b")).to_have_text("3")
    await expect(card(page, "2").locator("[data-stat=notes] b")).to_have_text("1")
    await expect(card(page, "1").locator(".card-last")).to_contain_text("just now")

    # The timer: the dashboard and the display count down to the same end.
    await page.get_by_role("button", name="5 min", exact=True).click()
    await expect(page.locator("#timer-left")).to_have_text(re.compile(r"^(5:00|4:5\d)$"))
    timer = display.locator("#timer")
    await expect(timer).to_have_text(re.compile(r"^(5:00|4:5\d)$"))
    first = await timer.text_content()
    await expect(timer).not_to_have_text(first or "", timeout=2500)
    await page.locator("#timer-form input[name=minutes]").fill("1.5")
    await page.locator("#timer-form").get_by_role("button", name="Start timer").click()
    await expect(display.locator("#timer")).to_have_text(re.compile(r"^1:(30|2\d)$"))

    # Phase buttons move every table ...
    await page.locator("#phase-buttons").get_by_role("button", name="Cluster").click()
    for dev in (one, two):
        ev = await dev.next_ev("phase.set", room=dev.room)
        assert ev["data"]["phase"] == "cluster"
    await expect(page.locator("#phase-buttons [data-phase=cluster]")).to_have_attribute("aria-pressed", "true")
    await expect(card(page, "2").locator(".phase-badge")).to_have_text("Cluster")

    # Members cluster at table 1; the grid counts clusters.
    await one.ok("cluster.add", {"cluster": "k1", "title": "Transport"})
    await one.ok("note.move", {"note": "n1", "cluster": "k1"})
    await one.ok("note.move", {"note": "n2", "cluster": "k1"})
    await expect(card(page, "1").locator("[data-stat=clusters] b")).to_have_text("1")

    # ... or one table only.
    await page.locator("#phase-target").select_option("1")
    await page.locator("#phase-buttons").get_by_role("button", name="Vote").click()
    ev = await one.next_ev("phase.set", room=one.room)
    assert ev["data"]["phase"] == "vote"
    await expect(card(page, "1").locator(".phase-badge")).to_have_text("Vote")
    await expect(card(page, "2").locator(".phase-badge")).to_have_text("Cluster")
    await expect(page.locator("#phase-buttons [data-phase=vote]")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#phase-note")).to_be_hidden()
    await page.locator("#phase-target").select_option("")
    await expect(page.locator("#phase-note")).to_contain_text("different phases")

    # Dots at table 1 (dots used in the grid), then table 1 alone to results.
    await one.ok("dot.add", {"target": "k1"})
    await one.ok("dot.add", {"target": "k1"})
    await one.ok("dot.add", {"target": "n3"})
    await expect(card(page, "1").locator("[data-stat=dots] b")).to_have_text("3")

    # Clicking a table opens its board read-only; from there it moves and goes on the display.
    await card(page, "1").click()
    dialog = page.locator("#table-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#td-title")).to_have_text("Bord 1")
    await expect(dialog.locator(".td-cluster")).to_contain_text("Transport")
    await expect(dialog.locator(".td-cluster .note")).to_have_count(2)
    await expect(dialog).to_contain_text("Dot totals are hidden")
    await dialog.locator("#td-phases").get_by_role("button", name="Results").click()
    await expect(dialog.locator(".td-results li")).to_have_count(2)
    await expect(dialog.locator(".td-results li").first).to_contain_text("Transport")
    await expect(dialog.locator(".td-results li").first).to_contain_text("2 dots")
    await dialog.get_by_role("button", name="Spotlight on the display").click()

    await expect(display.locator("#stage")).to_have_attribute("data-mode", "spotlight")
    rows = display.locator(".ranked-row")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text("Transport")
    await expect(rows.nth(0)).to_contain_text("2 dots")
    await expect(rows.nth(1)).to_contain_text("Solceller på skolerne")
    await expect(rows.nth(1)).to_contain_text("1 dot")
    await expect(display.locator(".spot-table")).to_have_text("Bord 1")
    await expect(page.locator("#on-display")).to_contain_text("Bord 1")
    await expect(page.get_by_role("button", name="Update the table's results")).to_be_visible()
    await dismiss_messages(page)
    await screenshot(page, "dashboard-table")
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()
    await dismiss_messages(page)
    await screenshot(page, "dashboard")

    # Clearing the spotlight brings back the prompt and the timer.
    await page.get_by_role("button", name="Show the prompt and timer").click()
    await expect(display.locator("#stage")).to_have_attribute("data-mode", "prompt")
    await page.get_by_role("button", name="Stop timer").click()
    await expect(display.locator("#timer")).to_be_hidden()
    await expect(page.locator("#timer-left")).to_have_attribute("data-state", "none")

    # The export downloads the whole assembly as JSON.
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export (JSON)").click()
    download = await download_info.value
    assert download.suggested_filename == f"samling-{hall['assembly']['assembly']}.json"
    path = await download.path()
    data = json.loads(path.read_text())
    assert data["assembly"] == hall["assembly"]["assembly"]
    assert [a["prompt"] for a in data["activities"]] == ["Hvad skal kommunen gøre for klimaet?"]

    assert page.errors == [] and display.errors == []  # type: ignore[attr-defined]
    assert server.alive


async def test_dashboard_shows_server_refusals_in_plain_words(browser: Browser, hall: dict[str, Any]) -> None:
    _, page = await open_dashboard(browser, hall)
    # A phase before any activity is refused by the server, and the dashboard says so.
    await page.locator("#phase-buttons [data-phase=vote]").evaluate("b => { b.disabled = false; b.click(); }")
    alert = page.locator(".message.error")
    await expect(alert).to_contain_text("start an activity first")
    # A poll with an empty answer never leaves the page.
    await page.locator("#poll-form textarea[name=question]").fill("Er det her et spørgsmål?")
    await page.locator("#poll-form input[data-index='0']").fill("Ja")
    await page.locator("#poll-form").get_by_role("button", name="Open poll").click()
    await expect(page.locator(".message.error").last).to_contain_text("none of them empty")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_dashboard_marks_a_quiet_table(browser: Browser, hall: dict[str, Any]) -> None:
    (one,) = await members(hall, [1])
    context, page = await new_page(browser, LAPTOP)
    watch_console(page)
    await page.clock.install()
    await page.goto(f"{hall['server'].url}/facilitator?lang=en#token={hall['assembly']['facilitator_token']}")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")
    await page.locator("#activity-form textarea[name=prompt]").fill("Idéer")
    await page.get_by_role("button", name="Start activity at all tables").click()
    await one.next_ev("activity.start", room=one.room)
    await expect(card(page, "1").locator(".phase-badge")).to_have_text("Brainstorm")
    await expect(card(page, "1").locator(".quiet-badge")).to_be_hidden()

    await page.clock.fast_forward("03:30")
    await expect(card(page, "1").locator(".quiet-badge")).to_be_visible()
    await expect(card(page, "1").locator(".quiet-badge")).to_contain_text("Quiet for 3 min")
    await expect(card(page, "2").locator(".quiet-badge")).to_contain_text("Quiet for 3 min")
    await expect(page.locator("#tables-summary")).to_contain_text("2 quiet")

    # A note at table 1 wakes it up; table 2 stays quiet.
    await one.ok("note.add", {"note": "n1", "text": "Flere træer"})
    await expect(card(page, "1").locator(".quiet-badge")).to_be_hidden()
    await expect(card(page, "1").locator(".card-last")).to_contain_text("just now")
    await expect(card(page, "2").locator(".quiet-badge")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]
    await context.close()


async def open_poll_from_dashboard(page: Page, question: str, options: list[str], *, hidden: bool = False) -> None:
    form = page.locator("#poll-form")
    await form.locator("textarea[name=question]").fill(question)
    for i, option in enumerate(options):
        if i >= 2:
            await form.get_by_role("button", name="Add an answer").click()
        await form.locator(f"input[data-index='{i}']").fill(option)
    if hidden:
        await form.get_by_label("Hide results until the poll is closed").check()
    await form.get_by_role("button", name="Open poll").click()


async def test_dashboard_poll_with_live_tally(browser: Browser, hall: dict[str, Any]) -> None:
    voters = await members(hall, [2, 1])
    _, page = await open_dashboard(browser, hall)
    _, display = await open_display(browser, hall)

    await open_poll_from_dashboard(page, "Skal byrådet indføre bilfri søndage?", ["Ja", "Nej"])
    ev = await voters[0].next_ev("poll.open", room="hall")
    poll = ev["data"]["poll"]
    assert ev["data"]["options"] == ["Ja", "Nej"] and ev["data"]["hidden"] is False
    live = page.locator(f".poll-live[data-poll='{poll}']")
    await expect(live).to_contain_text("Skal byrådet indføre bilfri søndage?")
    await expect(page.locator("#on-display")).to_contain_text("The open poll")

    for dev, choice in zip(voters, [0, 0, 1], strict=True):
        await dev.ok("vote.cast", {"poll": poll, "choice": choice}, room="hall")

    for where in (live, display.locator(".disp-poll")):
        rows = where.locator(".bar-row")
        await expect(rows.nth(0).locator(".bar-count")).to_have_text("2")
        await expect(rows.nth(0).locator(".bar-pct")).to_have_text(re.compile(r"^67\s?%$"))
        await expect(rows.nth(1).locator(".bar-count")).to_have_text("1")
        await expect(rows.nth(1).locator(".bar-pct")).to_have_text(re.compile(r"^33\s?%$"))
        await expect(where.locator(".turnout")).to_have_text("3 of 3 have voted")
    widths = await display.locator(".bar-fill").evaluate_all("els => els.map(e => e.getAttribute('width'))")
    assert widths == ["66.67", "33.33"]
    await dismiss_messages(page)
    await screenshot(page, "dashboard-poll")
    assert await serious_problems(page) == []

    # Closing: the final result moves to the earlier polls.
    await live.get_by_role("button", name="Close poll").click()
    await expect(live).to_have_count(0)
    past = page.locator(f".poll-past[data-poll='{poll}']")
    await expect(past.locator(".bar-pct").nth(0)).to_have_text(re.compile(r"^67\s?%$"))
    await expect(display.locator(".disp-poll")).to_have_attribute("data-state", "final")
    await expect(page.locator("#on-display")).to_contain_text("The final result")

    # A scale with the agree/disagree preset.
    form = page.locator("#poll-form")
    await form.get_by_label("Scale (3–7 steps)").check()
    await expect(form.locator("input[data-index]")).to_have_count(5)
    await form.locator("textarea[name=question]").fill("Kommunen gør nok for klimaet.")
    await form.get_by_role("button", name="Open poll").click()
    ev = await voters[0].next_ev("poll.open", room="hall")
    assert ev["data"]["kind"] == "scale"
    assert ev["data"]["options"] == ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree",
                                     "Strongly agree"]
    await expect(display.locator(".bar-row")).to_have_count(5)
    assert page.errors == [] and display.errors == []  # type: ignore[attr-defined]


async def test_dashboard_hidden_poll_shows_only_turnout(browser: Browser, hall: dict[str, Any]) -> None:
    voters = await members(hall, [2, 1])
    _, page = await open_dashboard(browser, hall)
    _, display = await open_display(browser, hall)

    await open_poll_from_dashboard(page, "Hvilken plan foretrækker I?", ["Plan A", "Plan B", "Plan C"], hidden=True)
    ev = await voters[0].next_ev("poll.open", room="hall")
    poll = ev["data"]["poll"]
    assert ev["data"]["hidden"] is True and ev["data"]["options"] == ["Plan A", "Plan B", "Plan C"]
    for dev, choice in zip(voters[:2], [2, 2], strict=True):
        await dev.ok("vote.cast", {"poll": poll, "choice": choice}, room="hall")

    live = page.locator(f".poll-live[data-poll='{poll}']")
    await expect(live.locator(".turnout")).to_have_text("2 of 3 have voted")
    await expect(live).to_contain_text("Results hidden until closed")
    await expect(display.locator(".turnout-text")).to_have_text("2 of 3 have voted")
    for where in (live, display.locator("#stage")):
        await expect(where.locator(".bar-row")).to_have_count(0)
        await expect(where.locator(".bar-pct")).to_have_count(0)

    await live.get_by_role("button", name="Close poll").click()
    final = display.locator(".disp-poll[data-state=final]")
    await expect(final.locator(".bar-row")).to_have_count(3)
    await expect(final.locator(".bar-row").nth(2).locator(".bar-count")).to_have_text("2")
    await expect(final.locator(".bar-row").nth(2).locator(".bar-pct")).to_have_text(re.compile(r"^100\s?%$"))
    past = page.locator(f".poll-past[data-poll='{poll}']")
    await expect(past.locator(".bar-count").nth(2)).to_have_text("2")
    assert page.errors == [] and display.errors == []  # type: ignore[attr-defined]


async def test_dashboard_uses_the_stored_token_and_refuses_without_one(browser: Browser,
                                                                       hall: dict[str, Any]) -> None:
    context, page = await open_dashboard(browser, hall)
    await page.goto(f"{hall['server'].url}/facilitator?lang=en")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")
    await expect(page.locator("#assembly-name")).to_have_text("Browsersamling")

    _, fresh = await new_page(browser, LAPTOP)
    watch_console(fresh)
    await fresh.goto(f"{hall['server'].url}/facilitator?lang=en")
    await expect(fresh.locator("#nolink")).to_be_visible()
    await expect(fresh.locator("#dash")).to_be_hidden()
    assert page.errors == [] and fresh.errors == []  # type: ignore[attr-defined]
    await context.close()


async def test_dashboard_keeps_changes_while_offline(browser: Browser, hall: dict[str, Any]) -> None:
    server = hall["server"]
    _, page = await open_dashboard(browser, hall)
    conn = page.locator("#conn-text")
    await expect(conn).to_have_text("Online")

    await asyncio.to_thread(server.stop)
    await expect(page.locator("#conn")).not_to_have_attribute("data-status", "online")
    await expect(conn).to_have_text(re.compile(r"^(Offline|Reconnecting…)$"))
    await page.get_by_role("button", name="2 min", exact=True).click()
    await expect(conn).to_contain_text("1 change waiting")
    await screenshot(page, "dashboard-offline")

    # Back online, the waiting change goes out and the timer runs.
    await asyncio.to_thread(server.start)
    await expect(conn).to_have_text("Online", timeout=20000)
    await expect(page.locator("#timer-left")).to_have_text(re.compile(r"^(2:00|1:5\d)$"))
    assert page.errors == []  # type: ignore[attr-defined]


async def test_dashboard_shows_devices_connected_per_table(browser: Browser, hall: dict[str, Any]) -> None:
    """Each table card counts its connected devices; a table with none is marked offline in words."""
    (one,) = await members(hall, [1])
    context, page = await new_page(browser, LAPTOP)
    await page.goto(f"{hall['server'].url}/facilitator?lang=en#token={hall['assembly']['facilitator_token']}")
    await expect(card(page, "1").locator("[data-stat=devices] b")).to_have_text("1")
    await expect(card(page, "2").locator(".offline-badge")).to_contain_text("No device connected")
    await expect(card(page, "1").locator(".offline-badge")).to_be_hidden()
    await one.close()
    await expect(card(page, "1").locator(".offline-badge")).to_be_visible(timeout=10000)
    await expect(card(page, "1").locator("[data-stat=devices] b")).to_have_text("0")
    assert page.errors == []  # type: ignore[attr-defined]
    await context.close()
