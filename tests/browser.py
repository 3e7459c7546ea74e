"""Debian's chromium driven by Playwright (no browser downloads), for every browser test.

Skipped when Chromium or Playwright is missing, unless CURBSIDE_TEST_BROWSER=required (CI),
then a missing browser is a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def unavailable(why: str) -> None:
    if os.environ.get("CURBSIDE_TEST_BROWSER", "").lower() == "required":
        pytest.fail(f"browser tests are required (CURBSIDE_TEST_BROWSER=required) but {why}")
    pytest.skip(why)


def launched_chromium() -> Iterator[Any]:
    """The browser, for a fixture to ``yield from`` at the scope it needs."""
    executable = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium")
                                              else None)
    if executable is None:
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
