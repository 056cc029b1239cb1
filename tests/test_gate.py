"""validators.gate and the verdict: precedence, every check runs, only needed artefacts are read,
and the JSON report is strict."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re

import numpy as np
import pytest
from factory import SPEC, healthy_history, make_run, saturated_run
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.exitcodes import ExitCode
from validators.gate import evaluate, label_heads, prediction_columns
from validators.kinds import builtin_kinds
from validators.registry import KINDS
from validators.reports.jsonreport import plain, report_dict, to_json, write_json
from validators.reports.text import render
from validators.result import CheckResult, Outcome, verdict_of
from validators.spec import load_spec, parse_spec

builtin_kinds()


def result(status, severity="must", observed=None, check_id="c"):
    return CheckResult(check_id, "range", severity, status, observed, "x < 1", "message")


def strict_loads(text):
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


# -- verdict_of ---------------------------------------------------------------------------------

@pytest.mark.parametrize("statuses, expected", [
    ([("must", "pass")], ("pass", ExitCode.PASS)),
    ([("must", "fail")], ("fail", ExitCode.FAIL)),
    ([("must", "error")], ("error", ExitCode.ERROR)),
    ([("must", "fail"), ("must", "error")], ("error", ExitCode.ERROR)),
    ([("must", "error"), ("must", "fail"), ("must", "pass")], ("error", ExitCode.ERROR)),
    ([("must", "pass"), ("nice", "fail")], ("pass", ExitCode.PASS)),
    ([("must", "pass"), ("nice", "error")], ("pass", ExitCode.PASS)),
    ([("must", "fail"), ("nice", "error")], ("fail", ExitCode.FAIL)),
    ([("nice", "pass")], ("error", ExitCode.ERROR)),  # no must check: nothing the verdict can rest on
    ([], ("error", ExitCode.ERROR)),
    ([("must", "skipped")], ("error", ExitCode.ERROR)),
])
def test_verdict_precedence(statuses, expected):
    assert verdict_of([result(status, severity) for severity, status in statuses]) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["must", "nice"]), st.sampled_from(["pass", "fail", "error"])),
                max_size=8))
def test_verdict_matches_reference(checks):
    must = [status for severity, status in checks if severity == "must"]
    if not must or "error" in must:  # no must check at all: nothing was judged that the verdict can rest on
        expected = "error"
    elif "fail" in must:
        expected = "fail"
    else:
        expected = "pass"
    verdict, code = verdict_of([result(status, severity) for severity, status in checks])
    assert verdict == expected
    assert code == {"pass": 0, "fail": 1, "error": 2}[expected]
    # nice checks never change it
    only_must = [result(s, "must") for sev, s in checks if sev == "must"]
    if only_must:
        assert verdict_of(only_must) == (verdict, code)


def test_exit_codes_are_distinct_and_fixed():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4]


# -- evaluate ------------------------------------------------------------------------------------

def test_healthy_run_passes_run3(tmp_path):
    report = evaluate(load_spec(SPEC), make_run(tmp_path / "run"))
    bad = [(r.id, r.status, r.message) for r in report.results if r.status != "pass"]
    assert report.verdict == "pass" and report.exit_code == 0, bad


def test_saturated_run_fails_run3(tmp_path):
    report = evaluate(load_spec(SPEC), saturated_run(tmp_path / "run"))
    assert (report.verdict, report.exit_code) == ("fail", ExitCode.FAIL)
    by_id = {r.id: r for r in report.results}
    sat = by_id["volatility-not-saturated"]
    assert sat.status == "fail" and sat.observed == 1.0
    assert sat.evidence["count_beyond"] == sat.evidence["rows"] == 400


def test_every_check_runs_even_when_others_fail(tmp_path):
    run_dir = saturated_run(tmp_path / "run")
    (run_dir / "history.csv").unlink()
    spec = load_spec(SPEC)
    report = evaluate(spec, run_dir)
    assert [r.id for r in report.results] == [c.id for c in spec.checks]
    statuses = {r.id: r.status for r in report.results}
    assert statuses["volatility-not-saturated"] == "fail"
    assert statuses["volatility-loss"] == statuses["direction-auc"] == "error"
    assert statuses["loss-weights"] == statuses["magnitude-range"] == "pass"
    assert report.verdict == "error" and report.exit_code == ExitCode.ERROR
    assert report.counts()["error"] == sum(1 for s in statuses.values() if s == "error")


def test_each_check_needing_a_broken_artefact_reports_the_same_error(tmp_path):
    run_dir = make_run(tmp_path / "run")
    (run_dir / "predictions.csv").write_bytes(b"")
    report = evaluate(load_spec(SPEC), run_dir)
    errors = [r for r in report.results if r.status == "error"]
    assert {r.kind for r in errors} == {r.kind for r in report.results
                                        if "predictions" in builtin_kinds()[r.kind].artefacts}
    assert {r.kind for r in errors} >= {"saturation", "statistic", "range", "auc"}
    assert len({r.message for r in errors}) == 1 and "file is empty (0 bytes)" in errors[0].message


CONFIG_ONLY = """
[[check]]
id = "loss-weights"
kind = "config"
severity = "must"
key = "loss_weights"
equals = { direction = 1.0, volatility = 0.3, magnitude = 0.3 }
"""


def test_only_needed_artefacts_are_read(tmp_path):
    run_dir = make_run(tmp_path / "run")
    (run_dir / "predictions.csv").unlink()
    (run_dir / "history.csv").write_text("garbage,\n1,2,3\n")
    report = evaluate(parse_spec(CONFIG_ONLY), run_dir)
    assert report.verdict == "pass"
    assert list(report.files) == [str(run_dir / "config.json")]


def test_only_needed_columns_are_parsed(tmp_path):
    run_dir = make_run(tmp_path / "run")
    path = run_dir / "predictions.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[5].split(",")
    cells[header.index("forward_return")] = "not-a-number"
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    spec = parse_spec('[[check]]\nid = "r"\nkind = "range"\nseverity = "must"\ncolumn = "volatility"\n'
                      "ge = 0.0\nle = 0.15\n")
    assert prediction_columns(spec) == ["volatility"]
    assert evaluate(spec, run_dir).verdict == "pass"


def test_prediction_columns_of_run3():
    spec = load_spec(SPEC)
    assert set(prediction_columns(spec)) >= {"volatility", "magnitude", "direction"}
    assert label_heads(spec) == ["direction"]  # its label is found by the layout: y_direction, direction_true...


def test_a_kind_returning_something_else_never_passes(tmp_path, monkeypatch):
    kind = KINDS["config"]
    monkeypatch.setitem(KINDS, "config", dataclasses.replace(kind, func=lambda run, **kw: True))
    with pytest.raises(TypeError, match="not an Outcome"):
        evaluate(parse_spec(CONFIG_ONLY), make_run(tmp_path / "run"))


@pytest.mark.parametrize("passed", [np.True_, 1, "yes"])
def test_only_true_passes(tmp_path, monkeypatch, passed):
    kind = KINDS["config"]
    monkeypatch.setitem(KINDS, "config", dataclasses.replace(
        kind, func=lambda run, **kw: Outcome(passed, 1.0, "truthy but not True")))
    (r,) = evaluate(parse_spec(CONFIG_ONLY), make_run(tmp_path / "run")).results
    assert r.status == "fail"


# -- the JSON report -------------------------------------------------------------------------

def nan_loss_run(tmp_path):
    hist = healthy_history()
    hist.loc[7, "volatility_loss"] = math.nan
    hist.loc[7, "magnitude_loss"] = math.inf
    return make_run(tmp_path / "run", history=hist)


def test_json_report_is_strict_even_with_nan_observed(tmp_path):
    run_dir = nan_loss_run(tmp_path)
    report = evaluate(load_spec(SPEC), run_dir)
    by_id = {r.id: r for r in report.results}
    assert math.isnan(by_id["volatility-loss"].observed) and by_id["magnitude-loss"].observed == math.inf
    data = strict_loads(to_json(report))
    assert data["verdict"] == "fail" and data["exit_code"] == 1
    checks = {c["id"]: c for c in data["checks"]}
    assert checks["volatility-loss"]["observed"] is None and checks["volatility-loss"]["status"] == "fail"
    assert "nan" in checks["volatility-loss"]["observed_note"]
    assert checks["magnitude-loss"]["observed"] is None and "inf" in checks["magnitude-loss"]["observed_note"]
    assert "NaN" not in to_json(report) and "Infinity" not in to_json(report)


def test_json_report_fields_and_hashes(tmp_path):
    run_dir = make_run(tmp_path / "run")
    report = evaluate(load_spec(SPEC), run_dir)
    data = strict_loads(to_json(report))
    assert {"verdict", "exit_code", "checks", "run", "spec", "summary"} <= set(data)
    assert data["summary"] == {"pass": len(data["checks"]), "fail": 0, "error": 0}
    assert data["spec"]["path"] == os.path.abspath(SPEC)
    assert data["spec"]["sha256"] == hashlib.sha256(SPEC.read_bytes()).hexdigest()
    assert data["run"]["path"] == os.path.abspath(run_dir)
    hashes = {os.path.basename(a["path"]): a["sha256"] for a in data["run"]["artefacts"]}
    assert set(hashes) >= {"predictions.csv", "history.csv", "config.json"}  # every artefact read
    for name, digest in hashes.items():
        if (run_dir / name).is_file():
            assert digest == hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
    for check in data["checks"]:
        assert {"id", "kind", "severity", "status", "observed", "bound", "message", "evidence"} <= set(check)
        assert check["status"] in ("pass", "fail", "error")


def test_json_report_of_errors_carries_file_line_column(tmp_path):
    run_dir = make_run(tmp_path / "run")
    path = run_dir / "predictions.csv"
    lines = path.read_text().splitlines()
    lines[10] = lines[10].replace(lines[10].split(",")[1], "[0.1 0.9]", 1)
    path.write_text("\n".join(lines) + "\n")
    data = strict_loads(to_json(evaluate(load_spec(SPEC), run_dir)))
    vol = {c["id"]: c for c in data["checks"]}["volatility-range"]
    assert vol["status"] == "error" and vol["observed"] is None
    assert vol["evidence"] == {"file": str(path), "line": 11, "column": 2}


def test_write_json_is_atomic_and_replaces(tmp_path):
    report = evaluate(load_spec(SPEC), make_run(tmp_path / "run"))
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    out.write_text("old")
    write_json(report, out)
    assert strict_loads(out.read_text())["verdict"] == "pass"
    assert os.listdir(out.parent) == ["report.json"]  # no temporary file left behind


def test_write_json_failure_keeps_the_old_report(tmp_path, monkeypatch):
    report = evaluate(load_spec(SPEC), make_run(tmp_path / "run"))
    out = tmp_path / "report.json"
    out.write_text('{"verdict": "old"}')

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        write_json(report, out)
    assert out.read_text() == '{"verdict": "old"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "run"]


@pytest.mark.parametrize("value, expected", [
    (math.nan, None), (math.inf, None), (-math.inf, None), (np.float64("nan"), None),
    (np.float32(0.5), 0.5), (np.int64(3), 3), (np.bool_(True), True), (np.array([1.0, np.nan]), [1.0, None]),
    ({"a": (1, math.nan)}, {"a": [1, None]}), ({1: "x"}, {"1": "x"}), (None, None), ("s", "s"),
    (object, str(object)),
])
def test_plain_makes_values_strict(value, expected):
    assert plain(value) == expected
    strict_loads(json.dumps(plain(value), allow_nan=False))


def test_report_dict_with_nan_in_evidence(tmp_path):
    run_dir = nan_loss_run(tmp_path)
    report = evaluate(load_spec(SPEC), run_dir)
    bad = dataclasses.replace(report.results[0], evidence={"x": np.float64("nan"), "y": [math.inf]})
    report = dataclasses.replace(report, results=(bad,) + report.results[1:])
    data = report_dict(report)
    assert data["checks"][0]["evidence"] == {"x": None, "y": [None]}
    strict_loads(json.dumps(data, allow_nan=False))


# -- the terminal report -------------------------------------------------------------------------

def test_text_report_table_and_summary(tmp_path):
    hist = healthy_history()
    hist["val_direction_auc"] = [0.62, 0.64, 0.655, 0.66, 0.65, 0.64, 0.63, 0.62]  # nice check fails
    run_dir = make_run(tmp_path / "run", history=hist)
    report = evaluate(load_spec(SPEC), saturated_run(tmp_path / "run2"))
    text = render(report, colour=False)
    assert "\x1b[" not in text
    n = len(report.results)
    assert text.splitlines()[-1].startswith(f"{n - 3} passed, 3 failed, 0 errors. Verdict: FAIL (exit 1)")
    assert re.search(r"^FAIL +volatility-not-saturated +1\.0 +observed <= 0\.0$", text, re.MULTILINE)
    report = evaluate(load_spec(SPEC), run_dir)
    text = render(report, colour=False)
    assert "FAIL*" in text and "nice-to-have, marked *, do not change the verdict" in text
    assert text.splitlines()[-1].endswith("Verdict: PASS (exit 0)")
    assert "\x1b[" in render(report, colour=True)
