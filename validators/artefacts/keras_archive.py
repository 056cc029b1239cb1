"""A ``.keras`` file's architecture, read without TensorFlow or Keras and without deserialising.

A ``.keras`` file (Keras 3) is a zip archive holding ``config.json`` (the model's serialised
config), ``metadata.json`` (the Keras version) and ``model.weights.h5``. Only the two JSON
members are read here, as data: no class is looked up, no code runs, nothing is unpickled.

* :func:`read_keras_archive` returns a :class:`KerasArchive` (config, metadata, layers, outputs,
  unsafe objects); :func:`read_model_config`, :func:`model_layers`, :func:`head_layers`,
  :func:`layer_info` and :func:`unsafe_layers` are shortcuts to its parts.
* Functional models: ``config.layers`` and ``config.output_layers`` (a ``[name, node, tensor]``
  triple, a list of them or a dict of them). Sequential models: the last layer is the output.
  A nested model's own layers are listed too, as ``outer/inner``.
* Layers that would need unsafe deserialisation are reported, never loaded: every ``Lambda``
  layer, any ``__lambda__`` object (Python bytecode) anywhere in the config, and any Python
  function from outside Keras (``class_name: "function"`` with a non-Keras module), which needs
  user code to load.

Errors (:class:`~validators.errors.ArtefactError`, naming the file): no such file; not a zip
archive (and which format it looks like instead); a truncated or corrupt zip; no
``config.json``; a ``config.json`` larger than :data:`MAX_CONFIG_BYTES` uncompressed (a zip
bomb); invalid JSON (line and column in ``config.json``); a config that is not a model; a
duplicate layer name; a layer that is not there (the names that are).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass

from validators.errors import ArtefactError

from .keras_names import keras_name

__all__ = [
    "MAX_CONFIG_BYTES",
    "KerasArchive",
    "LayerInfo",
    "UnsafeObject",
    "head_layers",
    "keras_name",
    "layer_info",
    "model_layers",
    "read_keras_archive",
    "read_model_config",
    "unsafe_layers",
]

MAX_CONFIG_BYTES = 50 * 1024 * 1024
_MAX_METADATA_BYTES = 1024 * 1024
_NOT_A_ZIP = "is not a valid .keras file"


@dataclass(frozen=True)
class LayerInfo:
    """What the config says about one layer.

    ``activation`` and ``kernel_initializer`` use Keras' string names (``"relu"``,
    ``"he_normal"``); ``None`` when the layer has none. ``output_shape`` is derived where the
    config allows it (a ``Dense`` layer's input shape with the last axis replaced by ``units``;
    an ``InputLayer``'s batch shape), else ``None``. ``is_output`` is true for a model output;
    ``output_names`` lists the output keys it serves (a dict-output model's keys, else the
    layer name).
    """

    name: str
    class_name: str
    activation: str | None
    kernel_initializer: str | None
    units: int | None
    output_shape: tuple[int | None, ...] | None
    is_output: bool
    output_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnsafeObject:
    """Something in the config that loading would have to execute as Python code."""

    layer: str | None  # the layer it belongs to, if any
    location: str  # JSON path in config.json, e.g. ``config.layers[2].config.function``
    reason: str


@dataclass(frozen=True)
class KerasArchive:
    path: str
    config: dict
    keras_version: str | None
    layers: dict[str, LayerInfo]
    unsafe: tuple[UnsafeObject, ...]
    output_keys: tuple[str, ...] = ()  # the model's outputs in order, as Keras names them in fit's logs
    compile_config: dict | None = None  # what model.compile was given, as saved (None: not compiled)

    @property
    def compile(self):
        """What training used (``compile_facts.CompileFacts``), outputs mapped by name."""
        from .compile_facts import compile_facts

        return compile_facts(self.compile_config, self.output_keys, self.path)

    @property
    def outputs(self) -> dict[str, LayerInfo]:
        return {name: info for name, info in self.layers.items() if info.is_output}

    def layer(self, name: str) -> LayerInfo:
        try:
            return self.layers[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.layers), n=1)
            raise ArtefactError(
                self.path,
                f"no layer named {name!r} in the model; its layers are {sorted(self.layers)!r}",
                hint=f"did you mean {close[0]!r}?" if close else None,
            ) from None


# --------------------------------------------------------------------------- names

def _is_keras_module(module) -> bool:
    return isinstance(module, str) and (module == "keras" or module.startswith("keras."))


def _object_name(obj) -> str | None:
    """The Keras string name of a serialised activation or initializer."""
    if obj is None:
        return None
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        cls = obj.get("class_name")
        if cls == "function":
            cfg = obj.get("config")
            return cfg if isinstance(cfg, str) else str(obj.get("registered_name"))
        if cls == "__lambda__":
            return "<lambda>"
        if isinstance(cls, str):
            if obj.get("module") is None or _is_keras_module(obj.get("module")):
                return keras_name(cls)
            registered = obj.get("registered_name")
            return registered if isinstance(registered, str) else cls
    return repr(obj)[:80]


# --------------------------------------------------------------------------- zip and JSON


def _read_member(zf: zipfile.ZipFile, path, name: str, limit: int) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise ArtefactError(
            path,
            f"{name} is {info.file_size} bytes uncompressed, more than the {limit}-byte limit: refused",
            hint="a zip bomb, or not a model saved by Keras",
        )
    try:
        with zf.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, struct.error) as exc:
        raise ArtefactError(path, f"{_NOT_A_ZIP} (corrupt zip member {name}: {exc})") from None
    except (NotImplementedError, RuntimeError) as exc:  # unknown compression, encryption
        raise ArtefactError(path, f"{_NOT_A_ZIP} (cannot read zip member {name}: {exc})") from None
    if len(data) > limit:
        raise ArtefactError(
            path,
            f"{name} inflates to more than the {limit}-byte limit (its header claimed "
            f"{info.file_size}): refused",
            hint="a zip bomb, or not a model saved by Keras",
        )
    return data


def _sniff(path) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return ""
    if not head:
        return "an empty file (0 bytes)"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file: a legacy .h5 model, not a .keras zip archive"
    if head.startswith(b"PK\x03\x04"):
        return "a truncated or damaged zip archive: its central directory is missing"
    return "not a zip archive"


def _json(path, name: str, data: bytes):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArtefactError(path, f"{name} is not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtefactError(
            path, f"{name} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise ArtefactError(path, f"{name} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ArtefactError(path, f"{name} is nested too deeply to read") from None


def _open_members(path) -> tuple[bytes, bytes | None]:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ArtefactError(path, f"{_NOT_A_ZIP} ({_sniff(path)})") from None
    except (OSError, EOFError, ValueError, struct.error, NotImplementedError, zlib.error) as exc:
        raise ArtefactError(path, f"{_NOT_A_ZIP} (cannot read it as a zip archive: {exc})") from None
    with zf:
        names = zf.namelist()
        if "config.json" not in names:
            shown = ", ".join(sorted(names)[:10]) or "none"
            raise ArtefactError(path, f"{_NOT_A_ZIP} (the zip archive has no config.json; members: {shown})")
        config = _read_member(zf, path, "config.json", MAX_CONFIG_BYTES)
        metadata = _read_member(zf, path, "metadata.json", _MAX_METADATA_BYTES) if "metadata.json" in names else None
    return config, metadata


# --------------------------------------------------------------------------- config walking


def _walk_unsafe(config, root_location: str) -> list[tuple[str, str]]:
    """(location, reason) for every object that loading would have to run as Python code."""
    found = []
    stack = [(config, root_location)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            cls = node.get("class_name")
            if cls == "__lambda__":
                found.append((where, "a Python lambda (bytecode in the config)"))
            elif cls == "Lambda" and (node.get("module") is None or _is_keras_module(node.get("module"))):
                found.append((where, "a Lambda layer (runs arbitrary Python code)"))
            elif cls == "function" and not _is_keras_module(node.get("module")):
                name = node.get("config")
                found.append(
                    (where, f"a Python function {name!r} from module {node.get('module')!r} (needs user code to load)")
                )
            elif isinstance(cls, str) and isinstance(node.get("module"), str) and not _is_keras_module(node["module"]):
                found.append((where, (f"a class {cls!r} from module {node['module']!r}, outside Keras "
                                      "(needs custom code to load; Keras refuses it without it)")))
            for key, value in node.items():
                stack.append((value, f"{where}.{key}"))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                stack.append((value, f"{where}[{i}]"))
    found.sort()
    return found


def _shape(value) -> tuple[int | None, ...] | None:
    if isinstance(value, list) and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value):
        return tuple(value)
    return None


def _input_shape(entry: dict) -> tuple[int | None, ...] | None:
    build = entry.get("build_config")
    if isinstance(build, dict):
        shape = _shape(build.get("input_shape"))
        if shape is not None:
            return shape
    nodes = entry.get("inbound_nodes")
    if isinstance(nodes, list) and len(nodes) == 1 and isinstance(nodes[0], dict):
        args = nodes[0].get("args")
        if isinstance(args, list) and len(args) == 1 and isinstance(args[0], dict):
            cfg = args[0].get("config")
            if isinstance(cfg, dict):
                return _shape(cfg.get("shape"))
    return None


def _history_names(spec, key: str | None = None) -> list[tuple[str, str]]:
    """(layer name, output key) for each ``[name, node, tensor]`` triple in an output spec."""
    if isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str) and all(
        isinstance(v, int) for v in spec[1:]
    ):
        return [(spec[0], key if key is not None else spec[0])]
    out = []
    if isinstance(spec, list):
        for item in spec:
            out.extend(_history_names(item))
    elif isinstance(spec, dict):
        for k, item in spec.items():
            out.extend(_history_names(item, str(k)))
    else:
        raise TypeError(f"unexpected output_layers entry {spec!r:.80}")
    return out


def _layers_of(path, model: dict, where: str, prefix: str, layers: dict, outputs: dict | None) -> None:
    """Add the layers of a (possibly nested) model's config to ``layers``."""
    cfg = model.get("config")
    entries = cfg.get("layers") if isinstance(cfg, dict) else None
    if not isinstance(entries, list):
        raise ArtefactError(
            path,
            f"{where}: model class {model.get('class_name')!r} has no list of layers in its config "
            "(a subclassed model keeps its architecture in code, not in config.json)",
        )
    if outputs is not None:  # the top-level model
        if model.get("class_name") == "Sequential":
            last = entries[-1] if entries else None
            name = _entry_name(last) if isinstance(last, dict) else None
            if name is None:
                raise ArtefactError(path, f"{where}: a Sequential model without layers")
            outputs[name] = [name]
        else:
            try:
                pairs = _history_names(cfg.get("output_layers"))
            except TypeError as exc:
                raise ArtefactError(path, f"{where}.config.output_layers: {exc}") from None
            if not pairs:
                raise ArtefactError(path, f"{where}.config.output_layers names no output layer")
            for name, key in pairs:
                outputs.setdefault(name, []).append(key)
    for i, entry in enumerate(entries):
        here = f"{where}.config.layers[{i}]"
        if not isinstance(entry, dict):
            raise ArtefactError(path, f"{here} is not a layer object")
        name = _entry_name(entry)
        if name is None:
            raise ArtefactError(path, f"{here} has no name")
        full = prefix + name
        if full in layers:
            raise ArtefactError(path, f"two layers are named {full!r}: the model config is ambiguous")
        cls = entry.get("class_name")
        lcfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        units = lcfg.get("units")
        units = units if isinstance(units, int) and not isinstance(units, bool) else None
        shape = None
        if cls == "InputLayer":
            shape = _shape(lcfg.get("batch_shape") or lcfg.get("batch_input_shape"))
        elif cls == "Dense" and units is not None:
            inp = _input_shape(entry)
            if inp:
                shape = inp[:-1] + (units,)
        keys = tuple(outputs.get(name, ())) if outputs is not None else ()
        layers[full] = LayerInfo(
            name=full,
            class_name=str(cls),
            activation=_object_name(lcfg.get("activation")),
            kernel_initializer=_object_name(lcfg.get("kernel_initializer")),
            units=units,
            output_shape=shape,
            is_output=bool(keys),
            output_names=keys,
        )
        if isinstance(lcfg.get("layers"), list):  # a nested model
            _layers_of(path, entry, here, full + "/", layers, None)
    if outputs is not None:
        unknown = sorted(set(outputs) - set(layers))
        if unknown:
            raise ArtefactError(path, f"{where}.config.output_layers names layers that do not exist: {unknown!r}")


def _entry_name(entry: dict) -> str | None:
    cfg = entry.get("config")
    name = cfg.get("name") if isinstance(cfg, dict) else None
    if not isinstance(name, str):
        name = entry.get("name")
    return name if isinstance(name, str) and name else None


# --------------------------------------------------------------------------- public


def read_keras_archive(path) -> KerasArchive:
    """Read and check a ``.keras`` file's ``config.json`` (see the module docstring)."""
    from .tables import unchanged_while_read

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ArtefactError(path, "no such file")
    if os.path.isdir(path):
        raise ArtefactError(path, "is a directory, not a .keras file")
    with unchanged_while_read(path):  # a model Keras is still saving is refused, never half read
        raw_config, raw_metadata = _open_members(path)
    config = _json(path, "config.json", raw_config)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ArtefactError(path, f"{_NOT_A_ZIP} (config.json does not hold a serialised Keras model)")
    version = None
    if raw_metadata is not None:
        metadata = _json(path, "metadata.json", raw_metadata)
        if isinstance(metadata, dict) and isinstance(metadata.get("keras_version"), str):
            version = metadata["keras_version"]
    layers: dict[str, LayerInfo] = {}
    outputs: dict[str, list[str]] = {}
    _layers_of(path, config, "config.json", "", layers, outputs)
    output_keys = tuple(key for keys in outputs.values() for key in keys)
    unsafe = []
    for location, reason in _walk_unsafe(config, "config"):
        layer = None
        match = re.match(r"config\.config\.layers\[(\d+)\]", location)
        if match:
            entry = config["config"]["layers"][int(match.group(1))]
            layer = _entry_name(entry) if isinstance(entry, dict) else None
        unsafe.append(UnsafeObject(layer, location, reason))
    compiled = config.get("compile_config")
    return KerasArchive(path, config, version, layers, tuple(unsafe), output_keys,
                        compiled if isinstance(compiled, dict) and compiled else None)  # {}: never compiled


def read_model_config(path) -> dict:
    """The parsed ``config.json`` of a ``.keras`` file."""
    return read_keras_archive(path).config


def model_layers(path) -> dict[str, LayerInfo]:
    """Every layer of the model (nested models' layers as ``outer/inner``), by name."""
    return read_keras_archive(path).layers


def head_layers(path) -> dict[str, LayerInfo]:
    """The model's output layers (its heads), by layer name."""
    return read_keras_archive(path).outputs


def layer_info(path, name: str) -> LayerInfo:
    """One layer by name; :class:`ArtefactError` listing the layers there are if it is absent."""
    return read_keras_archive(path).layer(name)


def unsafe_layers(path) -> tuple[UnsafeObject, ...]:
    """What loading this model would have to run as Python code (empty when nothing)."""
    return read_keras_archive(path).unsafe
