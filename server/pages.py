"""The browser's pages: the tablet, the facilitator's dashboard, printable sheet and report, the display,
joining, and the organiser's setup (/new).

Pages are Jinja2 templates rendered in the device's language; the behaviour lives in ES
modules under /static/js, with no build step. Tokens never travel in a URL to the server: a
join stores the token in the browser, and the facilitator's and display's links carry theirs
in the fragment (#token=...), which browsers never send.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from . import i18n
from .assemblies import normalise_code

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent.parent / "static"


def _environment(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             extensions=["jinja2.ext.i18n"])
    env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks as extracted (babel.cfg: trimmed = true)
    env.install_gettext_callables(i18n.gettext_for(lang), i18n.ngettext_for(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


ENVIRONMENTS = {lang: _environment(lang) for lang in i18n.LANGUAGES}


def switch_url(request: Request, lang: str) -> str:
    """This page in the other language: the same path and query, with lang=<the other>."""
    other = next(x for x in i18n.LANGUAGES if x != lang)
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", other)]
    return f"{request.url.path}?{urlencode(query)}"


def render(request: Request, name: str, **context: Any) -> HTMLResponse:
    """A page in the request's language; ?lang=xx is remembered in a cookie for a year."""
    lang = i18n.language(request)
    html = ENVIRONMENTS[lang].get_template(name).render(lang=lang, path=request.url.path,
                                                        lang_switch=switch_url(request, lang), **context)
    response = HTMLResponse(html)
    if request.query_params.get("lang") == lang:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
    return response


async def home(request: Request) -> Response:
    return render(request, "home.html")


async def join_page(request: Request) -> Response:
    """The join form; /j/<code> (a table's QR) fills the code in."""
    code = normalise_code(request.path_params.get("code", "")) or ""
    return render(request, "join.html", code=code)


async def table_page(request: Request) -> Response:
    return render(request, "table.html")


async def facilitator_page(request: Request) -> Response:
    return render(request, "facilitator.html")


async def sheet_page(request: Request) -> Response:
    return render(request, "sheet.html")


async def report_page(request: Request) -> Response:
    """The print-ready report: the page's script fetches the export with the facilitator's token."""
    return render(request, "report.html")


async def display_page(request: Request) -> Response:
    return render(request, "display.html")


async def new_page(request: Request) -> Response:
    """The organiser's setup: create an assembly (the organiser's token is in the link's fragment)."""
    return render(request, "new.html")


async def catalog_json(request: Request) -> Response:
    """The scripts' strings in one language: {msgid: translation}."""
    lang = request.path_params["lang"]
    if lang not in i18n.LANGUAGES:
        return JSONResponse({"error": "unknown_language"}, status_code=404)
    return JSONResponse(i18n.catalog(lang), headers={"Cache-Control": "no-cache"})
