"""Fixtures shared by the report tests: one headless chromium per module."""

import os

import pytest
from browser import Chromium, find_chromium


@pytest.fixture(scope="module")
def chromium():
    if find_chromium() is None:
        if os.environ.get("RUNVERDICT_SKIP_BROWSER") == "1":
            pytest.skip("RUNVERDICT_SKIP_BROWSER=1: the browser test was skipped on request")
        pytest.fail("chromium is not installed: run `make browser` (apt-get install -y chromium), or set "
                    "RUNVERDICT_SKIP_BROWSER=1 to skip the browser test knowingly")
    with Chromium(width=1280, height=900) as browser:
        yield browser
