"""What the gate finds in a run directory, never judging it: ``runverdict inspect``.

Everything is found by the code the gate runs: artefacts by the run's ``Layout`` (conventions,
the spec's ``[artefacts]``/``[layout]``, ``--artefact``/``--layout``), columns and labels by its
role bindings, histories, models, configs and returns by their readers. With a spec, every
check is bound the way its kind binds it (:func:`bind_check` calls the ``Run`` methods the kind
calls), so "binds" here means the gate will find what the check reads. Nothing is compared
with a bound.

:func:`inspect_run` returns plain data (strict JSON: no NaN, no tuples); :func:`render_text`
prints the same content for people. Text from the run (column names, keys, paths, error
messages) is shown with ``repr`` where it is a name, and every line leaves through
:func:`printable`, so a column named ``"\\x1b[2J"`` cannot clear the terminal.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from .artefacts.layout import ARTEFACTS, CONVENTIONS, LABEL_PATTERNS, Layout
from .artefacts.run import Run
from .errors import ArtefactError

MAX_CONFIG_KEYS = 40  # the config's dotted keys listed
MAX_TRIALS_SHOWN = 8  # trial names in the text output (the JSON has them all)


def printable(text: str) -> str:
    """``text`` with every character that is not printable (escapes, newlines, bidi overrides)
    written as its Python escape: what reaches a terminal or a TOML comment is text, never a command."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def open_for_inspection(run_dir, spec=None, artefacts=None, layout=None) -> Run:
    """The run as ``check`` would open it with ``spec`` (or, without one, by conventions and flags)."""
    if spec is not None:
        from .gate import open_run

        return open_run(spec, run_dir, artefacts, layout)
    return Run(run_dir, layout=Layout.of(run_dir, None, None, artefacts, layout))


def require_run_dir(run_dir) -> None:
    """``ArtefactError`` (exit 2) unless ``run_dir`` is a directory."""
    root = Path(run_dir)
    if not root.is_dir():
        raise ArtefactError(run_dir, "run directory not found" if not root.exists() else
                            "is not a directory: expected a run directory")


def inspect_run(run_dir, spec=None, *, artefacts=None, layout=None) -> dict:
    """What the gate finds in ``run_dir``: artefacts, predictions, history, model, config, returns,
    heads, and with ``spec`` how each check binds. Problems are reported in their section."""
    require_run_dir(run_dir)
    run = open_for_inspection(run_dir, spec, artefacts, layout)
    heads = _heads(run, spec)
    found = {
        "run": os.path.abspath(run_dir),
        "spec": None if spec is None else os.fspath(spec.path),
        "artefacts": [_artefact(run, name) for name in ARTEFACTS],
        "predictions": _section(_predictions, run, heads["names"]),
        "history": _section(_history, run),
        "model": _section(_model, run),
        "config": _section(_config, run),
        "returns": _section(_returns, run),
        "heads": heads,
    }
    if spec is not None:
        found["checks"] = [bind_check(run, check).as_dict() for check in spec.checks]
    return plain(found)


def plain(value):
    """``value`` as strict JSON data: non-finite floats as text, tuples and paths as lists and text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item"):  # a numpy scalar
        return plain(value.item())
    return repr(value)


def _rel(run, path) -> str:
    try:
        return os.fspath(Path(path).relative_to(run.root))
    except ValueError:
        return os.fspath(path)


def _section(read, *args):
    try:
        return read(*args)
    except ArtefactError as exc:
        return {"error": str(exc)}


# ---- sections ---------------------------------------------------------------------------

def _artefact(run, name) -> dict:
    try:
        choice = run.layout.find(name)
    except ArtefactError as exc:
        missing = name not in run.layout.paths and exc.message.startswith(f"no {name} artefact")
        return {"artefact": name, "status": "not found" if missing else "error",
                "looked_for": list(CONVENTIONS[name]) if missing else [], "message": str(exc)}
    where = _rel(run, choice.path)
    if not choice.path.exists():
        return {"artefact": name, "status": "not found", "path": where, "how": choice.how, "looked_for": [where],
                "message": f"{choice.path}: declared by {choice.how}, but the run has no such file"}
    return {"artefact": name, "status": "found", "path": where, "how": choice.how, "pattern": choice.pattern,
            "not_read": list(choice.not_read)}


def _heads(run, spec) -> dict:
    outputs = run.heads()
    if outputs is not None:
        return {"names": list(outputs), "from": "the model's outputs"}
    if spec is not None:
        from .gate import prediction_columns

        return {"names": prediction_columns(spec), "from": "the spec's columns; no readable model"}
    from .artefacts.tables import read_header

    try:
        header = read_header(run.path_of("predictions"))
    except ArtefactError:
        return {"names": [], "from": "none: no readable model, predictions or spec"}
    lowered = {c.lower() for c in header}
    names = [c for c in header if any(p.format(h=c).lower() in lowered for p in LABEL_PATTERNS)]
    return {"names": names, "from": "the predictions' columns that have a label; no readable model, no spec"}


def _predictions(run, heads) -> dict:
    from .artefacts.returns import detect_kind, named_like_index
    from .artefacts.tables import read_header, read_table

    path = run.path_of("predictions")
    header = read_header(path)
    roles, not_bound = {}, []
    for head in heads:
        for role, bind in (("head", run.layout.prediction_column), ("label", run.layout.label_column)):
            try:
                binding = bind(header, head, path)
            except ArtefactError as exc:
                not_bound.append(str(exc))
                continue
            roles.setdefault(binding.name, {"role": role, "head": head, "how": binding.how})
    columns = []
    for i, name in enumerate(header):
        role = roles.get(name)
        if role is None and named_like_index(name):
            role = {"role": "index", "how": "named like an index"}
        if role is None and i == 0:
            try:
                kind = detect_kind(read_table(path, [name]).columns[name])
            except ArtefactError:
                kind = None
            if kind is not None:
                role = {"role": "index", "how": f"the first column, holds {kind}"}
        columns.append({"name": name, **(role or {"role": "extra"})})
    rows, counted = _rows(path)
    return {"file": _rel(run, path), "rows": rows, "rows_from": counted, "columns": columns, "not_bound": not_bound}


def _rows(path) -> tuple[int | None, str]:
    """Rows without reading the data: a Parquet file's metadata, a CSV file's lines after the header."""
    if os.fspath(path).endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            return int(pq.read_metadata(path).num_rows), "parquet metadata"
        except (OSError, ValueError) as exc:
            return None, f"not counted: {exc}"
    from .artefacts.tables import _line_count, _trailing_blank_lines

    try:
        return max(_line_count(path) - _trailing_blank_lines(path) - 1, 0), "lines after the header"
    except OSError as exc:
        return None, f"not counted: {exc.strerror or exc}"


def _history(run) -> dict:
    from .artefacts.history import NoBestEpoch, pick_epoch
    from .baseline import better_direction

    history = run.history()
    best = []
    for metric in history.names():
        better = better_direction(metric) if metric.startswith("val_") else None
        if better is None:
            continue
        mode = "max" if better == "higher" else "min"
        try:
            index, _ = pick_epoch(history, "best", metric, mode)
        except NoBestEpoch as exc:
            best.append({"metric": metric, "mode": mode, "epoch": None, "value": None, "note": str(exc)})
            continue
        best.append({"metric": metric, "mode": mode, "epoch": int(history.epochs[index]),
                     "value": float(history.metrics[metric][index])})
    return {"file": _rel(run, history.path), "source": history.source, "epochs": history.n_epochs,
            "metrics": history.names(), "best": best, "not_read": list(run.layout.find("history").not_read)}


def _model(run) -> dict:
    archive = run.model()
    outputs = []
    for key in archive.output_keys:
        info = next(layer for layer in archive.layers.values() if key in layer.output_names)
        outputs.append({"name": key, "layer": info.name, "class_name": info.class_name,
                        "activation": info.activation, "kernel_initializer": info.kernel_initializer,
                        "units": info.units})
    found = {"file": _rel(run, archive.path), "keras_version": archive.keras_version, "outputs": outputs,
             "unsafe": [f"{u.reason} at {u.location}" for u in archive.unsafe]}
    try:
        facts = archive.compile
    except ArtefactError as exc:
        found["compile"] = {"error": str(exc)}
        return found
    values = facts.values
    metrics = {head: {name: ({"num_thresholds": entry["num_thresholds"]} if "num_thresholds" in entry else {})
                      for name, entry in entries.items()} for head, entries in values.get("metrics", {}).items()}
    found["compile"] = {"loss": values.get("loss"), "loss_given_as": facts.forms.get("loss"),
                        "loss_weights": values.get("loss_weights"),
                        "loss_weights_given_as": facts.forms.get("loss_weights"),
                        "metrics": metrics, "metrics_given_as": facts.forms.get("metrics"),
                        "optimizer": values.get("optimizer", {}).get("name")}
    return found


def _config(run) -> dict:
    config = run.config()
    keys = list(_leaf_keys(config))
    return {"file": _rel(run, run.path_of("config")), "n_keys": len(keys), "keys": keys[:MAX_CONFIG_KEYS]}


def _leaf_keys(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from _leaf_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def _returns(run) -> dict:
    returns = run.returns()
    return {"file": _rel(run, returns.path), "built_from_predictions": run.trials is not None,
            "index_column": returns.index_column, "index_kind": returns.index_kind,
            "index_note": returns.index_note, "period": list(returns.period) if returns.period else None,
            "periods": int(returns.values.shape[0]), "trials": list(returns.names)}


# ---- how each check binds ---------------------------------------------------------------

@dataclass(frozen=True)
class CheckBinding:
    """How one check binds to the run: what it reads and where, or why it cannot (``error``)."""

    id: str
    kind: str
    bindings: tuple[str, ...]
    error: str | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "binds": self.error is None, "bindings": list(self.bindings),
                "error": self.error}


def bind_check(run, check) -> CheckBinding:
    """Find what ``check`` reads, through the ``Run`` methods its kind calls; nothing is judged."""
    try:
        said = _BINDERS.get(check.kind, _bind_artefacts)(run, check.params, check.kind)
    except ArtefactError as exc:
        return CheckBinding(check.id, check.kind, (), str(exc))
    return CheckBinding(check.id, check.kind, tuple(said))


def _how(binding) -> str:
    return "" if binding.how == "as named" else f" ({binding.how})"


def _bind_column(run, params, kind=None) -> list[str]:
    head = params["column"]
    run.column(head, params.get("element"))
    table = run.predictions()
    binding = run.layout.prediction_column(table.header, head, table.path)
    return [f"column {head!r} -> {binding.name!r}{_how(binding)}"]


def _bind_auc(run, params, kind) -> list[str]:
    said = _bind_column(run, params)
    if params["label_column"] is not None:
        run.raw_column(params["label_column"])
        said.append(f"label -> {params['label_column']!r} (label_column)")
    else:
        run.label(params["column"])
        table = run.predictions()
        binding = run.layout.label_column(table.header, params["column"], table.path)
        said.append(f"label -> {binding.name!r}{_how(binding)}")
    metric = params["history_metric"]
    if metric:
        try:  # shown beside the exact AUC for information only: the check does not need it
            said.append(f"logged {_metric_in(run, metric)}")
        except ArtefactError as exc:
            said.append(f"logged {metric!r} not available ({exc})")
    return said


def _metric_in(run, metric) -> str:
    from .artefacts.history import metric_values

    history = run.history()
    metric_values(history, metric)
    return f"{metric!r} in {_rel(run, history.path)}"


def _bind_history(run, params, kind) -> list[str]:
    said = [f"metric {_metric_in(run, params['metric'])}"]
    monitor = params.get("monitor")
    if params.get("epoch") == "best" and monitor and monitor != params["metric"]:
        _metric_in(run, monitor)
        said.append(f"monitor {monitor!r}")
    if kind == "delta":
        said.append("compared with --baseline")
    return said


def _bind_config(run, params, kind) -> list[str]:
    key = params["key"]
    value, binding = run.config_value(key)
    where = _rel(run, run.path_of("config"))
    said = [f"config key {key!r}" + (f" -> {binding.name!r} ({binding.how})" if binding.name != key else "")
            + f" in {where}"]
    if isinstance(params["equals"], dict) and isinstance(value, list):
        outputs = run.heads()
        if outputs is None:
            raise ArtefactError(run.path_of("config"), f"{key} is a list and the check expects a mapping, but the "
                                "run has no readable model to say which output each item is for")
        said.append(f"a list, mapped by the model's outputs {list(outputs)!r}")
    return said


def _bind_compile(run, params, kind) -> list[str]:
    archive = run.model()
    facts = archive.compile
    facts.get(params["key"])
    form = facts.forms.get(params["key"].split(".")[0])
    return [f"compile key {params['key']!r} in {_rel(run, archive.path)}" + (f" (given as {form})" if form else "")]


def _bind_layer(run, params, kind) -> list[str]:
    archive = run.model()
    info = archive.layer(params["layer"])
    return [f"layer {params['layer']!r} ({info.class_name}) in {_rel(run, archive.path)}"]


def _bind_returns(run, params, kind) -> list[str]:
    returns = run.returns()
    periods, trials = returns.values.shape
    index = "no index column" if returns.index_column is None else f"index {returns.index_column!r}"
    said = [f"returns {_rel(run, returns.path)}: {periods} periods x {trials} trials, {index}"]
    trial = params.get("trial", "best")
    if trial != "best":
        if trial not in [str(n) for n in returns.names]:
            raise ArtefactError(returns.path, f"no trial column {trial!r}; found "
                                + ", ".join(repr(str(n)) for n in returns.names[:20]), line=1)
        said.append(f"trial {trial!r}")
    return said


def _bind_artefacts(run, params, kind) -> list[str]:
    from .kinds import builtin_kinds

    return [f"{name} {_rel(run, run.path_of(name))}" for name in builtin_kinds()[kind].artefacts]


_BINDERS = {"saturation": _bind_column, "range": _bind_column, "statistic": _bind_column, "auc": _bind_auc,
            "history": _bind_history, "delta": _bind_history, "config": _bind_config, "compile": _bind_compile,
            "architecture": _bind_layer, "pbo": _bind_returns, "sharpe": _bind_returns, "psr": _bind_returns,
            "dsr": _bind_returns}


# ---- text for people --------------------------------------------------------------------

def render_text(found: dict) -> str:
    """The inspection for a terminal: the same content as the JSON, one section after another."""
    lines = [f"runverdict inspect: {found['run']}" + (f" (spec {found['spec']})" if found["spec"] else "")]
    lines += _artefact_lines(found["artefacts"])
    for name, render in (("predictions", _prediction_lines), ("history", _history_lines),
                         ("model", _model_lines), ("config", _config_lines), ("returns", _returns_lines)):
        section = found[name]
        lines += [f"{name}: {section['error']}"] if "error" in section else render(section)
    heads = found["heads"]
    lines.append("heads: " + (_names(heads["names"]) or "none") + f" ({heads['from']})")
    if "checks" in found:
        checks = found["checks"]
        lines.append(f"checks of {found['spec']}:")
        lines += [f"  {c['id']}: " + (", ".join(c["bindings"]) if c["binds"] else f"cannot bind: {c['error']}")
                  for c in checks]
        bad = sum(1 for c in checks if not c["binds"])
        lines.append(f"{len(checks) - bad} of {len(checks)} checks bind" + (f"; {bad} cannot" if bad else ""))
    return "".join(printable(line) + "\n" for line in lines)


def _names(items) -> str:
    return ", ".join(repr(i) for i in items)


def _wrapped(prefix: str, items, width=100) -> list[str]:
    """``prefix`` and the names, repr'd, wrapped at ``width``."""
    import textwrap

    return textwrap.wrap(_names(items), width, initial_indent=prefix + " ", subsequent_indent=" " * (len(prefix) + 1),
                         break_long_words=False, break_on_hyphens=False) or [prefix]


def _artefact_lines(artefacts) -> list[str]:
    width = max(len(a["artefact"]) for a in artefacts)
    lines = ["artefacts:"]
    for a in artefacts:
        name = f"  {a['artefact']:<{width}}  "
        if a["status"] == "found":
            how = f"{a['how']} {a['pattern']!r}" if a["how"] == "convention" else a["how"]
            text = f"{a['path']} ({how})"
            if a["not_read"]:
                text += "; also present, not judged: " + ", ".join(a["not_read"])
        elif a["looked_for"]:
            text = "not found: looked for " + ", ".join(a["looked_for"])
        else:
            text = f"error: {a['message']}"
        lines.append(name + text)
    return lines


def _prediction_lines(p) -> list[str]:
    rows = f", {p['rows']} rows ({p['rows_from']})" if p["rows"] is not None else ""
    lines = [f"predictions: {p['file']}{rows}"]
    width = max([0] + [len(repr(c["name"])) for c in p["columns"]])
    for c in p["columns"]:
        role = {"head": f"head {c.get('head')!r}", "label": f"label of {c.get('head')!r}"}.get(c["role"], c["role"])
        lines.append(f"  {c['name']!r:<{width}}  {role}" + (f" ({c['how']})" if "how" in c else ""))
    lines += [f"  not bound: {message}" for message in p["not_bound"]]
    return lines


def _history_lines(h) -> list[str]:
    not_read = "; also present, not judged: " + ", ".join(h["not_read"]) if h["not_read"] else ""
    lines = [f"history: {h['file']} ({h['source']}), {h['epochs']} epochs{not_read}"]
    lines += _wrapped("  metrics:", h["metrics"])
    for b in h["best"]:
        at = f"epoch {b['epoch']}, {b['value']!r}" if b["epoch"] is not None else b["note"]
        lines.append(f"  best {b['metric']} ({b['mode']}): {at}")
    return lines


def _model_lines(m) -> list[str]:
    lines = [f"model: {m['file']}" + (f" (Keras {m['keras_version']})" if m["keras_version"] else "")]
    for o in m["outputs"]:
        layer = "" if o["layer"] == o["name"] else f" (layer {o['layer']!r})"
        lines.append(f"  output {o['name']!r}{layer}: {o['class_name']}, activation {o['activation']!r}, "
                     f"kernel_initializer {o['kernel_initializer']!r}, units {o['units']!r}")
    lines += [f"  unsafe: {u}" for u in m["unsafe"]]
    c = m["compile"]
    if "error" in c:
        return lines + [f"  compile: {c['error']}"]
    for key in ("loss", "loss_weights"):
        given = f" (given as {c[key + '_given_as']})" if c[key] is not None else ""
        lines.append(f"  compile {key}: {c[key]!r}{given}")
    heads = []
    for head, metrics in c["metrics"].items():
        shown = [f"{name!r}" + (f" (num_thresholds {cfg['num_thresholds']!r})" if cfg else "")
                 for name, cfg in metrics.items()]
        heads.append(f"{head!r}: " + ", ".join(shown))
    lines.append("  compile metrics: " + ("; ".join(heads) or "none"))
    lines.append(f"  compile optimizer: {c['optimizer']!r}")
    return lines


def _config_lines(c) -> list[str]:
    more = f" (the first {len(c['keys'])})" if c["n_keys"] > len(c["keys"]) else ""
    return [f"config: {c['file']}, {c['n_keys']} keys{more}"] + _wrapped("  keys:", c["keys"])


def _returns_lines(r) -> list[str]:
    built = " (built from the predictions by [trials])" if r["built_from_predictions"] else ""
    lines = [f"returns: {r['file']}{built}, {r['periods']} periods x {len(r['trials'])} trials"]
    if r["index_column"] is not None:
        period = f", {r['period'][0]} to {r['period'][1]}" if r["period"] else ""
        lines.append(f"  index {r['index_column']!r} ({r['index_kind']}){period}")
    if r["index_note"]:
        lines.append(f"  {r['index_note']}")
    shown = r["trials"][:MAX_TRIALS_SHOWN]
    more = f" ... ({len(r['trials'])} in all)" if len(r["trials"]) > len(shown) else ""
    lines.append(f"  trials: {_names(shown)}{more}")
    return lines
