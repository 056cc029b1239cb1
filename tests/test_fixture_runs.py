"""The plan's gate on the real training runs under fixtures/runs (no TensorFlow needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from validators.gate import evaluate
from validators.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "fixtures" / "runs"
SPEC = load_spec(REPO / "checks" / "run3.toml")


def statuses(report) -> dict:
    return {r.id: r.status for r in report.results}


def failing(report) -> set:
    return {r.id for r in report.results if r.status != "pass"}


@pytest.fixture(scope="module")
def reports():
    return {name: evaluate(SPEC, RUNS / name) for name in ("run2_sigmoid", "run3_relu", "run3_weak_auc")}


def test_run2_fails_saturation_over_the_whole_column_loss_and_architecture(reports):
    report = reports["run2_sigmoid"]
    assert report.verdict == "fail" and int(report.exit_code) == 1
    by_id = {r.id: r for r in report.results}
    saturation = by_id["volatility-not-saturated"]
    assert saturation.status == "fail"
    assert saturation.evidence["evaluated"] == saturation.evidence["rows"] == 1000  # the whole column
    assert saturation.observed == saturation.evidence["count_beyond"] / 1000 > 0.99
    assert by_id["volatility-range"].observed == 1.0  # every value outside [0, 0.15]
    for check in ("volatility-loss", "magnitude-loss", "volatility-head", "magnitude-head"):
        assert by_id[check].status == "fail", check
    assert "activation is 'sigmoid', expected 'relu'" in by_id["volatility-head"].message


def test_run3_passes_every_check(reports):
    report = reports["run3_relu"]
    assert report.verdict == "pass" and failing(report) == set()


def test_weak_run_fails_only_on_auc(reports):
    report = reports["run3_weak_auc"]
    assert report.verdict == "fail"
    assert failing(report) == {"direction-auc", "direction-auc-exact", "direction-auc-improved"}


@pytest.mark.parametrize("name", ["run2_sigmoid", "run3_relu", "run3_weak_auc"])
def test_a_copy_with_only_tensorboard_logs_gets_the_same_verdict(reports, tmp_path, name):
    copy = tmp_path / name
    shutil.copytree(RUNS / name, copy)
    (copy / "history.csv").unlink()
    (copy / "history.json").unlink()
    report = evaluate(SPEC, copy)
    assert report.run.history().source == "tensorboard"
    assert statuses(report) == statuses(reports[name])
    assert report.verdict == reports[name].verdict
    observed = {r.id: r.observed for r in report.results if r.kind == "history"}
    assert observed == {r.id: r.observed for r in reports[name].results if r.kind == "history"}


def test_a_truncated_events_file_is_exit_2_with_the_offset(tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(RUNS / "run3_relu", copy)
    (copy / "history.csv").unlink()
    (copy / "history.json").unlink()
    events = next((copy / "logs" / "validation").glob("events.out.tfevents.*"))
    data = events.read_bytes()
    events.write_bytes(data[: len(data) - 7])
    out = tmp_path / "verdict.json"
    done = subprocess.run([sys.executable, "-m", "validators", "check", str(copy), "--spec",
                           str(REPO / "checks" / "run3.toml"), "--json", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    checks = {c["id"]: c for c in json.loads(out.read_text())["checks"]}
    message = checks["volatility-loss"]["message"]
    assert checks["volatility-loss"]["status"] == "error"
    assert "byte offset" in message and "last good step" in message, message
    assert events.name in message


def test_run3_against_run2_advises_keeping_the_auxiliary_outputs_with_the_auc_delta():
    report = evaluate(SPEC, RUNS / "run3_relu", baseline_dir=RUNS / "run2_sigmoid")
    assert report.verdict == "pass"
    advice = {a.id: a for a in report.advice}
    assert set(advice) == {"next-auc-improved", "next-success"}
    auc = report.baseline.row("val_direction_auc", "history")
    assert auc.change == "improved" and auc.delta > 0.005
    assert any("val_direction_auc change 0.0146" in fact for fact in advice["next-auc-improved"].facts)


def test_weak_run_against_run3_gets_the_rollback_plan_with_numbers():
    report = evaluate(SPEC, RUNS / "run3_weak_auc", baseline_dir=RUNS / "run3_relu")
    advice = {a.id: a for a in report.advice}
    assert {"rollback-auc-dropped", "rollback-auc-floor", "reduce-aux-loss-weights", "remove-aux-outputs",
            "next-auc-worse"} == set(advice)
    assert any("change -0.268" in fact for fact in advice["rollback-auc-dropped"].facts)
    assert {r.id: r.status for r in report.results}["direction-auc-vs-baseline"] == "fail"
