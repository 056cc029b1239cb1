"""pytest plugin: gate specs collected as tests, and fixtures for users' own checks.

``pytest checks/run3.toml --run-dir RUN_DIR [--baseline BASELINE_DIR]`` collects each
``[[check]]`` of the spec as one test item named by its id. The spec is evaluated once per
spec file (in the file's setup, so with pytest-xdist once per worker) and each item reports
its own result:

* ``pass``: the item passes;
* ``fail`` of a ``must`` check: a failure showing observed vs bound, the message and the
  evidence (first offending rows), with no Python traceback;
* ``error`` of a ``must`` check (an artefact missing, unreadable or malformed): a pytest
  *error*, raised in the item's setup as pytest reports every setup exception;
* a ``nice`` check that does not pass: *xfailed*, the reason showing observed vs bound, so it
  never fails the session, as it never changes the CLI's verdict. ``--runxfail`` turns these
  into real failures (a strict run).

A spec is collected when it is named on the command line, or, when ``--run-dir`` is given,
when a ``.toml`` file found while collecting has ``[[check]]`` tables; other TOML files such
as ``pyproject.toml`` are never touched.

Fixtures for users' own checks: ``run`` and ``baseline_run`` (``LoadedRun``: predictions,
history, config and returns as pandas objects), and ``assert_within`` (also importable from
here) failing with the same message as a built-in check.

Importing this module imports neither pandas nor TensorFlow (nor numpy): the gate is
imported only when a spec is collected or a fixture is used.

Every text this plugin composes from the run or the spec (failure reports, skip and xfail
reasons, the report header, the summary lines) goes through ``reports.terminal.safe``: an escape
sequence or a newline in a header cell, a name or a message is shown escaped, never sent raw.
"""

from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from .errors import ArtefactError, GateError, SpecError
from .reports.terminal import safe

_SPEC_TABLE = re.compile(rb"^[ \t]*\[\[[ \t]*check[ \t]*\]\]", re.MULTILINE)
_MAX_SNIFF_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class _Dirs:
    run_dir: Path | None
    baseline: Path | None
    artefacts: dict | None = None  # --artefact NAME=PATH, over the spec's [artefacts]
    layout: dict | None = None  # --layout KEY=VALUE, over the spec's [layout]
    fetched: object | None = None  # a remote --run-dir (runs:/ID, s3://...): its sources.Fetched copy
    baseline_fetched: object | None = None  # a remote --baseline
    baseline_artefacts: dict | None = None  # what the baseline's source declares (an MLflow model's path)
    run_label = property(lambda self: getattr(self.fetched, "location", None))
    baseline_label = property(lambda self: getattr(self.baseline_fetched, "location", None))


_SOURCES = pytest.StashKey[object]()  # contextlib.ExitStack of the remote runs' copies, closed at unconfigure


_DIRS = pytest.StashKey[_Dirs]()


# -- options -------------------------------------------------------------------------------
def pytest_addoption(parser):
    group = parser.getgroup("runverdict", "runverdict: gate specs (TOML) collected as tests")
    group.addoption("--run-dir", metavar="RUN_DIR", default=None,
                    help="training run directory the collected gate specs judge, and the 'run' fixture loads")
    group.addoption("--baseline", metavar="BASELINE_DIR", default=None,
                    help="baseline run directory, loaded by the 'baseline_run' fixture")
    group.addoption("--artefact", action="append", default=[], metavar="NAME=PATH", dest="runverdict_artefact",
                    help="where an artefact is in the run dir (repeatable), over the spec's [artefacts]")
    group.addoption("--layout", action="append", default=[], metavar="KEY=VALUE", dest="runverdict_layout",
                    help="a role in the run (repeatable), e.g. labels.direction=direction_true, over [layout]")
    group.addoption("--mlflow-uri", metavar="URI", default=None, dest="runverdict_mlflow_uri",
                    help="MLflow tracking store of a --run-dir runs:/RUN_ID (default: $MLFLOW_TRACKING_URI)")
    group.addoption("--spec", metavar="SPEC", default=None, dest="runverdict_spec",
                    help="gate spec whose [artefacts] and [layout] the 'run' fixture follows (default: the one "
                         "spec collected in the session)")


def pytest_configure(config):
    from .artefacts.layout import DECLARABLE_ARTEFACTS, LAYOUT_KEYS, parse_assignments

    try:
        artefacts = parse_assignments(config.getoption("runverdict_artefact", None), "--artefact",
                                      DECLARABLE_ARTEFACTS)
        layout = parse_assignments(config.getoption("runverdict_layout", None), "--layout", LAYOUT_KEYS)
    except ValueError as exc:
        raise pytest.UsageError(safe(f"runverdict: {exc}")) from None
    run_dir, run_fetched = _directory(config, "run_dir", "--run-dir", artefacts)
    baseline, base_fetched = _directory(config, "baseline", "--baseline", artefacts)
    if run_fetched is not None:
        artefacts = {**run_fetched.artefacts, **(artefacts or {})}
    config.stash[_DIRS] = _Dirs(run_dir=run_dir, baseline=baseline, artefacts=artefacts or None, layout=layout or None,
                                fetched=run_fetched, baseline_fetched=base_fetched,
                                baseline_artefacts=dict(base_fetched.artefacts) or None if base_fetched else None)
    _last_failed_of_this_run(config)


def pytest_unconfigure(config):
    """Remove the copies of remote runs fetched at configure."""
    if _SOURCES in config.stash:
        config.stash[_SOURCES].close()


# -- --lf and --ff: what failed on one run dir says nothing about another -------------------
def _last_failed_key(config) -> str | None:
    dirs = config.stash[_DIRS]
    if dirs.run_dir is None:
        return None
    import hashlib

    what = repr((dirs.run_label or os.fspath(dirs.run_dir),
                 dirs.baseline_label or (os.fspath(dirs.baseline) if dirs.baseline else None),
                 sorted((dirs.artefacts or {}).items()), sorted((dirs.layout or {}).items())))
    return "runverdict/lastfailed/" + hashlib.sha256(what.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _last_failed_of_this_run(config) -> None:
    """Give pytest's last-failed plugin the failures recorded for this run directory only."""
    lf = config.pluginmanager.get_plugin("lfplugin")
    key = _last_failed_key(config)
    if lf is None or key is None or getattr(config, "cache", None) is None:
        return
    from _pytest import cacheprovider  # pytest >= 9 keys last-failed by NodeId, earlier by str

    node_id = getattr(getattr(cacheprovider, "NodeId", None), "parse", str)
    lf.lastfailed = {node_id(k): v for k, v in config.cache.get(key, {}).items()}
    if config.getoption("lf", False):
        lf._last_failed_paths = lf.get_last_failed_paths()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    config = session.config
    lf = config.pluginmanager.get_plugin("lfplugin")
    key = _last_failed_key(config) if _DIRS in config.stash else None
    if lf is None or key is None or hasattr(config, "workerinput") or getattr(config, "cache", None) is None:
        return
    config.cache.set(key, {str(k): v for k, v in lf.lastfailed.items()})


def _directory(config, dest, flag, artefacts=None):
    """``(local folder, Fetched or None)`` of ``--run-dir``/``--baseline``: a remote run (``runs:/ID``,
    ``s3://...``) is fetched here, once, and its copy kept until ``pytest_unconfigure``."""
    value = config.getoption(dest, None)
    if value is None:
        return None, None
    from .sources import is_remote

    if is_remote(value):
        import contextlib

        from .sources.session import fetch_for_session

        spec = config.getoption("runverdict_spec", None)
        try:
            fetched = fetch_for_session(config.stash.setdefault(_SOURCES, contextlib.ExitStack()), value,
                                        [spec] if spec else config.args, config.invocation_params.dir,
                                        config.getoption("runverdict_mlflow_uri", None), artefacts, _looks_like_spec)
        except GateError as exc:
            raise pytest.UsageError(safe(f"runverdict: {flag} {value}: {exc}")) from None
        return Path(fetched.local_dir), fetched
    path = Path(config.invocation_params.dir, value).resolve()
    if not path.is_dir():
        raise pytest.UsageError(safe(f"runverdict: {flag} {value!r}: not found or not a directory"))
    return path, None


def pytest_report_header(config):
    dirs = config.stash.get(_DIRS, None)
    if dirs is None or (dirs.run_dir is None and dirs.baseline is None):
        return None
    run = f"{dirs.run_label} (fetched into {dirs.run_dir})" if dirs.run_label else dirs.run_dir
    base = f"{dirs.baseline_label} (fetched into {dirs.baseline})" if dirs.baseline_label else dirs.baseline
    line = f"runverdict: run dir {safe(run)}" if dirs.run_dir else "runverdict: no run dir"
    return line + (f", baseline {safe(base)}" if dirs.baseline else "")


# -- collection ----------------------------------------------------------------------------
def pytest_collect_file(file_path, parent):
    """A spec is a ``.toml`` file with ``[[check]]`` tables, named on the command line or
    found while collecting with ``--run-dir``; a ``.toml`` file named on the command line
    together with ``--run-dir`` is taken as a spec whatever it holds (its errors then say why
    it is not one). Anything else, ``pyproject.toml`` included, is left alone."""
    run_dir = parent.config.stash[_DIRS].run_dir
    named = parent.session.isinitpath(file_path)
    if file_path.suffix.lower() != ".toml":
        if named and file_path.suffix.lower() != ".py" and _looks_like_spec(file_path):
            return NotASpecFile.from_parent(parent, path=file_path)  # say why, rather than "no tests ran"
        return None
    if (named and run_dir is not None) or ((named or run_dir is not None) and _looks_like_spec(file_path)):
        return SpecFile.from_parent(parent, path=file_path)
    return None


def _looks_like_spec(path) -> bool:
    try:
        with open(path, "rb") as handle:
            return _SPEC_TABLE.search(handle.read(_MAX_SNIFF_BYTES)) is not None
    except OSError:
        return False


class NotASpecFile(pytest.File):
    """A file named on the command line that holds ``[[check]]`` tables but is not a ``.toml`` file."""

    def collect(self):
        raise self.CollectError(f"runverdict: {self.path.name} holds [[check]] tables but is not a .toml file: "
                                "gate specs are collected from .toml files; rename it (e.g. gate.toml)")


class SpecFile(pytest.File):
    """A gate spec: one item per check, the whole spec evaluated once in ``setup``."""

    spec = None
    report = None

    def collect(self):
        run_dir = self.config.stash[_DIRS].run_dir
        if run_dir is None:
            shown = safe(self._shown_path())
            raise self.CollectError(
                f"runverdict: {shown} needs --run-dir RUN_DIR, the training run to judge: "
                f"pytest {shown} --run-dir RUN_DIR [--baseline BASELINE_DIR]")
        from .spec import load_spec

        try:
            self.spec = load_spec(self.path)
        except SpecError as exc:
            raise self.CollectError(safe(f"runverdict: invalid spec: {exc}")) from None
        for check in self.spec.checks:
            item = CheckItem.from_parent(self, name=check.id, check=check)
            item.extra_keyword_matches.update((check.kind, check.severity))  # -k must, -k saturation
            yield item

    def _shown_path(self) -> str:
        try:
            return os.path.relpath(self.path, self.config.invocation_params.dir)
        except ValueError:  # another drive on Windows
            return os.fspath(self.path)

    def setup(self):
        """Evaluate the whole spec once, as ``runverdict check`` does; items report from it."""
        import inspect

        from .gate import evaluate

        dirs = self.config.stash[_DIRS]
        kwargs = {}
        if dirs.baseline is not None and "baseline_dir" in inspect.signature(evaluate).parameters:
            kwargs["baseline_dir"] = dirs.baseline  # a gate that compares with a baseline gets it
            if dirs.baseline_artefacts:
                kwargs["baseline_artefacts"] = dirs.baseline_artefacts
        try:
            self.report = evaluate(self.spec, dirs.run_dir, artefacts=dirs.artefacts, layout=dirs.layout, **kwargs)
            if dirs.fetched is not None or dirs.baseline_fetched is not None:
                self.report = __import__("validators.sources").sources.relabel(self.report, dirs.fetched,
                                                                                dirs.baseline_fetched)
        except GateError as exc:  # every item of this file errors, pytest caching the exception
            pytest.fail(safe(f"runverdict: {exc}"), pytrace=False)


class CheckFailed(AssertionError):
    """A must check failed; ``CheckItem.repr_failure`` shows its result."""


class CheckItem(pytest.Item):
    """One check of a spec, reporting its result from the file's evaluation."""

    def __init__(self, *, check, **kwargs):
        super().__init__(**kwargs)
        self.check = check
        self.result = None

    def setup(self):
        from .result import ERROR, MUST

        result = next((r for r in self.parent.report.results if r.id == self.check.id), None)
        if result is None:  # pragma: no cover - the gate judges every check of the spec
            pytest.fail(f"runverdict: the gate returned no result for check {self.check.id!r}", pytrace=False)
        self.result = result
        self.user_properties.extend([
            ("kind", result.kind), ("severity", result.severity), ("status", result.status),
            ("observed", _shown(result.observed)), ("bound", result.bound),
        ])
        if result.status == ERROR and result.severity == MUST:
            pytest.fail(format_result(result), pytrace=False)

    def runtest(self):
        from .result import MUST, PASS

        result = self.result
        if result.status == PASS:
            return
        if result.severity != MUST:
            raise pytest.xfail.Exception(safe(
                f"nice check {result.status}: observed {_shown(result.observed)}, bound {result.bound or '-'}: "
                f"{result.message}"))
        raise CheckFailed(safe(result.message))

    def repr_failure(self, excinfo):
        if self.result is not None and isinstance(excinfo.value, (CheckFailed, pytest.xfail.Exception)):
            return format_result(self.result)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        line = self.check.line - 1 if self.check.line else None
        return self.path, line, f"{self.check.id} ({self.check.kind}, {self.check.severity})"


# -- the gate's verdict, next to pytest's summary ------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Per spec file, the gate's counts and verdict, and each check that did not pass.

    Built from the ``runverdict_check`` attribute ``pytest_runtest_makereport`` puts on each
    check's setup report, which pytest-xdist carries from the workers: ``-n`` prints the same.
    """
    from .result import CheckResult, verdict_of

    by_file: dict[str, dict] = {}
    whole: dict[str, dict] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            check = getattr(report, "runverdict_check", None)
            if not isinstance(check, dict):
                continue
            spec_file = report.nodeid.split("::", 1)[0]
            line = report.location[1] if report.location[1] is not None else -1
            by_file.setdefault(spec_file, {})[(line, check["id"])] = CheckResult(
                check["id"], check["kind"], check["severity"], check["status"], check["observed"], check["bound"], "")
            if isinstance(getattr(report, "runverdict_spec", None), dict):
                whole[spec_file] = report.runverdict_spec
    if not by_file:
        return
    run_dir = config.stash[_DIRS].run_label or config.stash[_DIRS].run_dir
    terminalreporter.ensure_newline()
    terminalreporter.section("runverdict")
    for spec_file, results in sorted(by_file.items()):
        results = [results[key] for key in sorted(results)]  # spec order, as the workers finish in any
        spec = whole.get(spec_file)
        if spec is not None:
            verdict, code = spec["verdict"], spec["exit_code"]
        else:  # pragma: no cover - every setup report of a judged check carries the spec's verdict
            verdict, code = verdict_of(results)
        counts = {s: sum(1 for r in results if r.status == s) for s in ("pass", "fail", "error")}
        nice = sum(1 for r in results if r.severity != "must" and r.status != "pass")
        line = (f"{safe(spec_file)} on {safe(run_dir)}: {counts['pass']} passed, {counts['fail']} failed, "
                f"{counts['error']} error{'s' if counts['error'] != 1 else ''}")
        if nice:
            line += f" ({nice} nice-to-have, xfailed, do not change the verdict)"
        terminalreporter.write_line(f"{line}. Verdict: {verdict.upper()} (runverdict exit {int(code)})")
        if spec is not None and spec["checks"] > len(results):
            shown = {r.id for r in results}
            hidden = [i for i in spec["not_passed"] if i not in shown]
            text = (f"  {spec['checks'] - len(results)} of {spec['checks']} checks deselected (-k, -m, --lf or "
                    "node ids); the verdict is the whole spec's, every check judged")
            text += (": not passed among the deselected: " + ", ".join(safe(i) for i in hidden)) if hidden \
                else ": the deselected all passed"
            terminalreporter.write_line(text)
        for r in results:
            if r.status != "pass":
                mark = "*" if r.severity != "must" else ""
                terminalreporter.write_line(
                    f"  {safe(r.status.upper()) + mark:<6} {safe(r.id)}: observed {safe(r.observed)}, "
                    f"bound {safe(r.bound or '-')}")
        if spec is not None:
            for text in spec.get("decision_lines", ()):
                terminalreporter.write_line(safe(text))
            if spec["advice"]:
                terminalreporter.write_line("  Advice:")
                for text in spec["advice"]:
                    terminalreporter.write_line(f"    - {safe(text)}")


def _spec_summary(report) -> dict:
    """What the summary says about the whole spec, carried on each check's report (xdist too)."""
    summary = {"verdict": report.verdict, "exit_code": int(report.exit_code), "checks": len(report.results),
               "not_passed": [r.id for r in report.results if r.status != "pass"],
               "advice": [a.recommend + (f" ({a.reason})" if a.reason else "") for a in report.advice]}
    decision = getattr(report, "decision", None)
    if decision is not None:
        summary["decision_lines"] = [f"  Decision: {decision.action} ({decision.reason})"]
    return summary


# -- reports: the check's result for the summary; artefact errors in users' own checks -------
class RunArtefactError(ArtefactError):
    """An artefact a test asked the ``run``/``baseline_run`` fixture for is unusable.

    Reported as a pytest error with the gate's message, without a traceback.
    """


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if isinstance(item, CheckItem) and call.when == "setup" and item.result is not None:
        r = item.result
        report.runverdict_check = {"id": r.id, "kind": r.kind, "severity": r.severity, "status": r.status,
                                   "observed": _shown(r.observed), "bound": r.bound}
        report.runverdict_spec = _spec_summary(item.parent.report)
    if call.excinfo is not None and isinstance(call.excinfo.value, RunArtefactError):
        report.longrepr = safe(f"runverdict: artefact error: {call.excinfo.value}")
        if call.when == "call":  # in setup (a user's fixture) pytest already calls it an error
            report.runverdict_artefact_error = True
    return report


def pytest_report_teststatus(report, config):
    if getattr(report, "runverdict_artefact_error", False) and report.failed:
        return "error", "E", "ERROR"
    return None


# -- formatting: one format for built-in checks and assert_within ---------------------------
def _shown(value) -> str:
    if value is None:
        return "-"
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            pass
    text = safe(repr(value))
    return text if len(text) <= 200 else text[:197] + "..."


def format_result(result) -> str:
    """The failure text of a check result: status, observed vs bound, message, evidence.

    Each value is passed through ``safe``; only the line breaks between them are real."""
    if result.status == "error":  # nothing observed: the first line (pytest's summary line) says why
        lines = [f"error: {safe(result.message)}"]
    else:
        lines = [f"observed {_shown(result.observed)}, bound {safe(result.bound or '-')}",
                 f"message: {safe(result.message)}"]
    lines.append(safe(f"check: {result.id} ({result.kind}, {result.severity}, {result.status})"))
    if result.description:
        lines.append(f"description: {safe(result.description)}")
    if result.evidence:
        lines.append("evidence:")
        lines.extend(_evidence_lines(result.evidence, "  "))
    return "\n".join(lines)


def _evidence_lines(evidence, indent) -> list[str]:
    lines = []
    for key, value in evidence.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{safe(key)}:")
            lines.extend(_evidence_lines(value, indent + "  "))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{indent}{safe(key)}:")
            for row in value:
                lines.append(f"{indent}  {_row_text(row)}")
        else:
            lines.append(f"{indent}{safe(key)}: {safe(value) if isinstance(value, str) else _shown(value)}")
    return lines


def _row_text(row: dict) -> str:
    if "row" in row and "value" in row:
        where = safe(f"row {row['row']}" + (f" (line {row['line']})" if row.get("line") is not None else ""))
        rest = {k: v for k, v in row.items() if k not in ("row", "line", "value")}
        extra = "".join(f", {safe(k)} {_shown(v)}" for k, v in rest.items())
        return f"{where}: {_shown(row['value'])}{extra}"
    return ", ".join(f"{safe(k)} {_shown(v)}" for k, v in row.items())


# -- assert_within ---------------------------------------------------------------------------
def assert_within(observed, bound=None, /, *, what="observed", message=None, evidence=None, **limits):
    """Fail the test unless ``observed`` is within the bound, with the gate's failure message.

    ``bound`` is a ``validators.bounds.Bound``, a mapping such as ``{"ge": 0, "le": 0.15}``,
    or given as keywords ``gt``/``ge``/``lt``/``le``. ``observed`` is a number, or an
    array-like (list, numpy array, pandas Series) whose every value must be within (then the
    evidence lists the first rows outside). NaN, inf, None and an empty array never pass.
    Returns ``observed``.

    >>> assert_within(0.004, lt=0.01, what="volatility_loss")
    0.004
    """
    from .bounds import BOUND_KEYS, Bound
    from .result import FAIL, MUST, CheckResult

    unknown = sorted(set(limits) - set(BOUND_KEYS))
    if unknown:
        raise TypeError(f"assert_within: unknown keyword {unknown[0]!r}; a bound takes gt, ge, lt, le")
    if bound is not None and limits:
        raise TypeError("assert_within: give the bound or gt/ge/lt/le keywords, not both")
    if bound is None:
        bound = Bound.from_mapping(limits)
    elif not isinstance(bound, Bound):
        if not hasattr(bound, "keys"):
            raise TypeError(f"assert_within: bound must be a Bound or a mapping of gt/ge/lt/le, got {bound!r}")
        unknown = sorted(set(bound) - set(BOUND_KEYS))
        if unknown:
            raise TypeError(f"assert_within: unknown bound key {unknown[0]!r}; a bound takes gt, ge, lt, le")
        bound = Bound.from_mapping(bound)
    if bound.is_empty:
        raise TypeError("assert_within needs a bound: gt/ge and/or lt/le")

    details = dict(evidence or {})
    if _is_array_like(observed):
        passed, shown, auto_message, more = _judge_values(observed, bound, what)
        bound_text = bound.describe("value")
    else:
        passed = bound.contains(observed)
        shown, more = observed, {}
        bound_text = bound.describe(what)
        auto_message = f"{what} = {_shown(observed)}"
        if isinstance(observed, float) and math.isnan(observed):
            auto_message += " (NaN is never within a bound)"
    if passed:
        return observed
    details.update(more)
    result = CheckResult(id=what, kind="assert_within", severity=MUST, status=FAIL, observed=shown,
                         bound=bound_text, message=message or auto_message, evidence=details)
    pytest.fail(format_result(result), pytrace=False)


def _is_array_like(value) -> bool:
    if isinstance(value, (str, bytes, dict)) or value is None:
        return False
    if hasattr(value, "ndim"):
        return value.ndim > 0
    return isinstance(value, (list, tuple))


def _judge_values(values, bound, what):
    """(passed, observed share outside, message, evidence) for every value of an array-like."""
    import numpy as np

    labels = list(values.index) if hasattr(values, "index") and not isinstance(values, (list, tuple)) else None
    try:
        x = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return False, None, f"{what}: values are not numbers", {}
    if x.size == 0:
        return False, None, f"{what}: no values to judge", {"evaluated": 0}
    outside = ~bound.mask(x)
    count = int(outside.sum())
    share = count / int(x.size)
    rows = []
    for i in np.flatnonzero(outside)[:5]:
        v = float(x[i])
        row = labels[i] if labels is not None and len(labels) == x.size else int(i)
        rows.append({"row": row.item() if hasattr(row, "item") else row,
                     "value": v if math.isfinite(v) else repr(v)})
    finite = x[np.isfinite(x)]
    evidence = {"count_outside": count, "evaluated": int(x.size)}
    if finite.size:
        evidence.update(min=float(finite.min()), max=float(finite.max()))
    if count:
        evidence["first_rows_outside"] = rows
    message = f"{count} of {x.size} values of {what} outside {bound.describe(what)}"
    return count == 0, share, message, evidence


# -- fixtures --------------------------------------------------------------------------------
class LoadedRun:
    """A run directory's artefacts as pandas objects, each read once, on first use.

    ``predictions`` (every column parsed numerically: ``[0.0123]`` cells are numbers; a cell
    that is not a number raises, naming file:line:column), ``column(name, element=None)``
    (one column as a Series, ``element`` picking from ``[0.1 0.9]`` cells), ``history``
    (``epoch`` and one column per metric), ``config`` (a dict), ``returns`` (one column per
    trial) and ``model`` (the ``.keras`` architecture, read as data). A date or timestamp index
    column (``date``, ``timestamp``...) is the frame's index, as the gate reads it, never a column.
    With ``spec``, the run is the one the spec's checks see: its ``[artefacts]``, ``[layout]`` and
    ``[trials]``; ``artefacts`` and ``layout`` override them like ``--artefact``/``--layout``.
    An unusable artefact raises ``RunArtefactError``, which the plugin reports as an error.
    """

    def __init__(self, root, artefacts: dict | None = None, layout: dict | None = None, spec=None):
        from .artefacts.layout import Layout
        from .artefacts.run import Run

        self.path = Path(root)
        self.spec = spec
        if spec is not None:
            from .gate import open_run

            self._run = open_run(spec, self.path, artefacts, layout)
        else:
            self._run = Run(self.path, layout=Layout.of(self.path, artefacts=artefacts, layout=layout))
        self._frames: dict = {}

    def __repr__(self):
        return f"LoadedRun({os.fspath(self.path)!r})"

    def _get(self, load):
        try:
            return load()
        except RunArtefactError:
            raise
        except ArtefactError as exc:
            raise RunArtefactError(exc.path, exc.message, line=exc.line, column=exc.column, offset=exc.offset,
                                   hint=exc.hint) from None

    def path_of(self, artefact: str) -> Path:
        return self._get(lambda: self._run.path_of(artefact))

    @property
    def predictions(self):
        if "predictions" not in self._frames:
            self._frames["predictions"] = self._get(self._predictions)
        return self._frames["predictions"].copy()

    def _predictions(self):
        import pandas as pd

        table = self._run.predictions()
        names = [name for name in table.header if name in table.columns]
        index_name = _date_index(table, names)
        names = [name for name in names if name != index_name]
        frame = pd.DataFrame({name: table.numeric(name).values for name in names}, columns=names)
        if index_name is not None:
            frame.index = _as_index(table.columns[index_name], index_name)
        frame.attrs["path"] = table.path
        return frame

    def column(self, name: str, element: int | None = None):
        """Head (or column) ``name`` as a Series, found as the gate finds it."""
        return self._series(lambda: self._run.column(name, element), name)

    def label(self, head: str):
        """The label column of head ``head`` (``y_direction``, ``direction_true``... as the gate finds it)."""
        return self._series(lambda: self._run.label(head), None)

    def _series(self, read, name):
        import pandas as pd

        col = self._get(read)
        series = pd.Series(col.values, name=name or col.name)
        series.attrs["path"] = col.path
        return series

    @property
    def history(self):
        if "history" not in self._frames:
            self._frames["history"] = self._get(self._history)
        return self._frames["history"].copy()

    def _history(self):
        import pandas as pd

        hist = self._run.history()
        frame = pd.DataFrame({"epoch": hist.epochs, **hist.metrics})
        frame.attrs.update(path=hist.path, source=hist.source)
        return frame

    @property
    def config(self) -> dict:
        return copy.deepcopy(self._get(self._run.config))

    @property
    def returns(self):
        """One column per trial; the file's date (or counter) index column as the index."""
        return self._get(self._returns)

    def _returns(self):
        returns = self._run.returns()
        frame = returns.frame()
        if returns.index_column is not None:
            from .artefacts.tables import read_table

            table = read_table(returns.path, [returns.index_column])
            dated = returns.index_kind in ("dates", "timestamps")
            frame.index = _as_index(table.columns[returns.index_column], returns.index_column, dated)
        return frame

    @property
    def model(self):
        return self._get(self._run.model)


def _date_index(table, names) -> str | None:
    """The predictions' date or timestamp column (the first such column named like an index)."""
    from .artefacts.returns import detect_kind, named_like_index

    for name in names:
        if named_like_index(name) and detect_kind(table.columns[name]) in ("dates", "timestamps"):
            return name
    return None


def _as_index(array, name, dated=True):
    import pandas as pd

    values = array.to_pandas() if hasattr(array, "to_pandas") else pd.Series(array)
    if dated:
        return pd.DatetimeIndex(pd.to_datetime(values, format="ISO8601"), name=name)
    return pd.Index(values, name=name)


def _session_spec(request):
    """The spec whose layout the fixtures follow: ``--spec``, else the one spec collected."""
    from .spec import load_spec

    named = request.config.getoption("runverdict_spec", None)
    if named is not None:
        try:
            return load_spec(Path(request.config.invocation_params.dir, named))
        except SpecError as exc:
            problem = exc
        pytest.fail(safe(f"runverdict: --spec: {problem}"), pytrace=False)
    specs = {}
    for item in request.session.items:
        parent = getattr(item, "parent", None)
        if isinstance(parent, SpecFile) and parent.spec is not None:
            specs[os.fspath(parent.path)] = parent.spec
    layouts = {repr((s.artefacts, s.layout, s.trials)) for s in specs.values()}
    if len(layouts) > 1:
        pytest.fail(safe("runverdict: the 'run' fixture: the specs collected (" + ", ".join(sorted(specs))
                         + ") declare different layouts; say which one to follow: --spec SPEC"), pytrace=False)
    return next(iter(specs.values()), None)


def _loaded(request, which, flag, metavar):
    path = getattr(request.config.stash[_DIRS], which)
    if path is None:
        pytest.fail(safe(f"runverdict: the {request.fixturename!r} fixture needs {flag} {metavar}"), pytrace=False)
    dirs = request.config.stash[_DIRS]
    spec = _session_spec(request)
    if which == "run_dir":
        return LoadedRun(path, dirs.artefacts, dirs.layout, spec=spec)
    return LoadedRun(path, dirs.baseline_artefacts, spec=spec)


@pytest.fixture(scope="session")
def run(request):
    """The run of ``--run-dir``: predictions, history, config, returns as pandas objects."""
    return _loaded(request, "run_dir", "--run-dir", "RUN_DIR")


@pytest.fixture(scope="session")
def baseline_run(request):
    """The run of ``--baseline``, to compare against; an error when ``--baseline`` is not given."""
    return _loaded(request, "baseline", "--baseline", "BASELINE_DIR")
