"""The corpus of broken runs (tests/corpus.py) through the command line, and fuzzing of the real
fixture files: every loader and the whole gate on arbitrary and nearly-valid input.

Each corpus case breaks a copy of fixtures/runs/run3_relu and runs ``runverdict check`` with
checks/run3.toml in process (a handful also in a real process): the exit code, the status of the
checks it names, and the fragments of the message, which name the file and the line, column or
byte offset. The fuzzing mutates the fixture's files (byte flips, truncations, deleted, duplicated
and swapped lines, odd tokens) and asks for a result or a clean error, never another exception,
and never ``pass`` for a check whose data is not all finite numbers.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import corpus
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validators import cli
from validators.artefacts.config_file import read_config
from validators.artefacts.history import read_history
from validators.artefacts.layout import LABEL_PATTERNS
from validators.artefacts.tables import MISSING_TOKENS
from validators.errors import ArtefactError, SpecError
from validators.gate import evaluate
from validators.reports.jsonreport import report_dict
from validators.result import ERROR, FAIL, PASS
from validators.spec import parse_spec

CASES = list(corpus.cases())
STRICT = {"parse_constant": lambda name: pytest.fail(f"non-strict JSON constant {name}")}


def as_params(cases) -> list:
    return [pytest.param(case, id=case.name,
                         marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [])
            for case in cases]


def check_outcome(case, run_dir, code, out, err, report_path):
    """Everything a case says about the gate's answer, whichever way the gate was run."""
    text = out + err
    assert code == case.exit, f"exit {code}, expected {case.exit}:\n{text}"
    for fragment in case.expected_fragments(run_dir):
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert "Traceback" not in text and "internal error" not in text
    if case.exit == 4:  # nothing evaluated, nothing written
        assert out == "" and len(err.strip().splitlines()) == 1, text
        assert not report_path.exists()
        return
    report = json.loads(report_path.read_text(), **STRICT)
    if not case.args:  # with a report that cannot be written the process exits 2, the JSON says the verdict's
        assert report["exit_code"] == case.exit
        assert report["verdict"] == {0: PASS, 1: FAIL, 2: ERROR}[case.exit]
    checks = {c["id"]: c for c in report["checks"]}
    for check_id, status in case.statuses.items():
        assert checks[check_id]["status"] == status, (check_id, checks[check_id]["message"])
    for c in checks.values():
        if c["status"] == ERROR:  # the message names the file, and its position is in the evidence
            assert c["observed"] is None
            where = c["evidence"]["file"]
            assert where.startswith(os.fspath(run_dir)), c
            assert c["message"].startswith(where), c
            position = re.match(re.escape(where) + r":(\d+)(?::(\d+))?: ", c["message"])
            if position:
                assert c["evidence"]["line"] == int(position.group(1)), c
                if position.group(2):
                    assert c["evidence"]["column"] == int(position.group(2)), c
            offset = re.match(re.escape(where) + r": byte offset (\d+): ", c["message"])
            if offset:
                assert c["evidence"]["offset"] == int(offset.group(1)), c


# -- the corpus, in process -----------------------------------------------------------------------

@pytest.mark.parametrize("case", as_params(CASES))
def test_broken_run(case, tmp_path, capsys, monkeypatch):
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    run_dir = corpus.broken_run(case, tmp_path)
    spec = corpus.spec_for(case, tmp_path)
    report = tmp_path / "verdict.json"
    code = cli.main(case.argv(run_dir, spec, report, tmp_path))
    out, err = capsys.readouterr()
    check_outcome(case, run_dir, code, out, err, report)


# -- a handful in real processes, started together ------------------------------------------------

IN_PROCESS = [c for c in CASES if c.subprocess]


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    started = {}
    for case in IN_PROCESS:
        tmp = tmp_path_factory.mktemp(case.name)
        run_dir = corpus.broken_run(case, tmp)
        argv = [sys.executable, "-m", "validators", *case.argv(run_dir, corpus.spec_for(case, tmp), tmp / "verdict.json", tmp)]
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "PYTHONOPTIMIZE")}
        env.update(case.env)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        started[case.name] = (proc, run_dir, tmp / "verdict.json")
    done = {}
    for name, (proc, run_dir, report) in started.items():
        try:
            out, err = proc.communicate(timeout=120)  # a named pipe must not block the gate
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += "\n(timed out after 120 s)"
        done[name] = (proc.returncode, out, err, run_dir, report)
    return done


def test_a_handful_run_in_real_processes():
    assert len(IN_PROCESS) >= 5
    assert {c.exit for c in IN_PROCESS} >= {1, 2, 4}


@pytest.mark.parametrize("case", as_params(IN_PROCESS))
def test_broken_run_in_a_process(case, processes):
    code, out, err, run_dir, report = processes[case.name]
    check_outcome(case, run_dir, code, out, err, report)


# -- the corpus itself ----------------------------------------------------------------------------

def test_every_bad_inputs_case_about_artefacts_values_and_environment_is_covered():
    numbers = {c.bad_inputs for c in CASES} | {e.bad_inputs for e in corpus.ELSEWHERE}
    assert set(range(1, 32)) <= numbers


def test_every_case_of_the_corpus_breaks_something_and_says_what(tmp_path):
    fixture = {p.relative_to(corpus.FIXTURE): p.read_bytes() for p in corpus.FIXTURE.rglob("*") if p.is_file()}
    for case in CASES:
        assert case.what and (case.fragments or case.exit == 0), case.name
        if case.mutate is corpus.unchanged:  # the case is in the spec, the arguments or the environment
            continue
        run_dir = corpus.broken_run(case, tmp_path / case.name)
        if not run_dir.is_dir():
            continue
        now = {p.relative_to(run_dir): ("link to", os.readlink(p)) if p.is_symlink() else  # a link is a change
               p.read_bytes() if p.is_file() else None
               for p in run_dir.rglob("*") if not p.is_dir() or p.is_symlink()}
        assert now != fixture, f"{case.name} changes nothing"


def test_elsewhere_names_tests_that_exist():
    for e in corpus.ELSEWHERE:
        path, name = e.test.split("::")
        assert f"def {name}(" in (corpus.REPO / path).read_text(), e.test


def test_readme_section_is_the_rendered_corpus():
    readme = (corpus.REPO / "README.md").read_text()
    assert readme.count(corpus.README_START) == readme.count(corpus.README_END) == 1
    assert corpus.readme_section(readme) == corpus.render_readme_section(), (
        "README.md's 'What the gate refuses' differs from tests/corpus.py: paste `python tests/corpus.py` "
        "between the refuses markers")
    assert readme.index(corpus.README_END) < readme.index("## Development")


def test_the_table_names_every_case_once_with_its_outcome():
    table = corpus.render_table().splitlines()
    for line in table:
        assert line.count(" | ") == 3, line  # no stray pipe inside a cell
    for case in CASES:
        rows = [line for line in table if " ".join(case.what.split()) in line]
        assert len(rows) == 1, case.name
        assert corpus.OUTCOMES[case.exit] in rows[0], case.name
    for name in (n for names in corpus.TOPICS.values() for n in names):
        assert name in {c.name for c in CASES}, name


# -- fuzzing: mutations of the real fixture files -------------------------------------------------

# RUNVERDICT_FUZZ_EXAMPLES=1000 for a longer hunt than CI's
FUZZ = settings(max_examples=int(os.environ.get("RUNVERDICT_FUZZ_EXAMPLES", "30")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TOKENS = [b"", b"nan", b"NA", b"inf", b"-inf", b"x", b"1e999", b"[0.1 0.9]", b"[]", b"[[0.5]]", b"1,5", b'"',
          b"True", b"\x00", b"\xff", b"-0", b"0x10", b"\xef\xbb\xbf", b"\r", b"\n", b"1_0", b"null"]


@st.composite
def mutations(draw, data: bytes, lines=True):
    """``data`` changed once or a few times, as a disk, an editor or a buggy writer would."""
    for _ in range(draw(st.integers(1, 3))):
        kinds = ["flip", "set", "truncate", "insert", "token"] + (["delete_line", "duplicate_line", "swap_lines"]
                                                                 if lines else [])
        kind = draw(st.sampled_from(kinds))
        if not data:
            data = draw(st.sampled_from(TOKENS))
            continue
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        elif kind == "set":
            data = data[:at] + draw(st.sampled_from([b",", b"[", b"]", b"\n", b".", b"e", b"-", b" ", b'"'])) + data[at + 1:]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif kind == "token":  # replace the number around ``at`` by an odd token
            start = max(data.rfind(b",", 0, at), data.rfind(b"\n", 0, at)) + 1
            end = min([i for i in (data.find(b",", at), data.find(b"\n", at)) if i >= 0], default=len(data))
            data = data[:start] + draw(st.sampled_from(TOKENS)) + data[end:]
        else:
            split = data.split(b"\n")
            i = draw(st.integers(0, len(split) - 1))
            if kind == "delete_line":
                del split[i]
            elif kind == "duplicate_line":
                split.insert(i, split[i])
            else:
                j = draw(st.integers(0, len(split) - 1))
                split[i], split[j] = split[j], split[i]
            data = b"\n".join(split)
    return data


def spec_of(*kinds) -> str:
    """checks/run3.toml with only the checks of ``kinds`` (and no advice)."""
    head, *blocks = corpus.SPEC.read_text().split("[[advice]]")[0].split("[[check]]")
    kept = [b for b in blocks if re.search(r'^kind = "([a-z_]+)"', b, re.MULTILINE).group(1) in kinds]
    return "[[check]]".join([head, *kept])


SPECS = {
    "predictions": parse_spec(spec_of("saturation", "range", "statistic", "auc"), "predictions.toml"),
    "history": parse_spec(spec_of("history"), "history.toml"),
    "config": parse_spec(spec_of("config"), "config.toml"),
    "model": parse_spec(spec_of("architecture"), "model.toml"),
    "returns": parse_spec(spec_of("pbo", "sharpe"), "returns.toml"),
}
FIXTURE_BYTES = {name: (corpus.FIXTURE / name).read_bytes()
                 for name in ("predictions.csv", "history.csv", "history.json", "config.json", "returns.csv")}


def gate_on(artefact, files: dict):
    """Evaluate the checks of ``artefact`` on a run holding ``files`` (relative path -> bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        report = evaluate(SPECS[artefact], root)  # never raises: a broken artefact is an error result
        json.dumps(report_dict(report), allow_nan=False)  # and every report is strict JSON
    assert {r.status for r in report.results} <= {PASS, FAIL, ERROR}
    for r in report.results:
        if r.status == ERROR:
            assert r.evidence.get("file"), r
    return {r.id: r for r in report.results}


def reference_cells(data: bytes):
    """(header, rows of cells) as text, or None for a file with quotes or without a line. A byte that is
    not UTF-8 becomes a lone surrogate, which no number holds."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8", errors="surrogateescape")
    if '"' in text:
        return None  # quoting: the reference leaves it to the real parser
    lines = re.split(r"\r\n|\r|\n", text)
    while lines and lines[-1] == "":
        lines.pop()  # blank lines at the very end are not rows
    if not lines:
        return None
    return lines[0].split(","), [line.split(",") if line else [] for line in lines[1:]]


def finite_number(cell: str) -> bool:
    token = cell.strip()
    if token.startswith("[") and token.endswith("]"):
        token = token[1:-1].strip()
    try:
        return math.isfinite(float(token))
    except ValueError:
        return False


def all_finite_numbers(parsed, column) -> bool:
    """True when ``column`` is there once and every row has all fields and a finite number in it."""
    if parsed is None:
        return False
    header, body = parsed
    names = [h.strip() for h in header]
    if names.count(column) != 1 or not body:
        return False
    i = names.index(column)
    return all(len(row) == len(header) and finite_number(row[i]) for row in body)


@FUZZ
@given(mutations(FIXTURE_BYTES["predictions.csv"]))
def test_mutated_predictions_never_pass_on_what_is_not_numbers(data):
    results = gate_on("predictions", {"predictions.csv": data})
    parsed = reference_cells(data)
    if parsed is None and b'"' in data:
        return  # quoted cells: no reference here; the gate answered without crashing
    for check in SPECS["predictions"].checks:
        result = results[check.id]
        columns = [check.params["column"]]
        if check.kind == "auc" and result.status == PASS:  # the label the layout bound: one of the conventions
            label = result.evidence["label_column"]
            head = check.params["column"]
            assert label.lower() in {p.format(h=head).lower() for p in LABEL_PATTERNS}, label
            assert [n.strip().lower() for n in parsed[0]].count(label.lower()) == 1, label
            columns.append(label)
        if not all(all_finite_numbers(parsed, c) for c in columns):
            assert result.status != PASS, (check.id, result.message)


@FUZZ
@given(mutations(FIXTURE_BYTES["returns.csv"]))
def test_mutated_returns_never_pass_on_what_is_not_numbers(data):
    results = gate_on("returns", {"returns.csv": data})
    parsed = reference_cells(data)
    if parsed is None and b'"' in data:
        return
    # an unnamed first column is pandas' index (README), never a trial: the rest must be numbers
    names = [c.strip() for c in parsed[0]] if parsed else []
    trials = names[1:] if len(names) > 1 and names[0] == "" else names
    if parsed is None or not all(all_finite_numbers(parsed, c) for c in trials):
        for check_id, r in results.items():
            assert r.status != PASS, (check_id, r.message)


def history_cell_ok(cell: str) -> bool:
    """A number (inf or NaN too: at an epoch that is not judged they are evidence, not errors) or a
    missing-value token."""
    if cell.strip().lower() in MISSING_TOKENS:
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


@FUZZ
@given(mutations(FIXTURE_BYTES["history.csv"]))
def test_mutated_history_csv_never_passes_on_what_is_not_numbers(data):
    results = gate_on("history", {"history.csv": data})
    parsed = reference_cells(data)
    if parsed is None and b'"' in data:
        return
    broken = parsed is None or any(len(row) != len(parsed[0]) or not all(history_cell_ok(c) for c in row)
                                   for row in parsed[1] if row)
    if broken:
        for check_id, r in results.items():
            assert r.status != PASS, (check_id, r.message)
        return
    header = [h.strip() for h in parsed[0]]
    for check in SPECS["history"].checks:
        metric = check.params["metric"]
        if header.count(metric) != 1:
            assert results[check.id].status != PASS
        elif check.params["epoch"] == "last":
            epochs = [row for row in parsed[1] if row]
            if not epochs or not finite_number(epochs[-1][header.index(metric)]):
                assert results[check.id].status != PASS, (check.id, results[check.id].message)


@FUZZ
@given(mutations(FIXTURE_BYTES["history.json"]))
def test_mutated_history_json_never_crashes(data):
    results = gate_on("history", {"history.json": data})
    try:
        json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        for r in results.values():
            assert r.status != PASS, r.message


@FUZZ
@given(mutations(FIXTURE_BYTES["config.json"]))
def test_mutated_config_never_crashes(data):
    results = gate_on("config", {"config.json": data})
    try:
        json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        for r in results.values():
            assert r.status != PASS, r.message


def keras_with_config(config_json: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(corpus.FIXTURE / "model.keras") as src, zipfile.ZipFile(buffer, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, config_json if name == "config.json" else src.read(name))
    return buffer.getvalue()


with zipfile.ZipFile(corpus.FIXTURE / "model.keras") as _zf:
    MODEL_CONFIG = _zf.read("config.json")


@FUZZ
@given(mutations(MODEL_CONFIG, lines=False))
def test_mutated_model_config_never_crashes(config_json):
    results = gate_on("model", {"model.keras": keras_with_config(config_json)})
    try:
        json.loads(config_json)
    except (UnicodeDecodeError, ValueError, RecursionError):
        for r in results.values():
            assert r.status == ERROR, r.message


@FUZZ
@given(mutations((corpus.FIXTURE / "model.keras").read_bytes(), lines=False))
def test_mutated_model_file_never_crashes(data):
    gate_on("model", {"model.keras": data})


EVENTS = {which: corpus.events_file(corpus.FIXTURE, which) for which in ("train", "validation")}


@FUZZ
@given(st.sampled_from(["train", "validation"]), st.data())
def test_mutated_events_files_are_an_error_or_a_history(which, data):
    original = EVENTS[which].read_bytes()
    mutated = data.draw(mutations(original, lines=False))
    files = {f"logs/{w}/{p.name}": (mutated if w == which else p.read_bytes()) for w, p in EVENTS.items()}
    results = gate_on("history", files)
    ends = {offset + 16 + length for offset, length in corpus.records(original)} | {0}
    if mutated != original and not (original.startswith(mutated) and len(mutated) in ends):
        # anything but a cut at a record boundary fails a CRC, or a check of the file's structure
        for r in results.values():
            assert r.status == ERROR, r.message


@FUZZ
@given(mutations(corpus.SPEC.read_bytes()))
def test_mutated_spec_is_a_spec_or_a_spec_error(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # load_spec refuses it before parsing (tests/test_spec.py)
    try:
        spec = parse_spec(text, "run3.toml")
    except SpecError as exc:
        assert str(exc).startswith("run3.toml")
        return
    assert spec.checks


# -- fuzzing: each loader on arbitrary bytes, where no other test does ------------------------------

@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["history.csv", "history.json", "training.log"]), st.binary(max_size=300))
def test_history_loader_on_arbitrary_bytes(name, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            history = read_history(path)
        except ArtefactError as exc:
            assert str(exc).startswith(os.fspath(path))
            return
    assert history.n_epochs >= 1
    for values in history.metrics.values():
        assert values.dtype.kind == "f" and values.size == history.n_epochs


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["config.json", "config.toml", "config.yaml"]),
       st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_config_loader_on_arbitrary_bytes(name, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            config = read_config(path)
        except ArtefactError as exc:
            assert str(exc).startswith(os.fspath(path))
            return
    assert isinstance(config, dict)
