"""Debian's headless Chromium driven by Playwright, for the tests of browser-facing pages.

Playwright's own browser download is never used: it fetches from outside the package
registries. ``python3 dev.py test`` installs Debian's ``chromium``; without it the tests skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (python3 dev.py test installs it)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@asynccontextmanager
async def fresh_page(browser: Browser) -> AsyncIterator[Page]:
    """A page in its own context (no cookies or storage shared with other tests)."""
    context = await browser.new_context()
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Import into a test module (with ``page``) to drive pages in Chromium."""
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with fresh_page(browser) as opened:
        yield opened
