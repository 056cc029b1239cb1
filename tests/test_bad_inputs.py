"""BAD_INPUTS.md, the cases in scope for the core gate (1-8, 13, 15-19, 21-27, 31), table-driven.

Each case breaks a copy of a healthy hand-made run (or of the spec), runs the command line, and
checks the exit code, the status of the checks it touches, and a message naming the file and,
where there is one, the line and column.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from factory import CONFIG_CHECK_IDS, SPEC, healthy_history, make_run

from validators import cli
from validators.kinds import builtin_kinds
from validators.registry import KINDS

builtin_kinds()

CORE_KINDS = {"saturation", "range", "statistic", "history", "auc", "config", "compile"}
PREDICTION_CHECKS = ("volatility-not-saturated", "volatility-max", "magnitude-mean", "magnitude-max",
                     "volatility-range", "magnitude-range", "direction-auc-exact")
HISTORY_CHECKS = ("volatility-loss", "magnitude-loss", "direction-auc")
CONFIG_CHECKS = CONFIG_CHECK_IDS


def core_spec_text() -> str:
    """checks/run3.toml with only the core kinds' checks (later issues add checks of other kinds)."""
    head, *blocks = SPEC.read_text().split("[[check]]")
    kept = [b for b in blocks if re.search(r'^kind = "([a-z_]+)"', b, re.MULTILINE).group(1) in CORE_KINDS]
    return "[[check]]".join([head, *kept])


# -- mutations of a healthy run -------------------------------------------------------------------

def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def write_rows(path, rows):
    with open(path, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def set_cell(name, line, column, text):
    def mutate(run):
        rows = read_rows(run / name)
        rows[line - 1][rows[0].index(column)] = text
        write_rows(run / name, rows)
    return mutate


def set_cells(name, column, cells: dict):
    def mutate(run):
        rows = read_rows(run / name)
        for line, text in cells.items():
            rows[line - 1][rows[0].index(column)] = text
        write_rows(run / name, rows)
    return mutate


def set_column(name, column, text):
    def mutate(run):
        rows = read_rows(run / name)
        i = rows[0].index(column)
        for row in rows[1:]:
            row[i] = text
        write_rows(run / name, rows)
    return mutate


def drop_last_field(name, line):
    def mutate(run):
        rows = read_rows(run / name)
        rows[line - 1] = rows[line - 1][:-1]
        write_rows(run / name, rows)
    return mutate


def rename_column(name, old, new):
    def mutate(run):
        rows = read_rows(run / name)
        rows[0][rows[0].index(old)] = new
        write_rows(run / name, rows)
    return mutate


def delete(name):
    return lambda run: (run / name).unlink()


def empty(name):
    return lambda run: (run / name).write_bytes(b"")


def header_only(name):
    return lambda run: (run / name).write_text((run / name).read_text().splitlines()[0] + "\n")


def history_json_lengths_differ(run):
    (run / "history.csv").unlink()
    hist = {k: list(v) for k, v in healthy_history().items() if k != "epoch"}
    hist["val_direction_auc"] = hist["val_direction_auc"][:6]  # a metric logged for fewer epochs
    (run / "history.json").write_text(json.dumps(hist))


def history_value(column, value):
    def mutate(run):
        rows = read_rows(run / "history.csv")
        rows[-1][rows[0].index(column)] = value
        write_rows(run / "history.csv", rows)
    return mutate


def spec_edit(old, new, count=1):
    def edit(text):
        assert old in text, old
        return text.replace(old, new, count)
    return edit


def spec_line(text, needle, occurrence=1):
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[occurrence - 1]


# -- the table ---------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    exit: int
    mutate: Callable | None = None
    edit_spec: Callable | None = None
    statuses: dict = field(default_factory=dict)  # check id -> expected status
    fragments: tuple = ()  # in the output; {run} and {spec} are filled in
    evidence: dict = field(default_factory=dict)  # check id -> evidence items expected


def status_of(ids, status):
    return {i: status for i in ids}


CASES = [
    # 1. file missing
    Case("1-predictions-missing", 2, delete("predictions.csv"),
         statuses=status_of(PREDICTION_CHECKS, "error") | status_of(HISTORY_CHECKS + CONFIG_CHECKS, "pass"),
         fragments=(("{run}/predictions.csv: no predictions artefact: looked for predictions.csv, "
                    "predictions.parquet"),)),
    Case("1-history-missing", 2, delete("history.csv"),
         statuses=status_of(HISTORY_CHECKS, "error") | status_of(PREDICTION_CHECKS + CONFIG_CHECKS, "pass"),
         fragments=("no history artefact: looked for history.csv, training.log, training_log.csv, history.json",)),
    Case("1-config-missing", 2, delete("config.json"),
         statuses=status_of(CONFIG_CHECKS, "error") | status_of(PREDICTION_CHECKS, "pass"),
         fragments=("no config artefact: looked for config.json",)),
    # 2. zero bytes
    Case("2-predictions-empty", 2, empty("predictions.csv"), statuses=status_of(PREDICTION_CHECKS, "error"),
         fragments=("{run}/predictions.csv: file is empty (0 bytes)",)),
    Case("2-history-empty", 2, empty("history.csv"), statuses=status_of(HISTORY_CHECKS, "error"),
         fragments=("{run}/history.csv: file is empty (0 bytes)",)),
    Case("2-config-empty", 2, empty("config.json"), statuses=status_of(CONFIG_CHECKS, "error"),
         fragments=("{run}/config.json: file is empty (0 bytes)",)),
    # 3. header only
    Case("3-predictions-header-only", 2, header_only("predictions.csv"),
         statuses=status_of(PREDICTION_CHECKS, "error"),
         fragments=("{run}/predictions.csv:2: has a header but no data rows",)),
    Case("3-history-header-only", 2, header_only("history.csv"), statuses=status_of(HISTORY_CHECKS, "error"),
         fragments=("{run}/history.csv:2: has a header but no epochs",)),
    # 4. a required column missing or misspelled: expected vs found, no fuzzy matching
    Case("4-column-misspelled", 2, rename_column("predictions.csv", "volatility", "volatilty"),
         statuses={"volatility-range": "error", "volatility-not-saturated": "error"},
         fragments=(("{run}/predictions.csv:1: missing column 'volatility'; found 'direction', 'volatilty', "
                    "'magnitude'"),)),
    Case("4-metric-missing", 2, rename_column("history.csv", "volatility_loss", "vol_loss"),
         statuses={"volatility-loss": "error", "magnitude-loss": "pass"},
         fragments=("{run}/history.csv: no metric 'volatility_loss' in the history; found ", "'vol_loss'")),
    # 5. a row with too few fields
    Case("5-short-row", 2, drop_last_field("predictions.csv", 57), statuses=status_of(PREDICTION_CHECKS, "error"),
         fragments=("{run}/predictions.csv:57: row has 6 fields, the header has 7",)),
    Case("5-short-history-row", 2, drop_last_field("history.csv", 5), statuses=status_of(HISTORY_CHECKS, "error"),
         fragments=("{run}/history.csv:5: row has 8 fields, the header has 9",)),
    # 6. a cell that is not a number or a one-element array
    Case("6-text-cell", 2, set_cell("predictions.csv", 10, "volatility", "x"),
         statuses={"volatility-range": "error", "magnitude-range": "pass"},
         fragments=(("{run}/predictions.csv:10:2: column 'volatility', row 8: not a number or a one-element "
                    "array: 'x'"),)),
    Case("6-thousands-separator", 2, set_cell("predictions.csv", 33, "magnitude", "1,234"),
         statuses={"magnitude-range": "error", "magnitude-mean": "error", "volatility-range": "pass"},
         fragments=("{run}/predictions.csv:33:3: column 'magnitude', row 31: not a number", "'1,234'")),
    Case("6-bool-cell", 2, set_cell("predictions.csv", 2, "direction", "True"),
         statuses={"direction-auc-exact": "error"},
         fragments=("{run}/predictions.csv:2:1: column 'direction', row 0: not a number", "'True'")),
    Case("6-long-garbage-first-80", 2, set_cell("predictions.csv", 4, "volatility", "abc" * 60),
         statuses={"volatility-range": "error"},
         fragments=("{run}/predictions.csv:4:2: ", repr(("abc" * 60)[:80]))),
    Case("6-history-text-cell", 2, history_value("volatility_loss", "oops"),
         statuses={"volatility-loss": "error"},
         fragments=("{run}/history.csv:9:9: metric 'volatility_loss': 'oops' is not a number",)),
    # 7. a cell far too long or nested
    Case("7-too-long", 2, set_cell("predictions.csv", 12, "volatility", "[" + "1" * 5000 + "]"),
         statuses={"volatility-range": "error"},
         fragments=("{run}/predictions.csv:12:2: column 'volatility', row 10: cell longer than 256",)),
    Case("7-nested", 2, set_cell("predictions.csv", 13, "volatility", "[[[[0.1]]]]"),
         statuses={"volatility-range": "error"},
         fragments=("{run}/predictions.csv:13:2: ", "nested arrays are not supported")),
    # 8. a multi-element array where one value is expected
    Case("8-multi-element", 2, set_cell("predictions.csv", 20, "magnitude", "[0.1 0.9]"),
         statuses={"magnitude-range": "error", "volatility-range": "pass"},
         fragments=(("{run}/predictions.csv:20:3: column 'magnitude', row 18: several values where one is "
                    "expected"), "element = N")),
    Case("8-abbreviated", 2, set_cell("predictions.csv", 21, "magnitude", "[0.1 0.2 ... 0.8 0.9]"),
         statuses={"magnitude-range": "error"},
         fragments=("{run}/predictions.csv:21:3: ",)),
    # 13. a history whose metric lists differ in length
    Case("13-history-lengths-differ", 2, history_json_lengths_differ,
         statuses=status_of(HISTORY_CHECKS, "error"),
         fragments=(("{run}/history.json: metrics have different numbers of epochs: most have 8, "
                    "but 'val_direction_auc' has 6"),)),
    # 15. NaN or inf in predictions: counted, fail
    Case("15-nan-in-predictions", 1, set_cells("predictions.csv", "volatility", {7: "[nan]", 9: "NA", 11: ""}),
         statuses={"volatility-range": "fail", "volatility-not-saturated": "fail", "volatility-max": "fail",
                   "magnitude-range": "pass"},
         fragments=("3 of 400 values in 'volatility' are NaN, inf or missing",),
         evidence={"volatility-range": {"nan_count": 3, "inf_count": 0}}),
    Case("15-inf-in-predictions", 1, set_cell("predictions.csv", 30, "magnitude", "[inf]"),
         statuses={"magnitude-range": "fail", "magnitude-mean": "fail"},
         fragments=("1 of 400 values in 'magnitude' are NaN, inf or missing",),
         evidence={"magnitude-range": {"inf_count": 1, "nan_count": 0}}),
    # 16. probabilities outside [0, 1]
    Case("16-probability-outside", 1, set_cells("predictions.csv", "direction", {5: "[1.3]", 6: "[-0.2]"}),
         statuses={"direction-auc-exact": "fail"},
         fragments=("2 scores in 'direction' are outside [0, 1]",)),
    # 17. labels outside {0, 1}
    Case("17-label-outside", 1, set_cell("predictions.csv", 8, "y_direction", "2"),
         statuses={"direction-auc-exact": "fail"}, fragments=("1 labels in 'y_direction' are not 0 or 1",)),
    # 18. a single class: AUC undefined, fail, never skip
    Case("18-single-class", 1, set_column("predictions.csv", "y_direction", "1"),
         statuses={"direction-auc-exact": "fail"},
         fragments=("AUC is undefined: 'y_direction' holds a single class",)),
    # 19. a NaN or inf loss in the history
    Case("19-nan-loss", 1, history_value("volatility_loss", "nan"),
         statuses={"volatility-loss": "fail", "magnitude-loss": "pass"}, fragments=("volatility_loss = nan",)),
    Case("19-inf-loss", 1, history_value("magnitude_loss", "inf"),
         statuses={"magnitude-loss": "fail", "volatility-loss": "pass"}, fragments=("magnitude_loss = inf",)),
    # 21-27: the spec; nothing is evaluated
    Case("21-toml-syntax", 4, edit_spec=spec_edit("level = 0.999", "level = 0.999.1"),
         fragments=("{spec}:{line}:", "TOML syntax error")),
    Case("22-unknown-kind", 4, edit_spec=spec_edit('kind = "saturation"', 'kind = "saturaton"'),
         fragments=("{spec}:{line}:", "unknown check kind 'saturaton'", "did you mean 'saturation'?")),
    Case("22-unknown-key", 4, edit_spec=spec_edit("level = 0.999", "levle = 0.999"),
         fragments=("{spec}:{line}:", "unknown key 'levle' for kind 'saturation'", "did you mean 'level'?")),
    Case("23-wrong-type", 4, edit_spec=spec_edit("level = 0.999", 'level = "high"'),
         fragments=("{spec}:{line}:", "'level' must be a number, got 'high'")),
    Case("24-nan-bound", 4, edit_spec=spec_edit("lt = 0.15", "lt = nan"),
         fragments=("{spec}:{line}:", "bound 'lt' must be a finite number, got nan")),
    Case("24-inf-bound", 4, edit_spec=spec_edit("ge = 0.65", "ge = -inf"),
         fragments=("{spec}:{line}:", "bound 'ge' must be a finite number, got -inf")),
    Case("25-min-above-max", 4, edit_spec=spec_edit("ge = 0.0\nle = 0.15", "ge = 0.5\nle = 0.1"),
         fragments=("{spec}:{line}:", "no value can satisfy ge=0.5 and le=0.1")),
    Case("26-no-checks", 4, edit_spec=lambda text: text.split("[[check]]")[0],
         fragments=("{spec}: the spec has no checks",)),
    Case("27-duplicate-id", 4, edit_spec=spec_edit('id = "volatility-max"', 'id = "volatility-not-saturated"'),
         fragments=("{spec}:{line}:", "duplicate check id 'volatility-not-saturated'")),
]

# the line each spec case's message must name: the line of the edited text
SPEC_LINES = {
    "21-toml-syntax": "level = 0.999.1",
    "22-unknown-kind": 'kind = "saturaton"',
    "22-unknown-key": "levle = 0.999",
    "23-wrong-type": 'level = "high"',
    "24-nan-bound": "lt = nan",
    "24-inf-bound": "ge = -inf",
    "25-min-above-max": "ge = 0.5",
    "27-duplicate-id": 'id = "volatility-not-saturated"',
}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(tmp_path, capsys, case):
    run_dir = make_run(tmp_path / "run")
    spec_text = core_spec_text()
    if case.edit_spec:
        spec_text = case.edit_spec(spec_text)
    spec_path = tmp_path / "gate.toml"
    spec_path.write_text(spec_text)
    if case.mutate:
        case.mutate(run_dir)
    report_path = tmp_path / "report.json"

    code = cli.main(["check", str(run_dir), "--spec", str(spec_path), "--json", str(report_path)])
    out, err = capsys.readouterr()

    assert code == case.exit, out + err
    line = spec_line(spec_text, SPEC_LINES[case.id], 2 if case.id == "27-duplicate-id" else 1) \
        if case.id in SPEC_LINES else None
    for fragment in case.fragments:
        fragment = fragment.format(run=run_dir, spec=spec_path, line=line)
        assert fragment in out + err, f"{fragment!r} not in:\n{out}{err}"
    assert "Traceback" not in out + err

    if case.exit == 4:
        assert out == "" and len(err.strip().splitlines()) == 1
        assert not report_path.exists()  # nothing was evaluated, nothing written
        return
    report = json.loads(report_path.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert report["exit_code"] == case.exit
    assert report["verdict"] == {1: "fail", 2: "error"}[case.exit]
    checks = {c["id"]: c for c in report["checks"]}
    for check_id, status in case.statuses.items():
        assert checks[check_id]["status"] == status, (check_id, checks[check_id]["message"])
    for check_id, items in case.evidence.items():
        assert items.items() <= checks[check_id]["evidence"].items()
    for c in checks.values():
        if c["status"] == "error":
            assert c["observed"] is None and c["evidence"]["file"].startswith(str(run_dir))
            where = re.match(r"(.+?):(\d+)(?::(\d+))?: ", c["message"])
            if where:  # a position in the message is a position in the evidence too
                assert c["evidence"]["line"] == int(where.group(2))
                if where.group(3):
                    assert c["evidence"]["column"] == int(where.group(3))


def test_first_offending_rows_of_nan_predictions(tmp_path, capsys):
    run_dir = make_run(tmp_path / "run")
    set_cells("predictions.csv", "volatility", {7: "[nan]", 9: "NA", 11: ""})(run_dir)
    (tmp_path / "gate.toml").write_text(core_spec_text())
    report_path = tmp_path / "r.json"
    assert cli.main(["check", str(run_dir), "--spec", str(tmp_path / "gate.toml"), "--json", str(report_path)]) == 1
    capsys.readouterr()
    checks = {c["id"]: c for c in json.loads(report_path.read_text())["checks"]}
    rows = checks["volatility-range"]["evidence"]["first_nonfinite_rows"]
    assert [(r["row"], r["line"], r["value"]) for r in rows] == [(5, 7, "nan"), (7, 9, "nan"), (9, 11, "nan")]


def test_31_uncaught_exception_exits_3_with_one_line(tmp_path, capsys, monkeypatch):
    def boom(run, **kwargs):
        raise ZeroDivisionError("division by zero inside a kind")

    monkeypatch.setitem(KINDS, "range", dataclasses.replace(KINDS["range"], func=boom))
    run_dir = make_run(tmp_path / "run")
    (tmp_path / "gate.toml").write_text(core_spec_text())
    report_path = tmp_path / "r.json"
    report_path.write_text('{"verdict": "previous"}')
    argv = ["check", str(run_dir), "--spec", str(tmp_path / "gate.toml"), "--json", str(report_path)]
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        ("runverdict: internal error: ZeroDivisionError: division by zero inside a kind "
        "(rerun with --debug for the traceback)")]
    assert report_path.read_text() == '{"verdict": "previous"}'
    assert cli.main(argv + ["--debug"]) == 3
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_core_spec_is_the_plans_core_checks():
    text = core_spec_text()
    for check_id in PREDICTION_CHECKS + HISTORY_CHECKS + CONFIG_CHECKS:
        assert f'id = "{check_id}"' in text


def test_nan_is_never_a_pass_for_any_bound_in_the_spec(tmp_path, capsys):
    # "nan < 0.3 is False; not (nan >= 0.3) is True": every bounded core check on an all-NaN run fails.
    run_dir = make_run(tmp_path / "run")
    for column in ("direction", "volatility", "magnitude"):
        set_column("predictions.csv", column, "[nan]")(run_dir)
    rows = read_rows(run_dir / "history.csv")
    write_rows(run_dir / "history.csv", [rows[0]] + [[r[0]] + ["nan"] * (len(r) - 1) for r in rows[1:]])
    (tmp_path / "gate.toml").write_text(core_spec_text())
    report_path = tmp_path / "r.json"
    assert cli.main(["check", str(run_dir), "--spec", str(tmp_path / "gate.toml"), "--json", str(report_path)]) == 1
    capsys.readouterr()
    for c in json.loads(report_path.read_text())["checks"]:
        if c["kind"] not in ("config", "compile"):  # unbounded: not read from predictions or history
            assert c["status"] == "fail", c
            assert c["observed"] is None or not math.isfinite(c["observed"])


def test_a_missing_column_errors_only_the_checks_that_use_it(tmp_path, capsys):
    run_dir = make_run(tmp_path / "run")
    rename_column("predictions.csv", "volatility", "volatilty")(run_dir)
    (tmp_path / "gate.toml").write_text(core_spec_text())
    report_path = tmp_path / "r.json"
    assert cli.main(["check", str(run_dir), "--spec", str(tmp_path / "gate.toml"), "--json", str(report_path)]) == 2
    capsys.readouterr()
    checks = {c["id"]: c for c in json.loads(report_path.read_text())["checks"]}
    assert checks["volatility-range"]["status"] == "error"
    assert checks["magnitude-range"]["status"] == "pass", checks["magnitude-range"]["message"]
