"""Top-level conftest: makes the repo's tests import ``tests.factory`` as ``factory``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))


def pytest_addoption(parser, pluginmanager):
    """Inside the repo the runverdict plugin is available even where its ``pytest11`` entry
    point is not (a checkout on ``PYTHONPATH``, or ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``).

    Registered from this historic hook, which runs while this root conftest is loaded and
    before the command line is parsed, so ``--run-dir`` is known; skipped when the entry
    point already registered it or ``-p no:runverdict`` blocks it.
    """
    if pluginmanager.has_plugin("runverdict") or pluginmanager.is_blocked("runverdict"):
        return
    from validators import pytest_plugin

    if not pluginmanager.is_registered(pytest_plugin):
        pluginmanager.register(pytest_plugin, "runverdict")
