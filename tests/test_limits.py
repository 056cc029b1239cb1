"""Limits: cells are bounded before parsing (length, nesting), files before reading (size), and
the README states every limit (tests/test_corpus.py keeps its table equal to tests/corpus.py)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import corpus
import pytest

from validators import cli
from validators.artefacts import config_file, history, tables
from validators.artefacts.config_file import read_config
from validators.artefacts.history import read_history
from validators.artefacts.tables import (
    MAX_ARRAY_CELL_CHARS,
    MAX_CELL_CHARS,
    MAX_FILE_BYTES,
    MAX_FILE_BYTES_ENV,
    read_table,
)
from validators.errors import ArtefactError

RUNS = corpus.REPO / "fixtures" / "runs"
PREDICTIONS_SPEC = corpus.SPEC.read_text().split("# ---- Success criteria, Must Have")[0]


@pytest.fixture
def run_dir(tmp_path) -> Path:
    path = tmp_path / "run"
    shutil.copytree(RUNS / "run3_relu", path)
    return path


def gate(run_dir, spec_text, capsys, *extra):
    spec = run_dir.parent / "gate.toml"
    spec.write_text(spec_text)
    report = run_dir.parent / "verdict.json"
    code = cli.main(["check", os.fspath(run_dir), "--spec", os.fspath(spec), "--json", os.fspath(report), *extra])
    out, err = capsys.readouterr()
    checks = {c["id"]: c for c in json.loads(report.read_text())["checks"]} if report.exists() else {}
    return code, out + err, checks


def padded(width: int) -> str:
    """A one-element array cell of exactly ``width`` characters holding 0.05."""
    cell = "[0.05" + "0" * (width - 6) + "]"
    assert len(cell) == width
    return cell


# -- cells: length and nesting, bounded before parsing -------------------------------------------

def test_a_cell_at_the_limit_is_read_and_one_past_it_is_refused(run_dir, capsys):
    corpus.set_cell("predictions.csv", 10, "volatility", padded(MAX_CELL_CHARS))(run_dir)
    code, out, checks = gate(run_dir, PREDICTIONS_SPEC, capsys)
    assert code == 0, out
    corpus.set_cell("predictions.csv", 10, "volatility", padded(MAX_CELL_CHARS + 1))(run_dir)
    code, out, checks = gate(run_dir, PREDICTIONS_SPEC, capsys)
    assert code == 2
    assert (f"{run_dir}/predictions.csv:10:3: column 'volatility', row 8: cell longer than {MAX_CELL_CHARS} bytes: "
            f"'[0.05000") in out
    assert checks["volatility-max"]["status"] == "error" and checks["magnitude-max"]["status"] == "pass"


def test_the_length_is_checked_before_any_parsing(monkeypatch):
    import pyarrow as pa

    from validators.artefacts.tables import parse_cells

    def no_regex(*args, **kwargs):
        raise AssertionError("a cell over the limit reached the parser")

    monkeypatch.setattr("pyarrow.compute.match_substring_regex", no_regex)
    monkeypatch.setattr("pyarrow.compute.split_pattern_regex", no_regex)
    cells = pa.array(["[0.1]", "[" + "[" * 100_000 + "0.1" + "]" * 100_000 + "]"])
    with pytest.raises(ArtefactError, match=rf"p.csv:3:1: column 'c', row 1: cell longer than {MAX_CELL_CHARS}"):
        parse_cells(cells, path="p.csv", column="c", column_index=1)


ELEMENT_SPEC = """
[[check]]
id = "up-share"
kind = "saturation"
severity = "must"
column = "direction"
element = 1
level = 0.5
le = 1.0
"""


def test_an_array_cell_is_bounded_too_when_an_element_is_picked(run_dir, capsys):
    def arrays(width):
        def change(table):
            for row in table[1:]:
                row[1] = "[0.5 0.5]"
            row = table[5]
            row[1] = "[0.5 " + "0" * (width - 7) + "5]"
            assert len(row[1]) == width
        return corpus.rows("predictions.csv", change)

    arrays(MAX_ARRAY_CELL_CHARS)(run_dir)
    code, out, _ = gate(run_dir, ELEMENT_SPEC, capsys)
    assert code == 0, out
    arrays(MAX_ARRAY_CELL_CHARS + 1)(run_dir)
    code, out, _ = gate(run_dir, ELEMENT_SPEC, capsys)
    assert code == 2 and f"predictions.csv:6:2: column 'direction', row 4: cell longer than {MAX_ARRAY_CELL_CHARS}" in out


@pytest.mark.parametrize("cell", ["[[0.1]]", "[[[[[[[[0.1]]]]]]]]", "[0.1 [0.2]]"])
def test_a_nested_cell_is_refused(run_dir, capsys, cell):
    corpus.set_cell("predictions.csv", 7, "magnitude", cell)(run_dir)
    code, out, _ = gate(run_dir, PREDICTIONS_SPEC, capsys)
    assert code == 2 and f"{run_dir}/predictions.csv:7:4: column 'magnitude', row 5: nested arrays" in out


# -- nesting of whole files ---------------------------------------------------------------------------

NESTED = {
    "config.json": lambda d: '{"a": ' + "[" * d + "]" * d + "}",
    "config.toml": lambda d: "a = " + "[" * d + "]" * d + "\n",
    "config.yaml": lambda d: "a: " + "[" * d + "]" * d + "\n",
}


@pytest.mark.parametrize("name", list(NESTED))
def test_config_nesting_is_bounded(tmp_path, name):
    path = tmp_path / name
    path.write_text(NESTED[name](50))
    assert read_config(path) == {"a": json.loads("[" * 50 + "]" * 50)}
    path.write_text(NESTED[name](100_000))
    with pytest.raises(ArtefactError, match=r"nested too deeply"):
        read_config(path)


def test_history_json_nesting_is_bounded(tmp_path):
    path = tmp_path / "history.json"
    path.write_text('{"loss": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ArtefactError, match=rf"{path}: JSON nested too deeply"):
        read_history(path)


def test_a_deeply_nested_spec_is_a_spec_error(tmp_path, capsys):
    spec = tmp_path / "deep.toml"
    spec.write_text('name = "deep"\nx = ' + "[" * 1000 + "]" * 1000 + "\n")
    assert cli.main(["validate", os.fspath(spec)]) == 4
    assert "nested" in capsys.readouterr().err


# -- file size: refused before reading, the limit named with the way to raise it --------------------

def test_predictions_and_returns_over_the_limit_are_refused_naming_it(run_dir, capsys, monkeypatch):
    size = (run_dir / "predictions.csv").stat().st_size
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, str(size - 1))
    code, out, checks = gate(run_dir, corpus.SPEC.read_text(), capsys)
    assert code == 2
    assert (f"{run_dir}/predictions.csv: file is {size} bytes, more than the {size - 1}-byte limit for a table: "
            f"refused before reading (it is parsed in memory); set {MAX_FILE_BYTES_ENV} to a larger number of "
            "bytes if the machine has the memory") in out
    returns = (run_dir / "returns.csv").stat().st_size
    assert f"{run_dir}/returns.csv: file is {returns} bytes, more than the {size - 1}-byte limit" in out
    for check in corpus.PREDICTIONS + corpus.RETURNS:
        assert checks[check]["status"] == "error", check
    for check in corpus.HISTORY + corpus.CONFIG + corpus.MODEL:
        assert checks[check]["status"] == "pass", check  # their own limits are far above


def test_a_file_exactly_at_the_limit_is_read(run_dir, capsys, monkeypatch):
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, str((run_dir / "returns.csv").stat().st_size))
    code, out, _ = gate(run_dir, corpus.SPEC.read_text(), capsys)
    assert code == 0, out


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5", "4G"])
def test_a_bad_limit_is_an_error_never_an_unlimited_read(run_dir, capsys, monkeypatch, value):
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, value)
    code, out, _ = gate(run_dir, PREDICTIONS_SPEC, capsys)
    assert code == 2
    assert f"{run_dir}/predictions.csv: ${MAX_FILE_BYTES_ENV} must be a positive number of bytes, got {value!r}" in out


def test_an_empty_variable_means_the_default(monkeypatch):
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, " ")
    assert tables.max_file_bytes() == default_limit()


def default_limit() -> int:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return min(4 << 30, memory // 2)


def test_the_default_is_4_gib_or_half_the_memory(monkeypatch):
    monkeypatch.delenv(MAX_FILE_BYTES_ENV, raising=False)
    assert MAX_FILE_BYTES == 4 << 30
    assert tables.max_file_bytes() == default_limit()


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no room on disk (a hole)."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def test_a_file_over_the_default_limit_is_refused_without_being_read(tmp_path, monkeypatch):
    monkeypatch.delenv(MAX_FILE_BYTES_ENV, raising=False)
    limit = tables.max_file_bytes()
    path = sparse(tmp_path / "predictions.csv", limit + 1)

    def never(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr("pyarrow.csv.read_csv", never)
    monkeypatch.setattr(tables, "_read_header", never)
    started = time.perf_counter()
    with pytest.raises(ArtefactError, match=rf"file is {limit + 1} bytes, more than the {limit}-byte limit"):
        read_table(path)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("name, limit, read", [
    ("history.csv", history.MAX_HISTORY_BYTES, read_history),
    ("history.json", history.MAX_HISTORY_BYTES, read_history),
    ("config.json", config_file.MAX_CONFIG_BYTES, read_config),
])
def test_history_and_config_have_their_own_limits(tmp_path, name, limit, read):
    path = sparse(tmp_path / name, limit + 1)
    started = time.perf_counter()
    with pytest.raises(ArtefactError, match=rf"{path}: file is {limit + 1} bytes, more than the {limit}"):
        read(path)
    assert time.perf_counter() - started < 1.0


# -- the README states them --------------------------------------------------------------------------

def test_the_readme_states_every_limit():
    section = corpus.readme_section((corpus.REPO / "README.md").read_text())
    for text in (f"{MAX_CELL_CHARS} characters", f"{MAX_ARRAY_CELL_CHARS} when the check picks an `element`",
                 f"`${MAX_FILE_BYTES_ENV}`", "4 GiB and half the physical memory",
                 f"{history.MAX_HISTORY_BYTES // (1 << 20)} MiB", f"{config_file.MAX_CONFIG_BYTES // (1 << 20)} MiB",
                 "never a crash", "1 MiB"):
        assert text in section, text
