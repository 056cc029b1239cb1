"""Benchmark: the plan's prediction checks on 1,000,000 rows, vs the plan's snippet and the raw read.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_predictions.py            # 1,000,000 rows
    .venv/bin/python benchmarks/bench_predictions.py --rows 200000 --repeats 3

What it does, all in one run on one file:

1. Writes (once; cached under ``benchmarks/.data/``, gitignored) a ``predictions.csv`` in the
   Run #3 plan's format: ``direction``, ``volatility``, ``magnitude`` hold what pandas writes
   for a one-element float32 numpy array (``[0.0123]``, ``[1.2e-05]``, ``[0.]``), then
   ``y_direction`` (0/1) and ``forward_return``. The cells are built vectorised with Arrow;
   a random sample of them is compared with numpy's own ``str(np.array([x]))``.
2. Times, median of ``--repeats``:
   - the gate: ``validators.gate.evaluate`` with the plan's prediction checks (saturation of
     volatility above 0.999, volatility max and range, magnitude mean, max and range), in
     process after one warm-up call;
   - the whole command ``python -m validators check DIR --spec SPEC``, a fresh process each time;
   - the floor: ``pyarrow.csv.read_csv`` of the whole file (all columns, default inference),
     ``pandas.read_csv(engine="pyarrow")``, and for reference the read the gate itself does
     (two columns as strings).
3. Times the plan's own snippet (``pd.read_csv`` + ``iterrows`` + ``ast.literal_eval`` for
   volatility, then again for magnitude, then the same statistics) once: first on a probe of
   100,000 rows, then on the whole file unless the probe predicts more than ``--budget``
   seconds, in which case the probe is scaled linearly and the table says so.
4. Peak memory: the RSS high-water mark (``resource.getrusage``) of a fresh process running the
   whole CLI on the file, against the file size.

It prints one table and the targets of issues 2 and 8, each with met or missed and by how much.
When ``evaluate`` misses a speed target it also prints a cProfile of it, and when the whole
command misses its 2 s a cProfile of the command (``--profile`` forces both, ``--no-profile``
skips them).
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    DATA,
    ROOT,
    cpu_seconds,
    first_import_sites,
    heavy_imports,
    import_sites_text,
    imported_modules,
    load_average,
    machine_line,
    profile_command,
    table,
    target_line,
    timed,
)

sys.path.insert(0, str(ROOT))
GENERATOR_VERSION = 1  # bump when the file's content changes, so the cache is rebuilt
COLUMNS = ("direction", "volatility", "magnitude", "y_direction", "forward_return")

# The plan's prediction checks, as in checks/run3.toml (without the history, AUC and config checks).
SPEC_TEXT = '''\
name = "Run #3 plan: prediction checks only (benchmark)"

[[check]]
id = "volatility-not-saturated"
description = 'Plan: print(f"% near 1.0: {sum(v > 0.999 ...)}")  # Should be 0%'
kind = "saturation"
severity = "must"
column = "volatility"
level = 0.999
side = "above"
le = 0.0

[[check]]
id = "volatility-max"
description = 'Plan: print(f"Max: {max(vol_preds):.4f}")  # Should be < 0.15, not 1.0'
kind = "statistic"
severity = "must"
column = "volatility"
stat = "max"
lt = 0.15

[[check]]
id = "volatility-range"
description = "Plan, Must Have: Volatility predictions in range [0, 0.15]"
kind = "range"
severity = "must"
column = "volatility"
ge = 0.0
le = 0.15

[[check]]
id = "magnitude-mean"
description = 'Plan: print(f"Mean: {np.mean(mag_preds):.4f}")  # Should be ~0.05, not 1.22'
kind = "statistic"
severity = "must"
column = "magnitude"
stat = "mean"
gt = 0.0
le = 0.10

[[check]]
id = "magnitude-max"
description = 'Plan: print(f"Max: {max(mag_preds):.4f}")  # Should be < 0.50, not 3.93'
kind = "statistic"
severity = "must"
column = "magnitude"
stat = "max"
lt = 0.50

[[check]]
id = "magnitude-range"
description = "Plan, Must Have: Magnitude predictions in range [0, 0.50]"
kind = "range"
severity = "must"
column = "magnitude"
ge = 0.0
le = 0.50
'''

TARGET_GATE_SECONDS = 2.0  # issue 2, Speed
TARGET_SNIPPET_RATIO = 30.0  # issues 2 and 8: at least 30x faster than the plan's snippet
TARGET_FLOOR_RATIO = 2.0  # issue 8: within 2x of the raw pyarrow read
TARGET_MEMORY_RATIO = 4.0  # issue 8: peak memory under 4x the file size


# ---- the file ---------------------------------------------------------------------------------

def _take_into(base, index, replacement):
    """``base`` (Arrow strings) with the cells at ``index`` replaced by ``replacement``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(index) == 0:
        return base
    order = np.arange(len(base), dtype=np.int64)
    order[index] = len(base) + np.arange(len(index), dtype=np.int64)
    return pc.take(pa.concat_arrays([base, pa.array(replacement, pa.string())]), pa.array(order))


def numpy_cells(values):
    """``str(np.array([x], dtype=np.float32))`` for every x, built vectorised.

    numpy prints a one-element float32 array with at most 8 fraction digits, fewer when the
    value is unique with fewer (``[0.0123]``), ``[0.]`` for zero, and in scientific notation
    below 1e-4 (``[1.2e-05]``). The positional cells come from Arrow's shortest float32
    formatting; the few scientific cells (about 1% here) from numpy's own scalar formatter.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    v32 = np.asarray(values, dtype=np.float32)
    shortest = pc.cast(pa.array(v32), pa.string())
    rounded = pc.cast(pa.array(np.round(v32.astype(np.float64), 8)), pa.string())
    dot = pc.find_substring(shortest, ".")
    fraction_digits = pc.subtract(pc.utf8_length(shortest), pc.add(dot, 1))
    use_shortest = pc.and_(pc.invert(pc.match_substring(shortest, "e")),
                           pc.or_(pc.less(dot, 0), pc.less_equal(fraction_digits, 8)))
    text = pc.if_else(use_shortest, shortest, rounded)
    text = pc.if_else(pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".", ""))
    magnitude = np.abs(v32)
    scientific = np.flatnonzero((magnitude != 0) & (magnitude < np.float32(1e-4)))
    text = _take_into(text, scientific, [
        np.format_float_scientific(v32[i], precision=8, unique=True, trim=".", exp_digits=2) for i in scientific])
    return pc.binary_join_element_wise("[", text, "]", "")


def python_floats(values):
    """Float64 cells as pandas writes them (Python's repr), built vectorised."""
    import pyarrow as pa
    import pyarrow.compute as pc

    v = np.asarray(values, dtype=np.float64)
    text = pc.cast(pa.array(v), pa.string())
    text = pc.if_else(pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".0", ""))
    magnitude = np.abs(v)
    scientific = np.flatnonzero((magnitude != 0) & (magnitude < 1e-4))
    return _take_into(text, scientific, [repr(float(v[i])) for i in scientific])


def synthetic_predictions(rows: int, seed: int) -> dict:
    """A healthy Run #3 validation set: every prediction check of the plan passes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    logit = 0.8 * (2 * y - 1) + rng.normal(0.0, 1.3, rows)
    direction = 1.0 / (1.0 + np.exp(-logit))

    def relu_head(centre, spread, top):
        v = np.clip(rng.lognormal(np.log(centre), spread, rows), 0.0, top)
        v[rng.random(rows) < 0.02] = 0.0  # a ReLU head outputs exact zeros
        tiny = np.flatnonzero(rng.random(rows) < 0.005)  # and a few values numpy prints as 1.2e-05
        v[tiny] = 10.0 ** rng.uniform(-7.5, -4.0, tiny.size)
        return v

    return {
        "direction": direction,
        "volatility": relu_head(0.02, 0.5, 0.12),
        "magnitude": relu_head(0.04, 0.6, 0.45),
        "y_direction": y,
        "forward_return": rng.normal(0.0003 * (2 * y - 1), 0.02),
    }


def write_predictions(path: Path, rows: int, seed: int) -> dict:
    """Write the file; returns how it went (seconds, format check)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    started = time.perf_counter()
    data = synthetic_predictions(rows, seed)
    cells = {name: numpy_cells(data[name]) for name in ("direction", "volatility", "magnitude")}
    cells["y_direction"] = pc.cast(pa.array(data["y_direction"]), pa.string())
    cells["forward_return"] = python_floats(data["forward_return"])
    lines = pc.binary_join_element_wise(*(cells[c] for c in COLUMNS), ",")
    one_list = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
    body = pc.binary_join(one_list, "\n")[0].as_buffer()
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "wb") as handle:
        handle.write((",".join(COLUMNS) + "\n").encode())
        handle.write(body)
        handle.write(b"\n")
    os.replace(tmp, path)
    seconds = time.perf_counter() - started

    # The format: a random sample of cells against numpy's own printing of a float32 array.
    rng = np.random.default_rng(seed + 1)
    sample = rng.choice(rows, size=min(rows, 20_000), replace=False)
    same = total = 0
    for name in ("direction", "volatility", "magnitude"):
        got = cells[name].take(pa.array(sample)).to_pylist()
        want = [str(np.array([data[name][i]], dtype=np.float32)) for i in sample]
        same += sum(a == b for a, b in zip(got, want))
        total += len(want)
    return {"seconds": seconds, "format_same": same, "format_total": total}


def ensure_run(rows: int, seed: int) -> tuple[Path, dict | None]:
    """The cached run directory holding ``predictions.csv`` (written when missing)."""
    run = DATA / f"predictions_{rows}_seed{seed}_v{GENERATOR_VERSION}"
    path = run / "predictions.csv"
    record = DATA / f"{run.name}.json"  # how the file was written (outside the run directory)
    if path.exists():
        return run, json.loads(record.read_text()) | {"cached": True} if record.exists() else None
    run.mkdir(parents=True, exist_ok=True)
    made = write_predictions(path, rows, seed)
    record.write_text(json.dumps(made))
    return run, made


# ---- the measurements -------------------------------------------------------------------------

def plan_snippet(path: Path, nrows: int | None) -> tuple[float, float, dict]:
    """The plan's Verification Steps 1 and 2, as written, plus the ranges of its Must Have list.

    Returns wall seconds, CPU seconds and the statistics.
    """
    import pandas as pd

    cpu, started = cpu_seconds(), time.perf_counter()
    df = pd.read_csv(path, nrows=nrows)
    vol_preds = [ast.literal_eval(row['volatility'])[0] for _, row in df.iterrows()]
    stats = {
        "volatility max": max(vol_preds),
        "volatility share > 0.999": sum(v > 0.999 for v in vol_preds) / len(vol_preds),
        "volatility min": min(vol_preds),
    }
    mag_preds = [ast.literal_eval(row['magnitude'])[0] for _, row in df.iterrows()]
    stats.update({
        "magnitude mean": float(np.mean(mag_preds)),
        "magnitude max": max(mag_preds),
        "magnitude min": min(mag_preds),
    })
    return time.perf_counter() - started, cpu_seconds() - cpu, stats


def gate_stats(report) -> dict:
    by_id = {r.id: r for r in report.results}
    ev = by_id["volatility-range"].evidence
    mev = by_id["magnitude-range"].evidence
    return {
        "volatility max": by_id["volatility-max"].observed,
        "volatility share > 0.999": by_id["volatility-not-saturated"].observed,
        "volatility min": ev.get("min"),
        "magnitude mean": by_id["magnitude-mean"].observed,
        "magnitude max": by_id["magnitude-max"].observed,
        "magnitude min": mev.get("min"),
    }


# The kernel's high-water mark of the child's own memory (VmHWM). resource.getrusage's ru_maxrss
# is not used: Linux carries the parent's high-water mark across fork + exec into it, so a child
# of this (large) benchmark process would report at least the benchmark's own size.
PEAK_SCRIPT = r"""
import contextlib, io, json, sys

def status(key):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

import numpy, pyarrow, pyarrow.csv, pyarrow.compute  # what the gate loads anyway
from validators.cli import main
before = status("VmRSS")
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["check", sys.argv[1], "--spec", sys.argv[2]])
pool = pyarrow.default_memory_pool()
print(json.dumps({"exit_code": code, "peak": status("VmHWM"), "before": before,
                  "arrow_peak": pool.max_memory(), "arrow_pool": pool.backend_name}))
"""


# One more process, for where the memory goes: tracemalloc sees Python's and numpy's allocations,
# Arrow's pool reports its own peak; pandas is imported up front to weigh it separately.
BREAKDOWN_SCRIPT = r"""
import contextlib, io, json, sys, tracemalloc

def status(key):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

import numpy, pyarrow, pyarrow.csv, pyarrow.compute
from validators.cli import main
base = status("VmRSS")
import pandas
with_pandas = status("VmRSS")
tracemalloc.start()
with contextlib.redirect_stdout(io.StringIO()):
    main(["check", sys.argv[1], "--spec", sys.argv[2]])
traced = tracemalloc.get_traced_memory()[1]
print(json.dumps({"base": base, "pandas": with_pandas - base, "traced": traced,
                  "arrow": pyarrow.default_memory_pool().max_memory(), "peak": status("VmHWM")}))
"""


def memory_breakdown(run: Path, spec_path: Path) -> str:
    out = subprocess.run([sys.executable, "-c", BREAKDOWN_SCRIPT, str(run), str(spec_path)], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    try:
        got = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return f"memory breakdown: could not run ({(out.stderr.strip().splitlines() or ['?'])[-1]})"
    rest = got["peak"] - got["base"] - got["pandas"] - got["arrow"] - got["traced"]
    return (f"where the memory goes (one more process, tracemalloc on; VmHWM {human_bytes(got['peak'])}): "
            f"interpreter with numpy and pyarrow {human_bytes(got['base'])}, importing pandas "
            f"{human_bytes(got['pandas'])}, Arrow's allocations at their peak {human_bytes(got['arrow'])}, Python and "
            f"numpy allocations at their peak {human_bytes(got['traced'])}, the rest (allocators holding freed "
            f"memory, thread stacks; the peaks need not coincide) {human_bytes(rest)}")


def peak_memory(run: Path, spec_path: Path, repeats: int) -> dict:
    peaks, befores, arrow, codes = [], [], [], set()
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(run), str(spec_path)], cwd=ROOT,
                             capture_output=True, text=True, check=True)
        got = json.loads(out.stdout.strip().splitlines()[-1])
        peaks.append(got["peak"])
        befores.append(got["before"])
        arrow.append(got["arrow_peak"])
        pool = got["arrow_pool"]
        codes.add(got["exit_code"])
    return {"peak": statistics.median(peaks), "before": statistics.median(befores), "runs": len(peaks),
            "arrow_peak": statistics.median(arrow), "arrow_pool": pool,
            "exit_codes": sorted(codes)}


def profile_gate(spec, run: Path, top: int = 12) -> str:
    """cProfile of one ``evaluate``: the hottest calls by own time, and validators' functions by total."""
    from validators.gate import evaluate

    profiler = cProfile.Profile()
    profiler.enable()
    evaluate(spec, run)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = stats.total_tt

    def name_of(key):
        filename, line, name = key
        return name if filename == "~" else f"{Path(filename).parent.name}/{Path(filename).name}:{line}({name})"

    def callers_of(key):
        callers = stats.stats[key][4]
        return ", ".join(f"{name_of(c)} x{v[1]}" for c, v in sorted(callers.items(), key=lambda kv: -kv[1][2])[:2])

    lines = [f"cProfile of one evaluate() call, {total:.3f} s in all (profiling adds overhead).",
             "hottest by own time (an Arrow kernel's time is the own time of the pyarrow wrapper calling it):",
             f"  {'own s':>7} {'share':>6} {'calls':>6}  function  <- main callers"]
    for key, (_cc, nc, tt, _ct, _callers) in sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]:
        lines.append(f"  {tt:7.3f} {tt / total:6.1%} {nc:6d}  {name_of(key)}  <- {callers_of(key)}")
    lines.append("validators' own functions by cumulative time (including what they call):")
    ours = [(k, v) for k, v in stats.stats.items() if f"{os.sep}validators{os.sep}" in k[0]]
    for key, (_cc, nc, _tt, ct, _callers) in sorted(ours, key=lambda kv: -kv[1][3])[:top]:
        lines.append(f"  {ct:7.3f} {ct / total:6.1%} {nc:6d}  {name_of(key)}")
    return "\n".join(lines)


# ---- output -----------------------------------------------------------------------------------

def human_bytes(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def describe_file(rel, size, made) -> str:
    if made is None:
        return f"using cached {rel}: {human_bytes(size)} (delete benchmarks/.data/ to rebuild)"
    verb = "using cached" if made.get("cached") else "wrote"
    return (f"{verb} {rel}: {human_bytes(size)}, written in {made['seconds']:.1f} s; format check: "
            f"{made['format_same']:,} of {made['format_total']:,} sampled cells identical to "
            "str(np.array([x], dtype=np.float32))")


def cli_imports(command) -> str:
    """What the whole command imports, and the cumulative import seconds of the heavy packages."""
    modules, total, _ = imported_modules(command)
    heavy = heavy_imports(modules)
    return (f"{total:.2f} s in all imports; "
            + ", ".join(f"{name} {'no' if sec is None else f'{sec:.2f} s'}" for name, sec in heavy.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of predictions.csv (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=7, help="runs per in-process timing (median)")
    parser.add_argument("--cli-repeats", type=int, default=5, help="fresh-process runs of the CLI (median)")
    parser.add_argument("--snippet-rows", type=int, default=None,
                        help="rows for the plan's snippet (default: all, unless the probe predicts > --budget)")
    parser.add_argument("--probe-rows", type=int, default=100_000, help="rows of the snippet's probe run")
    parser.add_argument("--budget", type=float, default=180.0, help="seconds allowed for the snippet on all rows")
    parser.add_argument("--profile", dest="profile", action="store_true", default=None,
                        help="print a cProfile of the gate even when it meets its targets")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="never profile")
    args = parser.parse_args()

    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from validators.gate import evaluate
    from validators.spec import parse_spec

    print(f"== bench_predictions: the plan's prediction checks on {args.rows:,} rows ==")
    print(machine_line())
    print(f"numpy {np.__version__}, pandas {pd.__version__}, pyarrow {pa.__version__}")
    run, made = ensure_run(args.rows, args.seed)
    path = run / "predictions.csv"
    size = path.stat().st_size
    rel = path.relative_to(ROOT)
    print(describe_file(rel, size, made))
    with open(path) as handle:
        print("first rows: " + " | ".join(handle.readline().strip() for _ in range(3)))
    spec_path = DATA / "prediction_checks.toml"
    spec_path.write_text(SPEC_TEXT)
    spec = parse_spec(SPEC_TEXT, str(spec_path))
    n = f"{args.rows:,}"

    # (a) the gate, in process and as the whole command
    gate, report = timed(lambda: evaluate(spec, run), args.repeats)
    if report.verdict != "pass":
        print("NOTE: the gate did not pass the healthy file, so this is not the common case:\n  "
              + "\n  ".join(f"{r.id}: {r.status} {r.message}" for r in report.results if r.status != "pass"))
    cli = [sys.executable, "-m", "validators", "check", str(run), "--spec", str(spec_path), "--quiet"]
    whole, done = timed(lambda: subprocess.run(cli, cwd=ROOT, capture_output=True, text=True, check=False), args.cli_repeats)
    print(f"gate verdict: {report.verdict} (exit {int(report.exit_code)}); the command printed: "
          + (done.stdout.strip().splitlines() or ["(nothing)"])[-1])

    # (c) the floor
    floor, _ = timed(lambda: pacsv.read_csv(path), args.repeats)
    via_pandas, _ = timed(lambda: pd.read_csv(path, engine="pyarrow"), max(3, args.repeats // 2))
    text_only = pacsv.ConvertOptions(include_columns=["volatility", "magnitude"],
                                     column_types={"volatility": pa.string(), "magnitude": pa.string()})
    two_columns, _ = timed(lambda: pacsv.read_csv(path, convert_options=text_only), args.repeats)

    # (b) the plan's snippet: a probe, then all rows unless that would take longer than the budget
    probe_rows = min(args.probe_rows, args.rows)
    probe_wall, probe_cpu, probe_stats = plan_snippet(path, probe_rows)
    predicted = probe_wall * args.rows / probe_rows
    snippet_rows = min(args.snippet_rows or (args.rows if predicted <= args.budget else probe_rows), args.rows)
    if snippet_rows == probe_rows:
        snippet_wall, snippet_cpu, snippet_stats = probe_wall, probe_cpu, probe_stats
        how = (f"SCALED x{args.rows / snippet_rows:g} from one run on {snippet_rows:,} rows "
               f"({snippet_wall:.1f} s wall, {snippet_cpu:.1f} s cpu): all rows would exceed the "
               f"{args.budget:.0f} s budget" if snippet_rows < args.rows else "one run")
    else:
        print(f"plan snippet: {probe_rows:,} rows took {probe_wall:.1f} s; now {snippet_rows:,} rows, "
              f"~{predicted * snippet_rows / args.rows:.0f} s ...", file=sys.stderr, flush=True)
        snippet_wall, snippet_cpu, snippet_stats = plan_snippet(
            path, None if snippet_rows == args.rows else snippet_rows)
        how = f"one run (a {probe_rows:,}-row probe took {probe_wall:.1f} s)"
        if snippet_rows < args.rows:
            how = (f"SCALED x{args.rows / snippet_rows:g} from one run on {snippet_rows:,} rows "
                   f"({snippet_wall:.1f} s wall, {snippet_cpu:.1f} s cpu)")
    scale = args.rows / snippet_rows
    snippet, snippet_cpu_all = snippet_wall * scale, snippet_cpu * scale

    g = gate.wall
    rows = [
        ("gate: validators.gate.evaluate, 6 plan checks", n, f"{g:.3f}", f"{gate.cpu:.3f}", "1.00x", gate.spread,
         f"median of {len(gate.walls)} in one process, after a warm-up"),
        ("gate: python -m validators check (whole command)", n, f"{whole.wall:.3f}", f"{whole.cpu:.3f}",
         f"{whole.wall / g:.2f}x", whole.spread, f"median of {len(whole.walls)}, a fresh process each"),
        ("plan snippet: read_csv + iterrows + literal_eval", n + (" (est.)" if scale > 1 else ""), f"{snippet:.1f}",
         f"{snippet_cpu_all:.1f}", f"{snippet / g:.0f}x", "-", how),
        ("floor: pyarrow.csv.read_csv, all columns", n, f"{floor.wall:.3f}", f"{floor.cpu:.3f}",
         f"{floor.wall / g:.2f}x", floor.spread, f"median of {len(floor.walls)}"),
        ("floor: pandas.read_csv(engine='pyarrow')", n, f"{via_pandas.wall:.3f}", f"{via_pandas.cpu:.3f}",
         f"{via_pandas.wall / g:.2f}x", via_pandas.spread, f"median of {len(via_pandas.walls)}"),
        ("reference: pyarrow read of the 2 checked columns as text", n, f"{two_columns.wall:.3f}",
         f"{two_columns.cpu:.3f}", f"{two_columns.wall / g:.2f}x", two_columns.spread,
         "the read the gate does; median"),
    ]
    print()
    print(f"file: {rel}, {human_bytes(size)}")
    print(table(("what", "rows", "wall s", "cpu s", "vs gate", "wall min-max", "how"), rows))
    print("wall s: median wall-clock seconds; cpu s: CPU seconds of the same runs (all threads and "
          "child processes; wall well above cpu on one thread means the machine was busy); "
          "vs gate: wall divided by the gate's")
    if snippet_stats is not None and snippet_rows == args.rows:
        ours = gate_stats(report)
        agree = all(np.isclose(float(ours[k]), float(snippet_stats[k]), rtol=1e-6, atol=0) for k in ours)
        print("same numbers from the gate and the snippet: " + ("yes" if agree else "NO") + " ("
              + ", ".join(f"{k} {float(ours[k]):.6g}" for k in ours) + ")")
    print(f"the whole command imports: {cli_imports(cli)} (cumulative import seconds of one run)")

    memory = peak_memory(run, spec_path, 3)
    ratio = memory["peak"] / size
    grown = memory["peak"] - memory["before"]
    print(f"peak memory of the whole command, a fresh process (VmHWM, median of {memory['runs']}): "
          f"{human_bytes(memory['peak'])} = {ratio:.2f}x the file; {human_bytes(memory['before'])} of it is the "
          f"interpreter with numpy and pyarrow loaded; the growth while checking, {human_bytes(grown)}, is "
          f"{grown / size:.2f}x the file; Arrow's own allocations peaked at {human_bytes(memory['arrow_peak'])} "
          f"({memory['arrow_pool']} pool)")

    print(memory_breakdown(run, spec_path))

    speedup = snippet / g
    print()
    print("targets (issues 2 and 8):")
    lines = [
        target_line("prediction checks (evaluate) under 2 s", g < TARGET_GATE_SECONDS, f"{g:.3f} s", "< 2 s",
                    f"{g - TARGET_GATE_SECONDS:.3f} s ({g / TARGET_GATE_SECONDS - 1:.0%})"),
        target_line("whole command under 2 s wall", whole.wall < TARGET_GATE_SECONDS, f"{whole.wall:.3f} s", "< 2 s",
                    f"{whole.wall - TARGET_GATE_SECONDS:.3f} s ({whole.wall / TARGET_GATE_SECONDS - 1:.0%})"),
        target_line("at least 30x faster than the plan's snippet", speedup >= TARGET_SNIPPET_RATIO,
                    f"{speedup:.0f}x" + (" (snippet scaled)" if scale > 1 else ""), ">= 30x",
                    f"a factor {TARGET_SNIPPET_RATIO / speedup:.2f}"),
        target_line("within 2x of the raw pyarrow read", g <= TARGET_FLOOR_RATIO * floor.wall,
                    f"{g / floor.wall:.2f}x ({g:.3f} s vs {floor.wall:.3f} s)", "<= 2x",
                    f"{g - TARGET_FLOOR_RATIO * floor.wall:.3f} s"),
        target_line("peak memory under 4x the file size", ratio < TARGET_MEMORY_RATIO,
                    f"{ratio:.2f}x ({human_bytes(memory['peak'])} for {human_bytes(size)})", "< 4x",
                    f"{human_bytes(memory['peak'] - TARGET_MEMORY_RATIO * size)} ({ratio / TARGET_MEMORY_RATIO:.2f}x "
                    f"the allowance; the growth alone is {grown / size:.2f}x)"),
    ]
    print("\n".join(lines))
    missed = g >= TARGET_GATE_SECONDS or g > TARGET_FLOOR_RATIO * floor.wall or speedup < TARGET_SNIPPET_RATIO
    if args.profile or (args.profile is None and missed):
        print()
        print(profile_gate(spec, run))
    if args.profile or (args.profile is None and whole.wall >= TARGET_GATE_SECONDS):
        print()
        print(profile_command(cli))
        print(import_sites_text(first_import_sites("validators", cli[3:])))
    print(f"load average at end: {load_average()}")
    print("reproduce: .venv/bin/python benchmarks/bench_predictions.py"
          + (f" --rows {args.rows}" if args.rows != 1_000_000 else "")
          + (f" --repeats {args.repeats}" if args.repeats != 7 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
