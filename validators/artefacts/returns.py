"""Strategy returns: a T periods x N trials matrix read from a returns file."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class TrialReturns:
    """Strategy returns: ``values`` is T periods x N trials (float64), one name per trial."""

    names: tuple
    values: object  # numpy array
    path: str
    sha256: str | None = None  # of returns.csv as read; None when built from predictions

    def frame(self):
        """The same as a ``pandas.DataFrame``, one column per trial."""
        import pandas as pd

        return pd.DataFrame({n: self.values[:, j] for j, n in enumerate(self.names)}, columns=list(self.names))


def read_returns(path) -> TrialReturns:
    """The returns file: one column per trial, one row per period."""
    import numpy as np

    from .tables import read_table

    table = read_table(path)
    names = tuple(c for c in table.header if c in table.columns)
    values = np.column_stack([table.numeric(c).values for c in names]) if names else np.empty((0, 0))
    return TrialReturns(names, values, os.fspath(path), table.sha256)
