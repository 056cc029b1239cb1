"""A sweep's HTML, JUnit and Markdown: one row (or suite) per run, then each run's own report.

The pieces come rendered from each run's full report by the worker that judged it
(``sweep.RunOutcome``: ``html.report_body``, the ``<testsuite>`` of ``junit.build_tree``,
``markdown.to_markdown``); a run that could not be checked gets a piece saying why.

* **HTML**: one self-contained page (``html.page``): a table of the runs (rank and value with
  ``--rank-by``, verdict, decision, counts, the failing and erroring check ids, each linking to
  its row) and a section per run (``id="run-N"``) holding that run's whole report. Every ``id``
  and ``#`` link of a run's body gets the prefix ``run-N-``, so the ids stay unique on the page;
  the body's text is escaped by ``html.h``, so ``id="`` occurs in it only as markup.
* **JUnit**: one ``<testsuite>`` per run inside ``<testsuites>``, named by the run directory; each
  test case's ``classname`` is the spec's name followed by the run, so CI systems keep the runs
  apart. The totals are the sums.
* **Markdown**: a table of the runs, then each run's report inside ``<details>``. For
  ``$GITHUB_STEP_SUMMARY`` (``summary_within``) the text is kept under GitHub's 1 MiB limit (what the
  file holds already counted): run details that do not fit are cut at a line boundary (never inside
  a line, so never inside an escape) or left out, each with a note saying so and where the full
  report is.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .html import check_anchor, h, page
from .markdown import CELL_LIMIT, cell, printable
from .sweep import best_run, rank

STEP_SUMMARY_LIMIT = 1024 * 1024  # bytes GitHub accepts in one step's summary
_RESERVE = 1200  # bytes kept for the note of each run whose details are cut or left out (at most ~1000)
_EMOJI = {"pass": "✅", "fail": "❌", "error": "⛔"}

SWEEP_CSS = """
table.runs td{vertical-align:top}
section.run{margin-top:36px;border-top:3px solid var(--line);padding-top:8px}
section.run>h2{border:0}
"""


# -- HTML ---------------------------------------------------------------------------------

_ID = re.compile(r'(\sid=")|(\shref="#)')


def prefixed(body: str, prefix: str) -> str:
    """``body`` with every ``id`` and in-page link prefixed by ``prefix`` (the run's own namespace)."""
    return _ID.sub(lambda m: m.group() + prefix, body)


def _check_links(outcome, index) -> str:
    checks = (outcome.data or {}).get("checks", ())
    links = []
    for j, check in enumerate(checks):
        if check["status"] == "pass":
            continue
        nice = "" if check["severity"] == "must" else "*"
        links.append(f'<a href="#run-{index}-{h(check_anchor(j, check["id"]))}"><code>{h(check["id"])}</code></a>'
                     f'{nice} <span class="desc">{h(check["status"])}</span>')
    return ", ".join(links) or "-"


def to_html(outcomes, code: int, spec_name: str, rank_by=None) -> str:
    """The sweep as one self-contained page."""
    ordered = rank(outcomes, rank_by)
    index = {id(o): i for i, o in enumerate(outcomes)}
    worst = "pass" if code == 0 else "fail" if code == 1 else "error"
    body = [(f'<section class="banner {worst}"><h1>runverdict sweep: {len(outcomes)} runs, exit {code} '
            "(the worst of them)</h1>"), f"<p><strong>{h(spec_name)}</strong></p>"]
    if rank_by is not None:
        best, note = best_run(ordered, rank_by)
        body.append(f"<p>Ranked by {h(rank_by.describe())}.</p>")
        body.append(f"<p id=\"best-run\">Best run: <code>{h(best.run_dir) if best else 'none'}</code> ({h(note)})</p>")
    body.append("</section>")
    head = (["#", h(rank_by.metric)] if rank_by is not None else []) + ["Run", "Verdict", "Decision",
                                                                        "Passed / failed / errors",
                                                                        "Failing and erroring checks"]
    body.append('<section id="runs"><h2>Runs</h2><table class="runs"><thead><tr>'
                + "".join(f"<th>{c}</th>" for c in head) + "</tr></thead><tbody>")
    position = 0
    for o in ordered:
        i = index[id(o)]
        verdict = o.verdict if o.verdict in ("pass", "fail", "error") else "error"
        cells = []
        if rank_by is not None:
            position += o.value is not None
            cells += [f"<td>{position if o.value is not None else '-'}</td>",
                      f'<td class="num">{h(repr(o.value)) if o.value is not None else "-"}'
                      + (f'<div class="desc">{h(o.value_note)}</div>' if o.value_note else "") + "</td>"]
        p, f, e = o.counts()
        cells += [f'<td><a href="#run-{i}"><code>{h(o.run_dir)}</code></a></td>',
                  f'<td><span class="badge {verdict}">{h(o.verdict)}</span></td>', f"<td>{h(o.decision)}</td>",
                  f'<td class="num">{p} / {f} / {e}</td>' if o.data else '<td class="num">-</td>',
                  f"<td>{_check_links(o, i)}</td>" if o.data else f"<td>not checked: {h(o.message)}</td>"]
        body.append(f'<tr class="{verdict}">' + "".join(cells) + "</tr>")
    body.append("</tbody></table></section>")
    for o in ordered:
        i = index[id(o)]
        inner = (prefixed(o.html, f"run-{i}-") if o.html is not None
                 else f'<section class="banner error"><h1>runverdict: ERROR (exit {o.code})</h1>'
                      f"<p>not checked: {h(o.message)}</p></section>")
        body.append(f'<section class="run" id="run-{i}"><h2>Run {i + 1}: <code>{h(o.run_dir)}</code> '
                    f'<a href="#runs">(back to the runs)</a></h2>\n{inner}\n</section>')
    return page(f"runverdict sweep: {len(outcomes)} runs, exit {code}: {spec_name}", "\n".join(body), SWEEP_CSS)


# -- JUnit --------------------------------------------------------------------------------

COUNTS = ("tests", "failures", "errors", "skipped")


def suite_of(tree: ET.Element, run_dir: str) -> str:
    """The one ``<testsuite>`` of ``junit.build_tree``'s tree, named for ``run_dir``, as XML text."""
    suite = tree.find("testsuite")
    run = printable(run_dir)
    suite.set("name", run)
    for case in suite.iter("testcase"):
        case.set("classname", f"{case.get('classname')} ({run})")
    return ET.tostring(suite, encoding="unicode")


def _unchecked_suite(o) -> ET.Element:
    run = printable(o.run_dir)
    suite = ET.Element("testsuite", name=run, tests="1", failures="0", errors="1", skipped="0", time="0.0")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="runverdict.verdict", value="error")
    ET.SubElement(properties, "property", name="runverdict.exit_code", value=str(o.code))
    case = ET.SubElement(suite, "testcase", classname=f"runverdict ({run})", name="(run not checked)")
    ET.SubElement(case, "error", message=printable(o.message), type="not-checked").text = printable(o.message)
    return suite


def to_junit(outcomes) -> str:
    """One ``<testsuite>`` per run (in the order given) inside ``<testsuites>``; totals are the sums."""
    root = ET.Element("testsuites", name="runverdict sweep")
    totals = dict.fromkeys(COUNTS, 0)
    seconds = 0.0
    for o in outcomes:
        suite = ET.fromstring(o.junit) if o.junit is not None else _unchecked_suite(o)
        for key in COUNTS:
            totals[key] += int(suite.get(key, "0"))
        seconds += float(suite.get("time", "0"))
        root.append(suite)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", repr(seconds))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- Markdown -----------------------------------------------------------------------------

def _head(outcomes, code, spec_name, rank_by) -> list[str]:
    ordered = rank(outcomes, rank_by)
    emoji = _EMOJI["pass" if code == 0 else "fail" if code == 1 else "error"]
    lines = [f"### {emoji} runverdict sweep: {len(outcomes)} runs, exit {code} (the worst of them)", "",
             f"**{cell(spec_name)}**", ""]
    if rank_by is not None:
        best, note = best_run(ordered, rank_by)
        lines += [(f"Ranked by {cell(rank_by.describe())}. **Best run: {cell(best.run_dir) if best else 'none'}** "
                  f"({cell(note, CELL_LIMIT * 4)})"), ""]
    columns = (["#", cell(rank_by.metric)] if rank_by is not None else []) + ["Run", "Verdict", "Decision",
                                                                             "Passed / failed / errors",
                                                                             "Failing and erroring checks"]
    lines += ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    position = 0
    for o in ordered:
        row = []
        if rank_by is not None:
            position += o.value is not None
            row += [str(position) if o.value is not None else "-",
                    cell(repr(o.value) if o.value is not None else f"- ({o.value_note})")]
        failed, erred = o.not_passing()
        ids = "; ".join(part for part in ("fail: " + ", ".join(failed) if failed else "",
                                          "error: " + ", ".join(erred) if erred else "") if part)
        p, f, e = o.counts()
        row += [cell(o.run_dir), f"{_EMOJI.get(o.verdict, '⛔')} {cell(o.verdict)}", cell(o.decision),
                f"{p} / {f} / {e}" if o.data else "-", cell(ids or "-") if o.data else cell(f"not checked: {o.message}")]
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def _details(o) -> str:
    summary = f"{_EMOJI.get(o.verdict, '⛔')} {cell(o.run_dir)}: {cell(o.verdict)}"
    inner = o.markdown if o.markdown is not None else f"not checked: {cell(o.message)}\n"
    return f"<details><summary>{summary}</summary>\n\n{inner.rstrip()}\n\n</details>\n"


def to_markdown(outcomes, code: int, spec_name: str, rank_by=None) -> str:
    """The whole sweep: the table of runs, then every run's report (nothing left out)."""
    ordered = rank(outcomes, rank_by)
    return "\n".join(_head(outcomes, code, spec_name, rank_by)) + "\n" + "\n".join(_details(o) for o in ordered)


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", errors="backslashreplace"))


def summary_within(outcomes, code: int, spec_name: str, rank_by=None, budget: int = STEP_SUMMARY_LIMIT,
                   full_report: str | None = None) -> str:
    """The sweep's Markdown in at most ``budget`` bytes (UTF-8): the table of runs, then each run's
    details while they fit; a run's details that do not are cut at a line boundary or left out, with a
    note. ``ValueError`` when not even the table and the notes fit."""
    ordered = rank(outcomes, rank_by)
    where = cell(f"the whole report: {full_report}" if full_report else
                 "the whole report: --markdown PATH, --html PATH or --json PATH", 100)
    head = "\n".join(_head(outcomes, code, spec_name, rank_by)) + "\n"

    def note(o, what):
        return (f"> ✂️ details of {cell(o.run_dir, 60)} {what}: the step summary is kept under GitHub's "
                f"{STEP_SUMMARY_LIMIT}-byte limit ({where})\n")

    def left_out():
        return [head] + [note(o, "left out") for o in ordered]

    if _utf8("\n".join(left_out())) > budget:
        raise ValueError(f"the table of {len(ordered)} runs alone takes {_utf8(head)} bytes, more than the "
                         f"{budget} bytes left under GitHub's {STEP_SUMMARY_LIMIT}-byte step summary limit")
    parts, used = [head], _utf8(head)
    for k, o in enumerate(ordered):
        room = budget - used - 1 - _RESERVE * (len(ordered) - k - 1)  # 1: the joining newline
        block = _details(o)
        if _utf8(block) <= room:
            piece = block
        else:
            lines = block.splitlines(keepends=True)[:-1]  # the last line closes <details>: added back below
            total, kept, size = _utf8(block), [], 0
            closing = len("\n\n</details>\n") + _utf8(note(o, f"cut after {total} of {total} bytes"))
            for line in lines:
                if size + _utf8(line) + closing > room:
                    break
                kept.append(line)
                size += _utf8(line)
            if len(kept) > 2:  # more than the <summary> line and the blank line after it
                piece = "".join(kept).rstrip("\n") + "\n\n" + note(o, f"cut after {size} of {total} bytes") \
                    + "\n</details>\n"
            else:
                piece = note(o, "left out")
        parts.append(piece)
        used += 1 + _utf8(piece)
    text = "\n".join(parts)
    return text if _utf8(text) <= budget else "\n".join(left_out())  # never over the limit
