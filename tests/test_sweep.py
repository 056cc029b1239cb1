"""Sweeps: ``runverdict check RUN1 RUN2 ... --spec SPEC`` checks every run (in parallel
processes with ``--jobs``), prints one run x check table, exits with the worst code and
writes a sweep document with ``--json``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from factory import SPEC, healthy_history, make_run, saturated_run
from hypothesis import given, settings
from hypothesis import strategies as st

from validators import cli
from validators.cli import worst_exit
from validators.exitcodes import ExitCode
from validators.spec import load_spec

IDS = [c.id for c in load_spec(SPEC).checks]


def strict_loads(text):
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    healthy = make_run(root / "healthy")
    healthy2 = make_run(root / "healthy2")
    saturated = saturated_run(root / "saturated")
    broken = make_run(root / "broken")
    (broken / "predictions.csv").unlink()
    base_hist = healthy_history()
    base_hist["val_direction_auc"] = base_hist["val_direction_auc"] + 0.03
    baseline = make_run(root / "baseline", history=base_hist)
    return {"root": root, "healthy": healthy, "healthy2": healthy2, "saturated": saturated, "broken": broken,
            "missing": root / "missing", "baseline": baseline}


@pytest.fixture(scope="module")
def sweeps(runs):
    """The same sweep as two subprocesses started at once, with --jobs 2 and --jobs 1:
    name -> (exit code, stdout, stderr, JSON document)."""
    r = {k: str(v) for k, v in runs.items()}
    dirs = [r["healthy"], r["saturated"], r["missing"]]
    procs = {jobs: subprocess.Popen([sys.executable, "-m", "validators", "check", *dirs, "--spec", str(SPEC),
                                     "--jobs", jobs, "--json", str(runs["root"] / f"j{jobs}.json")],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for jobs in ("2", "1")}
    out = {}
    for jobs, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        doc = strict_loads((runs["root"] / f"j{jobs}.json").read_text())
        out[f"mixed-j{jobs}"] = (proc.returncode, stdout, stderr, doc)
    return out


def sweep(capsys, dirs, *options):
    """A sweep in process (--jobs 1 unless given): (exit code, stdout, JSON document or None)."""
    capsys.readouterr()
    argv = ["check", *map(str, dirs), "--spec", str(SPEC), *options]
    if "--jobs" not in options:
        argv += ["--jobs", "1"]
    code = cli.main(argv)
    doc = None
    if "--json" in options:
        with open(options[options.index("--json") + 1]) as handle:
            doc = strict_loads(handle.read())
    return code, capsys.readouterr().out, doc


def table(stdout):
    """The run x check table at the end of a sweep's output: {run: [verdict, statuses...]}."""
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("RUN "))
    header = lines[start].split()
    assert header == ["RUN", "VERDICT", *IDS]
    rows = {}
    for line in lines[start + 1:]:
        if line.endswith("(the worst of them)"):
            break
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return rows


def test_summary_table_run_by_check(sweeps, runs):
    _, stdout, stderr, _ = sweeps["mixed-j2"]
    rows = table(stdout)
    assert list(rows) == [str(runs["healthy"]), str(runs["saturated"]), str(runs["missing"])]
    healthy, saturated, missing = rows.values()
    assert healthy == ["pass"] + ["pass"] * len(IDS)
    assert saturated[0] == "fail"
    sat = dict(zip(IDS, saturated[1:]))
    assert {k for k, v in sat.items() if v != "pass"} == {"volatility-not-saturated", "volatility-max",
                                                          "volatility-range"}
    assert missing == ["error"] + ["-"] * len(IDS)
    assert stdout.rstrip().endswith("3 runs; exit 2 (the worst of them)")
    # each run's own report comes first, then the table
    assert f"runverdict: {load_spec(SPEC).name} on {runs['healthy']}" in stdout
    assert f"run directory {str(runs['missing'])!r} not found" in stdout
    assert "Traceback" not in stderr


def test_exit_code_is_the_worst(sweeps, runs, capsys):
    assert sweeps["mixed-j2"][0] == 2  # a missing run directory counts as an error
    code, stdout, _ = sweep(capsys, [runs["healthy"], runs["healthy2"]])
    assert code == 0 and stdout.rstrip().endswith("2 runs; exit 0 (the worst of them)")
    code, stdout, _ = sweep(capsys, [runs["healthy"], runs["saturated"], runs["healthy2"]])
    assert code == 1 and [v[0] for v in table(stdout).values()] == ["pass", "fail", "pass"]
    # an artefact error beats a failure, wherever it is in the list
    code, stdout, _ = sweep(capsys, [runs["saturated"], runs["broken"], runs["healthy"]])
    assert code == 2 and [v[0] for v in table(stdout).values()] == ["fail", "error", "pass"]
    _, broken, _ = table(stdout).values()
    assert dict(zip(IDS, broken[1:]))["volatility-max"] == "error"
    assert dict(zip(IDS, broken[1:]))["loss-weights"] == "pass"


def test_quiet_prints_only_the_table(runs, capsys):
    code, stdout, _ = sweep(capsys, [runs["healthy"], runs["saturated"]], "--quiet")
    assert code == 1
    assert stdout.splitlines()[0].startswith("RUN ")
    assert stdout.rstrip().endswith("2 runs; exit 1 (the worst of them)")


def test_json_sweep_document(sweeps, runs):
    code, _, _, doc = sweeps["mixed-j2"]
    assert doc["sweep"] is True and doc["exit_code"] == code == 2
    assert len(doc["runs"]) == 3
    healthy, saturated, missing = doc["runs"]
    assert healthy["run"]["path"] == str(runs["healthy"].resolve())
    assert healthy["verdict"] == "pass" and healthy["exit_code"] == 0
    assert [c["id"] for c in healthy["checks"]] == IDS
    assert saturated["verdict"] == "fail" and saturated["exit_code"] == 1
    # a run that could not be checked still says which run it was and why
    assert missing is not None
    assert missing["run"]["path"] == str(runs["missing"].resolve())
    assert missing["verdict"] == "error" and missing["exit_code"] == 2
    assert "not found" in missing["message"]


def test_jobs_1_and_2_give_the_same_outcome(sweeps):
    code1, out1, _, doc1 = sweeps["mixed-j1"]
    code2, out2, _, doc2 = sweeps["mixed-j2"]
    assert code1 == code2
    assert table(out1) == table(out2)

    def stable(doc):
        return [None if r is None else {k: v for k, v in r.items() if k != "seconds"} for r in doc["runs"]]

    assert stable(doc1) == stable(doc2)
    assert doc1["exit_code"] == doc2["exit_code"]


def test_sweep_with_baseline(runs, tmp_path, capsys):
    code, stdout, doc = sweep(capsys, [runs["healthy"], runs["healthy2"]], "--baseline", str(runs["baseline"]),
                              "--json", str(tmp_path / "sweep.json"))
    assert code == 1  # both runs lost 0.03 AUC against the baseline
    for run in doc["runs"]:
        assert run["baseline"]["path"] == str(runs["baseline"].resolve())
        delta = next(c for c in run["checks"] if c["id"] == "direction-auc-vs-baseline")
        assert delta["status"] == "fail" and delta["observed"] == pytest.approx(-0.03, abs=1e-12)
        assert "rollback-auc-dropped" in [a["id"] for a in run["advice"]]
    assert [v[-1] for v in table(stdout).values()] == ["fail", "fail"]


# -- usage errors, in process --------------------------------------------------------------------

@pytest.mark.parametrize("option", ["--html", "--junit", "--markdown"])
def test_per_run_reports_with_several_runs_are_usage_errors(runs, tmp_path, capsys, option):
    out = tmp_path / "report"
    code = cli.main(["check", str(runs["healthy"]), str(runs["healthy2"]), "--spec", str(SPEC), option, str(out)])
    assert code == 4
    assert "take one RUN_DIR" in capsys.readouterr().err
    assert not out.exists()


def test_missing_baseline_is_a_usage_error(runs, capsys):
    code = cli.main(["check", str(runs["healthy"]), str(runs["healthy2"]), "--spec", str(SPEC),
                     "--baseline", str(runs["missing"])])
    assert code == 4
    assert "baseline directory" in capsys.readouterr().err


def test_every_run_missing_is_an_error(runs, tmp_path, capsys):
    path = tmp_path / "sweep.json"
    code = cli.main(["check", str(tmp_path / "a"), str(tmp_path / "b"), "--spec", str(SPEC), "--jobs", "1",
                     "--quiet", "--json", str(path)])
    assert code == 2
    doc = strict_loads(path.read_text())
    assert doc["exit_code"] == 2 and [r["verdict"] for r in doc["runs"]] == ["error", "error"]


def test_unwritable_sweep_json_is_an_error(runs, tmp_path, capsys):
    target = tmp_path / "no-such-folder" / "sweep.json"
    code = cli.main(["check", str(runs["healthy"]), str(runs["healthy2"]), "--spec", str(SPEC), "--jobs", "1",
                     "--quiet", "--json", str(target)])
    assert code == 2  # both runs pass; the report could not be written
    assert f"cannot write the report {str(target)!r}" in capsys.readouterr().err
    assert not target.exists()


# -- worst_exit ------------------------------------------------------------------------------------

ORDER = [ExitCode.PASS, ExitCode.FAIL, ExitCode.ERROR, ExitCode.INTERNAL]  # worst last


def reference_worst(codes):
    if not codes:
        return int(ExitCode.ERROR)  # nothing checked is an error, never a pass
    return int(ORDER[max(ORDER.index(c) for c in codes)])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([int(c) for c in ORDER]), max_size=12))
def test_worst_exit_matches_reference_ordering(codes):
    assert worst_exit(codes) == reference_worst(codes)
    assert worst_exit(list(reversed(codes))) == reference_worst(codes)


def test_worst_exit_examples():
    assert worst_exit([0, 1, 0]) == 1
    assert worst_exit([1, 2, 1]) == 2
    assert worst_exit([2, 3, 0]) == 3
    assert worst_exit([0]) == 0
    assert worst_exit([]) == 2
    assert worst_exit(iter([0, 1])) == 1
    # a code it does not know is never better than an internal error's
    assert worst_exit([0, 7]) == 7 and worst_exit([2, 99, 1]) == 99
