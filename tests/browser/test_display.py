"""The plenary display in a real Chromium against a real server: the facilitator and the members
play over the socket, and the display shows, in priority, a poll, a spotlighted table, or the
prompt and the timer, large enough for the back of a hall."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from browser.conftest import LAPTOP, new_page, screenshot, serious_problems, watch_console
from playwright.async_api import Browser, BrowserContext, Page, expect
from support.client import Device, join

FULL_HD = {"width": 1920, "height": 1080}
BOX = "e => [e.getBoundingClientRect().top, e.getBoundingClientRect().bottom]"


async def facilitator(hall: dict[str, Any]) -> Device:
    return await Device.connect(hall["server"].ws_url, hall["assembly"]["facilitator_token"])


async def member(hall: dict[str, Any], table: int = 0) -> Device:
    answer = await join(hall["server"].url, hall["assembly"]["tables"][table]["code"])
    return await Device.connect(hall["server"].ws_url, answer["token"])


async def open_display(browser: Browser, hall: dict[str, Any], viewport: dict[str, int] = LAPTOP
                       ) -> tuple[BrowserContext, Page]:
    context, page = await new_page(browser, viewport)
    watch_console(page)
    await page.goto(f"{hall['server'].url}/display?lang=en#token={hall['assembly']['display_token']}")
    await expect(page.locator("#stage")).not_to_have_attribute("data-mode", "loading")
    return context, page


async def test_display_shows_prompt_and_counts_down(browser: Browser, hall: dict[str, Any]) -> None:
    boss = await facilitator(hall)
    _, page = await open_display(browser, hall)

    # The token left the address bar and is kept for the next visit.
    assert "token" not in page.url
    assert await page.evaluate("localStorage.getItem('samling.token.display')") == hall["assembly"]["display_token"]
    # Before any activity: the assembly's name, no timer, no controls.
    await expect(page.locator(".prompt")).to_have_text("Browsersamling")
    await expect(page.locator("#timer")).to_be_hidden()
    assert await page.locator("main button, main input, main a[href], main select, main textarea").count() == 0

    await boss.ok("activity.start", {"activity": "a1", "prompt": "Hvordan får flere unge lyst til at blive boende?"},
                  room="hall")
    await expect(page.locator(".prompt")).to_have_text("Hvordan får flere unge lyst til at blive boende?")
    await expect(page.locator(".kicker")).to_have_text("Brainstorm")

    await boss.ok("timer.start", {"seconds": 600}, room="hall")
    timer = page.locator("#timer")
    await expect(timer).to_have_text(re.compile(r"^(10:00|9:5\d)$"))
    first = await timer.text_content()
    await expect(timer).not_to_have_text(first or "", timeout=2500)
    await screenshot(page, "display-prompt")

    # The same screen on a 1080p projector: the prompt and the timer still fit without scrolling.
    _, big = await open_display(browser, hall, FULL_HD)
    await expect(big.locator("#timer")).to_have_text(re.compile(r"^9:5\d$"))
    size = await big.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert size == [1920, 1080]
    await screenshot(big, "display-prompt-1080")

    # A timer that runs out says so; a stopped one disappears.
    await boss.ok("timer.start", {"seconds": 1}, room="hall")
    await expect(timer).to_have_text("Time is up", timeout=3000)
    await boss.ok("timer.stop", {}, room="hall")
    await expect(timer).to_be_hidden()
    await boss.ok("phase.set", {"phase": "cluster"}, room="hall")
    await expect(page.locator(".kicker")).to_have_text("Cluster")
    assert page.errors == [] and big.errors == []  # type: ignore[attr-defined]


async def test_display_shows_a_spotlighted_table_ranked(browser: Browser, hall: dict[str, Any]) -> None:
    boss = await facilitator(hall)
    seat = await member(hall, 0)
    _, page = await open_display(browser, hall)
    await boss.ok("activity.start", {"activity": "a1", "prompt": "Hvad skal byen bruge pengene på?"}, room="hall")
    await seat.next_ev("activity.start", room=seat.room)
    for i, text in enumerate(["Legepladser", "Cykelstier", "Bænke ved åen", "Busser om natten",
                              "Et nyt bibliotek"]):
        await seat.ok("note.add", {"note": f"n{i}", "text": text})
    await boss.ok("phase.set", {"phase": "cluster"}, room="hall")
    await seat.ok("cluster.add", {"cluster": "k1", "title": "Trafik"})
    await seat.ok("note.move", {"note": "n1", "cluster": "k1"})
    await seat.ok("note.move", {"note": "n3", "cluster": "k1"})
    await seat.ok("cluster.add", {"cluster": "k2", "title": "Byens rum"})
    await seat.ok("note.move", {"note": "n0", "cluster": "k2"})
    await seat.ok("note.move", {"note": "n2", "cluster": "k2"})
    await boss.ok("phase.set", {"phase": "vote"}, room="hall")
    for target in ["k2", "k2", "k2", "n4", "k1"]:
        await seat.ok("dot.add", {"target": target})

    # Spotlit while the dots are hidden: titles in order, no dots.
    await boss.ok("spotlight", {"table": "1"}, room="hall")
    rows = page.locator(".ranked-row")
    await expect(rows).to_have_count(3)
    await expect(page.locator(".ranked-dots")).to_have_count(0)

    # In results: ranked by dots, each with its count.
    await boss.ok("phase.set", {"phase": "results"}, room="hall")
    await boss.ok("spotlight", {"table": "1"}, room="hall")
    await expect(page.locator(".ranked-dots")).to_have_count(3)
    await expect(page.locator(".spot-table")).to_have_text("Bord 1")
    await expect(rows.nth(0).locator(".ranked-title")).to_have_text("Byens rum")
    await expect(rows.nth(0).locator(".ranked-dots")).to_have_text("3 dots")
    await expect(rows.nth(1).locator(".ranked-title")).to_have_text("Trafik")
    await expect(rows.nth(1).locator(".ranked-dots")).to_have_text("1 dot")
    await expect(rows.nth(2).locator(".ranked-title")).to_have_text("Et nyt bibliotek")
    await screenshot(page, "display-spotlight")

    # Clearing the spotlight brings back the prompt.
    await boss.ok("spotlight", {"table": None}, room="hall")
    await expect(page.locator("#stage")).to_have_attribute("data-mode", "prompt")
    await expect(page.locator(".prompt")).to_have_text("Hvad skal byen bruge pengene på?")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_display_poll_bars_and_final_result(browser: Browser, hall: dict[str, Any]) -> None:
    boss = await facilitator(hall)
    voters = [await member(hall, 0), await member(hall, 0), await member(hall, 1)]
    _, page = await open_display(browser, hall)
    await boss.ok("activity.start", {"activity": "a1", "prompt": "Idéer til havnen"}, room="hall")
    await boss.ok("spotlight", {"table": "2"}, room="hall")
    await expect(page.locator("#stage")).to_have_attribute("data-mode", "spotlight")

    # An open poll goes before the spotlight.
    await boss.ok("poll.open", {"poll": "p1", "question": "Skal havnebadet være åbent om vinteren?",
                                "kind": "choice", "options": ["Ja", "Nej"]}, room="hall")
    await expect(page.locator("#stage")).to_have_attribute("data-mode", "poll")
    await expect(page.locator(".question")).to_have_text("Skal havnebadet være åbent om vinteren?")
    await expect(page.locator(".turnout")).to_have_text("0 of 3 have voted")  # the opening tally knows N

    for dev, choice in zip(voters, [0, 0, 1], strict=True):
        await dev.ok("vote.cast", {"poll": "p1", "choice": choice}, room="hall")
    rows = page.locator(".bar-row")
    await expect(rows.nth(0).locator(".bar-label")).to_have_text("Ja")
    await expect(rows.nth(0).locator(".bar-count")).to_have_text("2")
    await expect(rows.nth(0).locator(".bar-pct")).to_have_text(re.compile(r"^67\s?%$"))
    await expect(rows.nth(1).locator(".bar-count")).to_have_text("1")
    await expect(rows.nth(1).locator(".bar-pct")).to_have_text(re.compile(r"^33\s?%$"))
    await expect(page.locator(".turnout")).to_have_text("3 of 3 have voted")
    await screenshot(page, "display-poll")
    assert await serious_problems(page) == []

    # A vote changed: the bars follow within half a second.
    await voters[2].ok("vote.cast", {"poll": "p1", "choice": 0}, room="hall")
    await expect(rows.nth(0).locator(".bar-pct")).to_have_text(re.compile(r"^100\s?%$"), timeout=500)

    # Closed: the final result stays (even across a reload) until something else happens.
    await boss.ok("poll.close", {"poll": "p1"}, room="hall")
    await expect(page.locator(".disp-poll")).to_have_attribute("data-state", "final")
    await expect(page.locator(".kicker")).to_have_text("Final result")
    await asyncio.sleep(0.5)
    await expect(page.locator("#stage")).to_have_attribute("data-mode", "poll")
    await page.reload()
    await expect(page.locator(".disp-poll")).to_have_attribute("data-state", "final")
    await expect(page.locator(".bar-row").nth(0).locator(".bar-count")).to_have_text("3")
    await boss.ok("timer.start", {"seconds": 120}, room="hall")
    await expect(page.locator("#stage")).to_have_attribute("data-mode", "spotlight")
    await expect(page.locator("#timer")).to_have_text(re.compile(r"^(2:00|1:5\d)$"))
    assert page.errors == []  # type: ignore[attr-defined]


async def test_display_hidden_poll_shows_only_turnout(browser: Browser, hall: dict[str, Any]) -> None:
    boss = await facilitator(hall)
    voters = [await member(hall, 0), await member(hall, 1), await member(hall, 1)]
    _, page = await open_display(browser, hall, FULL_HD)
    await boss.ok("poll.open", {"poll": "p1", "question": "Hvor enig er du: byen skal have flere træer.",
                                "kind": "scale", "hidden": True,
                                "labels": ["Meget uenig", "Uenig", "Hverken eller", "Enig", "Meget enig"]},
                  room="hall")
    await expect(page.locator(".disp-poll")).to_have_attribute("data-state", "hidden")
    for dev, choice in zip(voters[:2], [4, 3], strict=True):
        await dev.ok("vote.cast", {"poll": "p1", "choice": choice}, room="hall")
    await expect(page.locator(".turnout-text")).to_have_text("2 of 3 have voted")
    await expect(page.locator(".bar-row")).to_have_count(0)
    await expect(page.locator(".bar-pct")).to_have_count(0)
    await screenshot(page, "display-poll-hidden")

    await boss.ok("poll.close", {"poll": "p1"}, room="hall")
    final = page.locator(".disp-poll[data-state=final]")
    await expect(final.locator(".bar-row")).to_have_count(5)
    counts = final.locator(".bar-count")
    await expect(counts).to_have_text(["0", "0", "0", "1", "1"])
    await expect(final.locator(".bar-pct").nth(4)).to_have_text(re.compile(r"^50\s?%$"))
    await screenshot(page, "display-poll-final")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_display_says_so_when_offline(browser: Browser, hall: dict[str, Any]) -> None:
    server = hall["server"]
    _, page = await open_display(browser, hall)
    await expect(page.locator("#offline")).to_be_hidden()
    await asyncio.to_thread(server.stop)
    await expect(page.locator("#offline")).to_be_visible(timeout=5000)
    await asyncio.to_thread(server.start)
    await expect(page.locator("#offline")).to_be_hidden(timeout=20000)
    await expect(page.locator(".prompt")).to_have_text("Browsersamling")


async def test_display_without_a_token_says_what_to_do(browser: Browser, hall: dict[str, Any]) -> None:
    _, page = await new_page(browser, LAPTOP)
    await page.goto(f"{hall['server'].url}/display?lang=en")
    await expect(page.locator(".stage-note")).to_contain_text("display link")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_display_fits_the_largest_poll_and_spotlight(browser: Browser, hall: dict[str, Any]) -> None:
    """Twelve long answers under a long question, and ten long results, still fit a 1280x800 screen."""
    boss = await facilitator(hall)
    seat = await member(hall, 0)
    _, page = await open_display(browser, hall)
    question = "Hvilke af de følgende forslag mener du, at kommunen bør prioritere i den kommende budgetperiode?"
    options = [f"Forslag {i + 1}: en længere beskrivelse af hvad der skal ske" for i in range(12)]
    await boss.ok("poll.open", {"poll": "p1", "question": question, "kind": "choice", "options": options}, room="hall")
    await seat.ok("vote.cast", {"poll": "p1", "choice": 3}, room="hall")
    await expect(page.locator(".bar-row")).to_have_count(12)
    await expect(page.locator(".turnout")).to_have_text("1 of 1 have voted")
    await screenshot(page, "display-poll-12")
    top, bottom = await page.locator(".disp-poll").evaluate(BOX)
    assert top >= 0 and bottom <= LAPTOP["height"]
    await boss.ok("poll.close", {"poll": "p1"}, room="hall")

    await boss.ok("activity.start", {"activity": "a1", "prompt": "Idéer"}, room="hall")
    await seat.next_ev("activity.start", room=seat.room)
    for i in range(12):
        await seat.ok("note.add", {"note": f"n{i}", "text": f"Idé nummer {i + 1}, skrevet ud i en hel sætning"})
    await boss.ok("spotlight", {"table": "1"}, room="hall")
    await expect(page.locator(".ranked-row")).to_have_count(10)
    await expect(page.locator(".more")).to_have_text("and 2 more")
    await screenshot(page, "display-spotlight-10")
    top, bottom = await page.locator(".disp-spot").evaluate(BOX)
    assert top >= 0 and bottom <= LAPTOP["height"]
    assert page.errors == []  # type: ignore[attr-defined]
