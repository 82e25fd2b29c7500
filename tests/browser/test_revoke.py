"""Removing a device, in real Chromium against a real server: the facilitator's dashboard lists the
devices at a table by the label each tablet shows, removes one after a confirmation, and that tablet
(and only that one) is told so in plain words and offered a fresh join.

Pages are opened with ?lang=en (kept in a cookie) so the selectors can use the English source strings.
"""

from __future__ import annotations

import re
from typing import Any

from browser.conftest import new_page, screenshot, watch
from browser.test_accessibility import problems
from browser.test_dashboard import card, open_dashboard
from browser.test_tablet import add_note
from browser.test_tablet import join as join_tablet
from playwright.async_api import Browser, Page, Route, expect

PRESENCE = 10000  # ms: presence is checked every ~3 s, and a slow shared machine gets slack


async def label_of(tablet: Page) -> str:
    """The label the tablet shows for itself ("Device K7QX"), which is the one its welcome gave."""
    shown = tablet.locator("#device-label")
    await expect(shown).to_have_text(re.compile(r"^Device [A-Z0-9]{4}$"))
    label = (await shown.inner_text()).split()[-1]
    assert label == tablet.welcomes[-1]["you"]["label"]  # type: ignore[attr-defined]
    return label


async def test_facilitator_removes_one_tablet_and_the_other_keeps_working(browser: Browser,
                                                                            hall: dict[str, Any]) -> None:
    server, assembly = hall["server"], hall["assembly"]
    code = assembly["tables"][0]["code"]
    _, dash = await open_dashboard(browser, hall)
    _, a = await join_tablet(browser, server.url, code)
    _, b = await join_tablet(browser, server.url, code)
    label_a, label_b = await label_of(a), await label_of(b)
    assert label_a != label_b

    # -- the card counts both devices; its count opens the list, by label
    devices = card(dash, "1").locator("[data-stat=devices]")
    await expect(devices.locator("b")).to_have_text("2", timeout=PRESENCE)
    await devices.click()
    dialog = dash.locator("#devices-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#dd-title")).to_have_text("Devices at Bord 1")
    rows = dialog.locator(".dd-device")
    await expect(rows).to_have_count(2)
    assert sorted(await rows.locator(".dd-label").all_inner_texts()) == sorted(
        [f"Device {label_a}", f"Device {label_b}"])
    row_a = rows.filter(has_text=label_a)
    assert await problems(dash) == []

    # -- "Remove" asks first, naming the label; "Cancel" leaves the device alone
    await row_a.get_by_role("button", name=f"Remove device {label_a}").click()
    await expect(row_a.locator(".dd-question")).to_have_text(
        f"Remove device {label_a} from Bord 1? It must join again with the table's code.")
    await expect(row_a.get_by_role("button", name=f"Yes, remove {label_a}")).to_be_focused()
    assert await problems(dash) == []
    await screenshot(dash, "revoke-confirm")
    await row_a.get_by_role("button", name="Cancel").click()
    await expect(row_a.get_by_role("button", name=f"Remove device {label_a}")).to_be_focused()

    # -- a refusal is said in plain words, and the device stays listed with its button
    async def refuse(route: Route) -> None:
        await route.fulfill(status=403, json={"error": "forbidden", "msg": "not this assembly's facilitator"})

    await dash.route("**/revoke", refuse)
    await row_a.get_by_role("button", name=f"Remove device {label_a}").click()
    await row_a.get_by_role("button", name=f"Yes, remove {label_a}").click()
    await expect(dash.locator(".message.error")).to_contain_text(
        f"Could not remove device {label_a}: This link is not allowed to do that.")
    await expect(row_a.get_by_role("button", name=f"Remove device {label_a}")).to_be_focused()
    await expect(a.locator("#app")).to_be_visible()
    await dash.unroute("**/revoke", refuse)
    await dash.locator(".message.error button").click()

    # -- removed for real: the dashboard confirms, tablet A is told, the list drops it
    await row_a.get_by_role("button", name=f"Remove device {label_a}").click()
    await row_a.get_by_role("button", name=f"Yes, remove {label_a}").click()
    await expect(dash.locator(".message.info")).to_contain_text(f"Device {label_a} was removed from Bord 1.")
    removed = a.locator("#removed")
    await expect(removed).to_be_visible(timeout=PRESENCE)
    await expect(removed.get_by_role("heading")).to_have_text("This tablet was removed from the table")
    await expect(removed).to_contain_text("ask the host at your table")
    await expect(a.locator("#app")).to_be_hidden()
    assert await a.evaluate("localStorage.getItem('samling.token.member')") is None
    await expect(rows).to_have_count(1, timeout=PRESENCE)
    await expect(rows.locator(".dd-label")).to_have_text(f"Device {label_b}")
    await expect(devices.locator("b")).to_have_text("1")
    await screenshot(a, "revoke-tablet-removed")
    assert await problems(a) == []
    await screenshot(dash, "revoke-list")
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()

    # -- "Join again" leads to a fresh join (no seat to continue at)
    await removed.get_by_role("button", name="Join again").click()
    await a.wait_for_url(f"{server.url}/join")
    await expect(a.locator("#join-form")).to_be_visible()
    await expect(a.locator("#resume")).to_be_hidden()

    # -- tablet B keeps working: an activity starts, its note reaches the dashboard
    await expect(b.locator("#conn")).to_have_attribute("data-status", "online")
    await dash.locator("#activity-form textarea[name=prompt]").fill("Hvad skal der ske med byens grønne områder?")
    await dash.get_by_role("button", name="Start activity at all tables").click()
    await expect(b.locator(".phase-view.brainstorm")).to_be_visible()
    await add_note(b, "Flere træer langs vejene")
    await expect(card(dash, "1").locator("[data-stat=notes] b")).to_have_text("1")
    await expect(b.locator("#device-label")).to_have_text(f"Device {label_b}")
    await screenshot(b, "revoke-tablet-kept")
    await screenshot(dash, "revoke-dashboard")

    for page in (dash, a, b):
        assert page.errors == [], (page.url, page.errors)  # type: ignore[attr-defined]
    for page in (a, b):
        assert page.dialogs == []  # type: ignore[attr-defined]
    assert server.alive


async def test_a_token_the_server_refuses_is_not_called_a_removal(browser: Browser, hall: dict[str, Any]) -> None:
    """A 4003 for a token that is simply not valid here (not a revocation) asks for a fresh join in
    general words: nobody removed anything."""
    base = hall["server"].url
    _, page = await new_page(browser)
    watch(page)
    await page.goto(f"{base}/join?lang=en")
    await page.evaluate("localStorage.setItem('samling.token.member', 'not-a-token')")
    await page.goto(f"{base}/table")
    closed = page.locator("#closed")
    await expect(closed).to_be_visible()
    await expect(closed.get_by_role("heading")).to_have_text("This tablet must join again")
    await expect(page.locator("#removed")).to_be_hidden()
    assert await page.evaluate("localStorage.getItem('samling.token.member')") is None
    assert page.errors == []  # type: ignore[attr-defined]
