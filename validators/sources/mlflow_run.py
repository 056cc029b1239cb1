"""An MLflow run as a run directory: ``runs:/RUN_ID`` (``mlflow:/RUN_ID``), ``runs:/RUN_ID/sub/path``.

The tracking store is ``--mlflow-uri``, else ``$MLFLOW_TRACKING_URI``; with neither it is an error
(MLflow's own default, a ``./mlruns`` folder wherever the gate happens to run, is never used
silently). A ``sqlite:///`` store that does not exist is an error too, never a new empty store.

What is fetched, into the private folder the gate then reads with the usual layout:

* the run's artifacts (under ``sub/path`` when given: that folder is the run's root) whose relative
  path a convention of a needed artefact could bind (``validators.artefacts.layout.CONVENTIONS``,
  globs matched one path segment at a time; everything under a history or TensorBoard folder), and
  the paths the spec's ``[artefacts]`` or ``--artefact`` declare. The listing is bounded by
  :data:`MAX_ARTIFACTS` entries; each file's size, as the store lists it, is checked against the
  reader's limit before it is downloaded;
* no history file among them (and the history needed): ``history.csv`` written from the run's
  metric history, one column per metric, step = epoch;
* no config file: ``config.json`` from the run's params, dotted keys nested
  (``training.loss_weights``), each value read as JSON, else as a Python literal, else kept as text;
* no model file at the run's top level: a model logged with MLflow's Keras flavour (an ``MLmodel``
  with a ``keras`` or ``tensorflow`` flavour and a ``.keras`` file in its ``data/`` folder), among
  the run's artifacts or, with MLflow 3, the run's logged models; only the ``.keras`` file is fetched.

HTTP stores: unless set in the environment, ``MLFLOW_HTTP_REQUEST_TIMEOUT`` is the source's timeout
(60 s), ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` 2 and ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`` 1, so an
unreachable store is an error within seconds (a refused connection) or about three timeouts (a
silent one), not MLflow's default of seven retries over minutes.

Every failure is an ``ArtefactError`` naming the URL (exit 2).
"""

from __future__ import annotations

import ast
import csv
import fnmatch
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..artefacts.layout import CONVENTIONS
from ..errors import ArtefactError
from . import Fetched, FetchedObject, SourceOptions

MAX_ARTIFACTS = 10_000  # entries (files and folders) listed in one run; more is an error, never a partial run
MAX_EPOCHS = 1_000_000  # steps of a metric history
MAX_MLMODEL_BYTES = 1 << 20  # an MLmodel file is a few hundred bytes of YAML
MAX_LOGGED_MODELS = 100  # logged models of one run examined for a Keras flavour
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
HISTORY_NOTE = "history: the MLflow run's metrics (step = epoch)"
CONFIG_NOTE = "config: the MLflow run's params (dotted keys nested)"
_RUN_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_LOG_DIRS = ("history", "tensorboard")
_KERAS_FLAVOURS = ("keras", "tensorflow")


@dataclass
class Writer:
    """Where ``log_verdict`` writes: the client of the store and the run."""

    client: object
    run_id: str
    tracking_uri: str
    url: str  # runs:/RUN_ID


# -- the location -----------------------------------------------------------------------------
def parse_location(location: str) -> tuple[str, str]:
    """``(run_id, sub_path)`` of ``runs:/RUN_ID[/sub/path]``; ``ArtefactError`` when malformed."""
    scheme, _, rest = location.partition(":")
    parts = [p for p in rest.strip("/").split("/") if p]
    if scheme.lower() not in ("runs", "mlflow") or not parts or not _RUN_ID.match(parts[0]):
        raise ArtefactError(location, "not an MLflow run: expected runs:/RUN_ID or runs:/RUN_ID/sub/path",
                            hint="the run id is the 32 hex digits MLflow shows for the run")
    if any(p in (".", "..") for p in parts[1:]):
        raise ArtefactError(location, "a sub-path of the run may not hold '.' or '..'")
    return parts[0], "/".join(parts[1:])


def tracking_uri(location: str, options: SourceOptions) -> str:
    uri = options.mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        raise ArtefactError(location, "no MLflow tracking store to read the run from",
                            hint="set MLFLOW_TRACKING_URI (e.g. sqlite:///mlflow.db or http://host:5000) "
                                 "or give --mlflow-uri")
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):].split("?", 1)[0]
        if path and path != ":memory:" and not os.path.isfile(path):
            raise ArtefactError(location, f"tracking store {uri}: no such SQLite file ({path!r})",
                                hint="check MLFLOW_TRACKING_URI or --mlflow-uri")
    return uri


def _bounded_http(options: SourceOptions) -> None:
    """Timeouts and retries of MLflow's HTTP client, unless the user set them."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, math.ceil(options.timeout))))
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


def _failure(url, what, exc, hint=None) -> ArtefactError:
    text = str(exc).strip().splitlines()
    detail = text[0][:300] if text else type(exc).__name__
    return ArtefactError(url, f"{what}: {detail}", hint=hint)


def client_for(location: str, options: SourceOptions):
    """``(client, run, run_id, sub_path, uri)`` of an MLflow location; ``ArtefactError`` naming it."""
    run_id, sub = parse_location(location)
    uri = tracking_uri(location, options)
    _bounded_http(options)
    from mlflow import MlflowClient

    try:
        client = MlflowClient(tracking_uri=uri)
        run = client.get_run(run_id)
    except Exception as exc:  # noqa: BLE001 - MLflow raises its own, requests' and SQLAlchemy's errors
        code = getattr(exc, "error_code", "")
        hint = ("check the run id and the tracking store" if "RESOURCE_DOES_NOT_EXIST" in str(code)
                else f"is the tracking store {uri} reachable?")
        raise _failure(location, f"cannot read the MLflow run from {uri}", exc, hint) from None
    return client, run, run_id, sub, uri


# -- fetching ---------------------------------------------------------------------------------
def fetch(location: str, needed, into: Path, options: SourceOptions) -> Fetched:
    """Copy what ``needed`` (and the declared artefacts) can bind from the run into ``into``."""
    client, run, run_id, sub, uri = client_for(location, options)
    base = f"runs:/{run_id}" + (f"/{sub}" if sub else "")
    fetched = Fetched(location, Path(into), writer=Writer(client, run_id, uri, f"runs:/{run_id}"))
    files = list_files(client, run_id, sub, base)
    declared = dict(options.artefacts or ())
    chosen = select(files, needed, declared)
    for rel in chosen:
        _download(client, run_id, sub, rel, files[rel], fetched, base)
    got = {role for role in needed if any(binds(role, rel, declared) for rel in chosen)}
    if "history" in needed and "history" not in got:
        history_from_metrics(client, run, fetched, base)
    if "config" in needed and "config" not in got:
        config_from_params(run.data.params, fetched, base)
    if "model" in needed and "model" not in got:
        keras_flavour_model(client, run, sub, files, fetched, base)
    return fetched


def list_files(client, run_id: str, sub: str, url: str) -> dict[str, int | None]:
    """The run's files under ``sub``: relative path -> size (None when the store does not say)."""
    files: dict[str, int | None] = {}
    pending, seen = [sub or None], 0
    while pending:
        folder = pending.pop()
        try:
            entries = client.list_artifacts(run_id, folder)
        except Exception as exc:  # noqa: BLE001 - MLflow raises its own, requests' and SQLAlchemy's errors
            raise _failure(url, "cannot list the run's artifacts", exc) from None
        seen += len(entries)
        if seen > MAX_ARTIFACTS:
            raise ArtefactError(url, f"the run has more than {MAX_ARTIFACTS} artifacts: refused, not judged on a part",
                                hint="give the folder holding the run's artefacts: runs:/RUN_ID/sub/path")
        for entry in entries:
            path = entry.path.strip("/")
            rel = path[len(sub) + 1:] if sub else path
            if not rel or ".." in rel.split("/"):
                continue
            if entry.is_dir:
                pending.append(path)
            else:
                files[rel] = entry.file_size
    if sub and not files:
        raise ArtefactError(url, "no artifacts under this path of the run", hint="check the sub-path")
    return dict(sorted(files.items()))


def _segments_match(parts, pattern_parts) -> bool:
    return len(parts) == len(pattern_parts) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern_parts))


def binds(role: str, rel: str, declared: dict | None = None) -> bool:
    """Could ``role`` be bound to (or read from inside) the file ``rel``?"""
    parts = rel.split("/")
    patterns = [declared[role]] if declared and role in declared else list(CONVENTIONS.get(role, ()))
    if role == "history" and not (declared and role in declared):
        patterns += list(CONVENTIONS["tensorboard"])
    for pattern in patterns:
        pattern_parts = [p for p in str(pattern).replace(os.sep, "/").split("/") if p not in ("", ".")]
        if _segments_match(parts, pattern_parts):
            return True
        # a folder: history and TensorBoard logs, or any declared folder
        if (role in _LOG_DIRS or (declared and role in declared)) and len(parts) > len(pattern_parts) \
                and _segments_match(parts[:len(pattern_parts)], pattern_parts):
            return True
    return False


def select(files, needed, declared: dict | None = None) -> list[str]:
    """The files of the run that the needed (or declared) artefacts could bind, in listing order."""
    roles = list(dict.fromkeys(list(needed) + list(declared or {})))
    return [rel for rel in files if any(binds(role, rel, declared) for role in roles)]


def limit_of(rel: str) -> int:
    """The largest size the reader of ``rel`` takes: the tables' limit, tighter for a config or history file."""
    from ..artefacts.config_file import MAX_CONFIG_BYTES
    from ..artefacts.history import MAX_HISTORY_BYTES
    from ..artefacts.tables import max_file_bytes

    limit = max_file_bytes(rel)
    if "/" not in rel and binds("config", rel):
        return min(limit, MAX_CONFIG_BYTES)
    if "/" not in rel and rel in CONVENTIONS["history"]:
        return min(limit, MAX_HISTORY_BYTES)
    return limit


def _download(client, run_id, sub, rel, size, fetched: Fetched, base: str, source=None) -> None:
    """Download one file (refused first when the store lists it over the reader's limit) and hash it."""
    url = f"{base}/{rel}"
    limit = limit_of(rel)
    if size is not None and size > limit:
        raise ArtefactError(url, f"is {size} bytes, more than the {limit} its reader takes: refused before download",
                            hint="RUNVERDICT_MAX_FILE_BYTES raises the limit of predictions and returns files")
    import shutil
    import tempfile

    target = fetched.local_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    remote = f"{sub}/{rel}" if sub else rel
    scratch = tempfile.mkdtemp(prefix="runverdict-download-")  # MLflow keeps the artifact's folders below dst
    try:
        try:
            local = (client.download_artifacts(run_id, remote, scratch) if source is None
                     else source(remote, scratch))
        except Exception as exc:  # noqa: BLE001 - MLflow raises its own, requests' and SQLAlchemy's errors
            raise _failure(url, "cannot download the artifact", exc) from None
        if not os.path.isfile(local):
            raise ArtefactError(url, "is not a file once downloaded")
        shutil.move(local, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    actual = target.stat().st_size
    if size is not None and actual != size:
        raise ArtefactError(url, f"changed while it was read: listed as {size} bytes, {actual} downloaded")
    if actual > limit:
        raise ArtefactError(url, f"is {actual} bytes, more than the {limit} its reader takes")
    digest = hashlib.sha256()
    with open(target, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    fetched.objects.append(FetchedObject(rel, url, actual, digest.hexdigest()))


# -- the history from the run's metrics -------------------------------------------------------
def history_rows(histories: dict) -> tuple[list[str], list[list[float]], list[str]]:
    """``(metrics, rows, notes)``: one row per epoch from ``{metric: [(step, timestamp, value), ...]}``.

    Steps must be the epochs ``0..n-1`` with the same ``n`` for every metric, else ``ValueError``
    naming the metric. Several values at one step: the last by timestamp (then as listed), said in ``notes``.
    """
    metrics = sorted(histories)
    columns, notes, epochs = {}, [], None
    for key in metrics:
        by_step: dict[int, tuple] = {}
        repeated = set()
        for order, (step, timestamp, value) in enumerate(histories[key]):
            if step in by_step:
                repeated.add(step)
                if (timestamp, order) < by_step[step][:2]:
                    continue
            by_step[step] = (timestamp, order, value)
        steps = sorted(by_step)
        if not steps or steps[0] != 0 or steps[-1] != len(steps) - 1:
            shown = ", ".join(str(s) for s in steps[:5]) + (", ..." if len(steps) > 5 else "")
            raise ValueError(f"metric {key!r} is logged at steps {shown}: expected the epochs 0..n-1 (step = epoch)")
        if epochs is None:
            epochs, first = len(steps), key
        elif len(steps) != epochs:
            raise ValueError(f"metric {key!r} has {len(steps)} epochs, {first!r} has {epochs}: every metric needs "
                             "a value at each epoch (step = epoch)")
        columns[key] = [by_step[s][2] for s in steps]
        if repeated:
            notes.append(f"history: metric {key!r} has several values at {len(repeated)} step(s) "
                         f"(first: {min(repeated)}): the last logged is read")
    rows = [[columns[k][i] for k in metrics] for i in range(epochs or 0)]
    return metrics, rows, notes


def _number(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else ("nan" if math.isnan(value) else
                                                            ("inf" if value > 0 else "-inf"))


def history_from_metrics(client, run, fetched: Fetched, base: str) -> None:
    keys = sorted(run.data.metrics)
    if not keys:
        return  # no history at all: the layout says what it looked for
    histories = {}
    for key in keys:
        try:
            values = client.get_metric_history(run.info.run_id, key)
        except Exception as exc:  # noqa: BLE001 - MLflow raises its own, requests' and SQLAlchemy's errors
            raise _failure(base, f"cannot read the history of metric {key!r}", exc) from None
        if len(values) > MAX_EPOCHS:
            raise ArtefactError(base, f"metric {key!r} has {len(values)} values, more than {MAX_EPOCHS} epochs")
        histories[key] = [(int(m.step), int(m.timestamp or 0), float(m.value)) for m in values]
    try:
        metrics, rows, notes = history_rows(histories)
    except ValueError as exc:
        raise ArtefactError(base, f"the run's metrics are not a history: {exc}",
                            hint="log each metric once per epoch with step=epoch, or log a history file "
                                 "(Keras CSVLogger's history.csv) as an artifact") from None
    path = fetched.local_dir / "history.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", *metrics])
        for epoch, row in enumerate(rows):
            writer.writerow([epoch, *(_number(v) for v in row)])
    _record_written(fetched, "history.csv", f"{base}#metrics")
    fetched.notes.extend([HISTORY_NOTE, *notes])


def _record_written(fetched: Fetched, rel: str, url: str) -> None:
    data = (fetched.local_dir / rel).read_bytes()
    fetched.objects.append(FetchedObject(rel, url, len(data), hashlib.sha256(data).hexdigest()))


# -- the config from the run's params ---------------------------------------------------------
def _json_data(value):
    """``value`` as JSON data (tuples as lists), or ``_NOT_DATA``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _NOT_DATA
    if isinstance(value, (list, tuple)):
        items = [_json_data(v) for v in value]
        return _NOT_DATA if any(i is _NOT_DATA for i in items) else items
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return _NOT_DATA
        items = {k: _json_data(v) for k, v in value.items()}
        return _NOT_DATA if any(i is _NOT_DATA for i in items.values()) else items
    return _NOT_DATA


_NOT_DATA = object()


def parse_param(text: str):
    """A param's value: JSON, else a Python literal (``{'direction': 1.0}``, ``True``), else the text."""
    for parse in (json.loads, ast.literal_eval):
        try:
            value = _json_data(parse(text))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        if value is not _NOT_DATA:
            return value
    return text


def nest_params(params: dict) -> dict:
    """Dotted keys nested (``a.b`` -> ``{"a": {"b": ...}}``), values parsed; ``ValueError`` naming a
    key that is both a value and a prefix of another (``a.b`` and ``a.b.c``). A key with an empty
    segment (``a..b``, ``.a``) is kept whole."""
    out: dict = {}
    leaves: dict = {}  # tuple path -> the key that set it
    for key in sorted(params):
        parts = key.split(".")
        if any(p == "" for p in parts):
            parts = [key]
        node = out
        for depth, part in enumerate(parts[:-1]):
            prefix = tuple(parts[:depth + 1])
            if prefix in leaves:
                raise ValueError(f"params {leaves[prefix]!r} and {key!r}: {leaves[prefix]!r} is a value and a prefix "
                                 f"of {key!r}")
            node = node.setdefault(part, {})
        path = tuple(parts)
        if parts[-1] in node:  # sorted, a prefix comes first: only a key kept whole can meet a nested one
            other = next((k for k in params if k != key and k.split(".")[:len(parts)] == parts), parts[-1])
            raise ValueError(f"params {key!r} and {other!r}: {key!r} is a value and a prefix of {other!r}")
        node[parts[-1]] = parse_param(params[key])
        leaves[path] = key
    return out


def config_from_params(params: dict, fetched: Fetched, base: str) -> None:
    if not params:
        return
    try:
        config = nest_params(dict(params))
    except ValueError as exc:
        raise ArtefactError(base, f"the run's params are not a config: {exc}",
                            hint="log the config as a file (config.json) or declare it with --artefact config=PATH"
                            ) from None
    (fetched.local_dir / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True), encoding="utf-8")
    _record_written(fetched, "config.json", f"{base}#params")
    fetched.notes.append(CONFIG_NOTE)


# -- a model logged with MLflow's Keras flavour -----------------------------------------------
def _flavour_of(read_mlmodel) -> str | None:
    import yaml

    try:
        text = read_mlmodel()
        doc = yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - not a readable MLmodel: not a candidate
        return None
    flavours = doc.get("flavors") if isinstance(doc, dict) else None
    if not isinstance(flavours, dict):
        return None
    return next((f for f in _KERAS_FLAVOURS if f in flavours), None)


def _read_small(path: str) -> str:
    if os.path.getsize(path) > MAX_MLMODEL_BYTES:
        raise ValueError("MLmodel file too large")
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def keras_flavour_model(client, run, sub, files, fetched: Fetched, base: str) -> None:
    """Declare (and fetch) the ``.keras`` file of the one model logged with a Keras flavour."""
    import tempfile

    candidates = []  # (shown, rel in the local copy, size, downloader or None, url)
    with tempfile.TemporaryDirectory(prefix="runverdict-mlmodel-") as scratch:
        # models logged among the run's artifacts (MLflow 2, or a folder logged with log_artifacts)
        for rel in files:
            if rel.rsplit("/", 1)[-1] != "MLmodel":
                continue
            folder = rel[:-len("MLmodel")]
            kerases = [r for r in files if r.startswith(folder + "data/") and r.endswith(".keras")
                       and r.count("/") == folder.count("/") + 1]
            if not kerases:
                continue
            remote = f"{sub}/{rel}" if sub else rel
            if files[rel] is not None and files[rel] > MAX_MLMODEL_BYTES:
                continue
            where = tempfile.mkdtemp(dir=scratch)
            flavour = _flavour_of(lambda remote=remote, where=where: _read_small(
                client.download_artifacts(run.info.run_id, remote, where)))
            if flavour is not None:
                candidates += [(f"{base}/{k}", k, files[k], None, f"{base}/{k}") for k in kerases]
        # MLflow 3: models logged with log_model are logged models with their own artifacts
        if not sub:
            candidates += _logged_models(client, run, scratch, base)
    if not candidates:
        return
    if len(candidates) > 1:
        shown = ", ".join(c[0] for c in candidates[:6])
        raise ArtefactError(base, f"several Keras models logged with the run: {shown}",
                            hint="say which: --artefact model=PATH (a path among the run's artifacts)")
    shown, rel, size, source, url = candidates[0]
    _download(client, run.info.run_id, sub, rel, size, fetched, base, source=source)
    if source is not None:
        fetched.objects[-1] = FetchedObject(rel, url, fetched.objects[-1].size, fetched.objects[-1].sha256)
    fetched.artefacts["model"] = rel
    fetched.notes.append(f"model: {url} (logged with MLflow's Keras flavour)")


def _logged_models(client, run, scratch, base):
    import tempfile

    search = getattr(client, "search_logged_models", None)
    if search is None:
        return []
    try:
        models = list(search(experiment_ids=[run.info.experiment_id],
                             filter_string=f"source_run_id = '{run.info.run_id}'", max_results=MAX_LOGGED_MODELS))
    except Exception as exc:  # noqa: BLE001 - MLflow raises its own, requests' and SQLAlchemy's errors
        raise _failure(base, "cannot list the run's logged models", exc) from None
    out = []
    for model in models:
        try:
            entries = client.list_logged_model_artifacts(model.model_id, None)
            names = {e.path.strip("/"): e for e in entries}
            data = [e for e in client.list_logged_model_artifacts(model.model_id, "data")
                    if not e.is_dir and e.path.endswith(".keras")] if "data" in names else []
        except Exception as exc:  # noqa: BLE001 - MLflow raises its own, requests' and SQLAlchemy's errors
            raise _failure(f"models:/{model.model_id}", "cannot list the logged model's artifacts", exc) from None
        if not data or "MLmodel" not in names:
            continue

        def download(path, dst, location=model.artifact_location):
            from mlflow.artifacts import download_artifacts

            return download_artifacts(artifact_uri=f"{location.rstrip('/')}/{path}", dst_path=dst,
                                      tracking_uri=client._tracking_client.tracking_uri)

        where = tempfile.mkdtemp(dir=scratch)
        if _flavour_of(lambda where=where, download=download: _read_small(download("MLmodel", where))) is None:
            continue
        for entry in data:
            inner = entry.path.strip("/")
            inner = inner if inner.startswith("data/") else f"data/{inner.rsplit('/', 1)[-1]}"
            rel = f"mlflow-models/{model.model_id}/{inner}"

            def fetch_one(remote, dst, inner=inner, download=download):
                return download(inner, dst)

            out.append((f"models:/{model.model_id}/{inner}", rel, entry.file_size, fetch_one,
                        f"models:/{model.model_id}/{inner}"))
    return out


# -- the verdict written back -----------------------------------------------------------------
def log_verdict(fetched: Fetched, report, code: int, reports=()) -> None:
    """Tags ``runverdict.verdict``/``exit_code``/``decision`` on the run; each report file under ``runverdict/``."""
    writer = getattr(fetched, "writer", None)
    if not isinstance(writer, Writer):
        raise ArtefactError(getattr(fetched, "location", None), "not an MLflow run: --mlflow-log needs runs:/RUN_ID")
    decision = getattr(getattr(report, "decision", None), "action", None)
    tags = {"runverdict.verdict": str(getattr(report, "verdict", "")), "runverdict.exit_code": str(int(code)),
            "runverdict.decision": str(decision) if decision is not None else "none"}
    try:
        for key, value in tags.items():
            writer.client.set_tag(writer.run_id, key, value)
    except Exception as exc:  # noqa: BLE001 - MLflow raises its own, requests' and SQLAlchemy's errors
        raise _failure(writer.url, "cannot tag the run with its verdict", exc) from None
    for path in reports:
        if not os.path.isfile(path):
            raise ArtefactError(writer.url, f"report {os.fspath(path)!r} was not written: not logged")
        try:
            writer.client.log_artifact(writer.run_id, os.fspath(path), artifact_path="runverdict")
        except Exception as exc:  # noqa: BLE001 - MLflow raises its own, requests' and SQLAlchemy's errors
            raise _failure(writer.url, f"cannot log the report {os.path.basename(path)!r} under runverdict/",
                           exc) from None
