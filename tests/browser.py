"""What the browser tests share: the Debian chromium they drive and the marks that skip them
(saying why) where it is missing."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

MARKS = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"Debian chromium not found at {CHROMIUM} "
                              "(apt-get install chromium, or `make chromium` as root)"),
    pytest.mark.slow,   # each starts the app and a browser
]


@contextlib.contextmanager
def chromium_page(profile: Path) -> Iterator[Any]:
    """A page of a headless chromium with its own profile folder, closed afterwards."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1400, "height": 1000})
        try:
            yield ctx.new_page()
        finally:
            ctx.close()
