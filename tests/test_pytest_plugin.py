"""The pytest plugin: specs collected as tests, exit codes, -k/-x/--junitxml/-n, fixtures,
assert_within, and a plugin that loads without pandas or TensorFlow."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from factory import healthy_history, make_run, saturated_run

from validators.bounds import Bound
from validators.errors import ArtefactError
from validators.gate import evaluate
from validators.pytest_plugin import LoadedRun, RunArtefactError, assert_within
from validators.spec import parse_spec
from validators.strategies import PLAN_SPEC

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "test_custom_checks.py"
N_CHECKS = 14  # in PLAN_SPEC, the Run #3 plan's checks on predictions, history and config
HISTORY_CHECKS_MUST = 3  # volatility-loss, magnitude-loss, direction-auc
FAILING = ("volatility-not-saturated", "volatility-max", "volatility-range")  # of a saturated run

SMALL_SPEC = """
name = "small"

[[check]]
id = "volatility-range"
kind = "range"
severity = "must"
column = "volatility"
ge = 0.0
le = 0.15

[[check]]
id = "auc-improved"
kind = "history"
severity = "nice"
metric = "val_direction_auc"
epoch = "best"
monitor = "val_direction_auc"
mode = "max"
gt = 0.66
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    healthy = make_run(root / "healthy")
    failing = saturated_run(root / "saturated")
    missing = make_run(root / "missing-history")
    (missing / "history.csv").unlink()
    mixed = saturated_run(root / "mixed")  # fails, errors, an xfail and passes in one run
    (mixed / "history.csv").unlink()
    history = healthy_history()
    history["val_direction_auc"] = np.minimum(history["val_direction_auc"], 0.655)
    nice = make_run(root / "nice-fails", history=history)  # must direction-auc passes, nice one does not
    # pytester's in-process runs drop the modules they imported when they end; import the gate
    # (and pyarrow, not to be imported twice) here, so that every run finds its check kinds.
    evaluate(parse_spec(PLAN_SPEC), healthy)
    LoadedRun(healthy).predictions, LoadedRun(healthy).history
    return {"healthy": healthy, "saturated": failing, "missing": missing, "mixed": mixed, "nice": nice}


@pytest.fixture
def spec(pytester):
    """The plan's gate in the pytester directory (node ids 'run3.toml::<id>'); checks/run3.toml
    itself also has checks needing a model file and returns, which the factory runs lack."""
    (pytester.path / "run3.toml").write_text(PLAN_SPEC)
    return "run3.toml"


# -- registration and import cost ------------------------------------------------------------
def test_registered_as_a_pytest11_entry_point():
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "runverdict"]
    assert [ep.value for ep in found] == ["validators.pytest_plugin"]


PROBE = """
import sys

def pytest_collection_finish(session):
    heavy = sorted(m for m in ("pandas", "tensorflow", "numpy", "pyarrow") if m in sys.modules)
    print("RUNVERDICT-LOADED", session.config.pluginmanager.has_plugin("runverdict"))
    print("HEAVY", ",".join(heavy) or "none")
"""


@pytest.mark.parametrize("autoload", [True, False], ids=["entry-points", "only-runverdict"])
def test_loading_the_plugin_imports_neither_pandas_nor_tensorflow(pytester, monkeypatch, autoload):
    pytester.makeconftest(PROBE)
    pytester.makepyfile(test_unrelated="def test_one():\n    pass\n")
    args = ["--co", "-q", "-p", "no:cacheprovider"]
    if not autoload:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        args += ["-p", "runverdict"]
    result = pytester.runpytest_subprocess(*args)
    result.stdout.fnmatch_lines(["RUNVERDICT-LOADED True"])
    heavy = result.stdout.str().split("HEAVY ", 1)[1].split()[0]
    if autoload:  # other plugins may load what they like, but not these
        assert "pandas" not in heavy and "tensorflow" not in heavy, heavy
    else:
        assert heavy == "none"
    assert result.ret == pytest.ExitCode.OK


def test_the_repos_conftest_registers_the_plugin_without_entry_points(runs):
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "examples/test_custom_checks.py",
                           f"--run-dir={runs['healthy']}"], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # --run-dir is known: the plugin is registered
    assert "examples/test_custom_checks.py::test_volatility_within_plan_range" in proc.stdout


# -- outcomes, summaries and exit codes -------------------------------------------------------
def test_a_passing_run(pytester, spec, runs):
    result = pytester.runpytest(spec, f"--run-dir={runs['healthy']}")
    result.assert_outcomes(passed=N_CHECKS)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([
        "*= runverdict =*",
        f"run3.toml on {runs['healthy']}: {N_CHECKS} passed, 0 failed, 0 errors. Verdict: PASS (runverdict exit 0)",
        f"*= {N_CHECKS} passed in *",
    ])


def test_a_failing_run_shows_observed_bound_and_evidence_without_traceback(pytester, spec, runs):
    result = pytester.runpytest(spec, f"--run-dir={runs['saturated']}")
    result.assert_outcomes(passed=N_CHECKS - 3, failed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*_ volatility-range (range, must) _*",
        "observed 1.0, bound 0.0 <= value <= 0.15",
        "message: 400 of 400 values in 'volatility' outside 0.0 <= volatility <= 0.15; observed min 0.99995, max 0.99995",
        "check: volatility-range (range, must, fail)",
        "description: Plan, Must Have: Volatility predictions in range [[]0, 0.15]",
        "evidence:",
        f"  file: {runs['saturated'] / 'predictions.csv'}",
        "  first_rows_outside:",
        "    row 0 (line 2): 0.99995",
        "    row 1 (line 3): 0.99995",
    ])
    result.stdout.fnmatch_lines([
        "*= runverdict =*",
        f"run3.toml on {runs['saturated']}: 11 passed, 3 failed, 0 errors. Verdict: FAIL (runverdict exit 1)",
        "  FAIL   volatility-not-saturated: observed 1.0, bound observed <= 0.0",
        "  FAIL   volatility-max: observed 0.99995, bound observed < 0.15",
        "  FAIL   volatility-range: observed 1.0, bound 0.0 <= value <= 0.15",
        "*short test summary info*",
        "FAILED run3.toml::volatility-not-saturated - observed 1.0, bound observed <= 0.0",
        "FAILED run3.toml::volatility-max - observed 0.99995, bound observed < 0.15",
        "FAILED run3.toml::volatility-range - observed 1.0, bound 0.0 <= value <= 0.15",
        "*= 3 failed, 11 passed in *",
    ])
    out = result.stdout.str()
    assert "Traceback" not in out and "CheckFailed" not in out and "pytest_plugin.py" not in out


def test_a_missing_artefact_is_an_error_and_a_nice_check_an_xfail(pytester, spec, runs):
    result = pytester.runpytest(spec, f"--run-dir={runs['missing']}", "-rfEx")
    result.assert_outcomes(passed=N_CHECKS - HISTORY_CHECKS_MUST - 1, errors=HISTORY_CHECKS_MUST, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    missing = runs["missing"] / "history.csv"
    result.stdout.fnmatch_lines([
        "*_ ERROR at setup of volatility-loss (history, must) _*",
        f"error: {missing}: no history artefact: looked for history.csv, training.log, training_log.csv, history.json, training_history.json, logs, * in *",
        "check: volatility-loss (history, must, error)",
    ])
    result.stdout.fnmatch_lines([
        "*= runverdict =*",
        (f"run3.toml on {runs['missing']}: 10 passed, 0 failed, 4 errors (1 nice-to-have, xfailed, do not change "
        "the verdict). Verdict: ERROR (runverdict exit 2)"),
        "  ERROR  volatility-loss: observed -, bound observed < 0.01",
        "  ERROR  magnitude-loss: observed -, bound observed < 0.05",
        "  ERROR  direction-auc: observed -, bound observed >= 0.65",
        "  ERROR* direction-auc-improved: observed -, bound observed > 0.66",
        "*short test summary info*",
        "ERROR run3.toml::volatility-loss - Failed: error: *",
        ("XFAIL run3.toml::direction-auc-improved - nice check error: observed -, bound observed > 0.66: *history.csv:"
        " no history artefact*"),
    ])
    assert "Traceback" not in result.stdout.str()


def test_a_failing_nice_check_is_an_xfail_and_the_session_passes(pytester, spec, runs):
    result = pytester.runpytest(spec, f"--run-dir={runs['nice']}", "-rx")
    result.assert_outcomes(passed=N_CHECKS - 1, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([
        "*Verdict: PASS (runverdict exit 0)",
        "  FAIL*  direction-auc-improved: observed 0.655, bound observed > 0.66",
        ("XFAIL run3.toml::direction-auc-improved - nice check fail: observed 0.655, bound observed > 0.66: "
        "val_direction_auc = 0.655 at its best epoch 2"),
    ])


def test_runxfail_makes_a_failing_nice_check_a_failure(pytester, spec, runs):
    result = pytester.runpytest(spec, f"--run-dir={runs['nice']}", "--runxfail")
    result.assert_outcomes(passed=N_CHECKS - 1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["observed 0.655, bound observed > 0.66",
                                 "check: direction-auc-improved (history, nice, fail)"])


def test_a_spec_without_run_dir_says_what_is_missing(pytester, spec):
    result = pytester.runpytest(spec)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR collecting run3.toml*",
        ("runverdict: run3.toml needs --run-dir RUN_DIR, the training run to judge: "
        "pytest run3.toml --run-dir RUN_DIR [[]--baseline BASELINE_DIR]"),
    ])
    assert "Traceback" not in result.stdout.str()


def test_a_run_dir_that_is_not_a_directory_is_a_usage_error(pytester, spec):
    result = pytester.runpytest(spec, "--run-dir=no-such-run")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*runverdict: --run-dir 'no-such-run': not found or not a directory*"])


def test_an_invalid_spec_is_a_collection_error_naming_line_and_key(pytester, runs):
    pytester.makefile(".toml", gate='[[check]]\nid = "a"\nkind = "range"\nseverity = "must"\ncolum = "x"\nle = 1\n')
    result = pytester.runpytest("gate.toml", f"--run-dir={runs['healthy']}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([
        ("runverdict: invalid spec: *gate.toml:5:1: check 'a': unknown key 'colum' for kind 'range' "
        "(did you mean 'column'?)"),
    ])
    assert "Traceback" not in result.stdout.str()


def test_other_toml_files_are_never_collected(pytester, runs):
    pytester.makefile(".toml", pyproject='[project]\nname = "x"\n', data='[table]\nvalue = 1\n')
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    for extra in ([], [f"--run-dir={runs['healthy']}"]):
        result = pytester.runpytest(*extra)
        result.assert_outcomes(passed=1)
        assert result.ret == pytest.ExitCode.OK


def test_specs_found_while_collecting_only_with_run_dir(pytester, runs):
    pytester.makefile(".toml", gate=SMALL_SPEC)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)  # no --run-dir: the spec is left alone, no error
    result = pytester.runpytest(f"--run-dir={runs['healthy']}", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["gate.toml::volatility-range PASSED*", "gate.toml::auc-improved PASSED*"])


def test_report_header_names_the_run(pytester, spec, runs):
    result = pytester.runpytest(spec, f"--run-dir={runs['healthy']}", f"--baseline={runs['healthy']}", "--co")
    result.stdout.fnmatch_lines([f"runverdict: run dir {runs['healthy']}, baseline {runs['healthy']}"])


# -- pytest's own options ---------------------------------------------------------------------
def test_k_selects_checks_by_id_kind_and_severity(pytester, spec, runs):
    result = pytester.runpytest(spec, f"--run-dir={runs['saturated']}", "-k", "volatility")
    result.assert_outcomes(passed=2, failed=3, deselected=N_CHECKS - 5)
    result = pytester.runpytest(spec, f"--run-dir={runs['saturated']}", "-k", "range")  # the kind, too
    result.assert_outcomes(passed=1, failed=1, deselected=N_CHECKS - 2)
    result = pytester.runpytest(spec, f"--run-dir={runs['nice']}", "-k", "not nice")  # severity
    result.assert_outcomes(passed=N_CHECKS - 1, deselected=1)
    assert result.ret == pytest.ExitCode.OK


def test_node_ids_select_one_check(pytester, spec, runs):
    result = pytester.runpytest(f"{spec}::volatility-range", f"--run-dir={runs['saturated']}")
    result.assert_outcomes(failed=1)


def test_x_stops_at_the_first_failure(pytester, spec, runs):
    result = pytester.runpytest(spec, f"--run-dir={runs['saturated']}", "-x")
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])


def test_junitxml_records_failures_errors_xfails_and_properties(pytester, spec, runs):
    result = pytester.runpytest(spec, f"--run-dir={runs['mixed']}", "--junitxml=report.xml")
    result.assert_outcomes(passed=7, failed=3, errors=3, xfailed=1)
    suite = ET.parse(pytester.path / "report.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("14", "3", "3", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert len(cases) == N_CHECKS
    failure = cases["volatility-range"].find("failure")
    assert failure.get("message").startswith("observed 1.0, bound 0.0 <= value <= 0.15")
    assert "row 0 (line 2): 0.99995" in failure.text
    assert cases["volatility-loss"].find("error") is not None
    assert cases["direction-auc-improved"].find("skipped").get("type") == "pytest.xfail"
    props = {p.get("name"): p.get("value") for p in cases["volatility-range"].iter("property")}
    assert props == {"kind": "range", "severity": "must", "status": "fail", "observed": "1.0",
                     "bound": "0.0 <= value <= 0.15"}


def test_xdist_gives_the_same_outcomes(pytester, spec, runs):
    args = (spec, f"--run-dir={runs['mixed']}", "-p", "no:randomly")
    alone = pytester.runpytest(*args)
    split = pytester.runpytest(*args, "-n", "2")
    expected = {"passed": 7, "failed": 3, "errors": 3, "xfailed": 1}
    alone.assert_outcomes(**expected)
    split.assert_outcomes(**expected)
    assert alone.ret == split.ret == pytest.ExitCode.TESTS_FAILED

    def verdict_section(result):
        lines = result.stdout.lines
        start = next(i for i, line in enumerate(lines) if "= runverdict =" in line)
        return lines[start + 1:start + 8]

    assert verdict_section(split) == verdict_section(alone)
    split.stdout.fnmatch_lines(["observed 1.0, bound 0.0 <= value <= 0.15", "*row 0 (line 2): 0.99995"])


# -- users' own checks: the example file, the fixtures, assert_within ---------------------------
@pytest.fixture
def example(pytester):
    shutil.copy(EXAMPLE, pytester.path / "test_custom_checks.py")
    return "test_custom_checks.py"


def test_example_custom_checks_pass_on_a_healthy_run(pytester, example, runs):
    healthy = str(runs["healthy"])
    result = pytester.runpytest(example, f"--run-dir={healthy}", f"--baseline={healthy}")
    result.assert_outcomes(passed=5)


def test_example_custom_checks_fail_with_the_gates_message(pytester, example, runs):
    result = pytester.runpytest(example, f"--run-dir={runs['saturated']}", f"--baseline={runs['healthy']}")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines([
        "*_ test_volatility_within_plan_range _*",
        "observed 1.0, bound 0.0 <= value <= 0.15",
        "message: 400 of 400 values of volatility outside 0.0 <= volatility <= 0.15",
        "check: volatility (assert_within, must, fail)",
        "    row 0: 0.99995",
        "*_ test_volatility_head_not_dead _*",
        "observed 0.0, bound std of volatility predictions > 0.0001",
    ])
    assert "Traceback" not in result.stdout.str() and "def test_" not in result.stdout.str()


def test_example_without_artefact_or_baseline_reports_errors(pytester, example, runs):
    result = pytester.runpytest(example, f"--run-dir={runs['missing']}")
    result.assert_outcomes(passed=3, errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*_ ERROR at call of test_no_overfitting_gap _*",
        "runverdict: artefact error: *history.csv: no history artefact*",
        "*_ ERROR at setup of test_val_auc_not_worse_than_baseline _*",
        "runverdict: the 'baseline_run' fixture needs --baseline BASELINE_DIR",
    ])
    assert "Traceback" not in result.stdout.str()


def test_run_fixture_without_run_dir_is_an_error(pytester, example):
    result = pytester.runpytest(example)
    result.assert_outcomes(errors=5)
    result.stdout.fnmatch_lines(["runverdict: the 'run' fixture needs --run-dir RUN_DIR"])


def test_spec_and_custom_checks_together_under_xdist(pytester, spec, example, runs):
    healthy = str(runs["healthy"])
    result = pytester.runpytest(spec, example, f"--run-dir={healthy}", f"--baseline={healthy}", "-n", "2")
    result.assert_outcomes(passed=N_CHECKS + 5)


def test_loaded_run_reads_the_artefacts_as_pandas(runs):
    run = LoadedRun(runs["healthy"])
    predictions = run.predictions
    assert list(predictions.columns) == ["direction", "volatility", "magnitude", "y_direction", "y_volatility",
                                         "y_magnitude", "forward_return"]
    assert all(dtype == np.float64 for dtype in predictions.dtypes)
    raw = pd.read_csv(runs["healthy"] / "predictions.csv")
    assert raw["volatility"][0].startswith("[")  # the file holds "[0.0123]" cells
    np.testing.assert_array_equal(predictions["volatility"], [float(c.strip("[]")) for c in raw["volatility"]])
    pd.testing.assert_series_equal(run.column("volatility"), predictions["volatility"], check_names=True)
    history = run.history
    assert history.columns[0] == "epoch" and "val_direction_auc" in history
    assert history["val_direction_auc"].max() == 0.68
    config = run.config
    config["loss_weights"]["direction"] = 99  # a copy: other tests see the file's value
    assert run.config["loss_weights"]["direction"] == 1.0
    assert run.path_of("predictions") == runs["healthy"] / "predictions.csv"


def test_loaded_run_returns_and_artefact_errors(tmp_path):
    root = make_run(tmp_path / "run")
    (root / "returns.csv").unlink(missing_ok=True)
    with pytest.raises(RunArtefactError, match="no returns artefact") as excinfo:
        _ = LoadedRun(root).returns
    assert isinstance(excinfo.value, ArtefactError)
    pd.DataFrame({"c=0.5": [0.01, -0.02, 0.03], "c=0.6": [0.0, 0.01, -0.01]}).to_csv(root / "returns.csv", index=False)
    returns = LoadedRun(root).returns
    assert list(returns.columns) == ["c=0.5", "c=0.6"] and returns.shape == (3, 2)
    (root / "predictions.csv").write_text("volatility\n[0.1]\nx\n")
    with pytest.raises(RunArtefactError, match=r"predictions.csv:3:1: column 'volatility', row 1"):
        _ = LoadedRun(root).predictions


class TestAssertWithin:
    def test_passes_and_returns_the_value(self):
        assert assert_within(0.004, lt=0.01) == 0.004
        assert assert_within(0.5, {"ge": 0, "le": 1}) == 0.5
        assert assert_within(0.5, Bound(gt=0.0)) == 0.5
        values = np.array([0.0, 0.1, 0.15])
        assert assert_within(values, ge=0.0, le=0.15) is values

    def test_fails_with_observed_bound_and_message(self):
        with pytest.raises(pytest.fail.Exception) as excinfo:
            assert_within(0.02, lt=0.01, what="volatility_loss")
        assert not excinfo.value.pytrace
        assert str(excinfo.value).splitlines() == [
            "observed 0.02, bound volatility_loss < 0.01",
            "message: volatility_loss = 0.02",
            "check: volatility_loss (assert_within, must, fail)",
        ]

    def test_message_and_evidence_are_shown(self):
        with pytest.raises(pytest.fail.Exception, match=r"(?s)message: too high.*evidence:\n  epoch: 7"):
            assert_within(3, le=1, what="x", message="too high", evidence={"epoch": 7})

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), None, "0.1", np.float64("nan")])
    def test_nan_inf_none_and_text_never_pass(self, value):
        with pytest.raises(pytest.fail.Exception):
            assert_within(value, ge=-1e300, le=1e300)

    def test_arrays_list_the_first_rows_outside(self):
        series = pd.Series([0.1, 0.2, 0.99, np.nan, 0.05], index=[10, 11, 12, 13, 14])
        with pytest.raises(pytest.fail.Exception) as excinfo:
            assert_within(series, ge=0.0, le=0.15, what="volatility")
        text = str(excinfo.value)
        assert text.startswith("observed 0.6, bound 0.0 <= value <= 0.15\n")
        assert "message: 3 of 5 values of volatility outside 0.0 <= volatility <= 0.15" in text
        assert "    row 11: 0.2\n    row 12: 0.99\n    row 13: 'nan'" in text

    def test_an_empty_array_never_passes(self):
        with pytest.raises(pytest.fail.Exception, match="no values to judge"):
            assert_within([], ge=0)

    @pytest.mark.parametrize("args, kwargs, match", [
        ((0.1,), {}, "needs a bound"),
        ((0.1,), {"max": 1}, "unknown keyword 'max'"),
        ((0.1, {"min": 0}), {}, "unknown bound key 'min'"),
        ((0.1, {"ge": 0}), {"le": 1}, "not both"),
        ((0.1, 0.5), {}, "must be a Bound or a mapping"),
    ])
    def test_a_wrong_bound_is_a_type_error(self, args, kwargs, match):
        with pytest.raises(TypeError, match=match):
            assert_within(*args, **kwargs)

    def test_an_empty_range_is_refused_like_in_a_spec(self):
        with pytest.raises(ValueError, match="no value can satisfy"):
            assert_within(0.1, ge=1, le=0)


def test_a_spec_not_named_toml_says_why_it_is_not_collected(pytester, runs):
    (pytester.path / "gate.txt").write_text(PLAN_SPEC)
    result = pytester.runpytest("gate.txt", f"--run-dir={runs['healthy']}")
    result.stdout.fnmatch_lines(["*gate.txt holds * tables but is not a .toml file*rename it*"])
    assert result.ret != 0


def test_a_spec_with_an_upper_case_suffix_is_collected(pytester, runs):
    (pytester.path / "GATE.TOML").write_text(PLAN_SPEC)
    result = pytester.runpytest("GATE.TOML", f"--run-dir={runs['healthy']}")
    result.assert_outcomes(passed=N_CHECKS)
