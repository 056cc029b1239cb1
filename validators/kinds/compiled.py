"""Kind comparing what training used, as the saved model records it, with an expected value."""

from __future__ import annotations

from ..registry import Param, register
from ..result import Outcome
from .config import EQUALS, TOLERANCE, compare_values
from .model import refuse_unsafe


@register(
    "compile",
    params=(
        Param("key", "str", "dotted key into the model's compile configuration: 'loss_weights', "
              "'loss.volatility', 'metrics.direction.auc.num_thresholds', 'optimizer.name'", required=True),
        EQUALS,
        TOLERANCE,
    ),
    artefacts=("model",),
    bounded=False,
    observes="the compile value",
    example="""
        [[check]]
        id = "loss-weights"
        kind = "compile"
        severity = "must"
        key = "loss_weights"      # a list in output order or a mapping: compared by output name
        equals = { direction = 1.0, volatility = 0.3, magnitude = 0.3 }
    """,
)
def compile_check(run, *, key, equals, tolerance):
    """A value of the saved model's compile configuration (``model.compile(...)`` as saved).

    ``loss``, ``loss_weights`` and ``metrics`` are mappings by output name whatever form the
    training script gave them in (a list in output order is mapped by the model's outputs);
    metrics are keyed by their name (``auc``, ``mae``) and hold their configuration
    (``num_thresholds``). The model is read as data, never deserialised.
    """
    archive = run.model()
    refuse_unsafe(archive)
    facts = archive.compile
    found = facts.get(key)
    top = key.split(".")[0]
    evidence = {"file": archive.path, "key": key, "expected": equals, "tolerance": tolerance,
                "outputs": list(facts.outputs)}
    form = facts.forms.get(top)
    if form:
        evidence["given_as"] = form
    differences = []
    compare_values(found, equals, tolerance, key, differences)
    said = f" (the model has it as {form})" if form and form.startswith("a list") else ""
    if differences:
        evidence["differences"] = differences[:10]
        return Outcome(False, found, f"{key} is {found!r}{said}, expected {equals!r}: {differences[0]}", evidence)
    return Outcome(True, found, f"{key} is {found!r}{said} as expected", evidence)
