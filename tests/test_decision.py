"""One decision per gate run (promote, keep-baseline, investigate), first in every report, with
the advice that supports it listed before the rest; advice that cannot be evaluated is a warning."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from factory import SPEC, healthy_history, make_run

from validators.decision import ACTIONS, decide
from validators.gate import evaluate
from validators.reports.markdown import to_markdown
from validators.reports.text import render
from validators.result import CheckResult
from validators.spec import load_spec, parse_spec

REPO = Path(__file__).resolve().parent.parent
RUNS = REPO / "fixtures" / "runs"
PLAN = REPO / "checks" / "run3.toml"


def result(id_, status, severity="must", kind="range", observed=1.0):
    return CheckResult(id_, kind, severity, status, observed if status != "error" else None, "< 2", f"{id_} {status}")


# -- the rule, over every combination ------------------------------------------------------------
def expected_action(candidate, baseline):
    """The decision as the issue words it, written out case by case."""
    if candidate == "error":
        return "investigate"
    if candidate == "pass":
        return "promote"
    return "keep-baseline" if baseline == "pass" else "investigate"


@pytest.mark.parametrize("baseline", [None, "pass", "fail", "error"])
@pytest.mark.parametrize("candidate", ["pass", "fail", "error"])
def test_the_decision_for_every_pair_of_verdicts(candidate, baseline):
    results = [result("a", "pass"), result("b", candidate), result("c", "fail", severity="nice")]
    base = None if baseline is None else [result("a", baseline)]
    decision = decide(results, candidate, baseline, base)
    assert decision.action == expected_action(candidate, baseline) and decision.action in ACTIONS
    if candidate != "pass":
        assert any(line.startswith("b: ") for line in decision.because)  # names the check behind it
    assert not any(line.startswith("c: ") for line in decision.because)  # a nice check never decides
    if baseline is not None:
        assert decision.because[-1].startswith(f"baseline: verdict {baseline}")


def test_a_spec_whose_must_checks_were_not_evaluated_is_investigated():
    decision = decide([result("c", "pass", severity="nice")], "error")
    assert decision.action == "investigate" and decision.reason.endswith("no must check was evaluated")


# -- the plan's spec on the fixture runs ----------------------------------------------------------
@pytest.fixture(scope="module")
def plan():
    return load_spec(PLAN)


def test_a_failing_candidate_with_a_passing_baseline_keeps_the_baseline(plan):
    report = evaluate(plan, RUNS / "run2_sigmoid", RUNS / "run3_relu")
    assert report.decision.action == "keep-baseline"
    assert "the baseline passes" in report.decision.reason
    text = render(report)
    assert text.index("Decision: KEEP-BASELINE") < text.index("Verdict: FAIL")


def test_a_failing_baseline_is_never_rolled_back_to(plan):
    report = evaluate(plan, RUNS / "run3_weak_auc", RUNS / "run2_sigmoid")
    assert report.verdict == "fail" and report.decision.action == "investigate"
    assert "the baseline fails the gate too" in report.decision.reason
    assert not any("Roll back" in a.recommend or "Keep the previous model" in a.recommend for a in report.advice)
    assert report.advice[0].id == "investigate-no-rollback" and report.advice[0].supports == "investigate"


def test_a_passing_candidate_is_promoted_and_its_advice_comes_first(plan):
    report = evaluate(plan, RUNS / "run3_relu", RUNS / "run2_sigmoid")
    assert report.verdict == "pass" and report.decision.action == "promote"
    assert report.advice[0].id == "next-success"
    assert all(a.supports is None for a in report.advice[1:])


def test_an_artefact_error_is_investigated_and_never_advised_as_a_failing_check(tmp_path, plan):
    run = tmp_path / "run3"
    shutil.copytree(RUNS / "run3_relu", run)
    (run / "model.keras").unlink()  # the loss weights cannot be read: not a reason to restore them
    report = evaluate(plan, run, RUNS / "run3_relu")
    assert report.verdict == "error" and report.decision.action == "investigate"
    assert any(line.startswith("loss-weights: error") for line in report.decision.because)
    ids = [a.id for a in report.advice]
    assert "restore-loss-weights" not in ids and ids[0] == "investigate-unjudged"


def test_the_decision_is_in_every_report(tmp_path, plan):
    from validators.reports.html import to_html
    from validators.reports.jsonreport import to_json
    from validators.reports.junit import to_junit

    report = evaluate(plan, RUNS / "run2_sigmoid", RUNS / "run3_relu")
    data = json.loads(to_json(report))
    assert data["decision"]["action"] == "keep-baseline" and data["decision"]["because"]
    assert list(data).index("decision") < list(data).index("advice")
    props = {p.get("name"): p.get("value") for p in ET.fromstring(to_junit(report)).iter("property")}
    assert props["decision"] == "keep-baseline"
    markdown = to_markdown(report)
    assert markdown.index("**Decision: keep-baseline**") < markdown.index("#### Advice")
    html = to_html(report)
    assert html.index('id="decision"') < html.index('id="advice"')


# -- advice that cannot be evaluated ---------------------------------------------------------------
def test_a_misspelt_metric_in_an_advice_condition_is_a_warning(tmp_path):
    spec_text = Path(SPEC).read_text()
    spec_text += ('\n[[advice]]\nid = "typo"\nrecommend = "never shown"\n'
                  'when = [ { delta = "val_direction_acu", lt = 0.0 } ]\n')
    spec = parse_spec(spec_text, "gate.toml")
    candidate, baseline = make_run(tmp_path / "a"), make_run(tmp_path / "b", history=healthy_history())
    report = evaluate(spec, candidate, baseline)
    assert "typo" not in [a.id for a in report.advice]
    (warning,) = [w for w in report.advice_warnings if "typo" in w]
    assert "val_direction_acu" in warning and "could not be evaluated" in warning
    assert f"Warning: {warning}" in render(report)


def test_an_advice_condition_on_the_baseline(tmp_path):
    spec = parse_spec(Path(SPEC).read_text() + (
        '\n[[advice]]\nid = "base-ok"\nrecommend = "the baseline is safe"\nwhen = [ { baseline = "pass" } ]\n'
        '\n[[advice]]\nid = "base-check"\nrecommend = "its range held"\n'
        'when = [ { baseline_check = "volatility-range", status = "pass" } ]\n'), "gate.toml")
    candidate, baseline = make_run(tmp_path / "a"), make_run(tmp_path / "b")
    with_baseline = evaluate(spec, candidate, baseline)
    assert {"base-ok", "base-check"} <= {a.id for a in with_baseline.advice}
    alone = evaluate(spec, candidate)
    assert not {"base-ok", "base-check"} & {a.id for a in alone.advice}
