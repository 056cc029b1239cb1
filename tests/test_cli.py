"""The ``runverdict`` command line: exit codes, messages, colour, the JSON report, import cost."""

from __future__ import annotations

import dataclasses
import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from factory import SHIPPED_SPEC, SPEC, make_run, saturated_run

from validators import cli
from validators.kinds import builtin_kinds
from validators.registry import KINDS

builtin_kinds()

PYTHON = sys.executable
SCRIPT = shutil.which("runverdict", path=str(Path(sys.executable).parent)) or shutil.which("runverdict")
HEAVY = ("tensorflow", "keras", "pandas")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "PYTHONOPTIMIZE")}
    env.update(extra)
    return env


def strict_loads(text):
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    healthy = make_run(root / "healthy")
    saturated = saturated_run(root / "saturated")
    no_predictions = make_run(root / "no_predictions")
    (no_predictions / "predictions.csv").unlink()
    bad_spec = root / "bad.toml"
    bad_spec.write_text(SPEC.read_text().replace('kind = "saturation"', 'kind = "saturaton"', 1))
    (root / "reports").mkdir()
    (root / "reports" / "verdict.json").write_text("previous")
    return {"healthy": healthy, "saturated": saturated, "no_predictions": no_predictions, "bad_spec": bad_spec,
            "root": root}


OPTIMISED = """
import json, sys
from validators.cli import main
spec, bad_spec, healthy, saturated, no_predictions = sys.argv[1:]
codes = {name: main(["check", run, "--spec", s, "--quiet"]) for name, run, s in [
    ("healthy", healthy, spec), ("saturated", saturated, spec), ("no_predictions", no_predictions, spec),
    ("bad_spec", healthy, bad_spec)]}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print(json.dumps({"codes": codes, "heavy": heavy, "optimised": sys.flags.optimize}), file=sys.stderr)
sys.exit(codes["saturated"])
"""


@pytest.fixture(scope="module")
def procs(runs):
    """Every subprocess of this module, started at once (each pays the interpreter's start-up)."""
    assert SCRIPT, "the runverdict console script is not installed"
    h, s, n, spec = str(runs["healthy"]), str(runs["saturated"]), str(runs["no_predictions"]), str(SPEC)
    module = [PYTHON, "-m", "validators"]
    commands = {
        "healthy": module + ["check", h, "--spec", spec],
        "saturated_script": [SCRIPT, "check", s, "--spec", spec, "--json",
                             str(runs["root"] / "reports" / "verdict.json")],
        "no_predictions": module + ["check", n, "--spec", spec],
        "bad_spec": module + ["check", h, "--spec", str(runs["bad_spec"])],
        "optimised": [PYTHON, "-O", "-c", OPTIMISED, spec, str(runs["bad_spec"]), h, s, n],
        "help_importtime": [PYTHON, "-X", "importtime", SCRIPT, "--help"],
        "import_importtime": [PYTHON, "-X", "importtime", "-c",
                              "import validators, validators.cli; validators.cli.build_parser()"],
    }
    started = {name: subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=clean_env(), cwd=runs["root"])
               for name, argv in commands.items()}
    done = {}
    for name, proc in started.items():
        out, err = proc.communicate(timeout=300)
        done[name] = subprocess.CompletedProcess(commands[name], proc.returncode, out, err)
    return done


# -- exit codes in a real process -----------------------------------------------------------------

def test_healthy_exits_0(procs):
    p = procs["healthy"]
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1].endswith("Verdict: PASS (exit 0)") and p.stderr == ""


def test_saturated_exits_1_with_the_console_script(procs):
    p = procs["saturated_script"]
    assert p.returncode == 1, p.stderr
    assert "volatility-not-saturated" in p.stdout and "400 of 400 values in 'volatility'" in p.stdout
    assert p.stdout.splitlines()[-1].endswith("Verdict: FAIL (exit 1)")


def test_missing_predictions_exits_2(procs):
    p = procs["no_predictions"]
    assert p.returncode == 2, p.stderr
    assert "no predictions artefact: looked for predictions.csv, predictions.parquet" in p.stdout
    assert p.stdout.splitlines()[-1].endswith("Verdict: ERROR (exit 2)")


@pytest.mark.parametrize("case", ["bad_spec", "unknown_option", "missing_spec"])
def test_usage_and_spec_errors_exit_4_with_one_line(procs, runs, case, capsys):
    if case == "bad_spec":  # in a real process
        p = procs[case]
        code, out, err = p.returncode, p.stdout, p.stderr
    else:
        argv = ["check", str(runs["healthy"])] + (["--spec", str(SPEC), "--frobnicate"]
                                                  if case == "unknown_option" else [])
        code = cli.main(argv)
        out, err = capsys.readouterr()
    assert code == 4
    assert out == ""  # nothing was evaluated
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("runverdict") and "Traceback" not in err
    fragment = {"bad_spec": f"{runs['bad_spec']}:", "unknown_option": "--frobnicate",
                "missing_spec": "--spec"}[case]
    assert fragment in lines[0]
    if case == "bad_spec":
        assert "did you mean 'saturation'?" in lines[0]


@pytest.mark.parametrize("args, code", [
    ([], 4),
    (["check", "does-not-exist", "--spec", str(SPEC)], 4),
    (["check", ".", "--spec", "does-not-exist.toml"], 4),
    (["bogus"], 4),
    (["--help"], 0),
    (["check", "--help"], 0),
    (["--version"], 0),
    (["kinds"], 0),
    (["validate", str(SPEC)], 0),
])
def test_exit_codes_in_process(capsys, args, code):
    assert cli.main(args) == code
    out, err = capsys.readouterr()
    if code == 4:
        assert len(err.strip().splitlines()) == 1 and out == ""


def test_validate_bad_spec_in_process(capsys, runs):
    assert cli.main(["validate", str(runs["bad_spec"])]) == 4
    assert "unknown check kind 'saturaton'" in capsys.readouterr().err


def test_kinds_lists_every_kind(capsys):
    cli.main(["kinds"])
    out = capsys.readouterr().out
    for name in KINDS:
        assert f"{name}: " in out


# -- internal errors ---------------------------------------------------------------------------

@pytest.fixture
def broken_kind(monkeypatch):
    def boom(run, **kwargs):
        raise RuntimeError("kaboom in a kind")

    monkeypatch.setitem(KINDS, "config", dataclasses.replace(KINDS["config"], func=boom))


def test_internal_error_exits_3_with_one_line(capsys, runs, broken_kind):
    code = cli.main(["check", str(runs["healthy"]), "--spec", str(SPEC)])
    _out, err = capsys.readouterr()
    assert code == 3
    lines = err.strip().splitlines()
    assert lines == [("runverdict: internal error: RuntimeError: kaboom in a kind "
                     "(rerun with --debug for the traceback)")]
    assert "Traceback" not in err


def test_internal_error_traceback_only_with_debug(capsys, runs, broken_kind):
    code = cli.main(["check", str(runs["healthy"]), "--spec", str(SPEC), "--debug"])
    err = capsys.readouterr().err
    assert code == 3
    assert "Traceback (most recent call last)" in err and "kaboom in a kind" in err


# -- colour --------------------------------------------------------------------------------------

def start_on_tty(argv, env):
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=slave, stderr=subprocess.PIPE, env=env, close_fds=True)
    os.close(slave)
    return proc, master


def finish_on_tty(proc, master):
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO once the child has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.communicate(timeout=300)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode()


def test_no_colour_when_piped(procs):
    for p in procs.values():
        assert "\x1b[" not in p.stdout and "\x1b[" not in p.stderr


def test_no_colour_with_no_color_even_on_a_terminal(runs):
    argv = [PYTHON, "-m", "validators", "check", str(runs["saturated"]), "--spec", str(SPEC)]
    no_color = start_on_tty(argv, clean_env(NO_COLOR="1"))
    colour = start_on_tty(argv, clean_env())
    code, out = finish_on_tty(*no_color)
    assert code == 1 and "Verdict: FAIL" in out and "\x1b[" not in out
    code, out = finish_on_tty(*colour)
    assert code == 1 and "\x1b[31m" in out  # colour only on a terminal


def test_use_colour_rules(monkeypatch):
    from validators.reports.text import use_colour

    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(Tty()) is True
    assert use_colour(object()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_colour(Tty()) is False


# -- --json ----------------------------------------------------------------------------------

def test_json_written_strict_and_atomically(procs, runs):
    out = runs["root"] / "reports" / "verdict.json"
    assert procs["saturated_script"].returncode == 1
    data = strict_loads(out.read_text())  # "previous" was replaced
    assert data["verdict"] == "fail" and data["exit_code"] == 1
    assert {c["id"] for c in data["checks"]} >= {"volatility-not-saturated", "loss-weights"}
    assert os.listdir(out.parent) == ["verdict.json"]


def test_json_write_failure_exits_2_and_keeps_the_old_report(runs, tmp_path, monkeypatch, capsys):
    out = tmp_path / "verdict.json"
    out.write_text('{"verdict": "old"}')

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    code = cli.main(["check", str(runs["healthy"]), "--spec", str(SPEC), "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot write the JSON report" in err and "No space left on device" in err
    assert out.read_text() == '{"verdict": "old"}'
    assert os.listdir(tmp_path) == ["verdict.json"]


def test_json_into_missing_folder_exits_2(runs, tmp_path, capsys):
    code = cli.main(["check", str(runs["healthy"]), "--spec", str(SPEC), "--json",
                     str(tmp_path / "nope" / "r.json")])
    assert code == 2 and "cannot write the JSON report" in capsys.readouterr().err


# -- python -O ------------------------------------------------------------------------------------

def test_optimised_python_gives_the_same_exit_codes(procs):
    p = procs["optimised"]
    result = json.loads(p.stderr.strip().splitlines()[-1])
    assert result["optimised"] == 1
    assert result["codes"] == {"healthy": 0, "saturated": 1, "no_predictions": 2, "bad_spec": 4}
    assert p.returncode == 1
    assert result["heavy"] == []  # judging run3 needs no TensorFlow either


# -- import cost ----------------------------------------------------------------------------------

def imported_top_level(p):
    names = set()
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "validators" in names, p.stderr[-2000:]
    return names


def test_console_script_help_imports_nothing_heavy(procs):
    p = procs["help_importtime"]
    assert p.returncode == 0 and "exit codes" in p.stdout
    assert not imported_top_level(p) & set(HEAVY)


def test_import_validators_imports_nothing_heavy(procs):
    assert procs["import_importtime"].returncode == 0
    assert not imported_top_level(procs["import_importtime"]) & set(HEAVY)


def test_a_full_stdout_is_exit_2_with_a_message_not_an_internal_error():
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "validators", "check", str(Path(SHIPPED_SPEC).parent.parent / "fixtures"
                               / "runs" / "run3_relu"), "--spec", str(SPEC)], stdout=full, stderr=subprocess.PIPE,
                              text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert "cannot write the report to standard output" in done.stderr and "internal error" not in done.stderr


# -- first contact (issue 14) ------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
OTHER_RUN = ROOT / "fixtures" / "other_pipeline" / "runs" / "fixed_relu"


def test_kinds_lists_the_spec_tables_from_the_code(capsys):
    from validators.advice import CONDITION_KEYS, RULE_KEYS
    from validators.artefacts.layout import DECLARABLE_ARTEFACTS, LAYOUT_KEYS
    from validators.decision import ACTIONS
    from validators.spec import BASELINE_KEYS, COMMON_KEYS, TOP_LEVEL_KEYS, TRIALS_KEYS

    assert cli.main(["kinds"]) == 0
    out = capsys.readouterr().out
    tables = out.split("Spec tables and keys:\n", 1)[1]
    assert "not described here" not in tables
    for key in TOP_LEVEL_KEYS:
        assert f"[{key}]" in tables or f"[[{key}]]" in tables or tables.count(f"{key} = ") >= 1, key
    sections = {line.split(":")[0]: line for line in tables.splitlines() if line.startswith("[")}
    assert set(sections) == {"[artefacts]", "[layout]", "[trials]", "[baseline]", "[[check]]", "[[advice]]"}

    def block(name):
        return tables.split(name, 1)[1].split("\n[", 1)[0]

    assert all(f"{a} = \"PATH\"" in block("[artefacts]") for a in DECLARABLE_ARTEFACTS)
    assert all(k in block("[layout]") for k in LAYOUT_KEYS)
    assert all(k in block("[trials]") for k in TRIALS_KEYS)
    assert all(k in block("[baseline]") for k in BASELINE_KEYS)
    assert all(k in block("[[check]]") for k in COMMON_KEYS)
    advice = block("[[advice]]")
    assert all(k in advice for k in RULE_KEYS)
    for kind, keys in CONDITION_KEYS.items():
        assert f"  condition {kind}: {', '.join(keys)}\n" in advice
    assert f"decision values (the decision actions): {', '.join(ACTIONS)}" in advice


def test_a_delta_check_not_compared_says_so_in_the_terminal(capsys):
    run = ROOT / "fixtures" / "runs" / "run3_relu"
    assert cli.main(["check", str(run), "--spec", str(SHIPPED_SPEC), "--json", os.devnull]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if " direction-auc-vs-baseline " in line)
    assert line.split()[:3] == ["PASS", "direction-auc-vs-baseline", "not"]
    assert "not compared" in line and " - " not in line


def test_a_delta_check_not_compared_keeps_observed_null_in_the_json(tmp_path, capsys):
    path = tmp_path / "v.json"
    assert cli.main(["check", str(OTHER_RUN), "--spec", str(SHIPPED_SPEC), "--json", str(path), "--quiet"]) == 0
    check = next(c for c in json.loads(path.read_text())["checks"] if c["id"] == "direction-auc-vs-baseline")
    assert check["observed"] is None and check["evidence"]["compared"] is False and check["status"] == "pass"


def test_html_lists_failing_checks_first_must_before_nice(tmp_path):
    run = ROOT / "fixtures" / "other_pipeline" / "runs" / "weak_auc"
    path = tmp_path / "r.html"
    assert cli.main(["check", str(run), "--spec", str(SHIPPED_SPEC), "--html", str(path), "--json",
                     str(tmp_path / "r.json")]) == 1
    import re

    doc = json.loads((tmp_path / "r.json").read_text())
    rows = re.findall(r'<tr id="check-(\d+)-[^"]*" class="(\w+)">', path.read_text(encoding="utf-8"))
    order = [doc["checks"][int(i)] for i, _ in rows]
    groups = [0 if c["status"] != "pass" and c["severity"] == "must" else 1 if c["status"] != "pass" else 2
              for c in order]
    assert groups == sorted(groups) and groups[0] == 0 and 1 in groups  # must fails, nice fails, passes
    for g in (0, 1, 2):  # stable: the spec's order within each group
        positions = [int(i) for (i, _), group in zip(rows, groups) if group == g]
        assert positions == sorted(positions)
    assert [c["id"] for c in order[:2]] == ["direction-auc", "direction-auc-exact"]


def test_trials_keeps_the_date_index_of_another_teams_predictions(tmp_path, capsys):
    import pandas as pd

    from validators.artefacts.returns import read_returns

    out = tmp_path / "returns.csv"
    code = cli.main(["trials", str(OTHER_RUN), "--return-column", "close_return", "--out", str(out)])
    assert code == 0
    said = capsys.readouterr().out
    assert "first column 'date', the predictions' dates" in said
    written = pd.read_csv(out)
    predictions = pd.read_csv(OTHER_RUN / "predictions.csv")
    assert written.columns[0] == "date" and list(written["date"]) == list(predictions["date"])
    returns = read_returns(out)
    assert returns.index_column == "date" and returns.index_kind == "dates"
    assert len(returns.names) == 21 and returns.period == (predictions["date"].iloc[0], predictions["date"].iloc[-1])
    # the bundled runs name it "timestamp"; --index none writes no index column
    code = cli.main(["trials", str(ROOT / "fixtures" / "runs" / "run3_relu"), "--out", str(out)])
    assert code == 0 and pd.read_csv(out).columns[0] == "timestamp"
    assert cli.main(["trials", str(ROOT / "fixtures" / "runs" / "run3_relu"), "--out", str(out), "--index", "none"]) == 0
    assert pd.read_csv(out).columns[0] == "c=0.5"


def test_trials_from_a_made_run_with_its_own_date_name(tmp_path, capsys):
    import pandas as pd

    from validators.artefacts.returns import read_returns

    predictions = pd.read_csv(make_run(tmp_path / "plain") / "predictions.csv")
    predictions.insert(0, "Date", pd.date_range("2022-01-03", periods=len(predictions), freq="D").strftime("%Y-%m-%d"))
    run = make_run(tmp_path / "dated", predictions=predictions)
    out = tmp_path / "returns.csv"
    assert cli.main(["trials", str(run / "predictions.csv"), "--out", str(out)]) == 0
    assert read_returns(out).index_column == "Date"


@pytest.mark.parametrize(("argv", "said"), [
    (["--return-column", "nope"], "give the column: --return-column COLUMN"),
    (["--probability-column", "nope", "--return-column", "close_return"], "give the column: --probability-column"),
    (["--return-column", "close_return", "--index", "direction"], "--index COLUMN, or --index none"),
    (["--return-column", "close_return", "--index", "nope"], "--index 'nope' is not a column"),
])
def test_trials_messages_never_say_in_the_spec(tmp_path, capsys, argv, said):
    code = cli.main(["trials", str(OTHER_RUN), "--out", str(tmp_path / "r.csv"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and said in err, err
    assert "in the spec" not in err and "[layout]" not in err
    assert not (tmp_path / "r.csv").exists()


def test_trials_on_a_folder_without_predictions_says_what_to_give(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = cli.main(["trials", str(tmp_path / "empty"), "--out", str(tmp_path / "r.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "give the predictions file itself: runverdict trials" in err
    assert "in the spec" not in err
    assert cli.main(["trials", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r.csv")]) == 4
