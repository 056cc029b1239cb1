"""Gate specs: TOML files validated entirely before a single artefact is read.

A spec has an optional ``name``, an optional ``[artefacts]`` table overriding where each
artefact lives in the run directory, and one ``[[check]]`` table per check.
Every mistake raises ``SpecError`` naming ``file:line:col`` and, for a misspelt key or
kind, the close match.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .artefacts.layout import DECLARABLE_ARTEFACTS, LAYOUT_KEYS, ROLE_TABLES, TENSORBOARD_HINT
from .bounds import BOUND_KEYS, Bound, is_finite_number, is_number
from .errors import SpecError, toml_position
from .registry import type_error
from .result import SEVERITIES

TOP_LEVEL_KEYS = ("name", "description", "artefacts", "layout", "trials", "baseline", "check", "advice")
BASELINE_KEYS = ("allow_first_run",)
TRIALS_KEYS = ("probability_column", "return_column", "thresholds", "cost")
COMMON_KEYS = ("id", "kind", "severity", "description")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class CheckSpec:
    id: str
    kind: str
    severity: str
    params: dict
    bound: Bound | None
    description: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Spec:
    path: str
    sha256: str
    name: str
    artefacts: dict
    checks: tuple[CheckSpec, ...]
    layout: dict = field(default_factory=dict)  # [layout]: column roles, config keys, the returns' index
    description: str = ""
    trials: dict | None = None  # build returns from predictions: see _parse_trials
    allow_first_run: bool = False  # [baseline] allow_first_run: delta checks pass uncompared without a baseline
    advice: tuple = ()  # validators.advice.Rule, from [[advice]] tables
    raw: dict = field(default_factory=dict, repr=False)


def load_spec(path) -> Spec:
    """Read and validate the spec at ``path``; raises ``SpecError``."""
    path = os.fspath(path)
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None  # the read below says why
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise SpecError(path, "is not a regular file (a named pipe or device?): expected a TOML spec file")
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecError(path, "spec file not found") from None
    except IsADirectoryError:
        raise SpecError(path, "is a directory, expected a TOML spec file") from None
    except OSError as exc:
        raise SpecError(path, f"cannot read spec: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()  # of the file as it is
    if data.startswith(b"\xef\xbb\xbf"):  # a BOM, as some editors save: every artefact accepts one too
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(path, f"not UTF-8 text (byte offset {exc.start})") from None
    return parse_spec(text, path, sha256=digest)


def parse_spec(text: str, path="<spec>", sha256: str | None = None) -> Spec:
    import tomllib

    if sha256 is None:
        sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col, msg = toml_position(exc)
        raise SpecError(path, f"TOML syntax error: {msg}", line=line, column=col) from None
    except ValueError as exc:  # an integer of more digits than Python converts (4300)
        raise SpecError(path, f"TOML value cannot be read: {exc}") from None
    except RecursionError:
        raise SpecError(path, "TOML nested too deeply to read: a spec needs a few levels at most") from None
    locator = _Locator(text)

    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise SpecError(path, f"unknown top-level key {key!r}", line=locator.top_key(key), column=1,
                            hint=_suggest(key, TOP_LEVEL_KEYS))
    name = raw.get("name", Path(path).stem)
    if not isinstance(name, str):
        raise SpecError(path, f"'name' must be a string, got {name!r}", line=locator.top_key("name"), column=1)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise SpecError(path, f"'description' must be a string, got {description!r}",
                        line=locator.top_key("description"), column=1)

    artefacts = raw.get("artefacts", {})
    if not isinstance(artefacts, dict):
        raise SpecError(path, "'artefacts' must be a table such as [artefacts]", line=locator.top_key("artefacts"))
    for key, value in artefacts.items():
        line = locator.key_in_table("artefacts", key)
        if key not in DECLARABLE_ARTEFACTS:
            hint = (TENSORBOARD_HINT if key == "tensorboard" else
                    _suggest(key, DECLARABLE_ARTEFACTS) or f"known: {', '.join(DECLARABLE_ARTEFACTS)}")
            raise SpecError(path, f"unknown artefact {key!r} in [artefacts]", line=line, column=1, hint=hint)
        if not isinstance(value, str) or not value:
            raise SpecError(path, f"artefact {key!r} must be a relative path string, got {value!r}",
                            line=line, column=1)
        if "\x00" in value:
            raise SpecError(path, f"artefact {key!r} holds a NUL character: not a path", line=line, column=1)
        if os.path.isabs(value) or ".." in Path(value).parts:
            raise SpecError(path, f"artefact {key!r} must be a path inside the run directory, got {value!r}",
                            line=line, column=1)

    layout = _parse_layout(raw.get("layout"), path, locator)
    trials = _parse_trials(raw.get("trials"), path, locator)

    checks_raw = raw.get("check")
    if checks_raw is None or checks_raw == []:
        raise SpecError(path, "the spec has no checks: add at least one [[check]] table")
    if not isinstance(checks_raw, list) or not all(isinstance(c, dict) for c in checks_raw):
        raise SpecError(path, "'check' must be an array of tables written as [[check]]",
                        line=locator.top_key("check"), column=1)

    from .kinds import builtin_kinds

    kinds = builtin_kinds()
    checks = []
    seen_ids: dict[str, int | None] = {}
    for index, table in enumerate(checks_raw):
        checks.append(_parse_check(table, index, kinds, path, locator, seen_ids))
    baseline = raw.get("baseline", {})
    if not isinstance(baseline, dict):
        raise SpecError(path, "'baseline' must be a table such as [baseline]", line=locator.top_key("baseline"))
    for key, value in baseline.items():
        line = locator.key_in_table("baseline", key)
        if key not in BASELINE_KEYS:
            raise SpecError(path, f"unknown key {key!r} in [baseline]", line=line, column=1,
                            hint=_suggest(key, BASELINE_KEYS) or f"known keys: {', '.join(BASELINE_KEYS)}")
        if not isinstance(value, bool):
            raise SpecError(path, f"[baseline] {key} must be true or false, got {value!r}", line=line, column=1)

    from .advice import parse_rules

    advice = parse_rules(raw.get("advice"), path, locator, {c.id for c in checks})
    return Spec(path=path, sha256=sha256, name=name, artefacts=dict(artefacts), checks=tuple(checks), layout=layout,
                description=description, trials=trials, allow_first_run=baseline.get("allow_first_run", False),
                advice=advice, raw=raw)


def _parse_layout(table, path, locator) -> dict:
    """``[layout]``: where roles live in the run (``validators.artefacts.layout``).

    ``labels``, ``columns`` and ``config_keys`` are tables of names (head or key -> the
    run's column or dotted key); ``returns_index`` names the returns' index column, or
    ``"none"`` for a returns file without one.
    """
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise SpecError(path, "'layout' must be a table such as [layout]", line=locator.top_key("layout"))

    def fail(key, message, hint=None):
        raise SpecError(path, f"[layout] {message}", line=locator.key_in_table("layout", key) or
                        locator.top_key("layout"), column=1, hint=hint)

    for key, value in table.items():
        if key not in LAYOUT_KEYS:
            fail(key, f"unknown key {key!r}", _suggest(key, LAYOUT_KEYS) or f"known keys: {', '.join(LAYOUT_KEYS)}")
        if key in ROLE_TABLES:
            if not isinstance(value, dict):
                fail(key, f"{key!r} must be a table of names, e.g. {key} = {{ direction = \"...\" }}, got {value!r}")
            for sub, name in value.items():
                if not isinstance(name, str) or not name:
                    fail(key, f"{key}.{sub} must be a non-empty string, got {name!r}")
        elif not isinstance(value, str) or not value:
            fail(key, f"{key!r} must be a column name (or \"none\"), got {value!r}")
    return {k: dict(v) if isinstance(v, dict) else v for k, v in table.items()}


def _parse_trials(table, path, locator):
    """``[trials]``: build strategy returns from the predictions instead of returns.csv.

    Long when the probability is >= c, short when <= 1 - c, for each threshold c; a cost per
    unit of turnover. See ``validators.trials``.
    """
    from .stats.trials import DEFAULT_THRESHOLDS

    if table is None:
        return None
    if not isinstance(table, dict):
        raise SpecError(path, "'trials' must be a table such as [trials]", line=locator.top_key("trials"))

    def fail(key, message):
        raise SpecError(path, f"[trials] {message}", line=locator.key_in_table("trials", key), column=1)

    for key in table:
        if key not in TRIALS_KEYS:
            fail(key, f"unknown key {key!r}" + (f" ({_suggest(key, TRIALS_KEYS)})" if _suggest(key, TRIALS_KEYS)
                                                 else f"; known keys: {', '.join(TRIALS_KEYS)}"))
    out = {
        "probability_column": table.get("probability_column", "direction"),
        "return_column": table.get("return_column", "forward_return"),
        "thresholds": table.get("thresholds", list(DEFAULT_THRESHOLDS)),
        "cost": table.get("cost", 0.0),
    }
    for key in ("probability_column", "return_column"):
        if not isinstance(out[key], str) or not out[key]:
            fail(key, f"{key!r} must be a column name, got {out[key]!r}")
    thresholds = out["thresholds"]
    if not isinstance(thresholds, list) or len(thresholds) < 2 or not all(is_number(t) for t in thresholds):
        fail("thresholds", f"'thresholds' must be a list of at least 2 numbers, got {thresholds!r}")
    if any(not (is_finite_number(t) and 0.5 <= t <= 1.0) for t in thresholds):
        fail("thresholds", f"every threshold must be in [0.5, 1], got {thresholds!r}")
    if len(set(thresholds)) != len(thresholds):
        fail("thresholds", f"thresholds must be distinct, got {thresholds!r}")
    cost = out["cost"]
    if not is_finite_number(cost) or cost < 0:
        fail("cost", f"'cost' must be a finite number >= 0, got {cost!r}")
    return out


def _parse_check(table, index, kinds, path, locator, seen_ids) -> CheckSpec:
    header_line = locator.check_header(index)

    def fail(message, key=None, hint=None):
        line = locator.key_in_check(index, key) if key else header_line
        label = f"check {table.get('id')!r}" if isinstance(table.get("id"), str) else f"check #{index + 1}"
        raise SpecError(path, f"{label}: {message}", line=line, column=1 if line else None, hint=hint)

    for key in ("id", "kind", "severity"):
        if key not in table:
            fail(f"missing required key {key!r}")
    check_id = table["id"]
    if not isinstance(check_id, str) or not _ID.match(check_id):
        fail(f"'id' must be a string of letters, digits, '-', '_' or '.', got {check_id!r}", "id")
    if check_id in seen_ids:
        first = seen_ids[check_id]
        fail(f"duplicate check id {check_id!r}" + (f" (first used at line {first})" if first else ""), "id")
    seen_ids[check_id] = header_line

    kind_name = table["kind"]
    if not isinstance(kind_name, str) or kind_name not in kinds:
        fail(f"unknown check kind {kind_name!r}", "kind",
             hint=_suggest(str(kind_name), kinds) or f"known kinds: {', '.join(sorted(kinds))}")
    kind = kinds[kind_name]

    severity = table["severity"]
    if severity not in SEVERITIES:
        fail(f"'severity' must be 'must' or 'nice', got {severity!r}", "severity")
    description = table.get("description", "")
    if not isinstance(description, str):
        fail(f"'description' must be a string, got {description!r}", "description")

    allowed = set(COMMON_KEYS) | {p.name for p in kind.params}
    if kind.bounded:
        allowed |= set(BOUND_KEYS)
    for key in table:
        if key not in allowed:
            fail(f"unknown key {key!r} for kind {kind_name!r}", key, hint=_suggest(key, allowed))

    params = {}
    for param in kind.params:
        if param.name in table:
            value = table[param.name]
            if param.type in ("number", "int") and is_number(value) and not is_finite_number(value):
                fail(f"{param.name!r} must be finite, got {value!r}", param.name)
            problem = type_error(param, value)
            if problem:
                fail(f"{param.name!r} {problem}", param.name)
            params[param.name] = value
        elif param.required:
            fail(f"missing required key {param.name!r} for kind {kind_name!r} ({param.doc})")
        else:
            params[param.name] = param.default

    bound = None
    if kind.bounded:
        given = {k: table[k] for k in BOUND_KEYS if k in table}
        if not given:
            fail(f"kind {kind_name!r} needs a bound: give gt/ge and/or lt/le")
        for key, value in given.items():
            if not is_number(value):
                fail(f"bound {key!r} must be a number, got {value!r}", key)
            if not is_finite_number(value):  # nan, inf, or an int too large for a float
                fail(f"bound {key!r} must be a finite number, got {value!r}", key)
        try:
            bound = Bound.from_mapping(given)
        except ValueError as exc:
            fail(str(exc), next(iter(given)))

    validate = getattr(kind.func, "validate_params", None)
    if validate is not None:
        problem = validate(params)
        if problem:
            key, message = problem
            fail(message, key)
    return CheckSpec(id=check_id, kind=kind_name, severity=severity, params=params, bound=bound,
                     description=description, line=header_line)


def _suggest(word, candidates) -> str | None:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


class _Locator:
    """Finds the line of a table or key in the spec text, for error messages."""

    _header = re.compile(r"^\s*\[\[\s*check\s*\]\]")
    _table = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]")

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.check_lines = [i + 1 for i, line in enumerate(self.lines) if self._header.match(line)]

    def _key_line(self, key, start, stop):
        pattern = re.compile(rf"^\s*\"?{re.escape(str(key))}\"?\s*=")
        for i in range(start, min(stop, len(self.lines))):
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def _section_end(self, start):
        for i in range(start, len(self.lines)):
            if self.lines[i].lstrip().startswith("["):
                return i
        return len(self.lines)

    def top_key(self, key):
        for i, line in enumerate(self.lines):
            if re.match(rf"^\s*\[+\s*{re.escape(key)}\s*\]+", line):
                return i + 1
        return self._key_line(key, 0, self._section_end(0))

    def key_in_table(self, table, key):
        for i, line in enumerate(self.lines):
            m = self._table.match(line)
            if m and m.group(1) == table:
                return self._key_line(key, i + 1, self._section_end(i + 1))
        return None

    def table_header(self, name, index):
        pattern = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
        lines = [i + 1 for i, line in enumerate(self.lines) if pattern.match(line)]
        return lines[index] if index < len(lines) else None

    def check_header(self, index):
        return self.check_lines[index] if index < len(self.check_lines) else None

    def key_in_check(self, index, key):
        start = self.check_header(index)
        if start is None:
            return None
        return self._key_line(key, start, self._section_end(start)) or start
