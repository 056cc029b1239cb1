"""The built-in check kinds; importing this package registers them."""

from . import auc, backtest, config, delta, history, model, predictions  # noqa: F401

MODULES = ("auc", "backtest", "config", "delta", "history", "model", "predictions")
