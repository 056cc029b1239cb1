"""The terminal report: a table of status, id, observed vs bound, and a summary line.

Every value that comes from the run or the spec goes through ``terminal.safe`` here, where the
text leaves the program: an escape sequence or a newline in a header cell, a name or a message
is shown as ``\\x1b``/``\\n``, never sent to the terminal. Line breaks and colours are added after.
"""

from __future__ import annotations

import os

from ..result import ERROR, FAIL, MUST, PASS
from .markdown import shown_repr
from .terminal import safe

_COLOURS = {PASS: "\033[32m", FAIL: "\033[31m", ERROR: "\033[35m", "warn": "\033[33m"}
_RESET = "\033[0m"


def use_colour(stream) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):  # set and not empty, as no-color.org says
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def format_observed(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return repr(value)
    text = safe(shown_repr(value))
    return text if len(text) <= 40 else text[:37] + "..."


def not_compared(result) -> bool:
    """A ``delta`` check that passed without a baseline (``[baseline] allow_first_run``): nothing observed."""
    evidence = result.evidence if isinstance(result.evidence, dict) else {}
    return result.observed is None and evidence.get("compared") is False


def observed_cell(result) -> str:
    """The OBSERVED column: the value, ``not compared`` for a delta check judged without a baseline."""
    return "not compared" if not_compared(result) else format_observed(result.observed)


def render(report, colour: bool = False) -> str:
    def paint(text, key):
        return f"{_COLOURS[key]}{text}{_RESET}" if colour else text

    rows = []
    for r in report.results:
        label = r.status.upper()
        if r.severity != MUST and r.status != PASS:
            label += "*"
        rows.append((label, r.status, safe(r.id), observed_cell(r), safe(r.bound), safe(r.message)))
    w_status = max([6] + [len(x[0]) for x in rows])
    w_id = max([5] + [len(x[2]) for x in rows])
    w_obs = max([8] + [len(x[3]) for x in rows])
    lines = [f"runverdict: {safe(report.spec.name)} on {safe(report.run_dir)}"]
    lines += [f"  {safe(line)}" for line in report.layout_lines()]
    lines.append(f"{'STATUS':<{w_status}}  {'CHECK':<{w_id}}  {'OBSERVED':<{w_obs}}  BOUND")
    for label, status, check_id, observed, bound, message in rows:
        key = status if label.endswith("*") is False else "warn"
        lines.append(f"{paint(f'{label:<{w_status}}', key)}  {check_id:<{w_id}}  {observed:<{w_obs}}  {bound}")
        if status != PASS:
            lines.append(f"{'':<{w_status}}    {message}")
    if report.baseline is not None:
        lines.extend(_baseline_lines(report.baseline))
    lines.extend(decision_lines(report))
    lines.extend(advice_lines(report))
    counts = report.counts()
    nice_bad = sum(1 for r in report.results if r.severity != MUST and r.status != PASS)
    summary = f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[ERROR]} error" + (
        "s" if counts[ERROR] != 1 else "")
    if nice_bad:
        summary += f" ({nice_bad} nice-to-have, marked *, do not change the verdict)"
    verdict = report.verdict.upper()
    lines.append(f"{summary}. Verdict: {paint(verdict, report.verdict)} (exit {int(report.exit_code)})")
    return "\n".join(lines) + "\n"


def _baseline_lines(comparison) -> list[str]:
    rows = [d for d in comparison.rows if d.change != "same"]
    same = len(comparison.rows) - len(rows)
    lines = [(f"Compared with baseline {safe(comparison.baseline_dir)} (its verdict: {safe(comparison.baseline_verdict)}; "
              f"{same} value{'s' if same != 1 else ''} unchanged, not listed):")]
    width = max([4] + [len(safe(d.name)) for d in rows])
    for d in rows:
        delta = "-" if d.delta is None else safe(f"{d.delta:+}")
        lines.append(f"  {safe(d.source):<7}  {safe(d.name):<{width}}  {format_observed(d.candidate)} vs "
                     f"{format_observed(d.baseline)}  delta {delta}  {safe(d.change)}")
    return lines


def decision_lines(report) -> list[str]:
    decision = getattr(report, "decision", None)
    if decision is None:
        return []
    lines = [f"Decision: {safe(decision.action.upper())}: {safe(decision.reason)}"]
    lines += [f"    {safe(line)}" for line in decision.because]
    return lines


def advice_lines(report) -> list[str]:
    warnings = getattr(report, "advice_warnings", ())
    if not report.advice and not warnings:
        return []
    lines = ["Advice:"] if report.advice else []
    for advice in report.advice:
        supports = f" [supports {safe(advice.supports)}]" if getattr(advice, "supports", None) else ""
        lines.append(f"  - {safe(advice.recommend)}" + (f" ({safe(advice.reason)})" if advice.reason else "")
                     + supports)
        for fact in advice.facts:
            lines.append(f"      because {safe(fact)}")
    lines += [f"Warning: {safe(w)}" for w in warnings]
    return lines
