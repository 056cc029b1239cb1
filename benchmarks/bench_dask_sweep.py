"""Benchmark: a sweep of N copies of a fixture run, local processes against a local Dask cluster.

Run from the repository root with the project's venv (every extra, so ``distributed``)::

    .venv/bin/python benchmarks/bench_dask_sweep.py                    # N = 50, 200, 1000
    .venv/bin/python benchmarks/bench_dask_sweep.py --sizes 50,200 --budget 120

- **The runs.** ``benchmarks/.data/dask_sweep_runs/run_NNNN`` (gitignored, made once): copies of
  ``fixtures/runs/run3_relu`` (a passing Run #3, 632 KB) whose files are hard links, so 1 000 copies
  cost no disk; each is a distinct run directory the gate reads in full.
- **The commands**, each the real CLI in a fresh process, the same N runs, one after the other
  (never both at once), for each N::

      runverdict check RUN... --spec checks/run3.toml --quiet --jobs 2                      # local
      runverdict check RUN... --spec checks/run3.toml --quiet --scheduler tcp://127.0.0.1:P   # Dask

  The cluster is ``dask scheduler`` and ``dask worker --nworkers 2 --nthreads 1`` (two worker
  processes, as ``--jobs 2`` has two), started here on 127.0.0.1 and stopped after. It is warmed
  once (a sweep of 4 runs, untimed, shown): the workers live on, so the imports they did for it
  (pandas, pyarrow) are not paid again; a local sweep's process pool is new each time, which is
  part of its real cost. Both sweeps must give the same exit code and the same lines.
- **Per run**: wall seconds / N, and CPU seconds / N (the command and the local pool it waited for;
  on the cluster, plus what the workers and the scheduler spent, read with ``client.run``): on a
  shared machine the CPU column is steadier than the wall one. **Growth**: wall per run at N over
  wall per run at the smallest N.
- ``--budget`` (seconds, default 300): a size whose two sweeps are predicted (linearly from the
  last size measured) to take longer is not run; the table says so and gives the estimate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, ROOT  # noqa: E402

FIXTURE = ROOT / "fixtures" / "runs" / "run3_relu"
RUNS = DATA / "dask_sweep_runs"
SPEC = ROOT / "checks" / "run3.toml"
BIN = Path(sys.executable).parent


def make_runs(n: int) -> list[str]:
    RUNS.mkdir(parents=True, exist_ok=True)
    dirs = []
    for i in range(n):
        target = RUNS / f"run_{i:04d}"
        if not target.exists():
            shutil.copytree(FIXTURE, target, copy_function=os.link)
        dirs.append(str(target.relative_to(ROOT)))
    return dirs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def own_cpu() -> float:
    """CPU seconds of this process, all threads (run on the Dask workers and the scheduler too)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep(dirs, *extra, cluster=None):
    """(wall seconds, CPU seconds, exit code, stdout lines) of one sweep through the CLI. CPU: the
    command and the processes it waited for (a local sweep's pool), plus, on a cluster, what the
    workers and the scheduler spent meanwhile."""
    remote = cluster.cpu() if cluster else 0.0
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "validators", "check", *dirs, "--spec", str(SPEC), "--quiet",
                           *extra], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    cpu = children_cpu() - cpu + ((cluster.cpu() - remote) if cluster else 0.0)
    if done.stderr.strip():
        print(done.stderr.strip()[-2000:], file=sys.stderr)
    return wall, cpu, done.returncode, done.stdout.splitlines()


class LocalCluster:
    """``dask scheduler`` and ``dask worker --nworkers W --nthreads 1`` on 127.0.0.1, stopped on exit."""

    def __init__(self, workers: int):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.workers = workers
        self.procs: list[subprocess.Popen] = []

    def __enter__(self):
        import distributed

        log = open(DATA / "bench_dask_cluster.log", "wb")
        self.procs.append(subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                                            str(self.port), "--no-dashboard"], cwd=ROOT, stdout=log,
                                           stderr=subprocess.STDOUT))
        self.procs.append(subprocess.Popen([str(BIN / "dask"), "worker", self.address, "--nworkers",
                                            str(self.workers), "--nthreads", "1", "--no-dashboard", "--host",
                                            "127.0.0.1"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        try:
            self.client = distributed.Client(self.address, timeout=30, set_as_default=False)
            self.client.wait_for_workers(self.workers, timeout=120)
        except BaseException:
            self.__exit__()
            raise
        return self

    def cpu(self) -> float:
        """CPU seconds the workers and the scheduler have spent so far."""
        return sum(self.client.run(own_cpu).values()) + self.client.run_on_scheduler(own_cpu)

    def __exit__(self, *exc):
        if getattr(self, "client", None) is not None:
            self.client.close(timeout=10)
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,1000", help="numbers of runs, comma-separated")
    parser.add_argument("--jobs", type=int, default=2, help="local processes, and Dask worker processes")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="skip a size whose two sweeps are predicted to take longer (seconds)")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    dirs = make_runs(max(sizes))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}; "
          f"runs: copies of {FIXTURE.relative_to(ROOT)} judged by {SPEC.relative_to(ROOT)}")
    rows, mismatches = [], 0
    with LocalCluster(args.jobs) as cluster:
        warm, _, code, _ = sweep(dirs[:4], "--scheduler", cluster.address, cluster=cluster)
        print(f"cluster {cluster.address}, {args.jobs} workers x 1 thread; warm-up sweep of 4 runs: {warm:.2f} s "
              f"(exit {code})")
        last = None
        for n in sizes:
            if last is not None:
                predicted = (last[1] + last[3]) * n / last[0]
                if predicted > args.budget:
                    rows.append((n, None, predicted))
                    continue
            lw, lc, local_code, local_lines = sweep(dirs[:n], "--jobs", str(args.jobs))
            dw, dc, dask_code, dask_lines = sweep(dirs[:n], "--scheduler", cluster.address, cluster=cluster)
            same = (local_code, local_lines) == (dask_code, dask_lines)
            mismatches += not same
            rows.append((n, (lw, lc, dw, dc), same))
            last = (n, lw, lc, dw, dc)
            print(f"  N={n}: local {lw:.2f} s wall, {lc:.2f} s CPU (exit {local_code}); dask {dw:.2f} s wall, "
                  f"{dc:.2f} s CPU (exit {dask_code}); same output: {same}; load {os.getloadavg()[0]:.2f}", flush=True)
    base = next(((n, t) for n, t, _ in rows if t is not None), None)
    print()
    print("| N runs | local --jobs 2: wall | per run | growth | CPU per run "
          "| Dask, 2 workers: wall | per run | growth | CPU per run | same output |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for n, t, extra in rows:
        if t is None:
            print(f"| {n} | not run: both predicted {extra:.0f} s > --budget {args.budget:g} s | | | | | | | | |")
            continue
        lw, lc, dw, dc = t
        b = base[1]
        print(f"| {n} | {lw:.2f} s | {1000 * lw / n:.0f} ms | {(lw / n) / (b[0] / base[0]):.2f}x | "
              f"{1000 * lc / n:.0f} ms | {dw:.2f} s | {1000 * dw / n:.0f} ms | {(dw / n) / (b[2] / base[0]):.2f}x | "
              f"{1000 * dc / n:.0f} ms | {'yes' if extra else 'NO'} |")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
