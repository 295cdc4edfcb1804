"""Pages in a real browser: Debian's chromium, headless, driven by Playwright for Python, against `make run`'s stack.

The Makefile installs chromium with apt (`make test` depends on it); Playwright's own browser downloads are never
used. MALL_CHROMIUM names another binary. Screenshots land in build/screenshots/ (kept as CI artifacts).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.stack import ROOT, RunningStack

CHROMIUM = os.environ.get("MALL_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "build" / "screenshots"
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A `make run` stack with its demo data, per test module."""
    running = RunningStack(tmp_path_factory.mktemp("browser-stack")).wait_ready()
    yield running
    assert running.stop() == 0, running.output()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (or set MALL_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def phone(browser, stack):
    """A fresh phone-sized page (375 x 812, touch, zh-CN) on the stack's origin; browser errors fail the test."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN", timezone_id="Asia/Shanghai", base_url=stack.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def shoot():
    """shoot(page, name): a screenshot of the whole page at build/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
