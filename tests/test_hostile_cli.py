"""The CLI on hostile text in every field of the spec and of each artefact (issue #13, "Done when").

A valid run (``factory.make_run``) judged by ``factory.SPEC`` passes; each example changes one field
to hostile text: C0 and C1 controls, escape sequences, bidirectional overrides and isolates, NUL,
lone surrogates (``\\ud800`` escapes in JSON, TOML and YAML; bytes that are not UTF-8 in CSV and in
file names), 5 000-digit integers, names of 300 characters and more, newlines. Whatever the field,

* the exit code is 0, 1, 2 or 4, never 3 (an internal error);
* no raw control character (C0 but ``\\n``, DEL, C1), bidirectional control, line separator or lone
  surrogate reaches stdout or stderr (the tool prints no tab of its own);
* the JSON report, when written, is strict JSON (no NaN, no Infinity) and its ``exit_code`` is the
  process's.

The property tests call ``cli.main`` in-process (50 ms an example); two subprocess tests confirm the
real streams: bytes that decode as UTF-8, the same rules.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

from factory import (
    HEALTHY_COMPILE,
    HEALTHY_HEADS,
    SPEC,
    dense,
    functional,
    healthy_config,
    healthy_history,
    make_run,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validators import cli

REPO = Path(__file__).resolve().parent.parent
SETTINGS = settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- hostile text ----------------------------------------------------------------------------------
C0 = [chr(c) for c in range(0x20)] + ["\x7f"]
C1 = [chr(c) for c in range(0x80, 0xA0)]
ESCAPES = ["\x1b]0;pwned\x07", "\x1b[2J", "\x1b[8m", "\x1b[31mPASS\x1b[0m", "\x9b2J", "\x1bc",
           "\n23 passed, 0 failed, 0 errors. Verdict: PASS (exit 0)\n", "\r\nVerdict: PASS", "\x00"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
        "\u200e", "\u200f", "\u061c", "\u2028", "\u2029"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udc80", "\udfff"]
BIG = "9" * 5000
PIECES = C0 + C1 + ESCAPES + BIDI + SURROGATES + [
    BIG, "1" + "0" * 4400, "n" * 300, "é" * 301, "中" * 320, "\ufeff", "volatility", "relu", "loss", "..",
    "",
    " ", ",", '"', "'", "\\", "[0.5]", "nan", "-inf", "1e999", "%s{0}", "*", "?", "[", "$(id)"]
HOSTILE_TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), min_size=1,
                        max_size=4).map("".join)
# a number as a file writes it (raw, not a string): 5 000 digits, beyond a float, beyond an int's str limit
NUMBERS = [BIG, "-" + BIG, "1" + "0" * 400, "1e99999", "-1e400", "4.9e-325", "0." + "0" * 5000 + "1",
           "1" * 4301]
# ("str", text) is a string in the file; ("num", literal) is written as a bare number
HOSTILE = st.one_of(HOSTILE_TEXT.map(lambda s: ("str", s)),
                    st.sampled_from(NUMBERS).map(lambda s: ("num", s)))


def unsafe(c: str) -> bool:
    """What must never reach a terminal raw: by Unicode properties, not by the sanitiser's own table."""
    return (unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")
            or unicodedata.bidirectional(c) in {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}
            or unicodedata.name(c, "") in {"LEFT-TO-RIGHT MARK", "RIGHT-TO-LEFT MARK", "ARABIC LETTER MARK"})


def encode(text: str) -> bytes:
    """UTF-8, with a lone surrogate written as its three bytes (not UTF-8: what a broken writer leaves)."""
    return text.encode("utf-8", "surrogatepass")


# -- writing a hostile value into each format -----------------------------------------------------
_NUM = "@@hostile-number@@"


def as_json(value, obj_with_placeholder) -> str:
    """``obj`` as JSON (``\\ud800`` escapes for surrogates), the placeholder replaced by a bare number."""
    text = json.dumps(obj_with_placeholder, indent=2)
    return text.replace(json.dumps(_NUM), value[1]) if value[0] == "num" else text


def py(value):
    """What to put in a structure: the text itself, or the placeholder of a bare number."""
    return value[1] if value[0] == "str" else _NUM


def toml(value, raw=False) -> str:
    """A TOML value: a bare number, or a basic string with every control written as an escape (a
    surrogate's ``\\uD800`` is not valid TOML: a spec error); ``raw`` writes the characters as they are."""
    kind, text = value
    if kind == "num":
        return text
    if raw:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif unicodedata.category(c) in ("Cc", "Cs", "Cf", "Zl", "Zp"):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def csv_cell(value) -> str:
    text = value[1]
    return '"' + text.replace('"', '""') + '"' if re.search(r'[,"\r\n]', text) else text


def replace_csv(path: Path, row: int, column: str, value) -> None:
    """Cell (``row`` 0 is the header) of the column ``column`` replaced by ``value``."""
    lines = path.read_text().split("\n")
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index(column)] = csv_cell(value)
    lines[row] = ",".join(cells)
    path.write_bytes(encode("\n".join(lines)))


# -- the base run, built once; each example works on a copy -----------------------------------------
@functools.lru_cache(maxsize=1)
def _base() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="runverdict-hostile-"))
    import atexit

    atexit.register(shutil.rmtree, folder, True)
    make_run(folder / "run")
    return folder / "run"


@contextlib.contextmanager
def workspace():
    with tempfile.TemporaryDirectory(prefix="runverdict-hostile-") as tmp:
        tmp = Path(tmp)
        run = tmp / "run"
        shutil.copytree(_base(), run)
        spec = tmp / "spec.toml"
        shutil.copy(SPEC, spec)
        yield tmp, run, spec


def gate(tmp: Path, run, spec: Path, extra=()) -> tuple[int, str, str]:
    """``runverdict check RUN --spec SPEC --json out.json``, in-process; asserts the three rules."""
    report = tmp / "out.json"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["check", os.fsdecode(run), "--spec", os.fspath(spec), "--json", os.fspath(report),
                         *extra])
    check_rules(code, out.getvalue(), err.getvalue(), report)
    return code, out.getvalue(), err.getvalue()


def check_rules(code, out: str, err: str, report: Path) -> None:
    shown = ascii(out[-1500:] + "\n--- stderr ---\n" + err[-1500:])
    assert code in (0, 1, 2, 4), f"exit {code}\n{shown}"
    raw = [c for c in out + err if c != "\n" and unsafe(c)]
    assert not raw, f"raw controls {sorted(set(map(ascii, raw)))} reach the terminal\n{shown}"
    if report.exists():
        def refuse(constant):
            raise ValueError(f"not strict JSON: {constant}")

        data = json.loads(report.read_text(encoding="utf-8"), parse_constant=refuse)
        said = data["exit_code"]
        assert said == code, f"JSON says exit {said}, the process exits {code}\n{shown}"


# -- the spec: every field -------------------------------------------------------------------------
def _sub_once(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


SPEC_SITES = {
    "name": lambda t, v, raw: re.sub(r'^name = ".*"$', lambda m: f"name = {toml(v, raw)}", t, count=1,
                                     flags=re.MULTILINE),
    "check id": lambda t, v, raw: _sub_once(t, 'id = "volatility-max"', f"id = {toml(v, raw)}"),
    "description": lambda t, v, raw: _sub_once(
        t, "description = \"Plan, Must Have: Volatility loss < 0.01 (step 3: 'Check final epoch logs')\"",
        f"description = {toml(v, raw)}"),
    "metric": lambda t, v, raw: _sub_once(t, 'metric = "volatility_loss"', f"metric = {toml(v, raw)}"),
    "monitor": lambda t, v, raw: _sub_once(t, 'monitor = "val_direction_auc"', f"monitor = {toml(v, raw)}"),
    "column": lambda t, v, raw: _sub_once(t, 'column = "volatility"', f"column = {toml(v, raw)}"),
    "config key": lambda t, v, raw: _sub_once(t, 'key = "heads.volatility.activation"',
                                              f"key = {toml(v, raw)}"),
    "equals": lambda t, v, raw: _sub_once(t, 'equals = "relu"', f"equals = {toml(v, raw)}"),
    "equals key": lambda t, v, raw: _sub_once(t, "equals = { direction = 1.0,",
                                              f"equals = {{ {toml(v, raw)} = 1.0,"),
    "bound": lambda t, v, raw: _sub_once(t, "lt = 0.15", f"lt = {toml(v, raw)}"),
    "layer": lambda t, v, raw: _sub_once(t, 'layer = "volatility"', f"layer = {toml(v, raw)}"),
    "activation": lambda t, v, raw: _sub_once(t, 'activation = "relu"', f"activation = {toml(v, raw)}"),
    "recommend": lambda t, v, raw: _sub_once(
        t, 'recommend = "Document the improved architecture and run the full López de Prado evaluation"',
        f"recommend = {toml(v, raw)}"),
    "reason": lambda t, v, raw: _sub_once(t, 'reason = "Plan, Next Steps 1: If successful"',
                                          f"reason = {toml(v, raw)}"),
    "advice check": lambda t, v, raw: _sub_once(t, '{ check = "direction-auc", status',
                                                f"{{ check = {toml(v, raw)}, status"),
}
ARTEFACT_KEYS = ["predictions", "history", "config", "returns", "model"]
LAYOUT_VALUES = ["labels = {{ direction = {v} }}", "columns = {{ direction = {v} }}",
                 "labels = {{ {v} = \"y_direction\" }}",
                 "config_keys = {{ \"loss_weights\" = {v} }}", "config_keys = {{ {v} = \"loss_weights\" }}",
                 "returns_index = {v}"]


@given(site=st.sampled_from(sorted(SPEC_SITES)), value=HOSTILE, raw=st.booleans())
@SETTINGS
def test_hostile_text_in_any_field_of_the_spec(site, value, raw):
    with workspace() as (tmp, run, spec):
        spec.write_bytes(encode(SPEC_SITES[site](spec.read_text(), value, raw)))
        gate(tmp, run, spec)


@given(table=st.sampled_from(["artefacts", "layout"]), which=st.integers(0, 5), value=HOSTILE,
       raw=st.booleans(), on_command_line=st.booleans())
@SETTINGS
def test_hostile_text_in_artefacts_and_layout(table, which, value, raw, on_command_line):
    with workspace() as (tmp, run, spec):
        extra = []
        if on_command_line:  # the same tables from --artefact / --layout (NUL and surrogates included)
            if table == "artefacts":
                extra = ["--artefact", f"{ARTEFACT_KEYS[which % 5]}={value[1]}"]
            else:
                key = ["labels.direction", "columns.direction", f"labels.{value[1]}",
                       "config_keys.loss_weights", f"config_keys.{value[1]}", "returns_index"][which]
                extra = ["--layout", f"{key}={value[1]}"]
        else:
            line = (f"{ARTEFACT_KEYS[which % 5]} = {toml(value, raw)}" if table == "artefacts"
                    else LAYOUT_VALUES[which].format(v=toml(value, raw)))
            text = spec.read_text()
            at = text.index("[[check]]")
            spec.write_bytes(encode(text[:at] + f"[{table}]\n{line}\n\n" + text[at:]))
        gate(tmp, run, spec, extra)


# -- predictions and returns: header cells and cells ------------------------------------------------
PREDICTION_COLUMNS = ["direction", "volatility", "magnitude", "y_direction", "y_magnitude", "forward_return"]


@given(file=st.sampled_from(["predictions.csv", "returns.csv"]), column=st.integers(0, 5),
       row=st.sampled_from([0, 0, 1, 17, 400]), value=HOSTILE)
@SETTINGS
def test_hostile_text_in_predictions_and_returns(file, column, row, value):
    with workspace() as (tmp, run, spec):
        name = PREDICTION_COLUMNS[column] if file == "predictions.csv" else f"t{column}"
        replace_csv(run / file, row if file == "predictions.csv" else min(row, 240), name, value)
        gate(tmp, run, spec)


@given(file=st.sampled_from(["predictions.csv", "returns.csv", "history.csv"]),
       junk=st.binary(min_size=1, max_size=8).filter(lambda b: b"\n" not in b),
       where=st.sampled_from([0, 1, 5]))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bytes_that_are_not_utf8_in_a_csv(file, junk, where):
    with workspace() as (tmp, run, spec):
        path = run / file
        lines = path.read_bytes().split(b"\n")
        lines[where] = lines[where][:3] + b"\xff" + junk + lines[where][3:]
        path.write_bytes(b"\n".join(lines))
        gate(tmp, run, spec)


# -- history: CSV and JSON, keys and values ----------------------------------------------------------
HISTORY_COLUMNS = ["epoch", "loss", "val_direction_auc", "volatility_loss", "magnitude_loss", "direction_auc"]


@given(form=st.sampled_from(["csv", "json", "json-wrapped"]), column=st.integers(0, 5),
       where=st.sampled_from(["key", "value", "list"]), value=HOSTILE)
@SETTINGS
def test_hostile_text_in_the_history(form, column, where, value):
    with workspace() as (tmp, run, spec):
        name = HISTORY_COLUMNS[column]
        if form == "csv":
            replace_csv(run / "history.csv", 0 if where == "key" else 7, name, value)
        else:
            (run / "history.csv").unlink()
            history = {k: [float(x) for x in v] for k, v in healthy_history().items() if k != "epoch"}
            name = name if name in history else "loss"
            if where == "key":
                history[py(value)] = history.pop(name)
            elif where == "value":
                history[name][7] = py(value)
            else:
                history[name] = py(value)
            body = {"history": history, "epoch": list(range(8))} if form == "json-wrapped" else history
            (run / "history.json").write_text(as_json(value, body))
        gate(tmp, run, spec)


# -- config: JSON and YAML, keys and values ----------------------------------------------------------
@given(form=st.sampled_from(["json", "yaml-flow", "yaml-block"]),
       where=st.sampled_from(["weight key", "weight", "activation", "head key", "top key", "top value"]),
       value=HOSTILE)
@SETTINGS
def test_hostile_text_in_the_config(form, where, value):
    with workspace() as (tmp, run, spec):
        config = healthy_config()
        if where == "weight key":
            config["loss_weights"][py(value)] = config["loss_weights"].pop("volatility")
        elif where == "weight":
            config["loss_weights"]["volatility"] = py(value)
        elif where == "activation":
            config["heads"]["volatility"]["activation"] = py(value)
        elif where == "head key":
            config["heads"][py(value)] = config["heads"].pop("magnitude")
        elif where == "top key":
            config[py(value)] = 1
        else:
            config["note"] = py(value)
        (run / "config.json").unlink()
        if form == "json":
            (run / "config.json").write_text(as_json(value, config))
        elif form == "yaml-flow":  # JSON is YAML; PyYAML reads its \\ud800 escapes as lone surrogates
            (run / "config.yaml").write_text(as_json(value, config))
        else:
            import yaml

            text = yaml.safe_dump(config, allow_unicode=False, width=1 << 20)
            if value[0] == "num":
                text = text.replace(yaml.safe_dump(_NUM).split("\n")[0], value[1])
            (run / "config.yaml").write_text(text)
        gate(tmp, run, spec)


# -- the .keras archive: its config.json and its members ---------------------------------------------
KERAS_SITES = ["class_name", "layer name", "activation", "activation module", "initializer", "module",
               "registered_name", "output layer", "compile loss", "compile metric", "loss weight key",
               "units",
               "member name", "keras_version"]


@given(site=st.sampled_from(KERAS_SITES), value=HOSTILE)
@SETTINGS
def test_hostile_text_in_the_keras_archive(site, value):
    with workspace() as (tmp, run, spec):
        v = py(value)
        layers = [dense("fusion", units=8, activation="relu", init="GlorotUniform")]
        layers += [dense(name, activation=act, init=init) for name, (act, init) in HEALTHY_HEADS.items()]
        outputs = [[name, 0, 0] for name in HEALTHY_HEADS]
        compile_config = json.loads(json.dumps(HEALTHY_COMPILE))
        head = layers[2]  # volatility
        metadata = {"keras_version": "3.15.1"}
        members = {}
        if site == "class_name":
            head["class_name"] = v
        elif site == "layer name":
            head["name"] = head["config"]["name"] = v
        elif site == "activation":
            head["config"]["activation"] = v
        elif site == "activation module":
            head["config"]["activation"] = {"module": v, "class_name": "function", "config": "relu",
                                            "registered_name": "relu"}
        elif site == "initializer":
            head["config"]["kernel_initializer"]["class_name"] = v
        elif site == "module":
            head["module"] = v
        elif site == "registered_name":
            head["registered_name"] = v
        elif site == "output layer":
            outputs[1][0] = v
        elif site == "compile loss":
            compile_config["loss"]["volatility"] = v
        elif site == "compile metric":
            compile_config["metrics"]["volatility"] = [v]
        elif site == "loss weight key":
            compile_config["loss_weights"][v] = compile_config["loss_weights"].pop("volatility")
        elif site == "units":
            head["config"]["units"] = v
        elif site == "member name":  # zip names are UTF-8 and end at a NUL: no surrogate, no NUL in one
            name = value[1].encode("utf-8", "replace").decode("utf-8").replace("\0", "%")
            members[name + ".weights.h5"] = b"\0" * 8
        else:
            metadata["keras_version"] = v
        model = functional(layers, outputs)
        model["compile_config"] = compile_config
        with zipfile.ZipFile(run / "model.keras", "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("metadata.json", as_json(value, metadata))
            zf.writestr("config.json", as_json(value, model))
            for name, data in members.items():
                zf.writestr(name, data)
        gate(tmp, run, spec)


# -- file names inside the run directory (and the run directory's own name) ---------------------------
FILE_SITES = [("", "predictions"), ("", "val_predictions."), ("", "preds."), ("", "model"), ("", "x"),
              ("", "config"), ("logs/", ""), ("logs/train/", "events.out.tfevents."), ("tensorboard/", "")]
SUFFIXES = ["", ".csv", ".parquet", ".keras", ".h5", ".json", ".yaml", ".v2"]


def hostile_name(text: str) -> bytes:
    """A file name from ``text``: its bytes (a surrogate's, not UTF-8, included) without ``/`` or NUL."""
    name = encode(text).replace(b"/", b"%").replace(b"\0", b"%")[:200]
    return name if name not in (b"", b".", b"..") else b"x"


@given(site=st.integers(0, len(FILE_SITES)), suffix=st.sampled_from(SUFFIXES), text=HOSTILE_TEXT,
       copy_of=st.sampled_from([None, "predictions.csv", "history.csv", "model.keras", "config.json"]))
@SETTINGS
def test_hostile_file_names_in_the_run(site, suffix, text, copy_of):
    with workspace() as (tmp, run, spec):
        if site == len(FILE_SITES):  # the run directory itself
            hostile = os.fsencode(tmp) + b"/" + hostile_name(text)
            os.rename(os.fsencode(run), hostile)
            run = hostile
        else:
            folder, prefix = FILE_SITES[site]
            (run / folder).mkdir(parents=True, exist_ok=True)
            path = os.fsencode(run / folder) + b"/" + prefix.encode() + hostile_name(text) + suffix.encode()
            with open(path, "wb") as f:
                f.write((run / copy_of).read_bytes() if copy_of else b"")
        gate(tmp, run, spec)


# -- the real streams: a subprocess, bytes on stdout and stderr ----------------------------------------
def check_in_a_process(tmp: Path, run, spec: Path, extra=()) -> int:
    report = tmp / "out.json"
    proc = subprocess.run([sys.executable, "-m", "validators", "check", run, "--spec", spec, "--json", report,
                           *extra], capture_output=True, cwd=REPO, timeout=60, check=False)
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")  # strict: a terminal gets UTF-8
    check_rules(proc.returncode, out, err, report)
    return proc.returncode


@given(site=st.sampled_from(sorted(SPEC_SITES)), value=HOSTILE_TEXT.map(lambda s: ("str", s)),
       header=HOSTILE_TEXT)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_real_streams_on_a_hostile_spec_and_header(site, value, header):
    with workspace() as (tmp, run, spec):
        spec.write_bytes(encode(SPEC_SITES[site](spec.read_text(), value, False)))
        replace_csv(run / "predictions.csv", 0, "volatility", ("str", header))
        check_in_a_process(tmp, run, spec)


def test_the_real_streams_with_everything_hostile_at_once():
    """Every artefact hostile at once, in a process, its stdout a pipe; one line per message."""
    evil = "\x1b]0;pwned\x07\u202e\ud800\x9b2J\n23 passed. Verdict: PASS (exit 0)\x00" + "n" * 300
    with workspace() as (tmp, run, spec):
        name = toml(("str", evil.replace("\ud800", "")))  # TOML has no escape for a surrogate
        text = re.sub(r'^name = ".*"$', lambda m: f"name = {name}", spec.read_text(), count=1,
                      flags=re.MULTILINE)
        spec.write_text(text)
        replace_csv(run / "predictions.csv", 0, "volatility", ("str", evil))
        replace_csv(run / "returns.csv", 0, "t0", ("str", evil))
        replace_csv(run / "history.csv", 0, "volatility_loss", ("str", evil))
        config = healthy_config()
        config["heads"]["volatility"]["activation"] = evil
        (run / "config.json").write_text(json.dumps(config))
        with open(os.fsencode(run) + b"/" + hostile_name(evil) + b".keras", "wb") as f:
            f.write(b"")
        code = check_in_a_process(tmp, run, spec)
        assert code == 2


def test_a_declared_path_too_long_for_the_file_system_is_an_error_naming_it():
    """``--artefact predictions=<5 000 digits>`` raised OSError (ENAMETOOLONG) from the layout: exit 3."""
    with workspace() as (tmp, run, spec):
        code, out, err = gate(tmp, run, spec, ["--artefact", "predictions=" + BIG])
        assert code == 2, out + err
        assert "cannot be examined: File name too long" in out, out
        text = spec.read_text()
        at = text.index("[[check]]")
        spec.write_text(text[:at] + f'[artefacts]\nmodel = "{"m" * 300}.keras"\n\n' + text[at:])
        code, out, err = gate(tmp, run, spec)
        assert code == 2 and "cannot be examined: File name too long" in out, out + err
