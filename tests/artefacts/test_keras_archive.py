"""Reading a .keras file's architecture without Keras: real saved models, bad archives, fuzzing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from factory import dense, functional, keras_file, make_zip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validators.artefacts import keras_archive as ka
from validators.artefacts.keras_archive import (
    LayerInfo,
    head_layers,
    keras_name,
    layer_info,
    model_layers,
    read_keras_archive,
    read_model_config,
    unsafe_layers,
)
from validators.errors import ArtefactError

# --------------------------------------------------------------------------- real models


@pytest.fixture(scope="session")
def saved(tmp_path_factory):
    """Real .keras files saved by Keras 3: the plan's 3-head model, a Sequential, a nested
    model, and two that need unsafe deserialisation."""
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    root = tmp_path_factory.mktemp("keras_models")
    prices = keras.Input((4,), name="prices")
    volume = keras.Input((3,), name="volume")
    x = keras.layers.Concatenate(name="concat")([prices, volume])
    x = keras.layers.Dense(8, activation="relu", name="fusion")(x)
    heads = {
        "direction": keras.layers.Dense(1, activation="sigmoid", name="direction")(x),
        "volatility": keras.layers.Dense(1, activation="relu", kernel_initializer="he_normal", name="volatility")(x),
        "magnitude": keras.layers.Dense(
            2, activation="linear", kernel_initializer=keras.initializers.GlorotUniform(seed=1), name="magnitude"
        )(x),
    }
    model = keras.Model([prices, volume], heads)
    model.compile(optimizer="adam", loss={"direction": "binary_crossentropy", "volatility": "mse", "magnitude": "mse"})
    model.save(root / "model.keras")

    seq = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(4, activation="tanh", kernel_initializer=keras.initializers.VarianceScaling(2.0), name="h"),
            keras.layers.Dense(3, activation="softmax", kernel_initializer="lecun_normal", name="o"),
        ]
    )
    seq.save(root / "sequential.keras")

    inner_in = keras.Input((6,))
    inner = keras.Model(inner_in, keras.layers.Dense(2, activation="elu", name="core")(inner_in), name="inner")
    outer_in = keras.Input((6,), name="x")
    outer = keras.Model(outer_in, keras.layers.Dense(1, name="head")(inner(outer_in)))
    outer.save(root / "nested.keras")

    i = keras.Input((3,))
    lam = keras.Model(i, keras.layers.Dense(1, name="out")(keras.layers.Lambda(lambda t: t * 2, name="double")(i)))
    lam.save(root / "lambda.keras")

    def custom_activation(t):
        return t * 2

    j = keras.Input((3,))
    keras.Model(j, keras.layers.Dense(1, activation=custom_activation, name="out")(j)).save(root / "custom_fn.keras")
    return root


def test_heads_of_the_plans_model(saved):
    heads = head_layers(saved / "model.keras")
    assert set(heads) == {"direction", "volatility", "magnitude"}
    assert heads["volatility"] == LayerInfo(
        name="volatility",
        class_name="Dense",
        activation="relu",
        kernel_initializer="he_normal",
        units=1,
        output_shape=(None, 1),
        is_output=True,
        output_names=("volatility",),
    )
    assert heads["direction"].activation == "sigmoid"
    assert heads["direction"].kernel_initializer == "glorot_uniform"
    assert heads["magnitude"].output_shape == (None, 2)
    layers = model_layers(saved / "model.keras")
    assert set(layers) == {"prices", "volume", "concat", "fusion", "direction", "volatility", "magnitude"}
    assert not layers["fusion"].is_output and layers["fusion"].output_shape == (None, 8)
    assert layers["prices"].output_shape == (None, 4) and layers["concat"].output_shape is None
    assert unsafe_layers(saved / "model.keras") == ()
    archive = read_keras_archive(saved / "model.keras")
    assert archive.keras_version and archive.keras_version.startswith("3.")
    assert read_model_config(saved / "model.keras")["class_name"] == "Functional"


@pytest.mark.parametrize("name", ["model.keras", "sequential.keras", "nested.keras"])
def test_agrees_with_keras_loading_the_same_file(saved, name):
    keras = pytest.importorskip("keras")
    model = keras.models.load_model(saved / name, safe_mode=True)
    ours = model_layers(saved / name)
    for layer in model.layers:
        info = ours[layer.name]
        assert info.class_name == type(layer).__name__
        if isinstance(layer, keras.layers.Dense):
            assert info.activation == layer.activation.__name__
            assert info.kernel_initializer == keras_name(type(layer.kernel_initializer).__name__)
            assert info.units == layer.units
            assert info.output_shape == tuple(layer.output.shape)
    output_layers = {t._keras_history.operation.name for t in keras.tree.flatten(model.outputs)}
    assert {n for n, i in ours.items() if i.is_output} == output_layers


def test_sequential_and_nested_models(saved):
    seq = model_layers(saved / "sequential.keras")
    assert seq["h"].kernel_initializer == "variance_scaling"  # never guessed to be he_normal
    assert seq["o"].kernel_initializer == "lecun_normal" and seq["o"].is_output
    assert [n for n, i in seq.items() if i.is_output] == ["o"]
    nested = model_layers(saved / "nested.keras")
    assert nested["inner/core"].activation == "elu" and nested["inner/core"].output_shape == (None, 2)
    assert not nested["inner/core"].is_output
    assert head_layers(saved / "nested.keras")["head"].activation == "linear"


def test_lambda_layers_are_reported_never_loaded(saved):
    keras = pytest.importorskip("keras")
    with pytest.raises(ValueError, match="safe_mode"):  # Keras itself refuses it in safe mode
        keras.models.load_model(saved / "lambda.keras", safe_mode=True)
    unsafe = unsafe_layers(saved / "lambda.keras")
    assert {(u.layer, u.reason.split(" (")[0]) for u in unsafe} == {
        ("double", "a Lambda layer"),
        ("double", "a Python lambda"),
    }
    assert layer_info(saved / "lambda.keras", "double").class_name == "Lambda"  # read as data all the same


def test_custom_python_functions_are_reported(saved):
    (item,) = unsafe_layers(saved / "custom_fn.keras")
    assert item.layer == "out" and "custom_activation" in item.reason and "needs user code" in item.reason
    assert layer_info(saved / "custom_fn.keras", "out").activation == "custom_activation"


def test_no_such_layer_lists_the_layers_and_suggests(saved):
    with pytest.raises(ArtefactError) as info:
        layer_info(saved / "model.keras", "volatilty")
    assert "no layer named 'volatilty'" in str(info.value)
    assert "'fusion'" in str(info.value) and "did you mean 'volatility'?" in str(info.value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0, 1, exclude_max=True))
def test_any_truncation_of_a_real_file_is_an_error(saved, tmp_path, cut):
    data = (saved / "model.keras").read_bytes()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: int(cut * len(data))])
    with pytest.raises(ArtefactError, match="is not a valid .keras file"):
        read_keras_archive(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255))
def test_a_flipped_byte_is_an_error_or_changes_nothing(saved, tmp_path, pos, flip):
    # The zip's CRCs cover config.json; bytes we never read (weights, timestamps) may change.
    data = bytearray((saved / "model.keras").read_bytes())
    data[int(pos * len(data))] ^= flip
    path = tmp_path / "flip.keras"
    path.write_bytes(bytes(data))
    try:
        got = model_layers(path)
    except ArtefactError:
        return
    assert got == model_layers(saved / "model.keras")


# --------------------------------------------------------------------------- hand-made archives


def write_model(tmp_path, config, name="m.keras") -> Path:
    return keras_file(tmp_path / name, config)


def test_output_layer_forms(tmp_path):
    layers = [dense("a"), dense("b", init="GlorotUniform"), dense("c", init="RandomNormal")]
    for outputs, expected in [
        (["a", 0, 0], {"a": ("a",)}),
        ([["a", 0, 0], ["b", 0, 0]], {"a": ("a",), "b": ("b",)}),
        ({"vol": ["c", 0, 0], "dir": ["a", 0, 0]}, {"c": ("vol",), "a": ("dir",)}),
    ]:
        heads = head_layers(write_model(tmp_path, functional(layers, outputs)))
        assert {n: i.output_names for n, i in heads.items()} == expected
    assert model_layers(tmp_path / "m.keras")["c"].kernel_initializer == "random_normal"


@pytest.mark.parametrize(
    "cls, name",
    [("HeNormal", "he_normal"), ("GlorotUniform", "glorot_uniform"), ("LecunUniform", "lecun_uniform"),
     ("TruncatedNormal", "truncated_normal"), ("Zeros", "zeros"), ("STFT", "stft")],
)
def test_keras_names(cls, name):
    assert keras_name(cls) == name


def test_keras_names_are_the_aliases_keras_accepts(saved):
    keras = pytest.importorskip("keras")
    from keras.src.initializers import ALL_OBJECTS, ALL_OBJECTS_DICT
    from keras.src.utils.naming import to_snake_case

    assert keras.initializers.get("he_normal").__class__.__name__ == "HeNormal"
    for cls in ALL_OBJECTS:
        assert keras_name(cls.__name__) == to_snake_case(cls.__name__)
        assert ALL_OBJECTS_DICT[keras_name(cls.__name__)] is cls


def test_string_and_custom_initializers(tmp_path):
    layer = dense("a")
    layer["config"]["kernel_initializer"] = "he_uniform"
    other = dense("b")
    other["config"]["kernel_initializer"] = {"module": "mypkg.inits", "class_name": "Mine", "registered_name": "mypkg>Mine"}
    layers = model_layers(write_model(tmp_path, functional([layer, other], [["a", 0, 0], ["b", 0, 0]])))
    assert layers["a"].kernel_initializer == "he_uniform"
    assert layers["b"].kernel_initializer == "mypkg>Mine"  # not passed off as a Keras name


def test_lambda_anywhere_is_reported(tmp_path):
    config = functional([dense("a")], ["a", 0, 0])
    config["compile_config"] = {"loss": {"class_name": "__lambda__", "config": {"code": "AAAA"}}}
    (item,) = unsafe_layers(write_model(tmp_path, config))
    assert item.layer is None and item.location == "config.compile_config.loss" and "lambda" in item.reason


@pytest.mark.parametrize(
    "content, message",
    [
        (b"epoch,loss\n0,1.0\n", "is not a valid .keras file (not a zip archive)"),
        (b"", "is not a valid .keras file (an empty file (0 bytes))"),
        (b"\x89HDF\r\n\x1a\n" + bytes(100), "an HDF5 file: a legacy .h5 model"),
    ],
)
def test_not_a_zip(tmp_path, content, message):
    path = tmp_path / "model.keras"
    path.write_bytes(content)
    with pytest.raises(ArtefactError) as info:
        read_keras_archive(path)
    assert str(info.value) == f"{path}: {message}" or message in str(info.value)


def test_truncated_zip_says_so(tmp_path):
    path = write_model(tmp_path, functional([dense("a")], ["a", 0, 0]))
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ArtefactError, match=r"not a valid .keras file \(a truncated or damaged zip archive"):
        read_keras_archive(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ArtefactError, match="no such file"):
        read_keras_archive(tmp_path / "none.keras")
    with pytest.raises(ArtefactError, match="is a directory"):
        read_keras_archive(tmp_path)


def test_missing_config_json(tmp_path):
    path = make_zip(tmp_path / "m.keras", {"metadata.json": "{}", "model.weights.h5": b"x"})
    with pytest.raises(ArtefactError, match=r"has no config.json; members: metadata.json, model.weights.h5"):
        read_keras_archive(path)


def test_invalid_json_gives_line_and_column(tmp_path):
    path = make_zip(tmp_path / "m.keras", {"config.json": '{\n  "class_name": "Functional",\n  oops\n}'})
    with pytest.raises(ArtefactError, match=r"config.json is not valid JSON: line 3 column 3"):
        read_keras_archive(path)


def test_deeply_nested_json_is_an_error(tmp_path):
    path = make_zip(tmp_path / "m.keras", {"config.json": "[" * 100_000 + "]" * 100_000})
    with pytest.raises(ArtefactError, match="config.json is nested too deeply"):
        read_keras_archive(path)


@pytest.mark.parametrize(
    "config, message",
    [
        ([1, 2], "config.json does not hold a serialised Keras model"),
        ({"class_name": "MyModel", "config": {"units": 3}}, "has no list of layers in its config"),
        (functional([dense("a"), dense("a")], ["a", 0, 0]), "two layers are named 'a'"),
        (functional([dense("a")], ["zz", 0, 0]), r"output_layers names layers that do not exist: \['zz'\]"),
        (functional([dense("a")], []), "output_layers names no output layer"),
        (functional([dense("a")], "a"), "unexpected output_layers entry"),
        (functional(["a"], ["a", 0, 0]), r"config.layers\[0\] is not a layer object"),
    ],
)
def test_configs_that_are_not_models(tmp_path, config, message):
    with pytest.raises(ArtefactError, match=message):
        read_keras_archive(write_model(tmp_path, config))


def test_config_json_too_large_is_refused(tmp_path):
    # A real zip bomb: 60 MB of spaces deflate to ~60 KB. Refused on its declared size.
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", b" " * (60 * 1024 * 1024))
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(ArtefactError, match=r"config.json is 62914560 bytes uncompressed, more than the 52428800-byte limit"):
        read_keras_archive(path)


def test_a_member_inflating_past_its_declared_size_is_refused(tmp_path, monkeypatch):
    path = write_model(tmp_path, functional([dense("a")], ["a", 0, 0]))
    size = len(zipfile.ZipFile(path).read("config.json"))
    monkeypatch.setattr(ka, "MAX_CONFIG_BYTES", size - 1)
    with pytest.raises(ArtefactError, match=rf"config.json is {size} bytes uncompressed, more than the {size - 1}-byte limit"):
        read_keras_archive(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_artefact_errors(tmp_path, data):
    path = tmp_path / "fuzz.keras"
    path.write_bytes(data)
    try:
        read_keras_archive(path)
    except ArtefactError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(
        ["class_name", "config", "layers", "output_layers", "name", "units", "activation",
         "kernel_initializer", "build_config", "input_shape", "inbound_nodes", "module"]), kids, max_size=5),
    max_leaves=30,
))
def test_arbitrary_json_configs_raise_only_artefact_errors(tmp_path, config):
    path = make_zip(tmp_path / "fuzz.keras", {"config.json": json.dumps(config)})
    try:
        read_keras_archive(path)
    except ArtefactError:
        pass
