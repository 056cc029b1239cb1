"""Top-level conftest: makes the repo's tests import ``tests.factory`` as ``factory``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
