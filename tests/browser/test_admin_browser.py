"""The Django admin in a real browser, on the demo data (seed_demo), as the superuser and as
KONA's ISP administrator: no page wider than a 1280 px desktop, and no admin text left in
the other language (English in Spanish, Spanish in English).

The pages come from the admin registry (every changelist, and the change page of its
first row), so a new ModelAdmin is walked without anyone adding it here. Each test
collects every offender before asserting, so one run reports all of them.
"""

import io
import re
import shutil
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.roles import ROLES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP_VIEWPORT = {"width": 1280, "height": 800}
# seed_demo's staff: the superuser, and KONA's ISP administrator (403 pages are skipped).
SUPERUSER = "admin"
STAFF = (SUPERUSER, "admin@kona")
# Staff pages outside the ModelAdmins: the index, and the agents' console with a search.
EXTRA_PATHS = ("/admin/", "/admin/agentes/?q=1002")
SCREENSHOT_DIR = Path("/tmp/admin-wide")

# The page's width and the deepest elements whose right edge passes the viewport; and every
# box that scrolls sideways inside the page (form controls aside). The admin's result list
# is one (`.results { overflow-x: auto }`): a table wider than the room left by the two
# sidebars scrolls there without making the page itself any wider, so for it the room,
# the table's width, each column's width and the columns cut off are reported.
MEASURE_JS = """
() => {
  const doc = document.documentElement;
  const viewport = doc.clientWidth;
  const width = el => el ? Math.round(el.getBoundingClientRect().width) : 0;
  const describe = el => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += '#' + el.id;
    if (el.classList.length) name += '.' + [...el.classList].join('.');
    return name;
  };
  const past = [...document.body.querySelectorAll('*')].filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > viewport + 1;
  });
  const culprits = past
    .filter(el => !past.some(other => other !== el && el.contains(other)))
    .slice(0, 8)
    .map(el => describe(el) + ' right=' + Math.round(el.getBoundingClientRect().right));
  const scrollers = [...document.body.querySelectorAll('*')]
    .filter(el => !el.matches('select, textarea, input'))
    .filter(el => {
      const overflow = getComputedStyle(el).overflowX;
      return (overflow === 'auto' || overflow === 'scroll')
        && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
    })
    .map(el => describe(el) + ' ' + el.scrollWidth + '>' + el.clientWidth);
  let list = null;
  const results = document.querySelector('#changelist .results');
  const table = document.querySelector('#result_list');
  if (results && table && results.scrollWidth > results.clientWidth + 1) {
    const edge = results.getBoundingClientRect().left + results.clientWidth;
    const columns = [...table.querySelectorAll('thead th')].map(th => {
      const match = th.className.match(/column-(\\S+)/);
      const name = match ? match[1] : (th.innerText.trim() || '(checkbox)');
      return {name, width: width(th), cut: th.getBoundingClientRect().right > edge + 1};
    });
    list = {
      room: results.clientWidth,
      table: table.scrollWidth,
      navSidebar: width(document.querySelector('#nav-sidebar')),
      filters: width(document.querySelector('#changelist-filter')),
      columns: columns.map(c => c.name + ' ' + c.width).join(', '),
      cut: columns.filter(c => c.cut).map(c => c.name),
    };
  }
  return {scrollWidth: doc.scrollWidth, culprits, scrollers, list};
}
"""

# The visible text of the page without the navigation sidebar (the index page, walked
# too, shows the same list of apps): whole, the result list's rows alone, and the rest.
TEXT_JS = """
() => {
  const hide = selector => document.querySelectorAll(selector)
    .forEach(el => el.style.setProperty('display', 'none', 'important'));
  hide('#nav-sidebar, #toggle-nav-sidebar');
  const page = document.body.innerText;
  const body = document.querySelector('#result_list tbody');
  const rows = body ? body.innerText : '';
  hide('#result_list tbody');
  return {page, rows, chrome: document.body.innerText};
}
"""

# English left in the Spanish admin. Checked against the whole page (the demo data is
# Spanish, so an English word in a row is an untranslated choice or label too); product
# names (Stripe, Mercado Pago, OxxoPay, WebAuthn, TOTP) match none of these.
ENGLISH_WORDS = [
    re.compile(pattern, flags)
    for pattern, flags in [
        (r"\bproviders?\b", re.I),
        (r"\bauthenticators?\b", re.I),
        (r"\bemail address(?:es)?\b", re.I),
        (r"\bBy \w+", 0),
        (r"\bAction:", 0),
        (r"\bSearch\b", 0),
        (r"\bgroups?\b", re.I),
        (r"\busers?\b", re.I),
        (r"\badd\b", re.I),
        (r"\bpayments?\b", re.I),
        (r"\bgateways?\b", re.I),
        (r"\bevents?\b", re.I),
        (r"\btype\b", re.I),
        (r"\b(?:created|updated|last used) (?:at|on)\b", re.I),
        (r"\bSelect \w+(?: \w+)* to (?:change|view)\b", 0),
        (r"\bDelete selected\b", 0),
        (r"\b(?:Home|Filter|Show counts|Any date|Today)\b", 0),
        # A model field's own name shown to staff (e.g. due_date).
        (r"\b[a-z]+(?:_[a-z0-9]+)+\b", 0),
    ]
]
# Spanish left in the English admin. Checked against the page without the result list's
# rows: the demo data itself is Spanish ("Plan Avanzado 30 días", "Contrato 2002"), as are
# names of zones, roles and ISPs that appear among the filters' choices (none match).
SPANISH_WORDS = [
    re.compile(pattern, flags)
    for pattern, flags in [
        (r"\bproveedor(?:es)?\b", re.I),
        (r"\bcontratos?\b", re.I),
        (r"\bPor \w+", 0),
        (r"\bauditoría\b", re.I),
        (r"\bregistros? de\b", re.I),
        (r"\bqui[eé]n\b", re.I),
        (r"\bacci[oó]n(?:es)?\b", re.I),
        (r"\bobjeto\b", re.I),
        (r"\bcambios\b", re.I),
        (r"\bdirecci[oó]n\b", re.I),
        (r"\bdetalle\b", re.I),
        (r"\bqu[eé] permite\b", re.I),
        (r"\b(?:desde|hasta|fecha|estado|motivo|concepto|importe)\b", re.I),
        (r"\bfacturas?\b", re.I),
        (r"(?<!Mercado )\bpagos?\b", re.I),
        (r"\bliquidaci[oó]n(?:es)?\b", re.I),
        (r"\bmovimientos?\b", re.I),
        (r"\bvigencia\b", re.I),
        (r"\badministraci[oó]n\b", re.I),
        (r"\b(?:proceso de fondo|portal del abonado|comando)\b", re.I),
        (r"\b(?:creado|modificado|eliminado|importado|cambiada|confirmado)\b", re.I),
        (r"\b(?:seleccione|añadir|modificar|buscar|eliminar|contraseña)\b", re.I),
        (r"\b[a-z]+(?:_[a-z0-9]+)+\b", 0),
    ]
]
# In the rows, where the demo data is Spanish too, only a Spanish sentence gives away text
# from the code (a choice, a description): none of the demo's values has these words, but
# the roles' names do, and they are names (keys in the database), not text to translate.
SPANISH_IN_ROWS = [re.compile(r"\b(?:de|del|la|las|los|el|en|con|su|sin|para|por|una)\b")]
ROLE_NAMES = re.compile("|".join(re.escape(role) for role in sorted(ROLES, key=len, reverse=True)))


@pytest.fixture(autouse=True)
def _admin_without_totp(settings):
    settings.ADMIN_REQUIRE_MFA = False


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=io.StringIO())


def _changelists() -> list[str]:
    return sorted(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    )


def _staff_page(browser, live_server, username: str, *, language: str):
    """A desktop tab signed in as `username`, through a session cookie from force_login;
    English also sends the language cookie (Spanish is the default)."""
    client = Client()
    client.force_login(User.objects.get(username=username))
    host = urlsplit(live_server.url).hostname
    context = browser.new_context(
        base_url=live_server.url,
        viewport=DESKTOP_VIEWPORT,
        locale="es-MX" if language == "es" else "en-US",
        timezone_id="America/Mexico_City",
    )
    context.set_default_timeout(15_000)
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    if language != "es":
        cookies[settings.LANGUAGE_COOKIE_NAME] = language
    context.add_cookies(
        [
            {"name": name, "value": value, "domain": host, "path": "/"}
            for name, value in cookies.items()
        ]
    )
    return context, context.new_page()


def _open(page, username: str, path: str) -> bool:
    """Go to `path`; False when the ISP administrator may not see it (403)."""
    response = page.goto(path, wait_until="load")
    assert response is not None, path
    if response.status == 403 and username != SUPERUSER:
        return False
    assert response.status == 200, f"{username} {path}: HTTP {response.status}"
    # Not sent to the login page (or anywhere else) on the way.
    assert urlsplit(page.url).path == urlsplit(path).path, f"{username} {path} → {page.url}"
    return True


def _first_change_path(page, changelist: str) -> str | None:
    """The change (or view) page of the list's first row, when there is a row."""
    return page.evaluate(
        """(changelist) => {
          const link = [...document.querySelectorAll('#result_list tbody tr a[href]')]
            .find(a => a.pathname.startsWith(changelist) && a.pathname.endsWith('/change/'));
          return link ? link.pathname : null;
        }""",
        changelist,
    )


def _walk(page, username: str, *, change_pages: bool):
    """Yield each admin path this staff member may open, with the page on it."""
    for path in EXTRA_PATHS:
        if _open(page, username, path):
            yield path
    for changelist in _changelists():
        if not _open(page, username, changelist):
            continue
        yield changelist
        change = _first_change_path(page, changelist) if change_pages else None
        if change and _open(page, username, change):
            yield change


def _width_report(username: str, path: str, measure: dict) -> str:
    lines = [f"{username} {path}:"]
    if measure["scrollWidth"] > DESKTOP_VIEWPORT["width"]:
        lines.append(
            f"  page {measure['scrollWidth']}px wide; past the edge: {measure['culprits']}"
        )
    if measure["list"]:
        m = measure["list"]
        lines.append(
            f"  result list {m['table']}px in {m['room']}px of room (navigation sidebar "
            f"{m['navSidebar']}px, filters {m['filters']}px); cut off: {', '.join(m['cut'])}"
        )
        lines.append(f"  columns: {m['columns']}")
    if measure["scrollers"]:
        lines.append(f"  scrolls sideways: {measure['scrollers']}")
    return "\n".join(lines)


def test_admin_pages_fit_a_desktop(chromium_browser, live_server, demo):
    """No page wider than the viewport, and nothing in it (the result list) scrolling
    sideways either; and the Content-Security-Policy refuses nothing on any of them."""
    offenders = []
    refused = []
    shutil.rmtree(SCREENSHOT_DIR, ignore_errors=True)
    SCREENSHOT_DIR.mkdir(parents=True)
    for username in STAFF:
        context, page = _staff_page(chromium_browser, live_server, username, language="es")
        page.on(
            "console",
            lambda message, page=page: (
                refused.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        try:
            for path in _walk(page, username, change_pages=True):
                measure = page.evaluate(MEASURE_JS)
                if measure["scrollWidth"] > DESKTOP_VIEWPORT["width"] or measure["scrollers"]:
                    offenders.append(_width_report(username, path, measure))
                    slug = re.sub(r"[^a-z0-9]+", "-", f"{username} {path}".lower()).strip("-")
                    page.screenshot(path=str(SCREENSHOT_DIR / f"{slug}.png"), full_page=True)
        finally:
            context.close()
    assert not offenders, (
        f"Too wide for a 1280 px desktop (screenshots in {SCREENSHOT_DIR}):\n"
        + "\n".join(offenders)
    )
    assert refused == []


def _untranslated(chromium_browser, live_server, *, language: str, checks):
    """Every match on the changelists, the index and the agents' console, as each staff
    member, of the `checks` ({part of the page: words}): {path: {pattern: [example, words,
    lines]}}, one entry for lines alike but for their digits (the rows of a list); a long
    line is cut to the stretch around its first match."""
    found = defaultdict(dict)
    for username in STAFF:
        context, page = _staff_page(chromium_browser, live_server, username, language=language)
        try:
            for path in _walk(page, username, change_pages=False):
                texts = page.evaluate(TEXT_JS)
                texts["rows"] = ROLE_NAMES.sub("", texts["rows"])
                for scope, words in checks.items():
                    for line in texts[scope].splitlines():
                        matches = [match for word in words for match in word.finditer(line)]
                        if not matches:
                            continue
                        start = min(match.start() for match in matches)
                        line = line[max(start - 30, 0) : start + 60] if len(line) > 90 else line
                        line = " ".join(line.split())
                        key = re.sub(r"\d+", "#", line)
                        entry = found[path].setdefault(key, [line, set(), set()])
                        entry[1].update(match.group(0) for match in matches)
                        entry[2].add(line)
        finally:
            context.close()
    return found


def _report(found) -> str:
    return "\n".join(
        f"{path}: {example!r} → {', '.join(sorted(words))}"
        + (f" (×{len(lines)})" if len(lines) > 1 else "")
        for path in sorted(found)
        for example, words, lines in sorted(found[path].values(), key=lambda entry: entry[0])
    )


def test_spanish_admin_has_no_english(chromium_browser, live_server, demo):
    found = _untranslated(
        chromium_browser, live_server, language="es", checks={"page": ENGLISH_WORDS}
    )
    assert not found, "English in the Spanish admin:\n" + _report(found)


def test_english_admin_has_no_spanish(chromium_browser, live_server, demo):
    found = _untranslated(
        chromium_browser,
        live_server,
        language="en",
        checks={"chrome": SPANISH_WORDS, "rows": SPANISH_IN_ROWS},
    )
    assert not found, "Spanish in the English admin:\n" + _report(found)
