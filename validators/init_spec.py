"""``runverdict init``: a spec whose layout fits a run, with a plan's criteria kept verbatim.

The plan (``--from``, by default the shipped ``checks/run3.toml``) says what to judge; init keeps
its text (checks, advice, baseline, trials and every comment, never re-serialised) and changes
only where things are. ``[artefacts]`` and ``[layout]`` hold what must be declared: the
``--artefact``/``--layout`` given to init over the plan's own declarations. What the conventions
find is left to them, said in a comment block at the top, so the spec fits any run laid out alike.

Before anything is written, the spec is parsed (``parse_spec``: it must validate and keep the
plan's criteria exactly) and each of its checks is bound to the run by the code the gate runs
(:func:`validators.inspect_run.bind_check`). A check that cannot be bound (two candidates for
one role, an artefact, column, label or key the check needs that is missing) refuses the write:
exit 2, each message naming the flag that settles it. The file is written atomically.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import GateError, UsageError
from .inspect_run import bind_check, printable, require_run_dir

_HEADER = re.compile(r"""^\s*\[\[?\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))""")
_PREAMBLE_KEY = re.compile(r"""^\s*(?:"(artefacts|layout)"|'(artefacts|layout)'|(artefacts|layout))\s*[.=]""")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_DECLARED = ("artefacts", "layout")
_BY_INIT = {"artefacts": "--artefact given to runverdict init", "layout": "--layout given to runverdict init"}


class InitRefused(GateError):
    """The run cannot be bound by the spec: nothing was written (exit 2)."""


@dataclass(frozen=True)
class Written:
    """What ``init`` wrote: where, from what, and the layout it relied on."""

    path: str
    plan: str
    run_dir: str
    n_checks: int
    relied_on: tuple[str, ...]  # conventions and declarations the run was bound by
    declared: tuple[str, ...]  # "artefacts.returns", "layout.labels.direction", ...

    def summary(self) -> list[str]:
        lines = [(f"runverdict init: wrote {self.path}: the {self.n_checks} checks of {self.plan}, every one "
                  f"bound to {self.run_dir}")]
        lines += [f"  {line}" for line in self.relied_on]
        lines.append("declared: " + (", ".join(self.declared) or "nothing (conventions find everything)"))
        lines.append(f"see it: runverdict inspect {self.run_dir} --spec {self.path}")
        return lines


def default_plan() -> Path:
    """The shipped plan, ``checks/run3.toml`` beside the package."""
    import validators

    return Path(validators.__file__).resolve().parents[1] / "checks" / "run3.toml"


def init_spec(run_dir, out, plan=None, *, artefacts=None, layout=None, force=False) -> Written:
    """Write ``out``: ``plan``'s criteria with a layout that fits ``run_dir`` (see the module docstring)."""
    from .gate import open_run
    from .reports.atomic import write_atomic
    from .spec import load_spec

    plan_path = Path(plan) if plan is not None else default_plan()
    if plan is None and not plan_path.is_file():
        raise UsageError(f"runverdict: the shipped plan {os.fspath(plan_path)!r} is not there; pass the plan "
                         "to start from with --from PLAN_SPEC")
    plan_spec = load_spec(plan_path)
    if os.path.lexists(out) and not force:
        raise UsageError(f"runverdict: {os.fspath(out)!r} exists; pass --force to overwrite it")
    require_run_dir(run_dir)
    declared_artefacts, declared_layout, sources = _merged(plan_spec, artefacts or {}, layout or {}, plan_path)
    body = _without_declarations(plan_path.read_text(encoding="utf-8-sig"), plan_path)
    tables = _declared_tables(declared_artefacts, declared_layout, sources)
    spec = _parse_keeping_criteria(_assemble([], body, tables), out, plan_spec, declared_artefacts, declared_layout)
    run = open_run(spec, run_dir)
    refused = [b for b in (bind_check(run, check) for check in spec.checks) if b.error is not None]
    if refused:
        raise InitRefused(_refusal(refused, plan_path, run_dir, out))
    relied = _relied_on(run)
    text = _assemble(_header(run_dir, plan_path, out, relied, sorted(sources)), body, tables)
    _parse_keeping_criteria(text, out, plan_spec, declared_artefacts, declared_layout)
    try:
        write_atomic(out, text)
    except OSError as exc:
        raise InitRefused(f"cannot write {os.fspath(out)!r}: {exc.strerror or exc}; the previous file, if any, "
                          "is unchanged") from None
    return Written(os.fspath(out), os.fspath(plan_path), os.fspath(run_dir), len(spec.checks), tuple(relied),
                   tuple(sorted(sources)))


# ---- what is declared --------------------------------------------------------------------

def _merged(plan_spec, artefacts, layout, plan_path):
    """``(artefacts, layout, sources)``: the plan's declarations under init's flags; ``sources``
    says who declared each dotted name (``artefacts.returns``, ``layout.labels.direction``)."""
    by_plan = f"declared by {os.fspath(plan_path)}"
    merged_artefacts, sources = {}, {}
    for who, table in ((by_plan, plan_spec.artefacts), (_BY_INIT["artefacts"], artefacts)):
        for name, path in table.items():
            merged_artefacts[name] = path
            sources[f"artefacts.{name}"] = who
    merged_layout: dict = {}
    for who, table in ((by_plan, plan_spec.layout), (_BY_INIT["layout"], layout)):
        for key, value in table.items():
            if isinstance(value, dict):
                for sub, name in value.items():
                    merged_layout.setdefault(key, {})[sub] = name
                    sources[f"layout.{key}.{sub}"] = who
            else:
                merged_layout[key] = value
                sources[f"layout.{key}"] = who
    return merged_artefacts, merged_layout, sources


def _toml_string(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c.isprintable() and c != "\x7f":
            out.append(c)
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _declared_tables(artefacts: dict, layout: dict, sources: dict) -> list[str]:
    """The ``[artefacts]`` and ``[layout]`` tables (each value with who declared it), or nothing."""
    if not artefacts and not layout:
        return []
    lines = ["# ---- Declared: what the conventions do not find (runverdict init) ----"]
    if artefacts:
        lines.append("[artefacts]")
        lines += [f"{_toml_key(k)} = {_toml_string(v)}  # {printable(sources[f'artefacts.{k}'])}"
                  for k, v in artefacts.items()]
    plain = {k: v for k, v in layout.items() if not isinstance(v, dict)}
    if layout:
        lines += ["", "[layout]"]
        lines += [f"{_toml_key(k)} = {_toml_string(v)}  # {printable(sources[f'layout.{k}'])}"
                  for k, v in plain.items()]
    for key, table in layout.items():
        if isinstance(table, dict) and table:
            lines += ["", f"[layout.{_toml_key(key)}]"]
            lines += [f"{_toml_key(k)} = {_toml_string(v)}  # {printable(sources[f'layout.{key}.{k}'])}"
                      for k, v in table.items()]
    return lines + [""]


# ---- the plan's text, its declarations taken out -------------------------------------------

def _outside_strings(lines: list[str]) -> list[bool]:
    """For each line, whether it starts outside a multi-line string (where a table header can be)."""
    starts, inside = [], None  # inside: the delimiter of the open multi-line string
    for line in lines:
        starts.append(inside is None)
        j = 0
        while j < len(line):
            c = line[j]
            if inside is not None:
                if c == "\\" and inside == '"""':
                    j += 2
                    continue
                run = len(line[j:]) - len(line[j:].lstrip(inside[0])) if c == inside[0] else 0
                if run >= 3:
                    inside = None
                j += max(run, 1)
            elif c == "#":
                break
            elif line.startswith(('"""', "'''"), j):
                inside, j = line[j:j + 3], j + 3
            elif c in "\"'":
                j += 1
                while j < len(line) and line[j] != c:
                    j += 2 if c == '"' and line[j] == "\\" else 1
                j += 1
            else:
                j += 1
    return starts


def _table_of(line: str) -> str | None:
    match = _HEADER.match(line)
    return next(g for g in match.groups() if g is not None) if match else None


def _without_declarations(text: str, plan_path) -> list[str]:
    """The plan's lines without its ``[artefacts]``/``[layout]`` tables and top-level keys (merged into
    the declared tables); the comments just above the next table stay with it."""
    lines = text.splitlines()
    starts = _outside_strings(lines)
    headers = [i for i, line in enumerate(lines) if starts[i] and _table_of(line) is not None]
    drop = set()
    first = headers[0] if headers else len(lines)
    drop.update(i for i in range(first) if starts[i] and _PREAMBLE_KEY.match(lines[i]))
    for n, i in enumerate(headers):
        if _table_of(lines[i]) not in _DECLARED:
            continue
        end = headers[n + 1] if n + 1 < len(headers) else len(lines)
        while end - 1 > i and (lines[end - 1].lstrip().startswith("#") or not lines[end - 1].strip()):
            end -= 1
        drop.update(range(i, end))
    note = printable(f"# ({os.fspath(plan_path)} declared [artefacts]/[layout] here: merged into the tables "
                     "declared by runverdict init)")
    kept = []
    for i, line in enumerate(lines):
        if i in drop:
            if note is not None:
                kept.append(note)
                note = None
        elif not (i - 1 in drop and not line.strip() and kept and not kept[-1].strip()):
            kept.append(line)
    return kept


def _assemble(header: list[str], body: list[str], tables: list[str]) -> str:
    """``header``, then the plan's top-level keys, the declared tables, and the rest of the plan."""
    starts = _outside_strings(body)
    at = next((i for i, line in enumerate(body) if starts[i] and _table_of(line) is not None), len(body))
    while at > 0 and body[at - 1].lstrip().startswith("#"):
        at -= 1
    lines = header + body[:at] + tables + body[at:]
    return "\n".join(lines) + "\n"


def _parse_keeping_criteria(text, out, plan_spec, artefacts, layout):
    """The spec ``text`` holds, which must keep every criterion of the plan and declare exactly ``artefacts``
    and ``layout``; else ``UsageError`` (a declaration written in a form init cannot take out)."""
    from .spec import parse_spec

    spec = parse_spec(text, f"{os.fspath(out)} (as runverdict init would write it)")

    def criteria(raw):
        return repr({k: v for k, v in raw.items() if k not in _DECLARED})

    if criteria(spec.raw) != criteria(plan_spec.raw) or spec.artefacts != artefacts or spec.layout != layout:
        raise UsageError(f"runverdict: cannot take the [artefacts]/[layout] declarations out of "
                         f"{plan_spec.path!r} and keep the rest verbatim; remove them from the plan and give "
                         "them to init as --artefact NAME=PATH / --layout KEY=VALUE")
    return spec


# ---- what the run was bound by ----------------------------------------------------------------

def _relied_on(run) -> list[str]:
    """Each artefact chosen and why, each role bound by convention or declaration, the returns' index."""
    from .artefacts.layout import ARTEFACTS

    lines = []
    for choice in sorted(run.choices().values(), key=lambda c: ARTEFACTS.index(c.artefact)):
        where = os.path.relpath(choice.path, run.root)
        how = f"convention {choice.pattern!r}" if choice.how == "convention" else "declared in [artefacts] below"
        lines.append(f"{choice.artefact}: {where} ({how})"
                     + ("; also present, not judged: " + ", ".join(choice.not_read) if choice.not_read else ""))
    lines += [binding.note() for binding in dict.fromkeys(run.bindings)]
    if "returns" in run.choices() or run.trials is not None:
        note = run.returns().index_note  # read while binding: cached
        if note:
            lines.append(f"returns index: {note}")
    return lines


def _header(run_dir, plan_path, out, relied, declared) -> list[str]:
    lines = [
        f"# Written by runverdict init from {os.fspath(run_dir)}.",
        f"# The criteria (checks, advice, baseline, trials) and their comments are those of {os.fspath(plan_path)},",
        "# verbatim below. Where things are in a run is left to the conventions, so that this spec fits",
        "# any run laid out alike; only what no convention finds is declared ([artefacts], [layout]).",
        "# Declared: " + (", ".join(declared) or "nothing, the conventions find everything the checks read") + ".",
        f"# What {os.fspath(run_dir)} was bound by:",
        *[f"#   {line}" for line in relied],
        f"# See how each check binds: runverdict inspect {os.fspath(run_dir)} --spec {os.fspath(out)}",
        "",
    ]
    return [printable(line) for line in lines]


def _refusal(refused, plan_path, run_dir, out) -> str:
    by_error: dict[str, list[str]] = {}
    for binding in refused:
        by_error.setdefault(binding.error, []).append(binding.id)
    lines = [(f"init refuses: {len(refused)} check{'s' if len(refused) != 1 else ''} of {os.fspath(plan_path)} "
              f"cannot be bound to {os.fspath(run_dir)}; nothing written to {os.fspath(out)}:")]
    lines += [f"  {', '.join(ids)}: {error}" for error, ids in by_error.items()]
    if any("--artefact" in e or "--layout" in e for e in by_error):
        lines.append("settle each with the flag its message names (--artefact NAME=PATH, --layout KEY=VALUE) and "
                     "run init again")
    return "\n".join(printable(line) for line in lines)
