"""The browser tests' kit: the screens they run on (a desktop and a phone, 390×844,
touch), Debian's Chromium driven by Playwright, and the steps every such test takes.

Registered as a plugin in ``tests/conftest.py``, so its fixtures reach every test module.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# Decorate a browser test with this to run it on both screens; it gets ``viewport``.
ON_EVERY_SCREEN = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])

CHROMIUM = os.environ.get("INFOCITY_TEST_CHROMIUM") or shutil.which("chromium")
# Screenshots of the steps and of failures, kept by CI.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# As root in a container Chromium needs --no-sandbox; the network flags stop it from
# calling home, which this machine's closed network would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# A test on every screen runs each screen once, on one database each: the desktop on
# PostgreSQL (as the city runs), the phone on SQLite (as the demo runs). The pages are the
# same on both; what differs between the databases is proved below the pages, in the
# service and concurrency tests that run on both.
SCREEN_DATABASE = {"desktop": "postgresql", "phone": "sqlite"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the pairs of screen and database that ``SCREEN_DATABASE`` does not run."""
    kept, left_out = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        params = params.params if params is not None else {}
        viewport, database = params.get("viewport"), params.get("database")
        screen = "phone" if viewport == PHONE else "desktop"
        if viewport is not None and database is not None and SCREEN_DATABASE[screen] != database:
            left_out.append(item)
        else:
            kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def context_options(viewport: dict[str, int], locale: str = "ru-RU") -> dict[str, Any]:
    """Options of ``browser.new_context`` for a screen: a phone is a touch screen that
    honours the page's viewport meta tag."""
    phone = viewport == PHONE
    return {"locale": locale, "viewport": viewport, "is_mobile": phone, "has_touch": phone}


@pytest.fixture(autouse=True)
def _chromium_present(request: pytest.FixtureRequest) -> None:
    """A ``browser`` test is skipped where there is no Chromium, before its other
    fixtures start anything; CI must have one."""
    if request.node.get_closest_marker("browser") is None or CHROMIUM is not None:
        return
    reason = "no Chromium here (Debian package 'chromium')"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {reason}")
    pytest.skip(reason)


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed on leaving."""
    from playwright.sync_api import expect, sync_playwright

    # Assertions on what a page shows wait as long as its actions do on a busy machine.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class _WorkerChromium:
    """One Chromium for a run of browser tests in this test process, started on first use:
    starting Chromium and Playwright's driver costs seconds, and every test's pages live
    in contexts of their own (cookies, storage), so sharing the browser shares nothing a
    test can see. Playwright's synchronous API holds an event loop in this thread while it
    runs, which ``asyncio.run`` refuses to start beside, so the first test that is not a
    browser test closes it."""

    def __init__(self) -> None:
        self._running: Any = None
        self._stack: ExitStack | None = None

    def get(self) -> Any:
        if self._running is None or not self._running.is_connected():
            self.close()
            self._stack = ExitStack()
            self._running = self._stack.enter_context(launched_chromium())
        return self._running

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack = self._running = None


_WORKER_CHROMIUM = _WorkerChromium()


@pytest.fixture(scope="session", autouse=True)
def _chromium_closed_at_the_end() -> Iterator[None]:
    yield
    _WORKER_CHROMIUM.close()


@pytest.fixture(autouse=True)
def _chromium_closed_between_runs(request: pytest.FixtureRequest) -> None:
    """Close the shared Chromium before a test that is not a browser test."""
    if request.node.get_closest_marker("browser") is None:
        _WORKER_CHROMIUM.close()


@pytest.fixture
def chromium() -> Iterator[Any]:
    """The Chromium of this test process; each context is a browser of its own, and the
    contexts a test opened are closed after it."""
    browser = _WORKER_CHROMIUM.get()
    try:
        yield browser
    finally:
        for context in list(browser.contexts):
            context.close()


def new_page(browser: Any, viewport: dict[str, int], locale: str = "ru-RU") -> Any:
    """A page in a new context (own cookies) of ``browser`` for this screen and language."""
    page = browser.new_context(**context_options(viewport, locale)).new_page()
    page.set_default_timeout(15_000)
    return page


def fits_the_screen(page: Any, width: int) -> None:
    """Nothing on the page is wider than the screen: no sideways scrolling."""
    page.wait_for_load_state()  # measured once the page a click loaded has arrived
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide"


def on_screen(locator: Any, width: int) -> None:
    """The element is shown whole within the screen's width (not pushed off its edge)."""
    from playwright.sync_api import expect

    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width, f"{box} is off a {width}px screen"


def log_in(page: Any, base_url: str, email: str, password: str) -> None:
    """Log in through the /login form as a person would."""
    page.goto(f"{base_url}/login")
    page.fill("#f-identifier", email)
    page.fill("#f-password", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
