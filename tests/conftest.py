"""Fixtures shared by test files (pytest finds them here)."""
from __future__ import annotations

import pytest


@pytest.fixture()
def page(tmp_path):
    """A fresh headless chromium page (its own profile) for one browser test."""
    from browser import chromium_page
    with chromium_page(tmp_path / "profile") as p:
        yield p


#: the files that take longest (seconds of one worker on 2 cores, from a --durations run of the
#: whole suite), run first: `make test`'s workers take whole files in collection order, so a
#: long file collected last (test_speed sorts late) runs alone at the end while the other
#: worker idles; longest first leaves only short files for the end
LONGEST_FIRST = {
    "test_speed.py": 95, "test_reproduce.py": 85, "test_model_video.py": 65,
    "test_pipeline_contract.py": 60, "test_lina.py": 50, "test_engine.py": 50,
    "test_browser_every_tab.py": 47, "test_app_browser.py": 35,
    "test_browser_presets.py": 32, "test_model_dir_families.py": 29, "test_app_api.py": 24,
    "test_fuzz_endpoints.py": 24, "test_device_check.py": 23, "test_app_video.py": 22,
    "test_probes.py": 21, "test_presets_served.py": 20,
}


def pytest_collection_modifyitems(session, config, items):
    """Longest files first (:data:`LONGEST_FIRST`), the rest after in their usual order."""
    rank = {name: i for i, name in enumerate(
        sorted(LONGEST_FIRST, key=LONGEST_FIRST.get, reverse=True))}
    items.sort(key=lambda it: rank.get(it.path.name, len(rank)))
