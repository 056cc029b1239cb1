"""Helpers shared by the benchmark scripts: timing with medians, tables, machine facts, import lists."""

from __future__ import annotations

import io
import json
import os
import platform
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"


def cpu_seconds() -> float:
    """CPU time of this process (all threads) plus its finished children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@dataclass
class Timing:
    walls: list
    cpus: list

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def spread(self) -> str:
        return f"{min(self.walls):.3f}-{max(self.walls):.3f}"


def timed(call, repeats: int, warmup: int = 1):
    """Run ``call`` ``warmup`` times untimed, then ``repeats`` times; wall and CPU seconds of each."""
    for _ in range(warmup):
        call()
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        cpu, wall = cpu_seconds(), time.perf_counter()
        result = call()
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu_seconds() - cpu)
    return Timing(walls, cpus), result


def table(header, rows, left=(0, -1)) -> str:
    """A Markdown table; the columns in ``left`` (text) are left-aligned, the others (numbers) right."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lefts = {i % len(widths) for i in left}

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) if i in lefts else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join(("-" * (w + 2)) if i in lefts else ("-" * (w + 1) + ":") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def target_line(name, met: bool, measured: str, target: str, by: str) -> str:
    return f"  [{'met' if met else 'MISSED'}] {name}: {measured} (target {target})" + ("" if met else f"; missed by {by}")


def cores() -> tuple[int, int]:
    total = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    return total, usable


def load_average() -> str:
    """Load average, and the share of time runnable tasks waited for a CPU (Linux PSI) when known."""
    text = " ".join(f"{v:.2f}" for v in os.getloadavg())
    try:
        with open("/proc/pressure/cpu") as handle:
            some = handle.readline().split()
        text += f"; CPU pressure avg10 {float(some[1].split('=')[1]):.1f}%"
    except (OSError, IndexError, ValueError):
        pass
    return text


def machine_line() -> str:
    total, usable = cores()
    return (f"machine: {total} cores ({usable} usable), Python {platform.python_version()} "
            f"({sys.executable}), {platform.platform()}; load average {load_average()}")


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")


def imported_modules(command, env=None, cwd=ROOT) -> tuple[dict, float, subprocess.CompletedProcess]:
    """Run ``command`` once with ``-X importtime`` (PYTHONPROFILEIMPORTTIME) and parse what it imported.

    Returns ({module: cumulative import seconds} for every module imported, the seconds spent in
    all imports together, the finished process).
    """
    env = dict(os.environ if env is None else env, PYTHONPROFILEIMPORTTIME="1")
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    modules, total = {}, 0.0
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            seconds = int(match.group(2)) / 1e6
            modules[match.group(4)] = seconds
            if match.group(3) == " ":  # a top-level import: its cumulative time holds its children's
                total += seconds
    return modules, total, done


HEAVY = ("tensorflow", "keras", "pandas", "numpy", "pyarrow", "pyarrow.compute", "scipy")


def heavy_imports(modules: dict, names=HEAVY) -> dict:
    """For each heavy package: None when not imported, else its cumulative import seconds.

    A submodule imported after its package (pyarrow.compute) is listed on its own: its time is
    not in the package's.
    """
    return {name: modules.get(name) for name in names}


def profile_command(command, top: int = 14, env=None) -> str:
    """cProfile of the whole command in a fresh process: validators' functions and the big imports."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "command.prof"
        subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), *command[1:]], cwd=ROOT, env=env,
                       capture_output=True, check=False)
        stats = pstats.Stats(str(out), stream=io.StringIO())
    total = max(v[3] for v in stats.stats.values())
    lines = [(f"cProfile of the whole command in a fresh process: {total:.3f} s under the profiler "
             "(which slows imports most); cumulative time, share of the whole:")]
    imports, ours = [], []
    for (filename, line, name), (_cc, nc, _tt, ct, _callers) in stats.stats.items():
        parts = Path(filename).parts
        if "validators" in parts and name != "<module>":
            where = Path(filename).relative_to(ROOT) if Path(filename).is_relative_to(ROOT) else Path(filename)
            ours.append((ct, nc, f"{where}:{line}({name})"))
        elif name == "<module>" and filename.endswith("__init__.py") and len(parts) > 2 \
                and parts[-2] in ("pandas", "numpy", "pyarrow", "tensorflow"):
            imports.append((ct, nc, f"import {parts[-2]}"))
        elif name == "<module>" and filename.endswith(os.path.join("pyarrow", "compute.py")):
            imports.append((ct, nc, "import pyarrow.compute"))
    lines.append("  heavy imports (each where it is first imported):")
    seen = set()
    for ct, nc, where in sorted(imports, reverse=True):
        if where in seen:  # a second copy of a package (vendored) is not the import that matters
            continue
        seen.add(where)
        lines.append(f"  {ct:7.3f} {ct / total:6.1%} {nc:6d}  {where}")
    lines.append("  validators' functions:")
    for ct, nc, where in sorted(ours, reverse=True)[:top]:
        lines.append(f"  {ct:7.3f} {ct / total:6.1%} {nc:6d}  {where}")
    return "\n".join(lines)


_FIRST_IMPORT = r"""
import json, runpy, sys, traceback
targets = set(sys.argv[1].split(","))
module = sys.argv[2]
sys.argv = [module, *sys.argv[3:]]
seen = {}

class _Watch:
    def find_spec(self, name, path=None, target=None):
        if name in targets and name not in seen:
            frames = [f for f in traceback.extract_stack()[:-1] if "importlib" not in f.filename]
            ours = [f for f in frames if "/validators/" in f.filename]
            show = lambda f: f"{f.filename.split('site-packages/')[-1].split('/work/main/')[-1]}:{f.lineno} ({f.name})"
            seen[name] = {"validators": " <- ".join(show(f) for f in reversed(ours[-2:])) or None,
                          "by": show(frames[-1]) if frames else None}
        return None

sys.meta_path.insert(0, _Watch())
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
except SystemExit:
    pass
finally:
    sys.stderr.write("\nFIRST-IMPORTS " + json.dumps(seen) + "\n")
"""


def first_import_sites(module: str, args, names=("pandas", "numpy", "pyarrow.compute"), env=None) -> dict:
    """Where ``python -m module args`` first imports each of ``names``: the innermost validators
    frame and the frame doing the import, e.g. pandas from tables.py (parse_cells) by pyarrow."""
    done = subprocess.run([sys.executable, "-c", _FIRST_IMPORT, ",".join(names), module, *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=False)
    for line in reversed(done.stderr.splitlines()):
        if line.startswith("FIRST-IMPORTS "):
            return json.loads(line[len("FIRST-IMPORTS "):])
    return {}


def import_sites_text(sites: dict) -> str:
    lines = []
    for name, where in sites.items():
        by = where.get("by")
        ours = where.get("validators")
        via = "" if by is None or (ours or "").startswith(by) else f", by {by}"
        lines.append(f"  {name} is first imported at {ours or '(outside validators)'}{via}")
    return "\n".join(lines)
