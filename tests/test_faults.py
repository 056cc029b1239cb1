"""Faults around the gate: reports that cannot be written, a full disk, a run still being written,
two gates racing for one report, ``python -O``, and exit codes that never come from counts.

Each disk test runs twice, as its id says: ``[tmpfs]`` makes the disk full or read-only for real on
a 256 KiB tmpfs the test mounts (root with ``CAP_SYS_ADMIN``, as on this machine; skipped where
mounting is impossible), ``[simulated]`` raises what such a disk raises (``ENOSPC`` from
``os.fsync``, ``EROFS`` from ``tempfile.mkstemp``) and runs everywhere.
"""

from __future__ import annotations

import ast
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import corpus
import pytest

from validators import cli
from validators.artefacts import tables
from validators.reports.jsonreport import report_dict

REPO = corpus.REPO
SPEC = corpus.SPEC
RUNS = REPO / "fixtures" / "runs"
PYTHON = sys.executable
REPORTS = {"--json": "verdict.json", "--junit": "junit.xml", "--markdown": "summary.md", "--html": "report.html"}
WRITERS = {"--json": "JSON", "--junit": "JUnit", "--markdown": "Markdown", "--html": "HTML"}


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "PYTHONOPTIMIZE", "GITHUB_STEP_SUMMARY")}
    env.update(extra)
    return env


def fixture_copy(tmp_path, name="run3_relu") -> Path:
    run_dir = tmp_path / name
    shutil.copytree(RUNS / name, run_dir)
    return run_dir


def statuses(report_path) -> dict:
    return {c["id"]: c["status"] for c in json.loads(Path(report_path).read_text())["checks"]}


# -- a small file system: a real tmpfs where mounting is allowed, else a simulation ----------------

def _mount(folder: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", os.fspath(folder)],
                          capture_output=True, text=True, check=False)
    return done.returncode == 0


def _umount(folder: Path) -> None:
    subprocess.run(["umount", "-l", os.fspath(folder)], capture_output=True, check=False)


@pytest.fixture(params=["tmpfs", "simulated"])
def small_fs(request, tmp_path):
    """(folder, how): a 256 KiB tmpfs mounted on ``folder`` ("tmpfs"), or a plain folder ("simulated")."""
    folder = tmp_path / "reports"
    folder.mkdir()
    mounted = request.param == "tmpfs" and _mount(folder, "size=256k,mode=0755")
    if request.param == "tmpfs" and not mounted:
        pytest.skip("cannot mount a tmpfs here: the [simulated] variant stands in")
    try:
        yield folder, request.param
    finally:
        if mounted:
            _umount(folder)


def fill(folder: Path) -> None:
    """Fill the file system of ``folder`` to the last byte."""
    with open(folder / "filler", "wb", buffering=0) as handle:
        for size in (65536, 4096, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    try:
        os.close(os.open(folder / "probe", os.O_CREAT | os.O_WRONLY))
        with open(folder / "probe", "wb") as probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError:
        pass
    else:
        pytest.fail("the file system is not full")
    finally:
        if (folder / "probe").exists():
            os.unlink(folder / "probe")


def previous_reports(folder: Path) -> dict:
    old = {}
    for name in REPORTS.values():
        old[name] = f"previous {name}, left by an earlier gate\n".encode()
        (folder / name).write_bytes(old[name])
    return old


def report_args(folder: Path) -> list[str]:
    return [arg for option, name in REPORTS.items() for arg in (option, os.fspath(folder / name))]


def test_disk_full_keeps_the_previous_report(small_fs, tmp_path, capsys, monkeypatch):
    folder, how = small_fs
    old = previous_reports(folder)
    if how == "tmpfs":
        fill(folder)
    else:  # ENOSPC where a full disk reports it for a small file: at fsync
        def no_space(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "fsync", no_space)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code = cli.main(["check", os.fspath(RUNS / "run3_relu"), "--spec", os.fspath(SPEC), *report_args(folder)])
    out, err = capsys.readouterr()
    assert code == 2, err  # a passing run whose reports cannot be written is an error
    for option, name in REPORTS.items():
        assert (f"runverdict: cannot write the {WRITERS[option]} report '{folder / name}': No space left on device; "
                "the previous report, if any, is unchanged") in err, (how, err)
        assert (folder / name).read_bytes() == old[name], (how, name)
    assert sorted(os.listdir(folder)) == sorted(list(REPORTS.values()) + (["filler"] if how == "tmpfs" else [])), \
        "a temporary file was left behind"
    assert "Verdict: PASS" in out and "Traceback" not in err


def test_a_failing_run_on_a_full_disk_is_still_an_error(small_fs, capsys, monkeypatch):
    folder, how = small_fs
    (folder / "verdict.json").write_text('{"verdict": "previous"}')
    if how == "tmpfs":
        fill(folder)
    else:
        def no_space(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "fsync", no_space)
    code = cli.main(["check", os.fspath(RUNS / "run2_sigmoid"), "--spec", os.fspath(SPEC), "--quiet",
                     "--json", os.fspath(folder / "verdict.json")])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err  # error takes precedence over fail
    assert (folder / "verdict.json").read_text() == '{"verdict": "previous"}'


def test_read_only_folder_keeps_the_previous_report(small_fs, capsys, monkeypatch):
    folder, how = small_fs
    old = previous_reports(folder)
    if how == "tmpfs":
        remounted = subprocess.run(["mount", "-o", "remount,ro", os.fspath(folder)], capture_output=True,
                                   check=False)
        assert remounted.returncode == 0, remounted.stderr
        reason = "Read-only file system"
    else:
        def read_only(*args, **kwargs):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))

        monkeypatch.setattr(tempfile, "mkstemp", read_only)
        reason = os.strerror(errno.EROFS)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code = cli.main(["check", os.fspath(RUNS / "run3_relu"), "--spec", os.fspath(SPEC), "--quiet",
                     *report_args(folder)])
    err = capsys.readouterr().err
    assert code == 2
    for option, name in REPORTS.items():
        assert f"cannot write the {WRITERS[option]} report '{folder / name}': {reason}" in err, err
        assert (folder / name).read_bytes() == old[name]
    assert sorted(os.listdir(folder)) == sorted(REPORTS.values())


def test_report_path_under_a_regular_file(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    code = cli.main(["check", os.fspath(RUNS / "run2_sigmoid"), "--spec", os.fspath(SPEC), "--quiet",
                     "--json", os.fspath(tmp_path / "file" / "verdict.json")])
    err = capsys.readouterr().err
    assert code == 2  # the run fails (1), the report cannot be written (2): 2
    assert f"cannot write the JSON report '{tmp_path / 'file' / 'verdict.json'}': Not a directory" in err
    assert os.listdir(tmp_path) == ["file"]


def test_step_summary_that_cannot_be_appended_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", os.fspath(tmp_path / "missing" / "summary.md"))
    code = cli.main(["check", os.fspath(RUNS / "run3_relu"), "--spec", os.fspath(SPEC), "--quiet"])
    assert code == 2
    assert "cannot append to $GITHUB_STEP_SUMMARY" in capsys.readouterr().err


# -- a run still being written ---------------------------------------------------------------------

class Writer(threading.Thread):
    """Training still running: appends ``data`` to ``path`` when told to, then says it is done.

    The gate's loader calls ``tables._after_read`` between its read and its second ``fstat``; the
    test makes that hook wake this thread and wait for its write, so the write always lands there.
    """

    def __init__(self, path: Path, data: bytes):
        super().__init__(daemon=True)
        self.path, self.data = path, data
        self.go, self.done = threading.Event(), threading.Event()

    def run(self):
        if self.go.wait(timeout=60):
            with open(self.path, "ab") as handle:
                handle.write(self.data)
        self.done.set()

    def hook(self, path):
        if os.fspath(path) == os.fspath(self.path) and not self.go.is_set():
            self.go.set()
            assert self.done.wait(timeout=60)


GROWING = {  # file -> (bytes training appends, checks that read it)
    "predictions.csv": (b"2025-07-03,[0.5],[0.05],[0.05],1,0.05,0.05,0.05\n", corpus.PREDICTIONS),
    "history.csv": (b"21,0.88,0.5,0.5,0.001,0.03,0.86,0.5,0.5,0.001,0.03,0.0005,0.02,0.0002,0.015\n",
                    corpus.HISTORY_READERS),
    "returns.csv": (b",".join([b"0.001"] * 21) + b"\n", corpus.RETURNS),
    "config.json": (b"\n", corpus.CONFIG),
    "history.json": (b"\n", corpus.HISTORY_READERS),
}


@pytest.mark.parametrize("name", list(GROWING))
def test_a_file_growing_during_the_read_is_refused(name, tmp_path, capsys, monkeypatch):
    run_dir = fixture_copy(tmp_path)
    if name == "history.json":
        (run_dir / "history.csv").unlink()
    data, checks = GROWING[name]
    path = run_dir / name
    size = path.stat().st_size
    writer = Writer(path, data)
    writer.start()
    monkeypatch.setattr(tables, "_after_read", writer.hook)
    report = tmp_path / "verdict.json"
    code = cli.main(["check", os.fspath(run_dir), "--spec", os.fspath(SPEC), "--json", os.fspath(report)])
    out = capsys.readouterr().out
    writer.join(timeout=60)
    assert writer.go.is_set(), "the loader never reached its second fstat"
    assert code == 2
    message = (f"{path}: changed while being read (size {size} -> {size + len(data)}): the run is still being "
               "written; rerun when training has finished")
    assert message in out
    found = statuses(report)
    for check in checks:
        assert found[check] == "error", check
    others = set(corpus.EVERY_CHECK) - set(checks) - {"direction-auc-exact"}  # that one peeks at the history
    assert {found[c] for c in others} == {"pass"}


def test_a_half_written_row_is_reported_as_a_run_still_being_written(tmp_path, capsys, monkeypatch):
    # the writer appends half a row while Arrow reads: the parse error is explained by the change
    run_dir = fixture_copy(tmp_path)
    path = run_dir / "predictions.csv"
    size = path.stat().st_size
    real = tables._read_csv

    def read_while_written(p, *args, **kwargs):
        if os.fspath(p) == os.fspath(path):
            with open(p, "ab") as handle:
                handle.write(b"2025-07-03,[0.5")
        return real(p, *args, **kwargs)

    monkeypatch.setattr(tables, "_read_csv", read_while_written)
    report = tmp_path / "verdict.json"
    code = cli.main(["check", os.fspath(run_dir), "--spec", os.fspath(SPEC), "--json", os.fspath(report)])
    assert code == 2
    assert f"{path}: changed while being read (size {size} -> {size + 15})" in capsys.readouterr().out
    found = statuses(report)
    assert {found[c] for c in corpus.PREDICTIONS} == {"error"}
    assert {found[c] for c in corpus.RETURNS + corpus.HISTORY} == {"pass"}


def test_an_unchanged_file_is_read_as_usual(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(tables, "_after_read", calls.append)
    table = tables.read_table(RUNS / "run3_relu" / "predictions.csv", ["volatility"])
    assert table.n_rows == 1000 and calls == [os.fspath(RUNS / "run3_relu" / "predictions.csv")]


def test_a_model_rewritten_during_the_read_is_refused(tmp_path, monkeypatch):
    from validators.artefacts import keras_archive
    from validators.gate import evaluate
    from validators.spec import load_spec

    run_dir = fixture_copy(tmp_path)
    real = keras_archive._read_member

    def read_while_written(zf, path, name, limit):
        data = real(zf, path, name, limit)
        with open(path, "ab") as handle:
            handle.write(b"\0" * 64)  # Keras still saving
        return data

    monkeypatch.setattr(keras_archive, "_read_member", read_while_written)
    results = {r.id: r for r in evaluate(load_spec(SPEC), run_dir).results}
    assert results["volatility-head"].status == "error"


# -- two gates writing one report path at once ----------------------------------------------------

LOOP = """
import sys
from validators.cli import main
run, spec, out, n = sys.argv[1:]
codes = sorted({main(["check", run, "--spec", spec, "--json", out, "--quiet"]) for _ in range(int(n))})
print(codes, file=sys.stderr)
"""


def test_concurrent_gates_never_tear_the_report(tmp_path):
    spec = tmp_path / "predictions.toml"  # the predictions checks: quick, so the gates race often
    spec.write_text(corpus.SPEC.read_text().split("# ---- Success criteria, Must Have")[0].split("[[advice]]")[0])
    out = tmp_path / "reports" / "verdict.json"
    out.parent.mkdir()
    iterations = 40
    gates = [subprocess.Popen([PYTHON, "-c", LOOP, os.fspath(RUNS / run), os.fspath(spec), os.fspath(out),
                               str(iterations)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=clean_env())
             for run in ("run3_relu", "run2_sigmoid")]
    reads, verdicts, deadline = 0, set(), time.monotonic() + 300
    while any(g.poll() is None for g in gates) and time.monotonic() < deadline:
        try:
            text = out.read_text()
        except FileNotFoundError:
            continue
        report = json.loads(text)  # a torn report would not parse
        assert len(report["checks"]) == 6 and report["verdict"] in ("pass", "fail")
        reads += 1
        verdicts.add(report["verdict"])
        time.sleep(0.002)  # a shared machine
    errors = [g.communicate(timeout=60)[1] for g in gates]
    assert [g.returncode for g in gates] == [0, 0], errors
    assert errors[0].strip().endswith("[0]") and errors[1].strip().endswith("[1]"), errors
    assert reads > 10, reads
    assert os.listdir(out.parent) == ["verdict.json"], "a temporary file was left behind"
    print(f"{reads} whole reports read, verdicts {sorted(verdicts)}")


# -- python -O, and exit codes that never come from counts ----------------------------------------

def test_no_check_is_an_assert_statement():
    for path in sorted((REPO / "validators").rglob("*.py")):
        tree = ast.parse(path.read_text(), os.fspath(path))
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert not asserts, f"{path.relative_to(REPO)}: assert on lines {asserts} vanishes under python -O"


def test_python_O_gives_the_same_verdict_on_a_failing_fixture_run(tmp_path):
    runs = {}
    for flags in ([], ["-O"]):
        out = tmp_path / f"verdict{''.join(flags)}.json"
        argv = [PYTHON, *flags, "-m", "validators", "check", os.fspath(RUNS / "run2_sigmoid"), "--spec",
                os.fspath(SPEC), "--json", os.fspath(out)]
        runs[tuple(flags)] = (subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                               env=clean_env()), out)
    done = {}
    for flags, (proc, out) in runs.items():
        _, stderr = proc.communicate(timeout=300)
        assert out.exists(), stderr
        report = json.loads(out.read_text())
        done[flags] = (proc.returncode, {c["id"]: (c["status"], c["observed"]) for c in report["checks"]})
    assert done[()][0] == done[("-O",)][0] == 1
    assert done[()][1] == done[("-O",)][1]


def many_checks(n, key, equals) -> str:
    return "\n".join(f'[[check]]\nid = "c{i}"\nkind = "config"\nseverity = "must"\nkey = "{key}"\nequals = {equals}\n'
                     for i in range(n))


@pytest.mark.parametrize("n, key, expected", [
    (256, "seed", 1),  # 256 failing checks: exit 1, not 256 % 256 == 0
    (256, "no_such_key", 2),  # 256 checks in error: exit 2
    (257, "seed", 1),
    (512, "no_such_key", 2),
])
def test_exit_codes_never_come_from_counts(n, key, expected, tmp_path):
    spec = tmp_path / "many.toml"
    spec.write_text(many_checks(n, key, 0))
    report = tmp_path / "verdict.json"
    done = subprocess.run([PYTHON, "-m", "validators", "check", os.fspath(RUNS / "run3_relu"), "--spec",
                           os.fspath(spec), "--quiet", "--json", os.fspath(report)],
                          capture_output=True, text=True, env=clean_env(), timeout=300, check=False)
    assert done.returncode == expected, done.stdout[-500:] + done.stderr
    data = json.loads(report.read_text())
    assert data["exit_code"] == expected
    assert len(data["checks"]) == n
    assert {c["status"] for c in data["checks"]} == {"fail" if expected == 1 else "error"}


def test_256_failing_checks_in_process_too(tmp_path, capsys):
    spec = tmp_path / "many.toml"
    spec.write_text(many_checks(256, "seed", 0))
    assert cli.main(["check", os.fspath(RUNS / "run3_relu"), "--spec", os.fspath(spec), "--quiet"]) == 1
    assert "0 passed, 256 failed" in capsys.readouterr().out


def test_report_dict_of_a_fault_is_strict_json(tmp_path):
    from validators.gate import evaluate
    from validators.spec import load_spec

    run_dir = fixture_copy(tmp_path)
    (run_dir / "predictions.csv").write_bytes(b"")
    json.dumps(report_dict(evaluate(load_spec(SPEC), run_dir)), allow_nan=False)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the umask from /proc/self/status")
def test_writing_a_report_never_changes_the_umask(tmp_path, capsys, monkeypatch):
    # os.umask(0) and back would leave, for an instant, every file another thread creates world-writable
    def changed(mask):
        raise AssertionError(f"os.umask({mask:o}) called while writing a report")

    previous = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", changed)
        code = cli.main(["check", os.fspath(RUNS / "run3_relu"), "--spec", os.fspath(SPEC), "--quiet",
                         "--json", os.fspath(tmp_path / "verdict.json")])
        monkeypatch.undo()
    finally:
        os.umask(previous)
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "verdict.json").stat().st_mode & 0o777 == 0o640
