"""validators.advice: [[advice]] rules as data, validated with the spec (SpecError, exit 4,
naming the rule), evaluated on check statuses, observed values, the verdict and baseline
deltas; and the plan's rollback plan and next steps in checks/run3.toml."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from factory import HEALTHY_COMPILE, SPEC, healthy_config, healthy_history, make_run
from hypothesis import given, settings
from hypothesis import strategies as st

from validators import cli
from validators.advice import Advice, Rule, evaluate_rules, parse_rules
from validators.bounds import Bound
from validators.errors import SpecError
from validators.gate import evaluate
from validators.reports.jsonreport import to_json
from validators.reports.text import render
from validators.result import CheckResult, verdict_of
from validators.spec import load_spec, parse_spec

CHECKS = """
[[check]]
id = "auc-last"
kind = "history"
severity = "must"
metric = "val_direction_auc"
ge = 0.65

[[check]]
id = "loss-last"
kind = "history"
severity = "nice"
metric = "val_loss"
lt = 0.5
"""


def spec_with(advice: str):
    return parse_spec(CHECKS + advice, path="gate.toml")


def rule(when: str, rule_id: str = "r1", extra: str = 'recommend = "do it"\nreason = "because"\n') -> str:
    return f'\n[[advice]]\nid = "{rule_id}"\n{extra}when = [ {when} ]\n'


# -- validation ---------------------------------------------------------------------------------

INVALID = [
    ('\n[[advice]]\nid = "r1"\nrecommend = "x"\nwhen = [ { verdict = "pass" } ]\nseverity = "must"\n',
     "advice 'r1': unknown key 'severity'"),
    ('\n[[advice]]\nid = "r1"\nrecommend = "x"\n', "advice 'r1': missing required key 'when'"),
    ('\n[[advice]]\nid = "r1"\nwhen = [ { verdict = "pass" } ]\n', "advice 'r1': missing required key 'recommend'"),
    ('\n[[advice]]\nrecommend = "x"\nwhen = [ { verdict = "pass" } ]\n', "advice #1: missing required key 'id'"),
    ('\n[[advice]]\nid = ""\nrecommend = "x"\nwhen = [ { verdict = "pass" } ]\n', "'id' must be a non-empty string"),
    ('\n[[advice]]\nid = "r1"\nrecommend = "  "\nwhen = [ { verdict = "pass" } ]\n',
     "advice 'r1': 'recommend' must be a non-empty string"),
    ('\n[[advice]]\nid = "r1"\nrecommend = "x"\nwhen = []\n', "advice 'r1': 'when' must be a non-empty list"),
    ('\n[[advice]]\nid = "r1"\nrecommend = "x"\nwhen = { verdict = "pass" }\n', "advice 'r1': 'when' must be"),
    (rule('{ verdict = "pass" }') + rule('{ verdict = "fail" }'), "advice 'r1': duplicate advice id 'r1'"),
    (rule('{ check = "nope", status = "fail" }'), "advice 'r1': .*no check with id 'nope' in the spec"),
    (rule('{ check = "auc-last", status = "fail", lt = 0.6 }'), "advice 'r1': .*either status or a bound"),
    (rule('{ check = "auc-last" }'), "advice 'r1': .*either status or a bound"),
    (rule('{ check = "auc-last", status = "broken" }'), "advice 'r1': .*status must be one of pass, fail, error"),
    (rule('{ check = "auc-last", status = [] }'), "advice 'r1': .*status must be one of"),
    (rule('{ verdict = "passed" }'), "advice 'r1': .*verdict must be one of pass, fail, error"),
    (rule('{ verdict = ["pass", "ok"] }'), "advice 'r1': .*verdict must be one of"),
    (rule('{ verdict = "pass", check = "auc-last", status = "pass" }'), "advice 'r1': .*exactly one of"),
    (rule('{ status = "pass" }'), "advice 'r1': .*exactly one of 'verdict', 'check', 'delta', 'decision'"),
    (rule('{ verdict = "pass", lt = 1 }'), "advice 'r1': .*unknown key 'lt' for a 'verdict' condition"),
    (rule('{ check = "auc-last", statu = "pass" }'), "advice 'r1': .*unknown key 'statu' for a 'check' condition"),
    (rule('{ delta = "val_direction_auc" }'), "advice 'r1': .*a delta condition needs a bound"),
    (rule('{ delta = "val_direction_auc", epoch = "best", lt = 0 }'), "advice 'r1': .*epoch = 'best' needs monitor"),
    (rule('{ delta = "val_direction_auc", epoch = "best", monitor = "val_loss", lt = 0 }'),
     "advice 'r1': .*epoch = 'best' needs monitor and mode"),
    (rule('{ delta = "val_direction_auc", change = "percent", lt = 0 }'), "advice 'r1': .*change must be"),
    (rule('{ delta = "", lt = 0 }'), "advice 'r1': .*delta must name a history metric"),
    (rule('{ delta = "val_loss", threshold = 0.1 }'), "advice 'r1': .*unknown key 'threshold'"),
    (rule('{ delta = "val_loss", lt = nan }'), "advice 'r1': .*bound 'lt' must be a finite number"),
    (rule('{ delta = "val_loss", lt = "0.1" }'), "advice 'r1': .*bound 'lt' must be a finite number"),
    (rule('{ check = "auc-last", gt = 0.7, lt = 0.6 }'), "advice 'r1': .*no value can satisfy"),
    (rule('{ check = "auc-last", gt = 0.6, ge = 0.6 }'), "advice 'r1': .*at most one lower bound"),
    # written wrong, these would never trigger and nobody would notice: refused
    (rule('{ check = ["auc-last"], status = "fail" }'), "advice 'r1': .*check"),
    (rule('{ delta = "val_loss", epoch = "bestt", lt = 0 }'), "advice 'r1': .*epoch"),
    (rule('{ delta = "val_loss", epoch = 2.5, lt = 0 }'), "advice 'r1': .*epoch"),
    (rule('{ delta = "val_loss", epoch = true, lt = 0 }'), "advice 'r1': .*epoch"),
    (rule('{ delta = "val_loss", mode = "sideways", lt = 0 }'), "advice 'r1': .*mode"),
    (rule('{ delta = "val_loss", monitor = "val_loss", lt = 0 }'), "advice 'r1': .*only used with epoch = 'best'"),
    (rule('{ delta = "val_loss", epoch = "best", monitor = 3, mode = "min", lt = 0 }'), "advice 'r1': .*monitor"),
]


@pytest.mark.parametrize("advice, message", INVALID, ids=[f"{i}" for i in range(len(INVALID))])
def test_invalid_advice_is_a_spec_error_naming_the_rule(advice, message):
    with pytest.raises(SpecError, match=message) as info:
        spec_with(advice)
    assert str(info.value).startswith("gate.toml:")
    # the line of the rule's [[advice]] header (CHECKS has 14 lines plus the leading newline)
    assert info.value.line is not None and info.value.line >= 16


def test_advice_must_be_an_array_of_tables():
    with pytest.raises(SpecError, match=r"'advice' must be an array of tables written as \[\[advice\]\]"):
        parse_spec('advice = "roll back"\n' + CHECKS)


def test_spec_error_exits_4_through_the_cli(tmp_path, capsys):
    path = tmp_path / "gate.toml"
    path.write_text(CHECKS + rule('{ check = "missing-check", status = "fail" }', rule_id="rollback"))
    assert cli.main(["validate", str(path)]) == 4
    err = capsys.readouterr().err
    assert f"{path}:16:1: advice 'rollback':" in err and "no check with id 'missing-check'" in err
    run = tmp_path / "run"
    run.mkdir()
    assert cli.main(["check", str(run), "--spec", str(path)]) == 4
    assert "Traceback" not in capsys.readouterr().err


def test_unhashable_check_id_is_a_spec_error_not_a_crash(tmp_path, capsys):
    path = tmp_path / "gate.toml"
    path.write_text(CHECKS + rule('{ check = ["auc-last"], status = "fail" }'))
    assert cli.main(["validate", str(path)]) == 4
    assert "internal error" not in capsys.readouterr().err


def test_valid_rules_parse_as_data():
    spec = spec_with(rule('{ check = "auc-last", status = ["fail", "error"] }', extra='recommend = "r"\n')
                     + rule('{ delta = "val_direction_auc", epoch = "best", monitor = "val_direction_auc", '
                            'mode = "max", change = "relative", ge = -0.5, le = 0.5 }', rule_id="r2")
                     + rule('{ verdict = ["pass", "fail"] }, { check = "loss-last", lt = 0.4 }', rule_id="r3"))
    assert [r.id for r in spec.advice] == ["r1", "r2", "r3"]
    assert spec.advice[0] == Rule("r1", "r", "", ({"check": "auc-last", "status": ["fail", "error"]},))
    assert len(spec.advice[2].when) == 2
    assert parse_rules(None, "p", None, set()) == ()


# -- evaluation on hand-made results --------------------------------------------------------------

def result(check_id, status, observed=None, severity="must"):
    return CheckResult(check_id, "history", severity, status, observed, "observed >= 0.65", "")


NO_BASELINE = SimpleNamespace(baseline=None)


def advise(when, results, verdict=None, run=NO_BASELINE):
    verdict = verdict or verdict_of(results)[0]
    return evaluate_rules((Rule("r", "do it", "because", tuple(when)),), results, verdict, run)[0]


def test_verdict_condition():
    rs = [result("a", "fail", 0.6)]
    assert advise([{"verdict": "fail"}], rs)[0].facts == ("verdict is fail",)
    assert advise([{"verdict": ["pass", "error"]}], rs) == ()
    assert advise([{"verdict": ["pass", "fail"]}], rs)[0].id == "r"


def test_status_condition():
    rs = [result("a", "error"), result("b", "pass", 0.7)]
    (a,) = advise([{"check": "a", "status": ["fail", "error"]}], rs)
    assert a.facts == ("check a is error: observed None, bound observed >= 0.65",)
    assert advise([{"check": "a", "status": "fail"}], rs) == ()
    assert advise([{"check": "b", "status": "pass"}], rs)[0].facts == (
        "check b is pass: observed 0.7, bound observed >= 0.65",)


def test_observed_bound_condition():
    rs = [result("a", "pass", 0.6625), result("b", "error", None), result("c", "fail", float("nan"))]
    (a,) = advise([{"check": "a", "ge": 0.65, "lt": 0.67}], rs)
    assert a.facts == ("check a observed 0.6625, 0.65 <= observed < 0.67",)
    assert advise([{"check": "a", "gt": 0.6625}], rs) == ()
    # an observed value that is missing or not finite never satisfies a bound, whichever way
    for cid in ("b", "c"):
        assert advise([{"check": cid, "lt": 1e300}], rs) == ()
        assert advise([{"check": cid, "gt": -1e300}], rs) == ()


def test_every_condition_must_hold():
    rs = [result("a", "fail", 0.6), result("b", "pass", 0.2)]
    when = [{"verdict": "fail"}, {"check": "a", "status": "fail"}, {"check": "b", "lt": 0.3}]
    (a,) = advise(when, rs)
    assert a.facts == ("verdict is fail", "check a is fail: observed 0.6, bound observed >= 0.65",
                       "check b observed 0.2, observed < 0.3")
    for i, broken in enumerate([{"verdict": "pass"}, {"check": "a", "status": "pass"}, {"check": "b", "gt": 0.3}]):
        assert advise(when[:i] + [broken] + when[i + 1:], rs) == ()


def test_delta_condition_never_holds_without_a_baseline():
    rs = [result("a", "pass", 0.7)]
    for bound in ({"lt": 1e300}, {"gt": -1e300}):
        assert advise([{"delta": "val_direction_auc", **bound}], rs) == ()


def test_rules_trigger_in_spec_order_each_once():
    rs = [result("a", "fail", 0.6)]
    rules = tuple(Rule(f"r{i}", f"do {i}", "", ({"verdict": "fail"},)) for i in (3, 1, 2))
    assert [a.id for a in evaluate_rules(rules, rs, "fail", NO_BASELINE)[0]] == ["r3", "r1", "r2"]
    assert evaluate_rules((), rs, "fail", NO_BASELINE) == ((), ())


# property: a rule of verdict/status/bound conditions triggers exactly when each holds

statuses = st.sampled_from(["pass", "fail", "error"])
observed_values = st.one_of(st.none(), st.floats(-2, 2), st.just(float("nan")), st.just(float("inf")))


@st.composite
def conditions(draw, ids):
    kind = draw(st.sampled_from(["verdict", "status", "bound"]))
    if kind == "verdict":
        return {"verdict": draw(st.one_of(statuses, st.lists(statuses, min_size=1, max_size=3)))}
    cid = draw(st.sampled_from(ids))
    if kind == "status":
        return {"check": cid, "status": draw(st.one_of(statuses, st.lists(statuses, min_size=1, max_size=3)))}
    lower = draw(st.sampled_from([None, "gt", "ge"]))
    upper = draw(st.sampled_from(["lt", "le"] if lower is None else [None, "lt", "le"]))
    cond = {"check": cid}
    for key in (lower, upper):
        if key is not None:
            cond[key] = draw(st.floats(-2, 2))
    try:
        Bound.from_mapping(cond)
    except ValueError:  # an empty bound: the spec would refuse it
        return {"check": cid, lower: cond[lower]}
    return cond


def reference_holds(cond, by_id, verdict):
    if "verdict" in cond:
        wanted = cond["verdict"]
        return verdict in (wanted if isinstance(wanted, list) else [wanted])
    r = by_id[cond["check"]]
    if "status" in cond:
        wanted = cond["status"]
        return r.status in (wanted if isinstance(wanted, list) else [wanted])
    x = r.observed
    if x is None or math.isnan(x) or math.isinf(x):
        return False
    ops = {"gt": x > cond.get("gt", 0), "ge": x >= cond.get("ge", 0), "lt": x < cond.get("lt", 0),
           "le": x <= cond.get("le", 0)}
    return all(ops[k] for k in ("gt", "ge", "lt", "le") if k in cond)


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_evaluation_matches_reference(data):
    ids = ["a", "b", "c"]
    rs = [result(i, data.draw(statuses), data.draw(observed_values), data.draw(st.sampled_from(["must", "nice"])))
          for i in ids]
    verdict = verdict_of(rs)[0]
    rules = tuple(Rule(f"r{k}", "x", "", tuple(data.draw(st.lists(conditions(ids), min_size=1, max_size=4))))
                  for k in range(data.draw(st.integers(1, 4))))
    by_id = {r.id: r for r in rs}
    got = evaluate_rules(rules, rs, verdict, NO_BASELINE)[0]
    expected = [r.id for r in rules if all(reference_holds(c, by_id, verdict) for c in r.when)]
    assert [a.id for a in got] == expected
    for advice, rule_ in zip(got, (r for r in rules if r.id in expected)):
        assert isinstance(advice, Advice) and len(advice.facts) == len(rule_.when)


# -- evaluation on runs, with a baseline -------------------------------------------------------

def history_dir(root, auc, loss=(0.6, 0.5, 0.4)):
    root.mkdir(parents=True, exist_ok=True)
    n = len(auc)
    loss = loss[len(loss) - n:]  # the last n losses
    lines = ["epoch,val_direction_auc,val_loss"] + [f"{i},{auc[i]!r},{loss[i]!r}" for i in range(n)]
    (root / "history.csv").write_text("\n".join(lines) + "\n")
    return root


def test_delta_conditions_on_runs(tmp_path):
    base = history_dir(tmp_path / "base", [0.60, 0.70, 0.69])
    cand = history_dir(tmp_path / "cand", [0.60, 0.66, 0.68])
    spec = spec_with(
        rule('{ delta = "val_direction_auc", lt = -0.005 }', rule_id="last-worse")
        + rule('{ delta = "val_direction_auc", epoch = "best", monitor = "val_direction_auc", mode = "max", '
               'lt = -0.015 }', rule_id="best-dropped")
        + rule('{ delta = "val_direction_auc", epoch = 1, gt = 0 }', rule_id="epoch1-better")
        + rule('{ delta = "val_loss", change = "relative", ge = 0, le = 0 }', rule_id="loss-same")
        + rule('{ delta = "no_such_metric", lt = 100 }', rule_id="unknown-metric")
        + rule('{ check = "auc-last", status = "pass" }, { delta = "val_direction_auc", lt = 0 }', rule_id="both")
        + rule('{ check = "auc-last", status = "fail" }, { delta = "val_direction_auc", lt = 0 }', rule_id="not-both"))
    report = evaluate(spec, cand, baseline_dir=base)
    by_id = {a.id: a for a in report.advice}
    assert list(by_id) == ["last-worse", "best-dropped", "loss-same", "both"]
    fact = by_id["last-worse"].facts[0]
    assert fact.startswith(f"val_direction_auc change {0.68 - 0.69!r} vs baseline")
    assert "(0.68 at epoch 2 vs 0.69 at epoch 2), change < -0.005" in fact
    fact = by_id["best-dropped"].facts[0]
    assert "(0.68 at epoch 2 vs 0.7 at epoch 1), change < -0.015" in fact
    assert by_id["loss-same"].facts == (
        "val_loss relative change 0.0 vs baseline (0.4 at epoch 2 vs 0.4 at epoch 2), 0 <= relative_change <= 0",)
    assert by_id["both"].facts[0].startswith("check auc-last is pass: observed 0.68")
    # without the baseline, none of the delta rules holds
    alone = evaluate(spec, cand)
    assert alone.advice == ()


def test_relative_delta_condition_with_zero_baseline_never_holds(tmp_path):
    base = history_dir(tmp_path / "base", [0.6, 0.7], loss=(0.5, 0.0))
    cand = history_dir(tmp_path / "cand", [0.6, 0.7], loss=(0.5, 0.0))
    spec = spec_with(rule('{ delta = "val_loss", change = "relative", ge = -1e9, le = 1e9 }'))
    assert evaluate(spec, cand, baseline_dir=base).advice == ()


def test_triggered_advice_in_every_report(tmp_path, capsys):
    base = history_dir(tmp_path / "base", [0.60, 0.70])
    cand = history_dir(tmp_path / "cand", [0.60, 0.66])
    spec_path = tmp_path / "gate.toml"
    spec_path.write_text(CHECKS + rule('{ delta = "val_direction_auc", lt = -0.01 }', rule_id="rollback",
                                       extra='recommend = "Roll back"\nreason = "AUC dropped"\n'))
    out = tmp_path / "out"
    out.mkdir()
    code = cli.main(["check", str(cand), "--spec", str(spec_path), "--baseline", str(base),
                     "--json", str(out / "v.json"), "--markdown", str(out / "v.md"), "--junit", str(out / "v.xml")])
    assert code == 0
    text = capsys.readouterr().out
    drop = 0.66 - 0.70
    assert f"Advice:\n  - Roll back (AUC dropped)\n      because val_direction_auc change {drop!r}" in text
    data = json.loads((out / "v.json").read_text())
    assert [a["id"] for a in data["advice"]] == ["rollback"]
    (advice,) = data["advice"]
    assert advice["recommend"] == "Roll back" and advice["reason"] == "AUC dropped"
    assert advice["facts"][0].startswith(f"val_direction_auc change {drop!r} vs baseline (0.66 at epoch 1 vs 0.7")
    markdown = (out / "v.md").read_text()
    assert "Roll back" in markdown and repr(drop) in markdown
    import xml.etree.ElementTree as ET

    suite = ET.parse(out / "v.xml").getroot()
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props.get("advice:rollback") == "Roll back"


def test_json_advice_list_is_empty_when_nothing_triggers(tmp_path):
    cand = history_dir(tmp_path / "cand", [0.60, 0.66])
    report = evaluate(spec_with(rule('{ verdict = "fail" }')), cand)
    assert report.verdict == "pass"
    assert json.loads(to_json(report))["advice"] == []
    assert "Advice:" not in render(report)


# -- checks/run3.toml: the plan's rollback plan and next steps -----------------------------------

def shifted(by):
    hist = healthy_history()
    hist["val_direction_auc"] = hist["val_direction_auc"] + by
    return hist


@pytest.fixture(scope="module")
def run3(tmp_path_factory):
    """Candidate runs judged by checks/run3.toml against baselines whose AUC differs."""
    root = tmp_path_factory.mktemp("run3")
    spec = load_spec(SPEC)
    healthy = make_run(root / "healthy")
    config = healthy_config()
    config["loss_weights"]["volatility"] = 0.1
    config["loss_weights"]["magnitude"] = 0.1
    trained = {**HEALTHY_COMPILE, "loss_weights": [1.0, 0.1, 0.1]}  # as a list, in output order
    reweighted = make_run(root / "reweighted", config=config, compile_config=trained)
    baselines = {name: make_run(root / f"base-{name}", history=shifted(by))
                 for name, by in [("higher", 0.03), ("lower", -0.02), ("about-same", 0.002)]}
    return {
        # the candidate lost 0.03 AUC against its baseline (0.68 vs 0.71 at the best epochs)
        "dropped": evaluate(spec, healthy, baseline_dir=baselines["higher"]),
        "improved": evaluate(spec, healthy, baseline_dir=baselines["lower"]),
        "same": evaluate(spec, healthy, baseline_dir=baselines["about-same"]),
        "reweighted": evaluate(spec, reweighted),
        "first-run": evaluate(spec, healthy),
    }


def ids(report):
    return [a.id for a in report.advice]


def test_run3_auc_dropped_gets_the_rollback_plan(run3):
    report = run3["dropped"]
    assert report.verdict == "fail"
    assert ids(report) == ["rollback-auc-dropped", "reduce-aux-loss-weights", "remove-aux-outputs", "next-auc-worse"]
    by_id = {a.id: a for a in report.advice}
    quoted = "val_direction_auc change -0.0300000000000000"
    for advice in report.advice:
        assert any(f.startswith(quoted) for f in advice.facts), advice
        assert "(0.68 at epoch 3 vs 0.71" in " ".join(advice.facts)
    assert by_id["rollback-auc-dropped"].facts == ("decision is keep-baseline",) + by_id["rollback-auc-dropped"].facts[1:]
    assert by_id["rollback-auc-dropped"].facts[-1].endswith("change < -0.01")
    assert by_id["rollback-auc-dropped"].supports == "keep-baseline"
    assert report.decision.action == "keep-baseline"
    assert by_id["reduce-aux-loss-weights"].facts[0].startswith("check loss-weights is pass")
    assert by_id["reduce-aux-loss-weights"].recommend == "Try reducing vol/mag loss weights to (1.0, 0.1, 0.1)"
    assert "removing the volatility and magnitude outputs" in by_id["remove-aux-outputs"].recommend
    assert by_id["next-auc-worse"].reason == "Plan, Next Steps 4: If direction AUC worse"
    delta_check = next(r for r in report.results if r.id == "direction-auc-vs-baseline")
    assert delta_check.status == "fail" and delta_check.observed == pytest.approx(-0.03, abs=1e-12)
    data = json.loads(to_json(report))
    assert [a["id"] for a in data["advice"]] == ids(report)
    assert quoted in data["advice"][0]["facts"][-1]
    assert data["decision"]["action"] == "keep-baseline" and data["advice"][0]["supports"] == "keep-baseline"
    assert quoted in render(report)


def test_run3_auc_improved(run3):
    report = run3["improved"]
    assert report.verdict == "pass"
    assert ids(report) == ["next-success", "next-auc-improved"]  # the advice supporting "promote" first
    assert report.decision.action == "promote"
    (fact,) = report.advice[1].facts
    assert fact.startswith("val_direction_auc change 0.0200000000000000") and fact.endswith("change > 0.005")
    assert report.advice[1].recommend == "Auxiliary outputs are valuable: keep them"


def test_run3_auc_same(run3):
    report = run3["same"]
    assert report.verdict == "pass"
    assert ids(report) == ["next-success", "next-auc-same"]
    (fact,) = report.advice[1].facts
    assert fact.startswith("val_direction_auc change -0.00200000000000") and fact.endswith(
        "-0.005 <= change <= 0.005")


def test_run3_loss_weights_changed(run3):
    report = run3["reweighted"]
    assert report.verdict == "fail"
    assert ids(report) == ["investigate-no-rollback", "restore-loss-weights"]  # no baseline to roll back to
    (fact,) = report.advice[1].facts
    assert fact.startswith("check loss-weights is fail: observed {'direction': 1.0, 'volatility': 0.1")
    assert "(1.0, 0.3, 0.3)" in report.advice[1].recommend


def test_run3_passing_first_run_gets_next_success(run3):
    report = run3["first-run"]
    assert report.verdict == "pass"
    assert ids(report) == ["next-success"]
    assert report.advice[0].facts == ("decision is promote",)
    assert report.decision.action == "promote" and "no baseline" in report.decision.reason
    assert "López de Prado" in report.advice[0].recommend
    delta_check = next(r for r in report.results if r.id == "direction-auc-vs-baseline")
    assert delta_check.evidence["compared"] is False and "candidate" in delta_check.evidence


def test_run3_rule_ids_and_their_plan_lines():
    spec = load_spec(SPEC)
    assert [r.id for r in spec.advice] == [
        "rollback-auc-dropped", "rollback-auc-floor", "investigate-unjudged", "investigate-no-rollback",
        "next-success", "restore-loss-weights", "reduce-aux-loss-weights", "remove-aux-outputs",
        "next-auc-improved", "next-auc-same", "next-auc-worse"]
    assert all(r.reason.startswith(("Plan, ", "runverdict: ")) for r in spec.advice)
