"""Sweeps: ``runverdict check RUN1 RUN2 ... --spec SPEC`` judges every run with one spec.

Each run is judged in a worker process (``--jobs N``, default one per core), or with
``--scheduler tcp://HOST:PORT`` as a task on that Dask cluster (``sweep_dask``), by ``evaluate_one``,
which renders there, from the run's full report, what the sweep's files need (its HTML body,
JUnit suite, Markdown block) and the ``--rank-by`` value; only text and numbers cross back.
The sweep prints each run's report (unless ``--quiet``), one table of the runs, and exits with
the worst code of them (internal error > error > fail > pass); a report that cannot be written
makes it at least 2.

``--rank-by METRIC``: METRIC is a check id of the spec (ranked by that check's observed value)
or else a history metric (ranked by its value at the last epoch of each run's history). Which way
is better: ``METRIC:max`` or ``METRIC:min``, else from the name as the baseline comparison decides
it (``baseline.better_direction``: ``*_auc``, ``*_score``, ``sharpe`` higher; ``*_loss``,
``*_error``, ``pbo`` lower); a name with no known direction is a usage error.
"""

from __future__ import annotations

import os
import sys

from .errors import UsageError
from .exitcodes import ExitCode
from .reports.sweep import RankBy, RunOutcome
from .reports.terminal import safe

_SEVERITY = {int(ExitCode.PASS): 0, int(ExitCode.FAIL): 1, int(ExitCode.ERROR): 2, int(ExitCode.INTERNAL): 3}


def worst_exit(codes) -> int:
    """The exit code of a sweep: internal error > error > fail > pass; nothing judged is an error."""
    return max(codes, key=lambda c: _SEVERITY.get(c, 3), default=int(ExitCode.ERROR))


def parse_rank_by(text: str | None, spec) -> RankBy | None:
    """``--rank-by METRIC[:max|:min]`` read before any run is judged; ``UsageError`` when it cannot be ranked."""
    if text is None:
        return None
    from .baseline import better_direction

    metric, direction, how = text, None, None
    if ":" in text:
        metric, suffix = text.rsplit(":", 1)
        if suffix not in ("max", "min"):
            raise UsageError(f"runverdict: --rank-by {text!r}: the suffix must be :max (higher is better) or :min "
                             f"(lower is better), got {suffix!r}")
        direction, how = suffix, f"as given, :{suffix}"
    if not metric.strip():
        raise UsageError(f"runverdict: --rank-by {text!r}: name a check id or a history metric, e.g. "
                         "--rank-by val_direction_auc")
    if direction is None:
        better = better_direction(metric)
        if better is None:
            raise UsageError(f"runverdict: --rank-by {text!r}: which way is better for {metric!r} is not known from "
                             f"its name; say it: --rank-by {metric}:max (higher is better) or {metric}:min")
        direction = "max" if better == "higher" else "min"
        how = "from the name"
    source = "check" if metric in {c.id for c in spec.checks} else "history"
    return RankBy(metric, direction, source, how)


def rank_value(report, rank_by: RankBy) -> tuple[float | None, str]:
    """``(value, where it comes from)`` of one run, or ``(None, why it cannot be read)``."""
    import math

    from .artefacts.history import NoBestEpoch
    from .bounds import is_finite_number
    from .errors import GateError

    if rank_by.source == "check":
        result = next(r for r in report.results if r.id == rank_by.metric)
        if result.status == "error":
            return None, f"check {result.id!r} erred: {result.message}"
        if not is_finite_number(result.observed):
            return None, f"check {result.id!r} observed {result.observed!r}, not a finite number"
        return float(result.observed), f"check {result.id!r} observed"
    if report.run is None:
        return None, "the run's artefacts were not read"
    try:
        value, epoch = report.run.metric_at(rank_by.metric, "last")
    except (GateError, NoBestEpoch) as exc:
        return None, f"cannot read {rank_by.metric} at the last epoch: {exc}"
    if not math.isfinite(value):
        return None, f"{rank_by.metric} is {value!r} at the last epoch ({epoch})"
    return value, f"{rank_by.metric} at epoch {epoch} (the last)"


def evaluate_one(spec, run_dir, baseline=None, artefacts=None, layout=None, formats=(), rank_by=None,
                 options=None) -> RunOutcome:
    """Judge one run of a sweep (in a worker process; a remote run is fetched there) and render what
    the sweep needs of it."""
    from .errors import ArtefactError
    from .sources import is_remote, judged

    try:
        if not is_remote(run_dir) and not os.path.isdir(run_dir):
            return RunOutcome(run_dir, f"runverdict: run directory {run_dir!r} not found\n", None, int(ExitCode.ERROR),
                              value_note="not checked")
        try:
            with judged(spec, run_dir, baseline, artefacts=artefacts, layout=layout, options=options) as (report, _):
                return _outcome(report, run_dir, formats, rank_by)
        except ArtefactError as exc:  # the remote run (or baseline) could not be fetched
            return RunOutcome(run_dir, safe(f"runverdict: {exc}") + "\n", None, int(ExitCode.ERROR),
                              value_note="not checked")
    except Exception as exc:  # noqa: BLE001 - a bug in one run must not hide the others
        return RunOutcome(run_dir, f"runverdict: internal error on {run_dir}: {type(exc).__name__}: {exc}\n", None,
                          int(ExitCode.INTERNAL), value_note="not checked")


def _outcome(report, run_dir, formats, rank_by) -> RunOutcome:
    """What the sweep needs of one judged run: its text, JSON, the pieces of the sweep's files, its rank value."""
    from .reports.jsonreport import report_dict
    from .reports.text import render

    pieces = {}
    if "html" in formats:
        from .reports.html import report_body

        pieces["html"] = report_body(report)
    if "junit" in formats:
        from .reports.junit import build_tree
        from .reports.sweep_pages import suite_of

        pieces["junit"] = suite_of(build_tree(report), run_dir)
    if "markdown" in formats:
        from .reports.markdown import to_markdown

        pieces["markdown"] = to_markdown(report)
    value, note = rank_value(report, rank_by) if rank_by is not None else (None, None)
    return RunOutcome(run_dir, render(report), report_dict(report), int(report.exit_code), value=value,
                      value_note=note, **pieces)


def run_sweep(args, spec, artefacts=None, layout=None, rank_by=None) -> int:
    """The ``check`` command with several run directories; returns the exit code."""
    from concurrent.futures import ProcessPoolExecutor

    from .reports import markdown as report_markdown
    from .reports.sweep import best_line, quiet_lines, rank, table_lines

    summary_path = os.environ.get(report_markdown.STEP_SUMMARY) or None
    formats = tuple(name for name, wanted in (("html", args.html), ("junit", args.junit),
                                              ("markdown", args.markdown or summary_path)) if wanted)
    dirs = list(args.run_dirs)
    jobs = min(args.jobs or os.cpu_count() or 1, len(dirs))  # never more workers than runs
    n = len(dirs)
    from .sources import options_from

    options = options_from(args)
    arguments = ([spec] * n, dirs, [args.baseline] * n, [artefacts] * n, [layout] * n, [formats] * n, [rank_by] * n,
                 [options] * n)
    if getattr(args, "scheduler", None) is not None:  # each run a task on a Dask cluster
        from .errors import ArtefactError
        from .sweep_dask import evaluate_on_cluster

        try:
            outcomes = evaluate_on_cluster(args.scheduler, evaluate_one, arguments)
        except ArtefactError as exc:  # nothing could be judged there: no table, no reports
            print(safe(f"runverdict: {exc}"), file=sys.stderr)
            return int(ExitCode.ERROR)
    elif jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            outcomes = list(pool.map(evaluate_one, *arguments))
    else:
        outcomes = [evaluate_one(*a) for a in zip(*arguments)]
    ordered = rank(outcomes, rank_by)
    if not args.quiet:
        for o in outcomes:
            sys.stdout.write("\n".join(map(safe, o.text.split("\n"))) + "\n")
    lines = quiet_lines(ordered) if args.quiet else table_lines(ordered, rank_by)
    code = worst_exit([o.code for o in outcomes])
    if rank_by is not None:
        lines.append(best_line(ordered, rank_by))
    lines.append(f"{len(outcomes)} runs; exit {code} (the worst of them)")
    sys.stdout.write("".join(line + "\n" for line in lines))
    return _write_sweep_reports(args, outcomes, code, spec, rank_by, summary_path)


def _write_sweep_reports(args, outcomes, code, spec, rank_by, summary_path) -> int:
    import json

    from .reports import sweep_pages
    from .reports.atomic import write_atomic
    from .reports.jsonreport import escape_surrogates
    from .reports.sweep import sweep_document

    failed = False

    def fail(message):
        nonlocal failed
        print(safe(f"runverdict: {message}"), file=sys.stderr)
        failed = True

    name = spec.name
    if summary_path:
        try:
            _append_summary(summary_path, outcomes, code, name, rank_by, args.markdown)
        except (OSError, ValueError) as exc:
            fail(f"cannot append to $GITHUB_STEP_SUMMARY: {getattr(exc, 'strerror', None) or exc}")
    writers = [("JUnit", args.junit, lambda: sweep_pages.to_junit(outcomes)),
               ("Markdown", args.markdown, lambda: sweep_pages.to_markdown(outcomes, code, name, rank_by)),
               ("HTML", args.html, lambda: sweep_pages.to_html(outcomes, code, name, rank_by))]
    for label, path, text in writers:
        if path:
            try:
                write_atomic(path, text())
            except OSError as exc:
                fail(f"cannot write the {label} report {path!r}: {exc.strerror or exc}; the previous report, "
                     "if any, is unchanged")
    final = worst_exit([code, int(ExitCode.ERROR)]) if failed else code
    if args.json:  # last, with the sweep's final exit code
        body = sweep_document(outcomes, final, rank_by)
        try:
            write_atomic(args.json, escape_surrogates(json.dumps(body, indent=2, allow_nan=False,
                                                                 ensure_ascii=False)) + "\n")
        except OSError as exc:
            fail(f"cannot write the report {args.json!r}: {exc.strerror or exc}")
            final = worst_exit([final, int(ExitCode.ERROR)])
    return final


def _append_summary(path, outcomes, code, name, rank_by, full_report) -> None:
    """Append the sweep's Markdown to ``$GITHUB_STEP_SUMMARY``, the file kept under GitHub's 1 MiB."""
    import errno
    import stat

    from .reports.sweep_pages import STEP_SUMMARY_LIMIT, summary_within

    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):  # a named pipe would block the open forever
        raise OSError(errno.EINVAL, "not a regular file (a named pipe or device?)", path)
    held = st.st_size if st is not None else 0
    text = summary_within(outcomes, code, name, rank_by, budget=STEP_SUMMARY_LIMIT - held - 1,
                          full_report=full_report)
    with open(path, "a", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(text + "\n")
