"""Fixtures shared by test files (pytest finds them here)."""
from __future__ import annotations

import pytest


@pytest.fixture()
def page(tmp_path):
    """A fresh headless chromium page (its own profile) for one browser test."""
    from browser import chromium_page
    with chromium_page(tmp_path / "profile") as p:
        yield p
