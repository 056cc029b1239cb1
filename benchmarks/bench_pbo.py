"""Benchmark: validators.stats.cscv.pbo side by side with the published C++ package ``phacker``.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_pbo.py            # --repeats 5 --subset 400 --quick

It prints, each figure measured in this one run:

1. **Speed of the estimate.** For each (T, N) at S = 16, our ``pbo(X, 16)`` and ``phacker``'s
   ``cscv(X, 16)`` (C++ kernel with OpenMP) timed *interleaved*: ours, then the peer, repeated,
   so both see the same load; the peer runs in its own venv, ``benchmarks/.venv-bench``
   (git-ignored; created and filled with ``pip install phacker==0.1.0 holdout-backtest==0.1.0``
   on first use), as a worker process that loads the matrix once and times each call it is
   asked for. The ratio is ours / peer (median and minimum). PBO values sit side by side.
   The small cases also run the straightforward CSCV (every split re-reads its rows and sorts;
   on a subset of splits at T = 4000, scaled, as the row says) and ``holdout-backtest``.
2. **Memory beyond the input**, at T = 10000 with N = 2000 and N = 10000, in a child process:
   tracemalloc's peak during the call (numpy's allocations are traced) and the peak resident set
   (``VmHWM``) beyond the interpreter and the input, both against the input's size.
3. **First call against later calls**, each in fresh child processes.
4. **The band** at the plan's size (T = 2000, N = 21: one trial per threshold 0.50..0.70,
   S = 16): ``pbo(X, 16, resamples=200)`` (200 resamples of each kind) against ``pbo(X, 16)``.

Same inputs: returns are ``N(drift_j, 1)`` with ``drift_j ~ N(0, 0.02)``, one fixed seed. When T
is not divisible by S, ``pbo`` drops the oldest T mod S rows while the packages drop the newest
(phacker) or lengthen the first blocks (holdout-backtest); every implementation is therefore
given exactly the rows ``pbo`` uses.
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
PACKAGES = ("phacker==0.1.0", "holdout-backtest==0.1.0")
CASES = ((1000, 10), (2000, 100), (4000, 1000), (10000, 10000))
SMALL = 4000 * 1000  # straightforward CSCV and holdout-backtest up to this size
S = 16

# Runs inside the benchmark venv: loads one matrix, then times one call per line it reads.
PEER_WORKER = r"""
import json, sys, time
import numpy as np
X = np.load(sys.argv[1]); S = int(sys.argv[2])
try:
    import phacker
    from phacker.cscv import cscv
    backend = phacker.backend()
except ImportError as exc:
    print(json.dumps({"error": f"phacker not importable: {exc}"}), flush=True); sys.exit(0)
print(json.dumps({"ready": True, "backend": backend}), flush=True)
for line in sys.stdin:
    if line.strip() == "holdout":
        try:
            from holdout.pbo import probability_of_backtest_overfitting as hpbo
            t = time.perf_counter(); r = hpbo(X, n_blocks=S); s = time.perf_counter() - t
            print(json.dumps({"seconds": s, "pbo": float(r.pbo)}), flush=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        continue
    if line.strip() != "go":
        break
    t = time.perf_counter(); r = cscv(X, S); s = time.perf_counter() - t
    print(json.dumps({"seconds": s, "pbo": float(r[0])}), flush=True)
"""

# Runs in a fresh child process of the project's venv: memory, or first call against later ones.
CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
sys.path.insert(0, sys.argv[1])
from validators.stats.cscv import pbo
T, N, what = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def rss():  # resident set now, bytes
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
if what == "memory":
    pbo(np.random.default_rng(0).standard_normal((64 * 16, 8)), 16)  # imports and caches warmed up
    before = rss()
X = np.empty((T, N))
rng = np.random.default_rng(int(sys.argv[5]))
for start in range(0, T, 500):  # filled in place: no temporary of the input's size
    rng.standard_normal(out=X[start : start + 500])
X += rng.normal(0.0, 0.02, N)
if what == "memory":
    tracemalloc.start(); pbo(X, 16); _, peak = tracemalloc.get_traced_memory(); tracemalloc.stop()
    with open("/proc/self/status") as f:  # VmHWM: this process's own peak (ru_maxrss counts the parent's pages before exec)
        high = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"input": X.nbytes, "peak": peak, "rss_beyond": high - before - X.nbytes}))
else:
    times = []
    for _ in range(4):
        t = time.perf_counter(); pbo(X, 16); times.append(time.perf_counter() - t)
    print(json.dumps({"times": times}))
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
        name, version = package.split("==")
        shown = subprocess.run(
            [str(python), "-m", "pip", "show", name], check=False, capture_output=True, text=True
        )
        if shown.returncode or f"Version: {version}" not in shown.stdout:
            missing.append(package)
    if missing:
        got = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "numpy", *missing], check=False, capture_output=True,
            text=True,
        )
        if got.returncode:
            return python, f"pip install {' '.join(missing)} failed: {got.stderr.strip()[-300:]}"
    return python, ""


class Peer:
    """The peer worker for one matrix: ``call()`` times one ``phacker.cscv`` on it."""

    def __init__(self, python: Path, X: np.ndarray, tmp: Path):
        path = tmp / "returns.npy"
        np.save(path, X)
        self.proc = subprocess.Popen([str(python), "-c", PEER_WORKER, str(path), str(S)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.proc.stdout.readline())

    def call(self, what="go") -> dict:
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def child(T: int, N: int, what: str, seed: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(T), str(N), what, str(seed)],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def speed(args, python, why) -> None:
    print("## 1. Speed of the estimate: ours and phacker interleaved, S = 16")
    print()
    header = ("T", "N", "ours s (median / min)", "phacker s (median / min)", "ours / phacker (median / min)",
              "PBO ours", "PBO phacker", "straightforward s", "speed-up", "holdout s", "PBO holdout")
    rows, notes = [], []
    rng = np.random.default_rng(args.seed)
    cases = CASES[:3] if args.quick else CASES
    if args.cases:
        cases = [tuple(int(v) for v in case.split("x")) for case in args.cases.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for T, N in cases:
            X = rng.standard_normal((T, N))
            X += rng.normal(0.0, 0.02, N)
            same_rows = X[T % S :]
            peer = Peer(python, same_rows, Path(tmp)) if python is not None and not why else None
            if peer is not None and "error" in peer.info:
                notes.append(f"T={T}, N={N}: {peer.info['error']}")
                peer.close()
                peer = None
            ours, theirs, result, peer_pbo = [], [], None, None
            for _ in range(args.repeats):
                t = time.perf_counter()
                result = pbo(X, S)
                ours.append(time.perf_counter() - t)
                if peer is not None:
                    answer = peer.call()
                    theirs.append(answer["seconds"])
                    peer_pbo = answer["pbo"]
            straight, speedup, hold, hold_pbo = "-", "-", "-", "-"
            if T * N <= SMALL and not args.no_straightforward:
                C = math.comb(S, S // 2)
                idx = None if T * N < SMALL else np.linspace(0, C - 1, args.subset).round().astype(int)
                t0 = time.perf_counter()
                logits = straightforward_logits(same_rows, S, idx)
                elapsed = (time.perf_counter() - t0) * (1 if idx is None else C / len(idx))
                mine = result.logits if idx is None else result.logits[idx]
                agree = np.allclose(logits, mine, rtol=0, atol=1e-12)
                straight = f"{elapsed:.2f}" + ("" if idx is None else " (est.)")
                speedup = f"{elapsed / statistics.median(ours):.0f}x"
                notes.append(f"T={T}, N={N}: straightforward logits agree with ours to 1e-12 on "
                             f"{'all' if idx is None else len(idx)} of {C:,} splits: {agree}"
                             + ("" if idx is None else f" (time scaled by {C / len(idx):.1f})"))
                if peer is not None:
                    answer = peer.call("holdout")
                    if "error" in answer:
                        notes.append(f"T={T}, N={N}: holdout-backtest: {answer['error']}")
                    else:
                        hold, hold_pbo = f"{answer['seconds']:.3f}", f"{answer['pbo']:.6f}"
            if peer is not None:
                notes.append(f"T={T}, N={N}: phacker backend = {peer.info.get('backend')}")
                peer.close()
            ratio = "-"
            if theirs:
                ratio = f"{statistics.median(ours) / statistics.median(theirs):.2f}x / {min(ours) / min(theirs):.2f}x"
            rows.append((str(T), str(N), f"{statistics.median(ours):.3f} / {min(ours):.3f}",
                         f"{statistics.median(theirs):.3f} / {min(theirs):.3f}" if theirs else "n/a", ratio,
                         f"{result.pbo:.6f}", "n/a" if peer_pbo is None else f"{peer_pbo:.6f}",
                         straight, speedup, hold, hold_pbo))
            print(f"  done T={T}, N={N}", file=sys.stderr, flush=True)
            del X, same_rows
    table(header, rows)
    for note in notes:
        print(note)
    print(f"times: {args.repeats} interleaved calls each (ours in this process, phacker in its worker); "
          "holdout-backtest and the straightforward CSCV once")
    print()


def memory(args) -> None:
    print("## 2. Memory beyond the input (child process, after a warm-up call on a tiny matrix)")
    print()
    rows = []
    for T, N in ((10000, 2000),) + (() if args.quick else ((10000, 10000),)):
        got = child(T, N, "memory", args.seed)
        rows.append((str(T), str(N), f"{got['input'] / 1e6:.0f} MB", f"{got['peak'] / 1e6:.1f} MB",
                     f"{got['peak'] / got['input']:.3f}x", f"{got['rss_beyond'] / 1e6:.1f} MB",
                     f"{got['rss_beyond'] / got['input']:.3f}x"))
    table(("T", "N", "input", "tracemalloc peak during pbo", "peak / input",
           "peak RSS beyond input and interpreter", "RSS beyond / input"), rows)
    print("tracemalloc: numpy's allocations during the call; RSS: the peak resident set (VmHWM) minus the resident "
          "set before the input was made (the interpreter, numpy, the package) minus the input")
    print()


def first_call(args) -> None:
    print(f"## 3. First call in a fresh process against its three later calls ({args.fresh} fresh processes each)")
    print()
    rows = []
    for T, N in ((4000, 1000), (10000, 2000)):
        firsts, medians, ratios, ratios_min = [], [], [], []
        for k in range(args.fresh):
            times = child(T, N, "first", args.seed + k)["times"]
            firsts.append(times[0])
            medians.append(statistics.median(times[1:]))
            ratios.append(times[0] / statistics.median(times[1:]))
            ratios_min.append(times[0] / min(times[1:]))
        rows.append((str(T), str(N), " ".join(f"{v:.3f}" for v in firsts), " ".join(f"{v:.3f}" for v in medians),
                     " ".join(f"{v:.2f}" for v in ratios), f"{statistics.median(ratios):.2f}",
                     f"{statistics.median(ratios_min):.2f}"))
    table(("T", "N", "first call s", "median later call s", "first / median later", "median ratio",
           "median of first / best later"), rows)
    print()


def band(args) -> None:
    print("## 4. The band at the plan's size: T = 2000, N = 21, S = 16, 200 resamples of each kind")
    print()
    X = np.random.default_rng(args.seed).standard_normal((2000, 21)) * 0.01
    pbo(X, S, resamples=10)  # warm
    with_band, alone, result = [], [], None
    for _ in range(args.repeats):
        t = time.perf_counter()
        result = pbo(X, S, resamples=200, seed=0)
        with_band.append(time.perf_counter() - t)
        t = time.perf_counter()
        pbo(X, S)
        alone.append(time.perf_counter() - t)
    rows = [(f"{statistics.median(with_band):.3f} / {min(with_band):.3f}",
             f"{statistics.median(alone):.3f} / {min(alone):.3f}",
             f"{result.pbo:.4f}", f"{result.interval[0]:.4f} .. {result.interval[1]:.4f}", f"{result.null_share:.3f}")]
    table(("pbo(X, 16, resamples=200) s (median / min)", "pbo(X, 16) s", "PBO", "90% interval", "null share"), rows)
    print()


def table(header, rows) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved calls per case")
    parser.add_argument("--subset", type=int, default=400, help="splits of the straightforward CSCV at T=4000")
    parser.add_argument("--seed", type=int, default=20170101)
    parser.add_argument("--quick", action="store_true", help="skip the 800 MB cases (T = 10000, N = 10000)")
    parser.add_argument("--fresh", type=int, default=5, help="fresh processes for the first-call ratio")
    parser.add_argument("--only", default="speed,memory,first,band", help="sections to run, comma-separated")
    parser.add_argument("--cases", default="", help="speed cases as TxN,TxN (default: all four)")
    parser.add_argument("--no-straightforward", action="store_true",
                        help="skip the straightforward CSCV and holdout-backtest (minutes at T=4000, N=1000)")
    args = parser.parse_args()
    only = set(args.only.split(","))

    python, why = bench_python()
    print(f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print(f"at start: {machine_load()} (other work on the machine inflates the times)")
    print(f"returns ~ N(drift_j, 1), drift_j ~ N(0, 0.02), seed {args.seed}; "
          f"command: .venv/bin/python benchmarks/bench_pbo.py {' '.join(sys.argv[1:])}".rstrip())
    if why:
        print(f"published packages: {why}")
    print()
    for name, section in (("speed", lambda: speed(args, python, why)), ("memory", lambda: memory(args)),
                          ("first", lambda: first_call(args)), ("band", lambda: band(args))):
        if name in only:
            section()
    print(f"at end: {machine_load()}")


if __name__ == "__main__":
    main()
