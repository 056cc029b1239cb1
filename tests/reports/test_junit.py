"""validators.reports.junit: one testcase per check, failures and errors as CI systems count them,
nice-to-have checks as skipped, exact numbers, and a file that parses whatever the report holds."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from factory import SPEC, healthy_history, make_run, saturated_run
from hypothesis import given, settings
from test_markdown import any_report, fake_report

from validators.gate import evaluate
from validators.reports.junit import outcome_of, to_junit, write_junit
from validators.reports.markdown import printable, value_text
from validators.result import CheckResult
from validators.spec import load_spec


def parse(report):
    root = ET.fromstring(to_junit(report).encode("utf-8"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return root, suite


def outcome(case) -> str:
    found = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
    assert len(found) <= 1
    return found[0] if found else "pass"


def assert_counts_match(root, suite):
    cases = suite.findall("testcase")
    kinds = [outcome(c) for c in cases]
    for element in (root, suite):
        assert int(element.get("tests")) == len(cases)
        assert int(element.get("failures")) == kinds.count("failure")
        assert int(element.get("errors")) == kinds.count("error")
        assert int(element.get("skipped")) == kinds.count("skipped")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("junit")
    spec = load_spec(SPEC)
    broken = make_run(root / "no_history")
    (broken / "history.csv").unlink()
    weak = healthy_history()
    weak["val_direction_auc"] = weak["val_direction_auc"] - 0.05
    return {"healthy": evaluate(spec, make_run(root / "healthy")),
            "saturated": evaluate(spec, saturated_run(root / "saturated")),
            "no_history": evaluate(spec, broken),
            "weak_vs_healthy": evaluate(spec, make_run(root / "weak", history=weak), baseline_dir=root / "healthy")}


@pytest.mark.parametrize("name", ["healthy", "saturated", "no_history", "weak_vs_healthy"])
def test_one_testcase_per_check_and_counts_match(reports, name):
    report = reports[name]
    root, suite = parse(report)
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [r.id for r in report.results]
    assert {c.get("classname") for c in cases} == {report.spec.name}
    assert_counts_match(root, suite)
    expected = {"pass": "pass", "failure": "failure", "error": "error", "skipped": "skipped"}
    assert [outcome(c) for c in cases] == [expected[outcome_of(r)] for r in report.results]
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["runverdict.verdict"] == report.verdict
    assert props["runverdict.exit_code"] == str(int(report.exit_code))
    assert props["spec.sha256"] == report.spec.sha256


def test_healthy_run_is_green(reports):
    root, _suite = parse(reports["healthy"])
    assert reports["healthy"].verdict == "pass"
    assert root.get("failures") == "0" and root.get("errors") == "0"


def test_saturation_failure_names_observed_bound_and_message(reports):
    report = reports["saturated"]
    _, suite = parse(report)
    case = next(c for c in suite.findall("testcase") if c.get("name") == "volatility-not-saturated")
    failure = case.find("failure")
    result = next(r for r in report.results if r.id == "volatility-not-saturated")
    assert failure.get("message") == f"observed 1.0, bound observed <= 0.0: {result.message}"
    assert failure.get("type") == "saturation"
    body = failure.text
    assert "description: " + result.description in body
    evidence = json.loads(body.split("evidence: ", 1)[1].split("\n}\n", 1)[0] + "\n}")
    assert evidence["count_beyond"] == 400 and evidence["level"] == 0.999
    assert case.get("file") == report.spec.path and int(case.get("line")) > 0
    max_case = next(c for c in suite.findall("testcase") if c.get("name") == "volatility-max")
    assert max_case.find("failure").get("message").startswith("observed 0.99995, bound observed < 0.15: ")


def test_an_unreadable_artefact_is_an_error_element(reports):
    report = reports["no_history"]
    _, suite = parse(report)
    errored = [r for r in report.results if r.status == "error" and r.severity == "must"]
    assert errored
    for r in errored:
        case = next(c for c in suite.findall("testcase") if c.get("name") == r.id)
        assert case.find("error") is not None and case.find("failure") is None
        assert case.find("error").get("message") == f"no observed value, bound {r.bound}: {r.message}"
        assert "history.csv" in case.find("error").get("message")


def test_nice_failure_is_skipped_not_failed(reports):
    report = reports["weak_vs_healthy"]
    nice = [r for r in report.results if r.severity == "nice" and r.status != "pass"]
    assert nice, "direction-auc-improved (nice) fails on the weak run"
    root, suite = parse(report)
    for r in nice:
        case = next(c for c in suite.findall("testcase") if c.get("name") == r.id)
        skipped = case.find("skipped")
        assert skipped is not None and case.find("failure") is None
        assert skipped.get("type") == f"nice-{r.status}"
        assert "does not change the verdict" in skipped.get("message")
        assert value_text(r.observed) in skipped.get("message")
    must_failures = sum(1 for r in report.results if r.severity == "must" and r.status == "fail")
    assert int(root.get("failures")) == must_failures


def test_nice_only_failures_leave_the_suite_green():
    nice = CheckResult("sharpe", "sharpe", "nice", "fail", 0.25, "observed > 0.5", "too low", {}, "")
    ok = CheckResult("pbo", "pbo", "must", "pass", 0.1, "observed < 0.3", "fine", {}, "")
    root, _suite = parse(fake_report(ok, nice))
    assert (root.get("failures"), root.get("errors"), root.get("skipped"), root.get("tests")) == ("0", "0", "1", "2")


def test_advice_and_baseline_are_in_the_suite(reports):
    report = reports["weak_vs_healthy"]
    _, suite = parse(report)
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    for a in report.advice:
        assert props[f"advice:{a.id}"] == a.recommend
    out = suite.find("system-out").text
    assert "-0.050000000000000044" in out  # the AUC delta behind the rollback advice, exact
    assert "baseline.run_dir" in props


def test_numbers_are_exact_never_rounded():
    check = CheckResult("sum", "statistic", "must", "fail", 0.1 + 0.2, "observed < 0.3", "m", {"x": 1e-300}, "")
    _, suite = parse(fake_report(check))
    failure = suite.find("testcase/failure")
    assert failure.get("message") == "observed 0.30000000000000004, bound observed < 0.3: m"
    assert "1e-300" in failure.text


def test_unknown_status_of_a_must_check_is_an_error():
    odd = CheckResult("odd", "range", "must", "skipped", None, "", "?", {}, "")
    root, suite = parse(fake_report(odd))
    assert suite.find("testcase/error") is not None and root.get("errors") == "1"


def test_no_checks_is_an_error_not_green():
    root, suite = parse(fake_report())
    assert root.get("tests") == "1" and root.get("errors") == "1"
    assert suite.find("testcase").get("name") == "(no checks)"


def test_write_junit_is_atomic_and_parses(tmp_path, reports):
    path = tmp_path / "junit.xml"
    path.write_text("old")
    write_junit(reports["saturated"], path)
    assert ET.parse(path).getroot().tag == "testsuites"
    assert list(tmp_path.iterdir()) == [path]


@settings(max_examples=150, deadline=None)
@given(any_report())
def test_any_report_is_valid_xml_with_matching_counts(report):
    text = to_junit(report)
    text.encode("utf-8")
    root, suite = parse(report)
    assert_counts_match(root, suite)
    cases = suite.findall("testcase")
    if report.results:
        assert [c.get("name") for c in cases] == [printable(r.id) for r in report.results]
        for case, r in zip(cases, report.results):
            element = case.find(outcome_of(r)) if outcome_of(r) != "pass" else None
            if element is not None:
                expected = "no observed value" if r.observed is None else f"observed {value_text(r.observed)}"
                assert element.get("message").startswith(expected) or "nice-to-have" in element.get("message")
                assert expected in element.get("message")
    else:
        assert root.get("errors") == "1"
