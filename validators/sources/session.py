"""A remote ``--run-dir`` of the pytest plugin: fetched once for the session, for the specs it names."""

from __future__ import annotations

import types
from pathlib import Path

from . import SourceOptions, materialise


def session_spec(args, cwd, looks_like_spec):
    """The spec whose checks say what to fetch: the one named, several named together, or ``None``
    (every artefact, for the ``run`` fixture) when no spec is named. ``SpecError`` when one is invalid."""
    from ..spec import load_spec

    specs = []
    for arg in args:
        path = Path(cwd, str(arg).split("::")[0])
        if path.is_file() and looks_like_spec(path):
            specs.append(load_spec(path))
    if len(specs) <= 1:
        return specs[0] if specs else None
    return types.SimpleNamespace(checks=[c for s in specs for c in s.checks],
                                 trials=next((s.trials for s in specs if s.trials is not None), None),
                                 artefacts={k: v for s in specs for k, v in (s.artefacts or {}).items()})


def fetch_for_session(stack, location, args, cwd, mlflow_uri, artefacts, looks_like_spec):
    """The ``Fetched`` copy of ``location``, kept open on ``stack`` (closed at ``pytest_unconfigure``)."""
    options = SourceOptions(mlflow_uri=mlflow_uri, artefacts=tuple((artefacts or {}).items()))
    return stack.enter_context(materialise(location, session_spec(args, cwd, looks_like_spec), options))
