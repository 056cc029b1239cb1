"""The run's config: JSON, TOML or YAML (safe loading only), looked up by dotted keys."""

from __future__ import annotations

import json
import os

from ..errors import ArtefactError, toml_position

MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_CONFIG_DEPTH = 64  # levels of nested mappings and lists; a config is a few deep, deeper is refused
MAX_YAML_NODES = 100_000  # nodes of a YAML config once every alias is expanded (an alias bomb has billions)
_MISSING = object()


def read_config(path) -> dict:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ArtefactError(path, "file not found")
    if os.path.isdir(path):
        raise ArtefactError(path, "is a directory, expected a config file")
    size = os.path.getsize(path)
    if size == 0:
        raise ArtefactError(path, "file is empty (0 bytes)")
    if size > MAX_CONFIG_BYTES:
        raise ArtefactError(path, f"file is {size} bytes, more than the {MAX_CONFIG_BYTES} a config may have")
    from .tables import unchanged_while_read

    with unchanged_while_read(path), open(path, "rb") as handle:  # a config still being written is refused
        data = handle.read()
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # drop a BOM
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start  # in the file, not in the text after the BOM
        line = data.count(b"\n", 0, offset) + 1
        column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
        raise ArtefactError(path, f"not UTF-8 text (byte offset {offset})", line=line, column=column) from None
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".toml":
        data = _toml(path, text)
    elif suffix in (".yaml", ".yml"):
        data = _yaml(path, text)
    else:
        data = _json(path, text)
    if not isinstance(data, dict):
        raise ArtefactError(path, f"expected a mapping at the top level, got {type(data).__name__}")
    _bound_depth(path, data)
    return data


def _bound_depth(path, data, limit=MAX_CONFIG_DEPTH) -> None:
    """``ArtefactError`` naming the key path where ``data`` nests deeper than ``limit`` levels.

    Without recursion: whatever later walks the config (a check, a report writer) recurses into it,
    and a structure that contains itself (which no format here builds) would be infinitely deep.
    """
    stack = [(data, 1, None)]  # (node, its depth, (parent entry, key)) - a path is rebuilt only on error
    while stack:
        entry = stack.pop()
        node, depth, _ = entry
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if isinstance(child, (dict, list)):
                if depth >= limit:
                    parts = [str(key)]
                    up = entry
                    while up[2] is not None:
                        up, k = up[2]
                        parts.append(str(k))
                    parts.reverse()
                    shown = ".".join(parts) if len(parts) <= 8 else ".".join(parts[:6]) + ". ..."
                    raise ArtefactError(path, f"key {shown!r} is nested too deeply: more than {limit} levels, refused "
                                              "(a config is a few levels deep); flatten it, or keep such data out of "
                                              "the config file")
                stack.append((child, depth + 1, (entry, key)))


def _json(path, text):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtefactError(path, f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None
    except ValueError as exc:  # an integer of more digits than Python converts (4300)
        raise ArtefactError(path, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise ArtefactError(path, f"JSON nested too deeply for the parser (more than {MAX_CONFIG_DEPTH} levels is "
                                  "refused): flatten it") from None


def _toml(path, text):
    import tomllib


    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col, msg = toml_position(exc)
        raise ArtefactError(path, f"invalid TOML: {msg}", line=line, column=col) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise ArtefactError(path, f"invalid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ArtefactError(path, f"TOML nested too deeply for the parser (more than {MAX_CONFIG_DEPTH} levels is "
                                  "refused): flatten it") from None


def _yaml(path, text):
    try:
        import yaml
    except ImportError:
        raise ArtefactError(path, "reading a YAML config needs PyYAML: pip install 'runverdict[yaml]'") from None
    loader = None
    try:
        _yaml_depth(path, yaml, text)  # before composing, which recurses once per level
        loader = yaml.SafeLoader(text)  # its reader refuses non-printable characters here
        node = loader.get_single_node()  # aliases are shared nodes here: composing is linear in the text
        if node is None:
            return None
        _bound_expansion(path, node)  # before constructing: whatever walks the config sees the expanded tree
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ArtefactError(path, f"invalid YAML: {problem}", line=line, column=col) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise ArtefactError(path, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise ArtefactError(path, f"YAML nested too deeply for the parser (more than {MAX_CONFIG_DEPTH} levels is "
                                  "refused): flatten it") from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_depth(path, yaml, text, limit=MAX_CONFIG_DEPTH) -> None:
    """``ArtefactError`` at the line and column where the YAML text nests deeper than ``limit``:
    PyYAML's parser is a state machine, its composer and constructor recurse."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > limit:
                mark = event.start_mark
                raise ArtefactError(path, f"YAML nested too deeply: more than {limit} levels, refused (a config is "
                                          "a few levels deep); flatten it", line=mark.line + 1, column=mark.column + 1)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def _bound_expansion(path, root, limit=None) -> int:
    """The number of nodes of the YAML document ``root`` with every alias expanded; ``ArtefactError``
    past ``limit`` (``MAX_YAML_NODES``; an alias bomb: 1.8 KB of nested aliases expand to billions of
    nodes) and for an alias inside its own anchor (``a: &a [*a]``, an infinite document).

    Each distinct node is visited once (sizes are memoised by node), without recursion.
    """
    import yaml

    limit = MAX_YAML_NODES if limit is None else limit
    sizes = {}  # id(node) -> expanded size
    on_path = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            else:
                children = ()
            size = 1 + sum(sizes[id(c)] for c in children)
            if size > limit:
                mark = node.start_mark
                raise ArtefactError(path, f"YAML expands to more than {limit} nodes (an alias bomb?): refused "
                                          "before building it", line=mark.line + 1, column=mark.column + 1)
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in on_path:
            mark = node.start_mark
            raise ArtefactError(path, "YAML alias refers to a node that contains it (a recursive anchor): the "
                                      "config would be infinite", line=mark.line + 1, column=mark.column + 1)
        on_path.add(key)
        stack.append((node, True))
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = ()
        for child in reversed(children):
            if id(child) in on_path:
                mark = child.start_mark
                raise ArtefactError(path, "YAML alias refers to a node that contains it (a recursive anchor): "
                                          "the config would be infinite", line=mark.line + 1, column=mark.column + 1)
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def lookup(config: dict, dotted_key: str):
    """``lookup(cfg, "loss_weights.volatility")``; returns ``_MISSING`` when absent."""
    node = config
    for part in dotted_key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


MISSING = _MISSING
