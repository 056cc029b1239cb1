"""A sweep's own reports: several runs judged by one spec, one row per run.

Each run is judged in a worker process, which returns a ``RunOutcome``: the run's terminal
report, its JSON-able report (``jsonreport.report_dict``), its exit code and, rendered there
from the full report, the pieces the sweep's files are made of (an HTML body, a JUnit
``<testsuite>``, a Markdown block) and, with ``--rank-by``, the value it is ranked by. This
module only assembles them:

* the terminal table (``table_lines``): runs as rows, never wider than ``WIDTH`` columns
  whatever a run directory is called (every name through ``terminal.safe``, long ones clipped
  from the left, keeping the tail); ``quiet_lines``: one line per run;
* the ranking (``rank``): by the value, best first, stable; runs whose value cannot be read
  last, each saying why; ``best_run`` is the best-ranked run whose verdict is pass;
* the sweep's JSON document (``sweep_document``).

HTML, JUnit and Markdown for a sweep are in ``sweep_pages``.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass

from .terminal import safe

WIDTH = 120  # columns of the terminal table
RUN_WIDTH = 28  # at most, for the RUN column: a longer name keeps its tail
MAX_ID_LINES = 3  # lines of failing/erroring check ids per run before "+N more"
_MIN_IDS = 24  # the FAILED / ERRORED column is never narrower


@dataclass(frozen=True)
class RankBy:
    """``--rank-by METRIC[:max|:min]``: what the runs are ordered by, and which way is better."""

    metric: str
    direction: str  # "max" (higher is better) or "min"
    source: str  # "check": that check's observed value; "history": the metric at the history's last epoch
    how: str  # how the direction was chosen, said in the JSON

    def describe(self) -> str:
        where = (f"check {self.metric!r}'s observed value" if self.source == "check"
                 else f"{self.metric} at the last epoch of each run's history")
        return f"{where}, {'higher' if self.direction == 'max' else 'lower'} is better ({self.how})"


@dataclass(frozen=True)
class RunOutcome:
    """One run of a sweep, as its worker judged it (picklable: only text, numbers and dicts)."""

    run_dir: str  # as given on the command line
    text: str  # the terminal report, or why the run was not checked
    data: dict | None  # jsonreport.report_dict, None when the run could not be checked
    code: int
    html: str | None = None  # html.report_body, when --html
    junit: str | None = None  # one <testsuite> element, when --junit
    markdown: str | None = None  # markdown.to_markdown, when --markdown or $GITHUB_STEP_SUMMARY
    value: float | None = None  # the --rank-by value, None when it cannot be read
    value_note: str | None = None  # where the value comes from, or why it cannot be read

    @property
    def verdict(self) -> str:
        return self.data["verdict"] if self.data else "error"

    @property
    def decision(self) -> str:
        decision = (self.data or {}).get("decision")
        return decision["action"] if decision else "-"

    @property
    def message(self) -> str:
        """Why the run was not checked (empty when it was)."""
        return "" if self.data else self.text.strip()

    def counts(self) -> tuple[int, int, int]:
        summary = (self.data or {}).get("summary") or {}
        return summary.get("pass", 0), summary.get("fail", 0), summary.get("error", 0)

    def not_passing(self) -> tuple[list[str], list[str]]:
        """``(failed, erred)`` check ids in the gate's order; a nice-to-have check's id ends with ``*``."""
        failed, erred = [], []
        for check in (self.data or {}).get("checks", ()):
            if check["status"] == "pass":
                continue
            name = check["id"] + ("" if check["severity"] == "must" else "*")
            (failed if check["status"] == "fail" else erred).append(name)
        return failed, erred


# -- ranking ------------------------------------------------------------------------------


def where(run_dir) -> str:
    """A run as the JSON names it: a local directory's absolute path, a URL (s3://, runs:/) as given."""
    from ..sources import is_remote

    return os.fspath(run_dir) if is_remote(run_dir) else os.path.abspath(run_dir)

def rank(outcomes, rank_by: RankBy | None) -> list[RunOutcome]:
    """The runs best first by their value (stable for ties); those without a value last, as given."""
    if rank_by is None:
        return list(outcomes)
    readable = [o for o in outcomes if o.value is not None]
    readable.sort(key=lambda o: -o.value if rank_by.direction == "max" else o.value)
    return readable + [o for o in outcomes if o.value is None]


def best_run(ordered, rank_by: RankBy) -> tuple[RunOutcome | None, str]:
    """The best-ranked run whose verdict is pass, and a sentence saying why it (or none) is named."""
    passing = [o for o in ordered if o.verdict == "pass"]
    ranked_passing = [o for o in passing if o.value is not None]
    best_word = "highest" if rank_by.direction == "max" else "lowest"
    if not passing:
        verdicts = ", ".join(f"{o.run_dir} {o.verdict}" for o in ordered)
        return None, f"no run passes the gate ({verdicts}): none can be promoted"
    if not ranked_passing:
        listed = "; ".join(f"{o.run_dir}: {o.value_note}" for o in passing)
        return None, f"no passing run has a readable {rank_by.metric} ({listed})"
    best = ranked_passing[0]
    note = (f"{best.run_dir} has the {best_word} {rank_by.metric} ({best.value!r}) of the {len(ranked_passing)} "
            f"passing run{'s' if len(ranked_passing) != 1 else ''} with a readable value")
    above = [o for o in ordered[:ordered.index(best)] if o.value is not None]
    if above:
        note += "; ranked above it but not passing: " + ", ".join(f"{o.run_dir} ({o.verdict})" for o in above)
    unread = [o for o in passing if o.value is None]
    if unread:
        note += "; passing but not ranked (no readable value): " + ", ".join(o.run_dir for o in unread)
    return best, note


def ranking_document(ordered, rank_by: RankBy) -> dict:
    """The JSON keys ``rank_by``, ``ranking``, ``best_run`` and ``best_run_note`` of a ranked sweep."""
    best, note = best_run(ordered, rank_by)
    rows, position = [], 0
    for o in ordered:
        position += o.value is not None
        rows.append({"rank": position if o.value is not None else None, "run": where(o.run_dir),
                     "verdict": o.verdict, "value": o.value, "note": o.value_note})
    return {"rank_by": {"metric": rank_by.metric, "direction": rank_by.direction, "source": rank_by.source,
                        "how": rank_by.how},
            "ranking": rows, "best_run": where(best.run_dir) if best else None, "best_run_note": note}


def sweep_document(outcomes, code: int, rank_by: RankBy | None) -> dict:
    """The ``--json`` document of a sweep: every run's report in the order given, and the ranking."""
    runs = [o.data if o.data is not None else  # not checked at all: still say which run, and why
            {"run": {"path": where(o.run_dir)}, "verdict": "error", "exit_code": o.code,
             "message": o.message}
            for o in outcomes]
    body = {"sweep": True, "exit_code": code, "runs": runs}
    if rank_by is not None:
        body.update(ranking_document(rank(outcomes, rank_by), rank_by))
    return body


# -- terminal -----------------------------------------------------------------------------

def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: East Asian wide characters 2, combining marks 0."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def clip_left(text: str, columns: int) -> str:
    """``text`` in at most ``columns`` columns, keeping its tail (a run's own name is at the end)."""
    if width(text) <= columns:
        return text
    kept, used = [], 1  # the ellipsis
    for ch in reversed(text):
        w = width(ch)
        if used + w > columns:
            break
        kept.append(ch)
        used += w
    return "…" + "".join(reversed(kept))


def clip_right(text: str, columns: int) -> str:
    if width(text) <= columns:
        return text
    kept, used = [], 1
    for ch in text:
        w = width(ch)
        if used + w > columns:
            break
        kept.append(ch)
        used += w
    return "".join(kept) + "…"


def pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def id_lines(failed, erred, columns: int, max_lines: int = MAX_ID_LINES) -> list[str]:
    """``fail: a, b; error: c`` wrapped in ``columns``, at most ``max_lines`` lines, the last ending
    ``+N more`` when ids are left out (N counts them)."""
    words = []  # one per check id
    for label, ids in (("fail", failed), ("error", erred)):
        for i, check_id in enumerate(ids):
            text = (f"{label}: " if i == 0 else "") + safe(check_id)
            if i < len(ids) - 1:
                text += ","
            elif label == "fail" and erred:
                text += ";"
            words.append(clip_right(text, columns))
    if not words:
        return ["-"]
    lines: list[list[str]] = [[]]
    for word in words:
        if lines[-1] and width(" ".join(lines[-1] + [word])) > columns:
            lines.append([])
        lines[-1].append(word)
    if len(lines) <= max_lines:
        return [" ".join(line) for line in lines]
    lines = lines[:max_lines]
    shown = sum(len(line) for line in lines)
    while True:
        suffix = f"+{len(words) - shown} more"
        if width(" ".join(lines[-1] + [suffix])) <= columns or not lines[-1]:
            lines[-1].append(suffix)
            return [" ".join(line) for line in lines]
        lines[-1].pop()
        shown -= 1


def table_lines(ordered, rank_by: RankBy | None, total_width: int = WIDTH) -> list[str]:
    """The sweep's table: one row per run (more when its check ids wrap), never wider than ``total_width``."""
    rows = []
    position = 0
    for o in ordered:
        p, f, e = o.counts()
        failed, erred = o.not_passing()
        cells = {"run": safe(o.run_dir), "verdict": safe(o.verdict), "decision": safe(o.decision),
                 "counts": f"{p}/{f}/{e}" if o.data else "-", "failed": failed, "erred": erred,
                 "message": safe(o.message)}
        if rank_by is not None:
            position += o.value is not None
            cells["rank"] = str(position) if o.value is not None else "-"
            cells["value"] = repr(o.value) if o.value is not None else "-"
        rows.append(cells)
    header = {"run": "RUN", "verdict": "VERDICT", "decision": "DECISION", "counts": "P/F/E"}
    columns = ["run", "verdict", "decision", "counts"]
    if rank_by is not None:
        header.update(rank="#", value=clip_right(safe(rank_by.metric), 24))
        columns += ["rank", "value"]
    widths = {c: max([width(header[c])] + [width(r[c]) for r in rows]) for c in columns}
    widths["run"] = min(widths["run"], RUN_WIDTH)
    fixed = sum(widths.values()) + 2 * len(columns)
    if total_width - fixed < _MIN_IDS:  # very long values: the run column gives way first
        widths["run"] = max(8, widths["run"] - (_MIN_IDS - (total_width - fixed)))
        fixed = sum(widths.values()) + 2 * len(columns)
    ids_width = max(8, total_width - fixed)
    indent = " " * fixed

    def line(cells):
        return "  ".join(pad(clip_left(cells[c], widths[c]) if c == "run" else clip_right(cells[c], widths[c]),
                             widths[c]) for c in columns) + "  "

    out = [(line(header) + "FAILED / ERRORED (* nice-to-have)").rstrip()]
    for cells in rows:
        if cells["message"]:
            ids = [clip_right(f"not checked: {cells['message']}", ids_width)]
        else:
            ids = id_lines(cells["failed"], cells["erred"], ids_width)
        out.append(line(cells) + ids[0])
        out += [indent + more for more in ids[1:]]
    return out


def quiet_lines(ordered) -> list[str]:
    """One line per run: its verdict, the run, the ids that failed and those that erred."""
    out = []
    for o in ordered:
        failed, erred = o.not_passing()
        parts = [f"{o.verdict:<5}", safe(o.run_dir)]
        if o.message:
            parts.append(f"not checked: {safe(o.message)}")
        if failed:
            parts.append("failed: " + ", ".join(safe(i) for i in failed))
        if erred:
            parts.append("erred: " + ", ".join(safe(i) for i in erred))
        out.append("  ".join(parts))
    return out


def best_line(ordered, rank_by: RankBy, total_width: int = WIDTH) -> str:
    """``Best run: RUN (METRIC VALUE, the best of N passing runs)`` in ``total_width`` columns, or why none is."""
    best, note = best_run(ordered, rank_by)
    if best is None:
        return clip_right(safe(f"Best run: none ({note})"), total_width)
    passing = sum(1 for o in ordered if o.verdict == "pass" and o.value is not None)
    tail = safe(f" ({rank_by.metric} {best.value!r}, the best of {passing} passing run{'s' if passing != 1 else ''})")
    return "Best run: " + clip_left(safe(best.run_dir), max(16, total_width - 10 - width(tail))) + tail
