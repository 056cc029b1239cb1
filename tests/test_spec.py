"""validators.spec: the whole spec is validated before any artefact is read (BAD_INPUTS 21-27)."""

from __future__ import annotations

import hashlib
import textwrap

import pytest
from factory import SPEC

from validators.bounds import Bound
from validators.errors import SpecError
from validators.kinds import builtin_kinds
from validators.spec import load_spec, parse_spec

KINDS = builtin_kinds()

RANGE = """\
[[check]]
id = "volatility-range"
kind = "range"
severity = "must"
column = "volatility"
"""


def spec_error(text, path="gate.toml") -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(textwrap.dedent(text), path)
    message = str(info.value)
    assert "\n" not in message  # one line
    return info.value


# -- the bundled spec -------------------------------------------------------------------------

def test_run3_spec_validates():
    spec = load_spec(SPEC)
    assert spec.sha256 == hashlib.sha256(SPEC.read_bytes()).hexdigest()
    ids = [c.id for c in spec.checks]
    assert len(ids) == len(set(ids))
    assert {"volatility-not-saturated", "volatility-range", "magnitude-range", "volatility-loss",
            "magnitude-loss", "direction-auc", "loss-weights"} <= set(ids)
    by_id = {c.id: c for c in spec.checks}
    assert by_id["volatility-range"].bound == Bound(ge=0.0, le=0.15)
    assert by_id["magnitude-range"].bound == Bound(ge=0.0, le=0.5)
    assert by_id["volatility-loss"].bound == Bound(lt=0.01)
    assert by_id["magnitude-loss"].bound == Bound(lt=0.05)
    assert by_id["direction-auc"].bound == Bound(ge=0.65)
    assert by_id["direction-auc-improved"].severity == "nice"
    assert by_id["loss-weights"].params["equals"] == {"direction": 1.0, "volatility": 0.3, "magnitude": 0.3}
    assert all(c.description for c in spec.checks)  # each quotes its plan line
    assert all(c.line for c in spec.checks)


def test_minimal_spec_defaults():
    spec = parse_spec(RANGE + "ge = 0.0\nle = 0.15\n", "dir/gate.toml")
    assert spec.name == "gate" and spec.artefacts == {}
    (check,) = spec.checks
    assert check.params == {"column": "volatility", "element": None, "max_outside_share": 0.0,
                            "allow_nonfinite_share": 0.0}
    assert check.bound == Bound(ge=0.0, le=0.15) and check.line == 1


# -- BAD_INPUTS 21: TOML syntax -----------------------------------------------------------------

@pytest.mark.parametrize("text, line, column", [
    (RANGE + "ge = \n", 6, 6),
    (RANGE + "le = 0.1.5\n", 6, 9),
    ("[[check]\nid = 'x'\n", 1, 8),
    (RANGE + 'description = "unterminated\n', 6, 28),
])
def test_toml_syntax_error_names_file_line_col(text, line, column):
    exc = spec_error(text)
    assert (exc.line, exc.column) == (line, column)
    assert str(exc).startswith(f"gate.toml:{line}:{column}: TOML syntax error")


def test_load_spec_file_errors(tmp_path):
    with pytest.raises(SpecError, match="nope.toml: spec file not found"):
        load_spec(tmp_path / "nope.toml")
    with pytest.raises(SpecError, match="is a directory"):
        load_spec(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"name = '\xff'\n")
    with pytest.raises(SpecError, match=r"bad.toml: not UTF-8 text \(byte offset 8\)"):
        load_spec(bad)
    good = tmp_path / "good.toml"
    good.write_text(RANGE + "le = 1\n")
    assert load_spec(good).path == str(good)


# -- BAD_INPUTS 22: unknown kind or key, with the close match ---------------------------------

@pytest.mark.parametrize("text, line, fragments", [
    (RANGE.replace('"range"', '"rnage"') + "ge = 0\n", 3,
     ["unknown check kind 'rnage'", "did you mean 'range'?"]),
    (RANGE.replace('"range"', '"saturaton"') + "level = 0.9\nle = 0\n", 3,
     ["unknown check kind 'saturaton'", "did you mean 'saturation'?"]),
    (RANGE.replace('"range"', '"zzz"') + "ge = 0\n", 3, ["unknown check kind 'zzz'", "known kinds: "]),
    (RANGE + "colum = 'x'\nge = 0\n", 6, ["unknown key 'colum' for kind 'range'", "did you mean 'column'?"]),
    (RANGE + "lte = 0.1\n", 6, ["unknown key 'lte'", "did you mean 'lt'?"]),
    (RANGE + "max_outside_shar = 0.1\nle = 1\n", 6, ["did you mean 'max_outside_share'?"]),
    ("nmae = 'x'\n" + RANGE + "le = 1\n", 1, ["unknown top-level key 'nmae'", "did you mean 'name'?"]),
    ("[artefacts]\npredictons = 'p.csv'\n" + RANGE + "le = 1\n", 2,
     ["unknown artefact 'predictons'", "did you mean 'predictions'?"]),
])
def test_unknown_kind_or_key_suggests_close_match(text, line, fragments):
    exc = spec_error(text)
    assert exc.line == line
    assert str(exc).startswith(f"gate.toml:{line}:")
    for fragment in fragments:
        assert fragment in str(exc)


def test_kind_list_shows_all_kinds_when_nothing_is_close():
    exc = spec_error(RANGE.replace('"range"', '"zzz"') + "ge = 0\n")
    for name in KINDS:
        assert name in str(exc)


# -- BAD_INPUTS 23: wrong type ------------------------------------------------------------------

@pytest.mark.parametrize("text, key, fragment", [
    (RANGE.replace('"volatility"', "3") + "ge = 0\n", "column", "'column' must be a non-empty string, got 3"),
    (RANGE.replace('"volatility"', '""') + "ge = 0\n", "column", "'column' must be a non-empty string"),
    (RANGE + "ge = '0'\n", "ge", "bound 'ge' must be a number, got '0'"),
    (RANGE + "ge = true\n", "ge", "bound 'ge' must be a number, got True"),
    (RANGE + "le = [1]\n", "le", "bound 'le' must be a number"),
    (RANGE + "element = 1.0\nle = 1\n", "element", "'element' must be an integer, got 1.0"),
    (RANGE + "element = -1\nle = 1\n", "element", "'element' must be >= 0, got -1"),
    (RANGE + "max_outside_share = 2\nle = 1\n", "max_outside_share", "must be <= 1.0, got 2"),
    (RANGE.replace('"must"', '"should"') + "le = 1\n", "severity", "'severity' must be 'must' or 'nice'"),
    (RANGE.replace('"volatility-range"', "7") + "le = 1\n", "id", "'id' must be a string"),
    (RANGE.replace('"volatility-range"', '"has space"') + "le = 1\n", "id", "'id' must be a string"),
    (RANGE + "description = 5\nle = 1\n", "description", "'description' must be a string"),
    ("""\
     [[check]]
     id = "h"
     kind = "history"
     severity = "must"
     metric = "loss"
     epoch = 1.5
     lt = 1
     """, "epoch", "'epoch' must be \"last\", \"best\" or an integer epoch index, got 1.5"),
    ("""\
     [[check]]
     id = "h"
     kind = "history"
     severity = "must"
     metric = "loss"
     epoch = "best"
     monitor = "loss"
     mode = "maximum"
     lt = 1
     """, "mode", "'mode' must be one of 'min', 'max', got 'maximum'"),
    ("""\
     [[check]]
     id = "s"
     kind = "saturation"
     severity = "must"
     column = "v"
     level = 0.9
     inclusive = "yes"
     le = 0
     """, "inclusive", "'inclusive' must be true or false"),
])
def test_wrong_type_names_the_key_line(text, key, fragment):
    text = textwrap.dedent(text)
    exc = spec_error(text)
    assert fragment in str(exc)
    lines = text.splitlines()
    assert lines[exc.line - 1].lstrip().startswith(key), (exc.line, lines)


# -- BAD_INPUTS 24: nan or inf as a bound (or any number) ------------------------------------

@pytest.mark.parametrize("key", ["gt", "ge", "lt", "le"])
@pytest.mark.parametrize("value", ["nan", "+nan", "-nan", "inf", "+inf", "-inf"])
def test_nan_or_inf_bound_refused(key, value):
    exc = spec_error(RANGE + f"{key} = {value}\n")
    assert exc.line == 6
    assert f"bound '{key}' must be a finite number" in str(exc)


@pytest.mark.parametrize("extra, key", [
    ("level = nan\nle = 0\n", "level"),
    ("level = inf\nle = 0\n", "level"),
    ("level = 0.9\nle = 0\nallow_nonfinite_share = nan\n", "allow_nonfinite_share"),
])
def test_nan_or_inf_parameter_refused(extra, key):
    text = RANGE.replace('"range"', '"saturation"') + extra
    exc = spec_error(text)
    assert "must be finite" in str(exc) and f"'{key}'" in str(exc)


@pytest.mark.parametrize("extra", ["ge = " + "9" * 400 + "\n", "level = " + "9" * 400 + "\nle = 0\n"])
def test_number_too_large_for_a_float_is_a_spec_error(extra):
    # TOML integers are unbounded in tomllib: float() of one would overflow (exit 3, a crash).
    kind = '"saturation"' if "level" in extra else '"range"'
    exc = spec_error(RANGE.replace('"range"', kind) + extra)
    assert "finite" in str(exc) and exc.line == 6


# -- BAD_INPUTS 25: min above max ---------------------------------------------------------------

@pytest.mark.parametrize("bounds", ["ge = 0.5\nle = 0.1\n", "gt = 0.5\nlt = 0.1\n", "gt = 0.1\nle = 0.1\n",
                                    "ge = 0.1\nlt = 0.1\n", "gt = 1\nlt = 1\n"])
def test_min_above_max_refused(bounds):
    exc = spec_error(RANGE + bounds)
    assert "no value can satisfy" in str(exc) and "lower bound is above the upper bound" in str(exc)
    assert exc.line == 6


def test_two_lower_bounds_refused():
    exc = spec_error(RANGE + "ge = 0\ngt = 0\n")
    assert "at most one lower bound" in str(exc)


def test_missing_bound_refused():
    exc = spec_error(RANGE)
    assert "needs a bound: give gt/ge and/or lt/le" in str(exc)


def test_point_bound_allowed():
    spec = parse_spec(RANGE + "ge = 0.1\nle = 0.1\n")
    assert spec.checks[0].bound == Bound(ge=0.1, le=0.1)


# -- BAD_INPUTS 26: no checks ---------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "name = 'x'\n", "check = []\n", "# only a comment\n",
                                  "[artefacts]\npredictions = 'p.csv'\n"])
def test_no_checks_refused(text):
    exc = spec_error(text)
    assert "the spec has no checks" in str(exc)


@pytest.mark.parametrize("text", ["[check]\nid = 'a'\n", "check = 1\n", "check = [1, 2]\n"])
def test_check_must_be_an_array_of_tables(text):
    assert "array of tables" in str(spec_error(text))


# -- BAD_INPUTS 27: duplicate ids -----------------------------------------------------------------

def test_duplicate_id_refused():
    text = RANGE + "le = 1\n\n" + RANGE + "le = 2\n"
    exc = spec_error(text)
    assert "duplicate check id 'volatility-range' (first used at line 1)" in str(exc)
    assert exc.line == 9  # the second check's id line


# -- kind-specific rules ---------------------------------------------------------------------

HISTORY = """\
[[check]]
id = "auc"
kind = "history"
severity = "must"
metric = "val_direction_auc"
"""


@pytest.mark.parametrize("extra, fragment", [
    ("epoch = 'best'\nge = 0.65\n", "epoch = 'best' needs monitor"),
    ("epoch = 'best'\nmonitor = 'val_direction_auc'\nge = 0.65\n", "epoch = 'best' needs mode"),
    ("monitor = 'val_direction_auc'\nge = 0.65\n", "monitor is only used with epoch = 'best'"),
    ("mode = 'max'\nge = 0.65\n", "mode is only used with epoch = 'best'"),
])
def test_history_best_epoch_rules(extra, fragment):
    assert fragment in str(spec_error(HISTORY + extra))


def test_history_best_epoch_valid():
    spec = parse_spec(HISTORY + "epoch = 'best'\nmonitor = 'val_direction_auc'\nmode = 'max'\nge = 0.65\n")
    assert spec.checks[0].params["epoch"] == "best"


STAT = """\
[[check]]
id = "mean"
kind = "statistic"
severity = "must"
column = "magnitude"
"""


@pytest.mark.parametrize("extra, fragment", [
    ("stat = 'quantile'\nle = 1\n", "stat = 'quantile' needs q"),
    ("stat = 'mean'\nq = 0.5\nle = 1\n", "q is only used with stat = 'quantile'"),
    ("stat = 'quantile'\nq = 1.5\nle = 1\n", "'q' must be <= 1.0"),
    ("stat = 'mode'\nle = 1\n", "'stat' must be one of 'mean', 'median', 'std', 'min', 'max', 'quantile'"),
    ("le = 1\n", "missing required key 'stat'"),
])
def test_statistic_rules(extra, fragment):
    assert fragment in str(spec_error(STAT + extra))


@pytest.mark.parametrize("extra, fragment", [
    ("key = 'loss_weights'\nequals = 1\nle = 1\n", "unknown key 'le' for kind 'config'"),
    ("key = 'loss_weights'\n", "missing required key 'equals'"),
    ("key = 'loss_weights'\nequals = 1\ntolerance = -1.0\n", "'tolerance' must be >= 0.0"),
])
def test_config_rules(extra, fragment):
    text = "[[check]]\nid = 'c'\nkind = 'config'\nseverity = 'must'\n" + extra
    assert fragment in str(spec_error(text))


@pytest.mark.parametrize("missing", ["id", "kind", "severity"])
def test_common_keys_required(missing):
    lines = [line for line in (RANGE + "le = 1\n").splitlines() if not line.startswith(missing)]
    assert f"missing required key '{missing}'" in str(spec_error("\n".join(lines) + "\n"))


@pytest.mark.parametrize("value, fragment", [
    ("'/abs/p.csv'", "must be a path inside the run directory"),
    ("'../p.csv'", "must be a path inside the run directory"),
    ("''", "must be a relative path string"),
    ("3", "must be a relative path string"),
])
def test_artefact_overrides(value, fragment):
    exc = spec_error(f"[artefacts]\npredictions = {value}\n" + RANGE + "le = 1\n")
    assert fragment in str(exc) and exc.line == 2


def test_artefact_override_kept():
    spec = parse_spec("[artefacts]\npredictions = 'out/preds.parquet'\n" + RANGE + "le = 1\n")
    assert spec.artefacts == {"predictions": "out/preds.parquet"}


def test_errors_come_before_any_check_is_built():
    # A mistake in the last check fails the whole spec, even when the first ones are fine.
    text = RANGE + "le = 1\n\n" + RANGE.replace("volatility-range", "second") + "le = nan\n"
    assert spec_error(text).line == 13


# -- meta-test over the registry ----------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_is_documented_with_a_valid_example(name):
    kind = KINDS[name]
    assert kind.doc and kind.doc.splitlines()[0].strip(), f"kind {name!r} has no docstring"
    assert kind.observes, f"kind {name!r} does not say what it observes"
    assert kind.example, f"kind {name!r} has no example"
    spec = parse_spec(kind.example, f"{name}-example.toml")
    assert len(spec.checks) == 1
    check = spec.checks[0]
    assert check.kind == name
    assert (check.bound is not None) == kind.bounded
    for param in kind.params:
        assert param.doc and param.doc.strip(), f"kind {name!r}: parameter {param.name!r} has no doc"
        assert param.type in {"str", "number", "int", "bool", "any", "epoch", "number_list"}
        if param.required:
            assert param.name in check.params and check.params[param.name] is not None
    assert set(kind.artefacts) <= {"predictions", "history", "config", "returns", "model", "tensorboard"}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_rejects_an_unknown_key(name):
    kind = KINDS[name]
    exc = spec_error(kind.example.rstrip() + "\nunknown_key_xyz = 1\n")
    assert f"unknown key 'unknown_key_xyz' for kind '{name}'" in str(exc)


@pytest.mark.parametrize("name", sorted(k for k in KINDS if KINDS[k].bounded))
def test_every_bounded_kind_rejects_a_nan_bound(name):
    kind = KINDS[name]
    text = "\n".join(line for line in kind.example.splitlines()
                     if not line.split("=")[0].strip() in ("gt", "ge", "lt", "le"))
    assert "must be a finite number" in str(spec_error(text + "\nle = nan\n"))


@pytest.mark.parametrize("trials, fragment", [
    ("thresholds = [0.5, " + "9" * 400 + "]", "every threshold must be in [0.5, 1]"),
    ("thresholds = [0.5, nan]", "every threshold must be in [0.5, 1]"),
    ("cost = " + "9" * 400, "'cost' must be a finite number >= 0"),
    ("cost = inf", "'cost' must be a finite number >= 0"),
])
def test_trials_numbers_must_be_finite(trials, fragment):
    exc = spec_error(f"[trials]\n{trials}\n\n" + RANGE + "le = 1\n")
    assert fragment in str(exc) and exc.line == 2
