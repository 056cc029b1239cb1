"""runverdict: a validation gate for machine-learning training runs.

Importing this package is cheap: numpy, pandas and TensorFlow load only when a feature
needs them.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "load_spec", "pbo"]


def __getattr__(name):
    if name == "evaluate":
        from .gate import evaluate

        return evaluate
    if name == "load_spec":
        from .spec import load_spec

        return load_spec
    if name == "pbo":
        from .stats.cscv import pbo

        return pbo
    raise AttributeError(f"module 'validators' has no attribute {name!r}")
