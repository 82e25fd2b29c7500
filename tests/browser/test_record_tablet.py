"""The record on the tablet and the display, in real Chromium against a real server: a member checks
in for the day, objects to a recommendation in a consent vote (with a reason, asked for before the
vote goes), the display counts those present and shows the verdict, the tablet shows the result;
then a host sends the table's groups to the hall, and the display shows the theme they form.

The facilitator and a second member play over the socket (tests/support/client.py). Pages are
opened with ?lang=en so the selectors can use the English source strings.
"""

from __future__ import annotations

import re
from typing import Any

from browser.conftest import LAPTOP, TABLET, new_page, screenshot, serious_problems, watch, watch_console
from browser.test_tablet import check_usable
from playwright.async_api import Browser, BrowserContext, Page, expect
from support.client import Device
from support.client import join as join_api

XSS = "<img src=x onerror=alert(1)>"


async def seat(browser: Browser, base: str, code: str) -> tuple[BrowserContext, Page]:
    """A fresh tablet that joins with `code` (a member's or a host's) and lands on /table."""
    context, page = await new_page(browser, TABLET)
    watch(page)
    await page.goto(f"{base}/j/{code}?lang=en")
    await page.get_by_role("button", name="Join", exact=True).click()
    await page.wait_for_url(f"{base}/table")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")
    return context, page


async def display(browser: Browser, hall: dict[str, Any]) -> Page:
    _, page = await new_page(browser, LAPTOP)
    watch_console(page)
    await page.goto(f"{hall['server'].url}/display?lang=en#token={hall['assembly']['display_token']}")
    await expect(page.locator("#stage")).not_to_have_attribute("data-mode", "loading")
    return page


async def test_check_in_object_with_a_reason_and_send_themes(browser: Browser, hall: dict[str, Any]) -> None:
    server, assembly = hall["server"], hall["assembly"]
    table = assembly["tables"][0]
    fac = await Device.connect(server.ws_url, assembly["facilitator_token"])
    _, tab = await seat(browser, server.url, table["code"])
    screen = await display(browser, hall)

    # -- check in: a big button while a day is open; "Checked in" after, also after a reload
    await expect(tab.locator("#checkin")).to_be_hidden()
    await fac.ok("day.open", {"day": "d1", "label": "Lørdag"}, room="hall")
    await tab.get_by_role("button", name="I'm here today").click()
    await expect(tab.locator("#checkin")).to_contain_text("Checked in")
    await fac.next(lambda f: f.get("op") == "day.checkin" and f["data"].get("present") == 1)
    await tab.reload()
    await expect(tab.locator("#checkin")).to_contain_text("Checked in")
    await expect(tab.get_by_role("button", name="I'm here today")).to_have_count(0)

    # -- a consent vote: the recommendation in full; an objection asks why before it goes
    text = "Busser hvert kvarter til landsbyerne, også om aftenen.\n" + XSS
    await fac.ok("recommendation.add", {"recommendation": "r1", "title": "Flere busser", "text": text}, room="hall")
    await fac.ok("poll.open", {"poll": "p1", "kind": "adoption", "recommendation": "r1", "rule": "consent"},
                 room="hall")
    card = tab.locator("#poll")
    await expect(card.locator("#poll-question")).to_have_text("Flere busser")
    await expect(card.locator(".recommendation-text")).to_have_text(text)
    await expect(card.locator(".answer-label")).to_have_text(["I consent", "I object", "Abstain"])
    await expect(screen.locator(".question")).to_have_text("Flere busser")
    await expect(screen.locator(".turnout")).to_have_text("0 of 1 present have voted")

    await card.get_by_role("button", name="I object").click()
    reason = card.locator("#poll-reason")
    await expect(reason).to_be_focused()
    await card.get_by_role("button", name="Send my vote").click()
    await expect(card.locator(".reason-error")).to_have_text("Please write a few words about why.")
    await reason.fill("For dyrt for kommunen " + XSS)
    await screenshot(tab, "tablet-adoption-reason")
    await check_usable(tab)
    await card.get_by_role("button", name="Send my vote").click()
    await expect(card.locator(".poll-status")).to_have_text(re.compile("^Your vote is registered"))
    await expect(card.locator(".answer.chosen .answer-label")).to_have_text("I object")
    await expect(screen.locator(".turnout")).to_have_text("1 of 1 present have voted")
    await expect(screen.locator(".bar-label")).to_have_text(["I consent", "I object", "Abstain"])
    await screenshot(screen, "display-adoption")

    # -- closed: the verdict on the display, the result on the tablet
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    await expect(screen.locator(".verdict")).to_have_text("NOT ADOPTED")
    await expect(screen.locator(".verdict-reason")).to_have_text("Someone objected.")
    await expect(screen.locator(".verdict-figure.apart").nth(1)).to_contain_text("Objections")
    await expect(screen.locator(".disp-adoption .turnout")).to_contain_text("1 of 1 present voted")
    await screenshot(screen, "display-adoption-result")
    assert await serious_problems(screen) == []
    await expect(card.locator(".verdict")).to_have_text("Not adopted")
    await expect(card.locator(".result-figures")).to_contain_text("Against")
    await screenshot(tab, "tablet-adoption-result")
    await check_usable(tab)
    await card.get_by_role("button", name="Back to the table").click()
    await expect(card).to_be_hidden()

    # -- a host at results sends the table's groups; the display shows the theme they go into
    _, host = await seat(browser, server.url, table["host_code"])
    member = await Device.connect(server.ws_url, (await join_api(server.url, table["code"]))["token"])
    await fac.ok("activity.start", {"activity": "a1", "prompt": "Hvad skal byen?"}, room="hall")
    await member.next_ev("activity.start", room=member.room)
    for i, note in enumerate(["Natbus", "Billigere kort", "Et bibliotek"]):
        await member.ok("note.add", {"note": f"n{i}", "text": note})
    await fac.ok("phase.set", {"phase": "cluster"}, room="hall")
    await member.next_ev("phase.set", room=member.room)
    await member.ok("cluster.add", {"cluster": "k1", "title": "Busser"})
    await member.ok("cluster.add", {"cluster": "k2", "title": ""})
    for note in ("n0", "n1"):
        await member.ok("note.move", {"note": note, "cluster": "k1"})
    await fac.ok("phase.set", {"phase": "vote"}, room="hall")
    await member.next_ev("phase.set", room=member.room)
    await member.ok("dot.add", {"target": "k1"})
    await member.ok("dot.add", {"target": "k1"})
    await fac.ok("phase.set", {"phase": "results"}, room="hall")

    send = host.get_by_role("button", name="Send our themes to the hall")
    await expect(send).to_be_visible()
    await expect(host.locator(".sent-item")).to_have_count(1)  # the group without a name is not sent
    await expect(tab.locator(".send-themes")).to_be_hidden()  # a member has no such button
    await send.click()
    await expect(host.locator(".sent-item.sent")).to_have_text(re.compile("Busser.*Sent to the hall"))
    await expect(send).to_have_count(0)
    sent = await fac.next_ev("card.send", room="hall")
    await expect(screen.locator("#stage")).to_have_attribute("data-mode", "themes")
    await expect(screen.locator(".unsorted-card")).to_contain_text("Busser")
    await fac.ok("theme.add", {"theme": "th1", "title": "Transport"}, room="hall")
    await fac.ok("card.move", {"card": sent["data"]["card"], "theme": "th1"}, room="hall")
    tile = screen.locator(".theme")
    await expect(tile.locator(".theme-title")).to_have_text("Transport")
    await expect(tile.locator(".theme-facts")).to_have_text(re.compile("1 card.*2 dots"))
    await expect(tile.locator(".theme-tables")).to_have_text(table["name"])
    await expect(screen.locator(".unsorted")).to_have_count(0)
    await screenshot(screen, "display-themes")
    await screenshot(host, "tablet-host-results")
    await check_usable(host)
    assert await serious_problems(screen) == []

    for page in (tab, host, screen):
        assert page.errors == []  # type: ignore[attr-defined]
    for page in (tab, host):
        assert page.dialogs == []  # type: ignore[attr-defined]
        assert await page.locator("main img").count() == 0


async def test_a_host_writes_a_recommendation_and_votes_a_slate(browser: Browser, hall: dict[str, Any]) -> None:
    """A host writes and changes the table's recommendation; the facilitator puts it (by gradients)
    and another (by majority) to the vote together; the tablet goes through both, and a veto asks why."""
    server, assembly = hall["server"], hall["assembly"]
    table = assembly["tables"][0]
    fac = await Device.connect(server.ws_url, assembly["facilitator_token"])
    _, host = await seat(browser, server.url, table["host_code"])

    await host.locator("#rec-title").fill("Cykelstier")
    await host.locator("#rec-text").fill("Sammenhængende cykelstier til skolerne. " + XSS)
    await host.get_by_role("button", name="Add recommendation").click()
    added = await fac.next_ev("recommendation.add", room="hall")
    data = added["data"]
    assert (data["table"], data["role"], data["title"]) == (table["id"], "host", "Cykelstier")
    rec = host.locator(".rec")
    await expect(rec.locator(".rec-title")).to_have_text("Cykelstier")
    await rec.get_by_role("button", name="Edit").click()
    await expect(host.locator("#rec-title")).to_have_value("Cykelstier")
    await host.locator("#rec-title").fill("Sikre cykelstier")
    await host.get_by_role("button", name="Save changes").click()
    edited = await fac.next_ev("recommendation.edit", room="hall")
    assert edited["data"]["title"] == "Sikre cykelstier"
    await expect(rec.locator(".rec-title")).to_have_text("Sikre cykelstier")
    await screenshot(host, "tablet-host-recommendation")

    await fac.ok("recommendation.add", {"recommendation": "r2", "title": "Gratis busser", "text": "For alle under 18."},
                 room="hall")
    r1 = added["data"]["recommendation"]
    await fac.ok("poll.open", {"poll": "p1", "kind": "adoption", "recommendation": r1, "rule": "gradients",
                               "slate": "s1"}, room="hall")
    await fac.ok("poll.open", {"poll": "p2", "kind": "adoption", "recommendation": "r2", "rule": "majority",
                               "slate": "s1"}, room="hall")
    card = host.locator("#poll")
    await expect(card.locator(".poll-nav-where")).to_have_text("Vote 1 of 2")
    await expect(card.locator("#poll-question")).to_have_text("Sikre cykelstier")
    await expect(card.locator(".answer-label")).to_have_text([
        "I fully agree", "I agree, with a minor point", "I agree, with reservations", "We need to talk more",
        "I don't like it, but I will not block it", "I strongly disagree", "I block it (veto)", "Abstain"])
    await card.get_by_role("button", name="I block it (veto)").click()
    await card.locator("#poll-reason").fill("Det koster for meget")
    await screenshot(host, "tablet-adoption-gradients")
    await check_usable(host)
    await card.get_by_role("button", name="Send my vote").click()
    await expect(card.locator(".poll-status")).to_have_text(re.compile("^Your vote is registered"))
    await expect(card.locator(".answer.chosen .answer-label")).to_have_text("I block it (veto)")
    await card.get_by_role("button", name="Next vote").click()
    await expect(card.locator("#poll-question")).to_have_text("Gratis busser")
    await expect(card.locator(".answer-label")).to_have_text(["For", "Against", "Abstain"])
    await card.get_by_role("button", name="For", exact=True).click()
    await expect(card.locator(".poll-status")).to_have_text(re.compile("^Your vote is registered"))
    await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"]["poll"] == "p2" and f["data"]["voters"] == 1)

    await fac.ok("poll.close", {"poll": "p2"}, room="hall")
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    await expect(card.locator(".verdict")).to_have_text("Not adopted")
    await card.get_by_role("button", name="Back to the table").click()
    await expect(card).to_be_hidden()
    await expect(rec.get_by_role("button", name="Edit")).to_be_visible()  # not adopted: it may change again
    assert host.errors == [] and host.dialogs == []  # type: ignore[attr-defined]
