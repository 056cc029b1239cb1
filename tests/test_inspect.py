"""``runverdict inspect``: what the gate finds in a run of each pipeline, never judging it."""

from __future__ import annotations

import csv
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from validators import cli

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "checks" / "run3.toml"
OURS = ROOT / "fixtures" / "runs" / "run3_relu"
THEIRS = ROOT / "fixtures" / "other_pipeline" / "runs" / "fixed_relu"
ALL_RUNS = sorted((ROOT / "fixtures" / "runs").iterdir()) + sorted((ROOT / "fixtures" / "other_pipeline" / "runs").iterdir())


def strict_loads(text):
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def inspect(capsys, run, *extra, tmp_path=None):
    """``(exit code, text, JSON data or None)`` of ``runverdict inspect run ...``."""
    argv = ["inspect", str(run), *extra]
    out = tmp_path / "inspect.json" if tmp_path is not None else None
    if out is not None:
        argv += ["--json", str(out)]
    code = cli.main(argv)
    captured = capsys.readouterr()
    data = strict_loads(out.read_text()) if out is not None and out.exists() else None
    return code, captured.out, data, captured.err


def column_roles(data) -> dict:
    return {c["name"]: c for c in data["predictions"]["columns"]}


def artefact(data, name) -> dict:
    return next(a for a in data["artefacts"] if a["artefact"] == name)


def rewrite_header(path: Path, rename=None, add=None):
    """Rename header cells and/or add a column copied from another (``add = (new, source)``)."""
    rows = list(csv.reader(path.open(newline="")))
    for old, new in (rename or {}).items():
        rows[0][rows[0].index(old)] = new
    if add:
        new, source = add
        i = rows[0].index(source)
        rows[0].append(new)
        for row in rows[1:]:
            row.append(row[i])
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture
def ambiguous_run(tmp_path):
    """Two *.keras files and no model.keras; two label columns for 'direction'."""
    run = tmp_path / "ambiguous"
    shutil.copytree(OURS, run)
    (run / "model.keras").rename(run / "a.keras")
    shutil.copy(run / "a.keras", run / "b.keras")
    rewrite_header(run / "predictions.csv", add=("direction_true", "y_direction"))
    return run


def test_our_pipeline_text_and_json(capsys, tmp_path):
    code, text, data, _ = inspect(capsys, OURS, tmp_path=tmp_path)
    assert code == 0
    assert data["spec"] is None and "checks" not in data
    assert artefact(data, "predictions") == {"artefact": "predictions", "status": "found", "path": "predictions.csv",
                                             "how": "convention", "pattern": "predictions.csv", "not_read": []}
    assert artefact(data, "history")["not_read"] == ["history.json", "logs"]
    roles = column_roles(data)
    assert roles["timestamp"]["role"] == "index"
    assert roles["direction"] == {"name": "direction", "role": "head", "head": "direction", "how": "as named"}
    assert roles["y_direction"] == {"name": "y_direction", "role": "label", "head": "direction",
                                    "how": "convention 'y_H'"}
    assert roles["forward_return"]["role"] == "extra"
    assert data["predictions"]["rows"] == 1000
    history = data["history"]
    assert (history["file"], history["source"], history["epochs"]) == ("history.csv", "csv", 21)
    best = {b["metric"]: b for b in history["best"]}
    assert best["val_direction_auc"]["mode"] == "max" and best["val_loss"]["mode"] == "min"
    assert best["val_direction_auc"]["epoch"] == 16
    model = data["model"]
    assert [o["name"] for o in model["outputs"]] == ["direction", "volatility", "magnitude"]
    assert model["outputs"][1]["activation"] == "relu" and model["outputs"][1]["kernel_initializer"] == "he_normal"
    assert model["compile"]["loss_weights"] == {"direction": 1.0, "volatility": 0.3, "magnitude": 0.3}
    assert model["compile"]["loss_weights_given_as"] == "a mapping by output name"
    assert model["compile"]["metrics"]["direction"] == {"auc": {"num_thresholds": 200}}
    assert data["config"]["file"] == "config.json" and "loss_weights.volatility" in data["config"]["keys"]
    assert data["returns"]["index_column"] is None and data["returns"]["periods"] == 1000
    assert len(data["returns"]["trials"]) == 21
    assert data["heads"] == {"names": ["direction", "volatility", "magnitude"], "from": "the model's outputs"}
    assert re.search(r"^  'y_direction' +label of 'direction' \(convention 'y_H'\)$", text, re.MULTILINE)
    assert re.search(r"^  'timestamp' +index \(named like an index\)$", text, re.MULTILINE)
    assert "history: history.csv (csv), 21 epochs; also present, not judged: history.json, logs" in text
    assert "compile loss_weights: {'direction': 1.0, 'volatility': 0.3, 'magnitude': 0.3} (given as a mapping" in text


def test_other_pipeline_text_and_json(capsys, tmp_path):
    code, text, data, _ = inspect(capsys, THEIRS, tmp_path=tmp_path)
    assert code == 0
    roles = column_roles(data)
    assert roles["date"]["role"] == "index"
    assert roles["direction_true"] == {"name": "direction_true", "role": "label", "head": "direction",
                                       "how": "convention 'H_true'"}
    assert roles["close_return"]["role"] == "extra"
    history = data["history"]
    assert history["file"] == "training.log" and history["not_read"] == ["logs/fit/20251015-091107"]
    assert history["epochs"] == 26
    assert {b["metric"]: b["epoch"] for b in history["best"]}["val_direction_auc"] == 21
    model = data["model"]
    assert model["file"] == "best_model.keras"
    assert [o["name"] for o in model["outputs"]] == ["direction", "volatility", "magnitude"]
    assert model["outputs"][2]["kernel_initializer"] == "he_normal"  # HeNormal in the archive
    assert model["compile"]["loss_weights_given_as"] == "a list in output order ['direction', 'volatility', 'magnitude']"
    assert model["compile"]["loss_weights"] == {"direction": 1.0, "volatility": 0.3, "magnitude": 0.3}
    assert model["compile"]["optimizer"] == "RMSprop"
    assert data["config"]["file"] == "run_config.yaml" and "training.loss_weights" in data["config"]["keys"]
    returns = data["returns"]
    assert (returns["file"], returns["index_column"], returns["index_kind"]) == ("returns.parquet", "date", "dates")
    assert returns["period"] == ["2021-01-20", "2024-07-02"] and returns["periods"] == 900
    assert returns["trials"][0] == "thr_0.50" and len(returns["trials"]) == 21
    assert re.search(r"^  'date' +index \(named like an index\)$", text, re.MULTILINE)
    assert re.search(r"^  'direction_true' +label of 'direction' \(convention 'H_true'\)$", text, re.MULTILINE)
    assert "training.log (convention 'training.log'); also present, not judged: logs/fit/20251015-091107" in text
    assert "index 'date' (dates), 2021-01-20 to 2024-07-02" in text
    assert "(given as a list in output order ['direction', 'volatility', 'magnitude'])" in text


def test_history_from_tensorboard_logs_lists_the_csv_as_not_read(capsys, tmp_path):
    code, _, data, _ = inspect(capsys, THEIRS, "--artefact", "history=logs/fit/*", tmp_path=tmp_path)
    assert code == 0
    history = data["history"]
    assert (history["file"], history["source"]) == ("logs/fit/20251015-091107", "tensorboard")
    assert artefact(data, "history")["how"] == "--artefact"
    assert "val_direction_auc" in history["metrics"]


@pytest.mark.parametrize("run", ALL_RUNS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_fixture_run_is_read_whole_and_every_plan_check_binds(capsys, tmp_path, run):
    code, text, data, _ = inspect(capsys, run, "--spec", str(PLAN), tmp_path=tmp_path)
    assert code == 0
    assert all(a["status"] == "found" for a in data["artefacts"])
    assert not [s for s in ("predictions", "history", "model", "config", "returns") if "error" in data[s]]
    assert data["predictions"]["not_bound"] == []
    assert [c["id"] for c in data["checks"] if not c["binds"]] == []
    assert text.endswith(f"{len(data['checks'])} of {len(data['checks'])} checks bind\n")


def test_spec_binding_lines_of_the_other_pipeline(capsys, tmp_path):
    code, text, data, _ = inspect(capsys, THEIRS, "--spec", str(PLAN), tmp_path=tmp_path)
    assert code == 0
    lines = text.splitlines()
    assert ("  direction-auc-exact: column 'direction' -> 'direction', label -> 'direction_true' "
            "(convention 'H_true'), logged 'val_direction_auc' in training.log") in lines
    assert ("  loss-weights: compile key 'loss_weights' in best_model.keras (given as a list in output order "
            "['direction', 'volatility', 'magnitude'])") in lines
    assert "  direction-auc: metric 'val_direction_auc' in training.log" in lines
    assert "  volatility-head: layer 'volatility' (Dense) in best_model.keras" in lines
    assert "  pbo: returns returns.parquet: 900 periods x 21 trials, index 'date'" in lines
    checks = {c["id"]: c for c in data["checks"]}
    assert checks["direction-auc-exact"]["bindings"][1] == "label -> 'direction_true' (convention 'H_true')"
    assert checks["direction-auc-vs-baseline"]["binds"] is True


def test_spec_binding_follows_the_layout_flags(capsys, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(OURS, run)
    rewrite_header(run / "predictions.csv", rename={"y_direction": "up_next_day"})
    (run / "returns.csv").rename(run / "strategy_returns.csv")
    code, _, data, _ = inspect(capsys, run, "--spec", str(PLAN), tmp_path=tmp_path)
    checks = {c["id"]: c for c in data["checks"]}
    assert code == 0 and not checks["direction-auc-exact"]["binds"] and not checks["pbo"]["binds"]
    assert "--layout labels.direction=COLUMN" in checks["direction-auc-exact"]["error"]
    assert "--artefact returns=PATH" in checks["pbo"]["error"]
    assert artefact(data, "returns")["status"] == "not found"
    assert artefact(data, "returns")["looked_for"] == ["returns.csv", "returns.parquet"]
    code, _, data, _ = inspect(capsys, run, "--spec", str(PLAN), "--layout", "labels.direction=up_next_day",
                                  "--artefact", "returns=strategy_returns.csv", tmp_path=tmp_path)
    checks = {c["id"]: c for c in data["checks"]}
    assert all(c["binds"] for c in data["checks"])
    assert checks["direction-auc-exact"]["bindings"][1] == "label -> 'up_next_day' (declared by --layout labels.direction)"
    assert artefact(data, "returns")["how"] == "--artefact"


def test_an_ambiguous_run_names_both_candidates(capsys, tmp_path, ambiguous_run):
    code, text, data, _ = inspect(capsys, ambiguous_run, tmp_path=tmp_path)
    assert code == 0  # problems are reported, not fatal
    model = artefact(data, "model")
    assert model["status"] == "error"
    assert "two candidates for the model: 'a.keras' and 'b.keras'" in model["message"]
    assert "--artefact model=PATH" in model["message"]
    assert "two candidates for the model" in data["model"]["error"]
    assert data["heads"]["names"] == ["direction", "volatility", "magnitude"]  # from the label columns
    label = [m for m in data["predictions"]["not_bound"] if "label of 'direction'" in m]
    assert label and "'y_direction' and 'direction_true'" in label[0] and "--layout labels.direction" in label[0]
    assert "two candidates for the model: 'a.keras' and 'b.keras'" in text
    assert "two candidates for the label of 'direction': 'y_direction' and 'direction_true'" in text

    code, text, data, _ = inspect(capsys, ambiguous_run, "--spec", str(PLAN), tmp_path=tmp_path)
    assert code == 0
    checks = {c["id"]: c for c in data["checks"]}
    assert "'y_direction' and 'direction_true'" in checks["direction-auc-exact"]["error"]
    assert "'a.keras' and 'b.keras'" in checks["loss-weights"]["error"]
    assert checks["volatility-max"]["binds"]
    assert re.search(r"^  direction-auc-exact: cannot bind: .*'y_direction' and 'direction_true'", text, re.MULTILINE)
    assert text.endswith("16 of 20 checks bind; 4 cannot\n")


def test_missing_run_dir_exits_2_and_usage_errors_exit_4(capsys, tmp_path):
    code, _, _, err = inspect(capsys, tmp_path / "nowhere")
    assert code == 2 and "run directory not found" in err
    (tmp_path / "a_file").write_text("x")
    code, _, _, err = inspect(capsys, tmp_path / "a_file")
    assert code == 2 and "is not a directory" in err
    code, _, _, err = inspect(capsys, OURS, "--spec", str(tmp_path / "missing.toml"))
    assert code == 4 and "spec file not found" in err
    code, _, _, err = inspect(capsys, OURS, "--layout", "labels=y_direction")
    assert code == 4 and "labels needs a head" in err
    code, _, _, err = inspect(capsys, OURS, "--artefact", "modle=a.keras")
    assert code == 4 and "did you mean 'model'" in err


def test_json_is_strict_even_for_a_nan_in_the_model(capsys, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(OURS, run)
    with zipfile.ZipFile(OURS / "model.keras") as src, zipfile.ZipFile(run / "model.keras", "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["compile_config"]["loss_weights"]["volatility"] = float("nan")
                data = json.dumps(config).encode()  # Python writes NaN, as Keras would
            dst.writestr(item, data)
    code, _, data, _ = inspect(capsys, run, "--spec", str(PLAN), tmp_path=tmp_path)
    assert code == 0
    assert data["model"]["compile"]["loss_weights"]["volatility"] == "nan"
    assert "NaN" not in (tmp_path / "inspect.json").read_text()


def test_json_report_that_cannot_be_written_exits_2(capsys, tmp_path):
    code = cli.main(["inspect", str(OURS), "--json", str(tmp_path / "no" / "such" / "dir.json")])
    captured = capsys.readouterr()
    assert code == 2 and "cannot write" in captured.err
    assert captured.out.startswith("runverdict inspect: ")  # the text was printed all the same


def test_a_column_name_with_a_terminal_escape_is_printed_escaped(capsys, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(THEIRS, run)
    evil = "close\x1b[2J\x1b]0;pwned\x07_return"
    rewrite_header(run / "predictions.csv", rename={"close_return": evil})
    code, text, data, _ = inspect(capsys, run, "--spec", str(PLAN), tmp_path=tmp_path)
    assert code == 0
    assert "\x1b" not in text and "\x07" not in text
    assert r"'close\x1b[2J\x1b]0;pwned\x07_return'" in text
    assert column_roles(data)[evil]["role"] == "extra"  # the JSON keeps the name as it is (JSON-escaped)
    assert "\\u001b[2J" in (tmp_path / "inspect.json").read_text()


def test_the_text_is_stable(capsys):
    first = inspect(capsys, THEIRS, "--spec", str(PLAN))[1]
    assert inspect(capsys, THEIRS, "--spec", str(PLAN))[1] == first
