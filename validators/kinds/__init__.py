"""The built-in check kinds; importing this package registers them."""

from . import auc, config, history, predictions  # noqa: F401
