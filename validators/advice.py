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
  metric's change against the baseline within a bound (never holds without a baseline).

Each triggered rule reports the numbers that made each condition hold.
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
    kinds = [k for k in CONDITION_KEYS if k in condition]
    if len(kinds) != 1:
        return "give exactly one of 'verdict', 'check' or 'delta'"
    kind = kinds[0]
    for key in condition:
        if key not in CONDITION_KEYS[kind]:
            return f"unknown key {key!r} for a {kind!r} condition; known: {', '.join(CONDITION_KEYS[kind])}"
    if kind == "verdict":
        verdicts = condition["verdict"] if isinstance(condition["verdict"], list) else [condition["verdict"]]
        if not verdicts or any(v not in VERDICTS for v in verdicts):
            return f"verdict must be one of {', '.join(VERDICTS)} (or a list of them)"
        return None
    bound_keys = [k for k in BOUND_KEYS if k in condition]
    for key in bound_keys:
        if not is_number(condition[key]) or condition[key] != condition[key] or abs(condition[key]) == float("inf"):
            return f"bound {key!r} must be a finite number"
    try:
        Bound.from_mapping(condition)
    except ValueError as exc:
        return str(exc)
    if kind == "check":
        if not isinstance(condition["check"], str) or condition["check"] not in check_ids:
            return f"no check with id {condition['check']!r} in the spec"
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


def evaluate_rules(rules, results, verdict, run) -> tuple[Advice, ...]:
    by_id = {r.id: r for r in results}
    triggered = []
    for rule in rules:
        facts = []
        for condition in rule.when:
            fact = _holds(condition, by_id, verdict, run)
            if fact is None:
                break
            facts.append(fact)
        else:
            triggered.append(Advice(rule.id, rule.recommend, rule.reason, tuple(facts)))
    return tuple(triggered)


def _holds(condition, by_id, verdict, run) -> str | None:
    """A line of evidence when the condition holds, else None."""
    if "verdict" in condition:
        wanted = condition["verdict"] if isinstance(condition["verdict"], list) else [condition["verdict"]]
        return f"verdict is {verdict}" if verdict in wanted else None
    bound = Bound.from_mapping(condition)
    if "check" in condition:
        result = by_id[condition["check"]]
        if "status" in condition:
            wanted = condition["status"] if isinstance(condition["status"], list) else [condition["status"]]
            if result.status in wanted:
                return f"check {result.id} is {result.status}: observed {result.observed!r}, bound {result.bound}"
            return None
        if bound.contains(result.observed):
            return f"check {result.id} observed {result.observed!r}, {bound.describe('observed')}"
        return None
    from .baseline import NoBaseline, history_delta

    try:
        value, evidence = history_delta(run, condition["delta"], condition.get("epoch", "last"),
                                        condition.get("monitor"), condition.get("mode"),
                                        condition.get("change", "absolute"))
    except (NoBaseline, GateError):
        return None
    if value is None or not bound.contains(value):
        return None
    word = "relative change" if condition.get("change") == "relative" else "change"
    return (f"{condition['delta']} {word} {value!r} vs baseline ({evidence['candidate']!r} at epoch "
            f"{evidence['candidate_epoch']} vs {evidence['baseline']!r} at epoch {evidence['baseline_epoch']}), "
            f"{bound.describe(word.replace(' ', '_'))}")
