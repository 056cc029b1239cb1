"""The built-in check kinds, one module per family; importing this package registers them.

The registry (``validators.registry``) knows nothing of them: code that needs the built-in
kinds imports this package and calls ``builtin_kinds()``.
"""

from __future__ import annotations

import importlib

from ..registry import Kind
from . import auc, backtest, compiled, config, delta, history, model, predictions  # noqa: F401

MODULES = ("auc", "backtest", "compiled", "config", "delta", "history", "model", "predictions")


def builtin_kinds() -> dict[str, Kind]:
    """The registry with every built-in kind in it.

    Robust to a test harness that drops modules from ``sys.modules`` (pytester): when the
    registry module is new but the kind modules were already imported, they are executed again.
    """
    kinds = importlib.import_module("..registry", __name__).KINDS
    if not kinds:
        for name in MODULES:
            importlib.reload(importlib.import_module(f".{name}", __name__))
    return kinds
