"""Items 12-14 of issue #13 under a 3 GiB address-space limit (``RLIMIT_AS``), in a process of their own.

A 1.8 KB YAML alias bomb, a 150-byte TensorBoard file whose steps go to 2**26 or 2**40 and a small
Parquet file of 600 M zstd zeros used to take gigabytes (or raise MemoryError). Under the limit each
is an error naming the file (exit 2) within seconds; a valid run under the same limit passes, so the
limit itself (numpy, pandas, pyarrow imported) is not what refuses them. TensorFlow is never imported.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from artefacts.test_tensorboard import event, frame, value, version_event
from factory import SPEC, make_run
from test_bounded_inputs import alias_bomb, zeros_parquet

REPO = Path(__file__).resolve().parent.parent
LIMIT = 3 * 1024 ** 3
SECONDS = 20  # "in seconds", on a loaded 2-core machine; the subprocess is killed at 60

# The real CLI, plus one check on the way out: TensorFlow was not imported.
CHILD = """
import runpy, sys
try:
    runpy.run_module("validators", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
if "tensorflow" in sys.modules:
    print("test: tensorflow was imported", file=sys.stderr)
    code = 99
sys.exit(code)
"""


def _limit_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def gate_limited(run: Path, spec: Path = SPEC) -> tuple[int, str, float]:
    """``runverdict check RUN --spec SPEC`` in a child process limited to 3 GiB of address space."""
    # One BLAS thread: OpenBLAS reserves a buffer per thread it starts, one per core (address space, not
    # memory), and gives up with "Memory allocation still failed" when it cannot. On the 2-core machine
    # this was written on the control run fits in 3 GiB without it (measured); on a many-core machine it
    # would not. pyarrow's jemalloc pool needs nothing: ARROW_DEFAULT_MEMORY_POOL is left as it is.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("RUNVERDICT_MAX_FILE_BYTES", None)  # the default limits, as a user has them
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", CHILD, "check", os.fspath(run), "--spec", os.fspath(spec)],
                          capture_output=True, text=True, errors="backslashreplace", cwd=REPO, env=env,
                          preexec_fn=_limit_address_space, timeout=60, check=False)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def assert_refused(run: Path, file_name: str, *fragments: str) -> None:
    code, out, seconds = gate_limited(run)
    tail = out[-3000:]
    assert "MemoryError" not in out and "internal error" not in out, tail
    assert code == 2, f"exit {code}\n{tail}"
    assert seconds < SECONDS, f"took {seconds:.1f} s\n{tail}"
    assert file_name in out, tail
    for fragment in fragments:
        assert fragment in out, tail


def test_a_valid_run_passes_under_the_limit(tmp_path):
    code, out, seconds = gate_limited(make_run(tmp_path / "run"))
    assert code in (0, 1), out[-3000:]
    assert seconds < SECONDS


def test_a_yaml_alias_bomb_under_the_limit(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "config.json").unlink()
    bomb = alias_bomb()
    assert len(bomb) < 2000
    (run / "config.yaml").write_text(bomb)
    assert_refused(run, "config.yaml", "alias bomb")


@pytest.mark.parametrize("step", [2 ** 26, 2 ** 40])
def test_a_tensorboard_step_far_beyond_any_epoch_under_the_limit(tmp_path, step):
    run = make_run(tmp_path / "run")
    (run / "history.csv").unlink()  # the logs are the history the checks read
    events = run / "logs" / "train" / "events.out.tfevents.1.host.1.v2"
    events.parent.mkdir(parents=True)
    events.write_bytes(frame([version_event(), event(0, value("epoch_loss", scalar=0.5)),
                              event(step, value("epoch_loss", scalar=0.4))]))
    assert events.stat().st_size < 200
    assert_refused(run, "events.out.tfevents.1.host.1.v2", f"step {step}")


@pytest.fixture(scope="module")
def zeros(tmp_path_factory) -> Path:
    """600 M zstd-compressed int8 zeros, a few MB on disk; written once for both tests."""
    path = tmp_path_factory.mktemp("zeros") / "zeros.parquet"
    # plain encoding, no statistics: the same zeros written in half the time (no dictionary to build)
    zeros_parquet(path, 600_000_000, chunk=100_000_000, name="volatility", use_dictionary=False,
                  write_statistics=False)
    assert path.stat().st_size < 10_000_000
    return path


@pytest.mark.parametrize("artefact", ["predictions", "returns"])
def test_a_parquet_file_of_600_million_zeros_under_the_limit(tmp_path, zeros, artefact):
    run = make_run(tmp_path / "run")
    (run / f"{artefact}.csv").unlink()
    try:
        os.link(zeros, run / f"{artefact}.parquet")
    except OSError:  # another file system: a copy, a few MB
        shutil.copy(zeros, run / f"{artefact}.parquet")
    assert_refused(run, f"{artefact}.parquet", "600000000 rows")
