"""One decision per gate run: promote the candidate, keep the baseline, or investigate.

A pure function of the candidate's results and, when ``--baseline`` was given, the baseline's:

* **promote**: the candidate passes every must check (with a baseline, the spec's ``delta``
  checks, themselves must checks, say it matches or beats it; a baseline that does not pass
  is no reason to hold back a candidate that does);
* **keep-baseline**: the candidate fails and the baseline passes, so there is something safe to
  roll back to;
* **investigate**: the gate could not judge the candidate (a must check erred), or it fails and
  there is no passing baseline (none given, or the baseline fails or errs itself).

The advice that supports a decision names it in a ``{ decision = "..." }`` condition and is
listed first (``validators.advice``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .result import ERROR, FAIL, MUST, PASS

ACTIONS = ("promote", "keep-baseline", "investigate")


@dataclass(frozen=True)
class Decision:
    action: str  # one of ACTIONS
    reason: str  # one sentence
    because: tuple[str, ...] = ()  # the checks (and the baseline's verdict) behind it, one line each

    def as_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason, "because": list(self.because)}


def decide(results, verdict, baseline_verdict=None, baseline_results=None) -> Decision:
    """The decision for a candidate judged ``results`` (verdict ``verdict``) against an optional baseline."""
    must = [r for r in results if r.severity == MUST]
    erred = [r for r in must if r.status == ERROR]
    failed = [r for r in must if r.status == FAIL]
    compared = [r for r in must if r.kind == "delta" and r.status == PASS and r.observed is not None]
    base = _baseline_line(baseline_verdict, baseline_results)
    if verdict == ERROR or erred:
        why = (f"{_count(erred, 'must check')} could not be evaluated" if erred
               else "no must check was evaluated")
        return Decision("investigate", f"the gate could not judge the candidate: {why}",
                        tuple(f"{r.id}: error: {r.message}" for r in erred) + base)
    if verdict == PASS:
        if baseline_verdict is None:
            reason = "the candidate passes every must check (no baseline to compare with)"
        elif baseline_verdict != PASS:
            reason = f"the candidate passes every must check; the baseline does not (verdict {baseline_verdict})"
        elif compared:
            reason = "the candidate passes every must check and matches or beats the passing baseline"
        else:
            reason = "the candidate and the baseline both pass; no delta check compares them"
        return Decision("promote", reason, tuple(f"{r.id}: {r.message}" for r in compared) + base)
    because = tuple(f"{r.id}: fail: {r.message}" for r in failed) + base
    if baseline_verdict == PASS:
        return Decision("keep-baseline", f"the candidate fails {_count(failed, 'must check')}; the baseline "
                                         "passes: roll back to it", because)
    if baseline_verdict is None:
        why = "there is no baseline to roll back to (give one with --baseline)"
    else:
        why = f"the baseline fails the gate too (verdict {baseline_verdict}): nothing safe to roll back to"
    return Decision("investigate", f"the candidate fails {_count(failed, 'must check')}, and {why}", because)


def _baseline_line(verdict, results) -> tuple[str, ...]:
    if verdict is None:
        return ()
    not_passed = [r.id for r in (results or ()) if r.severity == MUST and r.status != PASS]
    tail = f" ({', '.join(not_passed)} not passing)" if not_passed else ""
    return (f"baseline: verdict {verdict}{tail}",)


def _count(items, noun) -> str:
    return f"{len(items)} {noun}{'s' if len(items) != 1 else ''}" + (
        f" ({', '.join(r.id for r in items)})" if items else "")


__all__ = ["ACTIONS", "Decision", "decide"]
