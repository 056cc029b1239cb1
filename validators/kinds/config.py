"""Kind comparing a value of the run's config with an expected value."""

from __future__ import annotations

import math

from ..bounds import is_number
from ..errors import ArtefactError
from ..registry import Param, register
from ..result import Outcome

EQUALS = Param("equals", "any", "expected value: number, string, bool, list or table", required=True)
TOLERANCE = Param("tolerance", "number", "absolute tolerance for numbers (default 1e-9)", default=1e-9, min=0.0)


@register(
    "config",
    params=(
        Param("key", "str", "dotted key into the config, e.g. 'loss_weights' or 'heads.volatility.activation'",
              required=True),
        EQUALS,
        TOLERANCE,
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
    """A value of the run's config equals an expected value (numbers within a tolerance).

    The key is looked up as written, else as the one nested key ending with it
    (``training.loss_weights``), else as ``[layout] config_keys`` declares. A list compared
    with a mapping (``loss_weights = [1.0, 0.3, 0.3]`` against ``{ direction = 1.0, ... }``)
    is mapped by the saved model's output order when the run has a model, and the report says so.
    """
    found, binding = run.config_value(key)
    evidence = {"key": key, "expected": equals, "tolerance": tolerance}
    if binding.name != key:
        evidence["found_as"] = binding.name
        evidence["found_by"] = binding.how
    note = f" (found as {binding.name!r}: {binding.how})" if binding.name != key else ""
    compared = found
    if isinstance(equals, dict) and isinstance(found, list):
        outputs = run.heads()
        if outputs is None:
            raise ArtefactError(run.path_of("config"), f"{key} is a list {found!r} and the spec expects a mapping "
                                f"{equals!r}, but the run has no readable model to say which output each item is for",
                                hint="write the expected value as a list in output order, or keep the model in the run")
        if len(outputs) != len(found):
            return Outcome(False, found, f"{key} is a list of {len(found)} but the model has {len(outputs)} outputs "
                           f"{list(outputs)!r}{note}", {**evidence, "outputs": list(outputs)})
        compared = dict(zip(outputs, found))
        evidence["mapped_by_model_outputs"] = list(outputs)
        note += f" (a list, mapped to the model's outputs {list(outputs)!r} in order)"
    differences = []
    compare_values(compared, equals, tolerance, key, differences)
    if differences:
        evidence["differences"] = differences[:10]
        return Outcome(False, found, f"{key} is {found!r}{note}, expected {equals!r}: {differences[0]}", evidence)
    return Outcome(True, found, f"{key} is {found!r}{note} as expected", evidence)


def compare_values(found, expected, tolerance, where, out):
    """Append to ``out`` every way ``found`` differs from ``expected`` (numbers within ``tolerance``)."""
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
                compare_values(found[k], expected[k], tolerance, f"{where}.{k}", out)
        for k in found:
            if k not in expected:
                out.append(f"{where}.{k}: not expected (value {found[k]!r})")
    elif isinstance(expected, list) and isinstance(found, list):
        if len(found) != len(expected):
            out.append(f"{where}: {len(found)} items, expected {len(expected)}")
        else:
            for i, (f, e) in enumerate(zip(found, expected)):
                compare_values(f, e, tolerance, f"{where}[{i}]", out)
    elif isinstance(expected, bool) or isinstance(found, bool) or type(expected) is not type(found):
        if not (found == expected and type(found) is type(expected)):
            out.append(f"{where}: {found!r} is not {expected!r}")
    elif found != expected:
        out.append(f"{where}: {found!r} is not {expected!r}")
