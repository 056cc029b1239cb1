"""An MLflow run as the gate's run: ``runs:/RUN_ID`` against a SQLite tracking store in a temporary folder.

Runs are logged with MLflow's own client (``mlflow.log_artifact(s)``, ``log_metrics(step=...)``,
``log_params``); nothing but 127.0.0.1 is reached.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

mlflow = pytest.importorskip("mlflow")

from validators.cli import main
from validators.errors import ArtefactError
from validators.sources import materialise
from validators.sources.mlflow_run import history_rows, nest_params, parse_param
from validators.spec import load_spec

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "checks" / "run3.toml"
RUN3 = REPO / "fixtures" / "runs" / "run3_relu"
RUN2 = REPO / "fixtures" / "runs" / "run2_sigmoid"
# What mlflow.tensorflow.log_model (MLflow 3.17, Keras 3) writes beside data/model.keras
MLMODEL = """artifact_path: model
flavors:
  python_function:
    data: data
    loader_module: mlflow.tensorflow
    python_version: 3.11.7
  tensorflow:
    code: null
    data: data
    keras_version: 2.21.0
    model_type: keras
    save_format: tf
mlflow_version: 3.17.1
"""


def _flat(mapping, prefix=""):
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _log_metrics_of(history_csv: Path) -> None:
    with open(history_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            epoch = int(row.pop("epoch"))
            mlflow.log_metrics({k: float(v) for k, v in row.items()}, step=epoch)


def _flavour_folder(root: Path, model: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "MLmodel").write_text(MLMODEL)
    (root / "data" / "keras_module.txt").write_text("tensorflow.keras")
    shutil.copy(model, root / "data" / "model.keras")
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite store with the runs: run3 and run2 as files, run3 with its history and config only as
    metrics and params, run3 with its model logged in a Keras-flavour folder, one with two such models."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    ids = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.chdir(root)
        mlflow.set_tracking_uri(uri)
        try:
            for name, src in (("run3", RUN3), ("run2", RUN2)):
                with mlflow.start_run() as run:
                    mlflow.log_artifacts(os.fspath(src))
                ids[name] = run.info.run_id
            with mlflow.start_run() as run:  # history only as metrics, config only as params
                for name in ("predictions.csv", "returns.csv", "model.keras"):
                    mlflow.log_artifact(os.fspath(RUN3 / name))
                _log_metrics_of(RUN3 / "history.csv")
                mlflow.log_params(dict(_flat(json.loads((RUN3 / "config.json").read_text()))))
            ids["metrics"] = run.info.run_id
            with mlflow.start_run() as run:  # the model in MLflow's Keras-flavour folder
                for name in ("predictions.csv", "returns.csv", "history.csv", "config.json"):
                    mlflow.log_artifact(os.fspath(RUN3 / name))
                mlflow.log_artifacts(os.fspath(_flavour_folder(root / "flavour" / "model", RUN3 / "model.keras")),
                                     artifact_path="model")
            ids["flavour"] = run.info.run_id
            with mlflow.start_run() as run:  # MLflow 3: a logged model with its own artifacts
                for name in ("predictions.csv", "returns.csv", "history.csv", "config.json"):
                    mlflow.log_artifact(os.fspath(RUN3 / name))
                client = mlflow.MlflowClient()
                logged = client.create_logged_model(experiment_id=run.info.experiment_id, name="model",
                                                    source_run_id=run.info.run_id)
                client.log_model_artifacts(logged.model_id, os.fspath(
                    _flavour_folder(root / "logged" / "model", RUN3 / "model.keras")))
                client.finalize_logged_model(logged.model_id, "READY")
            ids["logged"] = run.info.run_id
            with mlflow.start_run() as run:  # two Keras-flavour models: which one is for the user to say
                mlflow.log_artifact(os.fspath(RUN3 / "predictions.csv"))
                for sub in ("a", "b"):
                    mlflow.log_artifacts(os.fspath(_flavour_folder(root / "two" / sub, RUN3 / "model.keras")),
                                         artifact_path=f"models/{sub}")
            ids["two"] = run.info.run_id
            with mlflow.start_run() as run:  # a sub-folder is the run's root
                mlflow.log_artifacts(os.fspath(RUN3), artifact_path="fold1")
            ids["sub"] = run.info.run_id
        finally:
            mlflow.set_tracking_uri(None)
    return {"uri": uri, "root": root, **ids}


@pytest.fixture
def uri(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    return store["uri"]


def _check(tmp_path, location, *extra) -> tuple[int, dict]:
    out = tmp_path / f"verdict-{abs(hash(location))}.json"
    code = main(["check", os.fspath(location), "--spec", os.fspath(SPEC), "--json", os.fspath(out), *extra])
    return code, json.loads(out.read_text())


def _statuses(report) -> dict:
    return {c["id"]: c["status"] for c in report["checks"]}


# -- the same verdict from a folder and from MLflow -----------------------------------------
@pytest.mark.parametrize("folder,run", [(RUN3, "run3"), (RUN3, "metrics"), (RUN2, "run2"), (RUN3, "sub")])
def test_same_statuses_as_the_local_folder(store, uri, tmp_path, capsys, folder, run):
    code_local, local = _check(tmp_path, folder)
    location = f"runs:/{store[run]}" + ("/fold1" if run == "sub" else "")
    code, remote = _check(tmp_path, location)
    assert (code, _statuses(remote)) == (code_local, _statuses(local))
    assert remote["run"]["path"] == location
    urls = {o["url"] for o in remote["run"]["source"]["objects"]}
    assert f"runs:/{store[run]}{'/fold1' if run == 'sub' else ''}/predictions.csv" in urls
    assert all(len(o["sha256"]) == 64 for o in remote["run"]["source"]["objects"])
    if run == "metrics":
        assert "history: the MLflow run's metrics (step = epoch)" in remote["run"]["notes"]
        assert any(n.startswith("config: the MLflow run's params") for n in remote["run"]["notes"])
    out = capsys.readouterr().out
    assert "runverdict-fetch-" not in out  # the report names the run, not its temporary copy


def test_only_what_the_spec_needs_is_fetched(store, uri, tmp_path):
    spec = tmp_path / "pred.toml"
    spec.write_text('[[check]]\nid = "vol"\nkind = "statistic"\nseverity = "must"\ncolumn = "volatility"\nstat = "max"\nlt = 0.15\n')
    with materialise(f"runs:/{store['run3']}", load_spec(spec)) as fetched:
        assert [o.path for o in fetched.objects] == ["predictions.csv"]
        assert fetched.writer.run_id == store["run3"]


def test_history_and_config_from_the_runs_metrics_and_params(store, uri):
    with materialise(f"runs:/{store['metrics']}", load_spec(SPEC)) as fetched:
        with open(fetched.local_dir / "history.csv") as handle:
            written = list(csv.reader(handle))
        with open(RUN3 / "history.csv") as handle:
            original = list(csv.reader(handle))
        assert written[0] == ["epoch", *sorted(original[0][1:])]
        assert len(written) == len(original)
        config = json.loads((fetched.local_dir / "config.json").read_text())
        assert config["loss_weights"] == {"direction": 1.0, "volatility": 0.3, "magnitude": 0.3}
        assert config == json.loads((RUN3 / "config.json").read_text())


@pytest.mark.parametrize("run", ["flavour", "logged"])
def test_a_model_logged_with_the_keras_flavour_is_found(store, uri, tmp_path, run):
    code, report = _check(tmp_path, f"runs:/{store[run]}")
    assert code == 0, report
    model = next(c for c in report["run"]["layout"] if c["artefact"] == "model")
    assert model["path"].endswith("data/model.keras")
    fetched = [o["path"] for o in report["run"]["source"]["objects"]]
    assert not any(p.endswith(("MLmodel", "keras_module.txt")) for p in fetched)  # only the .keras file
    assert any("logged with MLflow's Keras flavour" in n for n in report["run"]["notes"])


def test_two_keras_models_are_an_error_naming_both(store, uri, tmp_path, capsys):
    spec = tmp_path / "model.toml"
    spec.write_text('[[check]]\nid = "head"\nkind = "architecture"\nseverity = "must"\nlayer = "volatility"\nactivation = "relu"\n')
    with pytest.raises(ArtefactError) as info, materialise(f"runs:/{store['two']}", load_spec(spec)):
        pass
    text = str(info.value)
    assert "models/a/data/model.keras" in text and "models/b/data/model.keras" in text
    assert "--artefact model=PATH" in text
    # and the flag settles it: the declared path is fetched
    code = main(["check", f"runs:/{store['two']}", "--spec", os.fspath(spec),
                 "--artefact", "model=models/b/data/model.keras"])
    assert code == 0, capsys.readouterr()


# -- the verdict written back ---------------------------------------------------------------
def test_mlflow_log_leaves_the_tags_and_the_reports(store, uri, tmp_path):
    json_path, html_path = tmp_path / "v.json", tmp_path / "v.html"
    code = main(["check", f"runs:/{store['run2']}", "--spec", os.fspath(SPEC), "--json", os.fspath(json_path),
                 "--html", os.fspath(html_path), "--mlflow-log"])
    assert code == 1
    client = mlflow.MlflowClient(tracking_uri=uri)
    tags = client.get_run(store["run2"]).data.tags
    assert tags["runverdict.verdict"] == "fail" and tags["runverdict.exit_code"] == "1"
    assert tags["runverdict.decision"] == json.loads(json_path.read_text())["decision"]["action"]
    logged = sorted(f.path for f in client.list_artifacts(store["run2"], "runverdict"))
    assert logged == ["runverdict/v.html", "runverdict/v.json"]
    back = client.download_artifacts(store["run2"], "runverdict/v.json", os.fspath(tmp_path / "back"))
    assert json.loads(Path(back).read_text()) == json.loads(json_path.read_text())


# -- bad inputs: exit 2 naming the URL --------------------------------------------------------
def _cli(args, env, timeout=60):
    return subprocess.run([sys.executable, "-m", "validators", *args], env=env, capture_output=True, text=True, check=False,
                          timeout=timeout, cwd=REPO)


def test_an_unknown_run_id_is_exit_2_naming_the_url(store, uri, tmp_path, capsys):
    assert main(["check", "runs:/0123456789abcdef0123456789abcdef", "--spec", os.fspath(SPEC)]) == 2
    err = capsys.readouterr().err
    assert "runs:/0123456789abcdef0123456789abcdef" in err and "not found" in err


def test_no_tracking_uri_is_exit_2_with_the_hint(store, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["check", f"runs:/{store['run3']}", "--spec", os.fspath(SPEC)]) == 2
    err = capsys.readouterr().err
    assert f"runs:/{store['run3']}" in err and "MLFLOW_TRACKING_URI" in err and "--mlflow-uri" in err
    assert not (tmp_path / "mlruns").exists()  # MLflow's default store is never used silently


def test_a_missing_sqlite_store_is_not_created(store, tmp_path, capsys):
    missing = tmp_path / "nope.db"
    assert main(["check", f"runs:/{store['run3']}", "--spec", os.fspath(SPEC),
                 "--mlflow-uri", f"sqlite:///{missing}"]) == 2
    assert "no such SQLite file" in capsys.readouterr().err and not missing.exists()


def test_an_unreachable_http_store_is_exit_2_within_seconds(store):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    done = _cli(["check", f"runs:/{store['run3']}", "--spec", os.fspath(SPEC)], env, timeout=45)
    elapsed = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    assert f"runs:/{store['run3']}" in done.stderr and f"127.0.0.1:{port}" in done.stderr
    assert elapsed < 30


def test_an_oversize_artifact_is_refused_before_download(store, uri, monkeypatch, tmp_path):
    monkeypatch.setenv("RUNVERDICT_MAX_FILE_BYTES", "1000")
    with pytest.raises(ArtefactError) as info, materialise(f"runs:/{store['run3']}", load_spec(SPEC)):
        pass
    assert "refused before download" in str(info.value) and f"runs:/{store['run3']}/" in str(info.value)


def test_metrics_that_are_not_epochs_are_an_error_naming_the_metric(store, uri, tmp_path, capsys):
    client = mlflow.MlflowClient(tracking_uri=uri)
    run_id = client.create_run("0").info.run_id
    client.log_artifact(run_id, os.fspath(RUN3 / "predictions.csv"))
    client.log_metric(run_id, "loss", 1.0, step=0)
    client.log_metric(run_id, "val_loss", 1.0, step=0)
    client.log_metric(run_id, "loss", 0.5, step=1)
    assert main(["check", f"runs:/{run_id}", "--spec", os.fspath(SPEC)]) == 2
    err = capsys.readouterr().err
    assert f"runs:/{run_id}" in err and "'val_loss'" in err and "step=epoch" in err


# -- pytest --run-dir runs:/ID ----------------------------------------------------------------
def test_pytest_run_dir_takes_an_mlflow_run(store, uri, pytester):
    shutil.copy(SPEC, pytester.path / "run3.toml")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "run3.toml", "--run-dir",
                                           f"runs:/{store['metrics']}")
    result.stdout.fnmatch_lines([f"runverdict: run dir runs:/{store['metrics']} (fetched into *",
                                 f"run3.toml on runs:/{store['metrics']}: 20 passed, 0 failed, 0 errors*"])
    assert result.ret == 0


# -- properties: the params parser and the metrics -> history conversion -----------------------
def _reference_parse(text):
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if _plain(value):
            return json.loads(json.dumps(value))  # tuples as lists
    return text


def _plain(value) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _reference_nest(params):
    keys = list(params)
    split = {k: (k.split(".") if "" not in k.split(".") else [k]) for k in keys}
    for a in keys:
        for b in keys:
            if a != b and split[b][:len(split[a])] == split[a]:
                raise ValueError(a, b)
    out: dict = {}
    for key in keys:
        node = out
        for part in split[key][:-1]:
            node = node.setdefault(part, {})
        node[split[key][-1]] = _reference_parse(params[key])
    return out


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                     | st.text(max_size=5), lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(st.text(max_size=3), kids, max_size=3), max_leaves=8)
_values = _json.map(json.dumps) | _json.map(repr) | st.text(max_size=12) | st.sampled_from(
    ["{'direction': 1.0}", "[1.0, 0.3, 0.3]", "True", "None", "nan", "NaN", "(1, 2)", "{1: 2}", "1e400", "b'x'"])
_keys = st.lists(st.sampled_from(["a", "b", "c", ""]), min_size=1, max_size=3).map(".".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=6))
def test_params_nest_like_the_slow_reference(params):
    try:
        expected = _reference_nest(params)
    except ValueError:
        with pytest.raises(ValueError, match="is a value and a prefix of"):
            nest_params(params)
        return
    assert nest_params(params) == expected
    assert json.loads(json.dumps(nest_params(params), allow_nan=False)) == expected


@given(_json)
def test_a_logged_value_reads_back(value):
    assert parse_param(json.dumps(value)) == value
    assert parse_param(repr(value)) == value


_history = st.integers(1, 6).flatmap(lambda n: st.dictionaries(
    st.sampled_from(["loss", "val_loss", "auc", "val_auc"]),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n), min_size=1))


@settings(max_examples=200, deadline=None)
@given(_history, st.randoms(use_true_random=False), st.integers(0, 2))
def test_metrics_become_the_history_they_were_logged_from(history, rnd, repeats):
    logged = {}
    for key, values in history.items():
        entries = [(step, 1000 + step * 10 + 5, v) for step, v in enumerate(values)]
        # earlier values at the same step, logged before the one kept, in any order
        entries += [(s, 1000 + s * 10 + r, -1.0) for r in range(repeats) for s in range(len(values))]
        rnd.shuffle(entries)
        logged[key] = entries
    metrics, rows, notes = history_rows(logged)
    assert metrics == sorted(history)
    for i, row in enumerate(rows):
        for key, value in zip(metrics, row):
            expected = history[key][i]
            assert value == expected or (math.isnan(value) and math.isnan(expected))
    assert bool(notes) == bool(repeats)


def test_a_metric_missing_an_epoch_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'val_auc'"):
        history_rows({"loss": [(0, 1, 1.0), (1, 2, 0.5)], "val_auc": [(0, 1, 0.5), (2, 2, 0.6)]})
    with pytest.raises(ValueError, match="'val_auc' has 1 epochs"):
        history_rows({"loss": [(0, 1, 1.0), (1, 2, 0.5)], "val_auc": [(0, 1, 0.5)]})
