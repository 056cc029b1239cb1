"""Sweeps: ``runverdict check RUN1 RUN2 ... --spec SPEC`` checks every run (in parallel
processes with ``--jobs``), prints one run x check table, exits with the worst code and
writes a sweep document with ``--json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
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


COLUMNS = ("RUN", "VERDICT", "DECISION", "P/F/E")


def table(stdout):
    """The sweep's table, in printed order: [{run, verdict, decision, counts, [rank, value,] ids}]; a row's
    wrapped check ids joined. Every line of it is at most 120 columns."""
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("RUN "))
    header = lines[start]
    names = header.split()
    assert names[:4] == list(COLUMNS) and header.endswith("FAILED / ERRORED (* nice-to-have)"), header
    ranked = names[4] == "#"
    keys = ["run", "verdict", "decision", "counts"] + (["rank", "value"] if ranked else []) + ["ids"]
    starts = [header.index(" VERDICT ") + 1, header.index(" DECISION ") + 1, header.index(" P/F/E ") + 1]
    if ranked:
        starts += [header.index(" # ") + 1, header.index(" # ") + 4]
    starts.append(header.index("FAILED / ERRORED"))
    bounds = list(zip([0] + starts, starts + [None]))
    rows = []
    for line in lines[start:]:
        assert len(line) <= 120, (len(line), line)
        if line is header:
            continue
        if line.startswith("Best run:") or line.endswith("(the worst of them)"):
            break
        if not line[:starts[0]].strip():  # check ids wrapped onto the next line
            rows[-1]["ids"] += " " + line[starts[-1]:].strip()
            continue
        rows.append({k: line[a:b].strip() for k, (a, b) in zip(keys, bounds)})
    return rows


def ids_of(cell):
    """{"fail": [...], "error": [...], "more": N} from a FAILED / ERRORED cell."""
    out = {"fail": [], "error": [], "more": 0}
    label = None
    for word in cell.split():
        if word in ("fail:", "error:"):
            label = word[:-1]
        elif word.startswith("+"):
            out["more"] = int(word[1:])
        elif word != "more" and word != "-":
            out[label].append(word.rstrip(",;"))
    return out


def test_summary_table_one_row_per_run(sweeps, runs):
    _, stdout, stderr, _ = sweeps["mixed-j2"]
    rows = table(stdout)
    assert len(rows) == 3
    for row, name in zip(rows, ("healthy", "saturated", "missing")):
        assert str(runs[name]).endswith(row["run"].lstrip("…"))
    healthy, saturated, missing = rows
    assert (healthy["verdict"], healthy["decision"], healthy["counts"], healthy["ids"]) == (
        "pass", "promote", f"{len(IDS)}/0/0", "-")
    assert (saturated["verdict"], saturated["decision"]) == ("fail", "investigate")
    assert ids_of(saturated["ids"]) == {"fail": ["volatility-not-saturated", "volatility-max", "volatility-range"],
                                        "error": [], "more": 0}
    assert saturated["counts"] == f"{len(IDS) - 3}/3/0"
    assert (missing["verdict"], missing["counts"]) == ("error", "-")
    assert missing["ids"].startswith("not checked: runverdict: run directory")
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
    assert code == 1 and [r["verdict"] for r in table(stdout)] == ["pass", "fail", "pass"]
    # an artefact error beats a failure, wherever it is in the list
    code, stdout, _ = sweep(capsys, [runs["saturated"], runs["broken"], runs["healthy"]])
    assert code == 2 and [r["verdict"] for r in table(stdout)] == ["fail", "error", "pass"]
    broken = ids_of(table(stdout)[1]["ids"])
    assert "volatility-max" in broken["error"] and "loss-weights" not in broken["error"] + broken["fail"]


def test_quiet_prints_one_line_per_run(runs, capsys):
    code, stdout, _ = sweep(capsys, [runs["healthy"], runs["saturated"], runs["broken"], runs["missing"]], "--quiet")
    assert code == 2
    lines = stdout.splitlines()
    assert len(lines) == 5 and lines[-1] == "4 runs; exit 2 (the worst of them)"
    assert lines[0] == f"pass   {runs['healthy']}"
    assert lines[1] == f"fail   {runs['saturated']}  failed: volatility-not-saturated, volatility-max, volatility-range"
    assert lines[2].startswith(f"error  {runs['broken']}  erred: ") and "volatility-max" in lines[2]
    assert lines[3].startswith(f"error  {runs['missing']}  not checked: ")


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
    assert "best_run" not in doc  # no --rank-by: no ranking


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
    assert [(r["decision"], ids_of(r["ids"])["fail"]) for r in table(stdout)] == [
        ("keep-baseline", ["direction-auc-vs-baseline"])] * 2


# -- usage errors, in process --------------------------------------------------------------------

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


# -- --rank-by ------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_DIRS = sorted([*(ROOT / "fixtures" / "other_pipeline" / "runs").iterdir(), *(ROOT / "fixtures" / "runs").iterdir()])


def last_epoch(run, metric):
    """The metric at the last epoch of the run's history, read with pandas (as Keras' CSVLogger wrote it)."""
    name = "training.log" if (run / "training.log").exists() else "history.csv"
    return float(pd.read_csv(run / name)[metric].iloc[-1])


def test_rank_by_a_history_metric_names_the_best_passing_run(tmp_path, capsys):
    code, stdout, doc = sweep(capsys, FIXTURE_DIRS, "--rank-by", "val_direction_auc", "--jobs", "2",
                              "--json", str(tmp_path / "sweep.json"))
    assert code == 1
    expected = sorted(FIXTURE_DIRS, key=lambda run: -last_epoch(run, "val_direction_auc"))
    assert [r["run"] for r in doc["ranking"]] == [str(run) for run in expected]
    assert [r["value"] for r in doc["ranking"]] == [last_epoch(run, "val_direction_auc") for run in expected]
    assert [r["rank"] for r in doc["ranking"]] == list(range(1, len(expected) + 1))
    verdicts = {r["run"]["path"]: r["verdict"] for r in doc["runs"]}
    best = next(str(run) for run in expected if verdicts[str(run)] == "pass")
    assert doc["best_run"] == best and best.endswith("run3_relu")
    assert doc["rank_by"] == {"metric": "val_direction_auc", "direction": "max", "source": "history",
                              "how": "from the name"}
    assert "the highest val_direction_auc" in doc["best_run_note"]
    rows = table(stdout)
    assert [row["rank"] for row in rows] == [str(i) for i in range(1, len(expected) + 1)]
    assert [float(row["value"]) for row in rows] == [r["value"] for r in doc["ranking"]]  # exact reprs
    assert stdout.splitlines()[-2] == (f"Best run: {best_relative(best)} (val_direction_auc "
                                       f"{doc['ranking'][0]['value']!r}, the best of 2 passing runs)")


def best_relative(path):
    return os.path.relpath(path) if not os.path.isabs(str(FIXTURE_DIRS[0])) else path


def test_rank_by_a_check_id_and_a_lower_is_better_suffix(tmp_path, capsys):
    _, _, doc = sweep(capsys, FIXTURE_DIRS, "--rank-by", "volatility-max:min", "--json", str(tmp_path / "s.json"))
    observed = {r["run"]["path"]: next(c["observed"] for c in r["checks"] if c["id"] == "volatility-max")
                for r in doc["runs"]}
    assert [r["value"] for r in doc["ranking"]] == sorted(observed.values())
    assert doc["rank_by"]["source"] == "check" and doc["rank_by"]["direction"] == "min"
    passing = [r["run"] for r in doc["ranking"] if r["verdict"] == "pass"]
    assert doc["best_run"] == passing[0]
    # a check id with a direction in its name: pbo, lower is better
    _, _, doc = sweep(capsys, FIXTURE_DIRS, "--rank-by", "pbo", "--json", str(tmp_path / "p.json"))
    assert doc["rank_by"]["direction"] == "min" and doc["rank_by"]["how"] == "from the name"
    values = [r["value"] for r in doc["ranking"]]
    assert values == sorted(values)


def test_runs_without_the_metric_sort_last_and_say_why(runs, tmp_path, capsys):
    no_history = make_run(tmp_path / "no_history")
    (no_history / "history.csv").unlink()
    dirs = [no_history, runs["saturated"], runs["missing"], runs["healthy"]]
    code, stdout, doc = sweep(capsys, dirs, "--rank-by", "val_direction_auc", "--json", str(tmp_path / "s.json"))
    assert code == 2
    ranking = doc["ranking"]
    # the same history: equal values keep the order given; the unreadable last, in the order given
    assert [r["run"] for r in ranking] == [str(runs["saturated"]), str(runs["healthy"]), str(no_history),
                                           str(runs["missing"])]
    assert [r["rank"] for r in ranking] == [1, 2, None, None]
    assert "cannot read val_direction_auc at the last epoch" in ranking[2]["note"]
    assert ranking[3]["note"] == "not checked"
    assert doc["best_run"] == str(runs["healthy"].resolve())
    assert [row["rank"] for row in table(stdout)] == ["1", "2", "-", "-"]


def test_best_run_is_null_when_no_run_passes(runs, tmp_path, capsys):
    _, stdout, doc = sweep(capsys, [runs["saturated"], runs["broken"]], "--rank-by", "val_direction_auc",
                           "--json", str(tmp_path / "s.json"))
    assert doc["best_run"] is None
    assert doc["best_run_note"].startswith("no run passes the gate")
    assert stdout.splitlines()[-2].startswith("Best run: none (no run passes the gate")
    # passing runs, but the metric is misspelt: no passing run has a readable value
    _, _, doc = sweep(capsys, [runs["healthy"], runs["healthy2"]], "--rank-by", "val_direction_aucc:max",
                      "--json", str(tmp_path / "t.json"))
    assert doc["best_run"] is None and doc["best_run_note"].startswith("no passing run has a readable")
    assert "no metric 'val_direction_aucc' in the history" in doc["best_run_note"]


@pytest.mark.parametrize(("value", "said"), [
    ("volatility-max", "is not known from its name; say it: --rank-by volatility-max:max"),
    ("val_loss:up", "the suffix must be :max (higher is better) or :min"),
    (":max", "name a check id or a history metric"),
])
def test_rank_by_without_a_direction_is_a_usage_error(runs, capsys, value, said):
    code = cli.main(["check", str(runs["healthy"]), str(runs["healthy2"]), "--spec", str(SPEC), "--rank-by", value])
    assert code == 4
    captured = capsys.readouterr()
    assert said in captured.err and captured.out == ""  # nothing was evaluated


def test_rank_by_one_run_is_a_usage_error(runs, capsys):
    assert cli.main(["check", str(runs["healthy"]), "--spec", str(SPEC), "--rank-by", "val_loss"]) == 4
    assert "give several RUN_DIRs" in capsys.readouterr().err


# -- the table fits 120 columns whatever the runs are called ---------------------------------------

def test_hostile_and_long_run_names_keep_the_table_aligned(tmp_path):
    names = ["run\x1b[2J\x1b]0;pwned\x07", f"{'x' * 200}/{'y' * 200}/_tail_kept", "中文运行" * 20, "plain"]
    dirs = [saturated_run(tmp_path / names[0])] + [make_run(tmp_path / n) for n in names[1:]]
    proc = subprocess.run([sys.executable, "-m", "validators", "check", *map(str, dirs), "--spec", str(SPEC),
                           "--rank-by", "val_direction_auc", "--jobs", "2"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    lines = proc.stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("RUN "))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("Best run:"))
    for line in lines[start:end + 2]:  # the table, the best run and the summary line
        assert display_width(line) <= 120, line
    rows = lines[start:end]
    assert sum(not line.startswith(" ") for line in rows) == 1 + len(dirs)
    verdict_at = display_width(rows[0][:rows[0].index("VERDICT")])
    for line in rows[1:]:
        if line.startswith(" "):
            continue  # wrapped check ids
        # the verdict starts in the same column in every row, whatever came before it
        assert line_column_text(line, verdict_at).split()[0] in ("pass", "fail"), line
    assert any("_tail_kept" in line and "…" in line for line in rows)  # clipped from the left, the tail kept
    assert any("run\\x1b[2J" in line or "\\x07" in line for line in rows)  # escaped, clipped


def display_width(text):
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def line_column_text(line, column):
    """The text of ``line`` from display column ``column`` on."""
    used = 0
    for i, ch in enumerate(line):
        if used >= column:
            return line[i:]
        used += display_width(ch)
    return ""


def test_many_failing_checks_are_wrapped_then_counted(capsys, tmp_path):
    broken = ROOT / "fixtures" / "other_pipeline" / "runs" / "broken_sigmoid"
    run2 = ROOT / "fixtures" / "runs" / "run2_sigmoid"
    _, stdout, doc = sweep(capsys, [broken, run2], "--rank-by", "sharpe", "--json", str(tmp_path / "s.json"))
    rows = table(stdout)
    not_passing = {r["run"]["path"]: sum(c["status"] != "pass" for c in r["checks"]) for r in doc["runs"]}
    assert [row["run"][-8:] for row in rows] == [r["run"][-8:] for r in doc["ranking"]]
    for row, ranked in zip(rows, doc["ranking"]):
        shown = ids_of(row["ids"])
        assert shown["more"] > 0  # 12 or more ids do not fit in three lines of the narrow column
        assert len(shown["fail"]) + len(shown["error"]) + shown["more"] == not_passing[ranked["run"]] >= 12
    wrapped = [line for line in stdout.splitlines() if line.startswith(" " * 20)]
    assert len(wrapped) == 4  # two continuation lines per run: three lines in all
