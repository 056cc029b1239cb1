"""The ``runverdict`` command line.

Exit codes (``validators.exitcodes.ExitCode``): 0 pass, 1 fail, 2 error (a must check
could not be evaluated, or a report could not be written), 3 internal error, 4 usage or
spec error. Imports stay inside the commands so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import GateError, SpecError, UsageError
from .exitcodes import ExitCode


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
    check.add_argument("run_dir", metavar="RUN_DIR", help="the run directory (predictions.csv, history.csv, ...)")
    check.add_argument("--spec", required=True, metavar="SPEC", help="gate spec (TOML), e.g. checks/run3.toml")
    check.add_argument("--json", metavar="PATH", help="also write the JSON report to PATH (atomically)")
    check.add_argument("--quiet", action="store_true", help="print only the summary line")
    check.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")

    kinds = sub.add_parser("kinds", help="list the check kinds and their keys")
    kinds.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    validate = sub.add_parser("validate", help="validate a spec without reading any artefact")
    validate.add_argument("spec", metavar="SPEC")
    validate.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("runverdict: give a command, e.g. runverdict check RUN_DIR --spec SPEC (see --help)")
        return int(_COMMANDS[args.command](args))
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except (SpecError, UsageError) as exc:
        print(f"runverdict: {exc}" if not str(exc).startswith("runverdict") else str(exc), file=sys.stderr)
        return int(ExitCode.USAGE)
    except GateError as exc:
        print(f"runverdict: {exc}", file=sys.stderr)
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:
        print("runverdict: interrupted", file=sys.stderr)
        return int(ExitCode.INTERNAL)
    except Exception as exc:  # a bug: one line, traceback only on request
        if debug:
            import traceback

            traceback.print_exc()
        print(f"runverdict: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return int(ExitCode.INTERNAL)


def _check(args) -> int:
    import os

    from .gate import evaluate
    from .report_text import render, use_colour
    from .spec import load_spec

    spec = load_spec(args.spec)
    if not os.path.isdir(args.run_dir):
        raise UsageError(f"runverdict: run directory {args.run_dir!r} not found or not a directory")
    report = evaluate(spec, args.run_dir)
    text = render(report, colour=use_colour(sys.stdout))
    sys.stdout.write(text.splitlines()[-1] + "\n" if args.quiet else text)
    code = int(report.exit_code)
    if args.json:
        from .report_json import write_json

        try:
            write_json(report, args.json)
        except OSError as exc:
            print(f"runverdict: cannot write the JSON report {args.json!r}: {exc.strerror or exc}; "
                  "the previous report, if any, is unchanged", file=sys.stderr)
            return int(ExitCode.ERROR)
    return code


def _kinds(args) -> int:
    from .registry import load_builtin_kinds

    for kind in sorted(load_builtin_kinds().values(), key=lambda k: k.name):
        first = kind.doc.splitlines()[0] if kind.doc else ""
        print(f"{kind.name}: {first}")
        print(f"  observes: {kind.observes}; needs: {', '.join(kind.artefacts) or '-'}")
        for p in kind.params:
            req = "required" if p.required else f"default {p.default!r}"
            print(f"  {p.name} ({p.type}, {req}): {p.doc}")
        if kind.bounded:
            print("  gt / ge / lt / le (number): the bound; at least one")
    return 0


def _validate(args) -> int:
    from .spec import load_spec

    spec = load_spec(args.spec)
    print(f"{args.spec}: valid, {len(spec.checks)} checks")
    return 0


_COMMANDS = {"check": _check, "kinds": _kinds, "validate": _validate}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
