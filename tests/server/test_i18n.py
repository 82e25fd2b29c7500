"""Danish by default, English by a switch, and no English leaking into the Danish UI.

The strings are extracted exactly as `scripts/i18n extract` does (babel.cfg: the Python, the
templates, and `t("...")` in the scripts) into a temporary .pot, and compared with the Danish
catalogue that the server reads at start.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from support.processes import REPO_ROOT, ServerProcess

DA_PO = REPO_ROOT / "server" / "translations" / "da" / "LC_MESSAGES" / "messages.po"
#: The pages of this part of Samling; their strings must be in Danish already.
OWN_FILES = ("server/templates/base.html", "server/templates/home.html", "server/templates/new.html",
             "server/templates/sheet.html", "static/js/setup.js", "static/js/sheet.js")


def pybabel() -> str:
    beside = Path(sys.executable).parent / "pybabel"
    found = str(beside) if beside.exists() else shutil.which("pybabel")
    assert found, "pybabel is missing: install samling[test] (babel is a dependency)"
    return found


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Every string of the current sources, extracted as scripts/i18n does, into a temp .pot."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    done = subprocess.run([pybabel(), "extract", "-F", "babel.cfg", "-k", "_", "-k", "gettext", "-o", str(pot), "."],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with pot.open("rb") as f:
        return read_po(f)


def danish() -> dict[str, Message]:
    with DA_PO.open("rb") as f:
        return {m.id: m for m in read_po(f, locale="da") if m.id}


def untranslated(pot: Catalog, only: tuple[str, ...] = ()) -> list[str]:
    da = danish()
    missing = []
    for m in pot:
        if not m.id or (only and not any(path in only for path, _ in m.locations)):
            continue
        t = da.get(m.id)
        strings = [] if t is None or t.fuzzy else list(t.string) if isinstance(t.string, (list, tuple)) else [t.string]
        if not strings or not all(strings):
            missing.append(f"{m.id!r} ({', '.join(f'{p}:{n}' for p, n in m.locations[:2])})")
    return missing


def test_every_string_has_a_danish_translation(extracted: Catalog) -> None:
    """No English leaks into the Danish UI: every extracted msgid has a Danish msgstr (not fuzzy)."""
    missing = untranslated(extracted)
    assert not missing, f"{len(missing)} strings without Danish (scripts/i18n check lists them):\n" + "\n".join(missing)


def test_the_setup_sheet_and_home_pages_are_all_in_danish(extracted: Catalog) -> None:
    missing = untranslated(extracted, OWN_FILES)
    assert not missing, "\n".join(missing)


def test_translations_keep_their_placeholders() -> None:
    """A Danish string has exactly the {name} and %(name)s placeholders of its English source, or
    the page would show a raw {n} or fail to format."""
    def holes(text: str) -> list[str]:
        return sorted(re.findall(r"\{\w+\}|%\(\w+\)[sd]", text))

    wrong = []
    for msgid, m in danish().items():
        if isinstance(msgid, str) and isinstance(m.string, str):  # (a plural's "one" form may say "et")
            if m.string and holes(msgid) != holes(m.string):
                wrong.append(f"{msgid!r} -> {m.string!r}")
    assert not wrong, "\n".join(wrong)


def test_extraction_finds_the_scripts_strings_and_only_real_strings(extracted: Catalog) -> None:
    """t("...") in static/js is extracted; Python's `t["id"]` (a table, not a call) is not."""
    ids = {m.id for m in extracted}
    assert "Scan the QR code, or go to {address} and type the code." in ids
    assert "Skip to content" in ids
    assert "id" not in ids and "name" not in ids


def test_the_i18n_script_is_there_and_says_how_to_use_it() -> None:
    script = REPO_ROOT / "scripts" / "i18n"
    assert script.stat().st_mode & 0o111, "scripts/i18n must be executable"
    done = subprocess.run([str(script)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "extract|update|check" in done.stderr


# -- the language switch, against a real server -----------------------------------------------

@pytest.fixture
def http(servers: Any, tmp_db: Path) -> Iterator[httpx.Client]:
    server: ServerProcess = servers.start(db=tmp_db)
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        yield client


def test_pages_are_danish_by_default_and_english_by_the_switch(http: httpx.Client) -> None:
    """No cookie: Danish. ?lang=en: English, and a cookie that keeps it; ?lang=da switches back."""
    page = http.get("/")
    assert '<html lang="da">' in page.text and "Deltag ved dit bord" in page.text
    assert "samling_lang" not in page.headers.get("set-cookie", "")

    english = http.get("/?lang=en")
    assert '<html lang="en">' in english.text and "Join your table" in english.text
    cookie = english.headers["set-cookie"]
    assert "samling_lang=en" in cookie and "Max-Age=31536000" in cookie and "SameSite=lax" in cookie
    assert http.cookies.get("samling_lang") == "en"

    kept = http.get("/new")  # the cookie, no ?lang
    assert '<html lang="en">' in kept.text and "Create the assembly" in kept.text

    back = http.get("/?lang=da")
    assert '<html lang="da">' in back.text and "samling_lang=da" in back.headers["set-cookie"]
    assert '<html lang="da">' in http.get("/new").text


def test_an_unknown_language_is_danish_and_not_remembered(http: httpx.Client) -> None:
    page = http.get("/?lang=xx")
    assert '<html lang="da">' in page.text
    assert "set-cookie" not in page.headers
    http.cookies.set("samling_lang", "xx")
    assert '<html lang="da">' in http.get("/").text


def test_the_scripts_catalogue_is_served_as_json(http: httpx.Client) -> None:
    """/i18n/da.json is the Danish catalogue ({msgid: translation}) that t() reads; English needs none."""
    resp = http.get("/i18n/da.json")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
    assert resp.headers["cache-control"] == "no-cache"
    table = resp.json()
    assert table["Copied"] == "Kopieret"
    assert table["Scan the QR code, or go to {address} and type the code."].count("{address}") == 1
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in table.items())
    assert http.get("/i18n/en.json").status_code == 200
    assert http.get("/i18n/xx.json").status_code == 404
