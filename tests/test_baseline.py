"""validators.baseline: a run side by side with its baseline (values, deltas, which way is
better, improved / worse / same / not compared), and the baseline section of the JSON report."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from factory import SPEC, healthy_history, make_run, saturated_run
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.baseline import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    Comparison,
    better_direction,
    compare,
    make_delta,
)
from validators.gate import GateReport, evaluate
from validators.reports.jsonreport import to_json, write_json
from validators.reports.text import render
from validators.result import CheckResult, verdict_of
from validators.spec import Spec, load_spec, parse_spec


def strict_loads(text):
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def spec():
    return load_spec(SPEC)


@pytest.fixture(scope="module")
def pair(tmp_path_factory, spec):
    """Run #3 (healthy) against a baseline whose AUC was 0.03 higher and whose losses were
    higher, and whose predictions were saturated: every kind of change at once."""
    root = tmp_path_factory.mktemp("pair")
    base_hist = healthy_history()
    base_hist["val_direction_auc"] = base_hist["val_direction_auc"] + 0.03
    base_hist["val_loss"] = base_hist["val_loss"] + 0.05
    base = saturated_run(root / "base")
    (base / "history.csv").write_text(base_hist.to_csv(index=False))
    cand = make_run(root / "cand")
    return cand, base, evaluate(spec, cand, baseline_dir=base)


# -- compare() on real runs ---------------------------------------------------------------------

def test_history_metrics_side_by_side_at_the_last_epoch(pair):
    _, _, report = pair
    comparison = report.baseline
    assert isinstance(comparison, Comparison)
    hist = healthy_history()
    history_rows = [r for r in comparison.rows if r.source == "history"]
    # every metric both histories have (epoch is the index, not a metric), in name order
    assert [r.name for r in history_rows] == sorted(c for c in hist.columns if c != "epoch")
    for row in history_rows:
        cand = float(hist[row.name].iloc[-1])
        base = cand + (0.03 if row.name == "val_direction_auc" else 0.05 if row.name == "val_loss" else 0.0)
        assert row.candidate == cand
        assert row.baseline == pytest.approx(base, abs=1e-12)
        assert row.delta == row.candidate - row.baseline
        assert row.relative == row.delta / abs(row.baseline)


def test_directions_and_changes(pair):
    _, _, report = pair
    c = report.baseline
    auc = c.row("val_direction_auc", "history")
    assert (auc.better, auc.change) == ("higher", "worse")
    assert auc.delta == pytest.approx(-0.03, abs=1e-12)
    assert auc.relative == pytest.approx(-0.03 / 0.69, rel=1e-9)
    loss = c.row("val_loss", "history")
    assert (loss.better, loss.change) == ("lower", "improved")
    assert loss.delta == pytest.approx(-0.05, abs=1e-12)
    same = c.row("volatility_loss", "history")
    assert (same.better, same.change, same.delta, same.relative) == ("lower", "same", 0.0, 0.0)
    # the range check observes the share outside the bound: lower is better, whatever its name
    rng = c.row("volatility-range", "check")
    assert rng.better == "lower"
    assert rng.candidate == 0.0 and rng.baseline == 1.0
    assert (rng.delta, rng.relative, rng.change) == (-1.0, -1.0, "improved")
    # a check bounded only below wants higher values; only above, lower
    assert c.row("direction-auc", "check").better == "higher"
    assert c.row("direction-auc", "check").change == "worse"
    assert c.row("volatility-max", "check").better == "lower"
    assert c.row("volatility-max", "check").change == "improved"
    assert c.row("pbo", "check").better == "lower"
    # both bounds and a name that says nothing: the direction is unknown, a change is just "changed"
    assert c.row("magnitude-mean", "check").better is None
    # non-numeric observed values (config, architecture) are not put side by side
    assert c.row("loss-weights") is None and c.row("volatility-head") is None


def test_row_lookup_by_source(pair):
    _, _, report = pair
    c = report.baseline
    assert c.row("no-such-thing") is None
    assert c.row("val_direction_auc", "check") is None
    assert c.row("direction-auc").source == "check"


def test_baseline_checks_run_without_delta_kinds(pair, spec):
    _, base, report = pair
    c = report.baseline
    ids = [r.id for r in c.baseline_results]
    assert ids == [k.id for k in spec.checks if k.kind != "delta"]
    assert "direction-auc-vs-baseline" not in ids
    assert c.baseline_verdict == "fail"  # the baseline was saturated
    assert c.baseline_dir == str(base)
    # the delta check is not compared with itself on the baseline
    assert c.row("direction-auc-vs-baseline") is None


def test_identical_runs_are_all_same(tmp_path, spec):
    cand = make_run(tmp_path / "a")
    base = make_run(tmp_path / "b")
    report = evaluate(spec, cand, baseline_dir=base)
    assert report.baseline.rows
    assert {r.change for r in report.baseline.rows} == {"same"}
    assert all(r.delta == 0.0 for r in report.baseline.rows)
    text = render(report)
    assert f"Compared with baseline {base} (its verdict: pass; {len(report.baseline.rows)} values unchanged" in text


def test_nan_is_not_compared_and_json_stays_strict(tmp_path):
    spec = parse_spec("""
[[check]]
id = "last-loss"
kind = "history"
severity = "must"
metric = "val_loss"
lt = 1.0
""")
    hist = healthy_history()
    hist.loc[hist.index[-1], "val_loss"] = np.nan
    cand = tmp_path / "cand"
    cand.mkdir()
    (cand / "history.csv").write_text(hist.to_csv(index=False))
    base = tmp_path / "base"
    base.mkdir()
    (base / "history.csv").write_text(healthy_history().to_csv(index=False))
    report = evaluate(spec, cand, baseline_dir=base)
    row = report.baseline.row("val_loss", "history")
    assert row.change == "not compared"
    assert math.isnan(row.candidate) and row.baseline == pytest.approx(0.64)
    assert (row.delta, row.relative) == (None, None)
    check_row = report.baseline.row("last-loss", "check")
    assert check_row.change == "not compared" and check_row.delta is None
    data = strict_loads(to_json(report))
    deltas = {(d["name"], d["source"]): d for d in data["baseline"]["deltas"]}
    assert deltas[("val_loss", "history")] == {"name": "val_loss", "source": "history", "candidate": None,
                                               "baseline": row.baseline, "delta": None, "relative": None,
                                               "better": "lower", "change": "not compared"}
    assert "not compared" in render(report)


def test_errored_check_on_one_side_is_not_compared(tmp_path):
    spec = parse_spec("""
[[check]]
id = "auc-last"
kind = "history"
severity = "must"
metric = "val_direction_auc"
ge = 0.5
""")
    cand = tmp_path / "cand"
    cand.mkdir()
    (cand / "history.csv").write_text(healthy_history().to_csv(index=False))
    base = tmp_path / "base"
    base.mkdir()  # no history: the baseline's check errors, its observed value is None
    report = evaluate(spec, cand, baseline_dir=base)
    assert report.baseline.baseline_verdict == "error"
    row = report.baseline.row("auc-last")
    assert (row.candidate, row.baseline, row.change) == (0.66, None, "not compared")
    assert [r.source for r in report.baseline.rows] == ["check"]  # no baseline history: no history rows


def test_json_report_baseline_section(pair, tmp_path):
    _, base, report = pair
    path = tmp_path / "verdict.json"
    write_json(report, path)
    data = strict_loads(path.read_text())
    section = data["baseline"]
    assert section["path"] == os.path.abspath(base)
    assert section["verdict"] == "fail"
    assert len(section["deltas"]) == len(report.baseline.rows)
    for row, d in zip(report.baseline.rows, section["deltas"]):
        assert set(d) == {"name", "source", "candidate", "baseline", "delta", "relative", "better", "change"}
        assert (d["name"], d["source"], d["change"], d["better"]) == (row.name, row.source, row.change, row.better)
        assert d["delta"] == row.delta and d["candidate"] == row.candidate
    auc = next(d for d in section["deltas"] if d["name"] == "val_direction_auc")
    assert auc["change"] == "worse" and auc["delta"] == pytest.approx(-0.03, abs=1e-12)


def test_json_report_without_baseline_has_null_section(tmp_path, spec):
    report = evaluate(spec, make_run(tmp_path / "r"))
    assert report.baseline is None
    assert strict_loads(to_json(report))["baseline"] is None


def test_text_report_lists_changed_values(pair):
    _, base, report = pair
    text = render(report)
    assert f"Compared with baseline {base} (its verdict: fail;" in text
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("history") and "val_direction_auc" in ln)
    assert "worse" in line and "delta -0.03" in line
    assert not any("volatility_loss" in ln and ln.strip().startswith("history") for ln in text.splitlines())


# -- compare() on hand-made reports -------------------------------------------------------------

def _report(results, spec=None):
    results = tuple(results)
    verdict, code = verdict_of(results)
    spec = spec or Spec(path="s.toml", sha256="0" * 64, name="s", artefacts={}, checks=())
    return GateReport(run_dir="r", spec=spec, results=results, verdict=verdict, exit_code=code, run=None)


def _result(check_id, observed, kind="custom", status="pass"):
    return CheckResult(check_id, kind, "must", status, observed, "", "")


@pytest.mark.parametrize("cand, base", [
    (np.float64(0.7), np.float64(0.6)),
    (np.float32(0.75), np.float32(0.5)),
    (np.int64(7), np.int64(5)),
    (7, 5.0),
])
def test_numeric_observed_values_of_any_number_type_are_compared(cand, base):
    """A custom kind may return a numpy scalar: it is a number, and it is compared."""
    comparison = compare(_report([_result("count_score", cand)]), _report([_result("count_score", base)]))
    row = comparison.row("count_score")
    assert row is not None
    assert (row.candidate, row.baseline) == (float(cand), float(base))
    assert row.change == "improved"


def test_non_numeric_and_one_sided_checks_are_left_out():
    cand = _report([_result("a", "relu"), _result("b", True), _result("only-here", 1.0), _result("c", {"x": 1})])
    base = _report([_result("a", "tanh"), _result("b", False), _result("c", {"x": 2}), _result("only-there", 1.0)])
    assert compare(cand, base).rows == ()


# -- make_delta and better_direction ------------------------------------------------------------

def test_make_delta_examples():
    d = make_delta("val_direction_auc", "history", 0.68, 0.71)
    assert (d.better, d.change) == ("higher", "worse")
    assert d.delta == 0.68 - 0.71 and d.relative == (0.68 - 0.71) / 0.71
    d = make_delta("val_loss", "history", 0.5, 0.6)
    assert (d.better, d.change) == ("lower", "improved")
    d = make_delta("val_loss", "history", 0.5, -0.25)
    assert d.relative == 0.75 / 0.25  # divided by |baseline|
    d = make_delta("magnitude-mean", "check", 0.05, 0.04)
    assert (d.better, d.change) == (None, "changed")
    d = make_delta("magnitude-mean", "check", 0.05, 0.04, better="lower")
    assert (d.better, d.change) == ("lower", "worse")
    d = make_delta("x_loss", "history", 0.3, 0.0)
    assert (d.delta, d.relative, d.change) == (0.3, None, "worse")  # relative undefined at 0
    d = make_delta("x_auc", "history", 0.0, 0.0)
    assert (d.delta, d.relative, d.change) == (0.0, None, "same")
    for cand, base in [(math.nan, 0.5), (0.5, math.nan), (math.inf, 0.5), (0.5, None), (True, 0.5), ("0.5", 0.5)]:
        d = make_delta("x_auc", "history", cand, base)
        assert (d.delta, d.relative, d.change) == (None, None, "not compared")


def _finite(x):
    return (isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))
            and math.isfinite(float(x)))


def reference_delta(candidate, baseline, better):
    """The change by plain comparisons, no subtraction for the verdict."""
    if not (_finite(candidate) and _finite(baseline)):
        return None, None, "not compared"
    c, b = float(candidate), float(baseline)
    delta = c - b
    relative = None if b == 0 else delta / abs(b)
    if c == b:
        change = "same"
    elif better is None:
        change = "changed"
    elif better == "higher":
        change = "improved" if c > b else "worse"
    else:
        change = "improved" if c < b else "worse"
    return delta, relative, change


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e6, 1e6).map(np.float32),
    st.integers(-10**6, 10**6),
    st.integers(-10**6, 10**6).map(np.int64),
    st.sampled_from([0.0, -0.0, 0.5, 1e-320, None, True, False, "0.5"]),
)


@settings(max_examples=200, deadline=None)
@given(values, values, st.sampled_from(["higher", "lower", None]), st.sampled_from(["history", "check"]))
def test_make_delta_matches_reference(candidate, baseline, better, source):
    name = {"higher": "val_auc", "lower": "val_loss", None: "magnitude_max"}[better]
    d = make_delta(name, source, candidate, baseline)
    assert d.better == better and d.name == name and d.source == source
    delta, relative, change = reference_delta(candidate, baseline, better)
    assert d.change == change
    assert d.delta == delta
    if relative is None:
        assert d.relative is None
    else:
        assert d.relative == relative or (math.isnan(relative) and math.isnan(d.relative))
    if change != "not compared":
        assert (d.candidate, d.baseline) == (float(candidate), float(baseline))
    # a direction given explicitly overrides the name's; the opposite one swaps the verdict
    if better is not None:
        flipped = "lower" if better == "higher" else "higher"
        other = make_delta(name, source, candidate, baseline, better=flipped)
        assert other.better == flipped
        assert other.change == {"improved": "worse", "worse": "improved"}.get(change, change)


def test_better_direction_examples():
    assert better_direction("val_direction_auc") == "higher"
    assert better_direction("direction_auc") == "higher"
    assert better_direction("val_loss") == "lower"
    assert better_direction("volatility_loss") == "lower"
    assert better_direction("magnitude_mae") == "lower"
    assert better_direction("mean_absolute_error") == "lower"
    assert better_direction("f1_score") == "higher"
    assert better_direction("val_accuracy") == "higher"
    assert better_direction("VAL_AUC") == "higher"
    assert better_direction("direction-auc-vs-baseline") == "higher"
    assert better_direction("pbo-improved") == "lower"
    assert better_direction("sharpe") == "higher"
    assert better_direction("auc_loss") == "lower"  # the last known word decides
    assert better_direction("loss_auc") == "higher"
    assert better_direction("val_loss_ema") == "lower"  # unknown trailing words are skipped
    for name in ("magnitude-max", "epoch", "", "lr", "val_direction_aucs", "auction", "glossary"):
        assert better_direction(name) is None


KNOWN = HIGHER_IS_BETTER + LOWER_IS_BETTER
OTHER = ("val", "direction", "volatility", "magnitude", "mean", "max", "vs", "baseline", "x1", "aucx", "")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(KNOWN), st.sampled_from(OTHER),
                          st.text("abcdefghijklmnopqrstuvwxyz0123456789", max_size=6)), min_size=1, max_size=6),
       st.lists(st.sampled_from(["_", "-"]), min_size=5, max_size=5),
       st.sampled_from([str.lower, str.upper, str.title]))
def test_better_direction_matches_reference(words, seps, case):
    name = words[0] + "".join(sep + word for sep, word in zip(seps, words[1:]))
    name = case(name)
    expected = None
    for word in words:  # the last word that names a direction decides
        if word in HIGHER_IS_BETTER:
            expected = "higher"
        elif word in LOWER_IS_BETTER:
            expected = "lower"
    assert better_direction(name) == expected
