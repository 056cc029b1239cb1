"""pytest as a team uses it: fixtures that see the run as the spec does, a summary that states
the whole spec's verdict and advice, and --lf that never carries one run's failures to another."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from factory import make_run, saturated_run

from validators.gate import evaluate
from validators.pytest_plugin import LoadedRun
from validators.spec import parse_spec

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
OTHER_TEAM_RUN = REPO / "fixtures" / "other_pipeline" / "runs" / "fixed_relu"  # date index, their own names

GATE = """
name = "small"

[[check]]
id = "volatility-range"
kind = "range"
severity = "must"
column = "volatility"
ge = 0.0
le = 0.15

[[check]]
id = "direction-auc"
kind = "history"
severity = "must"
metric = "val_direction_auc"
ge = 0.5

[[advice]]
id = "look-at-volatility"
recommend = "Look at the volatility head's activation"
reason = "its predictions left [0, 0.15]"
when = [{ check = "volatility-range", status = "fail" }]
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    healthy = make_run(root / "healthy")
    saturated = saturated_run(root / "saturated")
    # another team's layout: their file and label names, declared in their spec
    theirs = root / "theirs"
    shutil.copytree(make_run(root / "plain"), theirs)
    (theirs / "eval").mkdir()
    text = (theirs / "predictions.csv").read_text().replace("y_direction", "direction_true", 1)
    (theirs / "eval" / "val_preds.csv").write_text(text)
    (theirs / "predictions.csv").unlink()
    evaluate(parse_spec(GATE), healthy)  # import the gate here: pytester's in-process runs drop modules
    LoadedRun(healthy).predictions
    return {"healthy": healthy, "saturated": saturated, "theirs": theirs}


# -- fixtures see the run as the spec's checks do -----------------------------------------------
def test_the_run_fixture_follows_the_specs_artefacts_and_layout(pytester, runs):
    pytester.makefile(".toml", gate=GATE + '[artefacts]\npredictions = "eval/val_preds.csv"\n\n'
                                           '[layout.labels]\ndirection = "direction_true"\n')
    pytester.makepyfile(test_own="""
        def test_labels_are_binary(run):
            assert set(run.label("direction")) <= {0.0, 1.0}
            assert run.label("direction").name == "direction_true"
            assert "volatility" in run.predictions.columns
    """)
    result = pytester.runpytest("gate.toml", "test_own.py", f"--run-dir={runs['theirs']}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_spec_names_the_layout_when_only_own_tests_run(pytester, runs):
    pytester.makefile(".toml", gate=GATE + '[artefacts]\npredictions = "eval/val_preds.csv"\n')
    pytester.makepyfile(test_own="def test_rows(run):\n    assert len(run.predictions) > 0\n")
    result = pytester.runpytest("test_own.py", f"--run-dir={runs['theirs']}", "--spec=gate.toml")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest("test_own.py", f"--run-dir={runs['theirs']}")  # no spec: conventions only
    result.assert_outcomes(errors=1)  # an artefact error, named
    result.stdout.fnmatch_lines(["*predictions*"])


def test_a_date_index_is_the_frames_index_in_predictions_and_returns(pytester):
    pytester.makepyfile(test_dates="""
        import pandas as pd

        def test_dates(run):
            assert isinstance(run.predictions.index, pd.DatetimeIndex)
            assert run.predictions.index.name == "date" and "date" not in run.predictions.columns
            returns = run.returns
            assert isinstance(returns.index, pd.DatetimeIndex) and returns.index.is_monotonic_increasing
            assert all(name.startswith("thr_") for name in returns.columns)  # their trial names
    """)
    result = pytester.runpytest("test_dates.py", f"--run-dir={OTHER_TEAM_RUN}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


# -- the summary states the whole spec ------------------------------------------------------------
def test_k_deselecting_the_failing_check_keeps_the_whole_specs_verdict(pytester, runs):
    pytester.makefile(".toml", gate=GATE)
    result = pytester.runpytest("gate.toml", f"--run-dir={runs['saturated']}", "-k", "not volatility",
                                "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines([
        "*Verdict: FAIL (runverdict exit 1)",
        "*1 of 2 checks deselected*: not passed among the deselected: volatility-range",
    ])
    assert "Verdict: PASS" not in result.stdout.str()


def test_the_summary_prints_the_advice(pytester, runs):
    pytester.makefile(".toml", gate=GATE)
    result = pytester.runpytest("gate.toml", f"--run-dir={runs['saturated']}", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*Decision: investigate (the candidate fails 1 must check (volatility-range), and "
                                 "there is no baseline to roll back to*",
                                 "*Advice:", "*- Look at the volatility head's activation (its predictions left*"])
    healthy = pytester.runpytest("gate.toml", f"--run-dir={runs['healthy']}", "-p", "no:cacheprovider")
    assert "Advice:" not in healthy.stdout.str()


def test_last_failed_is_kept_per_run_directory(pytester, runs):
    pytester.makefile(".toml", gate=GATE)
    first = pytester.runpytest("gate.toml", f"--run-dir={runs['saturated']}")
    first.assert_outcomes(passed=1, failed=1)
    other = pytester.runpytest("gate.toml", f"--run-dir={runs['healthy']}", "--lf")
    other.assert_outcomes(passed=2)  # the saturated run's failure says nothing about this run
    again = pytester.runpytest("gate.toml", f"--run-dir={runs['saturated']}", "--lf")
    again.assert_outcomes(failed=1, deselected=1)  # and is still remembered for its own run
    again.stdout.fnmatch_lines(["*Verdict: FAIL*", "*1 of 2 checks deselected*the deselected all passed"])
