"""A corpus of broken runs: copies of the healthy fixture run with one thing broken each.

Every case starts from ``fixtures/runs/run3_relu`` (a real Keras training run that passes the
whole of ``checks/run3.toml``), copied to a temporary folder, and breaks one thing in it: the
cases of ``BAD_INPUTS.md`` about artefacts, values and the environment (1-20, 28, 29), and more
found in what pandas, numpy, Keras and TensorBoard actually write. Each case says what the gate
must answer: the exit code, the status of the checks it touches (and of some it must not touch),
and fragments of the output, which name the file and, where there is one, the line and column or
the byte offset (``{run}`` stands for the broken run's folder).

The spec cases of BAD_INPUTS.md (21-27) are tested in ``tests/test_spec.py`` and
``tests/test_bad_inputs.py``; concurrent report writers (30) in ``tests/test_faults.py``; an
uncaught exception (31) in ``tests/test_bad_inputs.py``: see ``ELSEWHERE``.

``python tests/corpus.py`` prints the README section "What the gate refuses", rendered from
this file by :func:`render_readme_section` (``tests/test_corpus.py`` checks the README holds it).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import struct
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _factory_spec() -> Path:
    from factory import SPEC as spec

    return spec

FIXTURE = REPO / "fixtures" / "runs" / "run3_relu"
SHIPPED_SPEC = REPO / "checks" / "run3.toml"
SPEC = _factory_spec()  # the shipped spec plus the config checks a team adds (tests/factory.py)

PASS, FAIL, ERROR = "pass", "fail", "error"

VOLATILITY = ("volatility-not-saturated", "volatility-max", "volatility-not-dead", "volatility-range")
MAGNITUDE = ("magnitude-mean", "magnitude-max", "magnitude-not-dead", "magnitude-range")
PREDICTIONS = VOLATILITY + MAGNITUDE + ("direction-auc-exact",)
HISTORY = ("volatility-loss", "magnitude-loss", "direction-auc", "direction-auc-improved")
HISTORY_READERS = HISTORY + ("direction-auc-vs-baseline",)  # the delta check reads the candidate's history too
CONFIG = ("config-loss-weights", "config-volatility-activation", "config-magnitude-activation")
MODEL = ("loss-weights", "volatility-head", "magnitude-head")
RETURNS = ("pbo", "pbo-improved", "sharpe")
EVERY_CHECK = PREDICTIONS + HISTORY + CONFIG + MODEL + RETURNS + ("direction-auc-vs-baseline",)


@dataclass(frozen=True)
class Case:
    """One broken run and the gate's answer to it."""

    name: str
    bad_inputs: int | None  # the case number in BAD_INPUTS.md, None for one found beyond it
    what: str  # the broken input, in a few words (the README's first column)
    mutate: Callable[[Path], None]  # breaks the copy of the fixture run, in place
    exit: int
    statuses: Mapping[str, str] = field(default_factory=dict)  # check id -> expected status
    fragments: tuple[str, ...] = ()  # in stdout + stderr; {run} is the run directory
    spec_edit: Callable[[str], str] | None = None  # a change to checks/run3.toml
    args: tuple[str, ...] = ()  # more command-line arguments; {run} and {tmp} are filled in
    env: Mapping[str, str] = field(default_factory=dict)
    subprocess: bool = False  # also run it in a real process (python -m validators)
    xfail: str | None = None  # a known bug: the gate does not answer this yet (why)

    def argv(self, run_dir, spec, report, tmp) -> list[str]:
        extra = [a.format(run=run_dir, tmp=tmp) for a in self.args]
        return ["check", os.fspath(run_dir), "--spec", os.fspath(spec), "--json", os.fspath(report), *extra]

    def expected_fragments(self, run_dir) -> list[str]:
        return [f.format(run=run_dir) for f in self.fragments]


def broken_run(case: Case, tmp) -> Path:
    """A copy of the fixture run under ``tmp``, broken as ``case`` says."""
    run_dir = Path(tmp) / "run"
    shutil.copytree(FIXTURE, run_dir, symlinks=True)
    case.mutate(run_dir)
    return run_dir


def _link_out(name):
    def mutate(run):
        outside = run.parent / f"outside-{name}"
        (run / name).rename(outside)
        (run / name).symlink_to(outside)
    return mutate


def _two_models(run):
    (run / "model.keras").rename(run / "a.keras")
    shutil.copy(run / "a.keras", run / "b.keras")


def _second_label(run):
    table = read_rows(run / "predictions.csv")
    i = table[0].index("y_direction")
    write_rows(run / "predictions.csv", [row + [row[i] if r else "direction_true"] for r, row in enumerate(table)])


def _counter_first(table):
    table[:] = [["index" if r == 0 else str(r - 1)] + row for r, row in enumerate(table)]


def _dates_out_of_order(table):
    import datetime

    day = datetime.date(2021, 1, 4)
    dates = [(day + datetime.timedelta(days=k)).isoformat() for k in range(len(table) - 1)]
    dates[5], dates[6] = dates[6], dates[5]
    table[:] = [["date" if r == 0 else dates[r - 1]] + row for r, row in enumerate(table)]


def spec_text() -> str:
    return SPEC.read_text()


def spec_for(case: Case, tmp) -> Path:
    path = Path(tmp) / "gate.toml"
    text = spec_text()
    path.write_text(case.spec_edit(text) if case.spec_edit is not None else text)
    return path


# -- what a case does to the run ------------------------------------------------------------------

def read_rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def rows(name, change: Callable[[list[list[str]]], object]):
    """Change the CSV file ``name`` as a list of rows (the header is row 0, on line 1): ``change``
    edits the list in place, or returns a new list."""
    def mutate(run):
        table = read_rows(run / name)
        result = change(table)
        write_rows(run / name, result if isinstance(result, list) else table)
    return mutate


def set_cells(name, column, cells: Mapping[int, str]):
    """Cells of ``column`` on the given file lines (line 1 is the header)."""
    def change(table):
        i = table[0].index(column)
        for line, text in cells.items():
            table[line - 1][i] = text
    return rows(name, change)


def set_cell(name, line, column, text):
    return set_cells(name, column, {line: text})


def set_column(name, column, text):
    def change(table):
        i = table[0].index(column)
        for row in table[1:]:
            row[i] = text
    return rows(name, change)


def rename_column(name, old, new):
    def change(table):
        table[0][table[0].index(old)] = new
    return rows(name, change)


def edit_bytes(name, change: Callable[[bytes], bytes]):
    def mutate(run):
        path = run / name
        path.write_bytes(change(path.read_bytes()))
    return mutate


def replace_text(name, old, new):
    def change(data: bytes) -> bytes:
        assert old.encode() in data, (name, old)
        return data.replace(old.encode(), new.encode(), 1)
    return edit_bytes(name, change)


def write(name, data: bytes | str):
    def mutate(run):
        path = run / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return mutate


def delete(*names):
    def mutate(run):
        for name in names:
            path = run / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    return mutate


def both(*mutations):
    def mutate(run):
        for m in mutations:
            m(run)
    return mutate


def edit_json(name, change: Callable[[dict], object]):
    """Change a JSON file in place (what ``change`` returns is ignored); NaN is written as ``NaN``."""
    def mutate(run):
        data = json.loads((run / name).read_text())
        change(data)
        (run / name).write_text(json.dumps(data, indent=1))
    return mutate


def replace_json(name, new: Callable[[dict], object]):
    def mutate(run):
        (run / name).write_text(json.dumps(new(json.loads((run / name).read_text())), indent=1))
    return mutate


def history_json_only(*mutations):
    """Only history.json left to read the history from (history.csv comes first; the logs would disagree)."""
    return both(delete("history.csv", "logs"), *mutations)


def history_csv_only(*mutations):
    """Only history.csv left: a change to it is then not a disagreement with history.json and the logs."""
    return both(delete("history.json", "logs"), *mutations)


def tensorboard_only(*mutations):
    """Only the TensorBoard logs left to read the history from."""
    return both(delete("history.csv", "history.json"), *mutations)


def config_as(name, text: Callable[[dict], str]):
    """The config written as ``name`` (config.toml, config.yaml) instead of config.json."""
    def mutate(run):
        data = json.loads((run / "config.json").read_text())
        (run / "config.json").unlink()
        (run / name).write_text(text(data))
    return mutate


def keras_members(change: Callable[[dict], object]):
    """Rewrite model.keras with its members (name -> bytes) changed in place."""
    def mutate(run):
        path = run / "model.keras"
        with zipfile.ZipFile(path) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        change(members)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for n, data in members.items():
                zf.writestr(n, data)
    return mutate


def keras_config(change: Callable[[dict], object]):
    """Change the model's config.json: ``change`` edits it in place, or returns a new one (a dict)."""
    def members(m):
        config = json.loads(m["config.json"])
        result = change(config)
        m["config.json"] = json.dumps(result if isinstance(result, dict) else config)
    return keras_members(members)


def events_file(run, which) -> Path:
    (path,) = (run / "logs" / which).glob("events.out.tfevents.*")
    return path


def edit_events(which, change: Callable[[bytes], bytes]):
    def mutate(run):
        path = events_file(run, which)
        path.write_bytes(change(path.read_bytes()))
    return mutate


def symlink(name, target):
    def mutate(run):
        path = run / name
        if path.exists() or path.is_symlink():
            delete(name)(run)
        os.symlink(target, path)
    return mutate


def fifo(name):
    def mutate(run):
        delete(name)(run)
        os.mkfifo(run / name)
    return mutate


def unchanged(run):
    """The run as it is: the case is in the spec, the command line or the environment."""


def run_dir_is_a_file(run):
    shutil.rmtree(run)
    run.write_text("a file where the run directory should be\n")


# -- facts about the fixture the cases refer to ---------------------------------------------------

def records(data: bytes) -> list[tuple[int, int]]:
    """(offset, payload length) of each TFRecord record, walked independently of validators.artefacts.tfrecord."""
    out, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        out.append((pos, length))
        pos += 12 + length + 4
    return out


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC-32C, bit by bit (a reference, independent of validators.artefacts.tfrecord)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    crc ^= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))


def _fixture_events(which) -> tuple[str, bytes]:
    path = events_file(FIXTURE, which)
    return path.name, path.read_bytes()


def _middle_record(data: bytes) -> tuple[int, int]:
    """The record holding the file's middle byte: (offset, payload length)."""
    middle = len(data) // 2
    return next((o, n) for o, n in records(data) if o <= middle < o + 16 + n)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1:]


def _where_in_fixture(name, needle: bytes) -> tuple[int, int, int]:
    """(byte offset, line, column) of ``needle`` in a fixture file, lines and columns 1-based."""
    data = (FIXTURE / name).read_bytes()
    at = data.index(needle)
    return at, data.count(b"\n", 0, at) + 1, at - (data.rfind(b"\n", 0, at) + 1) + 1


def _lambda_layer(config):
    layers = config["config"]["layers"]
    fusion = next(layer for layer in layers if layer["config"]["name"] == "fusion")
    layers.append({
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None, "name": "rescale",
        "config": {"name": "rescale", "trainable": True, "arguments": {},
                   "function": {"class_name": "__lambda__",
                                "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwApAk7pAgAAAKkA"
                                           "KQHaAXhyAgAAAHICAAAA+gg8c3RyaW5nPtoIPGxhbWJkYT4BAAAAcwAAAAA=",
                                           "defaults": None, "closure": None}}},
        "build_config": {"input_shape": [None, 32]},
        "inbound_nodes": fusion["inbound_nodes"],
    })


def _subclassed(config):
    return {"module": "my_project.models", "class_name": "MultiHead", "config": {"name": "multi_head"},
            "registered_name": "MultiHead"}


def _nan_everywhere(name, column):
    def change(table):
        i = table[0].index(column)
        for row in table[1:]:
            row[i] = "nan"
    return rows(name, change)


def _trial_flat_over_half(table):
    # 1000 rows, 16 blocks: the oldest 8 rows are dropped, then 62 rows a block; blocks 0-7 flat
    i = table[0].index("c=0.53")
    for row in table[1 + 8: 1 + 8 + 62 * 8]:
        row[i] = "0.0"


def _toml(data: dict) -> str:
    lines = [f"{k} = {json.dumps(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict) and all(not isinstance(x, dict) for x in v.values()):
            lines += [f"[{k}]"] + [f"{kk} = {json.dumps(vv)}" for kk, vv in v.items()]
        elif isinstance(v, dict):
            for sub, table in v.items():
                lines += [f"[{k}.{sub}]"] + [f"{kk} = {json.dumps(vv)}" for kk, vv in table.items()]
    return "\n".join(lines) + "\n"


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def _errors(*groups, status=ERROR) -> dict:
    return {check: status for group in groups for check in group}


def _passes(*groups) -> dict:
    return _errors(*groups, status=PASS)


def _fails(*groups) -> dict:
    return _errors(*groups, status=FAIL)


# -- the cases ------------------------------------------------------------------------------------

def cases() -> Iterator[Case]:
    """Every case of the corpus, in the order of BAD_INPUTS.md, then the ones found beyond it."""
    train_name, train = _fixture_events("train")
    val_name, validation = _fixture_events("validation")
    crc_at, crc_length = _middle_record(train)
    last_val_record = records(validation)[-1][0]
    latin_at, latin_line, latin_col = _where_in_fixture("predictions.csv", b"[0.04593708]")
    sixth = (FIXTURE / "predictions.csv").read_bytes().split(b"\n")[5]
    ff_at, ff_line, ff_col = _where_in_fixture("predictions.csv", sixth)
    ff_at, ff_col = ff_at + sixth.index(b"[0.") + 1, ff_col + sixth.index(b"[0.") + 1
    not_history = _passes(PREDICTIONS, CONFIG, MODEL, RETURNS)

    # 1. file missing
    yield Case("predictions-missing", 1, "`predictions.csv` missing", delete("predictions.csv"), 2,
               _errors(PREDICTIONS) | _passes(HISTORY, CONFIG, MODEL, RETURNS),
               ("{run}/predictions.csv: no predictions artefact: looked for predictions.csv, predictions.parquet",),
               subprocess=True)
    yield Case("history-missing", 1, "no history at all (CSV, JSON, TensorBoard)",
               delete("history.csv", "history.json", "logs"), 2, _errors(HISTORY) | not_history,
               (("{run}/history.csv: no history artefact: looked for history.csv, training.log, training_log.csv, "
                 "history.json, training_history.json, logs"),))
    yield Case("config-missing", 1, "`config.json` missing", delete("config.json"), 2,
               _errors(CONFIG) | _passes(PREDICTIONS, HISTORY),
               ("{run}/config.json: no config artefact: looked for config.json, config.toml, config.yaml",))
    yield Case("returns-missing", 1, "`returns.csv` missing", delete("returns.csv"), 2,
               _errors(RETURNS) | _passes(PREDICTIONS, HISTORY),
               ("{run}/returns.csv: no returns artefact: looked for returns.csv, returns.parquet",))
    yield Case("model-missing", 1, "`model.keras` missing", delete("model.keras"), 2,
               _errors(MODEL) | _passes(PREDICTIONS, CONFIG),
               ("{run}/model.keras: no model artefact: looked for model.keras",))

    # 2. zero bytes
    for name, checks in (("predictions.csv", PREDICTIONS), ("history.csv", HISTORY), ("config.json", CONFIG),
                         ("returns.csv", RETURNS)):
        yield Case(f"{name}-empty", 2, f"`{name}` of 0 bytes", write(name, b""), 2, _errors(checks),
                   (f"{{run}}/{name}: file is empty (0 bytes)",))
    yield Case("model-empty", 2, "`model.keras` of 0 bytes", write("model.keras", b""), 2, _errors(MODEL),
               ("{run}/model.keras: is not a valid .keras file (an empty file (0 bytes))",))
    yield Case("events-empty", 2, "a TensorBoard events file of 0 bytes",
               tensorboard_only(edit_events("train", lambda data: b"")), 2, _errors(HISTORY),
               (f"{{run}}/logs/train/{train_name}: empty event file (0 bytes)",))

    # 3. header only
    for name, checks, says in (("predictions.csv", PREDICTIONS, "has a header but no data rows"),
                               ("history.csv", HISTORY, "has a header but no epochs"),
                               ("returns.csv", RETURNS, "has a header but no data rows")):
        yield Case(f"{name}-header-only", 3, f"`{name}` with a header and no rows",
                   rows(name, lambda table: table[:1]), 2, _errors(checks), (f"{{run}}/{name}:2: {says}",))
    yield Case("history-json-no-epochs", 3, "`history.json` whose lists are empty",
               history_json_only(replace_json("history.json", lambda h: {k: [] for k in h})), 2, _errors(HISTORY),
               ("{run}/history.json: the history has no epochs",))

    # 4. a required column missing or misspelled: expected vs found, no fuzzy matching
    yield Case("predictions-column-misspelled", 4, "a predictions column misspelled (`volatilty`)",
               rename_column("predictions.csv", "volatility", "volatilty"), 2,
               _errors(VOLATILITY) | _passes(MAGNITUDE, ("direction-auc-exact",)),
               (("{run}/predictions.csv:1: missing column 'volatility'; found 'timestamp', 'direction', 'volatilty', "
                "'magnitude'"),))
    yield Case("predictions-semicolons", 4, "predictions separated by `;` (a European Excel export)",
               edit_bytes("predictions.csv", lambda data: data.replace(b",", b";")), 2, _errors(PREDICTIONS),
               ("{run}/predictions.csv:1: missing column 'volatility'; found 'timestamp;direction;volatility;",))
    yield Case("history-metric-missing", 4, "a history metric missing (`volatility_loss` renamed)",
               rename_column("history.csv", "volatility_loss", "vol_loss"), 2,
               {"volatility-loss": ERROR, "magnitude-loss": PASS, "direction-auc": PASS},
               ("{run}/history.csv: no metric 'volatility_loss' in the history; found ", "'vol_loss'"))
    yield Case("config-key-missing", 4, "a config key missing (`loss_weights`)",
               edit_json("config.json", lambda c: c.pop("loss_weights")), 2,
               {"config-loss-weights": ERROR, "config-volatility-activation": PASS, "config-magnitude-activation": PASS},
               ("{run}/config.json: no key 'loss_weights' in the config; top-level keys: 'run'",))
    yield Case("model-layer-missing", 4, "the model has no layer `volatility`",
               keras_members(lambda m: m.update({"config.json": m["config.json"].replace(b'"volatility"', b'"vol"')})),
               2, {"volatility-head": ERROR, "magnitude-head": PASS},
               ("{run}/model.keras: no layer named 'volatility' in the model; its layers are ",))

    # 5. a row with too few (or too many) fields
    yield Case("predictions-short-row", 5, "a predictions row with a field missing",
               rows("predictions.csv", lambda table: table[56].pop()), 2, _errors(PREDICTIONS),
               ("{run}/predictions.csv:57: row has 7 fields, the header has 8",))
    yield Case("predictions-long-row", 5, "a predictions row with a field too many",
               rows("predictions.csv", lambda table: table[299].append("0.5")), 2, _errors(PREDICTIONS),
               ("{run}/predictions.csv:300: row has 9 fields, the header has 8",))
    yield Case("history-short-row", 5, "a history row with a field missing",
               rows("history.csv", lambda table: table[4].pop()), 2, _errors(HISTORY),
               ("{run}/history.csv:5: row has 14 fields, the header has 15",))
    yield Case("returns-short-row", 5, "a returns row with a field missing",
               rows("returns.csv", lambda table: table[99].pop()), 2, _errors(RETURNS),
               ("{run}/returns.csv:100: row has 20 fields, the header has 21",))

    # 6. a cell that is not a number or a one-element array: row, column, first 80 characters
    yield Case("predictions-text-cell", 6, "a predictions cell `x`", set_cell("predictions.csv", 10, "volatility", "x"),
               2, _errors(VOLATILITY) | _passes(MAGNITUDE),
               ("{run}/predictions.csv:10:3: column 'volatility', row 8: not a number or a one-element array: 'x'",),
               subprocess=True)
    yield Case("predictions-thousands-separator", 6, "a cell `1,234` (thousands separator)",
               set_cell("predictions.csv", 33, "magnitude", "1,234"), 2, _errors(MAGNITUDE) | _passes(VOLATILITY),
               (("{run}/predictions.csv:33:4: column 'magnitude', row 31: not a number or a one-element array: "
                "'1,234'"),))
    yield Case("predictions-decimal-comma", 6, "a cell `0,0459` (decimal comma)",
               set_cell("predictions.csv", 40, "volatility", "0,0459"), 2, _errors(VOLATILITY),
               (("{run}/predictions.csv:40:3: column 'volatility', row 38: not a number or a one-element array: "
                "'0,0459'"),))
    yield Case("labels-as-booleans", 6, "labels written as `True`/`False` (a bool column)",
               rows("predictions.csv", lambda table: [table[0]] + [
                   [*r[:4], {"1": "True", "0": "False"}[r[4]], *r[5:]] for r in table[1:]]), 2,
               {"direction-auc-exact": ERROR} | _passes(VOLATILITY, MAGNITUDE),
               (("{run}/predictions.csv:2:5: column 'y_direction', row 0: not a number or a one-element array: "
                "'False'"),))
    yield Case("numpy-scalar-repr", 6, "`[np.float32(0.39)]` (a list of numpy 2 scalars written by repr)",
               set_cell("predictions.csv", 5, "direction", "[np.float32(0.3973678)]"), 2,
               {"direction-auc-exact": ERROR} | _passes(VOLATILITY),
               (("{run}/predictions.csv:5:2: column 'direction', row 3: not a number or a one-element array: "
                "'[np.float32(0.3973678)]'"),))
    yield Case("predictions-nul-byte", 6, "a NUL byte inside a cell",
               replace_text("predictions.csv", "[0.04593708]", "[0.\x0004593708]"), 2, _errors(VOLATILITY),
               (("{run}/predictions.csv:4:3: column 'volatility', row 2: not a number or a one-element array: "
                "'[0.\\x0004593708]'"),))
    yield Case("history-text-cell", 6, "a history cell `oops`", set_cell("history.csv", 22, "volatility_loss", "oops"),
               2, _errors(HISTORY), ("{run}/history.csv:22:14: metric 'volatility_loss': 'oops' is not a number",))
    yield Case("history-json-string", 6, "a history.json value `\"0.5\"` (a string)",
               history_json_only(edit_json("history.json", lambda h: h["volatility_loss"].__setitem__(5, "0.5"))), 2,
               _errors(HISTORY), ("{run}/history.json:284:3: metric 'volatility_loss', epoch 5: '0.5' is not a number",))
    yield Case("returns-text-column", 6, "a returns column of text",
               set_column("returns.csv", "c=0.6", "long"), 2, _errors(RETURNS) | _passes(PREDICTIONS),
               ("{run}/returns.csv:2:11: column 'c=0.6', row 0: not a number or a one-element array: 'long'",))
    yield Case("returns-semicolons", 6, "returns separated by `;`",
               edit_bytes("returns.csv", lambda data: data.replace(b",", b";")), 2, _errors(RETURNS),
               ("{run}/returns.csv:2:1: column 'c=0.5;c=0.51;",))

    # 7. a cell far too long or nested: refused before it is parsed
    yield Case("predictions-cell-long", 7, "a cell of 5 000 characters",
               set_cell("predictions.csv", 12, "volatility", "[" + "1" * 5000 + "]"), 2,
               _errors(VOLATILITY) | _passes(MAGNITUDE),
               ("{run}/predictions.csv:12:3: column 'volatility', row 10: cell longer than 256 bytes",))
    yield Case("predictions-cell-too-long", 7, "a cell of a million-element list (~5 MB)",
               set_cell("predictions.csv", 12, "volatility", "[" + ", ".join(["0.5"] * 1_000_000) + "]"), 2,
               _errors(PREDICTIONS) | _passes(HISTORY),
               ("{run}/predictions.csv:12: the line is longer than 1048576 bytes, which no row may be",))
    yield Case("predictions-cell-nested", 7, "a nested cell `[[[[0.1]]]]`",
               set_cell("predictions.csv", 13, "volatility", "[[[[0.1]]]]"), 2, _errors(VOLATILITY),
               ("{run}/predictions.csv:13:3: column 'volatility', row 11: nested arrays are not supported",))
    yield Case("history-json-nested", 7, "`history.json` nested 100 000 deep",
               history_json_only(write("history.json", "[" * 100_000 + "]" * 100_000)), 2, _errors(HISTORY),
               ("{run}/history.json: JSON nested too deeply",))
    yield Case("config-json-nested", 7, "`config.json` nested 100 000 deep",
               write("config.json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"), 2, _errors(CONFIG),
               ("{run}/config.json: JSON nested too deeply",))
    yield Case("config-toml-nested", 7, "`config.toml` nested 1 000 deep",
               both(delete("config.json"), write("config.toml", "a = " + "[" * 1000 + "]" * 1000)), 2,
               _errors(CONFIG), ("{run}/config.toml: TOML nested too deeply",))

    # 8. a multi-element array where one value is expected
    yield Case("predictions-two-values", 8, "a cell `[0.1 0.9]` where one value is expected",
               set_cell("predictions.csv", 20, "magnitude", "[0.1 0.9]"), 2, _errors(MAGNITUDE) | _passes(VOLATILITY),
               ("{run}/predictions.csv:20:4: column 'magnitude', row 18: several values where one is expected",))
    yield Case("predictions-abbreviated", 8, "numpy's abbreviated `[0.1 0.2 ... 0.8 0.9]`",
               set_cell("predictions.csv", 21, "magnitude", "[0.1 0.2 ... 0.8 0.9]"), 2, _errors(MAGNITUDE),
               ("{run}/predictions.csv:21:4: column 'magnitude', row 19: several values where one is expected",))
    yield Case("predictions-wrapped-array", 8, "a quoted array cell spanning two lines (numpy wraps at 75)",
               set_cell("predictions.csv", 10, "volatility", "[0.04593708\n 0.05]"), 2, _errors(VOLATILITY),
               ("{run}/predictions.csv:10:3: column 'volatility', row 8: several values where one is expected",))

    # 9. a .keras file that is not a zip
    yield Case("model-not-a-zip", 9, "`model.keras` that is not a zip", write("model.keras", "not a model\n"), 2,
               _errors(MODEL) | _passes(PREDICTIONS), ("{run}/model.keras: is not a valid .keras file (not a zip archive)",))
    yield Case("model-is-hdf5", 9, "an HDF5 `.h5` model renamed `model.keras`",
               write("model.keras", b"\x89HDF\r\n\x1a\n" + bytes(4096)), 2, _errors(MODEL),
               ("{run}/model.keras: is not a valid .keras file (an HDF5 file: a legacy .h5 model",), subprocess=True)
    yield Case("model-truncated", 9, "`model.keras` cut in half (Keras says \"File not found\")",
               edit_bytes("model.keras", lambda data: data[: len(data) // 2]), 2, _errors(MODEL),
               ("{run}/model.keras: is not a valid .keras file (a truncated or damaged zip archive",))
    yield Case("model-weights-only", 9, "a `.keras` zip without `config.json`",
               keras_members(lambda m: m.pop("config.json")), 2, _errors(MODEL),
               (("{run}/model.keras: is not a valid .keras file (the zip archive has no config.json; members: "
                "metadata.json, model.weights.h5)"),))
    yield Case("model-config-invalid-json", 9, "a `.keras` whose `config.json` is not JSON",
               keras_members(lambda m: m.update({"config.json": m["config.json"][:-20]})), 2, _errors(MODEL),
               ("{run}/model.keras: config.json is not valid JSON: line 1 column",))
    yield Case("model-subclassed", 9, "a subclassed model (no layer list in `config.json`)",
               keras_config(_subclassed), 2, _errors(MODEL),
               ("a subclassed model keeps its architecture in code, not in config.json",))

    # 10. a model that needs unsafe deserialization: refused, never safe_mode=False
    yield Case("model-lambda-layer", 10, "a model with a `Lambda` layer", keras_config(_lambda_layer), 2,
               _errors(MODEL) | _passes(PREDICTIONS),
               ("{run}/model.keras: the model needs unsafe deserialisation (", "); refused"))

    # 11. a TensorBoard file truncated or with a bad CRC: the offset and the last good step
    yield Case("events-truncated", 11, "a TensorBoard events file cut short",
               tensorboard_only(edit_events("validation", lambda data: data[:-7])), 2,
               _errors(HISTORY) | not_history,
               (f"{{run}}/logs/validation/{val_name}: byte offset {last_val_record}: truncated record", "last good step"))
    yield Case("events-bad-crc", 11, "an events file with a flipped byte in the middle",
               tensorboard_only(edit_events("train", lambda data: _flip(data, crc_at + 14))), 2, _errors(HISTORY),
               ((f"{{run}}/logs/train/{train_name}: byte offset {crc_at}: corrupt record: CRC of the {crc_length}-byte "
                "payload does not match"), "last good step"), subprocess=True)
    yield Case("events-not-tfrecord", 11, "an events file holding text",
               tensorboard_only(edit_events("train", lambda data: b"hello, not a record\n")), 2, _errors(HISTORY),
               (f"{{run}}/logs/train/{train_name}: byte offset 0: corrupt record: CRC of the length field",))
    yield Case("events-not-events", 11, "a valid TFRecord file that is not an events file",
               tensorboard_only(edit_events("train", lambda data: tfrecord(b"\x1a\x05hello"))), 2, _errors(HISTORY),
               ((f"{{run}}/logs/train/{train_name}: byte offset 0: not a TensorBoard event file: its first record has "
                "file_version 'hello'"),))

    # 12. no event files, or the tag missing
    yield Case("events-none", 12, "a `logs/train/` folder without events files",
               tensorboard_only(lambda run: events_file(run, "train").unlink()), 2, _errors(HISTORY),
               ("{run}/logs/train: no event files (names containing 'tfevents') in this folder",))
    yield Case("events-tag-missing", 12, "TensorBoard logs without `validation/` (no `val_*` tags)",
               tensorboard_only(delete("logs/validation")), 2,
               {"direction-auc": ERROR, "volatility-loss": PASS, "magnitude-loss": PASS},
               ("{run}/logs: no metric 'val_direction_auc' in the history; found 'direction_auc'",))
    yield Case("events-train-is-a-file", 12, "`logs/train` is a file",
               tensorboard_only(delete("logs/train"), write("logs/train", "x")), 2, _errors(HISTORY),
               ("{run}/logs: no train/ folder",))

    # 13. a history whose metric lists differ in length
    yield Case("history-json-lengths-differ", 13, "`history.json` with one metric an epoch short",
               history_json_only(edit_json("history.json", lambda h: h["val_direction_auc"].pop())), 2,
               _errors(HISTORY), (("{run}/history.json: metrics have different numbers of epochs: most have 21, but "
                                  "'val_direction_auc' has 20"),))

    # 14. a returns matrix with too few rows, fewer than two strategies, a constant column
    yield Case("returns-too-few-rows", 14, "10 rows of returns for 16 blocks", rows("returns.csv", lambda t: t[:11]),
               2, {"pbo": ERROR, "pbo-improved": ERROR}, ("{run}/returns.csv: 10 rows are too few for n_splits = 16",))
    yield Case("returns-one-trial", 14, "returns of a single trial", rows("returns.csv", lambda t: [r[:1] for r in t]),
               2, {"pbo": ERROR}, ("{run}/returns.csv: 1 trial column: PBO needs at least 2 trials",))
    yield Case("returns-constant-trial", 14, "a constant trial column", set_column("returns.csv", "c=0.5", "0.001"),
               2, {"pbo": ERROR, "pbo-improved": ERROR}, ("{run}/returns.csv: trial 'c=0.5' is constant",))
    yield Case("returns-nan", 14, "a missing return (`NA`)", set_cell("returns.csv", 502, "c=0.52", "NA"), 2,
               _errors(RETURNS), (("{run}/returns.csv:502:3: 1 returns are NaN, inf or missing; first in trial "
                                  "'c=0.52', row 500"),))

    # 15. NaN or inf in predictions: counted, fail
    yield Case("predictions-nan", 15, "`[nan]`, `NA` and an empty cell in predictions",
               set_cells("predictions.csv", "volatility", {7: "[nan]", 9: "NA", 11: ""}), 1,
               _fails(VOLATILITY) | _passes(MAGNITUDE),
               ("3 of 1000 values in 'volatility' are NaN, inf or missing",), subprocess=True)
    yield Case("predictions-inf", 15, "`[inf]` in predictions", set_cell("predictions.csv", 30, "magnitude", "[inf]"), 1,
               _fails(MAGNITUDE) | _passes(VOLATILITY), ("1 of 1000 values in 'magnitude' are NaN, inf or missing",))
    yield Case("predictions-all-nan", 15, "a whole predictions column NaN", _nan_everywhere("predictions.csv", "volatility"),
               1, _fails(VOLATILITY), ("1000 of 1000 values in 'volatility' are NaN, inf or missing",))

    # 16-18. probabilities outside [0, 1], labels outside {0, 1}, a single class
    yield Case("probability-outside", 16, "probabilities `1.3` and `-0.2`",
               set_cells("predictions.csv", "direction", {5: "[1.3]", 6: "[-0.2]"}), 1,
               {"direction-auc-exact": FAIL} | _passes(VOLATILITY), ("2 scores in 'direction' are outside [0, 1]",))
    yield Case("label-outside", 17, "a label `2`", set_cell("predictions.csv", 8, "y_direction", "2"), 1,
               {"direction-auc-exact": FAIL}, ("1 labels in 'y_direction' are not 0 or 1",))
    yield Case("single-class", 18, "every label `1` (AUC undefined)", set_column("predictions.csv", "y_direction", "1"),
               1, {"direction-auc-exact": FAIL}, ("AUC is undefined: 'y_direction' holds a single class",))

    # 19. a NaN or inf loss in the history
    yield Case("loss-nan-last-epoch", 19, "loss `nan` at the last epoch",
               history_csv_only(set_cell("history.csv", 22, "volatility_loss", "nan")), 1,
               {"volatility-loss": FAIL, "magnitude-loss": PASS}, ("volatility_loss = nan at epoch 20",))
    yield Case("histories-disagree", 19, "`history.csv` says `nan` where `history.json` and the logs hold a loss",
               set_cell("history.csv", 22, "volatility_loss", "nan"), 2,
               {"volatility-loss": ERROR, "magnitude-loss": ERROR, "direction-auc": ERROR},
               ("{run}/history.csv: volatility_loss at epoch 20 is nan here but 0.000203", "the run's histories disagree"))
    yield Case("loss-inf-last-epoch", 19, "loss `inf` at the last epoch",
               history_csv_only(set_cell("history.csv", 22, "magnitude_loss", "inf")), 1,
               {"magnitude-loss": FAIL, "volatility-loss": PASS}, ("magnitude_loss = inf at epoch 20",))
    yield Case("loss-nan-json", 19, "`NaN` literal in `history.json`",
               history_json_only(edit_json("history.json", lambda h: h["volatility_loss"].__setitem__(-1, float("nan")))), 1,
               {"volatility-loss": FAIL}, ("volatility_loss = nan at epoch 20",))
    yield Case("monitor-all-nan", 19, "`val_direction_auc` NaN at every epoch",
               history_csv_only(_nan_everywhere("history.csv", "val_direction_auc")), 1, {"direction-auc": FAIL},
               ("monitor 'val_direction_auc' has no finite value in 21 epochs",))
    yield Case("loss-nan-mid-training", 19, "loss `nan` at epoch 10, finite at the last",
               history_csv_only(set_cell("history.csv", 12, "volatility_loss", "nan")), 1, {"volatility-loss": FAIL},
               ("volatility_loss", "not finite (nan or inf) at 1 epoch (10)"))

    # 20. PBO undefined
    yield Case("pbo-undefined", 20, "a trial flat over half the blocks (PBO undefined)",
               rows("returns.csv", _trial_flat_over_half), 1, {"pbo": FAIL, "pbo-improved": FAIL},
               ("PBO is undefined on these returns: trial ", "zero variance (constant 0.0)"))

    # 28. a baseline comparison with no baseline given
    yield Case("no-baseline", 28, "a delta check and no `--baseline` (spec does not allow a first run)",
               unchanged, 2, {"direction-auc-vs-baseline": ERROR} | _passes(PREDICTIONS),
               ("{run}: no baseline run was given (--baseline BASELINE_DIR); or set allow_first_run = true",),
               spec_edit=lambda text: text.replace("allow_first_run = true", "allow_first_run = false"))
    yield Case("no-baseline-allowed", 28, "no `--baseline`, the spec allows a first run", unchanged, 0,
               {"direction-auc-vs-baseline": PASS}, ("Verdict: PASS (exit 0)",))

    # 29. a report that cannot be written
    yield Case("report-not-writable", 29, "a report path under a regular file", unchanged, 2,
               _passes(EVERY_CHECK), (("runverdict: cannot write the Markdown report '{run}/config.json/summary.md': "
                                      "Not a directory; the previous report, if any, is unchanged"),),
               args=("--markdown", "{run}/config.json/summary.md"))

    # -- runs nobody here made: the layout and the second round of failing closed ----------------
    yield Case("predictions-link-out", None, "`predictions.csv` a symbolic link to a file outside the run",
               _link_out("predictions.csv"), 2, _errors(PREDICTIONS) | _passes(HISTORY, MODEL),
               ("{run}/predictions.csv: leads outside the run directory: refused, its target is not read",))
    yield Case("history-json-huge-integer", None, "a 5,000-digit integer in `history.json`",
               history_json_only(write("history.json", '{"loss": [' + "1" * 5000 + "]}")), 2, _errors(HISTORY),
               ("{run}/history.json: invalid JSON: Exceeds the limit (4300 digits)",))
    yield Case("two-model-candidates", None, "no `model.keras`, two other `*.keras` files",
               _two_models, 2, _errors(MODEL) | _passes(PREDICTIONS, HISTORY),
               ("two candidates for the model: 'a.keras' and 'b.keras'", "--artefact model=PATH"))
    yield Case("two-label-candidates", None, "labels `y_direction` and `direction_true` both present",
               _second_label, 2, {"direction-auc-exact": ERROR} | _passes(VOLATILITY, MAGNITUDE, HISTORY),
               ("two candidates for the label of 'direction': 'y_direction' and 'direction_true'",
                "--layout labels.direction=COLUMN"))
    yield Case("returns-counter-column", None, "returns written with `reset_index()`: a counter column first",
               rows("returns.csv", _counter_first), 0, {"pbo": PASS, "sharpe": PASS}, ("returns: index 'index' (counter",))
    yield Case("returns-unsorted-dates", None, "returns with a date index not in time order",
               rows("returns.csv", _dates_out_of_order), 2, _errors(RETURNS),
               ("rows are not in time order", "sort the file by its index"))
    yield Case("spec-tensorboard-artefact", None, "`[artefacts] tensorboard = ...` in the spec (never used)",
               unchanged, 4, {}, ("unknown artefact 'tensorboard' in [artefacts]",),
               spec_edit=lambda text: '[artefacts]\ntensorboard = "does-not-exist"\n' + text)

    # -- beyond BAD_INPUTS.md: what pandas, numpy, Keras, TensorBoard and file systems do --------
    yield Case("byte-order-marks", None, "a UTF-8 BOM on predictions, history and config (Excel)",
               both(*(edit_bytes(n, lambda data: b"\xef\xbb\xbf" + data)
                      for n in ("predictions.csv", "history.csv", "config.json", "returns.csv"))), 0,
               _passes(EVERY_CHECK), ("Verdict: PASS (exit 0)",))
    yield Case("crlf", None, "CRLF line endings everywhere (Windows)",
               both(*(edit_bytes(n, lambda data: data.replace(b"\n", b"\r\n"))
                      for n in ("predictions.csv", "history.csv", "config.json", "returns.csv"))), 0,
               _passes(EVERY_CHECK), ("Verdict: PASS (exit 0)",))
    yield Case("cr-only", None, "CR line endings (classic Mac)",
               edit_bytes("predictions.csv", lambda data: data.replace(b"\n", b"\r")), 0, _passes(PREDICTIONS),
               ("Verdict: PASS (exit 0)",))
    yield Case("trailing-blank-lines", None, "blank lines at the end of predictions and returns",
               both(edit_bytes("predictions.csv", lambda data: data + b"\n\n\n"),
                    edit_bytes("returns.csv", lambda data: data + b"\r\n")), 0,
               _passes(PREDICTIONS, RETURNS), ("Verdict: PASS (exit 0)",))
    yield Case("blank-line-inside", None, "a blank line between predictions rows",
               rows("predictions.csv", lambda table: table.__setitem__(9, [])), 1,
               _fails(PREDICTIONS), ("1 of 1000 values in 'volatility' are NaN, inf or missing",))
    yield Case("pandas-index-column", None, "predictions written with pandas' index column",
               rows("predictions.csv", lambda table: [[""] + table[0]] + [[str(i)] + r for i, r in enumerate(table[1:])]),
               0, _passes(PREDICTIONS), ("Verdict: PASS (exit 0)",))
    yield Case("quote-all", None, "every predictions cell quoted (`QUOTE_ALL`)",
               edit_bytes("predictions.csv", lambda data: b"\n".join(
                   b",".join(b'"' + cell + b'"' for cell in line.split(b",")) if line else line
                   for line in data.split(b"\n"))), 0, _passes(PREDICTIONS), ("Verdict: PASS (exit 0)",))
    yield Case("scientific-notation", None, "cells in numpy's scientific notation `[4.593708e-02]`",
               replace_text("predictions.csv", "[0.04593708]", "[4.593708e-02]"), 0, _passes(VOLATILITY),
               ("Verdict: PASS (exit 0)",))
    yield Case("unread-column-garbage", None, "garbage in a column no check reads",
               set_column("predictions.csv", "timestamp", "not a date"), 0, _passes(PREDICTIONS),
               ("Verdict: PASS (exit 0)",))
    yield Case("duplicate-header", None, "a predictions column twice in the header",
               rename_column("predictions.csv", "magnitude", "volatility"), 2, _errors(VOLATILITY),
               ("{run}/predictions.csv:1: column 'volatility' appears more than once in the header",))
    yield Case("history-duplicate-header", None, "a history metric twice in the header",
               rename_column("history.csv", "val_loss", "loss"), 2, _errors(HISTORY),
               ("{run}/history.csv:1: metric 'loss' appears more than once in the header",))
    yield Case("header-repeated", None, "two predictions files concatenated (a header on line 502)",
               rows("predictions.csv", lambda table: table.insert(501, list(table[0]))), 2, _errors(PREDICTIONS),
               (("{run}/predictions.csv:502:2: column 'direction', row 500: not a number or a one-element array: "
                "'direction'"),))
    yield Case("history-header-repeated", None, "two CSVLogger files concatenated",
               rows("history.csv", lambda table: table.insert(11, list(table[0]))), 2, _errors(HISTORY),
               ("{run}/history.csv:12:1: metric 'epoch': 'epoch' is not a number",))
    yield Case("history-restarted", None, "a restarted training appended to `history.csv`",
               rows("history.csv", lambda table: table + table[1:6]), 2, _errors(HISTORY),
               ("{run}/history.csv:23: the epoch counter goes back from 20 to 0",))
    yield Case("wrapped-cell-line-numbers", None, "a quoted timestamp spanning lines, then `x` on line 21",
               both(set_cell("predictions.csv", 10, "timestamp", "2021-09-15\n"),
                    set_cell("predictions.csv", 20, "volatility", "x")), 2, _errors(VOLATILITY),
               ("{run}/predictions.csv:21:3: column 'volatility', row 18: not a number",))
    yield Case("utf16-predictions", None, "predictions saved as UTF-16",
               edit_bytes("predictions.csv", lambda data: data.decode().encode("utf-16")), 2, _errors(PREDICTIONS),
               ("{run}/predictions.csv:1:1: not UTF-8 text (byte offset 0)",))
    yield Case("utf16-history", None, "history saved as UTF-16",
               edit_bytes("history.csv", lambda data: data.decode().encode("utf-16")), 2, _errors(HISTORY),
               ("{run}/history.csv:1:1: not UTF-8 text (byte offset 0)",))
    yield Case("utf16-config", None, "config saved as UTF-16",
               edit_bytes("config.json", lambda data: data.decode().encode("utf-16")), 2, _errors(CONFIG),
               ("{run}/config.json:1:1: not UTF-8 text (byte offset 0)",))
    yield Case("latin1-byte", None, "a Latin-1 byte (`µ`) inside a predictions cell",
               edit_bytes("predictions.csv", lambda data: data[:latin_at + 3] + b"\xb5" + data[latin_at + 3:]), 2,
               _errors(VOLATILITY),
               (f"{{run}}/predictions.csv:{latin_line}:{latin_col + 3}: not UTF-8 text (byte offset {latin_at + 3})",))
    yield Case("short-row-not-utf8", None, "a row with a field too many and a byte that is not UTF-8",
               edit_bytes("predictions.csv", lambda data: data.replace(sixth, sixth.replace(b"[0.", b"[\xff.", 1)
                                                                         + b",extra")), 2, _errors(PREDICTIONS),
               (f"{{run}}/predictions.csv:{ff_line}:{ff_col}: not UTF-8 text (byte offset {ff_at})",), subprocess=True)
    yield Case("config-nan-literal", None, "`NaN` as a loss weight in `config.json`",
               replace_text("config.json", '"volatility": 0.3', '"volatility": NaN'), 1,
               {"config-loss-weights": FAIL, "config-volatility-activation": PASS},
               ("loss_weights.volatility: nan differs from 0.3",))
    yield Case("config-infinity-literal", None, "`Infinity` as a loss weight",
               replace_text("config.json", '"magnitude": 0.3', '"magnitude": Infinity'), 1, {"config-loss-weights": FAIL},
               ("loss_weights.magnitude: inf differs from 0.3",))
    yield Case("config-trailing-comma", None, "a trailing comma in `config.json`",
               replace_text("config.json", '"magnitude": 0.3\n', '"magnitude": 0.3,\n'), 2, _errors(CONFIG),
               ("{run}/config.json:8:2: invalid JSON: Expecting property name enclosed in double quotes",))
    yield Case("config-top-level-list", None, "`config.json` holding a list", write("config.json", "[1.0, 0.3, 0.3]"),
               2, _errors(CONFIG), ("{run}/config.json: expected a mapping at the top level, got list",))
    yield Case("config-yaml-exponent", None, "YAML `volatility: 3e-1` (a string to YAML 1.1)",
               config_as("config.yaml", lambda c: _yaml(c).replace("volatility: 0.3", "volatility: 3e-1")), 1,
               {"config-loss-weights": FAIL, "config-volatility-activation": PASS}, ("'volatility': '3e-1'",))
    yield Case("config-yaml-python-tag", None, "YAML with a `!!python/object` tag",
               config_as("config.yaml", lambda c: "heads: !!python/object/apply:os.system ['true']\n" + _yaml(c)), 2,
               _errors(CONFIG), ("{run}/config.yaml:1:8: invalid YAML: could not determine a constructor",))
    yield Case("config-toml-nan", None, "TOML `volatility = nan`",
               config_as("config.toml", lambda c: _toml(c).replace("volatility = 0.3", "volatility = nan")), 1,
               {"config-loss-weights": FAIL, "config-volatility-activation": PASS}, ("loss_weights.volatility: nan differs from 0.3",))
    yield Case("parquet-corrupt", None, "`predictions.parquet` that is not Parquet",
               both(delete("predictions.csv"), write("predictions.parquet", b"PAR1" + bytes(64) + b"PAR1")), 2,
               _errors(PREDICTIONS), ("{run}/predictions.parquet: not a readable Parquet file",))
    yield Case("model-is-a-folder", None, "`model.keras` is a folder",
               both(delete("model.keras"), lambda run: (run / "model.keras").mkdir()), 2, _errors(MODEL),
               ("{run}/model.keras: is a directory, not a .keras file",))
    yield Case("predictions-is-a-folder", None, "`predictions.csv` is a folder",
               both(delete("predictions.csv"), lambda run: (run / "predictions.csv").mkdir()), 2, _errors(PREDICTIONS),
               ("{run}/predictions.csv: is a directory, expected a file",))
    yield Case("predictions-named-pipe", None, "`predictions.csv` is a named pipe (no writer: must not hang)",
               fifo("predictions.csv"), 2, _errors(PREDICTIONS),
               ("{run}/predictions.csv: is not a regular file",), subprocess=True)
    yield Case("symlink-loop", None, "`predictions.csv` a symbolic link to itself",
               symlink("predictions.csv", "predictions.csv"), 2, _errors(PREDICTIONS),
               ("{run}/predictions.csv: is a symbolic link to 'predictions.csv', which cannot be followed",))
    yield Case("symlink-dangling", None, "`history.csv` a link to a missing file (`history.json` is there)",
               symlink("history.csv", "/nonexistent/history.csv"), 2, _errors(HISTORY),
               ("{run}/history.csv: is a symbolic link to '/nonexistent/history.csv', which cannot be followed",))
    yield Case("run-dir-is-a-file", None, "the run directory is a file", run_dir_is_a_file, 4, {},
               ("runverdict: run directory '{run}' not found or not a directory",), subprocess=True)
    yield Case("predictions-over-limit", None, "predictions larger than `RUNVERDICT_MAX_FILE_BYTES`",
               unchanged, 2, _errors(PREDICTIONS, RETURNS) | _passes(HISTORY),
               (("{run}/predictions.csv: file is 112628 bytes, more than the 100000-byte limit for a table: refused "
                "before reading"), "set RUNVERDICT_MAX_FILE_BYTES to a larger number"),
               env={"RUNVERDICT_MAX_FILE_BYTES": "100000"})


# -- covered by other tests, listed in the README table too ---------------------------------------

@dataclass(frozen=True)
class Elsewhere:
    bad_inputs: int | None
    what: str
    outcome: str
    test: str  # tests/<file>.py::<function>, a test that exists


ELSEWHERE = (
    Elsewhere(21, "TOML syntax error in the spec", "spec error, exit 4", "tests/test_spec.py::test_toml_syntax_error_names_file_line_col"),
    Elsewhere(22, "unknown check kind or key (the close match suggested)", "spec error, exit 4",
              "tests/test_spec.py::test_unknown_kind_or_key_suggests_close_match"),
    Elsewhere(23, "a key of the wrong type", "spec error, exit 4", "tests/test_spec.py::test_wrong_type_names_the_key_line"),
    Elsewhere(24, "`nan` or `inf` as a bound", "spec error, exit 4", "tests/test_spec.py::test_nan_or_inf_bound_refused"),
    Elsewhere(25, "a lower bound above the upper bound", "spec error, exit 4", "tests/test_spec.py::test_min_above_max_refused"),
    Elsewhere(26, "a spec without checks", "spec error, exit 4", "tests/test_spec.py::test_no_checks_refused"),
    Elsewhere(27, "two checks with one id", "spec error, exit 4", "tests/test_spec.py::test_duplicate_id_refused"),
    Elsewhere(29, "a full disk or a read-only folder for the report", "error, exit 2; the old report intact",
              "tests/test_faults.py::test_disk_full_keeps_the_previous_report"),
    Elsewhere(30, "two gates writing one report path at once", "every reader sees a whole report",
              "tests/test_faults.py::test_concurrent_gates_never_tear_the_report"),
    Elsewhere(31, "an uncaught exception", "internal error, exit 3, one line",
              "tests/test_bad_inputs.py::test_31_uncaught_exception_exits_3_with_one_line"),
    Elsewhere(None, "a file that changes while it is read (training still running)", "error, exit 2",
              "tests/test_faults.py::test_a_file_growing_during_the_read_is_refused"),
    Elsewhere(None, "a config nested 500 deep (`config.json`, `config.yaml`); a recursive YAML anchor (`a: &a [*a]`)",
              "error, exit 2", "tests/test_extreme_values.py::test_a_config_nested_past_the_limit_names_the_file_and_where"),
    Elsewhere(None, "a lone surrogate (`\\ud800`) or control characters in a checked config value or key",
              "fail, exit 1; every report written, strict JSON",
              "tests/test_extreme_values.py::test_reports_of_hostile_config_values_are_strict"),
    Elsewhere(None, "a loss of 5e-324, subnormal losses, a history spanning 1e-300 to 1e300, with `--html`",
              "judged as any value; plotted on a log axis", "tests/test_extreme_values.py::test_html_of_any_finite_loss_curve_is_written"),
    Elsewhere(None, "PSR and DSR on returns near 1e-160 or 1e300", "the numbers of the same returns near 1",
              "tests/test_extreme_values.py::test_returns_near_the_float_limits_give_the_numbers_of_returns_near_one"),
    Elsewhere(None, "control characters, bidi marks, NUL, lone surrogates, 5 000-digit integers or very long names in "
              "any field of the spec or of an artefact", "exit 0, 1, 2 or 4, never 3; nothing raw on the terminal",
              "tests/test_hostile_cli.py::test_the_real_streams_with_everything_hostile_at_once"),
    Elsewhere(None, "a YAML alias bomb, a TensorBoard step of 2**40, 600 M Parquet zeros, under a 3 GiB address space",
              "error, exit 2, in seconds", "tests/test_address_limit.py::test_a_yaml_alias_bomb_under_the_limit"),
    Elsewhere(None, "`epoch = \"best\"` where EarlyStopping restores another epoch (min_delta, start_from_epoch, a NaN "
              "first monitor value)", "the epoch Keras restores; a restored NaN epoch is an error",
              "tests/artefacts/test_early_stopping.py::test_keras_restores_the_epoch_pick_epoch_picks"),
)


# -- the README section ------------------------------------------------------------------------

README_START = "<!-- refuses:start -->"
README_END = "<!-- refuses:end -->"
OUTCOMES = {0: "pass, exit 0", 1: "fail, exit 1", 2: "error, exit 2", 3: "internal error, exit 3", 4: "usage error, exit 4"}


def _cell(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    if len(text) > width:
        text = text[: width - 3].rstrip() + "..."
    return text.replace("|", "\\|")


def _says(case: Case) -> str:
    if not case.fragments:
        return ""
    text = case.fragments[0].replace("{run}/", "").replace("{run}", "RUN_DIR")
    return "`" + _cell(text).replace("`", "'") + "`"


# the cases found beyond BAD_INPUTS.md, by what they are about (the README groups its rows by it)
TOPICS = {
    "encodings, line endings": ("byte-order-marks", "crlf", "cr-only", "trailing-blank-lines", "utf16-predictions",
                                "utf16-history", "utf16-config", "latin1-byte", "short-row-not-utf8"),
    "CSV layout": ("blank-line-inside", "pandas-index-column", "quote-all", "scientific-notation",
                   "unread-column-garbage", "duplicate-header", "history-duplicate-header", "header-repeated",
                   "history-header-repeated", "history-restarted", "wrapped-cell-line-numbers"),
    "config formats": ("config-nan-literal", "config-infinity-literal", "config-trailing-comma",
                       "config-top-level-list", "config-yaml-exponent", "config-yaml-python-tag", "config-toml-nan"),
    "files, folders, limits": ("parquet-corrupt", "model-is-a-folder", "predictions-is-a-folder",
                               "predictions-named-pipe", "symlink-loop", "symlink-dangling", "run-dir-is-a-file",
                               "predictions-over-limit"),
    "runs laid out elsewhere": ("predictions-link-out", "history-json-huge-integer", "two-model-candidates",
                                "two-label-candidates", "returns-counter-column", "returns-unsorted-dates",
                                "spec-tensorboard-artefact"),
}


def topic_of(case: Case) -> str:
    if case.bad_inputs is not None:
        return str(case.bad_inputs)
    return next(topic for topic, names in TOPICS.items() if case.name in names)


def render_table() -> str:
    """The corpus as a compact Markdown table: one row per BAD_INPUTS case (or topic) and outcome,
    its broken inputs joined, one message as an example; then the cases tested elsewhere."""
    groups: dict = {}
    for case in cases():
        outcome = OUTCOMES[case.exit] if case.xfail is None else f"should be {OUTCOMES[case.exit]}; **passes** (known bug)"
        groups.setdefault((topic_of(case), outcome), []).append(case)
    order = [str(n) for n in range(1, 32)] + list(TOPICS)
    out = ["| # | broken input | the gate says | for example |", "| --- | --- | --- | --- |"]
    for (topic, outcome), group in sorted(groups.items(), key=lambda g: (order.index(g[0][0]), g[1][0].exit,
                                                                          g[1][0].xfail is not None)):
        what = "; ".join(" ".join(c.what.split()) for c in group).replace("|", "\\|")
        out.append(f"| {topic} | {what} | {outcome} | {_says(group[0])} |")
    for e in ELSEWHERE:
        number = str(e.bad_inputs) if e.bad_inputs is not None else ""
        out.append(f"| {number} | {_cell(e.what)} | {e.outcome} | `{e.test}` |")
    return "\n".join(out)


def render_limits() -> str:
    from validators.artefacts import config_file, history, keras_archive, tables, tensorboard

    gib = tables.MAX_FILE_BYTES / (1 << 30)
    rows_ = [
        ("a predictions or returns cell", (f"{tables.MAX_CELL_CHARS} characters ({tables.MAX_ARRAY_CELL_CHARS} when the "
         "check picks an `element`), checked before the cell is parsed; a nested array is refused")),
        ("a predictions or returns file", (f"`${tables.MAX_FILE_BYTES_ENV}` bytes if set, else the smaller of "
         f"{gib:g} GiB and half the physical memory; refused before it is read, naming the limit")),
        ("a CSV row (a line)", f"{tables._BLOCK // (1 << 20)} MiB, Arrow's block"),
        ("a history file (CSV or JSON)", f"{history.MAX_HISTORY_BYTES // (1 << 20)} MiB"),
        ("a config file", f"{config_file.MAX_CONFIG_BYTES // (1 << 20)} MiB"),
        ("`config.json` inside `model.keras`", (f"{keras_archive.MAX_CONFIG_BYTES // (1 << 20)} MiB uncompressed "
         "(a zip bomb is refused before it is inflated)")),
        ("nesting of a config file (JSON, TOML, YAML)", (f"{config_file.MAX_CONFIG_DEPTH} levels of mappings and lists: "
         "deeper is an error naming the key path (YAML: line and column)")),
        ("nesting of a history or `.keras` JSON", ("what Python's parser can recurse into (a few hundred to a "
         "thousand levels): deeper is an error, never a crash")),
        ("a value in the JSON report", ("100 levels of nesting (deeper: a note in its place); lone surrogates written "
         "as `\\uXXXX` escapes")),
        ("a TensorBoard epoch scalar", (f"step below {tensorboard.MAX_EPOCHS:,}".replace(",", " ") + ": a step at or "
         "beyond is refused as the event file is read (file, step and byte offset)")),
        ("an artefact being written", ("its size and modification time must not change while it is read "
         "(predictions, returns, history, config, TensorBoard events; `model.keras` not yet)")),
    ]
    out = ["| what | limit |", "| --- | --- |"]
    out += [f"| {what} | {limit} |" for what, limit in rows_]
    return "\n".join(out)


def render_readme_section() -> str:
    """Everything between the README's ``refuses`` markers (the markers excluded)."""
    return f"\n## What the gate refuses\n\nA gate fails closed: damaged, missing or unreadable data is never a pass. Each row is a broken copy\nof `fixtures/runs/run3_relu` judged by `checks/run3.toml` (plus three `config` checks on `config.json`) in\n`tests/test_corpus.py`; the table is\ngenerated from `tests/corpus.py` (`python tests/corpus.py`) and a test keeps the two equal.\n`#` is the case's number in the team's BAD_INPUTS.md (blank: found beyond it). An error names the\nfile and, where there is one, the line and column or the byte offset (RUN_DIR is the run directory).\n\n{render_table()}\n\nLimits (past one, the input is refused with a message that names it):\n\n{render_limits()}\n"


def readme_section(text: str) -> str:
    """The part of a README between the ``refuses`` markers."""
    start = text.index(README_START) + len(README_START)
    return text[start: text.index(README_END, start)]


if __name__ == "__main__":  # pragma: no cover
    print(render_readme_section())
