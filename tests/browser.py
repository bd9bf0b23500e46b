"""Real headless Chromium for the pages' tests: the browser, pages in fresh contexts signed in or
not, in a desktop or a phone-sized window, and screenshots kept with the test artifacts.

A test module uses them with ``from .browser import browser, new_page  # noqa: F401`` (pytest
finds fixtures by name in the module).
"""

from __future__ import annotations

import json
import shutil

import pytest

from geo_service.settings import PROJECT_ROOT

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (scripts/install.sh --browser)"
)
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"
VIEW = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}  # a phone held upright
WALL = {"width": 1920, "height": 1080}
TOKEN_KEY = "geo_service.token"  # where common.js keeps the token in sessionStorage
LANG_KEY = "geo_service.lang"
# Collects the policy violations the page reports, from before its first script runs.
WATCH_CSP = """
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation",
        (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        # --disable-background-networking: Chromium's own update and safe-browsing calls are not the page's.
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--lang=zh-CN",  # Chromium's own controls (date inputs) in Chinese, as a county's browser has them
                "--disable-background-networking",
                "--use-gl=swiftshader",
                "--enable-unsafe-swiftshader",
                "--ignore-gpu-blocklist",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser):
    """Pages in fresh browser contexts: ``new_page(token, viewport=PHONE, language="en", **context)``.
    The token (if any) is in place before the page loads; the language is the page's own switch
    (default: none set, so the page's default, Chinese). ``page.requests``, ``page.errors`` and
    ``page.csp_console`` collect what the page did."""
    contexts = []

    def make(token: str | None = None, *, viewport: dict | None = None, language: str | None = None, **options):
        context = browser.new_context(viewport=viewport or VIEW, locale=options.pop("locale", "zh-CN"), **options)
        contexts.append(context)
        context.add_init_script(WATCH_CSP)
        if token is not None:
            context.add_init_script(
                f"try {{ sessionStorage.setItem('{TOKEN_KEY}', {json.dumps(token)}); }} catch (e) {{}}"
            )
        if language is not None:
            context.add_init_script(f"try {{ localStorage.setItem('{LANG_KEY}', '{language}'); }} catch (e) {{}}")
        page = context.new_page()
        page.requests = []
        page.errors = []
        page.csp_console = []
        page.on("request", lambda request: page.requests.append(request))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("console", lambda m: page.csp_console.append(m.text) if "Content Security Policy" in m.text else None)
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    """Keep what the page looks like now as ``var/test-artifacts/NAME.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
