"""Kind comparing a value of the run's config with an expected value."""

from __future__ import annotations

import math

from ..artefacts.config_file import MISSING, lookup
from ..bounds import is_number
from ..errors import ArtefactError
from ..registry import Param, register
from ..result import Outcome


@register(
    "config",
    params=(
        Param("key", "str", "dotted key into the config, e.g. 'loss_weights' or 'heads.volatility.activation'",
              required=True),
        Param("equals", "any", "expected value: number, string, bool, list or table", required=True),
        Param("tolerance", "number", "absolute tolerance for numbers (default 1e-9)", default=1e-9, min=0.0),
    ),
    artefacts=("config",),
    bounded=False,
    observes="the config value",
    example="""
        [[check]]
        id = "loss-weights"
        kind = "config"
        severity = "must"
        key = "loss_weights"
        equals = { direction = 1.0, volatility = 0.3, magnitude = 0.3 }
    """,
)
def config(run, *, key, equals, tolerance):
    """A value of the run's config equals an expected value (numbers within a tolerance)."""
    cfg = run.config()
    found = lookup(cfg, key)
    if found is MISSING:
        top = ", ".join(repr(k) for k in list(cfg)[:20])
        raise ArtefactError(run.path_of("config"), f"no key {key!r} in the config; top-level keys: {top}")
    differences = []
    _compare(found, equals, tolerance, key, differences)
    evidence = {"key": key, "expected": equals, "tolerance": tolerance}
    if differences:
        evidence["differences"] = differences[:10]
        return Outcome(False, found, f"{key} is {found!r}, expected {equals!r}: {differences[0]}", evidence)
    return Outcome(True, found, f"{key} is {found!r} as expected", evidence)


def _compare(found, expected, tolerance, where, out):
    if is_number(expected) and is_number(found):
        try:
            f, e = float(found), float(expected)
        except OverflowError:  # an integer too large for a float: compare exactly
            f, e = (0.0, 0.0) if found == expected else (math.inf, 0.0)
        if not (math.isfinite(f) and abs(f - e) <= tolerance):
            out.append(f"{where}: {found!r} differs from {expected!r} by more than {tolerance!r}")
    elif isinstance(expected, dict) and isinstance(found, dict):
        for k in expected:
            if k not in found:
                out.append(f"{where}.{k}: missing")
            else:
                _compare(found[k], expected[k], tolerance, f"{where}.{k}", out)
        for k in found:
            if k not in expected:
                out.append(f"{where}.{k}: not expected (value {found[k]!r})")
    elif isinstance(expected, list) and isinstance(found, list):
        if len(found) != len(expected):
            out.append(f"{where}: {len(found)} items, expected {len(expected)}")
        else:
            for i, (f, e) in enumerate(zip(found, expected)):
                _compare(f, e, tolerance, f"{where}[{i}]", out)
    elif isinstance(expected, bool) or isinstance(found, bool) or type(expected) is not type(found):
        if not (found == expected and type(found) is type(expected)):
            out.append(f"{where}: {found!r} is not {expected!r}")
    elif found != expected:
        out.append(f"{where}: {found!r} is not {expected!r}")
