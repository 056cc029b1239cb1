"""Keras' string names of its built-in classes, as configs and specs write them."""

from __future__ import annotations

import re


def keras_name(class_name: str) -> str:
    """Keras' string name of a built-in class: ``HeNormal`` -> ``he_normal``.

    The same rule as ``keras.src.utils.naming.to_snake_case``, which registers these aliases.
    """
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
