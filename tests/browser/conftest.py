"""Headless Debian Chromium driven by Playwright's sync API against pytest-django's live_server.

Never downloads a browser: it launches /usr/bin/chromium (override with CHROMIUM_PATH).
"""

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
# thread with a running loop unless told otherwise (the live server runs in its own thread).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A mid-range Android phone in portrait.
PHONE_VIEWPORT = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium_browser():
    if not Path(CHROMIUM_PATH).exists() and not shutil.which(CHROMIUM_PATH):
        message = f"Chromium not found at {CHROMIUM_PATH} (apt-get install chromium)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def phone_page(chromium_browser, live_server):
    """A fresh phone-sized tab (own cookies) whose relative URLs go to the live server."""
    context = chromium_browser.new_context(
        base_url=live_server.url,
        viewport=PHONE_VIEWPORT,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="es-MX",
        timezone_id="America/Mexico_City",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
