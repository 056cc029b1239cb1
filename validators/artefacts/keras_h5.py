"""A legacy HDF5 Keras model's architecture and training configuration, read as data.

``model.save("model.h5")`` (Keras 2, and Keras 3's legacy format) writes three root attributes
of the HDF5 file that matter here: ``model_config`` (JSON text: the model's serialised config,
the same shape as a ``.keras`` archive's ``config.json``), ``training_config`` (JSON text:
``loss``, ``loss_weights``, ``metrics``, ``weighted_metrics``, ``optimizer_config``; absent
when the model was not compiled) and ``keras_version``. Only those attributes are read, with
h5py, as text: no class is looked up, no code runs, the weights are never touched.

* :func:`read_keras_h5` returns the same :class:`~validators.artefacts.keras_archive.KerasArchive`
  as :func:`~validators.artefacts.keras_archive.read_keras_archive`: layers, outputs, unsafe
  objects (a ``Lambda`` layer, Python bytecode, a Python function from outside Keras) come from
  the very functions that read a ``.keras`` file. ``training_config`` becomes ``compile_config``
  (``optimizer_config`` renamed ``optimizer``), so ``.compile`` works alike for both formats.
* Keras 2 configs differ from Keras 3 ones (``batch_input_shape`` for ``batch_shape``,
  ``inbound_nodes`` as ``[[["fusion", 0, 0, {}]]]``, no ``build_config``); a ``Dense`` layer's
  output shape is derived from the layer feeding it where the config says which one it is.
* The file is opened in a child process (``python -P``, with a time limit): a damaged HDF5 file
  can crash the HDF5 C library (a flipped byte in a real Keras file was seen to segfault
  HDF5 1.14.6) or keep it busy, and neither may take the gate down with it.

Errors (:class:`~validators.errors.ArtefactError`, naming the file): no such file; h5py not
installed; not an HDF5 file (and what it looks like instead, e.g. a ``.keras`` zip named
``.h5``); a truncated, damaged or locked HDF5 file; a weights-only file (``save_weights``); no
``model_config``; an attribute that is not text, larger than :data:`MAX_CONFIG_BYTES`, not
UTF-8 or not JSON; a config that is not a model (as for a ``.keras`` file).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from validators.errors import ArtefactError

from .keras_archive import (
    _MAX_METADATA_BYTES,
    MAX_CONFIG_BYTES,
    KerasArchive,
    LayerInfo,
    UnsafeObject,
    _entry_name,
    _json,
    _layers_of,
    _shape,
    _walk_unsafe,
)

__all__ = ["MAX_CONFIG_BYTES", "READ_TIMEOUT_SECONDS", "read_keras_h5"]

READ_TIMEOUT_SECONDS = 60.0  # reading three attributes takes well under a second
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NOT_A_MODEL = "is not a Keras .h5 model"
_INSTALL = "pip install 'runverdict[h5]'"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from validators.artefacts.keras_h5 import _child_main; _child_main(sys.argv[2:])"
)


# --------------------------------------------------------------------------- the child process


def _read_root(path: str, limits: dict[str, int]) -> tuple[dict, list[bytes]]:
    """The HDF5 root attributes named in ``limits``, as raw bytes, each refused above its limit.

    Runs in the child process. Returns a JSON-able header and the attributes' bytes in the
    order the header's ``attrs`` lists them. Nothing is decoded here, nothing parsed.
    """
    try:
        import h5py
        import numpy as np
    except ImportError as exc:
        return {"status": "no-h5py", "error": str(exc)}, []
    try:
        try:
            f = h5py.File(path, "r", locking="best-effort")  # a writer's lock is seen; no lock support is no error
        except ValueError as exc:
            if "locking" not in str(exc):  # an HDF5 library too old for the option
                raise
            f = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001 - whatever the HDF5 library says, it could not open it
        return {"status": "open-failed", "error": str(exc)}, []
    header: dict = {"status": "ok", "attrs": {}}
    blobs: list[bytes] = []
    where = "the root attributes"
    try:
        with f:
            header["root_attrs"] = sorted(f.attrs.keys())[:20]
            header["groups"] = sorted(f.keys())[:20]
            for name, limit in limits.items():
                where = f"attribute {name!r}"
                if name not in f.attrs:
                    continue
                attr = f.attrs.get_id(name)
                string = h5py.check_string_dtype(attr.dtype)
                shape = attr.shape  # None: an empty (null) attribute
                count = None if shape is None else int(np.prod(shape, dtype=np.int64))
                if string is None or count != 1:  # one string only: never an array of them
                    header["attrs"][name] = {"kind": "not-text", "dtype": str(attr.dtype),
                                             "shape": list(shape) if shape is not None else "null"}
                    continue
                if string.length is not None and string.length > limit:  # fixed length: known unread
                    header["attrs"][name] = {"kind": "too-large", "size": string.length}
                    continue
                buf = np.empty(attr.shape, dtype=attr.dtype if string.length is not None else h5py.vlen_dtype(bytes))
                attr.read(buf)  # variable length: the text is in the file, so no larger than the file
                value = buf.reshape(-1)[0]
                raw = bytes(value) if not isinstance(value, str) else value.encode("utf-8", "surrogateescape")
                if len(raw) > limit:
                    header["attrs"][name] = {"kind": "too-large", "size": len(raw)}
                    continue
                header["attrs"][name] = {"kind": "text", "size": len(raw),
                                         "stored": "fixed-length" if string.length is not None else "variable-length"}
                blobs.append(raw)
    except Exception as exc:  # noqa: BLE001 - a damaged file: any error of the library reading it
        return {"status": "read-failed", "where": where, "error": f"{type(exc).__name__}: {exc}"}, []
    return header, blobs


def _child_main(argv: list[str]) -> None:
    path, limits = argv[0], json.loads(argv[1])
    header, blobs = _read_root(path, limits)
    out = sys.stdout.buffer
    out.write(json.dumps(header).encode("ascii") + b"\n")
    for blob in blobs:
        out.write(blob)
    out.flush()


def _run_reader(path: str, limits: dict[str, int]) -> tuple[dict, dict[str, bytes]]:
    """Run :func:`_read_root` in a child process; ``(header, {attribute: bytes})``."""
    # -P: the working directory (a run directory, maybe) is not on the child's sys.path, so a
    # file there named h5py.py or json.py is never imported.
    cmd = [sys.executable, "-P", "-c", _CHILD, _PACKAGE_ROOT, path, json.dumps(limits)]
    try:
        done = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=READ_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise ArtefactError(path, f"reading its HDF5 attributes took longer than {READ_TIMEOUT_SECONDS:g} s: "
                                  "refused (a damaged HDF5 file?)") from None
    except OSError as exc:
        raise ArtefactError(path, f"cannot start a Python process to read the HDF5 file ({exc})") from None
    head, sep, rest = done.stdout.partition(b"\n")
    header = None
    if sep:
        try:
            header = json.loads(head)
        except ValueError:
            header = None
    if done.returncode != 0 or not isinstance(header, dict):
        if done.returncode < 0:
            try:
                how = signal.Signals(-done.returncode).name
            except ValueError:
                how = f"signal {-done.returncode}"
            raise ArtefactError(path, f"{_NOT_A_MODEL}: the HDF5 library crashed reading it ({how}): a damaged "
                                      "HDF5 file", hint="save the model again, or copy it again")
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        last = lines[-1][:200] if lines else "no message"
        raise ArtefactError(path, f"the HDF5 reader failed (exit code {done.returncode}): {last!r}")
    blobs, offset = {}, 0
    for name, info in header.get("attrs", {}).items():
        if info.get("kind") == "text":
            blobs[name] = rest[offset: offset + info["size"]]
            offset += info["size"]
    return header, blobs


# --------------------------------------------------------------------------- errors of the file


def _sniff(path: str) -> str:
    """What a file HDF5 could not open looks like."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096 + 8)
    except OSError:
        return "cannot be read"
    if not head:
        return "an empty file (0 bytes)"
    if any(head[at: at + 8] == _HDF5_SIGNATURE for at in (0, 512, 1024, 2048, 4096)):
        return "a damaged HDF5 file"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive, not HDF5: a Keras 3 .keras model named .h5? name it model.keras"
    if head.lstrip()[:1] in (b"{", b"["):
        return "JSON text, not HDF5"
    return "not an HDF5 file"


def _open_failed(path: str, error: str) -> ArtefactError:
    truncated = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", error)
    if truncated:
        return ArtefactError(path, f"{_NOT_A_MODEL}: a truncated HDF5 file ({truncated.group(1)} of "
                                   f"{truncated.group(2)} bytes)", hint="still being written or copied? "
                                   "rerun when it is complete")
    if "unable to lock file" in error:
        return ArtefactError(path, f"{_NOT_A_MODEL}: the HDF5 file is locked by another process",
                             hint="is training still writing it? rerun when it has finished")
    kind = _sniff(path)
    if kind == "a damaged HDF5 file":
        return ArtefactError(path, f"{_NOT_A_MODEL}: {kind} (h5py: {error[:200]!r})")
    return ArtefactError(path, f"{_NOT_A_MODEL} ({kind})")


def _no_model_config(path: str, header: dict) -> ArtefactError:
    attrs, groups = header.get("root_attrs", []), header.get("groups", [])
    if "layer_names" in attrs or {"layers", "vars"} <= set(groups):
        return ArtefactError(
            path, f"{_NOT_A_MODEL}: it holds weights only (saved by model.save_weights), no model_config, "
                  "so the architecture and training configuration are not in it",
            hint="save the whole model: model.save('model.keras'), or model.save('model.h5')")
    return ArtefactError(path, f"{_NOT_A_MODEL}: the HDF5 file has no model_config attribute (root attributes "
                               f"{attrs!r}, groups {groups!r})")


def _text(path: str, header: dict, blobs: dict, name: str) -> bytes | None:
    info = header["attrs"].get(name)
    if info is None:
        return None
    if info["kind"] == "too-large":
        limit = MAX_CONFIG_BYTES if name != "keras_version" else _MAX_METADATA_BYTES
        raise ArtefactError(path, f"{name} is {info['size']} bytes, more than the {limit}-byte limit: refused",
                            hint="not a model saved by Keras")
    if info["kind"] != "text":
        shape = info.get("shape")
        shape = "null (no value)" if shape == "null" else tuple(shape) if shape else "()"
        raise ArtefactError(path, f"{name} is not one text value: an HDF5 attribute of type {info.get('dtype')} "
                                  f"and shape {shape}", hint="not a model saved by Keras")
    return blobs[name]


# --------------------------------------------------------------------------- shapes Keras 2 leaves out


def _inbound_name(entry: dict) -> str | None:
    """The one layer feeding ``entry``, when its (Keras 2 style) inbound nodes name exactly one."""
    nodes = entry.get("inbound_nodes")
    if isinstance(nodes, list) and len(nodes) == 1 and isinstance(nodes[0], list) and len(nodes[0]) == 1:
        item = nodes[0][0]
        if isinstance(item, list) and item and isinstance(item[0], str):
            return item[0]
    return None


def _fill_shapes(model: dict, prefix: str, layers: dict[str, LayerInfo]) -> None:
    """Derive a ``Dense`` layer's output shape from its input, where the config names the input.

    A Keras 3 config carries each layer's input shape (``build_config`` or the tensors of its
    inbound nodes); a Keras 2 config and a Keras 3 legacy ``Sequential`` do not, but they say
    which layer feeds it: the previous one in a ``Sequential``, else its inbound node.
    """
    cfg = model.get("config")
    entries = cfg.get("layers") if isinstance(cfg, dict) else None
    if not isinstance(entries, list):
        return
    sequential = model.get("class_name") == "Sequential"
    previous = None
    for entry in entries:
        name = _entry_name(entry) if isinstance(entry, dict) else None
        info = layers.get(prefix + name) if name is not None else None
        if info is None:
            return
        lcfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        if info.output_shape is None and info.class_name == "Dense" and info.units is not None:
            source = previous if sequential else _inbound_name(entry)
            fed = layers.get(prefix + source) if source is not None else None
            inp = _shape(lcfg.get("batch_input_shape") or lcfg.get("batch_shape")) or (fed and fed.output_shape)
            if inp:
                layers[prefix + name] = dataclasses.replace(info, output_shape=inp[:-1] + (info.units,))
        if isinstance(lcfg.get("layers"), list):
            _fill_shapes(entry, prefix + name + "/", layers)
        previous = name


# --------------------------------------------------------------------------- public


def read_keras_h5(path) -> KerasArchive:
    """Read and check a legacy ``.h5`` Keras model's configuration (see the module docstring)."""
    from .tables import unchanged_while_read

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ArtefactError(path, "no such file")
    if os.path.isdir(path):
        raise ArtefactError(path, "is a directory, not a .h5 model")
    if importlib.util.find_spec("h5py") is None:
        raise ArtefactError(path, "reading a legacy .h5 model needs h5py, which is not installed", hint=_INSTALL)
    limits = {"model_config": MAX_CONFIG_BYTES, "training_config": MAX_CONFIG_BYTES,
              "keras_version": _MAX_METADATA_BYTES}
    with unchanged_while_read(path):  # a model Keras is still saving is refused, never half read
        header, blobs = _run_reader(path, limits)
        status = header.get("status")
        if status == "no-h5py":
            raise ArtefactError(path, f"reading a legacy .h5 model needs h5py, which cannot be imported "
                                      f"({header.get('error')})", hint=_INSTALL)
        if status == "open-failed":
            raise _open_failed(path, str(header.get("error")))
        if status == "read-failed":
            raise ArtefactError(path, f"{_NOT_A_MODEL}: a damaged HDF5 file (reading {header.get('where')} "
                                      f"failed: {str(header.get('error'))[:200]!r})")
    raw_model = _text(path, header, blobs, "model_config")
    if raw_model is None:
        raise _no_model_config(path, header)
    config = _json(path, "model_config", raw_model)
    if isinstance(config, dict) and config.get("class_name") == "Sequential" and isinstance(config.get("config"), list):
        raise ArtefactError(path, f"{_NOT_A_MODEL} that can be read: its model_config is a Sequential model as "
                                  "Keras 2.1 and older saved it (a bare list of layers)",
                            hint="load it in that Keras version and save it again")
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ArtefactError(path, f"{_NOT_A_MODEL} (model_config does not hold a serialised Keras model)")
    training = compile_config = None
    raw_training = _text(path, header, blobs, "training_config")
    if raw_training is not None:
        training = _json(path, "training_config", raw_training)
        if not isinstance(training, dict):
            raise ArtefactError(path, f"training_config does not hold a training configuration (a JSON "
                                      f"{type(training).__name__}, expected an object)")
        compile_config = dict(training)  # the shape of Keras 3's compile_config
        if "optimizer_config" in compile_config:
            compile_config["optimizer"] = compile_config.pop("optimizer_config")
    version = None
    if header["attrs"].get("keras_version", {}).get("kind") == "text":
        try:
            version = blobs["keras_version"].decode("utf-8")
        except UnicodeDecodeError:
            version = None
    layers: dict[str, LayerInfo] = {}
    outputs: dict[str, list[str]] = {}
    try:
        _layers_of(path, config, "model_config", "", layers, outputs)
        _fill_shapes(config, "", layers)
    except RecursionError:
        raise ArtefactError(path, "model_config is nested too deeply to read") from None
    output_keys = tuple(key for keys in outputs.values() for key in keys)
    unsafe = []
    for root, tree in (("model_config", config), ("training_config", training)):
        if tree is None:
            continue
        for location, reason in _walk_unsafe(tree, root):
            layer = None
            match = re.match(r"model_config\.config\.layers\[(\d+)\]", location)
            if match:
                entry = config["config"]["layers"][int(match.group(1))]
                layer = _entry_name(entry) if isinstance(entry, dict) else None
            unsafe.append(UnsafeObject(layer, location, reason))
    return KerasArchive(path, config, version, layers, tuple(unsafe), output_keys, compile_config)
