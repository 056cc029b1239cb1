"""The JUnit XML report, for the test views of CI systems (Jenkins, GitLab, Azure, GitHub actions).

One ``<testsuite>`` (inside ``<testsuites>``) per gate, one ``<testcase>`` per check:
``classname`` is the spec's name (``runverdict`` when it has none), ``name`` the check id,
``file``/``line`` where the check is declared in the spec (as pytest's default xunit1 flavour).

* a ``must`` check that failed: ``<failure message="observed X, bound Y: message">``, with the
  description and the evidence (JSON) as the element's text;
* a ``must`` check that errored (or has an unknown status): ``<error message=...>``, same text;
* a ``nice`` check that did not pass: ``<skipped type="nice-fail" message="nice-to-have check
  failed (does not change the verdict): observed X, bound Y: message">``. JUnit consumers
  count ``failure`` and ``error`` elements to turn a build red or unstable; a nice-to-have
  check must not, as it never changes the verdict. ``skipped`` is the one outcome every
  consumer shows, with its message, as "not a pass" without failing the build;
* every test case carries observed, bound and message in ``<system-out>``.

The counts of ``<testsuite>`` and ``<testsuites>`` are those elements' counts, so a reader
that recomputes them agrees. Gate facts (verdict, exit code, spec sha256, run directory,
artefact hashes, baseline, triggered advice) are ``<properties>`` of the suite; the advice is
also in the suite's ``<system-out>``. Numbers are exact (``repr``). Characters XML cannot hold
(control characters, lone surrogates) are written as ``\\xNN`` escapes, so the file always parses.
A report without any check (an error: nothing was judged) gets one ``<error>`` test case named
``(no checks)``, so that no CI system reads it as green.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

from .. import __version__
from ..result import FAIL, MUST, PASS
from .atomic import write_atomic
from .jsonreport import plain
from .markdown import advice_of, baseline_results_of, deltas_of, printable, value_text


def outcome_of(result) -> str:
    """``pass``, ``failure``, ``error`` or ``skipped``: the JUnit element a check result becomes."""
    if result.severity != MUST:
        return "pass" if result.status == PASS else "skipped"
    if result.status == PASS:
        return "pass"
    if result.status == FAIL:
        return "failure"
    return "error"  # ERROR, or a status the gate does not know: never a pass


def headline(result) -> str:
    """``observed X, bound Y: message``: the one line a CI system shows for a check."""
    parts = ["no observed value" if result.observed is None else f"observed {value_text(result.observed)}"]
    if result.bound:
        parts.append(f"bound {printable(result.bound)}")
    return f"{', '.join(parts)}: {printable(result.message)}"


def _details(result) -> str:
    lines = [f"check: {result.id} ({result.kind}, {result.severity}, {result.status})",
             f"observed: {value_text(result.observed)}",
             f"bound: {printable(result.bound) if result.bound else '-'}",
             f"message: {printable(result.message)}"]
    if result.description:
        lines.append(f"description: {printable(result.description)}")
    if result.evidence:
        evidence = json.dumps(plain(result.evidence), indent=2, ensure_ascii=False, allow_nan=False, default=str)
        lines.append("evidence: " + printable(evidence))
    return "\n".join(lines) + "\n"


def _text(value) -> str:
    return printable(value)


def _spec_lines(report) -> dict:
    return {c.id: c.line for c in getattr(report.spec, "checks", ()) if getattr(c, "line", None)}


def build_tree(report) -> ET.Element:
    """The ``<testsuites>`` element of ``report``."""
    classname = _text(report.spec.name or "runverdict")
    lines = _spec_lines(report)
    tests = failures = errors = skipped = 0
    suite = ET.Element("testsuite", name=classname)
    properties = ET.SubElement(suite, "properties")

    def prop(name, value):
        ET.SubElement(properties, "property", name=name, value=_text(value))

    prop("runverdict.version", __version__)
    prop("runverdict.verdict", report.verdict)
    prop("runverdict.exit_code", int(report.exit_code))
    prop("run_dir", os.path.abspath(report.run_dir))
    prop("spec.path", os.path.abspath(report.spec.path))
    prop("spec.sha256", report.spec.sha256)
    for path, digest in sorted(report.files.items()):
        prop(f"artefact.sha256:{path}", digest)
    comparison = getattr(report, "baseline", None)
    if comparison is not None:
        prop("baseline.run_dir", os.path.abspath(getattr(comparison, "baseline_dir", "")))
        prop("baseline.verdict", getattr(comparison, "baseline_verdict", None) or "-")
    decision = getattr(report, "decision", None)
    if decision is not None:
        prop("decision", decision.action)
        prop("decision.reason", decision.reason)
    advice = advice_of(report)
    for a in advice:
        prop(f"advice:{a.id}", a.recommend)
    for i, warning in enumerate(getattr(report, "advice_warnings", ()) or ()):
        prop(f"advice.warning:{i}", warning)

    base_results = baseline_results_of(report)
    for result in report.results:
        tests += 1
        case = ET.SubElement(suite, "testcase", classname=classname, name=_text(result.id))
        if report.spec.path:
            case.set("file", _text(report.spec.path))
        if result.id in lines:
            case.set("line", str(lines[result.id]))
        outcome = outcome_of(result)
        details = _details(result)
        other = base_results.get(result.id)
        if other is not None:
            details += f"baseline: {other.status}, observed {value_text(other.observed)}\n"
        if outcome == "failure":
            failures += 1
            ET.SubElement(case, "failure", message=headline(result), type=_text(result.kind)).text = details
        elif outcome == "error":
            errors += 1
            ET.SubElement(case, "error", message=headline(result), type=_text(result.kind)).text = details
        elif outcome == "skipped":
            skipped += 1
            status = _text(result.status)
            verb = {"fail": "failed", "error": "errored"}.get(status, f"is {status}")
            element = ET.SubElement(case, "skipped", type=f"nice-{status}",
                                    message=f"nice-to-have check {verb} (does not change the verdict): "
                                            + headline(result))
            element.text = details
        ET.SubElement(case, "system-out").text = details
    if not report.results:
        tests += 1
        errors += 1
        case = ET.SubElement(suite, "testcase", classname=classname, name="(no checks)")
        ET.SubElement(case, "error", message="the spec has no checks: nothing was judged", type="no-checks")

    out = []
    if decision is not None:
        out.append(f"decision {decision.action}: {decision.reason}")
        out += [f"  {line}" for line in decision.because]
    for a in advice:
        out.append(f"advice {a.id}: {a.recommend}" + (f" ({a.reason})" if a.reason else ""))
        out += [f"  {fact}" for fact in a.facts]
    deltas = deltas_of(report)
    if deltas:
        out.append(f"baseline {getattr(comparison, 'baseline_dir', '')}:")
        for d in deltas:
            out.append(f"  {d.source} {d.name}: baseline {value_text(d.baseline)}, candidate "
                       f"{value_text(d.candidate)}, delta {value_text(d.delta)} ({d.change})")
    if out:
        ET.SubElement(suite, "system-out").text = _text("\n".join(out) + "\n")

    counts = {"tests": tests, "failures": failures, "errors": errors, "skipped": skipped}
    seconds = repr(float(report.seconds))
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", seconds)
    root = ET.Element("testsuites", name="runverdict", time=seconds, **{k: str(v) for k, v in counts.items()})
    root.append(suite)
    for element in root.iter():  # whatever a name, message or path holds, the file parses
        if element.text:
            element.text = printable(element.text)
        for key, value in element.attrib.items():
            element.set(key, printable(value))
    return root


def to_junit(report) -> str:
    root = build_tree(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report, path) -> None:
    write_atomic(path, to_junit(report))

