"""What the accessibility check and the seeds' walkthrough share: the two screens, a
browser context on the live server, seed_demo's logins, and axe-core."""

import io
import json
import re
from pathlib import Path

from django.core.management import call_command
from playwright.sync_api import expect

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}

# axe-core from npm, pinned in tests/browser/axe/package-lock.json; `make install` (or
# `npm ci` in that directory) puts it here. Never a CDN.
AXE_DIRECTORY = Path(__file__).parent / "axe"
AXE_SCRIPT = AXE_DIRECTORY / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 level A and AA, nothing else (no "best-practice" rules).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

AXE_RUN_JS = """
async (tags) => {
  const results = await axe.run(document, {
    runOnly: {type: 'tag', values: tags},
    resultTypes: ['violations', 'incomplete'],
  });
  const summary = items => items.map(item => ({
    id: item.id,
    impact: item.impact,
    help: item.help,
    nodes: item.nodes.map(node => ({
      target: node.target.join(' '),
      why: [...node.any, ...node.all, ...node.none].map(check => check.message).join(' '),
    })),
  }));
  return {violations: summary(results.violations), incomplete: summary(results.incomplete)};
}
"""

# seed_demo prints one "Ingresar: Cuenta … / Contraseña …" line per claimed contract.
LOGIN_LINE = re.compile(r"Cuenta (\S+@\S+)(?: \(o \S+\))? / Contraseña (\S+)")


def demo_seeded() -> dict[str, str]:
    """seed_demo's two ISPs (KONA 111, prepaid; Interatos 222, postpaid) and their
    reference gateway; {username: password} of the subscribers it claimed."""
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return dict(LOGIN_LINE.findall(out.getvalue()))


def new_context(browser, live_server, viewport):
    """A fresh tab's context (own cookies) at `viewport`, relative URLs to the live server."""
    phone = viewport["width"] < 900
    context = browser.new_context(
        base_url=live_server.url,
        viewport=viewport,
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        locale="es-MX",
        timezone_id="America/Mexico_City",
        accept_downloads=True,
    )
    context.set_default_timeout(10_000)
    return context


def sign_in(page, login_path: str, username: str, password: str) -> None:
    """Bienvenida: Cuenta + Contraseña → INGRESAR, landing on Inicio with the menu."""
    page.goto(login_path)
    expect(page.get_by_role("heading", name="Bienvenida")).to_be_visible()
    page.get_by_label("Cuenta", exact=True).fill(username)
    page.get_by_label("Contraseña", exact=True).fill(password)
    page.get_by_role("button", name="INGRESAR").click()
    expect(page.locator("nav.menu")).to_be_visible()


def page_width(page) -> dict[str, int]:
    return page.evaluate(
        "() => ({scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth})"
    )


def assert_fits_the_screen(page, viewport) -> None:
    """No sideways scrolling: the page is no wider than the window (on a phone a page too
    wide also widens the layout viewport, hence the second check)."""
    width = page_width(page)
    assert width["scrollWidth"] <= width["innerWidth"], (page.url, width)
    assert width["innerWidth"] == viewport["width"], (page.url, width)


def axe_results(page) -> dict[str, list[dict]]:
    """axe-core's violations and incomplete ("needs review") results for the page on screen,
    WCAG 2.1 A and AA rules only. The script is evaluated, not added as a <script> tag:
    the pages' Content-Security-Policy (nonces, no inline scripts) stays in force, so axe
    sees the page exactly as a subscriber's browser renders it."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    return page.evaluate(AXE_RUN_JS, AXE_TAGS)


def axe_review_load(path: Path) -> dict[tuple[str, str], str]:
    """The committed allowlist of incomplete results: {(page, rule): reason}."""
    entries = json.loads(path.read_text(encoding="utf-8"))["reviewed"]
    return {(entry["page"], entry["rule"]): entry["reason"] for entry in entries}
