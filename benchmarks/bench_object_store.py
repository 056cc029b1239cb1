"""Benchmark: a sweep of many copies of a fixture run read from a local S3 endpoint vs from local folders.

Run from the repository root with the project's venv (the ``remote`` and ``test`` extras)::

    .venv/bin/python benchmarks/bench_object_store.py                      # 50 and 200 runs, 2 rounds
    .venv/bin/python benchmarks/bench_object_store.py --sizes 20,100,400 --repeats 3 --jobs 2

What it does:

- starts ``moto_server`` (moto's S3 server) on 127.0.0.1 at a free port, stopped at the end;
- uploads ``--run`` (``fixtures/runs/run3_relu``, 8 objects, 615 KB) with boto3 under
  ``s3://bench/sweep/run-NNNN/`` as many times as the largest size, plus a 1 MiB
  ``checkpoints/ckpt.bin`` no check reads; and copies it to as many local folders;
- for each size N, in each round (the arms' order alternating from one round to the next, after one
  untimed warm-up sweep of each arm at the smallest size), times the whole command in a fresh process:
  ``python -m validators check RUN_1 ... RUN_N --spec checks/run3.toml --quiet --json OUT --jobs J``
  once with the local folders, once with the ``s3://`` URLs (``AWS_ENDPOINT_URL`` set to the server);
- checks both arms give every run the same check statuses and the same exit code, and that the
  checkpoint was never requested (moto's request recorder);
- prints a Markdown table: median wall seconds per sweep and per run, the gate's CPU per run (the
  sweep process and its workers) and the S3 server's CPU per run (moto, from /proc), and the
  marginal cost of a run between the smallest and the largest size. CPU time is the number to
  compare on a machine others share: wall time follows their load (printed for every sweep).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "checks" / "run3.toml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(tmp: Path):
    port = _free_port()
    server = Path(sys.executable).with_name("moto_server")
    command = [str(server)] if server.exists() else [sys.executable, "-m", "moto.server"]
    with open(tmp / "moto.log", "wb") as log:  # the server keeps its own descriptor
        process = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                                   stderr=subprocess.STDOUT,
                                   env={**os.environ, "MOTO_RECORDER_FILEPATH": str(tmp / "recording.jsonl")})
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            return process, endpoint
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise SystemExit("moto_server did not start: " + (tmp / "moto.log").read_text()[-2000:])
            time.sleep(0.1)


def stop(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _server_cpu(pid: int) -> float:
    """CPU seconds the server process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep(locations, out: Path, env: dict, jobs: int, server_pid: int):
    """``(wall s, gate CPU s, server CPU s, exit code, statuses)`` of one sweep in a fresh process."""
    cpu, server = _children_cpu(), _server_cpu(server_pid)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "validators", "check", *map(str, locations), "--spec", str(SPEC),
                           "--quiet", "--json", str(out), "--jobs", str(jobs)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=3600, check=False)
    wall = time.perf_counter() - start
    cpu, server = _children_cpu() - cpu, _server_cpu(server_pid) - server
    if done.returncode not in (0, 1):
        raise SystemExit(f"sweep failed (exit {done.returncode}): {done.stderr[-2000:]}")
    report = json.loads(out.read_text())
    statuses = [tuple(sorted((c["id"], c["status"]) for c in r["checks"])) for r in report["runs"]]
    return wall, cpu, server, done.returncode, statuses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200", help="numbers of runs per sweep (comma-separated)")
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds per size")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    parser.add_argument("--run", default=str(ROOT / "fixtures" / "runs" / "run3_relu"))
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    jobs = args.jobs or os.cpu_count() or 1
    run = Path(args.run)
    import boto3

    tmp = Path(tempfile.mkdtemp(prefix="bench-object-store-"))
    process, endpoint = start_moto(tmp)
    try:
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(tmp / "none"),
               "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none")}
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="bench",
                              region_name="us-east-1")
        client.create_bucket(Bucket="bench")
        files = [p for p in sorted(run.rglob("*")) if p.is_file()]
        bodies = {p.relative_to(run).as_posix(): p.read_bytes() for p in files}
        bodies["checkpoints/ckpt.bin"] = os.urandom(1 << 20)
        started = time.perf_counter()
        for i in range(max(sizes)):
            for key, body in bodies.items():
                client.put_object(Bucket="bench", Key=f"sweep/run-{i:04d}/{key}", Body=body)
            shutil.copytree(run, tmp / "local" / f"run-{i:04d}")
        print(f"uploaded {max(sizes)} runs x {len(bodies)} objects in {time.perf_counter() - started:.1f} s "
              f"to {endpoint}", file=sys.stderr)
        arms = {"local folders": lambda n: [tmp / "local" / f"run-{i:04d}" for i in range(n)],
                "s3:// (moto)": lambda n: [f"s3://bench/sweep/run-{i:04d}" for i in range(n)]}
        for name, locations in arms.items():  # warm-up: page cache, the server's first requests
            sweep(locations(min(sizes)), tmp / "warm.json", env, jobs, process.pid)
        urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/recorder/start-recording",
                                                      method="POST"), timeout=5).close()
        walls = {(name, n): [] for name in arms for n in sizes}
        cpus = {(name, n): [] for name in arms for n in sizes}
        for round_ in range(args.repeats):
            for n in sizes:
                order = list(arms) if round_ % 2 == 0 else list(reversed(arms))
                seen = {}
                for name in order:
                    load = os.getloadavg()[0]
                    wall, cpu, server, code, statuses = sweep(arms[name](n), tmp / "out.json", env, jobs, process.pid)
                    walls[(name, n)].append(wall)
                    cpus[(name, n)].append((cpu, server))
                    seen[name] = (code, statuses)
                    print(f"round {round_ + 1}, {n} runs, {name}: {wall:.2f} s wall, gate CPU {cpu:.2f} s, "
                          f"server CPU {server:.2f} s (load {load:.1f} -> {os.getloadavg()[0]:.1f})", file=sys.stderr)
                if len({v for v in map(repr, seen.values())}) != 1:
                    raise SystemExit(f"the arms disagree on {n} runs: {seen}")
        recording = (tmp / "recording.jsonl").read_text() if (tmp / "recording.jsonl").exists() else ""
        requests = [json.loads(line) for line in recording.splitlines() if line]
        assert not any("ckpt.bin" in r["url"] for r in requests), "the checkpoint was downloaded"
        gets = sum(r["method"] == "GET" for r in requests)
    finally:
        stop(process)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{sys.version.split()[0]}, {os.cpu_count()} cores, --jobs {jobs}, {args.repeats} rounds, "
          f"run {run.relative_to(ROOT) if run.is_relative_to(ROOT) else run}; every run's statuses equal in both "
          f"arms; ckpt.bin never requested ({gets} GET requests recorded in the timed rounds)\n")
    print("| runs | arm | sweep wall s (median) | wall per run | gate CPU per run | S3 server CPU per run |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in sizes:
        for name in arms:
            wall = statistics.median(walls[(name, n)])
            cpu = statistics.median(c for c, _ in cpus[(name, n)])
            server = statistics.median(s for _, s in cpus[(name, n)])
            print(f"| {n} | {name} | {wall:.2f} | {wall / n * 1000:.0f} ms | {cpu / n * 1000:.0f} ms "
                  f"| {server / n * 1000:.0f} ms |")
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\nMarginal cost of a run (median sweep at {large} minus at {small}, over {large - small} runs):")
        for name in arms:
            wall = statistics.median(walls[(name, large)]) - statistics.median(walls[(name, small)])
            cpu = (statistics.median(c for c, _ in cpus[(name, large)])
                   - statistics.median(c for c, _ in cpus[(name, small)]))
            print(f"- {name}: {wall / (large - small) * 1000:.0f} ms wall, {cpu / (large - small) * 1000:.0f} ms "
                  "gate CPU per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
