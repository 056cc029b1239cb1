"""A sweep on a Dask cluster (``--scheduler tcp://HOST:PORT``) through the real CLI, against a real
``dask scheduler`` and ``dask worker`` started here on 127.0.0.1 (once for the module) and stopped
after: it equals the local sweep; a worker dying mid-sweep is retried, then that run's error; an
unreachable scheduler, a scheduler without workers, a run the worker cannot see and a missing
``distributed`` are errors (exit 2) naming the scheduler, each within its documented bound."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SPEC = str(ROOT / "checks" / "run3.toml")
RUNS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "fixtures" / "runs").iterdir() if p.is_dir()) + sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "fixtures" / "other_pipeline" / "runs").iterdir() if p.is_dir())
TIMING = {"seconds"}  # JSON fields that differ between two judgements of the same run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(procs) -> None:
    """Terminate, wait, kill on timeout: every process given, last started first."""
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    for proc in reversed(procs):
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def start_scheduler(port, log):
    return subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                             "--no-dashboard"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


@dataclass
class Cluster:
    address: str
    client: object  # the test's own distributed.Client (the CLI makes its own)
    worker_pids: set

    def pid(self) -> int:
        """The worker process (the nanny's child) now running; waits for one to register."""
        self.client.wait_for_workers(1, timeout=60)
        (pid,) = self.client.run(os.getpid).values()
        self.worker_pids.add(pid)
        return pid


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    logs = tmp_path_factory.mktemp("dask-logs")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs, client, pids = [], None, set()
    with open(logs / "scheduler.log", "wb") as slog, open(logs / "worker.log", "wb") as wlog:
        try:
            procs.append(start_scheduler(port, slog))
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                 "--host", "127.0.0.1"], cwd=ROOT, stdout=wlog, stderr=subprocess.STDOUT))
            client = distributed.Client(address, timeout=30, set_as_default=False)
            client.wait_for_workers(1, timeout=60)
            yield Cluster(address, client, pids)
        finally:
            if client is not None:
                try:
                    pids.update(client.run(os.getpid, on_error="ignore").values())
                except Exception:  # noqa: BLE001 - the cluster may be gone already
                    pass
                client.close(timeout=10)
            stop(procs)
            for pid in pids:  # a worker process the nanny started, should it outlive its nanny
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def cli(*args, cwd=ROOT, env=None, timeout=120):
    """``runverdict ARGS`` in a subprocess: (exit code, stdout, stderr, seconds)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "validators", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


# A fetched run's check evidence still names its private copy (tempfile.mkdtemp, removed after the
# run): a different folder in every sweep, local or not; said so in the report to the sources' owner.
FETCH_DIR = re.compile(r"\S*/runverdict-fetch-[^/]+/")


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    if isinstance(value, str):
        return FETCH_DIR.sub("<fetched>/", value)
    return value


def local_sweep(tmp_path, runs, *extra):
    json_path = tmp_path / "local.json"
    code, out, err, _ = cli("check", *runs, "--spec", SPEC, "--jobs", 2, "--json", json_path, *extra)
    return code, out, json.loads(json_path.read_text())


def test_cluster_sweep_equals_the_local_sweep(cluster, tmp_path):
    extra = ("--rank-by", "val_direction_auc")
    local_code, local_out, local_doc = local_sweep(tmp_path, RUNS, *extra)
    code, out, err, _ = cli("check", *RUNS, "--spec", SPEC, "--scheduler", cluster.address,
                            "--json", tmp_path / "dask.json", *extra)
    assert (code, err) == (local_code, "")
    assert local_code == 1  # the fixtures hold passing and failing runs
    assert out.splitlines() == local_out.splitlines()  # every run's report, the table, the best run
    assert without_timing(json.loads((tmp_path / "dask.json").read_text())) == without_timing(local_doc)


def test_run_directories_and_urls_mix(cluster, tmp_path):
    runs = ["fixtures/runs/run3_relu", (ROOT / "fixtures" / "runs" / "run3_weak_auc").as_uri()]  # file:// fetched
    local_code, local_out, local_doc = local_sweep(tmp_path, runs)  # on the worker, through fsspec
    code, out, err, _ = cli("check", *runs, "--spec", SPEC, "--scheduler", cluster.address,
                            "--json", tmp_path / "dask.json")
    assert (code, out.splitlines()) == (local_code, local_out.splitlines()) and local_code == 1, err
    doc = json.loads((tmp_path / "dask.json").read_text())
    assert without_timing(doc) == without_timing(local_doc)
    assert doc["runs"][1]["run"]["source"]["location"] == runs[1]


def sweep_with_a_dying_worker(cluster, tmp_path, runs, allowed_failures):
    """The worker frozen (SIGSTOP) before the sweep starts, so the runs handed to it cannot finish;
    killed (SIGKILL) once the scheduler shows them processing there: ``(runs it held, cli result)``."""
    client = cluster.client

    def set_allowed(dask_scheduler, n):
        previous, dask_scheduler.allowed_failures = dask_scheduler.allowed_failures, n
        return previous

    previous = client.run_on_scheduler(set_allowed, n=allowed_failures)
    pid = cluster.pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "validators", "check", *runs, "--spec", SPEC,
                                 "--scheduler", cluster.address, "--quiet", "--json", tmp_path / "dask.json"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        held = ()
        while not held:
            assert time.monotonic() - started < 60, "the sweep's tasks never reached the worker"
            held = next(iter(client.processing().values()), ())
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=90)
        result = proc.returncode, out, err, time.monotonic() - started
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        client.run_on_scheduler(set_allowed, n=previous)
    held_runs = [runs[int(key.rsplit("-", 1)[1])] for key in held]
    return held_runs, result


def test_a_worker_dying_mid_sweep_is_that_runs_error(cluster, tmp_path):
    runs = ["fixtures/runs/run3_relu", "fixtures/runs/run2_sigmoid", "fixtures/runs/run3_weak_auc",
            "fixtures/other_pipeline/runs/fixed_relu"]
    held, (code, out, err, seconds) = sweep_with_a_dying_worker(cluster, tmp_path, runs, allowed_failures=0)
    assert code == 2 and seconds < 60
    assert held and len(held) < len(runs)  # the scheduler hands a 1-thread worker one or two at a time
    lines = {line.split()[1]: line for line in out.splitlines() if line.split()[:1] in (["error"], ["pass"], ["fail"])}
    doc = json.loads((tmp_path / "dask.json").read_text())
    for run, report in zip(runs, doc["runs"]):
        if run in held:
            assert lines[run].startswith("error")
            assert f"run {run!r} not judged: every Dask worker that judged it died (1 attempt" in lines[run]
            assert cluster.address in lines[run]
            assert report["verdict"] == "error" and cluster.address in report["message"]
        else:  # the others judged by the worker the nanny started again
            assert report["verdict"] == ("pass" if run.endswith("relu") else "fail"), (run, out, err)
    cluster.pid()  # the nanny's new worker is up for the next test


def test_a_worker_dying_once_is_retried(cluster, tmp_path):
    runs = ["fixtures/runs/run3_relu", "fixtures/runs/run2_sigmoid", "fixtures/runs/run3_weak_auc"]
    local_code, _, local_doc = local_sweep(tmp_path, runs)
    held, (code, out, err, seconds) = sweep_with_a_dying_worker(cluster, tmp_path, runs, allowed_failures=3)
    assert held and seconds < 60
    assert code == local_code
    assert without_timing(json.loads((tmp_path / "dask.json").read_text())) == without_timing(local_doc)
    cluster.pid()


def test_an_unreachable_scheduler_is_an_error_within_the_timeout(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    code, out, err, seconds = cli("check", *RUNS[:2], "--spec", SPEC, "--scheduler", address,
                                  "--json", tmp_path / "x.json", env={"RUNVERDICT_DASK_TIMEOUT": "2"})
    assert code == 2 and seconds < 30
    assert f"runverdict: {address}: cannot reach the Dask scheduler within 2 s" in err
    assert "runs; exit" not in out and not (tmp_path / "x.json").exists()  # nothing judged, nothing reported


def test_a_scheduler_without_workers_is_an_error_within_the_bound(tmp_path):
    port = free_port()
    with open(tmp_path / "scheduler.log", "wb") as log:
        procs = [start_scheduler(port, log)]
        try:
            address = f"tcp://127.0.0.1:{port}"
            code, out, err, seconds = cli("check", *RUNS[:2], "--spec", SPEC, "--scheduler", address,
                                          env={"RUNVERDICT_DASK_TIMEOUT": "20", "RUNVERDICT_DASK_WORKER_TIMEOUT": "2"})
        finally:
            stop(procs)
    assert code == 2 and seconds < 30
    assert f"runverdict: {address}: no Dask worker registered with the scheduler within 2 s" in err


def test_a_run_the_worker_cannot_see_is_that_runs_error(cluster, tmp_path):
    here = tmp_path / "only_here"  # the CLI's working directory, not the worker's (the repository)
    shutil.copytree(ROOT / "fixtures" / "runs" / "run3_relu", here / "run3_relu")
    visible = str(ROOT / "fixtures" / "runs" / "run3_relu")
    code, out, err, _ = cli("check", "run3_relu", visible, "--spec", SPEC, "--scheduler", cluster.address,
                            "--quiet", "--json", tmp_path / "dask.json", cwd=here)
    assert code == 2
    doc = json.loads((tmp_path / "dask.json").read_text())
    assert [r["verdict"] for r in doc["runs"]] == ["error", "pass"]
    message = doc["runs"][0]["message"]
    assert "run directory 'run3_relu' not found on the Dask worker tcp://127.0.0.1:" in message
    assert f"(scheduler {cluster.address}; its working directory {str(ROOT)!r})" in message


def test_without_distributed_the_pip_hint(tmp_path):
    code = ("import sys; sys.modules['distributed'] = None; from validators.cli import main; "
            f"sys.exit(main(['check', *{RUNS[:2]!r}, '--spec', {SPEC!r}, '--scheduler', 'tcp://127.0.0.1:9']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "tcp://127.0.0.1:9: a sweep on a Dask cluster needs a package that is not installed (distributed)" \
        in done.stderr
    assert "pip install 'runverdict[dask]'" in done.stderr


def test_a_malformed_address_is_a_usage_error():
    code, out, err, _ = cli("check", *RUNS[:2], "--spec", SPEC, "--scheduler", "127.0.0.1")
    assert code == 4 and "--scheduler '127.0.0.1': expected the scheduler's address" in err


def test_the_core_does_not_import_distributed():
    probe = ("import sys, validators.cli, validators.sweep, validators.gate; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
