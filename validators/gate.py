"""The gate: every check of a spec judged on one run directory, and the verdict."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace

from .artefacts.run import Run
from .errors import ArtefactError
from .exitcodes import ExitCode
from .kinds import builtin_kinds
from .result import ERROR, FAIL, PASS, CheckResult, Outcome, verdict_of
from .spec import Spec


@dataclass(frozen=True)
class GateReport:
    run_dir: str
    spec: Spec
    results: tuple[CheckResult, ...]
    verdict: str
    exit_code: ExitCode
    files: dict = field(default_factory=dict)  # artefact path -> sha256
    seconds: float = 0.0
    run: Run | None = field(default=None, repr=False, compare=False)  # artefacts already read, for reports
    baseline: object | None = None  # validators.baseline.Comparison when --baseline was given
    advice: tuple = ()  # validators.advice.Advice triggered by the spec's [[advice]] rules
    layout: tuple = ()  # validators.artefacts.layout.Choice of every artefact located, in the order read
    bindings: tuple = ()  # validators.artefacts.layout.Binding of every role not found as named
    notes: tuple = ()  # what else the layout checked (histories that agree)
    decision: object | None = None  # validators.decision.Decision: promote, keep-baseline or investigate
    advice_warnings: tuple = ()  # advice conditions that could not be evaluated, one line each
    source: dict | None = None  # a remote run: its location and every object fetched (validators.sources)

    def layout_lines(self) -> list[str]:
        """How the run's layout was found: one line per artefact, one per role bound by convention."""
        lines = [choice.describe(self.run_dir) for choice in self.layout]
        lines += [binding.note() for binding in self.bindings]
        return lines + list(self.notes)

    def counts(self) -> dict:
        out = {PASS: 0, FAIL: 0, ERROR: 0}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out


def prediction_columns(spec: Spec) -> list[str]:
    """Every predictions column (or head) any check names, so the file is read once with just those."""
    kinds = builtin_kinds()
    columns = []
    for check in spec.checks:
        for param in kinds[check.kind].params:
            if param.role == "column" and check.params.get(param.name):
                columns.append(check.params[param.name])
        if spec.trials is not None and "returns" in kinds[check.kind].artefacts:
            columns += [spec.trials["probability_column"], spec.trials["return_column"]]
    return list(dict.fromkeys(columns))


def label_heads(spec: Spec) -> list[str]:
    """Heads whose label column a check needs and leaves to the layout to find."""
    return list(dict.fromkeys(c.params["column"] for c in spec.checks
                              if c.kind == "auc" and c.params.get("label_column") is None))


def judged_metrics(spec: Spec) -> list[str]:
    """Every history metric a check judges or picks its epoch by."""
    kinds = builtin_kinds()
    names = [check.params[p.name] for check in spec.checks for p in kinds[check.kind].params
             if p.role == "metric" and check.params.get(p.name)]
    return list(dict.fromkeys(names))


def open_run(spec: Spec, run_dir, artefacts=None, layout=None, written_since=None) -> Run:
    """The run as the spec's checks see it: the spec's layout, then the command line's."""
    from .artefacts.layout import Layout

    where = Layout.of(run_dir, spec.artefacts, spec.layout, artefacts, layout, written_since)
    run = Run(run_dir, None, prediction_columns(spec), spec.trials, layout=where, label_heads=label_heads(spec),
              judged_metrics=judged_metrics(spec))
    run.allow_first_run = spec.allow_first_run
    return run


def evaluate(spec: Spec, run_dir, baseline_dir=None, *, artefacts=None, layout=None,
             baseline_artefacts=None, baseline_layout=None, written_since=None) -> GateReport:
    """Run every check (each runs even when others fail), decide the verdict, give advice.

    ``artefacts`` and ``layout`` declare where things are in this run (``--artefact``,
    ``--layout``), over the spec's ``[artefacts]`` and ``[layout]``.
    With ``baseline_dir``, the spec's checks (all but ``delta``) also run on the baseline,
    every history metric and observed value is compared, and ``delta`` checks and advice
    conditions see the baseline's history. ``written_since`` (``st_mtime_ns``) refuses this run's
    artefacts written before it (the Keras callback passes its training's start).
    """
    started = time.perf_counter()
    run = open_run(spec, run_dir, artefacts, layout, written_since)
    baseline_report = None
    if baseline_dir is not None:
        base_run = open_run(spec, baseline_dir, baseline_artefacts, baseline_layout)
        base_results = _run_checks([c for c in spec.checks if c.kind != "delta"], base_run)
        verdict, code = verdict_of(base_results)
        baseline_report = GateReport(os.fspath(baseline_dir), spec, tuple(base_results), verdict, code,
                                     dict(base_run.files), run=base_run)
        run.baseline = base_run
    results = _run_checks(spec.checks, run)
    verdict, code = verdict_of(results)
    report = GateReport(run_dir=os.fspath(run_dir), spec=spec, results=tuple(results), verdict=verdict,
                        exit_code=code, files=dict(run.files), run=run)
    comparison = None
    if baseline_report is not None:
        from .baseline import compare

        comparison = compare(report, baseline_report)
    from .decision import decide

    base_verdict = baseline_report.verdict if baseline_report is not None else None
    base_results = baseline_report.results if baseline_report is not None else None
    decision = decide(results, verdict, base_verdict, base_results)
    advice, warnings = (), ()
    if spec.advice:
        from .advice import evaluate_rules

        advice, warnings = evaluate_rules(spec.advice, results, verdict, run, decision, base_results, base_verdict)
    return replace(report, baseline=comparison, advice=advice, decision=decision, advice_warnings=warnings,
                   files=dict(run.files),
                   layout=tuple(run.choices().values()), bindings=tuple(dict.fromkeys(run.bindings)),
                   notes=tuple(dict.fromkeys(run.notes)),
                   seconds=time.perf_counter() - started)


def _run_checks(checks, run) -> list[CheckResult]:
    kinds = builtin_kinds()
    results = []
    for check in checks:
        kind = kinds[check.kind]
        bound_text = _bound_text(kind, check)
        bound_before = len(run.bindings)
        try:
            kwargs = dict(check.params)
            if kind.bounded:
                kwargs["bound"] = check.bound
            outcome = kind.func(run, **kwargs)
            if not isinstance(outcome, Outcome):  # a kind that forgot to decide never passes
                raise TypeError(f"kind {check.kind!r} returned {type(outcome).__name__}, not an Outcome")
            status = PASS if outcome.passed is True else FAIL
            evidence = dict(outcome.evidence)
            layout_notes = list(dict.fromkeys(b.note() for b in run.bindings[bound_before:]))
            if layout_notes:
                evidence["layout"] = layout_notes
            result = CheckResult(check.id, check.kind, check.severity, status, outcome.observed, bound_text,
                                 outcome.message, evidence, check.description)
        except ArtefactError as exc:
            evidence = {"file": os.fspath(exc.path)}
            if exc.line is not None:
                evidence["line"] = exc.line
            if exc.column is not None:
                evidence["column"] = exc.column
            if exc.offset is not None:
                evidence["offset"] = exc.offset
            result = CheckResult(check.id, check.kind, check.severity, ERROR, None, bound_text, str(exc),
                                 evidence, check.description)
        results.append(result)
    return results


def _bound_text(kind, check) -> str:
    if check.bound is not None:
        subject = "value" if getattr(kind.func, "bound_is_per_value", False) else "observed"
        return check.bound.describe(subject)
    if check.kind in ("config", "compile"):
        return f"== {check.params['equals']!r}"
    if check.kind == "architecture":
        from .kinds.model import EXPECTATIONS

        return ", ".join(f"{key} == {check.params[key]!r}" for key in EXPECTATIONS if check.params.get(key) is not None)
    return ""
