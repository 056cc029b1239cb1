"""Benchmark: validators.stats.cscv against the straightforward CSCV and published PBO packages.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_pbo.py

For each (T, N) at S = 16 it prints one table row: our fast path (median and min of several runs),
the straightforward implementation (every split re-reads its T rows and sorts the N out-of-sample
values; for the biggest case timed on an evenly spaced subset of splits and scaled, which the
row says), the speed-up, and the published packages ``phacker`` (C++ kernel) and
``holdout-backtest`` run on the same rows in a separate venv, ``benchmarks/.venv-bench``
(created and filled on first use; never a project dependency). PBO values sit side by side.

Same inputs: when T is not divisible by S, ``pbo`` drops the oldest T mod S rows while the
packages drop the newest rows (phacker) or lengthen the first blocks (holdout-backtest); every
implementation is therefore given exactly the rows ``pbo`` uses.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from validators.stats.cscv import pbo

BENCH_VENV = ROOT / "benchmarks" / ".venv-bench"
PACKAGES = ("phacker", "holdout-backtest")
CASES = ((1000, 10), (2000, 100), (4000, 1000))
S = 16

# Runs inside the benchmark venv: times the published packages on one saved matrix.
PACKAGE_SCRIPT = r"""
import json, statistics, sys, time
import numpy as np
X = np.load(sys.argv[1]); S = int(sys.argv[2]); repeats = int(sys.argv[3])
out = {}
def timed(name, call, value):
    try:
        times, result = [], None
        for _ in range(repeats):
            t = time.perf_counter(); result = call(); times.append(time.perf_counter() - t)
        out[name] = {"seconds": statistics.median(times), "min": min(times), "pbo": float(value(result))}
    except Exception as exc:
        out[name] = {"error": f"{type(exc).__name__}: {exc}"}
try:
    import phacker
    from phacker.cscv import cscv
    timed("phacker", lambda: cscv(X, S), lambda r: r[0])
    out["phacker"]["backend"] = phacker.backend()
except ImportError as exc:
    out["phacker"] = {"error": f"not importable: {exc}"}
try:
    from holdout.pbo import probability_of_backtest_overfitting as hpbo
    timed("holdout-backtest", lambda: hpbo(X, n_blocks=S), lambda r: r.pbo)
except ImportError as exc:
    out["holdout-backtest"] = {"error": f"not importable: {exc}"}
print(json.dumps(out))
"""


def straightforward_logits(X: np.ndarray, S: int, splits=None) -> np.ndarray:
    """CSCV as the paper states it: slice the rows of each half, Sharpe, argmax, full sort."""
    T, N = X.shape
    n = T // S
    blocks = [np.arange(b * n, (b + 1) * n) for b in range(S)]
    combos = list(itertools.combinations(range(S), S // 2))
    logits = []
    for i in range(len(combos)) if splits is None else splits:
        is_blocks = combos[i]
        oos_blocks = [b for b in range(S) if b not in is_blocks]
        r_is, r_oos = (
            X[np.concatenate([blocks[b] for b in is_blocks])],
            X[np.concatenate([blocks[b] for b in oos_blocks])],
        )
        sr_is = r_is.mean(axis=0) / r_is.std(axis=0, ddof=1)
        sr_oos = r_oos.mean(axis=0) / r_oos.std(axis=0, ddof=1)
        n_star = int(np.argmax(sr_is))
        ordered = np.sort(sr_oos)  # average rank of the winner through a full sort
        lo = np.searchsorted(ordered, sr_oos[n_star], "left")
        hi = np.searchsorted(ordered, sr_oos[n_star], "right")
        omega = ((lo + 1 + hi) / 2) / (N + 1)
        logits.append(math.log(omega / (1 - omega)))
    return np.array(logits)


def machine_load() -> str:
    """Load average, and the share of time runnable tasks waited for a CPU (Linux PSI)."""
    text = "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    try:
        some = Path("/proc/pressure/cpu").read_text().split()[1]  # "avg10=12.34"
        text += f", CPU pressure {some.replace('avg10=', 'avg10 = ')}%"
    except (OSError, IndexError):
        pass
    return text


def median_time(call, repeats: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), result


def bench_python() -> tuple[Path | None, str]:
    """The benchmark venv's python, creating it on first use; or None and the reason."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(BENCH_VENV)], check=False, capture_output=True, text=True
        )
        if made.returncode:
            return None, f"could not create {BENCH_VENV}: {made.stderr.strip()[-300:]}"
    missing = []
    for package in PACKAGES:
        shown = subprocess.run(
            [str(python), "-m", "pip", "show", package], check=False, capture_output=True, text=True
        )
        if shown.returncode:
            missing.append(package)
    if missing:
        got = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *missing], check=False, capture_output=True, text=True
        )
        if got.returncode:
            return python, f"pip install {' '.join(missing)} failed: {got.stderr.strip()[-300:]}"
    return python, ""


def run_packages(python: Path | None, X: np.ndarray, repeats: int) -> dict:
    if python is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "returns.npy"
        np.save(path, X)
        done = subprocess.run(
            [str(python), "-c", PACKAGE_SCRIPT, str(path), str(S), str(repeats)],
            check=False,
            capture_output=True,
            text=True,
        )
    if done.returncode:
        return {p: {"error": done.stderr.strip().splitlines()[-1]} for p in PACKAGES}
    return json.loads(done.stdout)


def fmt_package(result: dict | None) -> tuple[str, str]:
    if not result:
        return "n/a", "n/a"
    if "error" in result:
        return "error", result["error"][:40]
    return f"{result['seconds']:.3f} / {result['min']:.3f}", f"{result['pbo']:.6f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs per timing (median and min)")
    parser.add_argument("--subset", type=int, default=400, help="splits timed for the biggest case")
    parser.add_argument("--seed", type=int, default=20170101)
    args = parser.parse_args()

    python, why = bench_python()
    print(
        f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"at start: {machine_load()} (other work on the machine inflates the times)")
    print(f"S = {S}, C(S, S/2) = {math.comb(S, S // 2):,} splits; returns ~ N(drift_j, 1), seed {args.seed}")
    if why:
        print(f"published packages: {why}")
    print()

    header = (
        "T",
        "N",
        "ours s (median / min)",
        "straightforward s",
        "speed-up",
        "phacker s (median / min)",
        "holdout s (median / min)",
        "PBO ours",
        "PBO straightforward",
        "PBO phacker",
        "PBO holdout",
    )
    rows, notes = [], []
    rng = np.random.default_rng(args.seed)
    for T, N in CASES:
        X = rng.standard_normal((T, N)) + rng.normal(0.0, 0.02, N)
        ours_s, ours_min, result = median_time(lambda X=X: pbo(X, S), args.repeats)
        same_rows = X[T % S :]
        C = math.comb(S, S // 2)
        if T * N >= 4000 * 1000:
            idx = np.linspace(0, C - 1, args.subset).round().astype(int)
            t0 = time.perf_counter()
            logits = straightforward_logits(same_rows, S, idx)
            straight_s = (time.perf_counter() - t0) * C / len(idx)
            agree = np.allclose(logits, result.logits[idx], rtol=0, atol=1e-12)
            straight_pbo = f"{np.mean(logits <= 0):.6f}*"
            notes.append(
                f"* T={T}, N={N}: straightforward time estimated from {len(idx)} evenly spaced splits "
                f"of {C:,} scaled by {C / len(idx):.1f}; its PBO column is over those splits only "
                f"(ours over the same splits: {np.mean(result.logits[idx] <= 0):.6f}); "
                f"logits on them agree to 1e-12: {agree}"
            )
            straight_time = f"{straight_s:.1f} (est.)"
        else:
            t0 = time.perf_counter()
            logits = straightforward_logits(same_rows, S)
            straight_s = time.perf_counter() - t0
            agree = np.allclose(logits, result.logits, rtol=0, atol=1e-12)
            straight_pbo = f"{np.mean(logits <= 0):.6f}"
            notes.append(
                f"T={T}, N={N}: all {C:,} logits agree with the straightforward ones to 1e-12: {agree}"
            )
            straight_time = f"{straight_s:.2f}"
        packages = run_packages(python, same_rows, args.repeats)
        ph_t, ph_v = fmt_package(packages.get("phacker"))
        ho_t, ho_v = fmt_package(packages.get("holdout-backtest"))
        if "phacker" in packages and "backend" in packages["phacker"]:
            notes.append(f"T={T}, N={N}: phacker backend = {packages['phacker']['backend']}")
        rows.append(
            (
                str(T),
                str(N),
                f"{ours_s:.3f} / {ours_min:.3f}",
                straight_time,
                f"{straight_s / ours_s:.0f}x",
                ph_t,
                ho_t,
                f"{result.pbo:.6f}",
                straight_pbo,
                ph_v,
                ho_v,
            )
        )
        print(f"  done T={T}, N={N}", file=sys.stderr, flush=True)

    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print()
    for note in notes:
        print(note)
    print(
        f"times: median / min of {args.repeats} runs (ours and the packages; the straightforward one runs once, "
        "speed-up = its time / our median); packages run on the rows pbo uses "
        f"(the oldest T mod {S} rows dropped), in {BENCH_VENV.relative_to(ROOT)}"
    )
    print(f"at end: {machine_load()}")


if __name__ == "__main__":
    main()
