"""The ``delta`` kind: a history metric's change against the baseline run, absolute or
relative, at the last, the best or a given epoch; no baseline is an error unless the spec
allows a first run (BAD_INPUTS case 28)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validators import cli
from validators.gate import evaluate
from validators.reports.jsonreport import to_json
from validators.result import ERROR, FAIL, PASS
from validators.spec import parse_spec

AUC_MAY_DROP_001 = """
[[check]]
id = "auc-vs-baseline"
kind = "delta"
severity = "must"
metric = "val_direction_auc"
epoch = "best"
monitor = "val_direction_auc"
mode = "max"
ge = -0.01
"""

LOSS_MAY_GROW_10PCT = """
[[check]]
id = "loss-vs-baseline"
kind = "delta"
severity = "must"
metric = "val_loss"
change = "relative"
le = 0.10
"""


def write_history(root, **metrics):
    """A CSVLogger file with the given per-epoch metrics."""
    root.mkdir(parents=True, exist_ok=True)
    n = len(next(iter(metrics.values())))
    frame = pd.DataFrame({"epoch": range(n), **metrics})
    frame.to_csv(root / "history.csv", index=False)
    return root


def judge(spec_text, cand, base=None):
    report = evaluate(parse_spec(spec_text), cand, baseline_dir=base)
    assert len(report.results) == 1
    return report, report.results[0]


def test_absolute_drop_within_bound_passes(tmp_path):
    base = write_history(tmp_path / "base", val_direction_auc=[0.60, 0.70, 0.69])
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.62, 0.695, 0.64])
    report, r = judge(AUC_MAY_DROP_001, cand, base)
    assert r.status == PASS and report.exit_code == 0
    assert r.observed == pytest.approx(-0.005, abs=1e-12)
    assert r.evidence["candidate"] == 0.695 and r.evidence["baseline"] == 0.70
    assert r.evidence["candidate_epoch"] == 1 and r.evidence["baseline_epoch"] == 1
    assert r.evidence["compared"] is True and r.evidence["better"] == "higher"
    assert r.evidence["change"] == "absolute" and r.evidence["delta"] == r.observed
    assert r.bound == "observed >= -0.01"
    assert r.message.startswith("val_direction_auc change -0.00")
    assert "0.695 (epoch 1) vs baseline 0.7 (epoch 1)" in r.message


def test_absolute_drop_beyond_bound_fails(tmp_path):
    base = write_history(tmp_path / "base", val_direction_auc=[0.60, 0.70, 0.69])
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.62, 0.68, 0.64])
    report, r = judge(AUC_MAY_DROP_001, cand, base)
    assert r.status == FAIL and report.exit_code == 1
    assert r.observed == pytest.approx(-0.02, abs=1e-12)


def test_bound_is_exact_at_its_edge(tmp_path):
    """Binary-exact values: a drop of exactly the bound passes ge and fails gt."""
    base = write_history(tmp_path / "base", val_direction_auc=[0.6328125])
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.625])
    ge = AUC_MAY_DROP_001.replace("ge = -0.01", "ge = -0.0078125")
    assert judge(ge, cand, base)[1].observed == -0.0078125
    assert judge(ge, cand, base)[1].status == PASS
    assert judge(ge.replace("ge =", "gt ="), cand, base)[1].status == FAIL


def test_improvement_passes_a_drop_bound(tmp_path):
    base = write_history(tmp_path / "base", val_direction_auc=[0.60, 0.66])
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.60, 0.70])
    _, r = judge(AUC_MAY_DROP_001, cand, base)
    assert r.status == PASS and r.observed == pytest.approx(0.04, abs=1e-12)


@pytest.mark.parametrize("cand_last, status", [(0.54, PASS), (0.56, FAIL), (0.40, PASS), (0.5, PASS)])
def test_relative_growth_of_a_loss(tmp_path, cand_last, status):
    base = write_history(tmp_path / "base", val_loss=[0.9, 0.5])
    cand = write_history(tmp_path / "cand", val_loss=[0.9, cand_last])
    _, r = judge(LOSS_MAY_GROW_10PCT, cand, base)
    assert r.observed == (cand_last - 0.5) / 0.5
    assert r.status == status
    assert r.evidence["change"] == "relative" and r.evidence["better"] == "lower"
    assert r.evidence["delta"] == cand_last - 0.5
    assert r.message.startswith(f"val_loss relative change {r.observed!r}")


def test_relative_bound_is_exact_at_its_edge(tmp_path):
    base = write_history(tmp_path / "base", val_loss=[0.5])
    cand = write_history(tmp_path / "cand", val_loss=[0.5625])  # +12.5%, exact in binary
    spec = LOSS_MAY_GROW_10PCT.replace("le = 0.10", "le = 0.125")
    assert judge(spec, cand, base)[1].observed == 0.125
    assert judge(spec, cand, base)[1].status == PASS
    assert judge(spec.replace("le =", "lt ="), cand, base)[1].status == FAIL


def test_relative_change_divides_by_the_absolute_baseline(tmp_path):
    base = write_history(tmp_path / "base", score=[-2.0])
    cand = write_history(tmp_path / "cand", score=[-1.0])
    spec = LOSS_MAY_GROW_10PCT.replace('"val_loss"', '"score"').replace("le = 0.10", "gt = 0.0")
    _, r = judge(spec, cand, base)
    assert r.observed == 0.5 and r.status == PASS  # grew by half of |baseline|


def test_last_epoch_and_best_epoch_differ(tmp_path):
    base = write_history(tmp_path / "base", val_direction_auc=[0.60, 0.70, 0.65], val_loss=[0.7, 0.6, 0.5])
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.71, 0.60, 0.62], val_loss=[0.7, 0.6, 0.5])
    _, best = judge(AUC_MAY_DROP_001, cand, base)
    assert best.observed == pytest.approx(0.01, abs=1e-12)  # 0.71 at epoch 0 vs 0.70 at epoch 1
    assert (best.evidence["candidate_epoch"], best.evidence["baseline_epoch"]) == (0, 1)
    last = AUC_MAY_DROP_001.replace('epoch = "best"\nmonitor = "val_direction_auc"\nmode = "max"\n', "")
    _, r = judge(last, cand, base)
    assert r.observed == pytest.approx(-0.03, abs=1e-12)  # 0.62 vs 0.65 at the last epochs
    assert (r.evidence["candidate_epoch"], r.evidence["baseline_epoch"]) == (2, 2)
    assert r.status == FAIL
    # best by another monitor: the epoch of the lowest val_loss, then its AUC
    by_loss = AUC_MAY_DROP_001.replace('monitor = "val_direction_auc"\nmode = "max"',
                                       'monitor = "val_loss"\nmode = "min"')
    _, r = judge(by_loss, cand, base)
    assert r.observed == pytest.approx(-0.03, abs=1e-12)
    # a 0-based epoch index
    first = last.replace('metric = "val_direction_auc"', 'metric = "val_direction_auc"\nepoch = 0')
    _, r = judge(first, cand, base)
    assert r.observed == pytest.approx(0.11, abs=1e-12) and r.evidence["candidate_epoch"] == 0


def test_no_baseline_is_an_error(tmp_path, capsys):
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.6, 0.7])
    report, r = judge(AUC_MAY_DROP_001, cand)
    assert r.status == ERROR and report.exit_code == 2
    assert "no baseline run was given (--baseline BASELINE_DIR)" in r.message
    assert "allow_first_run = true" in r.message and "[baseline]" in r.message
    spec = tmp_path / "spec.toml"
    spec.write_text(AUC_MAY_DROP_001)
    assert cli.main(["check", str(cand), "--spec", str(spec)]) == 2
    out = capsys.readouterr().out
    assert "ERROR" in out and "auc-vs-baseline" in out and "no baseline run was given" in out


def test_allow_first_run_passes_and_says_not_compared(tmp_path, capsys):
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.6, 0.7])
    text = "[baseline]\nallow_first_run = true\n" + AUC_MAY_DROP_001
    report, r = judge(text, cand)
    assert r.status == PASS and report.exit_code == 0
    assert r.observed is None
    assert r.message.startswith("not compared")
    assert r.evidence["compared"] is False and r.evidence["candidate"] == 0.7  # the best epoch, read even uncompared
    data = json.loads(to_json(report))
    assert data["checks"][0]["evidence"]["compared"] is False
    assert "not compared" in data["checks"][0]["message"]
    assert data["baseline"] is None
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    json_path = tmp_path / "v.json"
    assert cli.main(["check", str(cand), "--spec", str(spec), "--json", str(json_path)]) == 0
    assert "not compared" in json_path.read_text()
    # with a baseline the same spec does compare
    base = write_history(tmp_path / "base", val_direction_auc=[0.6, 0.8])
    report, r = judge(text, cand, base)
    assert r.status == FAIL and r.evidence["compared"] is True


def test_allow_first_run_false_is_the_default(tmp_path):
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.6, 0.7])
    _, r = judge("[baseline]\nallow_first_run = false\n" + AUC_MAY_DROP_001, cand)
    assert r.status == ERROR


def test_baseline_lacking_the_metric_is_an_error(tmp_path):
    base = write_history(tmp_path / "base", val_loss=[0.6, 0.5])
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.6, 0.7], val_loss=[0.6, 0.5])
    report, r = judge(AUC_MAY_DROP_001, cand, base)
    assert r.status == ERROR and report.exit_code == 2
    assert "no metric 'val_direction_auc'" in r.message
    assert str(base / "history.csv") in r.message and r.evidence["file"] == str(base / "history.csv")


def test_candidate_lacking_the_metric_is_an_error(tmp_path):
    base = write_history(tmp_path / "base", val_direction_auc=[0.6, 0.7])
    cand = write_history(tmp_path / "cand", val_loss=[0.6, 0.5])
    _, r = judge(AUC_MAY_DROP_001, cand, base)
    assert r.status == ERROR and str(cand / "history.csv") in r.message


def test_baseline_without_history_is_an_error(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.6, 0.7])
    _, r = judge(AUC_MAY_DROP_001, cand, base)
    assert r.status == ERROR and "no history artefact" in r.message


@pytest.mark.parametrize("bound", ["ge = -1e9", "le = 1e9", "ge = -1e9\nle = 1e9"])
def test_relative_with_zero_baseline_fails_never_passes(tmp_path, bound):
    base = write_history(tmp_path / "base", val_loss=[0.5, 0.0])
    cand = write_history(tmp_path / "cand", val_loss=[0.5, 0.0])  # no change, yet relative is undefined
    _, r = judge(LOSS_MAY_GROW_10PCT.replace("le = 0.10", bound), cand, base)
    assert r.status == FAIL
    assert r.observed is None
    assert "relative change undefined" in r.message and "baseline value is 0" in r.message
    assert r.evidence["compared"] is True


@pytest.mark.parametrize("change", ["absolute", "relative"])
@pytest.mark.parametrize("where", ["candidate", "baseline"])
def test_nan_at_the_chosen_epoch_never_passes(tmp_path, change, where):
    values = {"candidate": [0.5, math.nan], "baseline": [0.5, 0.5]}
    if where == "baseline":
        values = {"candidate": [0.5, 0.5], "baseline": [0.5, math.nan]}
    base = write_history(tmp_path / "base", val_loss=values["baseline"])
    cand = write_history(tmp_path / "cand", val_loss=values["candidate"])
    spec = LOSS_MAY_GROW_10PCT.replace('"relative"', f'"{change}"').replace("le = 0.10", "ge = -1e9\nle = 1e9")
    report, r = judge(spec, cand, base)
    assert r.status == FAIL
    json.loads(to_json(report), parse_constant=lambda name: pytest.fail(f"non-strict JSON {name}"))


def test_best_epoch_without_finite_monitor_is_an_error(tmp_path):
    base = write_history(tmp_path / "base", val_direction_auc=[math.nan, math.nan])
    cand = write_history(tmp_path / "cand", val_direction_auc=[0.6, 0.7])
    _, r = judge(AUC_MAY_DROP_001, cand, base)
    assert r.status == ERROR and "cannot choose the best epoch" in r.message


@pytest.mark.parametrize("extra, message", [
    ('change = "percent"', "change"),
    ('epoch = "best"', "epoch = 'best' needs monitor"),
    ('monitor = "val_loss"', "monitor is only used with epoch = 'best'"),
])
def test_spec_errors(extra, message):
    from validators.errors import SpecError

    text = LOSS_MAY_GROW_10PCT.replace('change = "relative"\n', "") + extra + "\n"
    with pytest.raises(SpecError, match=message):
        parse_spec(text)


def test_spec_without_bound_is_rejected():
    from validators.errors import SpecError

    with pytest.raises(SpecError):
        parse_spec(LOSS_MAY_GROW_10PCT.replace("le = 0.10\n", ""))


finite = st.floats(-10, 10, allow_nan=False, width=64)


@settings(max_examples=25, deadline=None)
@given(cand=st.lists(finite, min_size=1, max_size=4), base=st.lists(finite, min_size=1, max_size=4),
       low=finite, change=st.sampled_from(["absolute", "relative"]))
def test_observed_and_status_match_a_plain_computation(tmp_path_factory, cand, base, low, change):
    root = tmp_path_factory.mktemp("prop")
    c = write_history(root / "cand", m=cand)
    b = write_history(root / "base", m=base)
    spec = f"""
[[check]]
id = "d"
kind = "delta"
severity = "must"
metric = "m"
change = "{change}"
ge = {low!r}
"""
    _, r = judge(spec, c, b)
    delta = cand[-1] - base[-1]
    if change == "relative" and base[-1] == 0:
        assert (r.status, r.observed) == (FAIL, None)
        return
    expected = delta if change == "absolute" else delta / abs(base[-1])
    assert r.observed == expected
    # a change that overflows (4 / 2.2e-308 is inf) is not a number a bound can hold: it fails
    assert r.status == (PASS if math.isfinite(expected) and expected >= low else FAIL)
