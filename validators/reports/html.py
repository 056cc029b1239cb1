"""The HTML report: one self-contained file with the verdict, the advice, every check, and plots.

Nothing is fetched: no script, no font, no stylesheet or image from anywhere (a
Content-Security-Policy meta tag forbids it); CSS is inline and the plots are inline SVG drawn
by ``validators.svg`` from the artefacts the gate already read (``report.run``):

* a histogram of each checked prediction column (each check with a ``column`` parameter),
  with its bounds: values outside a ``range`` bound or beyond a ``saturation`` level are
  shaded and their bars drawn red; a ``statistic``'s observed value and bound are lines.
  When the bounds stretch the axis so far that the values fill under a quarter of it (a
  saturation level at 0.999 for values near 0.05), a second panel zooms on the values.
  An ``auc`` check's score column is split by its 0/1 labels instead of plotting the labels;
* training curves of each history metric a check uses, its bound as a horizontal line
  (the side that fails shaded) and the epoch the check judged marked;
* the PBO logit distribution of each ``pbo`` check (from its evidence), logit <= 0 shaded;
* with a baseline (``report.baseline``), the baseline beside the candidate in every plot, a
  baseline column in the checks table and the table of deltas; the triggered advice with the
  facts (numbers) that triggered it.

Every text is escaped with ``html.escape``; numbers are exact (``repr``). An artefact a plot
needs but cannot read is said in place of the plot.
"""

from __future__ import annotations

import math
import re
from html import escape

import numpy as np

from .. import __version__
from ..errors import GateError
from ..result import MUST, PASS
from .atomic import write_atomic
from .markdown import (
    advice_of,
    baseline_results_of,
    clip,
    deltas_of,
    printable,
    status_class,
    status_label,
    summary_text,
    value_text,
)
from .pbo_band_plot import band_panel
from .svg import PALETTE, Plot, exact, padded

BINS = 50
ZOOM_BELOW = 0.25  # values filling less than this share of the axis get a zoomed panel too
TEXT_LIMIT = 20000  # characters of one message or evidence block before it is clipped
LOG_RATIO = 1000.0  # a training curve's axis is logarithmic when its values span this factor
LOCATION_STATS = ("mean", "median", "min", "max", "quantile")  # statistics on the values' axis


def h(value) -> str:
    """Escaped text of anything (attribute-safe: quotes are escaped too)."""
    return escape(printable(value), quote=True)


# -- page ---------------------------------------------------------------------------------

CSS = """
:root{--pass:#1a7f37;--fail:#cf222e;--error:#8250df;--nice:#b7791f;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;color:var(--ink);
background:#f6f8fa}
main{max-width:1220px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid var(--line);
padding-bottom:4px}h3{font-size:15px;margin:0 0 6px}
.banner{border-radius:8px;padding:14px 18px;color:#fff;margin-bottom:14px}
.banner.pass{background:var(--pass)}.banner.fail{background:var(--fail)}.banner.error{background:var(--error)}
.banner p{margin:2px 0}.banner code{color:#fff}
code,.num{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
td.num{overflow-wrap:anywhere;min-width:5em}
td{overflow-wrap:anywhere}
tr.fail td:first-child{border-left:4px solid var(--fail)}tr.error td:first-child{border-left:4px solid var(--error)}
tr.nice td:first-child{border-left:4px solid var(--nice)}tr.pass td:first-child{border-left:4px solid var(--pass)}
.badge{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;font-size:12px;font-weight:600;
white-space:nowrap}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.error{background:var(--error)}
.badge.nice{background:var(--nice)}
.desc{color:var(--muted);font-size:12.5px}
details summary{cursor:pointer;color:var(--muted);font-size:12.5px}
pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;background:#f6f8fa;padding:6px;border-radius:4px}
.advice{background:#fff8e6;border:1px solid #e6c35c;border-left:5px solid var(--nice);border-radius:6px;
padding:10px 14px;margin:8px 0}
.advice .why{color:var(--muted)}
.decision{border:1px solid #ccc;border-left:5px solid var(--muted);border-radius:6px;padding:8px 14px;margin:12px 0}
.decision.promote{border-left-color:var(--pass)}.decision.keep-baseline{border-left-color:var(--fail)}
.decision.investigate{border-left-color:var(--error)}
.advice ul{margin:6px 0 0;padding-left:20px}
.figs{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px;flex:1 1 560px;
min-width:0}figure.wide{flex-basis:100%}
figure .pair{display:flex;flex-wrap:wrap;gap:8px}
figure .panel{flex:1 1 540px;min-width:0}
figure .panel h4{margin:0 0 2px;font-size:12.5px;color:var(--muted);font-weight:600}
figcaption{font-size:12.5px;color:var(--muted)}
svg.plot{width:100%;height:auto;max-width:620px;display:block}
svg .tick{font-size:11px;fill:#59636e}svg .axis-label{font-size:12px;fill:#1f2328}
svg .axis{stroke:#1f2328;fill:none}svg .grid{stroke:#eaeef2}
svg .bar{fill:#3f74c6}svg .bar.bad{fill:#cf222e}svg .bar.base{fill:#8c959f}svg .bar.base.bad{fill:#b5545c}
svg .bar.l0{fill:#3f74c6;fill-opacity:.6}svg .bar.l1{fill:#e08a1e;fill-opacity:.6}
svg .forbid{fill:#cf222e;fill-opacity:.12}svg .interval{fill:#b7791f;fill-opacity:.15}
svg .curve{fill:none;stroke:#3f74c6;stroke-width:2}svg .curve.base{stroke:#8c959f;stroke-dasharray:6 4}
svg circle.curve{fill:#3f74c6}svg circle.curve.base{fill:#8c959f}
svg line{stroke-width:2}svg .dash{stroke-dasharray:6 4}svg .dot{stroke-dasharray:2 3}
svg .mark{font-size:11px;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}
.c0{stroke:#c2410c;fill:#c2410c}.c1{stroke:#7c3aed;fill:#7c3aed}.c2{stroke:#0f766e;fill:#0f766e}
.c3{stroke:#b91c1c;fill:#b91c1c}.c4{stroke:#a16207;fill:#a16207}.c5{stroke:#be185d;fill:#be185d}
svg circle.c0,svg circle.c1,svg circle.c2,svg circle.c3,svg circle.c4,svg circle.c5{stroke:#fff;stroke-width:1.5}
ul.legend{list-style:none;padding:0;margin:6px 0 0;font-size:12.5px}
ul.legend li{margin:2px 0}
.sw{display:inline-block;width:18px;height:0;border-top:3px solid;vertical-align:middle;margin-right:6px}
.sw.c0{border-color:#c2410c}.sw.c1{border-color:#7c3aed}.sw.c2{border-color:#0f766e}.sw.c3{border-color:#b91c1c}
.sw.c4{border-color:#a16207}.sw.c5{border-color:#be185d}
.sw.box{height:10px;border:0;background:#cf222e;opacity:.35}
.sw.cand{border-color:#3f74c6}.sw.base{border-color:#8c959f;border-top-style:dashed}
.sw.l0{height:10px;border:0;background:#3f74c6;opacity:.6}.sw.l1{height:10px;border:0;background:#e08a1e;opacity:.6}
.note{color:var(--muted);font-style:italic}
td.improved{color:var(--pass);font-weight:600}td.worse{color:var(--fail);font-weight:600}
footer{margin-top:30px;color:var(--muted);font-size:12px}
"""


def check_anchor(index: int, check_id) -> str:
    """The ``id`` of the checks table's row for the ``index``-th result (in the gate's order)."""
    return f"check-{index}-{re.sub(r'[^A-Za-z0-9_.-]', '_', printable(check_id))}"


def report_body(report) -> str:
    """Every section of the report (banner to footer), the body of ``to_html`` and of a sweep's run section."""
    anchors = {r.id: check_anchor(i, r.id) for i, r in enumerate(report.results)}
    body = [_header(report), _decision(report), _advice(report), _checks_table(report, anchors)]
    body += [_prediction_plots(report, anchors), _history_plots(report, anchors), _pbo_plots(report, anchors)]
    body += [_baseline_table(report), _footer(report)]
    return "\n".join(part for part in body if part)


def page(title: str, body: str, css: str = "") -> str:
    """A self-contained HTML document: the Content-Security-Policy forbids every fetch."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; img-src data:\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<link rel=\"icon\" href=\"data:,\"><title>{h(title)}</title><style>{CSS}{css}</style></head>\n"
            "<body><main>\n" + body + "\n</main></body></html>\n")


def to_html(report) -> str:
    """The whole report as one self-contained HTML document."""
    return page(f"runverdict {report.verdict.upper()}: {report.spec.name} on {report.run_dir}", report_body(report))


def write_html(report, path) -> None:
    write_atomic(path, to_html(report))


# -- sections -----------------------------------------------------------------------------

def _header(report) -> str:
    verdict = report.verdict if report.verdict in ("pass", "fail", "error") else "error"
    lines = [(f'<section class="banner {verdict}"><h1>runverdict: {h(report.verdict.upper())} '
             f"(exit {int(report.exit_code)})</h1>"),
             f"<p><strong>{h(report.spec.name)}</strong> on <code>{h(report.run_dir)}</code></p>",
             f"<p>{h(summary_text(report))}.</p>"]
    comparison = getattr(report, "baseline", None)
    if comparison is not None:
        lines.append(f"<p>Baseline: <code>{h(getattr(comparison, 'baseline_dir', ''))}</code> "
                     f"(its verdict: {h(getattr(comparison, 'baseline_verdict', None) or '-')})</p>")
    lines.append("</section>")
    return "\n".join(lines)


def _decision(report) -> str:
    decision = getattr(report, "decision", None)
    if decision is None:
        return ""
    out = [f'<section id="decision" class="decision {h(decision.action)}"><h2>Decision: {h(decision.action)}</h2>',
           f"<p>{h(decision.reason)}</p>"]
    if decision.because:
        out.append("<ul>" + "".join(f"<li><code>{h(line)}</code></li>" for line in decision.because) + "</ul>")
    out.append("</section>")
    return "\n".join(out)


def _advice(report) -> str:
    advice = advice_of(report)
    warnings = list(getattr(report, "advice_warnings", ()) or ())
    if not advice and not warnings:
        return ""
    out = ['<section id="advice"><h2>Advice</h2>']
    out += [f'<p class="warning">Warning: {h(w)}</p>' for w in warnings]
    for a in advice:
        out.append(f'<div class="advice"><h3>{h(getattr(a, "recommend", a))}</h3>')
        if getattr(a, "reason", ""):
            out.append(f'<div class="why">{h(a.reason)} <code>[{h(getattr(a, "id", ""))}]</code></div>')
        facts = getattr(a, "facts", ()) or ()
        if facts:
            out.append("<ul>" + "".join(f"<li><code>{h(fact)}</code></li>" for fact in facts) + "</ul>")
        out.append("</div>")
    out.append("</section>")
    return "\n".join(out)


def _checks_table(report, anchors) -> str:
    comparison = getattr(report, "baseline", None)
    base_results = baseline_results_of(report)
    head = ["Status", "Check", "Observed"] + (["Baseline"] if comparison is not None else []) + ["Bound", "Message"]
    out = ['<section id="checks"><h2>Checks</h2><table><thead><tr>'
           + "".join(f"<th>{c}</th>" for c in head) + "</tr></thead><tbody>"]
    for r in failing_first(report.results):
        cls = status_class(r)
        cells = [f'<td><span class="badge {cls}">{h(status_label(r))}</span></td>',
                 f'<td><code>{h(r.id)}</code><div class="desc">{h(r.kind)}, {h(r.severity)}</div>'
                 + (f'<div class="desc">{h(r.description)}</div>' if r.description else "") + "</td>",
                 f'<td class="num">{h(clip(value_text(r.observed), TEXT_LIMIT))}</td>']
        if comparison is not None:
            other = base_results.get(r.id)
            cells.append(f'<td class="num">{h(clip(value_text(other.observed), TEXT_LIMIT))}'
                         f'<div class="desc">{h(other.status)}</div></td>' if other else '<td class="num">-</td>')
        cells.append(f'<td class="num">{h(r.bound or "-")}</td>')
        message = f"{h(clip(printable(r.message), TEXT_LIMIT))}"
        if r.evidence:
            message += f"<details><summary>evidence</summary><pre>{h(clip(_evidence_text(r.evidence), TEXT_LIMIT))}" \
                       "</pre></details>"
        cells.append(f"<td>{message}</td>")
        out.append(f'<tr id="{h(anchors[r.id])}" class="{cls}">' + "".join(cells) + "</tr>")
    out.append("</tbody></table></section>")
    return "\n".join(out)


def failing_first(results) -> list:
    """Must checks that failed or erred, then nice ones that did not pass, then the passes; stable."""
    def group(r):
        if r.status == PASS:
            return 2
        return 0 if r.severity == MUST else 1

    return sorted(results, key=group)


def _evidence_text(evidence) -> str:
    import json

    from .jsonreport import plain

    return json.dumps(plain(evidence), indent=1, ensure_ascii=False, allow_nan=False, default=str)


def _baseline_table(report) -> str:
    comparison = getattr(report, "baseline", None)
    if comparison is None:
        return ""
    deltas = deltas_of(report)
    out = [(f'<section id="baseline"><h2>Baseline comparison</h2><p>Candidate <code>{h(report.run_dir)}</code> '
           f"against baseline <code>{h(getattr(comparison, 'baseline_dir', ''))}</code>. History metrics at their "
           "last epoch, then each check's observed value; delta = candidate - baseline.</p>")]
    if not deltas:
        out.append('<p class="note">Nothing to compare: no history metric or observed value in common.</p></section>')
        return "\n".join(out)
    out.append("<table><thead><tr><th>Source</th><th>Name</th><th>Baseline</th><th>Candidate</th><th>Delta</th>"
               "<th>Relative</th><th>Better</th><th>Change</th></tr></thead><tbody>")
    for d in deltas:
        change = str(getattr(d, "change", ""))
        out.append(f"<tr><td>{h(d.source)}</td><td><code>{h(d.name)}</code></td>"
                   + "".join(f'<td class="num">{h(value_text(v))}</td>' for v in (d.baseline, d.candidate, d.delta,
                                                                                   d.relative))
                   + f"<td>{h(d.better or '-')}</td><td class=\"{h(change.replace(' ', '-'))}\">{h(change)}</td></tr>")
    out.append("</tbody></table></section>")
    return "\n".join(out)


def _footer(report) -> str:
    rows = "".join(f"<li><code>{h(path)}</code> sha256 <code>{h(digest)}</code></li>"
                   for path, digest in sorted(report.files.items()))
    return (f"<footer>runverdict {h(__version__)} · spec <code>{h(report.spec.path)}</code> sha256 "
            f"<code>{h(report.spec.sha256)}</code> · {h(exact(float(report.seconds)))} s"
            + (f"<ul>{rows}</ul>" if rows else "") + "</footer>")


# -- plots: prediction columns ------------------------------------------------------------

def _checks_by_id(report):
    return {c.id: c for c in getattr(report.spec, "checks", ())}


def _runs(report):
    """``[("candidate", run), ("baseline", run)]`` for the runs whose artefacts are at hand."""
    run = getattr(report, "run", None)
    if run is None:
        return []
    runs = [("candidate", run)]
    base = getattr(run, "baseline", None)
    if base is not None and getattr(report, "baseline", None) is not None:
        runs.insert(0, ("baseline", base))
    return runs


def _link(anchors, check_id) -> str:
    return f'<a href="#{h(anchors.get(check_id, ""))}"><code>{h(check_id)}</code></a>'


def _prediction_plots(report, anchors) -> str:
    runs = _runs(report)
    if not runs:
        return ""
    results = {"candidate": {r.id: r for r in report.results}, "baseline": baseline_results_of(report)}
    groups: dict = {}
    for check in getattr(report.spec, "checks", ()):
        column = check.params.get("column")
        if column and check.id in results["candidate"]:
            groups.setdefault((column, check.params.get("element")), []).append(check)
    if not groups:
        return ""
    figures = [_column_figure(column, element, checks, runs, results, anchors)
               for (column, element), checks in groups.items()]
    return ('<section id="predictions"><h2>Prediction columns</h2><div class="figs">' + "\n".join(figures)
            + "</div></section>")


def _read(run, column, element=None):
    """``(values, None)`` or ``(None, why not)``."""
    try:
        return np.asarray(run.column(column, element).values, dtype=np.float64), None
    except GateError as exc:
        return None, str(exc)


def _column_marks(checks, results):
    """Forbidden x intervals and reference lines of the checks on one column.

    ``forbidden``: ``(lo, hi, check_id, edges_allowed)`` with None for an open end;
    ``lines``: ``(x, css, text, which)`` where ``which`` is None (every panel) or a run label.
    """
    forbidden, lines = [], []
    for i, check in enumerate(checks):
        colour = f"c{i % PALETTE}"
        bound = check.bound
        if check.kind == "range" and bound is not None:
            if bound.lower:
                forbidden.append((None, bound.lower[1], check.id, bound.lower[0] == "ge"))
                lines.append((bound.lower[1], f"{colour} dash", (f"{check.id}: {bound.lower[0]} "
                              f"{exact(bound.lower[1])}"), None))
            if bound.upper:
                forbidden.append((bound.upper[1], None, check.id, bound.upper[0] == "le"))
                lines.append((bound.upper[1], f"{colour} dash", (f"{check.id}: {bound.upper[0]} "
                              f"{exact(bound.upper[1])}"), None))
        elif check.kind == "saturation" and _finite(check.params.get("level")):
            level = check.params["level"]
            beyond_ok = not check.params.get("inclusive")  # the level itself counts only when inclusive
            if check.params.get("side", "above") == "above":
                forbidden.append((level, None, check.id, beyond_ok))
            else:
                forbidden.append((None, level, check.id, beyond_ok))
            lines.append((level, f"{colour} dash", f"{check.id}: level {exact(level)}", None))
        elif check.kind == "statistic" and check.params.get("stat") in LOCATION_STATS:
            stat = check.params["stat"]
            for limit in (bound.lower, bound.upper) if bound is not None else ():
                if limit:
                    lines.append((limit[1], f"{colour} dot", f"{check.id}: {stat} {limit[0]} {exact(limit[1])}",
                                  None))
            for which, by_id in results.items():
                r = by_id.get(check.id)
                if r is not None and _finite(r.observed):
                    lines.append((float(r.observed), colour, f"{check.id}: {stat} = {value_text(r.observed)}",
                                  which))
    return forbidden, lines


def _finite(value) -> bool:
    try:
        return value is not None and not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def _forbidden_mask(values, forbidden):
    """Which values lie in a forbidden interval (beyond a range bound or a saturation level)."""
    mask = np.zeros(values.shape, dtype=bool)
    for lo, hi, _, edges_allowed in forbidden:
        inside = np.ones(values.shape, dtype=bool)
        if lo is not None:
            inside &= (values > lo) | ((values == lo) & (not edges_allowed))
        if hi is not None:
            inside &= (values < hi) | ((values == hi) & (not edges_allowed))
        mask |= inside
    return mask


def _column_figure(column, element, checks, runs, results, anchors) -> str:
    name = column if element is None else f"{column}[{element}]"
    forbidden, lines = _column_marks(checks, results)
    auc = next((c for c in checks if c.kind == "auc" and c.params.get("label_column")), None)
    data, notes = {}, []
    for label, run in runs:
        values, problem = _read(run, column, element)
        if problem:
            notes.append(f"{label}: {problem}")
            continue
        finite = np.isfinite(values)
        if not finite.all():
            notes.append(f"{label}: {int((~finite).sum())} of {values.size} values are NaN or inf; not drawn")
        if not finite.any():
            notes.append(f"{label}: no finite value to draw")
            continue
        labels = None
        if auc is not None:
            labels, problem = _read(run, auc.params["label_column"])
            if labels is None or labels.shape != values.shape:
                notes.append(f"{label}: not split by {auc.params['label_column']!r}: {problem or 'lengths differ'}")
                labels = None
        data[label] = (values[finite], None if labels is None else labels[finite])
    legend = _column_legend(checks, results["candidate"], anchors, auc if any(
        d[1] is not None for d in data.values()) else None)
    caption = ("<figcaption>checked by " + ", ".join(_link(anchors, c.id) for c in checks) + "</figcaption>")
    notes_html = "".join(f'<p class="note">{h(n)}</p>' for n in notes)
    if not data:
        return f"<figure><h3>{h(name)}</h3>{caption}{notes_html}{legend}</figure>"
    data_lo = min(float(v.min()) for v, _ in data.values())
    data_hi = max(float(v.max()) for v, _ in data.values())
    lo, hi = data_lo, data_hi
    for x, *_ in lines:
        lo, hi = min(lo, float(x)), max(hi, float(x))
    if not math.isfinite(hi - lo):
        return (f"<figure><h3>{h(name)}</h3>{caption}<p class=\"note\">values and bounds span more than a float "
                f"can hold: not drawn</p>{notes_html}{legend}</figure>")
    x_lo, x_hi = padded(lo, hi)
    rows = ['<div class="pair">' + "".join(
        _histogram_panel(label, values, labels, x_lo, x_hi, forbidden, lines, name, False)
        for label, (values, labels) in data.items()) + "</div>"]
    zooms = []
    for label, (values, labels) in data.items():
        own_lo, own_hi = float(values.min()), float(values.max())
        if 0 < own_hi - own_lo < ZOOM_BELOW * (hi - lo):
            z_lo, z_hi = padded(own_lo, own_hi)
            zooms.append(_histogram_panel(label, values, labels, z_lo, z_hi, forbidden, lines, name, True))
    if zooms:
        rows.append('<div class="pair">' + "".join(zooms) + "</div>")
        notes.insert(0, "zoomed: the values fill under a quarter of the axis the bounds need, so they are drawn "
                        "again on their own range")
        notes_html = "".join(f'<p class="note">{h(n)}</p>' for n in notes)
    wide = " class=\"wide\"" if len(data) > 1 else ""
    return f"<figure{wide}><h3>{h(name)}</h3>{caption}{''.join(rows)}{notes_html}{legend}</figure>"


def _histogram_panel(label, values, labels, x_lo, x_hi, forbidden, lines, name, zoom) -> str:
    what = f"{name}, {label}" + (", zoomed on the values" if zoom else "")
    plot = Plot((x_lo, x_hi), (0, 1), x_label=name, y_label="count", label=f"histogram of {what}")
    edges = np.linspace(x_lo, x_hi, BINS + 1)
    view = (values >= x_lo) & (values <= x_hi)
    base = " base" if label == "baseline" else ""
    if labels is not None:
        series = [(k, np.histogram(values[view & (labels == k)], bins=edges)[0]) for k in (0, 1)]
        top = max(int(c.max()) for _, c in series)
    else:
        bad = _forbidden_mask(values, forbidden)  # each value, not each bin: a bin may straddle a bound
        good_counts = np.histogram(values[view & ~bad], bins=edges)[0]
        bad_counts = np.histogram(values[view & bad], bins=edges)[0]
        top = int((good_counts + bad_counts).max())
    plot.y_lo, plot.y_hi = 0.0, max(top, 1) * 1.08
    for lo, hi, check_id, _ in forbidden:
        plot.band_x(lo, hi, "forbid", f"{check_id}: values here fail it")
    span = lambda i: f"[{exact(float(edges[i]))}, {exact(float(edges[i + 1]))})"
    if labels is not None:
        for k, counts in series:
            plot.bars(edges, counts, f"bar l{k}", [f"label {k}: {span(i)}: {int(c)}" for i, c in enumerate(counts)])
    else:
        titles = [f"{span(i)}: {int(g)} values within the bounds, {int(b)} beyond"
                  for i, (g, b) in enumerate(zip(good_counts, bad_counts))]
        plot.bars(edges, good_counts, f"bar{base}", titles)
        plot.bars(edges, bad_counts, f"bar{base} bad", titles, bottoms=good_counts)
    for x, css, text, which in lines:
        if which not in (None, label):
            continue
        if x_lo <= x <= x_hi:
            plot.vline(x, css, text)
        elif x > x_hi:
            plot.marker(x_hi, css.split()[0], f"{text} →", f"{text} (beyond this axis)")
        else:
            plot.marker(x_lo, css.split()[0], f"← {text}", f"{text} (beyond this axis)")
    outside = int(values.size - view.sum())
    head = (f"{label}{' (zoomed)' if zoom else ''}: {values.size} finite values"
            + (f", {outside} beyond this axis" if outside else ""))
    return f'<div class="panel"><h4>{h(head)}</h4>{plot.render()}</div>'


def _column_legend(checks, results, anchors, split_by) -> str:
    items = []
    if split_by is not None:
        column = split_by.params["label_column"]
        items.append(f'<li><span class="sw l0"></span><code>{h(column)}</code> = 0 '
                     f'<span class="sw l1"></span><code>{h(column)}</code> = 1</li>')
    for i, check in enumerate(checks):
        r = results.get(check.id)
        status = f'<span class="badge {status_class(r)}">{h(status_label(r))}</span> ' if r else ""
        observed = f' observed <span class="num">{h(value_text(r.observed))}</span>' if r else ""
        bound = f', bound <span class="num">{h(r.bound)}</span>' if r and r.bound else ""
        extra = ""
        if check.kind == "saturation":
            extra = (f', level <span class="num">{h(exact(check.params.get("level")))}</span> '
                     f'{h(check.params.get("side", "above"))}')
        elif check.kind == "statistic":
            extra = f", {h(check.params.get('stat'))}"
        swatch = "box" if check.kind in ("range", "saturation") else f"c{i % PALETTE}"
        items.append(f'<li><span class="sw {swatch}"></span>{status}{_link(anchors, check.id)} '
                     f"({h(check.kind)}{extra}){observed}{bound}</li>")
    return '<ul class="legend">' + "".join(items) + "</ul>"


# -- plots: training curves ---------------------------------------------------------------

def _history_plots(report, anchors) -> str:
    runs = _runs(report)
    if not runs:
        return ""
    metrics: dict = {}
    for check in getattr(report.spec, "checks", ()):
        if check.kind in ("history", "delta") and check.params.get("metric"):
            metrics.setdefault(check.params["metric"], []).append(check)
        elif check.kind == "auc" and check.params.get("history_metric"):
            metrics.setdefault(check.params["history_metric"], []).append(check)
    if not metrics:
        return ""
    histories, notes = {}, []
    for label, run in runs:
        try:
            histories[label] = run.history()
        except GateError as exc:
            notes.append(f"{label} history: {exc}")
    results = {"candidate": {r.id: r for r in report.results}, "baseline": baseline_results_of(report)}
    figures = [_curve_figure(metric, checks, histories, results, anchors) for metric, checks in metrics.items()]
    return ('<section id="training"><h2>Training curves</h2>'
            + "".join(f'<p class="note">{h(n)}</p>' for n in notes)
            + '<div class="figs">' + "\n".join(figures) + "</div></section>")


def _curve_figure(metric, checks, histories, results, anchors) -> str:
    series, notes = {}, []
    for label, hist in histories.items():
        values = getattr(hist, "metrics", {}).get(metric)
        if values is None:
            notes.append(f"{label}: no metric {metric!r} in the history")
            continue
        epochs = np.asarray(hist.epochs, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        series[label] = (epochs[: values.size], values[: epochs.size])
    caption = "<figcaption>used by " + ", ".join(_link(anchors, c.id) for c in checks) + "</figcaption>"
    legend_items = []
    if "baseline" in series:
        legend_items.append('<li><span class="sw cand"></span>candidate (solid) &nbsp; <span class="sw base"></span>'
                            "baseline (dashed)</li>")
    hlines, points = [], []  # (y, css, text, lower_forbidden: None/True/False), (x, y, css, text)
    references = []  # (y, css, text): drawn only when they do not squash the curves
    for i, check in enumerate(checks):
        colour = f"c{i % PALETTE}"
        r = results["candidate"].get(check.id)
        base_r = results["baseline"].get(check.id)
        detail = ""
        if check.kind == "history" and check.bound is not None:
            for limit, below in ((check.bound.lower, True), (check.bound.upper, False)):
                if limit:
                    hlines.append((limit[1], f"{colour} dash", f"{check.id}: {limit[0]} {exact(limit[1])}", below))
            for label, result in (("candidate", r), ("baseline", base_r)):
                epoch = (result.evidence or {}).get("epoch") if result is not None else None
                if epoch is not None and _finite(result.observed) and label in series:
                    points.append((epoch, float(result.observed), f"{colour}",
                                   (f"{check.id} ({label}): {value_text(result.observed)} at epoch {epoch} "
                                   f"({result.evidence.get('epoch_rule', '')})")))
            if r is not None and r.evidence.get("epoch") is not None:
                detail = f", judged epoch {h(r.evidence['epoch'])} ({h(r.evidence.get('epoch_rule', ''))})"
        elif check.kind == "delta" and r is not None and r.evidence.get("compared"):
            ev = r.evidence
            for label in ("candidate", "baseline"):
                if _finite(ev.get(label)) and ev.get(f"{label}_epoch") is not None and label in series:
                    points.append((ev[f"{label}_epoch"], float(ev[label]), colour,
                                   f"{check.id}: {label} {exact(ev[label])} at epoch {ev[f'{label}_epoch']}"))
            base_value = ev.get("baseline")
            if check.bound is not None and _finite(base_value):
                scale = abs(float(base_value)) if check.params.get("change") == "relative" else 1.0
                for limit, below in ((check.bound.lower, True), (check.bound.upper, False)):
                    if limit:
                        y = float(base_value) + float(limit[1]) * scale
                        hlines.append((y, f"{colour} dot", (f"{check.id}: baseline {exact(base_value)} "
                                       f"{'+' if limit[1] >= 0 else '-'} {exact(abs(limit[1]))}"
                                       f"{' x |baseline|' if scale != 1.0 else ''} = {exact(y)}"), None))
            detail = (f", candidate {h(exact(ev.get('candidate')))} (epoch {h(ev.get('candidate_epoch'))}) vs "
                      f"baseline {h(exact(ev.get('baseline')))} (epoch {h(ev.get('baseline_epoch'))})")
        elif check.kind == "delta":
            detail = ", not compared with a baseline"
        elif check.kind == "auc" and r is not None and _finite(r.observed):
            references.append((float(r.observed), colour, f"{check.id}: exact AUC {value_text(r.observed)}"))
            detail = ", its exact AUC from the predictions drawn as a line (labelled at the top when off this axis)"
        status = f'<span class="badge {status_class(r)}">{h(status_label(r))}</span> ' if r else ""
        observed = f' observed <span class="num">{h(value_text(r.observed))}</span>' if r else ""
        bound = f', bound <span class="num">{h(r.bound)}</span>' if r and r.bound else ""
        legend_items.append(f'<li><span class="sw {colour}"></span>{status}{_link(anchors, check.id)} '
                            f"({h(check.kind)}){observed}{bound}{detail}</li>")
    legend = '<ul class="legend">' + "".join(legend_items) + "</ul>"
    notes_html = "".join(f'<p class="note">{h(n)}</p>' for n in notes)
    finite = [v[np.isfinite(v)] for _, v in series.values()]
    finite = [v for v in finite if v.size]
    if not finite:
        return f"<figure><h3>{h(metric)}</h3>{caption}<p class=\"note\">no finite value to draw</p>" \
               f"{notes_html}{legend}</figure>"
    ys = [float(v.min()) for v in finite] + [float(v.max()) for v in finite] + [y for y, *_ in hlines]
    off_axis = []
    for y, css, text in references:
        span = max(ys) - min(ys)
        if span and max(max(ys), y) - min(min(ys), y) > 2 * span:
            off_axis.append((y, css, text))
        else:
            ys.append(y)
            hlines.append((y, css, text, None))
    xs = [float(e.min()) for e, _ in series.values() if e.size] + [float(e.max()) for e, _ in series.values() if e.size]
    if not all(math.isfinite(v) for v in ys + xs):
        return f"<figure><h3>{h(metric)}</h3>{caption}<p class=\"note\">values too large to draw</p>{legend}</figure>"
    # curves spanning three orders of magnitude or more (a loss of 20 beside one of 0.0002) on a log
    # axis, its range in exponents (a loss of 5e-324 is 10 ** -323.3; 1e-300 to 1e300 fits)
    log_y = min(ys) > 0 and max(ys) / min(ys) >= LOG_RATIO
    y_lo, y_hi = padded(min(ys), max(ys), 0.08)
    exponents = padded(math.log10(min(ys)), math.log10(max(ys)), 0.08) if log_y else None
    x_lo, x_hi = padded(min(xs), max(xs), 0.03)
    plot = Plot((x_lo, x_hi), (y_lo, y_hi), x_label="epoch", y_label=metric + (" (log scale)" if log_y else ""),
                label=f"training curve of {metric}", log_y=log_y, y_log10=exponents)
    y_hi = 10.0 ** min(plot.y_hi, 308.0) if log_y else plot.y_hi  # for the off-axis arrows below
    for y, css, text, below in hlines:
        if below is True:
            plot.band_y(None, y, "forbid", f"{text}: values here fail it")
        elif below is False:
            plot.band_y(y, None, "forbid", f"{text}: values here fail it")
    for label in ("baseline", "candidate"):
        if label in series:
            epochs, values = series[label]
            css = "curve base" if label == "baseline" else "curve"
            plot.line(epochs, values, css, f"{metric} ({label}): " + ", ".join(
                f"{int(e) if float(e).is_integer() else exact(e)}: {exact(float(v))}" for e, v in zip(epochs, values)))
    for y, css, text, _ in hlines:
        plot.hline(y, css, text)
    for x, y, css, text in points:
        plot.vline(x, f"{css} dot", text)
        plot.point(x, y, css, text)
    for y, css, text in off_axis:
        plot.marker(x_hi, css, f"{text} {'↑' if y > y_hi else '↓'}", f"{text} (off this axis)")
    return f"<figure><h3>{h(metric)}</h3>{caption}{plot.render()}{notes_html}{legend}</figure>"


# -- plots: PBO ---------------------------------------------------------------------------

def _pbo_plots(report, anchors) -> str:
    base_results = baseline_results_of(report)
    groups: dict = {}
    notes = []
    for r in report.results:
        if r.kind != "pbo":
            continue
        histogram = (r.evidence or {}).get("logit_histogram")
        if not _is_histogram(histogram):
            notes.append(f"{r.id}: no logit distribution ({r.status}: {r.message})")
            continue
        key = (tuple(histogram["counts"]), tuple(histogram["edges"]))
        groups.setdefault(key, []).append(r)
    if not groups and not notes:
        return ""
    figures = []
    for results in groups.values():
        panels = []
        other = base_results.get(results[0].id)
        if other is not None and _is_histogram((other.evidence or {}).get("logit_histogram")):
            panels.append(("baseline", other))
        panels.append(("candidate", results[0]))
        edges_all = [float(e) for _, res in panels for e in res.evidence["logit_histogram"]["edges"]] + [0.0]
        x_lo, x_hi = padded(min(edges_all), max(edges_all), 0.03)
        html_panels = []
        for label, res in panels:
            hist = res.evidence["logit_histogram"]
            counts, edges = [int(c) for c in hist["counts"]], [float(e) for e in hist["edges"]]
            plot = Plot((x_lo, x_hi), (0, max(counts + [1]) * 1.08), x_label="logit of the out-of-sample rank",
                        y_label="splits", label=f"PBO logit distribution ({label})")
            plot.band_x(None, 0.0, "forbid", "logit <= 0: the in-sample best trial ranks at or below the "
                        "out-of-sample median (overfit)")
            bad = [c if (edges[i] + edges[i + 1]) / 2 <= 0 else 0 for i, c in enumerate(counts)]
            good = [c - b for c, b in zip(counts, bad)]
            base = " base" if label == "baseline" else ""
            titles = [f"[{exact(edges[i])}, {exact(edges[i + 1])}): {c} splits" for i, c in enumerate(counts)]
            plot.bars(edges, good, f"bar{base}", titles)
            plot.bars(edges, bad, f"bar{base} bad", titles)
            plot.vline(0.0, "c3 dash", "logit 0")
            ev = res.evidence
            head = (f"{label}: PBO {value_text(res.observed)} over {ev.get('combinations', '?')} splits of "
                    f"{ev.get('trials', '?')} trials")
            html_panels.append(f'<div class="panel"><h4>{h(head)}</h4>{plot.render()}</div>')
        html_panels += [p for p in (band_panel(results[0]),) if p]  # the band beside the estimate (one per computation)
        ev = results[0].evidence
        quartiles = ", ".join(f"{k.split('_')[1]} {exact(ev[k])}" for k in
                              ("logit_min", "logit_q1", "logit_median", "logit_q3", "logit_max") if k in ev)
        items = "".join(
            f'<li><span class="badge {status_class(r)}">{h(status_label(r))}</span> {_link(anchors, r.id)} observed '
            f'<span class="num">{h(value_text(r.observed))}</span>, bound <span class="num">{h(r.bound or "-")}'
            "</span></li>" for r in results)
        facts = (f"<li>logits at or below 0: {h(ev.get('logits_at_or_below_0', '?'))} of "
                 f"{h(ev.get('combinations', '?'))}; logit quartiles: <span class=\"num\">{h(quartiles)}</span>; "
                 f"probability of loss <span class=\"num\">{h(value_text(ev.get('probability_of_loss')))}</span>"
                 "</li>")
        wide = ' class="wide"' if len(panels) > 1 else ""
        figures.append(f"<figure{wide}><h3>PBO: logit distribution</h3><figcaption>PBO is the share of the splits whose "
                       "logit is at or below 0 (shaded)</figcaption><div class=\"pair\">" + "".join(html_panels)
                       + f'</div><ul class="legend">{items}{facts}</ul></figure>')
    return ('<section id="pbo"><h2>Probability of backtest overfitting</h2>'
            + "".join(f'<p class="note">{h(n)}</p>' for n in notes)
            + '<div class="figs">' + "".join(figures) + "</div></section>")


def _is_histogram(value) -> bool:
    if not isinstance(value, dict):
        return False
    counts, edges = value.get("counts"), value.get("edges")
    return (isinstance(counts, (list, tuple)) and isinstance(edges, (list, tuple)) and len(counts) >= 1
            and len(edges) == len(counts) + 1 and all(_finite(e) for e in edges)
            and all(_finite(c) for c in counts))
