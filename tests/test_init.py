"""``runverdict init``: a spec whose layout fits a run, with the plan's criteria verbatim."""

from __future__ import annotations

import shutil
import tomllib

import pytest
from test_inspect import ALL_RUNS, OURS, PLAN, THEIRS, rewrite_header

from validators import cli
from validators.gate import evaluate
from validators.init_spec import default_plan
from validators.result import ERROR
from validators.spec import load_spec

OTHER_PIPELINE = [r for r in ALL_RUNS if r.parent.parent.name == "other_pipeline"]
OUR_PIPELINE = [r for r in ALL_RUNS if r.parent.parent.name == "fixtures"]


def init(capsys, run, out, *extra):
    code = cli.main(["init", str(run), "--out", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def statuses(report) -> dict:
    return {r.id: r.status for r in report.results}


def errors(report) -> list[str]:
    return [f"{r.id}: {r.message}" for r in report.results if r.status == ERROR]


@pytest.fixture(scope="module")
def plan_reports():
    """The shipped plan's verdict on every fixture run, to compare with."""
    plan = load_spec(PLAN)
    return {run: evaluate(plan, run) for run in ALL_RUNS}


def test_the_default_plan_is_the_shipped_one():
    assert default_plan() == PLAN


@pytest.mark.parametrize("run", ALL_RUNS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_init_on_each_fixture_run_gives_the_plans_verdict(capsys, tmp_path, plan_reports, run):
    out = tmp_path / "spec.toml"
    code, said, _ = init(capsys, run, out)
    assert code == 0, said
    spec = load_spec(out)
    report = evaluate(spec, run)
    assert errors(report) == []
    expected = plan_reports[run]
    assert (report.verdict, int(report.exit_code)) == (expected.verdict, int(expected.exit_code))
    assert statuses(report) == statuses(expected)
    text = out.read_text()
    assert text.startswith(f"# Written by runverdict init from {run}.\n")
    assert "\n[artefacts]" not in text and "\n[layout]" not in text  # conventions find everything
    if run in OTHER_PIPELINE:
        assert "#   label of 'direction' is 'direction_true' (convention 'H_true')" in text
        assert "#   model: best_model.keras (convention 'best_model.keras')" in text
        assert "#   returns index: column 'date'" in text
    else:
        assert "#   label of 'direction' is 'y_direction' (convention 'y_H')" in text


def test_the_plans_checks_and_comments_are_kept_verbatim(capsys, tmp_path):
    out = tmp_path / "spec.toml"
    assert init(capsys, THEIRS, out)[0] == 0
    plan, written = PLAN.read_text(), out.read_text()
    assert written.endswith(plan)  # nothing to declare: the plan's text follows the header unchanged
    assert tomllib.loads(written) == tomllib.loads(plan)


@pytest.mark.parametrize("source, targets", [(THEIRS, OUR_PIPELINE), (OURS, OTHER_PIPELINE)],
                         ids=["other-to-ours", "ours-to-other"])
def test_a_spec_from_one_pipeline_binds_on_the_other(capsys, tmp_path, source, targets):
    out = tmp_path / "spec.toml"
    assert init(capsys, source, out)[0] == 0
    spec = load_spec(out)
    for run in targets:
        assert errors(evaluate(spec, run)) == [], run


def test_a_renamed_returns_file_is_declared_and_gives_the_same_pbo(capsys, tmp_path, plan_reports):
    run = tmp_path / "run"
    shutil.copytree(OURS, run)
    (run / "returns.csv").rename(run / "strategy_returns.csv")
    out = tmp_path / "spec.toml"
    code, _, err = init(capsys, run, out)
    assert code == 2 and not out.exists()
    assert "no returns artefact" in err and "--artefact returns=PATH" in err

    code, said, _ = init(capsys, run, out, "--artefact", "returns=strategy_returns.csv")
    assert code == 0
    text = out.read_text()
    assert '[artefacts]\nreturns = "strategy_returns.csv"  # --artefact given to runverdict init\n' in text
    assert "#   returns: strategy_returns.csv (declared in [artefacts] below)" in text
    assert "#   predictions: predictions.csv (convention 'predictions.csv')" in text
    assert "declared: artefacts.returns" in said
    spec = load_spec(out)
    assert spec.artefacts == {"returns": "strategy_returns.csv"} and spec.layout == {}
    report = evaluate(spec, run)
    assert errors(report) == []
    pbo = {r.id: r.observed for r in report.results}["pbo"]
    assert pbo == {r.id: r.observed for r in plan_reports[OURS].results}["pbo"]


def test_layout_flags_are_declared(capsys, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(THEIRS, run)
    rewrite_header(run / "predictions.csv", rename={"direction_true": "up_next_day"})
    out = tmp_path / "spec.toml"
    code, _, err = init(capsys, run, out)
    assert code == 2 and "--layout labels.direction=COLUMN" in err and not out.exists()
    code, _, _ = init(capsys, run, out, "--layout", "labels.direction=up_next_day", "--layout", "returns_index=date")
    assert code == 0
    spec = load_spec(out)
    assert spec.layout == {"labels": {"direction": "up_next_day"}, "returns_index": "date"}
    report = evaluate(spec, run)
    assert errors(report) == []
    assert {r.id: r.status for r in report.results}["direction-auc-exact"] == "pass"


def test_an_ambiguous_run_is_refused_naming_both_and_the_flags(capsys, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(OURS, run)
    (run / "model.keras").rename(run / "a.keras")
    shutil.copy(run / "a.keras", run / "b.keras")
    rewrite_header(run / "predictions.csv", add=("direction_true", "y_direction"))
    out = tmp_path / "spec.toml"
    code, said, err = init(capsys, run, out)
    assert code == 2 and not out.exists() and said == ""
    assert "nothing written" in err
    assert "'a.keras' and 'b.keras'" in err and "--artefact model=PATH" in err
    assert "'y_direction' and 'direction_true'" in err and "--layout labels.direction=COLUMN" in err
    code, _, _ = init(capsys, run, out, "--artefact", "model=b.keras", "--layout", "labels.direction=direction_true")
    assert code == 0
    assert errors(evaluate(load_spec(out), run)) == []


def test_an_existing_out_is_kept_without_force(capsys, tmp_path):
    out = tmp_path / "spec.toml"
    out.write_text("mine\n")
    code, _, err = init(capsys, OURS, out)
    assert code == 4 and "--force" in err and out.read_text() == "mine\n"
    code, _, _ = init(capsys, OURS, out, "--force")
    assert code == 0 and load_spec(out).checks


def test_missing_run_dir_and_plan(capsys, tmp_path):
    code, _, err = init(capsys, tmp_path / "nowhere", tmp_path / "spec.toml")
    assert code == 2 and "run directory not found" in err and not (tmp_path / "spec.toml").exists()
    code, _, err = init(capsys, OURS, tmp_path / "spec.toml", "--from", str(tmp_path / "plan.toml"))
    assert code == 4 and "spec file not found" in err


PLAN_WITH_DECLARATIONS = '''\
# A plan that declares where things are.
name = "declaring plan"
layout.returns_index = "none"

[artefacts]  # the plan's own
returns = "old_returns.csv"
config = "config.json"

[layout.labels]
direction = "y_direction"

# ---- kept verbatim ----
[[check]]
id = "pbo"
description = """two lines,
[artefacts]
the second one looks like a table header"""
kind = "pbo"   # a comment after a value
severity = "must"
lt = 0.3

[[check]]
id = "auc"
kind = "auc"
severity = "must"
column = "direction"
ge = 0.5
'''


def test_the_plans_declarations_are_merged_under_inits_flags(capsys, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(OURS, run)
    (run / "returns.csv").rename(run / "strategy_returns.csv")
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN_WITH_DECLARATIONS)
    out = tmp_path / "spec.toml"
    code, _, err = init(capsys, run, out, "--from", str(plan), "--artefact", "returns=strategy_returns.csv")
    assert code == 0, err
    spec, before = load_spec(out), load_spec(plan)
    assert spec.artefacts == {"returns": "strategy_returns.csv", "config": "config.json"}
    assert spec.layout == {"returns_index": "none", "labels": {"direction": "y_direction"}}
    assert [c.params for c in spec.checks] == [c.params for c in before.checks]
    assert spec.checks[0].description == before.checks[0].description
    text = out.read_text()
    assert text[text.index("# ---- kept verbatim ----"):] == PLAN_WITH_DECLARATIONS[
        PLAN_WITH_DECLARATIONS.index("# ---- kept verbatim ----"):]
    assert f"config = \"config.json\"  # declared by {plan}" in text
    assert "direction = \"y_direction\"  # declared by" in text
    assert errors(evaluate(spec, run)) == []


def test_run_names_with_newlines_and_escapes_stay_in_their_comment(capsys, tmp_path):
    run = tmp_path / "run\x1b[2J\nname = 'injected'"
    shutil.copytree(OURS, run)
    out = tmp_path / "spec.toml"
    code, said, _ = init(capsys, run, out)
    assert code == 0
    assert "\x1b" not in said and "\x1b" not in out.read_text()
    spec = load_spec(out)  # the name on a line of its own would be a duplicate key
    assert spec.name == load_spec(PLAN).name
    assert r"run\x1b[2J\nname = 'injected'" in out.read_text()
