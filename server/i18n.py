"""Danish by default, English by a switch: one Babel catalogue per language serves both the
Jinja2 templates and (as JSON) the browser scripts.

Catalogues are read from the `.po` files at start (no compile step needed to run). Source
strings are English; `da` translates them. A missing translation falls back to the English.
`scripts/i18n` extracts the strings (babel.cfg: Python, the templates, and `t("...")` in
static/js), updates the catalogues and checks that nothing is left untranslated in Danish.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from starlette.requests import Request

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = ("da", "en")
DEFAULT = "da"
COOKIE = "samling_lang"


@cache
def catalog(lang: str) -> dict[str, str]:
    """msgid -> translation for `lang` (empty for the source language or a missing file)."""
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as f:
        cat: Catalog = read_po(f, locale=lang)
    table: dict[str, str] = {}
    for m in cat:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, str):
            if m.string:
                table[m.id] = str(m.string)
        elif isinstance(m.string, (list, tuple)):  # a plural: Danish, like English, has one form
            for msgid, text in zip(m.id, m.string, strict=False):  # for 1 and one for the rest
                if msgid and text:
                    table[str(msgid)] = str(text)
    return table


def gettext_for(lang: str) -> Callable[[str], str]:
    table = catalog(lang)

    def gettext(message: str) -> str:
        return table.get(message, message)

    return gettext


def ngettext_for(lang: str) -> Callable[[str, str, int], str]:
    gettext = gettext_for(lang)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return gettext(singular if n == 1 else plural)

    return ngettext


def language(request: Request) -> str:
    """?lang=xx (which the page then keeps in a cookie), else the cookie, else Danish."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LANGUAGES:
            return str(candidate)
    return DEFAULT
