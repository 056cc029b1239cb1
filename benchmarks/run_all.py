"""Run every benchmark in benchmarks/ and print their tables, with the machine they ran on.

    .venv/bin/python benchmarks/run_all.py          # or: make bench
    .venv/bin/python benchmarks/run_all.py --only startup

Runs ``bench_predictions.py``, ``bench_startup.py`` and ``bench_pbo.py`` (when present), one
after the other (never in parallel: they would time each other), each in its own process with
this interpreter, and prints their output as it comes. A benchmark that misses a target still
counts as run; the exit status is non-zero only when a benchmark script itself failed.
Takes several minutes: the plan's snippet on 100,000 or 1,000,000 rows alone takes minutes.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, cores, load_average

BENCHMARKS = ("bench_predictions.py", "bench_startup.py", "bench_pbo.py", "bench_layout.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[],
                        help="run only the benchmarks whose file name contains this (repeatable)")
    args = parser.parse_args()

    here = Path(__file__).resolve().parent
    scripts = [here / name for name in BENCHMARKS if (here / name).exists()]
    if args.only:
        scripts = [s for s in scripts if any(word in s.name for word in args.only)]
        if not scripts:
            print(f"no benchmark matches {args.only}; there are: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
    total, usable = cores()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip() or "?"
    print("# runverdict benchmarks")
    print(f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}; commit {commit}")
    print(f"machine: {total} cores ({usable} usable), {platform.machine()}, {platform.platform()}")
    print(f"python: {platform.python_version()} ({sys.executable})")
    print(f"load average at start: {load_average()} (other work on the machine inflates wall times)")
    print(f"benchmarks: {', '.join(s.name for s in scripts) or 'none found'}")
    failed = []
    for script in scripts:
        now = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=False).stdout.strip() or "?"
        print(f"\n## {script.name}\n" + (f"\n(HEAD is now {now}: commits landed during the run)\n" if now != commit
                                           else ""), flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(script)], cwd=ROOT, check=False)
        print(f"\n({script.name}: {time.perf_counter() - started:.0f} s, exit {done.returncode})", flush=True)
        if done.returncode != 0:
            failed.append(script.name)
    print(f"\nload average at end: {load_average()}")
    if failed:
        print(f"benchmark scripts that failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
