"""A run's layout: where each artefact is, and which column or key plays which role.

A spec states what to judge (the plan); the layout says where each thing is in one run. It is
found by conventions, each choice said out loud, and can be declared: in the spec
(``[artefacts]`` paths or globs, ``[layout]`` roles) and per run on the command line
(``--artefact NAME=PATH``, ``--layout KEY=VALUE``), the command line winning. When two
candidates fit one role equally well it is an error naming both and the key or flag that
settles it: a guess would be a silent bug.

Artefacts are looked for in the order of :data:`CONVENTIONS`; the first name (or glob) that
matches is read, and the other candidates present are listed as not read. A glob that
matches several paths is ambiguous. Columns: the predictions column of head ``H`` is ``H``
itself, else one of :data:`PREDICTION_PATTERNS`; its label one of :data:`LABEL_PATTERNS`
(case-insensitive). Config keys: the dotted key itself, else the one path in the config that
ends with it (``training.loss_weights`` for ``loss_weights``).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ArtefactError

# Candidates of each artefact, tried in order. A name with "*" is a glob, relative to the run.
CONVENTIONS = {
    "predictions": ("predictions.csv", "predictions.parquet", "val_predictions.csv", "val_predictions.parquet",
                    "validation_predictions.csv", "validation_predictions.parquet", "preds.csv", "preds.parquet"),
    "history": ("history.csv", "training.log", "training_log.csv", "history.json", "training_history.json",
                "logs", "logs/*", "logs/*/*", "tensorboard", "tensorboard/*"),
    "config": ("config.json", "config.toml", "config.yaml", "config.yml", "run_config.yaml", "run_config.yml",
               "run_config.json", "run_config.toml", "training_config.yaml", "training_config.json",
               "params.yaml", "hparams.yaml", "hparams.json"),
    "returns": ("returns.csv", "returns.parquet"),
    "model": ("model.keras", "best_model.keras", "*.keras", "model.h5", "best_model.h5", "*.h5"),
    "tensorboard": ("logs", "logs/*", "logs/*/*", "tensorboard", "tensorboard/*"),
}
ARTEFACTS = tuple(CONVENTIONS)
# What a spec or --artefact may name: the artefacts a check reads. TensorBoard logs are read as the
# history; "tensorboard" is only a name `inspect` reports under.
DECLARABLE_ARTEFACTS = ("predictions", "history", "config", "returns", "model")
TENSORBOARD_HINT = "TensorBoard logs are read as the run's history: declare them as history = \"logs/fit/*\""
PREDICTION_PATTERNS = ("{h}", "{h}_pred", "pred_{h}", "y_pred_{h}", "{h}_prediction", "predicted_{h}")
LABEL_PATTERNS = ("y_{h}", "{h}_true", "true_{h}", "{h}_label", "label_{h}", "{h}_target", "target_{h}",
                  "y_true_{h}")
ROLE_TABLES = ("labels", "columns", "config_keys")  # [layout] tables: head or key -> name in the run
ROLE_VALUES = ("returns_index",)  # [layout] plain values
LAYOUT_KEYS = ROLE_TABLES + ROLE_VALUES
_LOG_DIRS = {"history", "tensorboard"}


@dataclass(frozen=True)
class Choice:
    """Where one artefact was found, and why there."""

    artefact: str
    path: Path
    how: str  # "--artefact", "[artefacts] in the spec" or "convention"
    pattern: str  # the name or glob that matched
    not_read: tuple[str, ...] = ()  # other candidates present in the run, not read

    def describe(self, root) -> str:
        where = _relative(self.path, root)
        text = f"{self.artefact}: {where} ({self.how}" + (f" {self.pattern!r})" if self.how == "convention" else ")")
        if self.not_read:
            text += "; also present, not judged: " + ", ".join(self.not_read)
        return text


@dataclass(frozen=True)
class Binding:
    """The name a role is bound to in the run (a column, a config key), and why that one."""

    role: str  # e.g. "label of 'direction'"
    name: str
    how: str  # "declared", "as named", "convention 'H_true'"

    def note(self) -> str:
        return f"{self.role} is {self.name!r} ({self.how})"


@dataclass
class Layout:
    """The layout of one run directory: declared paths and roles, conventions for the rest."""

    root: Path
    paths: dict = field(default_factory=dict)  # artefact -> declared path or glob
    declared_by: dict = field(default_factory=dict)  # artefact -> "--artefact" / "[artefacts] in the spec"
    roles: dict = field(default_factory=dict)  # labels/columns/config_keys tables, returns_index
    roles_by: dict = field(default_factory=dict)  # "labels.direction" -> who declared it
    written_since: int | None = None  # st_mtime_ns: older artefacts are not this run's (the Keras callback)
    _found: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, root, spec_artefacts=None, spec_layout=None, artefacts=None, layout=None,
           written_since=None) -> Layout:
        """The layout from the spec's tables, overridden by command-line ``--artefact``/``--layout``.

        ``written_since`` (nanoseconds since the epoch, as ``st_mtime_ns``): an artefact last
        written before it is refused, so a file an earlier training left is never judged.
        """
        paths, by = {}, {}
        for source, table in (("[artefacts] in the spec", spec_artefacts), ("--artefact", artefacts)):
            for name, value in (table or {}).items():
                paths[name], by[name] = value, source
        roles: dict = {name: {} for name in ROLE_TABLES}
        roles_by = {}
        for source, table in (("[layout] in the spec", spec_layout), ("--layout", layout)):
            for key, value in (table or {}).items():
                if key in ROLE_TABLES:
                    for sub, name in value.items():
                        roles[key][sub] = name
                        roles_by[f"{key}.{sub}"] = source
                else:
                    roles[key] = value
                    roles_by[key] = source
        return cls(Path(root), paths, by, roles, roles_by, written_since)

    # -- artefacts ------------------------------------------------------------------------
    def find(self, artefact: str) -> Choice:
        """Where ``artefact`` is; ``ArtefactError`` naming what was looked for, or both candidates."""
        if artefact not in self._found:
            try:
                choice = self._find(artefact)
                self._contained(choice.path)
                self._fresh(choice.path)
                self._found[artefact] = (True, choice)
            except ArtefactError as exc:
                self._found[artefact] = (False, exc)
            except OSError as exc:  # a declared name too long for the file system, a folder we may not list
                where = self.root / self.paths[artefact] if artefact in self.paths else self.root
                self._found[artefact] = (False, ArtefactError(
                    where, f"cannot be examined: {exc.strerror or exc}",
                    hint=f"check the {artefact} path declared in [artefacts] or --artefact"
                    if artefact in self.paths else None))
        ok, value = self._found[artefact]
        if not ok:
            raise value
        return value

    def _contained(self, path: Path) -> None:
        """Refuse an artefact whose real path (or, for a folder, any file in it) lies outside the run.

        Links inside the run stay allowed; a link out of it is named, its target never read or quoted.
        """
        root = os.path.realpath(self.root)
        candidates = [path]
        if path.is_dir():
            candidates += [p for p in _walk(path)]
        for candidate in candidates:
            real = os.path.realpath(candidate)
            if not os.path.exists(real):
                continue  # a link leading nowhere: its reader says so
            if os.path.commonpath([root, real]) != root:
                link = _first_link_out(self.root, candidate)
                raise ArtefactError(link, "leads outside the run directory: refused, its target is not read",
                                    hint="artefacts must lie inside the run directory; copy the file into it")

    def _fresh(self, path: Path) -> None:
        """Refuse an artefact (a folder: all of its files) written before ``written_since``."""
        if self.written_since is None or not os.path.exists(path):
            return
        files = list(_walk(path)) if path.is_dir() else [path]
        newest = max((os.stat(f).st_mtime_ns for f in files if os.path.isfile(f)), default=None)
        if newest is not None and newest < self.written_since:
            import datetime

            when = datetime.datetime.fromtimestamp(newest / 1e9, datetime.timezone.utc).isoformat(timespec="seconds")
            raise ArtefactError(path, f"was last written at {when}, before this training started: "
                                      "not judged as this run's",
                                hint="an earlier run left it here; write it during this training "
                                     "(or delete it), or give the callback another out_dir")

    def chosen(self) -> dict[str, Choice]:
        """Every artefact found so far, by name."""
        return {name: value for name, (ok, value) in self._found.items() if ok}

    def _find(self, artefact: str) -> Choice:
        if artefact in self.paths:
            pattern = self.paths[artefact]
            how = self.declared_by[artefact]
            if not _has_magic(pattern):
                return Choice(artefact, self.root / pattern, how, pattern)
            matches = self._matches(pattern, artefact, strict=False)
            if len(matches) != 1:
                shown = ", ".join(_relative(m, self.root) for m in matches) or "nothing"
                raise ArtefactError(self.root / pattern, f"{how}: {artefact} = {pattern!r} must match exactly one "
                                                         f"path in the run, it matches {shown}")
            return Choice(artefact, matches[0], how, pattern)
        if not self.root.is_dir():
            raise ArtefactError(self.root, "run directory not found" if not self.root.exists()
                                else "is not a directory: expected a run directory")
        names = CONVENTIONS[artefact]
        chosen = fallback = None
        present = []
        for pattern in names:
            for path in self._matches(pattern, artefact, strict=True):
                present.append((pattern, path))
            if chosen is None:
                matches = [p for q, p in present if q == pattern]
                if len(matches) > 1:
                    shown = " and ".join(repr(_relative(m, self.root)) for m in matches[:4])
                    raise ArtefactError(
                        self.root, f"two candidates for the {artefact}: {shown} (both match {pattern!r})",
                        hint=f"say which: --artefact {artefact}=PATH on the command line, or "
                             f"[artefacts] {artefact} = \"PATH\" in the spec")
                if matches:
                    chosen = (pattern, matches[0])
            if fallback is None:
                fallback = self._weak_match(pattern, artefact)
        if chosen is None and fallback is not None:
            chosen = fallback  # a log folder without train/: its reader says what is wrong with it
        if chosen is None:
            self._refuse_broken_link(names)
            looked = ", ".join(names)
            raise ArtefactError(self.root / names[0], f"no {artefact} artefact: looked for {looked} in {self.root}",
                                hint=f"name it: --artefact {artefact}=PATH, or [artefacts] {artefact} = \"PATH\" "
                                     "in the spec")
        pattern, path = chosen
        others = tuple(dict.fromkeys(_relative(p, self.root) for q, p in present if p != path))
        return Choice(artefact, path, "convention", pattern, others)

    def _matches(self, pattern: str, artefact: str, *, strict: bool) -> list[Path]:
        """Paths in the run matching ``pattern`` (a name or a glob), sorted."""
        if not _has_magic(pattern):
            path = self.root / pattern
            if strict and not path.exists():
                if path.is_symlink():
                    self._refuse_link(path)
                return []
            if strict and artefact in _LOG_DIRS and path.is_dir() and not (path / "train").is_dir():
                return []  # a folder of log folders, not a log folder itself
            return [path]
        found = sorted(Path(p) for p in glob.glob(os.path.join(glob.escape(os.fspath(self.root)), pattern)))
        if artefact in _LOG_DIRS:
            found = [p for p in found if p.is_dir() and (p / "train").is_dir()]
        else:
            found = [p for p in found if p.is_file()]
        return found

    def _weak_match(self, pattern, artefact):
        if artefact in _LOG_DIRS and not _has_magic(pattern) and (self.root / pattern).is_dir():
            return pattern, self.root / pattern
        return None

    def _refuse_broken_link(self, names):
        for name in names:
            if not _has_magic(name) and (self.root / name).is_symlink() and not (self.root / name).exists():
                self._refuse_link(self.root / name)

    @staticmethod
    def _refuse_link(path):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        raise ArtefactError(path, f"is a symbolic link to {target!r}, which cannot be followed "
                                  "(its target is missing, or the links form a loop)")

    # -- roles ----------------------------------------------------------------------------
    def prediction_column(self, header, head: str, path) -> Binding:
        """The predictions column holding head ``head``."""
        declared = self.roles["columns"].get(head)
        if declared is not None:
            return self._declared(header, declared, f"predictions column of {head!r}", f"columns.{head}", path)
        if head in header:
            return Binding(f"predictions column of {head!r}", head, "as named")
        same = [c for c in header if _nfc(c) == _nfc(head)]  # 'volatilité' typed one way, written another
        if len(same) == 1:
            return Binding(f"predictions column of {head!r}", same[0], "as named (Unicode NFC)")
        return self._by_patterns(header, head, PREDICTION_PATTERNS, "predictions column", "columns", path)

    def label_column(self, header, head: str, path) -> Binding:
        """The 0/1 (or target) label column of head ``head``."""
        declared = self.roles["labels"].get(head)
        if declared is not None:
            return self._declared(header, declared, f"label of {head!r}", f"labels.{head}", path)
        return self._by_patterns(header, head, LABEL_PATTERNS, "label", "labels", path)

    def _declared(self, header, name, role, key, path) -> Binding:
        if name not in header:
            same = [c for c in header if _nfc(c) == _nfc(name)]
            if len(same) == 1:
                name = same[0]
        if name not in header:
            raise ArtefactError(path, f"{role} is declared as {name!r} ({self.roles_by.get(key)} {key}), but the "
                                      "file has no such column; found " + ", ".join(repr(c) for c in header), line=1)
        return Binding(role, name, f"declared by {self.roles_by.get(key)} {key}")

    def _by_patterns(self, header, head, patterns, role, table, path) -> Binding:
        lowered: dict[str, list[str]] = {}
        for column in header:
            lowered.setdefault(_nfc(column).casefold(), []).append(column)
        found = []
        for pattern in patterns:
            for column in lowered.get(_nfc(pattern.format(h=head)).casefold(), []):
                found.append((pattern, column))
        columns = list(dict.fromkeys(c for _, c in found))
        settle = f"declare it: [layout] {table}.{head} = \"...\" in the spec, or --layout {table}.{head}=COLUMN"
        if len(columns) > 1:
            raise ArtefactError(path, f"two candidates for the {role} of {head!r}: "
                                + " and ".join(repr(c) for c in columns), line=1, hint=settle)
        if not columns:
            looked = ", ".join(repr(p.format(h=head)) for p in patterns if p != "{h}")
            found_text = ", ".join(repr(c) for c in header)
            if "{h}" in patterns:
                message = f"missing column {head!r}; found {found_text}; also looked for {looked} (any case)"
            else:
                message = f"no {role} column for {head!r}: looked for {looked} (any case); found {found_text}"
            raise ArtefactError(path, message, line=1, hint=settle)
        pattern, column = found[0]
        return Binding(f"{role} of {head!r}", column, f"convention {pattern.format(h='H')!r}")

    def config_key(self, config: dict, key: str, path):
        """``(value, Binding)`` of dotted ``key`` in ``config``: as written, declared, or the one path ending so."""
        from .config_file import MISSING, lookup

        declared = self.roles["config_keys"].get(key)
        if declared is not None:
            value = lookup(config, declared)
            if value is MISSING:
                raise ArtefactError(path, f"config key {key!r} is declared as {declared!r} "
                                          f"({self.roles_by.get('config_keys.' + key)}), which the config does not have")
            return value, Binding(f"config key {key!r}", declared,
                                  f"declared by {self.roles_by.get('config_keys.' + key)} config_keys")
        value = lookup(config, key)
        if value is not MISSING:
            return value, Binding(f"config key {key!r}", key, "as named")
        wanted = tuple(key.split("."))  # _dotted_paths yields tuples: a list never equals one
        ends = [p for p in _dotted_paths(config) if p[-len(wanted):] == wanted and len(p) > len(wanted)]
        settle = (f"declare it: [layout] config_keys = {{ \"{key}\" = \"...\" }} in the spec, or "
                  f"--layout config_keys.{key}=DOTTED.KEY")
        if len(ends) > 1:
            shown = " and ".join(repr(".".join(p)) for p in ends[:4])
            raise ArtefactError(path, f"two keys in the config end with {key!r}: {shown}", hint=settle)
        if not ends:
            top = ", ".join(repr(k) for k in list(config)[:20])
            raise ArtefactError(path, f"no key {key!r} in the config; top-level keys: {top}; no nested key ends "
                                      f"with {key!r} either",
                                hint=settle)
        found = ".".join(ends[0])
        return lookup(config, found), Binding(f"config key {key!r}", found, f"the one key ending with {key!r}")

    @property
    def returns_index(self):
        return self.roles.get("returns_index")


def _dotted_paths(node, prefix=(), depth=0):
    """Every path of keys in a nested mapping (lists are leaves), up to a sane depth."""
    if not isinstance(node, dict) or depth > 32:
        return
    for key, value in node.items():
        path = (*prefix, str(key))
        yield path
        yield from _dotted_paths(value, path, depth + 1)


def _walk(folder: Path, limit: int = 10_000):
    """The entries under ``folder``, links not followed, at most ``limit`` of them."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            count += 1
            if count > limit:
                return
            yield Path(dirpath) / name


def _first_link_out(root: Path, path: Path) -> Path:
    """The first component of ``path`` (from the run directory down) that is a link out of the run."""
    real_root = os.path.realpath(root)
    try:
        parts = Path(path).relative_to(root).parts
    except ValueError:
        return Path(path)
    current = Path(root)
    for part in parts:
        current = current / part
        if current.is_symlink() and os.path.commonpath([real_root, os.path.realpath(current)]) != real_root:
            return current
    return Path(path)


def _nfc(text: str) -> str:
    """Names compared as Unicode NFC: 'é' as one code point or as 'e' and a combining accent."""
    import unicodedata

    return unicodedata.normalize("NFC", text)


def _has_magic(pattern: str) -> bool:
    return glob.has_magic(pattern)


def _relative(path, root) -> str:
    try:
        return os.fspath(Path(path).relative_to(root))
    except ValueError:
        return os.fspath(path)


def parse_assignments(items, flag: str, known: tuple[str, ...]) -> dict:
    """``["history=logs/fit/x", ...]`` from ``--artefact``/``--layout`` as a mapping; ``ValueError`` if malformed.

    ``--layout`` keys of a role table are dotted (``labels.direction=direction_true``) and come
    back nested (``{"labels": {"direction": "direction_true"}}``).
    """
    out: dict = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ValueError(f"{flag} {item!r}: expected NAME=VALUE")
        table, dot, sub = name.partition(".")
        if flag == "--layout" and table in ROLE_TABLES:
            if not dot or not sub:
                raise ValueError(f"{flag} {item!r}: {table} needs a head or key, e.g. {table}.direction=COLUMN")
            out.setdefault(table, {})[sub] = value
            continue
        if name not in known:
            import difflib

            if flag == "--layout" and dot:  # a misspelt table: suggest the table with the same head or key
                close = [f"{t}.{sub}" for t in difflib.get_close_matches(table, ROLE_TABLES, n=1)]
            else:
                close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(known)}"
            raise ValueError(f"{flag} {item!r}: unknown name {name!r}{hint}")
        if "\x00" in value or "\x00" in name:
            raise ValueError(f"{flag} {item!r}: holds a NUL character")
        if flag == "--artefact" and (os.path.isabs(value) or ".." in Path(value).parts):
            raise ValueError(f"{flag} {item!r}: the path must lie inside the run directory")
        out[name] = value
    return out
