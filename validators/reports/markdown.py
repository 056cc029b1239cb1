"""The Markdown report, for a pull-request comment or a GitHub Actions job summary.

GitHub-flavoured Markdown: a verdict line, one table row per check (status, id, observed,
bound, message), the triggered advice with the numbers behind it, and the baseline deltas.
Every cell is escaped: ``|`` and Markdown punctuation get a backslash, ``<``, ``>`` and ``&``
become entities (GitHub renders raw HTML), a newline becomes ``<br>``. Numbers are exact
(``repr``); only very long cells (a huge message or observed structure) are clipped, saying
how much was left out.

``write_markdown`` replaces a file atomically; ``append_step_summary`` appends to the file
named by ``$GITHUB_STEP_SUMMARY``, which is what GitHub expects of every step.

The small helpers at the top (``printable``, ``value_text``, ``status_label``, ``summary_text``,
``advice_of``, ``deltas_of``...) are shared by the JUnit and HTML writers.
"""

from __future__ import annotations

import os
import re

from .. import __version__
from ..result import ERROR, FAIL, MUST, PASS
from .atomic import write_atomic

CELL_LIMIT = 400  # characters of one table cell before it is clipped
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"

# -- text helpers shared by the report writers --------------------------------------------

# C0/C1 controls (but tab, newline, carriage return), lone surrogates, and the two XML non-characters.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text) -> str:
    """``str(text)`` with control characters and lone surrogates written as ``\\xNN``/``\\uNNNN``.

    Such characters cannot appear in XML at all, and a lone surrogate cannot be encoded as UTF-8.
    """
    text = str(text)

    def escape_char(match):
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNPRINTABLE.sub(escape_char, text)


def value_text(value) -> str:
    """An observed value as the text report writes it, but never shortened: ``repr``, ``-`` for None.

    Numbers are exact (``0.15``, ``1e-05``, ``nan``), numpy scalars are written as Python's.
    """
    if value is None:
        return "-"
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):  # a numpy array of more than one element
            value = value.tolist()
    return printable(shown_repr(value))


def shown_repr(value) -> str:
    """``repr(value)``, or a note for a structure nested too deeply for ``repr`` to recurse into."""
    try:
        return repr(value)
    except RecursionError:
        return f"<a {type(value).__name__} nested too deeply to show>"


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def status_label(result) -> str:
    """``pass``, ``fail``, ``error``; a nice-to-have check that did not pass says so."""
    if result.severity != MUST and result.status != PASS:
        return f"{result.status} (nice-to-have)"
    return result.status


def status_class(result) -> str:
    """``pass``, ``fail``, ``error`` or ``nice`` (a nice-to-have check that did not pass)."""
    if result.severity != MUST and result.status != PASS:
        return "nice"
    return result.status if result.status in (PASS, FAIL, ERROR) else ERROR


def summary_text(report) -> str:
    counts = report.counts()
    errors = counts.get(ERROR, 0)
    text = f"{counts.get(PASS, 0)} passed, {counts.get(FAIL, 0)} failed, {errors} error{'s' if errors != 1 else ''}"
    other = sum(v for k, v in counts.items() if k not in (PASS, FAIL, ERROR))
    if other:
        text += f", {other} with an unknown status"
    nice_bad = sum(1 for r in report.results if r.severity != MUST and r.status != PASS)
    if nice_bad:
        text += (f" ({nice_bad} nice-to-have check{'s' if nice_bad != 1 else ''} did not pass; "
                 "nice-to-have checks never change the verdict)")
    return text


def advice_of(report) -> list:
    """The triggered advice (``validators.advice.Advice``: id, recommend, reason, facts)."""
    return list(getattr(report, "advice", None) or ())


def deltas_of(report) -> list:
    """The baseline comparison's rows (``validators.baseline.Delta``), empty without a baseline."""
    comparison = getattr(report, "baseline", None)
    return list(getattr(comparison, "rows", None) or ()) if comparison is not None else []


def baseline_results_of(report) -> dict:
    """The baseline's check results by id, empty without a baseline."""
    comparison = getattr(report, "baseline", None)
    return {r.id: r for r in getattr(comparison, "baseline_results", None) or ()} if comparison is not None else {}


# -- Markdown ----------------------------------------------------------------------------

_EMOJI = {PASS: "✅", FAIL: "❌", ERROR: "⛔", "nice": "⚠️"}
_CHANGE_EMOJI = {"improved": "🟢", "worse": "🔴", "same": "⚪", "changed": "🔵"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(text) -> str:
    """Escape ``text`` for Markdown prose or a table cell: punctuation, HTML, newlines."""
    text = printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return text.replace("\n", "<br>")


def cell(text, limit=CELL_LIMIT) -> str:
    return md(clip(printable(text), limit)) or " "


def _table(columns, rows) -> list[str]:
    lines = ["| " + " | ".join(cell(c) for c in columns) + " |",
             "|" + "|".join(" --- " for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(row) + " |")
    return lines


def to_markdown(report) -> str:
    """The whole report as GitHub-flavoured Markdown (ends with a newline)."""
    verdict = report.verdict
    lines = [(f"### {_EMOJI.get(verdict, '⛔')} runverdict: {md(verdict.upper())} "
             f"(exit {int(report.exit_code)})"), ""]
    lines.append(f"**{md(report.spec.name)}** on {md(report.run_dir)}  ")
    lines.append(md(summary_text(report)) + ".")
    decision = getattr(report, "decision", None)
    if decision is not None:
        lines += ["", f"**Decision: {md(decision.action)}**: {md(decision.reason)}"]
        lines += [f"- {md(clip(printable(line), CELL_LIMIT))}" for line in decision.because]
    warnings = list(getattr(report, "advice_warnings", ()) or ())
    if warnings:
        lines += [""] + [f"> ⚠️ {md(clip(printable(w), CELL_LIMIT))}  " for w in warnings]
    advice = advice_of(report)
    if advice:
        lines += ["", "#### Advice", ""]
        for a in advice:
            head = f"- **{md(getattr(a, 'recommend', a))}**"
            if getattr(a, "reason", ""):
                head += f" ({md(a.reason)})"
            if getattr(a, "id", ""):
                head += f" [{md(a.id)}]"
            lines.append(head)
            for fact in getattr(a, "facts", ()) or ():
                lines.append(f"  - {md(clip(printable(fact), CELL_LIMIT))}")
    comparison = getattr(report, "baseline", None)
    base_results = baseline_results_of(report)
    columns = ["Status", "Check", "Observed", "Bound", "Message"]
    if comparison is not None:
        columns.insert(3, "Baseline")
    rows = []
    for r in report.results:
        row = [cell(f"{_EMOJI.get(status_class(r), '⛔')} {status_label(r)}"), cell(r.id),
               cell(value_text(r.observed)), cell(r.bound or "-"), cell(r.message)]
        if comparison is not None:
            other = base_results.get(r.id)
            row.insert(3, cell(f"{value_text(other.observed)} ({other.status})" if other else "-"))
        rows.append(row)
    lines += [""] + _table(columns, rows)
    if comparison is not None:
        lines += ["", (f"#### Baseline: {md(getattr(comparison, 'baseline_dir', ''))} "
                      f"(verdict {md(getattr(comparison, 'baseline_verdict', None) or '-')})"), ""]
        deltas = deltas_of(report)
        if deltas:
            lines += _table(["Source", "Name", "Baseline", "Candidate", "Delta", "Relative", "Better", "Change"],
                            [[cell(d.source), cell(d.name), cell(value_text(d.baseline)),
                              cell(value_text(d.candidate)), cell(value_text(d.delta)),
                              cell(value_text(d.relative)), cell(d.better or "-"),
                              cell(f"{_CHANGE_EMOJI.get(d.change, '')} {d.change}".strip())] for d in deltas])
        else:
            lines.append("Nothing to compare: no history metric or observed value in common.")
    lines += ["", (f"<sub>runverdict {md(__version__)} · spec {md(report.spec.path)} "
                  f"(sha256 {md(report.spec.sha256[:12])})</sub>"), ""]
    return "\n".join(lines)


def write_markdown(report, path) -> None:
    write_atomic(path, to_markdown(report))


def append_step_summary(report, environ=None) -> str | None:
    """Append the report to the file ``$GITHUB_STEP_SUMMARY`` names; returns that path, or None
    when the variable is unset or empty. An ``OSError`` writing it propagates."""
    environ = os.environ if environ is None else environ
    path = environ.get(STEP_SUMMARY)
    if not path:
        return None
    import errno
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None  # a new summary file: created below
    if mode is not None and not stat.S_ISREG(mode):  # a named pipe would block the open forever
        raise OSError(errno.EINVAL, "not a regular file (a named pipe or device?)", path)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(to_markdown(report) + "\n")
    return path
