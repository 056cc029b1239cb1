"""validators.artefacts.config_file: JSON, TOML and YAML configs (safe loading only) and dotted-key lookup."""

from __future__ import annotations

import json
import math

import pytest
from factory import healthy_config

from validators.artefacts.config_file import MISSING, lookup, read_config
from validators.errors import ArtefactError

TOML = """\
[loss_weights]
direction = 1.0
volatility = 0.3
magnitude = 0.3

[heads.volatility]
activation = "relu"
"""

YAML = """\
loss_weights:
  direction: 1.0
  volatility: 0.3
  magnitude: 0.3
heads:
  volatility:
    activation: relu
"""

EXPECTED = {"loss_weights": {"direction": 1.0, "volatility": 0.3, "magnitude": 0.3},
            "heads": {"volatility": {"activation": "relu"}}}


@pytest.mark.parametrize("name, text", [
    ("config.json", json.dumps(EXPECTED)),
    ("config.toml", TOML),
    ("config.yaml", YAML),
    ("config.yml", YAML),
    ("settings", json.dumps(EXPECTED)),  # any other suffix is read as JSON
])
def test_formats_read_the_same(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert read_config(path) == EXPECTED


@pytest.mark.parametrize("name, text, line, column, what", [
    ("config.json", '{\n  "a": 1,\n  "b": ,\n}', 3, 8, "invalid JSON"),
    ("config.json", '{"a": 1', 1, 8, "invalid JSON"),
    ("config.toml", 'a = 1\nb = = 2\n', 2, 5, "invalid TOML"),
    ("config.toml", '[x]\na = 1\n[x]\n', 3, 3, "invalid TOML"),
    ("config.yaml", 'a: 1\nb: [1, 2\nc: 3\n', 3, 2, "invalid YAML"),
    ("config.yaml", 'a: 1\n  b: 2\n', 2, 4, "invalid YAML"),
])
def test_syntax_errors_name_line_and_column(tmp_path, name, text, line, column, what):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ArtefactError) as info:
        read_config(path)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)
    assert str(info.value).startswith(f"{path}:{line}:{column}: {what}")


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("a: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ArtefactError, match=r"config.yaml:1:\d+: invalid YAML"):
        read_config(path)


@pytest.mark.parametrize("name, content, message", [
    ("config.json", b"", r"file is empty \(0 bytes\)"),
    ("config.json", b"[1, 2]", "expected a mapping at the top level, got list"),
    ("config.json", b"null", "expected a mapping at the top level, got NoneType"),
    ("config.yaml", b"---\n", "expected a mapping at the top level, got NoneType"),
    ("config.yaml", b"- a\n- b\n", "expected a mapping at the top level, got list"),
    ("config.json", b'{"a": "\xff"}', r"not UTF-8 text \(byte offset 7\)"),
    ("config.json", b"[" * 100000 + b"]" * 100000, "nested too deeply|expected a mapping|invalid JSON"),
])
def test_unusable_config(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ArtefactError, match=message):
        read_config(path)


def test_missing_and_directory(tmp_path):
    with pytest.raises(ArtefactError, match="config.json: file not found"):
        read_config(tmp_path / "config.json")
    with pytest.raises(ArtefactError, match="is a directory"):
        read_config(tmp_path)


def test_json_nan_is_read_as_nan(tmp_path):
    # json.loads accepts NaN; the config kind then never finds it equal to a number.
    path = tmp_path / "config.json"
    path.write_text('{"lr": NaN}')
    assert math.isnan(read_config(path)["lr"])


# -- lookup -----------------------------------------------------------------------------------

@pytest.mark.parametrize("key, expected", [
    ("loss_weights", {"direction": 1.0, "volatility": 0.3, "magnitude": 0.3}),
    ("loss_weights.volatility", 0.3),
    ("heads.volatility.activation", "relu"),
    ("heads.direction.kernel_initializer", "glorot_uniform"),
    ("layers.0", 64),
    ("layers.-1", 1),
    ("layers.1", 32),
    ("flags.enabled", False),
    ("flags.threshold", 0),
    ("flags.none", None),
])
def test_lookup_dotted_keys(key, expected):
    config = healthy_config() | {"layers": [64, 32, 1],
                                 "flags": {"enabled": False, "threshold": 0, "none": None}}
    found = lookup(config, key)
    assert found == expected and type(found) is type(expected)


@pytest.mark.parametrize("key", ["nope", "loss_weights.nope", "heads.volatility.activation.x",
                                 "layers.3", "layers.-4", "layers.x", "loss_weights.0", ""])
def test_lookup_missing_is_the_sentinel(key):
    config = healthy_config() | {"layers": [64, 32, 1]}
    assert lookup(config, key) is MISSING


def test_falsy_values_are_found_not_missing():
    # 0, False, None and "" are values; only an absent key is MISSING.
    for value in (0, 0.0, False, None, "", [], {}):
        assert lookup({"a": {"b": value}}, "a.b") == value
        assert lookup({"a": {"b": value}}, "a.b") is not MISSING


@pytest.mark.parametrize("name", ["config.json", "config.toml", "config.yaml"])
def test_utf8_bom_is_accepted(tmp_path, name):
    # Editors on Windows save with a BOM; json.loads would refuse it as "Unexpected UTF-8 BOM".
    text = {"config.json": json.dumps(EXPECTED), "config.toml": TOML, "config.yaml": YAML}[name]
    path = tmp_path / name
    path.write_bytes("\ufeff".encode() + text.encode())
    assert read_config(path) == EXPECTED
