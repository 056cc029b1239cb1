"""What training used, as the saved model records it: losses, loss weights, metrics, optimizer.

Keras takes ``loss``, ``loss_weights`` and ``metrics`` as one value for every output, a list in
output order, or a mapping by output name; :func:`compile_facts` turns each into a mapping by
output name, so a spec can say ``loss_weights = { direction = 1.0, volatility = 0.3 }`` whatever
form the training script used, and says which form it found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ArtefactError
from .keras_names import keras_name


@dataclass(frozen=True)
class CompileFacts:
    path: str
    outputs: tuple[str, ...]
    values: dict  # "loss", "loss_weights", "metrics", "optimizer": each a plain mapping
    forms: dict = field(default_factory=dict)  # key -> how the model gave it ("a list in output order", ...)

    def get(self, key: str):
        """A dotted key (``loss_weights``, ``loss.volatility``, ``metrics.direction.auc.num_thresholds``)."""
        from .config_file import MISSING, lookup

        value = lookup(self.values, key)
        if value is MISSING:
            raise ArtefactError(self.path, f"the model's compile configuration has no {key!r}; it has "
                                + ", ".join(_paths(self.values)[:30]))
        return value


def _paths(node, prefix="") -> list[str]:
    if isinstance(node, dict) and node:
        out = []
        for k, v in node.items():
            out.extend(_paths(v, f"{prefix}{k}."))
        return out
    return [repr(prefix[:-1])]


def _by_output(value, outputs, what, path):
    """``(mapping by output name, form)`` of a per-output compile argument."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in outputs]
        if unknown and outputs:
            raise ArtefactError(path, f"compile {what} names {unknown!r}, which are not outputs of the model "
                                      f"({list(outputs)!r})")
        return dict(value), "a mapping by output name"
    if isinstance(value, (list, tuple)):
        if len(value) != len(outputs):
            raise ArtefactError(path, f"compile {what} is a list of {len(value)} for a model with {len(outputs)} "
                                      f"outputs {list(outputs)!r}: which weight belongs to which output is unknown")
        return dict(zip(outputs, value)), f"a list in output order {list(outputs)!r}"
    if value is None:
        return None, "not given"
    return {name: value for name in outputs}, "one value for every output"


def _name_of(obj):
    """A loss, metric or optimizer by name, the way a spec writes it."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        cfg = obj.get("config") if isinstance(obj.get("config"), dict) else {}
        if isinstance(cfg.get("name"), str):
            return cfg["name"]
        if isinstance(obj.get("class_name"), str):
            return keras_name(obj["class_name"])
    return repr(obj)[:80]


def _metric_entry(obj):
    if isinstance(obj, dict):
        cfg = obj.get("config") if isinstance(obj.get("config"), dict) else {}
        return {k: v for k, v in cfg.items() if k not in ("name", "dtype")} | {"class_name": obj.get("class_name")}
    return {}


def compile_facts(compile_config, outputs, path) -> CompileFacts:
    """Normalise a saved ``compile_config`` (see the module docstring)."""
    if not isinstance(compile_config, dict):
        raise ArtefactError(path, "the model was saved without a compile configuration (model.compile was not "
                                  "called, or it was saved with include_optimizer=False): what training used "
                                  "is not recorded")
    outputs = tuple(outputs)
    values, forms = {}, {}
    weights, forms["loss_weights"] = _by_output(compile_config.get("loss_weights"), outputs, "loss_weights", path)
    if weights is not None:
        values["loss_weights"] = weights
    losses, forms["loss"] = _by_output(compile_config.get("loss"), outputs, "loss", path)
    if losses is not None:
        values["loss"] = {k: _name_of(v) for k, v in losses.items()}
    metrics, forms["metrics"] = _by_output(compile_config.get("metrics"), outputs, "metrics", path)
    if metrics is not None:
        values["metrics"] = {}
        for head, entries in metrics.items():
            entries = entries if isinstance(entries, (list, tuple)) else [entries]
            values["metrics"][head] = {_name_of(m): _metric_entry(m) for m in entries if m is not None}
    optimizer = compile_config.get("optimizer")
    if optimizer is not None:
        cfg = optimizer.get("config") if isinstance(optimizer, dict) and isinstance(optimizer.get("config"), dict) else {}
        values["optimizer"] = {"name": optimizer.get("class_name") if isinstance(optimizer, dict) else optimizer,
                               **{k: v for k, v in cfg.items() if k != "name"}}
    return CompileFacts(str(path), outputs, values, forms)
