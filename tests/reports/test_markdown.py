"""validators.reports.markdown: the PR-comment / job-summary report, its escaping, and
``$GITHUB_STEP_SUMMARY``. Also home of ``any_report``, the hypothesis strategy of arbitrary
reports the JUnit and HTML tests share."""

from __future__ import annotations

import re

import numpy as np
import pytest
from factory import SPEC, healthy_history, make_run, saturated_run
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.advice import Advice
from validators.baseline import Comparison, make_delta
from validators.gate import GateReport, evaluate
from validators.reports.markdown import (
    append_step_summary,
    md,
    printable,
    to_markdown,
    value_text,
    write_markdown,
)
from validators.result import CheckResult, verdict_of
from validators.spec import Spec, load_spec

# -- arbitrary reports --------------------------------------------------------------------------

NASTY = ["<script>alert(1)</script>", "a|b||c", "&amp; &lt;", "]]>", "line\nbreak\r\nthere", "\x00\x1b[31m\x7f",
         "\ud800 lone surrogate", "**bold** _em_ `code` [link](x) ~~s~~ \\", "\"quoted\" 'single'",
         "x" * 5000 + "<&|>", ""]
texts = st.one_of(st.sampled_from(NASTY), st.text(st.characters(exclude_categories=()), max_size=40))
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**80, 2**80),
                    st.sampled_from([0.1 + 0.2, 1e-300, -0.0, 1.7976931348623157e308, float("nan")]),
                    st.floats(allow_nan=True).map(np.float64))
observed = st.one_of(st.none(), st.booleans(), numbers, texts,
                     st.dictionaries(texts, numbers, max_size=3), st.lists(numbers, max_size=3))
evidence = st.dictionaries(texts, st.one_of(numbers, texts, st.lists(numbers, max_size=3), st.none()), max_size=3)


@st.composite
def results(draw):
    return CheckResult(draw(texts), draw(st.sampled_from(["range", "pbo", "history", "auc", "x<y"])),
                       draw(st.sampled_from(["must", "nice"])), draw(st.sampled_from(["pass", "fail", "error", "?"])),
                       draw(observed), draw(texts), draw(texts), draw(evidence), draw(texts))


@st.composite
def any_report(draw, min_checks=0):
    checks = tuple(draw(st.lists(results(), min_size=min_checks, max_size=6)))
    verdict, code = verdict_of(checks)
    spec = Spec(path=draw(texts) or "spec.toml", sha256="0" * 64, name=draw(texts), artefacts={}, checks=())
    baseline = None
    if draw(st.booleans()):
        rows = tuple(make_delta(draw(texts), draw(st.sampled_from(["history", "check"])), draw(numbers), draw(numbers))
                     for _ in range(draw(st.integers(0, 3))))
        baseline = Comparison(draw(texts), rows, draw(st.sampled_from(["pass", "fail", "error"])),
                              tuple(draw(st.lists(results(), max_size=2))))
    advice = tuple(Advice(draw(texts), draw(texts), draw(texts), tuple(draw(st.lists(texts, max_size=2))))
                   for _ in range(draw(st.integers(0, 2))))
    return GateReport(run_dir=draw(texts), spec=spec, results=checks, verdict=verdict, exit_code=code,
                      files={draw(texts): "ab" * 32}, seconds=draw(st.floats(0, 1e6)), baseline=baseline,
                      advice=advice)


def fake_report(*checks, advice=(), baseline=None, name="Gate"):
    verdict, code = verdict_of(checks)
    spec = Spec(path="checks/gate.toml", sha256="f" * 64, name=name, artefacts={}, checks=())
    return GateReport(run_dir="runs/r1", spec=spec, results=tuple(checks), verdict=verdict, exit_code=code,
                      baseline=baseline, advice=tuple(advice))


# -- table parsing (GFM: a row is split on pipes not escaped by a backslash) ---------------------

def table_rows(markdown: str) -> list[list[str]]:
    """The cells of the first table's body rows."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| ") and lines[i + 1].startswith("| ---"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(split_row(line))
    return rows


def split_row(line: str) -> list[str]:
    assert line.startswith("| ") and line.endswith(" |"), line
    cells, current, i, body = [], "", 0, line[2:-2]
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            current += body[i:i + 2]
            i += 2
            continue
        if body[i:i + 3] == " | ":
            cells.append(current)
            current = ""
            i += 3
            continue
        assert body[i] != "|", f"unescaped pipe in {line!r}"
        current += body[i]
        i += 1
    cells.append(current)
    return cells


def unescape_md(text: str) -> str:
    text = re.sub(r"\\(.)", r"\1", text).replace("<br>", "\n")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# -- gold-style structure -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("md")
    spec = load_spec(SPEC)
    healthy = make_run(root / "healthy")
    weak = healthy_history()
    weak["val_direction_auc"] = weak["val_direction_auc"] - 0.05
    return {"saturated": evaluate(spec, saturated_run(root / "saturated")),
            "weak_vs_healthy": evaluate(spec, make_run(root / "weak", history=weak), baseline_dir=healthy)}


def test_saturated_run_verdict_line_and_one_row_per_check(reports):
    report = reports["saturated"]
    text = to_markdown(report)
    first = text.splitlines()[0]
    assert first.startswith("### ") and "FAIL" in first and "exit 1" in first
    assert "Run \\#3" not in text and "Run #3 plan" in text  # prose is escaped only where Markdown needs it
    rows = table_rows(text)
    assert [unescape_md(r[1]) for r in rows] == [r.id for r in report.results]
    by_id = {unescape_md(r[1]): r for r in rows}
    assert by_id["volatility-not-saturated"][0] == "❌ fail"
    assert unescape_md(by_id["volatility-not-saturated"][2]) == "1.0"
    assert unescape_md(by_id["volatility-not-saturated"][3]) == "observed <= 0.0"
    assert by_id["volatility-max"][2] == "0.99995"  # exact, as repr writes it
    assert by_id["volatility-range"][0] == "❌ fail" and by_id["magnitude-range"][0] == "✅ pass"
    assert all(len(r) == 5 for r in rows)
    assert "#### Baseline" not in text
    assert ("#### Advice" in text) == bool(report.advice)


def test_advice_with_its_numbers_and_baseline_deltas(reports):
    report = reports["weak_vs_healthy"]
    text = to_markdown(report)
    assert report.advice, "the weak run lost AUC against its baseline: the spec's rollback advice triggers"
    advice_part = text.split("#### Advice", 1)[1].split("| Status", 1)[0]
    for a in report.advice:
        assert md(a.recommend) in advice_part
        for fact in a.facts:
            assert md(fact) in advice_part
    assert "-0.050000000000000044" in advice_part  # the AUC delta, exact
    rows = table_rows(text)
    assert all(len(r) == 6 for r in rows)  # a Baseline column beside Observed
    assert "#### Baseline: " in text
    deltas = table_rows(text.split("#### Baseline: ", 1)[1])
    by_name = {(unescape_md(r[0]), unescape_md(r[1])): r for r in deltas}
    row = by_name[("history", "val_direction_auc")]
    assert row[2] == "0.66" and row[3] == "0.61" and row[7] == "🔴 worse"
    assert len(deltas) == len(report.baseline.rows)


def test_cells_escape_pipes_newlines_and_html():
    check = CheckResult("a|b", "range", "must", "fail", "x|y\nz", "observed < 1", "<b>bold</b> & | pipe\nnext",
                        {}, "")
    text = to_markdown(fake_report(check))
    (row,) = table_rows(text)
    assert row[1] == "a\\|b"
    assert row[2] == "'x\\|y\\\\nz'"  # repr of the observed string: its newline is the two characters \n
    assert row[4] == "&lt;b&gt;bold&lt;/b&gt; &amp; \\| pipe<br>next"
    assert "<b>" not in text


def test_nice_failure_is_marked_and_does_not_change_the_verdict():
    nice = CheckResult("sharpe", "sharpe", "nice", "fail", 0.25, "observed > 0.5", "low", {}, "")
    must = CheckResult("pbo", "pbo", "must", "pass", 0.1, "observed < 0.3", "ok", {}, "")
    text = to_markdown(fake_report(must, nice))
    assert text.splitlines()[0].startswith("### ✅ runverdict: PASS")
    assert table_rows(text)[1][0] == "⚠️ fail (nice-to-have)"
    assert "1 nice-to-have check did not pass" in text


def test_value_text_is_exact():
    assert value_text(0.1 + 0.2) == "0.30000000000000004"
    assert value_text(np.float64(1e-05)) == "1e-05"
    assert value_text(float("nan")) == "nan" and value_text(float("-inf")) == "-inf"
    assert value_text(None) == "-"
    assert value_text(2**70) == str(2**70)
    assert printable("a\x00b\ud800") == "a\\x00b\\ud800"


def test_write_markdown_replaces_the_file(tmp_path, reports):
    path = tmp_path / "report.md"
    path.write_text("old")
    write_markdown(reports["saturated"], path)
    assert path.read_text(encoding="utf-8") == to_markdown(reports["saturated"])


def test_append_step_summary_appends_and_is_quiet_without_the_variable(tmp_path, reports):
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    assert append_step_summary(reports["saturated"], env) == str(summary)
    assert append_step_summary(reports["weak_vs_healthy"], env) == str(summary)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n")
    assert text.count("runverdict: ") == 2
    assert to_markdown(reports["saturated"]) in text
    assert append_step_summary(reports["saturated"], {}) is None
    assert append_step_summary(reports["saturated"], {"GITHUB_STEP_SUMMARY": ""}) is None


def test_append_step_summary_reads_the_real_environment(tmp_path, monkeypatch, reports):
    summary = tmp_path / "s.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert append_step_summary(reports["saturated"]) == str(summary)
    assert summary.read_text(encoding="utf-8") == to_markdown(reports["saturated"]) + "\n"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert append_step_summary(reports["saturated"]) is None


# -- property: any report is a well-formed table ------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(any_report(min_checks=1))
def test_any_report_renders_a_well_formed_table(report):
    text = to_markdown(report)
    text.encode("utf-8")  # no lone surrogate survives
    rows = table_rows(text)
    width = 6 if report.baseline is not None else 5
    assert len(rows) == len(report.results)
    assert all(len(row) == width for row in rows)
    for row, result in zip(rows, report.results):
        expected = printable(result.id).replace("\r\n", "\n").replace("\r", "\n")
        expected = expected.replace("\u2028", "\n").replace("\u2029", "\n")  # line separators become <br> too
        assert unescape_md(row[1]).strip() == expected.strip() or "more characters" in row[1]
    assert "<" not in re.sub(r"<br>|</?sub>", "", text)  # no HTML but ours
