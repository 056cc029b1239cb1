"""The built-in check kinds; importing this package registers them."""

from . import auc, backtest, config, history, model, predictions  # noqa: F401
