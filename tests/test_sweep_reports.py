"""A sweep's JUnit, Markdown and $GITHUB_STEP_SUMMARY, through the real CLI, on runs laid out by another
team (fixtures/other_pipeline) and the bundled ones; the HTML page is tested in tests/reports/test_sweep_html.py."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from factory import SPEC, make_run, saturated_run

from validators import cli
from validators.reports.sweep_pages import STEP_SUMMARY_LIMIT

ROOT = Path(__file__).resolve().parent.parent
OTHER = sorted((ROOT / "fixtures" / "other_pipeline" / "runs").iterdir())


def check(*argv):
    return cli.main(["check", *map(str, argv)])


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep-reports")
    missing = out / "missing"
    code = check(*OTHER, missing, "--spec", SPEC, "--jobs", "2", "--rank-by", "val_direction_auc",
                 "--junit", out / "junit.xml", "--markdown", out / "sweep.md", "--json", out / "sweep.json")
    return code, out, json.loads((out / "sweep.json").read_text()), missing


def test_junit_has_one_testsuite_per_run(reports):
    code, out, doc, missing = reports
    assert code == 2 and doc["exit_code"] == 2
    root = ET.parse(out / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [*map(str, OTHER), str(missing)]
    for suite, run in zip(suites, doc["runs"]):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        if "checks" not in run:  # not checked: one error naming why
            assert [c.get("name") for c in cases] == ["(run not checked)"] and suite.get("errors") == "1"
            assert "not found" in cases[0].find("error").get("message")
            continue
        assert [c.get("name") for c in cases] == [c["id"] for c in run["checks"]]
        assert {c.get("classname") for c in cases} == {f"{run['spec']['name']} ({suite.get('name')})"}
        failures = sum(c["status"] == "fail" and c["severity"] == "must" for c in run["checks"])
        assert int(suite.get("failures")) == failures == len(suite.findall("testcase/failure"))
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["runverdict.verdict"] == run["verdict"] and props["decision"] == run["decision"]["action"]
    for key in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(key)) == sum(int(s.get(key)) for s in suites)


def test_markdown_has_a_table_of_runs_then_each_report(reports):
    _, out, doc, _ = reports
    text = (out / "sweep.md").read_text(encoding="utf-8")
    assert text.startswith("### ⛔ runverdict sweep: 5 runs, exit 2 (the worst of them)")
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| # | val\\_direction\\_auc | Run | Verdict | Decision |")
    rows = table[2:2 + len(doc["ranking"])]  # after the header and its --- line
    for row, ranked in zip(rows, doc["ranking"]):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[0] == (str(ranked["rank"]) if ranked["rank"] else "-")
        if ranked["value"] is not None:
            assert float(cells[1]) == ranked["value"]
        assert cells[2] == ranked["run"].replace("_", "\\_")
    assert text.count("<details><summary>") == 5 and text.count("</details>") == 5
    assert "**Best run: " + doc["best_run"].replace("_", "\\_") + "**" in text
    fixed = next(r for r in doc["runs"] if r["run"]["path"].endswith("fixed_weights_010"))
    assert fixed["verdict"] == "fail"
    assert "fail: loss-weights" in text  # its failing check in its row


def big_runs(root, n):
    """Runs whose Markdown reports are large: hostile long messages in every failing check's row."""
    return [saturated_run(root / f"run{i:02d}_{'&|<' * 60}") for i in range(n)]


def test_step_summary_of_a_big_sweep_stays_under_github_limit(tmp_path, monkeypatch, capsys):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step output\n" * 1000, encoding="utf-8")  # what the step wrote before
    held = summary.stat().st_size
    runs = big_runs(tmp_path, 4)
    full = tmp_path / "full.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    import validators.reports.sweep_pages as pages

    monkeypatch.setattr(pages, "STEP_SUMMARY_LIMIT", 40_000)  # four reports of ~12 kB each do not fit
    assert check(*runs, "--spec", SPEC, "--jobs", "1", "--quiet", "--markdown", full) == 1
    assert summary.stat().st_size <= held + 40_000
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step output\n")
    appended = text[len("earlier step output\n") * 1000:]
    assert "details of" in appended and ("cut after" in appended or "left out" in appended)
    assert f"({str(full).replace('_', chr(92) + '_')})" in appended or str(full) in appended.replace("\\", "")
    assert appended.count("<details>") == appended.count("</details>")
    for line in appended.splitlines():  # never cut inside a line, so never inside an escape
        assert not line.endswith("&amp") and not line.endswith("\\")
    full_text = full.read_text(encoding="utf-8")
    assert "details of" not in full_text and full_text.count("<details>") == 4  # the file keeps everything


def test_step_summary_over_one_mebibyte_is_truncated_with_a_note(tmp_path, monkeypatch):
    """A sweep whose summary would be over 1 MiB: 180 runs, each report ~7 kB of escaped hostile text."""
    summary = tmp_path / "summary.md"
    runs = big_runs(tmp_path, 2)
    dirs = runs * 90  # the same two runs, 180 times in the sweep
    full = tmp_path / "full.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert check(*dirs, "--spec", SPEC, "--jobs", "2", "--quiet", "--markdown", full) == 1
    assert full.stat().st_size > STEP_SUMMARY_LIMIT  # what would have been appended
    size = summary.stat().st_size
    assert size <= STEP_SUMMARY_LIMIT
    text = summary.read_text(encoding="utf-8")
    assert sum(line.startswith("| ") for line in text.splitlines()) >= 180 + 2  # the table of runs is whole
    assert text.count("<details>") == text.count("</details>")
    notes = [line for line in text.splitlines() if "details of" in line]
    assert notes and all("kept under GitHub's 1048576-byte limit" in n for n in notes)
    assert any("cut after" in n or "left out" in n for n in notes)


def test_a_step_summary_that_is_already_full_makes_the_exit_2(tmp_path, monkeypatch, capsys):
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x" * STEP_SUMMARY_LIMIT)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    runs = [make_run(tmp_path / "a"), make_run(tmp_path / "b")]
    assert check(*runs, "--spec", SPEC, "--jobs", "1", "--quiet") == 2  # both pass; the summary cannot be written
    assert "cannot append to $GITHUB_STEP_SUMMARY" in capsys.readouterr().err
    assert summary.stat().st_size == STEP_SUMMARY_LIMIT  # nothing appended
