"""Runs that are not a local folder: an MLflow run, an object-store prefix.

``runverdict check LOCATION`` takes a run directory or one of:

* ``runs:/RUN_ID`` (also ``mlflow:/RUN_ID``): an MLflow run in the tracking store named by
  ``--mlflow-uri`` or ``$MLFLOW_TRACKING_URI`` (``validators.sources.mlflow_run``);
* ``s3://bucket/prefix``, ``gs://bucket/prefix``, ``file:///path``, ``memory://prefix``: a prefix
  of an object store, read through fsspec (``validators.sources.object_store``).

A source **fetches** the artefacts the spec needs (never the whole prefix) into a private
temporary folder, applying the size limits before each download; the gate then reads that
folder with the same conventions and ``--artefact``/``--layout`` declarations as a local run.
The report names the location, not the temporary folder, and lists each object fetched with its
URL and SHA-256. Anything that goes wrong (unknown run id, unreachable store, missing
credentials, no such prefix, an object that changes while it is read) is an ``ArtefactError``
naming the URL: exit 2, never a pass. Each source module is imported only when its scheme is used,
so the core never imports MLflow, fsspec or boto.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ArtefactError

# scheme -> the module that fetches it (its ``fetch(location, needed, into, options) -> Fetched``)
SOURCES = {
    "runs": "validators.sources.mlflow_run",
    "mlflow": "validators.sources.mlflow_run",
    "s3": "validators.sources.object_store",
    "gs": "validators.sources.object_store",
    "gcs": "validators.sources.object_store",
    "file": "validators.sources.object_store",
    "memory": "validators.sources.object_store",
}
EXTRAS = {"validators.sources.mlflow_run": "mlflow", "validators.sources.object_store": "remote"}


@dataclass(frozen=True)
class SourceOptions:
    """What a source may need beyond the location (from the command line or the pytest options)."""

    mlflow_uri: str | None = None  # else $MLFLOW_TRACKING_URI
    timeout: float = 60.0  # seconds for any one request to a store
    # (artefact, path or glob) the run declares (the spec's [artefacts], then --artefact): fetched too,
    # so a name no convention knows still reaches the local copy
    artefacts: tuple = ()


def options_from(args) -> SourceOptions:
    """The source options of parsed command-line arguments (``--mlflow-uri``, ``--artefact``)."""
    from ..artefacts.layout import DECLARABLE_ARTEFACTS, parse_assignments

    try:
        declared = parse_assignments(getattr(args, "artefact", None) or [], "--artefact", DECLARABLE_ARTEFACTS)
    except ValueError:  # the command line's own check reports it
        declared = {}
    return SourceOptions(mlflow_uri=getattr(args, "mlflow_uri", None), artefacts=tuple(declared.items()))


@dataclass(frozen=True)
class FetchedObject:
    path: str  # relative to the run's local copy, "/"-separated
    url: str  # where it came from
    size: int
    sha256: str


@dataclass
class Fetched:
    """A remote run, copied where the gate can read it."""

    location: str  # as the user gave it
    local_dir: Path
    objects: list[FetchedObject] = field(default_factory=list)
    artefacts: dict = field(default_factory=dict)  # paths the source declares (e.g. MLflow's model folder)
    notes: list[str] = field(default_factory=list)
    writer: object | None = None  # source-specific: e.g. the MLflow run to write the verdict back to

    def url_of(self, path, by_path=None) -> str:
        """The URL of a path in the local copy (the object's own URL when it was fetched as one)."""
        rel = os.path.relpath(os.path.realpath(path), os.path.realpath(self.local_dir)).replace(os.sep, "/")
        obj = (by_path if by_path is not None else {o.path: o for o in self.objects}).get(rel)
        return obj.url if obj is not None else f"{self.location.rstrip('/')}/{rel}"

    def relabel(self, report):
        """The report as of ``location``: its run named by the URL, files by their URLs, the fetch in its notes."""
        root = os.path.realpath(self.local_dir)
        by_path = {o.path: o for o in self.objects}
        files = {}
        for path, digest in report.files.items():
            rel = os.path.relpath(os.path.realpath(path), root).replace(os.sep, "/")
            obj = by_path.get(rel)
            files[obj.url if obj is not None else f"{self.location.rstrip('/')}/{rel}"] = digest
        notes = [f"fetched from {self.location}: " + (", ".join(f"{o.path} ({o.size} bytes, sha256 {o.sha256[:12]})"
                                                              for o in self.objects) or "no objects")]
        layout = tuple(replace(c, path=self.url_of(c.path, by_path)) for c in getattr(report, "layout", ()))
        location = self.location.rstrip("/")

        roots = sorted({root, os.fspath(self.local_dir)}, key=len, reverse=True)

        def named(value):  # the temporary copy's paths in messages and evidence, as the location's
            if isinstance(value, str):
                for folder in roots:
                    value = value.replace(folder + os.sep, location + "/").replace(folder, location)
                return value
            if isinstance(value, dict):
                return {k: named(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(named(v) for v in value)
            return value

        results = tuple(replace(r, message=named(r.message), evidence=named(r.evidence)) for r in report.results)
        decision = report.decision
        if decision is not None and hasattr(decision, "because"):
            decision = replace(decision, reason=named(decision.reason), because=tuple(named(b) for b in decision.because))
        return replace(report, run_dir=self.location, files=files, layout=layout, results=results, decision=decision,
                       notes=tuple(dict.fromkeys(list(report.notes) + self.notes + notes)),
                       source={"location": self.location,
                               "objects": [{"path": o.path, "url": o.url, "size": o.size, "sha256": o.sha256}
                                           for o in self.objects]})


def scheme_of(location) -> str | None:
    """The source scheme of ``location`` (``"s3"``, ``"runs"``...), None for a local path."""
    text = os.fspath(location)
    if not isinstance(text, str) or ":" not in text:
        return None
    scheme = text.split(":", 1)[0].lower()
    if scheme in SOURCES and (text[len(scheme):].startswith(":/")):
        return scheme
    return None


def is_remote(location) -> bool:
    return scheme_of(location) is not None


def needed_artefacts(spec) -> tuple[str, ...]:
    """The artefacts the spec's checks read (what a remote source must fetch); every artefact for
    ``spec=None`` (the pytest plugin's ``run`` fixture without a spec)."""
    from ..kinds import builtin_kinds

    if spec is None:
        from ..artefacts.layout import DECLARABLE_ARTEFACTS

        return DECLARABLE_ARTEFACTS

    kinds = builtin_kinds()
    needed = []
    for check in spec.checks:
        needed += kinds[check.kind].artefacts
        if check.kind == "auc" and check.params.get("history_metric"):
            needed.append("history")
        if check.kind == "config":
            needed.append("model")  # a list of loss weights maps to the model's outputs
        if check.kind in ("history", "delta") and check.params.get("epoch") == "best":
            needed.append("config")  # EarlyStopping's parameters, when the config records them
    if spec.trials is not None and "returns" in needed:
        needed = [n for n in needed if n != "returns"] + ["predictions"]
    return tuple(dict.fromkeys(needed))


@contextmanager
def materialise(location, spec, options: SourceOptions | None = None):
    """Yield a ``Fetched`` for a remote ``location`` (its temporary copy removed after)."""
    scheme = scheme_of(location)
    if scheme is None:
        raise ValueError(f"{location!r} is a local path, not a remote run")
    module_name = SOURCES[scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ArtefactError(location, f"reading {scheme}: runs needs a package that is not installed ({exc.name})",
                            hint=f"pip install 'runverdict[{EXTRAS[module_name]}]'") from None
    options = options or SourceOptions()
    declared = {**dict(getattr(spec, "artefacts", None) or {}), **dict(options.artefacts)}
    options = replace(options, artefacts=tuple(declared.items()))
    into = Path(tempfile.mkdtemp(prefix="runverdict-fetch-"))
    try:
        yield module.fetch(os.fspath(location), needed_artefacts(spec), into, options)
    finally:
        shutil.rmtree(into, ignore_errors=True)


@contextmanager
def local_copy(location, spec, options: SourceOptions | None = None):
    """Yield ``(path, fetched)``: the folder the gate reads and, for a remote location, its ``Fetched``
    (``None`` for a local run directory). Reports that read artefacts (HTML plots) must be written
    inside the ``with``: the copy is removed after it."""
    if not is_remote(location):
        yield location, None
        return
    with materialise(location, spec, options) as fetched:
        yield fetched.local_dir, fetched


@contextmanager
def judged(spec, location, baseline=None, *, artefacts=None, layout=None, options=None):
    """Yield ``(report, fetched)``: the gate's report on ``location`` against an optional ``baseline``,
    each a run directory or a remote run, named by the locations given (``relabel``), and the run's
    ``Fetched`` (None for a run directory). Remote copies live until the
    ``with`` ends, so reports that read artefacts (HTML plots) are written inside it. A remote run
    that cannot be fetched raises ``ArtefactError``."""
    from contextlib import nullcontext

    from ..gate import evaluate

    base_copy = local_copy(baseline, spec, options) if baseline is not None else nullcontext((None, None))
    with local_copy(location, spec, options) as (local, fetched), base_copy as (base_local, base_fetched):
        declared = {**(fetched.artefacts if fetched else {}), **(artefacts or {})} or None
        report = evaluate(spec, local, baseline_dir=base_local, artefacts=declared, layout=layout,
                          baseline_artefacts=base_fetched.artefacts if base_fetched else None)
        yield relabel(report, fetched, base_fetched), fetched


def relabel(report, fetched=None, baseline_fetched=None):
    """The report named by the locations the user gave, not by the temporary copies."""
    if fetched is not None:
        report = fetched.relabel(report)
    if baseline_fetched is not None and report.baseline is not None:
        report = replace(report, baseline=replace(report.baseline, baseline_dir=baseline_fetched.location))
    return report


__all__ = ["SOURCES", "Fetched", "FetchedObject", "SourceOptions", "is_remote", "judged", "local_copy", "materialise",
           "needed_artefacts", "options_from", "relabel", "scheme_of"]
