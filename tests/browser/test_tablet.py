"""The tablet face in real Chromium against a real server: joining, the four steps of an activity at
a table (brainstorm, cluster, vote, results), the plenary poll card, reloads and going offline.

The facilitator's part is played over the socket by a test Device. Pages are opened with ?lang=en
(remembered in a cookie) so the selectors can use the English source strings.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from browser.conftest import TABLET, drag, group, new_page, notes, screenshot, serious_problems, target, watch
from playwright.async_api import Browser, BrowserContext, Page, expect
from support.client import Device

XSS = "<img src=x onerror=alert(1)>"


async def join(browser: Browser, base: str, code: str, viewport: dict[str, int] = TABLET
               ) -> tuple[BrowserContext, Page]:
    """A fresh tablet that joins a table through its QR link /j/<code> and lands on /table."""
    context, page = await new_page(browser, viewport)
    watch(page)
    await page.goto(f"{base}/j/{code}?lang=en")
    await expect(page.locator("#code")).to_have_value(code)
    await page.get_by_role("button", name="Join", exact=True).click()
    await page.wait_for_url(f"{base}/table")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")
    return context, page


async def check_usable(page: Page) -> None:
    """Every visible control is at least 44 x 44 px (buttons 48 px high), and axe finds no serious
    or critical problem (contrast, names, roles)."""
    small = await page.evaluate("""() => [...document.querySelectorAll(
        'button, a[href], input, textarea, [role=button]')]
      .filter((el) => el.offsetParent !== null && !el.closest('.topbar, .skip-link'))
      .map((el) => [el.textContent.trim().slice(0, 30) || el.id, el.getBoundingClientRect()])
      .filter(([, r]) => r.width < 44 || r.height < 44)
      .map(([name, r]) => `${name}: ${Math.round(r.width)}x${Math.round(r.height)}`)""")
    assert small == []
    buttons = await page.evaluate("""() => [...document.querySelectorAll('button')]
      .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().height < 48)
      .map((el) => el.textContent.trim())""")
    assert buttons == []
    assert await serious_problems(page) == []


async def add_note(page: Page, text: str) -> None:
    await page.locator("#new-note").fill(text)
    await page.locator("#new-note").press("Enter")
    await expect(page.locator("#new-note")).to_have_value("")


async def start_activity(server: Any, assembly: dict[str, Any], **args: Any) -> Device:
    fac = await Device.connect(server.ws_url, assembly["facilitator_token"])
    await fac.ok("activity.start", {"activity": "a1", "prompt": "Hvad skal der ske med byens grønne områder?",
                                    "dots": 5, **args}, room="hall")
    return fac


async def test_tablets_through_an_activity(browser: Browser, hall: dict[str, Any]) -> None:
    server, assembly = hall["server"], hall["assembly"]
    code = assembly["tables"][0]["code"]
    ctx_a, a = await join(browser, server.url, code)
    ctx_b, b = await join(browser, server.url, code)
    await expect(a.locator(".phase-view.idle")).to_be_visible()

    fac = await start_activity(server, assembly)
    await fac.ok("timer.start", {"seconds": 300}, room="hall")

    # -- brainstorm: notes appear live on the other tablet, without names; text stays text
    for page in (a, b):
        await expect(page.locator("#phase")).to_have_text("Step 1 of 4: Write ideas")
        await expect(page.locator("#prompt")).to_have_text("Hvad skal der ske med byens grønne områder?")
        await expect(page.locator("#timer")).to_have_text(re.compile(r"^[45]:\d\d left$"))
    await add_note(a, "Flere træer langs vejene")
    await expect(notes(b, "Flere træer langs vejene")).to_have_count(1)
    await expect(notes(a, "Flere træer langs vejene").get_by_text("Your note")).to_be_visible()
    await expect(notes(b, "Flere træer langs vejene").get_by_role("button")).to_have_count(0)  # not hers

    await a.locator("#new-note").fill(XSS)
    await a.get_by_role("button", name="Add note").click()
    await expect(notes(b, XSS)).to_have_count(1)
    await expect(notes(b, XSS).locator(".note-text")).to_have_text(XSS)
    assert await b.locator(".board-notes img").count() == 0
    assert await a.locator(".board-notes img").count() == 0

    await add_note(b, "Bænke")
    await add_note(b, "Legeplads ved søen")
    await add_note(a, "Slet mig")
    await expect(notes(b)).to_have_count(5)
    await expect(a.locator("#new-note-count")).to_have_text("0 of 280 letters")
    await a.locator("#new-note").fill("abc")
    await expect(a.locator("#new-note-count")).to_have_text("3 of 280 letters")
    await a.locator("#new-note").fill("")

    # edit and remove one's own note
    await notes(a, "Slet mig").get_by_role("button", name="Edit").click()
    await a.locator(".edit-note").fill("Slet mig nu")
    await a.locator(".note.editing").get_by_role("button", name="Save").click()
    await expect(notes(b, "Slet mig nu")).to_have_count(1)
    await notes(a, "Slet mig nu").get_by_role("button", name="Remove").click()
    await notes(a, "Slet mig nu").get_by_role("button", name="Yes, remove").click()
    await expect(notes(b, "Slet mig")).to_have_count(0)
    await expect(notes(a)).to_have_count(4)
    await screenshot(a, "tablet-brainstorm")
    await check_usable(a)

    # -- cluster: a group, a move by tap-tap, a move by dragging; the other tablet follows
    await fac.ok("phase.set", {"phase": "cluster"}, room="hall")
    await expect(a.locator(".phase-view.cluster")).to_be_visible()
    await expect(b.locator("#phase")).to_have_text("Step 2 of 4: Make groups")
    await a.locator("#new-group").fill("Grønt")
    await a.get_by_role("button", name="Make a group").click()
    await expect(group(b, "Grønt")).to_have_count(1)
    assert await a.get_by_role("button", name="Remove group").count() == 0  # members cannot remove

    tree = a.locator(".loose .note", has_text="Flere træer")
    await tree.click()
    await expect(tree).to_have_attribute("aria-pressed", "true")
    await expect(a.locator(".selection-bar")).to_be_visible()
    await group(a, "Grønt").locator(".target-title").click()  # the tap on the group
    await expect(group(b, "Grønt").locator(".note", has_text="Flere træer")).to_have_count(1)
    await expect(group(a, "Grønt").locator(".note", has_text="Flere træer")).to_have_count(1)

    await drag(a, a.locator(".loose .note", has_text="Bænke"), group(a, "Grønt").locator(".drop"))
    await expect(group(b, "Grønt").locator(".note", has_text="Bænke")).to_have_count(1)
    await expect(group(a, "Grønt").locator(".note")).to_have_count(2)

    # b makes a second group; a drags a note there while b moves another by tap-tap: both land
    await b.locator("#new-group").fill("Leg")
    await b.locator("#new-group").press("Enter")
    await expect(group(a, "Leg")).to_have_count(1)
    await expect(b.locator(".loose .note")).to_have_count(2)
    lifted = a.locator(".loose .note", has_text="Legeplads")
    box, dest = await lifted.bounding_box(), await group(a, "Leg").locator(".drop").bounding_box()
    assert box is not None and dest is not None
    await a.mouse.move(box["x"] + 40, box["y"] + 20)
    await a.mouse.down()
    await a.mouse.move(box["x"] + 50, box["y"] + 30, steps=4)
    await a.mouse.move(dest["x"] + dest["width"] / 2, dest["y"] + dest["height"] / 2, steps=15)
    await expect(a.locator(".phase-view.cluster")).to_have_class(re.compile("is-dragging"))
    await b.locator(".loose .note", has_text=XSS).click()  # meanwhile on the other tablet
    await group(b, "Leg").get_by_role("button", name="Move here").click()
    await expect(group(b, "Leg").locator(".note", has_text=XSS)).to_have_count(1)
    await a.wait_for_timeout(300)  # a's lists wait for the drop
    await a.mouse.up()
    for page in (a, b):
        await expect(group(page, "Leg").locator(".note")).to_have_count(2)
        await expect(page.locator(".loose .note")).to_have_count(0)
        await expect(group(page, "Grønt").locator(".note")).to_have_count(2)
    await a.wait_for_timeout(300)  # the click that ends a drag is not a tap; a real tap comes later
    await a.locator(".group .note", has_text="Bænke").click()
    await expect(a.locator(".selection-bar")).to_contain_text("Chosen: “Bænke”")
    await screenshot(a, "tablet-cluster-chosen")
    await a.get_by_role("button", name="Cancel").click()
    await expect(a.locator(".selection-bar")).to_be_hidden()
    await group(b, "Leg").get_by_role("button", name="Rename").click()
    await b.locator(".target.group input").fill("Leg og lys")
    await b.locator(".target.group input").press("Enter")
    await expect(group(a, "Leg og lys")).to_have_count(1)
    await expect(group(a, "Leg og lys").locator(".note")).to_have_count(2)
    # and back to "Not grouped" by a tap
    await a.locator(".group .note", has_text=XSS).click()
    await a.locator(".loose .target-title").click()
    await expect(b.locator(".loose .note", has_text=XSS)).to_have_count(1)
    await screenshot(a, "tablet-cluster")
    await check_usable(a)

    # -- vote: dots obey the budget, and are counted down
    await fac.ok("phase.set", {"phase": "vote"}, room="hall")
    await expect(a.locator(".phase-view.vote")).to_be_visible()
    left = a.locator(".dots-left-number")
    await expect(left).to_have_text("5")
    await expect(target(a, "Leg og lys")).to_have_count(1)
    green = target(a, "Grønt")
    for n in (4, 3, 2):
        await green.locator(".give-dot").click()
        await expect(left).to_have_text(str(n))
    await green.locator(".give-dot").click()  # a 4th dot on one idea: max_per_target is 3
    await expect(a.locator("#problem")).to_contain_text("at most 3 dots")
    await expect(left).to_have_text("2")
    await target(a, "Leg og lys").locator(".give-dot").click()
    await target(a, XSS).locator(".give-dot").click()
    await expect(left).to_have_text("0")
    await target(a, "Leg og lys").locator(".give-dot").click()  # the 6th dot
    await expect(a.locator("#problem")).to_contain_text("You have used all your dots")
    await expect(left).to_have_text("0")
    await target(a, XSS).get_by_role("button", name=re.compile("Remove a dot")).click()
    await expect(left).to_have_text("1")
    await expect(target(a, XSS).get_by_role("button", name=re.compile("Remove a dot"))).to_have_count(0)
    await target(a, "Leg og lys").locator(".give-dot").click()
    await expect(left).to_have_text("0")
    await expect(target(a, "Grønt").locator(".my-dots")).to_contain_text("Your dots: 3")
    assert await a.locator(".total").count() == 0  # totals stay hidden while voting
    await target(b, "Leg og lys").locator(".give-dot").click()
    await expect(b.locator(".dots-left-number")).to_have_text("4")
    await target(b, "Leg og lys").locator(".give-dot").click()
    await expect(b.locator(".dots-left-number")).to_have_text("3")
    await screenshot(a, "tablet-vote")
    await check_usable(a)

    # -- a reload keeps identity, notes and dots
    device = a.welcomes[-1]["you"]["device"]  # type: ignore[attr-defined]
    await a.reload()
    await expect(a.locator(".phase-view.vote")).to_be_visible()
    await expect(a.locator("#conn")).to_have_attribute("data-status", "online")
    assert a.welcomes[-1]["you"]["device"] == device  # type: ignore[attr-defined]
    await expect(a.locator(".dots-left-number")).to_have_text("0")
    await expect(target(a, "Grønt").locator(".my-dots")).to_contain_text("Your dots: 3")
    await expect(target(a, "Leg og lys").locator(".my-dots")).to_contain_text("Your dots: 2")
    await expect(target(a, "Grønt").locator(".target-note")).to_have_count(2)

    # -- results: ranked by dots
    await fac.ok("phase.set", {"phase": "results"}, room="hall")
    rows = a.locator(".results > .result")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(0).locator(".result-title")).to_have_text("Leg og lys")
    await expect(rows.nth(0).locator(".result-number")).to_have_text("4")
    await expect(rows.nth(1).locator(".result-title")).to_have_text("Grønt")
    await expect(rows.nth(1).locator(".result-number")).to_have_text("3")
    await expect(rows.nth(2).locator(".result-title")).to_have_text(XSS)
    await expect(rows.nth(2).locator(".result-number")).to_have_text("0")
    await expect(b.locator(".results > .result").nth(0).locator(".result-title")).to_have_text("Leg og lys")
    await screenshot(a, "tablet-results")
    await check_usable(a)

    for page in (a, b):
        assert page.dialogs == []  # type: ignore[attr-defined]
        assert page.errors == []  # type: ignore[attr-defined]
    await fac.close()
    await ctx_a.close()
    await ctx_b.close()


async def test_poll_card(browser: Browser, hall: dict[str, Any]) -> None:
    server, assembly = hall["server"], hall["assembly"]
    ctx, page = await join(browser, server.url, assembly["tables"][0]["code"])
    fac = await start_activity(server, assembly)
    await expect(page.locator(".phase-view.brainstorm")).to_be_visible()
    await page.locator("#new-note").fill("Halvt skrevet")

    await fac.ok("poll.open", {"poll": "p1", "question": "Skal vi holde pause nu?", "kind": "choice",
                               "options": ["Ja", "Nej", "Om lidt"]}, room="hall")
    card = page.get_by_role("dialog")
    await expect(card).to_be_visible()
    await expect(card).to_have_attribute("aria-modal", "true")
    await expect(card.locator("#poll-question")).to_have_text("Skal vi holde pause nu?")
    await expect(card.locator("#poll-question")).to_be_focused()
    await card.get_by_role("button", name="Ja").click()
    await expect(card.locator(".poll-status")).to_have_text(re.compile("^Your vote is registered"))
    await expect(card.get_by_role("button", name="Ja")).to_have_attribute("aria-pressed", "true")
    tally = await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("voters") == 1)
    assert tally["data"]["counts"] == [1, 0, 0]

    # change the vote
    await card.get_by_role("button", name="Om lidt").click()
    await expect(card.get_by_role("button", name="Om lidt")).to_have_attribute("aria-pressed", "true")
    await expect(card.get_by_role("button", name="Ja")).to_have_attribute("aria-pressed", "false")
    await expect(card.locator(".poll-status")).to_have_text(re.compile("^Your vote is registered"))
    await fac.next(lambda f: f.get("op") == "poll.tally" and f["data"].get("counts") == [0, 0, 1])
    await screenshot(page, "tablet-poll")
    await check_usable(page)

    # a reload shows the vote again (welcome.votes), and the card stays until the poll closes
    await page.reload()
    await expect(card).to_be_visible()
    await expect(card.get_by_role("button", name="Om lidt")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#app")).to_have_js_property("inert", True)
    await fac.ok("poll.close", {"poll": "p1"}, room="hall")
    await expect(card).to_be_hidden()
    await expect(page.locator("#app")).to_have_js_property("inert", False)
    await expect(page.locator(".phase-view.brainstorm")).to_be_visible()

    # a scale poll shows its labels as answers
    await fac.ok("poll.open", {"poll": "p2", "question": "Hvor enig er du?", "kind": "scale",
                               "labels": ["Uenig", "Lidt uenig", "Midt imellem", "Lidt enig", "Enig"]}, room="hall")
    await expect(card.locator(".answer")).to_have_count(5)
    await card.get_by_role("button", name="Enig", exact=False).last.click()
    await expect(card.locator(".poll-status")).to_have_text(re.compile("^Your vote is registered"))
    await fac.ok("poll.close", {"poll": "p2"}, room="hall")
    await expect(card).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]
    await fac.close()
    await ctx.close()


async def test_offline_notes_wait_and_arrive_once(browser: Browser, hall: dict[str, Any]) -> None:
    server, assembly = hall["server"], hall["assembly"]
    code = assembly["tables"][0]["code"]
    ctx_a, a = await join(browser, server.url, code)
    ctx_b, b = await join(browser, server.url, code)
    fac = await start_activity(server, assembly, show_totals=True)
    await expect(a.locator(".phase-view.brainstorm")).to_be_visible()

    await ctx_a.set_offline(True)
    await expect(a.locator("#conn")).not_to_have_attribute("data-status", "online")
    await add_note(a, "Skrevet uden net")
    await add_note(a, "Også uden net")
    await expect(a.locator(".note.pending")).to_have_count(2)
    await expect(a.locator(".note.pending").first).to_contain_text("Waiting to be sent")
    await expect(a.locator("#conn-text")).to_contain_text("2 changes waiting")
    await asyncio.sleep(0.5)
    await expect(notes(b)).to_have_count(0)

    await ctx_a.set_offline(False)
    await expect(notes(b, "Skrevet uden net")).to_have_count(1)
    await expect(notes(b, "Også uden net")).to_have_count(1)
    await expect(a.locator(".note.pending")).to_have_count(0)
    await expect(a.locator("#conn")).to_have_attribute("data-status", "online")
    await expect(a.locator("#conn-text")).to_have_text("Online")
    await asyncio.sleep(0.5)
    await expect(notes(b)).to_have_count(2)
    await expect(notes(a)).to_have_count(2)
    added = [f["data"]["text"] for f in fac.events("table:1") if f["op"] == "note.add"]
    assert sorted(added) == ["Også uden net", "Skrevet uden net"]  # each stored exactly once

    # this activity shows totals while voting: a dot from a shows on b at once
    await fac.ok("phase.set", {"phase": "vote"}, room="hall")
    await target(a, "Skrevet uden net").locator(".give-dot").click()
    await expect(target(b, "Skrevet uden net").locator(".total")).to_have_text("1 dot from the table")
    await expect(target(b, "Også uden net").locator(".total")).to_have_text("0 dots from the table")
    for page in (a, b):
        assert page.errors == []  # type: ignore[attr-defined]
    await fac.close()
    await ctx_a.close()
    await ctx_b.close()


async def test_join_page(browser: Browser, hall: dict[str, Any]) -> None:
    server, assembly = hall["server"], hall["assembly"]
    base = server.url
    context, page = await new_page(browser)
    watch(page)

    # no seat yet: the table page sends the member to /join
    await page.goto(f"{base}/table?lang=en")
    await expect(page.get_by_role("link", name="Join a table")).to_have_attribute("href", "/join")

    await page.goto(f"{base}/join")
    code_field = page.locator("#code")
    await expect(code_field).to_be_focused()
    await expect(code_field).to_have_attribute("autocapitalize", "characters")
    await code_field.fill("AAAAAA")
    await page.get_by_role("button", name="Join", exact=True).click()
    await expect(page.locator("#join-error")).to_have_text(re.compile("^That code is not right"))
    await screenshot(page, "tablet-join")
    await check_usable(page)
    for _ in range(30):  # wrong codes are throttled: about 10 in a burst, then "wait a moment"
        await page.get_by_role("button", name="Join", exact=True).click()
        await expect(page.get_by_role("button", name="Join", exact=True)).to_be_enabled()
        if "wait a moment" in await page.locator("#join-error").inner_text():
            break
    await expect(page.locator("#join-error")).to_have_text(re.compile("wait a moment"))

    # the host code, typed loosely (small letters, spaces), after the throttle has refilled
    await asyncio.sleep(2.2)
    host_code = assembly["tables"][0]["host_code"]
    await code_field.fill(f" {host_code[:3].lower()} {host_code[3:].lower()} ")
    await page.locator("#name").fill("Mette")
    await page.locator("#name").press("Enter")
    await page.wait_for_url(f"{base}/table")
    await expect(page.locator("#role-badge")).to_have_text("Table host")
    await expect(page.locator("#greeting")).to_have_text("Hello, Mette")
    stored = await page.evaluate("() => [localStorage.getItem('samling.token.member'), "
                                 "JSON.parse(localStorage.getItem('samling.join'))]")
    assert stored[0] and stored[1]["role"] == "host" and stored[1]["token"] == stored[0]
    assert "token" not in page.url

    # back at /join: continue at the table, or join another
    await page.goto(f"{base}/join")
    await expect(page.get_by_role("link", name="Continue at Bord 1")).to_be_visible()
    await expect(page.locator("#join-form")).to_be_hidden()
    await page.get_by_role("button", name="Join another table").click()
    await expect(page.locator("#join-form")).to_be_visible()
    await page.goto(f"{base}/join")
    await page.get_by_role("link", name="Continue at Bord 1").click()
    await page.wait_for_url(f"{base}/table")

    # the host may remove a group
    fac = await start_activity(server, assembly)
    await fac.ok("phase.set", {"phase": "cluster"}, room="hall")
    await page.locator("#new-group").fill("")
    await page.get_by_role("button", name="Make a group").click()
    await expect(page.locator(".target.group .target-title")).to_contain_text("Untitled group")
    await page.get_by_role("button", name="Remove group").click()
    await page.get_by_role("button", name="Yes, remove group").click()
    await expect(page.locator(".target.group")).to_have_count(0)

    # at 1280 x 800 as well
    await page.get_by_role("button", name="Make a group").click()
    await page.set_viewport_size({"width": 1280, "height": 800})
    await expect(page.locator(".cluster-layout")).to_be_visible()
    await screenshot(page, "tablet-cluster-wide")
    await check_usable(page)
    assert page.errors == []  # type: ignore[attr-defined]
    await fac.close()
    await context.close()
