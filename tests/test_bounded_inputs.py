"""Inputs small on disk and huge or unrepresentable once read ("Fail closed, round two"): a YAML
alias bomb, a Parquet file of hundreds of millions of zeros, integers beyond 2**53, a history value
that is not a number, returns whose mean overflows. Each is an error naming the file (exit 2),
never a hang, an exit 3 or a warning on stderr."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from factory import SPEC

from validators import cli

RUNS = Path(__file__).resolve().parent.parent / "fixtures" / "runs"


@pytest.fixture
def run_dir(tmp_path) -> Path:
    path = tmp_path / "run"
    shutil.copytree(RUNS / "run3_relu", path)
    return path


@contextmanager
def within(seconds):
    """Fail, rather than hang, when the block runs longer than ``seconds``."""
    def alarm(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    start = time.monotonic()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - start < seconds


def gate(run_dir, capsys, spec=SPEC, *extra):
    if not isinstance(spec, Path):
        path = run_dir.parent / "gate.toml"
        path.write_text(spec)
        spec = path
    report = run_dir.parent / "verdict.json"
    code = cli.main(["check", os.fspath(run_dir), "--spec", os.fspath(spec), "--json", os.fspath(report), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "RuntimeWarning" not in err
    checks = {c["id"]: c for c in json.loads(report.read_text())["checks"]} if report.exists() else {}
    return code, out + err, checks


def messages(checks) -> str:
    return "\n".join(str(c.get("message")) for c in checks.values())


# -- 12: YAML aliases expand within a bound ---------------------------------------------------------

def alias_bomb(levels=9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_in_seconds(run_dir, capsys):
    (run_dir / "config.json").unlink()
    bomb = alias_bomb()
    assert len(bomb) < 2000
    (run_dir / "config.yaml").write_text(bomb)
    with within(5):
        code, out, checks = gate(run_dir, capsys)
    assert code == 2, out
    assert "config.yaml:6:5: YAML expands to more than 100000 nodes (an alias bomb?)" in messages(checks)
    for check_id in ("config-loss-weights", "config-volatility-activation"):
        assert checks[check_id]["status"] == "error"


def test_a_recursive_yaml_anchor_is_an_error(run_dir, capsys):
    (run_dir / "config.json").unlink()
    (run_dir / "config.yaml").write_text("loss_weights: &a [*a]\n")
    code, out, checks = gate(run_dir, capsys)
    assert code == 2, out
    assert "config.yaml:1:15: YAML alias refers to a node that contains it (a recursive anchor)" in messages(checks)


def test_shared_yaml_aliases_within_the_bound_still_read(run_dir, capsys):
    (run_dir / "config.json").unlink()
    (run_dir / "config.yaml").write_text(
        "w: &w {direction: 1.0, volatility: 0.3, magnitude: 0.3}\n"
        "relu: &relu {activation: relu}\n"
        "loss_weights: *w\n"
        "heads: {volatility: *relu, magnitude: *relu, direction: {activation: sigmoid}}\n")
    _, out, checks = gate(run_dir, capsys)
    assert checks["config-loss-weights"]["status"] == "pass", out
    assert checks["config-magnitude-activation"]["status"] == "pass", out


# -- 14: a Parquet file is judged by its metadata before it is read --------------------------------

RETURNS_SPEC = """
[[check]]
id = "sharpe"
kind = "sharpe"
severity = "must"
gt = 0.0
"""


def zeros_parquet(path, rows, chunk=10_000_000, name="c=0.5", **options):
    """``rows`` zstd-compressed int8 zeros in one column; ``options`` go to ``pyarrow.parquet.ParquetWriter``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({name: pa.array(np.zeros(min(rows, chunk), dtype=np.int8))})
    with pq.ParquetWriter(path, table.schema, compression="zstd", **options) as writer:
        for _ in range(rows // table.num_rows):
            writer.write_table(table)


def test_a_parquet_file_of_200_million_zeros_is_refused_from_its_metadata(run_dir, capsys):
    from validators.artefacts.tables import MAX_FILE_BYTES_ENV

    (run_dir / "returns.csv").unlink()
    zeros_parquet(run_dir / "returns.parquet", 200_000_000)
    assert (run_dir / "returns.parquet").stat().st_size < 5_000_000
    with within(10):
        code, out, checks = gate(run_dir, capsys, RETURNS_SPEC)
    assert code == 2, out
    message = checks["sharpe"]["message"]
    assert "returns.parquet: the Parquet metadata says 200000000 rows, more than the" in message
    assert MAX_FILE_BYTES_ENV in message


def test_the_parquet_limits_follow_the_environment_variable(run_dir, capsys, monkeypatch):
    (run_dir / "returns.csv").unlink()
    zeros_parquet(run_dir / "returns.parquet", 100_000)
    monkeypatch.setenv("RUNVERDICT_MAX_FILE_BYTES", str(64 * 50_000))
    code, out, checks = gate(run_dir, capsys, RETURNS_SPEC)
    assert code == 2, out
    assert ("the Parquet metadata says 100000 rows, more than the 50000 a table may have (one per 64 bytes of the "
            "3200000-byte limit): refused before reading; set RUNVERDICT_MAX_FILE_BYTES") in checks["sharpe"]["message"]


def test_parquet_columns_too_large_uncompressed_are_refused(run_dir, capsys, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (run_dir / "returns.csv").unlink()
    cells = [f"0.{k % 10}" + "0" * 200 for k in range(1000)]  # 203 bytes a cell, plain encoded: compresses well
    pq.write_table(pa.table({"c=0.5": cells, "c=0.6": cells[::-1]}), run_dir / "returns.parquet",
                   compression="zstd", use_dictionary=False)
    assert (run_dir / "returns.parquet").stat().st_size < 20_000
    monkeypatch.setenv("RUNVERDICT_MAX_FILE_BYTES", str(64 * 1000))  # 1000 rows allowed, 400 KB of text is not
    code, out, checks = gate(run_dir, capsys, RETURNS_SPEC)
    assert code == 2, out
    assert "bytes uncompressed, more than the 64000-byte limit for a table" in checks["sharpe"]["message"]


# -- 18: integers a float64 cannot hold ------------------------------------------------------------

@pytest.mark.parametrize("dtype, big", [("int64", 2 ** 53 + 1), ("uint64", 2 ** 64 - 1), ("int64", -(2 ** 63) + 1)])
def test_parquet_integers_beyond_2_53_are_refused_with_their_row(run_dir, capsys, dtype, big):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    (run_dir / "returns.csv").unlink()
    trial = [int(v) for v in rng.integers(0, 11, 60)]
    trial[7] = big
    pq.write_table(pa.table({"c=0.5": pa.array(trial, type=getattr(pa, dtype)()),
                             "c=0.6": rng.normal(0, 1, 60)}), run_dir / "returns.parquet")
    code, out, checks = gate(run_dir, capsys, RETURNS_SPEC)
    assert code == 2, out
    assert ("returns.parquet: column 'c=0.5', row 7: an integer a float64 cannot hold exactly (beyond 2**53 = "
            "9007199254740992)") in checks["sharpe"]["message"]
    assert checks["sharpe"]["message"].endswith(f": {big}")


def test_parquet_integers_a_float64_holds_are_read(run_dir, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from validators.artefacts.tables import read_table

    path = run_dir / "ints.parquet"
    values = [2 ** 53, -(2 ** 53), 2 ** 60, None, 3]
    pq.write_table(pa.table({"a": pa.array(values, type=pa.int64()), "b": pa.array([1, 2, 3, 4, 2 ** 63],
                                                                                    type=pa.uint64())}), path)
    table = read_table(path)
    a = table.numeric("a").values
    assert a[:3].tolist() == [2.0 ** 53, -(2.0 ** 53), 2.0 ** 60] and np.isnan(a[3]) and a[4] == 3.0
    assert table.numeric("b").values[-1] == 2.0 ** 63


# -- 29: a history value that is not a number, by line and column -----------------------------------

HISTORY_SPEC = """
[artefacts]
history = "history.json"

[[check]]
id = "loss-finite"
kind = "history"
severity = "must"
metric = "loss"
epoch = "last"
lt = 10.0
"""


@pytest.mark.parametrize("text, line, column, epoch", [
    ('{"loss": [0.5, "x"]}', 1, 16, 1),
    ('{\n  "loss": [\n    0.5,\n    0.4,\n    "x"\n  ],\n  "val_loss": [1, 2, 3]\n}', 5, 5, 2),
    ('{"history": {"val_loss": [1, 2], "loss": [0.5, [1, 2]]}, "loss": [0, 0]}', 1, 48, 1),
    ('{"loss": ["x", 1], "loss": [1, "y"]}', 1, 32, 1),  # as json.loads does, the last of two keys counts
])
def test_a_history_value_that_is_not_a_number_names_its_line_and_column(run_dir, capsys, text, line, column, epoch):
    (run_dir / "history.json").write_text(text)
    code, out, checks = gate(run_dir, capsys, HISTORY_SPEC)
    assert code == 2, out
    message = checks["loss-finite"]["message"]
    assert f"history.json:{line}:{column}: metric 'loss', epoch {epoch}: " in message, message
    assert "is not a number" in message


def test_a_history_integer_too_large_names_its_line_and_column(run_dir, capsys):
    (run_dir / "history.json").write_text('{"loss": [0.5,\n 1' + "0" * 400 + "]}")
    code, out, checks = gate(run_dir, capsys, HISTORY_SPEC)
    assert code == 2, out
    assert "history.json:2:2: metric 'loss', epoch 1: 1000" in checks["loss-finite"]["message"]


# -- 30: returns whose mean or variance overflows ---------------------------------------------------

def test_returns_near_1e307_are_an_error_naming_the_trial_without_warnings(run_dir, capsys):
    rng = np.random.default_rng(2)
    rows, trials = 60, 4
    values = rng.uniform(0.5, 1.0, (rows, trials)) * 1e307
    header = ",".join(f"c={0.5 + k / 10:g}" for k in range(trials))
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in values)
    (run_dir / "returns.csv").write_text(header + "\n" + body + "\n")
    spec = RETURNS_SPEC + '\n[[check]]\nid = "pbo"\nkind = "pbo"\nseverity = "must"\nn_splits = 4\nlt = 0.3\n'
    with _no_warnings():
        code, out, checks = gate(run_dir, capsys, spec)
    assert code == 2, out
    for check_id in ("sharpe", "pbo"):
        message = checks[check_id]["message"]
        assert "returns.csv: returns of trial 'c=0.5' overflow a float64 in their mean or variance (values up to " \
               "1e+307)" in message, message
        assert "every trial is constant" not in message


@contextmanager
def _no_warnings():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
