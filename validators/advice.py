"""Rollback advice declared in the spec: rules whose conditions are data, never code.

    [[advice]]
    id = "auc-dropped"
    recommend = "Check if direction AUC dropped significantly"
    reason = "Plan, Rollback: If Run #3 performs worse"
    when = [
      { delta = "val_direction_auc", epoch = "best", monitor = "val_direction_auc", mode = "max", lt = -0.01 },
    ]

A rule triggers when every condition in ``when`` holds. Conditions:

* ``{ verdict = "pass" }`` (or a list of verdicts): the gate's verdict;
* ``{ check = "ID", status = "fail" }`` (or a list of statuses): a check's status;
* ``{ check = "ID", gt/ge/lt/le = x }``: a check's observed value within a bound;
* ``{ delta = "METRIC", epoch, monitor, mode, change, gt/ge/lt/le = x }``: a history
  metric's change against the baseline within a bound (never holds without a baseline);
* ``{ decision = "keep-baseline" }`` (or a list): the gate's decision (``validators.decision``);
  a rule with one supports that decision and is listed before the rules without;
* ``{ baseline = "pass" }`` (or a list of verdicts): the baseline's verdict (never holds
  without a baseline);
* ``{ baseline_check = "ID", status = ... }`` or a bound: a check's status or observed value on
  the baseline.

A status condition matches only the statuses it names: ``status = "fail"`` never matches an
``error``. Each triggered rule reports the numbers that made each condition hold. A condition
that cannot be evaluated (a misspelt metric, an unreadable baseline history, a bound on a check
that erred) does not hold and is reported as a warning, never silently false.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bounds import BOUND_KEYS, Bound, is_number
from .errors import GateError, SpecError
from .result import SEVERITIES, STATUSES

RULE_KEYS = ("id", "recommend", "reason", "when")
CONDITION_KEYS = {
    "verdict": ("verdict",),
    "check": ("check", "status") + BOUND_KEYS,
    "delta": ("delta", "epoch", "monitor", "mode", "change") + BOUND_KEYS,
    "decision": ("decision",),
    "baseline": ("baseline",),
    "baseline_check": ("baseline_check", "status") + BOUND_KEYS,
}
VERDICTS = ("pass", "fail", "error")
del SEVERITIES


@dataclass(frozen=True)
class Rule:
    id: str
    recommend: str
    reason: str
    when: tuple[dict, ...]


@dataclass(frozen=True)
class Advice:
    id: str
    recommend: str
    reason: str
    facts: tuple[str, ...]  # one line per condition, with the numbers
    supports: str | None = None  # the decision this advice supports, when a condition names it


class Unevaluable(Exception):
    """An advice condition that cannot be evaluated; its message becomes a warning."""


def parse_rules(raw, path, locator, check_ids) -> tuple[Rule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise SpecError(path, "'advice' must be an array of tables written as [[advice]]")
    rules, seen = [], set()
    for index, table in enumerate(raw):
        line = locator.table_header("advice", index)

        def fail(message, _line=line, _table=table, _index=index):
            label = f"advice {_table.get('id')!r}" if isinstance(_table.get("id"), str) else f"advice #{_index + 1}"
            raise SpecError(path, f"{label}: {message}", line=_line, column=1 if _line else None)

        for key in table:
            if key not in RULE_KEYS:
                fail(f"unknown key {key!r}; known keys: {', '.join(RULE_KEYS)}")
        for key in ("id", "recommend", "when"):
            if key not in table:
                fail(f"missing required key {key!r}")
        if not isinstance(table["id"], str) or not table["id"]:
            fail(f"'id' must be a non-empty string, got {table['id']!r}")
        if table["id"] in seen:
            fail(f"duplicate advice id {table['id']!r}")
        seen.add(table["id"])
        for key in ("recommend", "reason"):
            if key in table and (not isinstance(table[key], str) or not table[key].strip()):
                fail(f"{key!r} must be a non-empty string")
        when = table["when"]
        if not isinstance(when, list) or not when or not all(isinstance(c, dict) for c in when):
            fail("'when' must be a non-empty list of condition tables such as [{ check = \"id\", status = \"fail\" }]")
        for condition in when:
            problem = _condition_problem(condition, check_ids)
            if problem:
                fail(f"condition {condition!r}: {problem}")
        rules.append(Rule(table["id"], table["recommend"], table.get("reason", ""), tuple(when)))
    return tuple(rules)


def _condition_problem(condition, check_ids) -> str | None:
    from .decision import ACTIONS

    kinds = [k for k in CONDITION_KEYS if k in condition]
    if len(kinds) != 1:
        return "give exactly one of " + ", ".join(repr(k) for k in CONDITION_KEYS)
    kind = kinds[0]
    for key in condition:
        if key not in CONDITION_KEYS[kind]:
            return f"unknown key {key!r} for a {kind!r} condition; known: {', '.join(CONDITION_KEYS[kind])}"
    for key, allowed in (("verdict", VERDICTS), ("baseline", VERDICTS), ("decision", ACTIONS)):
        if kind == key:
            values = condition[key] if isinstance(condition[key], list) else [condition[key]]
            if not values or any(v not in allowed for v in values):
                return f"{key} must be one of {', '.join(allowed)} (or a list of them)"
            return None
    bound_keys = [k for k in BOUND_KEYS if k in condition]
    for key in bound_keys:
        if not is_number(condition[key]) or condition[key] != condition[key] or abs(condition[key]) == float("inf"):
            return f"bound {key!r} must be a finite number"
    try:
        Bound.from_mapping(condition)
    except ValueError as exc:
        return str(exc)
    if kind in ("check", "baseline_check"):
        if not isinstance(condition[kind], str) or condition[kind] not in check_ids:
            return f"no check with id {condition[kind]!r} in the spec"
        has_status = "status" in condition
        if has_status == bool(bound_keys):
            return "give either status or a bound (gt/ge/lt/le) on the observed value"
        if has_status:
            statuses = condition["status"] if isinstance(condition["status"], list) else [condition["status"]]
            if not statuses or any(s not in STATUSES for s in statuses):
                return f"status must be one of {', '.join(STATUSES)} (or a list of them)"
        return None
    if not isinstance(condition["delta"], str) or not condition["delta"]:
        return "delta must name a history metric"
    if not bound_keys:
        return "a delta condition needs a bound (gt/ge/lt/le)"
    epoch = condition.get("epoch", "last")
    if not (epoch in ("last", "best") or (isinstance(epoch, int) and not isinstance(epoch, bool))):
        return f"epoch must be \"last\", \"best\" or an integer epoch index, got {epoch!r}"
    if epoch == "best" and (condition.get("monitor") is None or condition.get("mode") not in ("min", "max")):
        return "epoch = 'best' needs monitor and mode = 'max' or 'min'"
    if epoch != "best" and ("monitor" in condition or "mode" in condition):
        return "monitor and mode are only used with epoch = 'best'"
    if "monitor" in condition and (not isinstance(condition["monitor"], str) or not condition["monitor"]):
        return f"monitor must name a history metric, got {condition['monitor']!r}"
    if condition.get("change", "absolute") not in ("absolute", "relative"):
        return "change must be 'absolute' or 'relative'"
    return None


def evaluate_rules(rules, results, verdict, run, decision=None, baseline_results=None,
                   baseline_verdict=None) -> tuple[tuple[Advice, ...], tuple[str, ...]]:
    """``(advice, warnings)``: the rules whose every condition holds, those supporting ``decision``
    first (then spec order), and one warning per condition that could not be evaluated."""
    context = _Context({r.id: r for r in results}, verdict, run, decision,
                       None if baseline_results is None else {r.id: r for r in baseline_results}, baseline_verdict)
    triggered, warnings = [], []
    for rule in rules:
        facts = []
        for condition in rule.when:
            try:
                fact = _holds(condition, context)
            except Unevaluable as exc:
                warnings.append(f"advice {rule.id}: condition {_shown(condition)} could not be evaluated: {exc}")
                fact = None
            if fact is None:
                break
            facts.append(fact)
        else:
            supports = next((decision.action for c in rule.when if "decision" in c), None) if decision else None
            triggered.append(Advice(rule.id, rule.recommend, rule.reason, tuple(facts), supports))
    triggered.sort(key=lambda a: a.supports is None)  # stable: spec order within each group
    return tuple(triggered), tuple(warnings)


@dataclass(frozen=True)
class _Context:
    by_id: dict
    verdict: str
    run: object
    decision: object
    baseline_by_id: dict | None
    baseline_verdict: str | None


def _shown(condition) -> str:
    return "{ " + ", ".join(f"{k} = {v!r}" for k, v in condition.items()) + " }"


def _wanted(value) -> list:
    return value if isinstance(value, list) else [value]


def _holds(condition, context) -> str | None:
    """A line of evidence when the condition holds, else None; ``Unevaluable`` when it cannot tell."""
    if "verdict" in condition:
        return f"verdict is {context.verdict}" if context.verdict in _wanted(condition["verdict"]) else None
    if "decision" in condition:
        action = context.decision.action if context.decision is not None else None
        return f"decision is {action}" if action in _wanted(condition["decision"]) else None
    if "baseline" in condition:
        if context.baseline_verdict is None:
            return None  # no baseline given: nothing to hold
        wanted = _wanted(condition["baseline"])
        return f"baseline verdict is {context.baseline_verdict}" if context.baseline_verdict in wanted else None
    bound = Bound.from_mapping(condition)
    if "check" in condition or "baseline_check" in condition:
        on_baseline = "baseline_check" in condition
        if on_baseline and context.baseline_by_id is None:
            return None
        result = (context.baseline_by_id if on_baseline else context.by_id)[condition.get("baseline_check")
                                                                              or condition["check"]]
        where = "on the baseline " if on_baseline else ""
        if "status" in condition:
            if result.status in _wanted(condition["status"]):
                return (f"check {result.id} {where}is {result.status}: observed {result.observed!r}, "
                        f"bound {result.bound}")
            return None
        if result.observed is None:
            raise Unevaluable(f"check {result.id} {where}has no observed value ({result.status}: {result.message})")
        if bound.contains(result.observed):
            return f"check {result.id} {where}observed {result.observed!r}, {bound.describe('observed')}"
        return None
    from .baseline import NoBaseline, history_delta

    try:
        value, evidence = history_delta(context.run, condition["delta"], condition.get("epoch", "last"),
                                        condition.get("monitor"), condition.get("mode"),
                                        condition.get("change", "absolute"))
    except NoBaseline:
        return None
    except GateError as exc:
        raise Unevaluable(str(exc)) from None
    if value is None:
        raise Unevaluable(evidence.get("note") or f"no change of {condition['delta']} could be computed")
    if not bound.contains(value):
        return None
    word = "relative change" if condition.get("change") == "relative" else "change"
    return (f"{condition['delta']} {word} {value!r} vs baseline ({evidence['candidate']!r} at epoch "
            f"{evidence['candidate_epoch']} vs {evidence['baseline']!r} at epoch {evidence['baseline_epoch']}), "
            f"{bound.describe(word.replace(' ', '_'))}")
