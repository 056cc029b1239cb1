"""The ``runverdict`` command line.

Exit codes (``validators.exitcodes.ExitCode``): 0 pass, 1 fail, 2 error (a must check
could not be evaluated, or a report could not be written), 3 internal error, 4 usage or
spec error. Imports stay inside the commands so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import ArtefactError, GateError, SpecError, UsageError
from .exitcodes import ExitCode
from .reports.terminal import safe


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would exit 2, which means "error" here
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="runverdict",
        description="Judge a training run's artefacts against a declarative gate spec.",
        epilog="exit codes: 0 pass, 1 fail, 2 error (artefact unusable), 3 internal error, 4 usage or spec error",
    )
    parser.add_argument("--version", action="version", version=f"runverdict {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser("check", help="run a gate spec on a run directory",
                           description="Run every check of SPEC on RUN_DIR and print the verdict.")
    check.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                       help="the run directory (predictions.csv, history.csv, ...), an MLflow run (runs:/RUN_ID) or "
                            "an object-store prefix (s3://, gs://, file://, memory://); several for a sweep")
    check.add_argument("--spec", required=True, metavar="SPEC", help="gate spec (TOML), e.g. checks/run3.toml")
    check.add_argument("--baseline", metavar="BASELINE_DIR",
                       help="compare with this run: deltas, delta checks and the spec's advice")
    _layout_arguments(check)
    check.add_argument("--json", metavar="PATH", help="also write the JSON report to PATH (atomically)")
    check.add_argument("--junit", metavar="PATH", help="also write a JUnit XML report (one testcase per check)")
    check.add_argument("--markdown", metavar="PATH",
                       help="also write a Markdown report (appended to $GITHUB_STEP_SUMMARY when set)")
    check.add_argument("--html", metavar="PATH", help="also write a self-contained HTML report with plots")
    check.add_argument("--jobs", type=int, default=0, metavar="N",
                       help="parallel processes for a sweep (default: one per core)")
    check.add_argument("--rank-by", metavar="METRIC[:max|:min]",
                       help="a sweep: order the runs by a check's observed value (METRIC a check id) or a history "
                            "metric at its last epoch, and name the best passing run; the direction from the name "
                            "(*_auc, *_score higher; *_loss, *_error lower) unless :max or :min says it")
    check.add_argument("--quiet", action="store_true",
                       help="print only the advice and the summary line (a sweep: one line per run)")
    check.add_argument("--mlflow-uri", metavar="URI",
                       help="the MLflow tracking store of runs:/RUN_ID locations (default: $MLFLOW_TRACKING_URI)")
    check.add_argument("--mlflow-log", action="store_true",
                       help="write the verdict back to the MLflow run: runverdict.* tags and the reports under "
                            "runverdict/")
    check.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="a sweep: judge the runs as tasks on this Dask distributed scheduler")
    check.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")

    trials = sub.add_parser(
        "trials", help="build returns.csv (strategy trials) from predictions",
        description="One trial per confidence threshold c: long when p >= c, short when 1 - p >= c, flat "
                    "otherwise; minus cost per unit of turnover. Writes one column per threshold.")
    trials.add_argument("predictions", metavar="PREDICTIONS",
                        help="a predictions.csv/.parquet file, or a run directory holding one")
    trials.add_argument("--out", required=True, metavar="PATH", help="where to write the returns CSV (atomically)")
    trials.add_argument("--probability-column", default="direction", metavar="NAME")
    trials.add_argument("--return-column", default="forward_return", metavar="NAME")
    trials.add_argument("--thresholds", metavar="C1,C2,...",
                        help="comma-separated thresholds in [0.5, 1] (default 0.50, 0.51, ..., 0.70)")
    trials.add_argument("--cost", type=float, default=0.0, help="cost per unit of turnover (default 0)")
    trials.add_argument("--index", metavar="COLUMN|none",
                        help="the predictions' date column, written first in the returns (default: the one column "
                             "named like an index: date, timestamp, index, ...; none: write no index column)")
    trials.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    kinds = sub.add_parser("kinds", help="list the check kinds and their keys, then the spec's tables and theirs")
    kinds.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    validate = sub.add_parser("validate", help="validate a spec without reading any artefact")
    validate.add_argument("spec", metavar="SPEC")
    validate.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    inspect = sub.add_parser(
        "inspect", help="show what the gate finds in a run directory, never judging it",
        description="Show the artefacts found (and why those), the predictions' columns and their roles, the "
                    "history, the model's outputs and compile facts, the config's keys, the returns' index and "
                    "trials; with --spec, how each check binds to the run or why it cannot. Exit 0 when the run "
                    "directory could be read, 2 when it is missing, 4 for a usage or spec error.")
    inspect.add_argument("run_dir", metavar="RUN_DIR", help="the run directory")
    inspect.add_argument("--spec", metavar="SPEC", help="also show how each check of SPEC binds to the run")
    inspect.add_argument("--json", metavar="PATH", help="also write the same content as JSON to PATH (atomically)")
    _layout_arguments(inspect)
    inspect.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    init = sub.add_parser(
        "init", help="write a spec whose layout fits a run, with a plan's criteria",
        description="Write the spec --out SPEC: the checks, advice, baseline and trials of PLAN_SPEC verbatim "
                    "(comments included), [artefacts]/[layout] only for what must be declared (--artefact/--layout, "
                    "and PLAN_SPEC's own), and a comment listing every convention relied on in RUN_DIR. Refuses "
                    "(exit 2, nothing written) when a check cannot be bound to the run; an existing SPEC is kept "
                    "unless --force (exit 4).")
    init.add_argument("run_dir", metavar="RUN_DIR", help="the run directory the spec must fit")
    init.add_argument("--out", required=True, metavar="SPEC", help="where to write the spec (atomically)")
    init.add_argument("--from", dest="plan", metavar="PLAN_SPEC",
                      help="the spec whose criteria to keep (default: the shipped plan, checks/run3.toml)")
    _layout_arguments(init)
    init.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    init.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def _layout_arguments(parser) -> None:
    parser.add_argument("--artefact", action="append", default=[], metavar="NAME=PATH",
                        help="where an artefact is in the run (repeatable): predictions, history, config, returns, "
                             "model; PATH is relative to the run, a glob must match one path. Overrides [artefacts]")
    parser.add_argument("--layout", action="append", default=[], metavar="KEY=VALUE",
                        help="a role in the run (repeatable): labels.HEAD=COLUMN, columns.HEAD=COLUMN, "
                             "config_keys.KEY=DOTTED.KEY, returns_index=COLUMN|none. Overrides [layout]")


def layout_overrides(args) -> tuple[dict, dict]:
    """``(artefacts, layout)`` from ``--artefact`` and ``--layout``; ``UsageError`` when malformed."""
    from .artefacts.layout import DECLARABLE_ARTEFACTS, LAYOUT_KEYS, parse_assignments

    try:
        return (parse_assignments(args.artefact, "--artefact", DECLARABLE_ARTEFACTS),
                parse_assignments(args.layout, "--layout", LAYOUT_KEYS))
    except ValueError as exc:
        raise UsageError(f"runverdict: {exc}") from None


class _Terminated(BaseException):
    """SIGTERM arrived: stop as after Ctrl-C, with the shell's exit code for it."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _tolerant_streams() -> None:
    """A stdout or stderr that cannot encode a character (PYTHONIOENCODING=ascii, a cp1252 pipe)
    shows it escaped instead of failing the run: the exit code stays the verdict's."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def main(argv=None) -> int:
    import signal
    import threading

    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    _tolerant_streams()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv, debug)
    except _Terminated:
        print("runverdict: terminated (SIGTERM); reports already written are whole", file=sys.stderr)
        return 128 + int(signal.SIGTERM)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv, debug) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("runverdict: give a command, e.g. runverdict check RUN_DIR --spec SPEC (see --help)")
        return int(_COMMANDS[args.command](args))
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except (SpecError, UsageError) as exc:
        print(safe(f"runverdict: {exc}" if not str(exc).startswith("runverdict") else str(exc)), file=sys.stderr)
        return int(ExitCode.USAGE)
    except GateError as exc:
        print(safe(f"runverdict: {exc}"), file=sys.stderr)
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:  # Ctrl-C: the shell's code for SIGINT, not an internal error
        print("runverdict: interrupted (SIGINT); reports already written are whole", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `runverdict ... | head`: the reader left; the verdict stands in the exit code
        _silence_stdout()
        return int(ExitCode.ERROR)
    except OSError as exc:
        if exc.filename is None and getattr(sys.stdout, "closed", False) is False and _is_stdout_error(exc):
            _silence_stdout()
            print(safe(f"runverdict: cannot write the report to standard output: {exc.strerror or exc}"), file=sys.stderr)
            return int(ExitCode.ERROR)
        return _internal_error(exc, debug)
    except Exception as exc:  # noqa: BLE001 - a bug: one line, traceback only on request
        return _internal_error(exc, debug)


def _internal_error(exc, debug) -> int:
    if debug:
        import traceback

        traceback.print_exception(exc)
    print(safe(f"runverdict: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"),
          file=sys.stderr)
    return int(ExitCode.INTERNAL)


def _is_stdout_error(exc: OSError) -> bool:
    import errno

    return exc.errno in (errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EBADF)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _check(args) -> int:
    import os

    from .spec import load_spec

    from .sources import is_remote

    spec = load_spec(args.spec)
    artefacts, layout = layout_overrides(args)
    if args.baseline is not None and not is_remote(args.baseline) and not os.path.isdir(args.baseline):
        raise UsageError(f"runverdict: baseline directory {args.baseline!r} not found or not a directory")
    if args.mlflow_log and not all(str(d).startswith(("runs:", "mlflow:")) for d in args.run_dirs):
        raise UsageError("runverdict: --mlflow-log writes the verdict back to an MLflow run: give runs:/RUN_ID")
    if args.scheduler is not None and len(args.run_dirs) < 2:
        raise UsageError("runverdict: --scheduler runs a sweep on a Dask cluster: give several runs")
    if args.jobs < 0:
        raise UsageError(f"runverdict: --jobs must be 0 (one per core) or a positive number, got {args.jobs}")
    if len(args.run_dirs) > 1:
        from .sweep import parse_rank_by, run_sweep

        return run_sweep(args, spec, artefacts, layout, parse_rank_by(args.rank_by, spec))
    if args.rank_by is not None:
        raise UsageError("runverdict: --rank-by orders the runs of a sweep: give several RUN_DIRs")
    run_dir = args.run_dirs[0]
    if not is_remote(run_dir) and not os.path.isdir(run_dir):
        raise UsageError(f"runverdict: run directory {run_dir!r} not found or not a directory")
    from contextlib import ExitStack

    from .reports.text import render, use_colour
    from .sources import judged, options_from

    with ExitStack() as stack:  # a remote run's copy lives until its reports are written
        try:
            report, fetched = stack.enter_context(judged(spec, run_dir, args.baseline, artefacts=artefacts,
                                                         layout=layout, options=options_from(args)))
        except ArtefactError as exc:  # the remote run (or baseline) could not be fetched
            print(safe(f"runverdict: {exc}"), file=sys.stderr)
            return int(ExitCode.ERROR)
        text = render(report, colour=use_colour(sys.stdout))
        if args.quiet:  # the advice and the summary line
            from .reports.text import advice_lines

            text = "".join(line + "\n" for line in advice_lines(report)) + text.splitlines()[-1] + "\n"
        sys.stdout.write(text)
        code = _write_reports(args, report, int(report.exit_code))
        if args.mlflow_log:
            code = _log_to_mlflow(args, fetched, report, code)
        return code


def _log_to_mlflow(args, fetched, report, code) -> int:
    """--mlflow-log: the verdict as tags on the run, the reports as its artifacts under runverdict/."""
    from .sources.mlflow_run import log_verdict

    try:
        log_verdict(fetched, report, code, reports=[p for p in (args.json, args.html, args.junit, args.markdown) if p])
    except ArtefactError as exc:
        print(safe(f"runverdict: --mlflow-log: {exc}"), file=sys.stderr)
        return max(code, int(ExitCode.ERROR)) if code < int(ExitCode.INTERNAL) else code
    return code


def _write_reports(args, report, code) -> int:
    """Write every report asked for; a report that cannot be written makes the exit 2."""
    import importlib

    from .reports import markdown as report_markdown

    # JSON last, with the process's final exit code: a report that could not be written before it
    # makes the exit 2, and the JSON says so rather than the gate's code alone.
    writers = [("JUnit", args.junit, "junit", "write_junit"), ("Markdown", args.markdown, "markdown", "write_markdown"),
               ("HTML", args.html, "html", "write_html"), ("JSON", args.json, "jsonreport", "write_json")]
    failed = False
    try:
        report_markdown.append_step_summary(report)
    except OSError as exc:
        print(safe(f"runverdict: cannot append to $GITHUB_STEP_SUMMARY: {exc.strerror or exc}"), file=sys.stderr)
        failed = True
    for name, path, module, function in writers:
        if not path:
            continue
        write = getattr(importlib.import_module(f".reports.{module}", __package__), function)  # only the formats asked for
        if name == "JSON" and failed and code < int(ExitCode.ERROR):
            import dataclasses

            report = dataclasses.replace(report, exit_code=ExitCode.ERROR)
        try:
            write(report, path)
        except OSError as exc:
            print(safe(f"runverdict: cannot write the {name} report {path!r}: {exc.strerror or exc}; "
                       "the previous report, if any, is unchanged"), file=sys.stderr)
            failed = True
    return max(code, int(ExitCode.ERROR)) if failed and code < int(ExitCode.INTERNAL) else code


def worst_exit(codes) -> int:
    """The exit code of a sweep: internal error > error > fail > pass (``validators.sweep.worst_exit``)."""
    from .sweep import worst_exit as worst

    return worst(codes)


def _kinds(args) -> int:
    from .kinds import builtin_kinds

    for kind in sorted(builtin_kinds().values(), key=lambda k: k.name):
        first = kind.doc.splitlines()[0] if kind.doc else ""
        print(f"{kind.name}: {first}")
        print(f"  observes: {kind.observes}; needs: {', '.join(kind.artefacts) or '-'}")
        for p in kind.params:
            req = "required" if p.required else f"default {p.default!r}"
            print(f"  {p.name} ({p.type}, {req}): {p.doc}")
        if kind.bounded:
            print("  gt / ge / lt / le (number): the bound; at least one")
    print()
    sys.stdout.write("".join(line + "\n" for line in spec_table_lines()))
    return 0


def spec_table_lines() -> list[str]:
    """The spec's tables and their keys, from the tables the spec's parser itself checks against."""
    from .advice import CONDITION_KEYS, RULE_KEYS, VERDICTS
    from .artefacts.layout import DECLARABLE_ARTEFACTS, ROLE_TABLES, ROLE_VALUES
    from .decision import ACTIONS
    from .result import SEVERITIES, STATUSES
    from .spec import BASELINE_KEYS, COMMON_KEYS, TOP_LEVEL_KEYS, TRIALS_KEYS

    tables = {
        "name": ["name = \"...\": the gate's name in every report (default: the spec file's name)"],
        "description": ["description = \"...\": free text"],
        "artefacts": [("[artefacts]: where each artefact is in a run, PATH relative to the run (a glob must match one "
                      "path); overridden by --artefact NAME=PATH"),
                      "  keys: " + ", ".join(f"{a} = \"PATH\"" for a in DECLARABLE_ARTEFACTS)],
        "layout": ["[layout]: which column or config key plays each role; overridden by --layout KEY=VALUE",
                   "  tables: " + ", ".join(f"{t} = {{ NAME = \"...\" }}" for t in ROLE_TABLES),
                   "  values: " + ", ".join(f"{v} = \"COLUMN\" | \"none\"" for v in ROLE_VALUES)],
        "trials": ["[trials]: build the strategy trials from the predictions instead of reading returns.csv",
                   "  keys: " + ", ".join(TRIALS_KEYS)],
        "baseline": ["[baseline]: how --baseline is used", "  keys: " + ", ".join(BASELINE_KEYS)],
        "check": ["[[check]]: one check; the keys of every check, then those of its kind (above)",
                  "  keys: " + ", ".join(COMMON_KEYS) + f"; severity: {', '.join(SEVERITIES)}"],
        "advice": ["[[advice]]: a rule triggered when all its conditions hold",
                   "  keys: " + ", ".join(RULE_KEYS) + " (a list of conditions, one kind each)"]
                  + [f"  condition {kind}: {', '.join(keys)}" for kind, keys in CONDITION_KEYS.items()]
                  + [f"  verdict and baseline values: {', '.join(VERDICTS)}; status values: {', '.join(STATUSES)}",
                     f"  decision values (the decision actions): {', '.join(ACTIONS)}"],
    }
    lines = ["Spec tables and keys:"]
    for key in TOP_LEVEL_KEYS:
        lines += tables.get(key, [f"{key}: (not described here: a bug, please report it)"])
    return lines


def _trials(args) -> int:
    import os

    from .artefacts.run import Run
    from .errors import ArtefactError
    from .reports.atomic import write_atomic
    from .stats.trials import DEFAULT_THRESHOLDS, check_cost, check_thresholds, threshold_trials

    if args.thresholds:
        try:
            thresholds = [float(t) for t in args.thresholds.split(",")]
        except ValueError:
            raise UsageError(f"runverdict: --thresholds must be comma-separated numbers, got {args.thresholds!r}") \
                from None
        try:  # a wrong option is a usage error (exit 4), found before the predictions are read
            check_thresholds(thresholds)
        except ValueError as exc:
            raise UsageError(f"runverdict: --thresholds {args.thresholds!r}: {exc}") from None
    else:
        thresholds = list(DEFAULT_THRESHOLDS)
    try:
        check_cost(args.cost)
    except ValueError as exc:
        raise UsageError(f"runverdict: --cost: {exc}") from None
    source = args.predictions
    if not os.path.exists(source):
        raise UsageError(f"runverdict: {source!r} not found: give a predictions file or a run directory holding one")
    try:
        if os.path.isdir(source):
            run = Run(source, prediction_columns=[args.probability_column, args.return_column])
        else:
            run = Run(os.path.dirname(source) or ".", {"predictions": os.path.basename(source)},
                      [args.probability_column, args.return_column])
        probability = _trials_column(run, args.probability_column, "--probability-column")
        forward = _trials_column(run, args.return_column, "--return-column")
        index = _trials_index(probability.path, args.index)
    except ArtefactError as exc:
        raise _without_spec(exc, source) from None
    try:
        frame = threshold_trials(probability.values, forward.values, thresholds, args.cost)
    except ValueError as exc:
        raise ArtefactError(probability.path, f"cannot build trials: {exc}") from None
    if index is not None:
        frame.insert(0, index[0], index[1])
    try:
        write_atomic(args.out, frame.to_csv(index=False, float_format="%.17g"))
    except OSError as exc:
        print(safe(f"runverdict: cannot write {args.out!r}: {exc.strerror or exc}"), file=sys.stderr)
        return int(ExitCode.ERROR)
    trials = frame.shape[1] - (index is not None)
    said = (f"; first column {index[0]!r}, the predictions' {index[2]}" if index is not None else
            "; no index column (the predictions have no column named like one)" if args.index is None else
            "; no index column (--index none)")
    print(safe(f"{args.out}: {trials} trials x {frame.shape[0]} periods from {probability.path}{said}"))
    return 0


def _trials_column(run, name, option):
    from .errors import ArtefactError

    try:
        return run.column(name)
    except ArtefactError as exc:
        exc.trials_option = option  # which option settles it, for _without_spec
        raise


def _without_spec(exc, source):
    """``runverdict trials`` has no spec: a hint to declare something "in the spec" names its own option."""
    import os

    from .errors import ArtefactError

    hint = exc.hint
    if hint and "in the spec" in hint:
        option = getattr(exc, "trials_option", None)
        hint = (f"give the column: {option} COLUMN" if option is not None and "--layout" in hint else
                f"give the predictions file itself: runverdict trials {os.path.join(source, 'FILE')} --out ...")
    return ArtefactError(exc.path, exc.message, line=exc.line, column=exc.column, offset=exc.offset, hint=hint)


def _trials_index(path, declared):
    """``(name, values, what it holds)`` of the predictions' index column (returns.csv's first column), or None.

    Declared with ``--index COLUMN`` (``none``: no index), else the one column named like an index
    (``date``, ``timestamp``, ``index``, ...; ``validators.artefacts.returns.INDEX_NAMES``) that holds
    dates, timestamps or a counter; two such columns are refused, naming both."""
    from .artefacts.returns import KIND_WORDS, detect_kind, named_like_index
    from .artefacts.tables import read_header, read_table
    from .errors import ArtefactError

    if declared == "none":
        return None
    header = read_header(path)
    if declared is not None:
        if declared not in header:
            raise ArtefactError(path, f"--index {declared!r} is not a column; found "
                                + ", ".join(repr(c) for c in header), line=1)
        names = [declared]
    else:
        names = [c for c in header if named_like_index(c)]
    if not names:
        return None
    if len(names) > 1:
        raise ArtefactError(path, "two columns look like the date index: " + " and ".join(repr(c) for c in names),
                            line=1, hint="say which: --index COLUMN, or --index none")
    name = names[0]
    array = read_table(path, [name]).columns[name]
    kind = detect_kind(array)
    if kind is None:
        why = "given as --index" if declared is not None else "named like an index"
        raise ArtefactError(path, f"column {name!r} ({why}) holds no dates, timestamps or counter",
                            line=1, hint="say which column is the index: --index COLUMN, or --index none")
    values = array.to_pandas() if getattr(array.type, "tz", None) is None else array.to_pandas().astype(str)
    return name, values.to_numpy(), KIND_WORDS.get(kind, kind)


def _validate(args) -> int:
    from .spec import load_spec

    spec = load_spec(args.spec)
    print(safe(f"{args.spec}: valid, {len(spec.checks)} checks"))
    return 0


def _inspect(args) -> int:
    import json

    from .inspect_run import inspect_run, render_text
    from .reports.atomic import write_atomic
    from .spec import load_spec

    spec = load_spec(args.spec) if args.spec else None
    artefacts, layout = layout_overrides(args)
    found = inspect_run(args.run_dir, spec, artefacts=artefacts, layout=layout)
    sys.stdout.write(render_text(found))
    if args.json:
        try:
            write_atomic(args.json, json.dumps(found, indent=2, allow_nan=False) + "\n")
        except OSError as exc:
            print(safe(f"runverdict: cannot write {args.json!r}: {exc.strerror or exc}; the previous file, if any, "
                       "is unchanged"), file=sys.stderr)
            return int(ExitCode.ERROR)
    return 0


def _init(args) -> int:
    from .init_spec import init_spec
    from .inspect_run import printable

    artefacts, layout = layout_overrides(args)
    written = init_spec(args.run_dir, args.out, args.plan, artefacts=artefacts, layout=layout, force=args.force)
    sys.stdout.write("".join(printable(line) + "\n" for line in written.summary()))
    return 0


_COMMANDS = {"check": _check, "kinds": _kinds, "validate": _validate, "trials": _trials, "inspect": _inspect,
             "init": _init}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
