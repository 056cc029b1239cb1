"""Benchmark: cold start of runverdict (a fresh process each time), and the peers' import times.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_startup.py
    .venv/bin/python benchmarks/bench_startup.py --no-peers      # skip the peer tools

Each command runs in a fresh process, ``--repeats`` times after one untimed warm-up (so the OS
file cache is warm: "cold" means a new interpreter, not an empty page cache); the median is shown.

- ``runverdict --help``, ``python -c "import validators"``, ``from validators.gate import evaluate``;
- the whole gate ``runverdict check RUN --spec checks/run3.toml`` on the fixture Run #3
  (``fixtures/runs/run3_relu``), or, while that fixture does not exist, on a small run written
  with ``tests/factory.py``'s ``make_run`` (400 rows; the output says which);
- for scale: ``python -c pass`` and ``import numpy``, ``import pandas``, ``import tensorflow``;
- what each runverdict command imported (``-X importtime``): TensorFlow, Keras, pandas, ...;
- the import a user of each peer tool writes first (great-expectations, pandera, evidently,
  deepchecks), each installed in its own venv under ``benchmarks/.venv-peers/`` (gitignored,
  never a project dependency; created with pip on first use, ``--install-timeout`` seconds each).
  A peer that cannot be installed or imported gets a row saying why.

Targets (issue 8): the whole gate under 1 s wall cold, ``runverdict --help`` under 0.3 s, and
neither imports TensorFlow (issue 2: ``import validators`` neither). When the gate misses its
target, a cProfile of one run of it follows (``--profile`` forces it, ``--no-profile`` skips it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    DATA,
    ROOT,
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

PEERS_DIR = ROOT / "benchmarks" / ".venv-peers"
FIXTURE_RUN = ROOT / "fixtures" / "runs" / "run3_relu"
SPEC = ROOT / "checks" / "run3.toml"

# name -> (pip requirements, the first import a user writes, fallbacks for other versions).
# The pins are for the benchmark venvs only: without them pip picks versions that do not import
# together (evidently 0.7 and deepchecks 0.19 fail to import with pandas 3 / scikit-learn 1.9).
PEERS = {
    "great-expectations": (["great-expectations"], ["import great_expectations as gx"]),
    "pandera": (["pandera[pandas]"], ["import pandera.pandas as pa", "import pandera as pa"]),
    "evidently": (["evidently", "pandas<3"], ["from evidently import Report", "from evidently.report import Report"]),
    "deepchecks": (["deepchecks", "pandas<3", "scikit-learn<1.6"], ["from deepchecks.tabular import Dataset"]),
}

TARGET_GATE = 1.0
TARGET_HELP = 0.3


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def prepare_peer(name, requirements, statements, install, timeout) -> tuple[Path | None, str | None, str]:
    """The peer's venv python and the import statement that works there, or (None, None, why not)."""
    venv = PEERS_DIR / name
    python = venv_python(venv)
    stamp = venv / ".requirements"
    wanted = " ".join(requirements)
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        if not install:
            return None, None, "not installed (run without --no-install to create its venv)"
        print(f"  installing {name} into {venv.relative_to(ROOT)} (pip, up to {timeout:.0f} s) ...",
              file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
            done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                   *requirements], capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return None, None, f"pip install {wanted} did not finish within {timeout:.0f} s"
        except (OSError, subprocess.CalledProcessError) as exc:
            return None, None, f"cannot create the venv: {exc}"
        if done.returncode != 0:
            errors = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("WARNING")]
            return None, None, f"pip install {wanted} failed: {(errors or ['(no message)'])[-1][:150]}"
        stamp.write_text(wanted)
        print(f"  installed {name} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    last = "no import statement tried"
    for statement in statements:
        done = subprocess.run([str(python), "-c", statement], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return python, statement, ""
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1][:150]
    return None, None, f"installed but does not import: {last}"


def peer_version(python: Path, name: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def gate_run() -> tuple[Path, str]:
    """The fixture Run #3, or a small hand-made run while the fixture does not exist."""
    if FIXTURE_RUN.is_dir():
        return FIXTURE_RUN, f"fixture {FIXTURE_RUN.relative_to(ROOT)}"
    run = DATA / "startup_run"
    if not (run / "predictions.csv").exists():
        sys.path.insert(0, str(ROOT / "tests"))
        from factory import make_run

        make_run(run)
    return run, (f"{run.relative_to(ROOT)}, written by tests/factory.py make_run (400 rows; "
                 f"{FIXTURE_RUN.relative_to(ROOT)} does not exist yet)")


def measure(command, repeats, env=None):
    def call():
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)

    return timed(call, repeats)


def imports_text(modules) -> str:
    heavy = heavy_imports(modules)
    return ", ".join(f"{n}: {'no' if s is None else f'yes ({s:.2f} s)'}" for n, s in heavy.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="fresh processes per command (median)")
    parser.add_argument("--peer-repeats", type=int, default=5, help="fresh processes per peer import (median)")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer tools")
    parser.add_argument("--no-install", action="store_true", help="do not pip-install missing peers")
    parser.add_argument("--no-tensorflow", action="store_true", help="skip timing 'import tensorflow'")
    parser.add_argument("--install-timeout", type=float, default=300.0, help="seconds per peer install")
    parser.add_argument("--profile", dest="profile", action="store_true", default=None,
                        help="print a cProfile of the whole gate even when it meets its target")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="never profile")
    args = parser.parse_args()

    python = sys.executable
    runverdict = str(Path(python).parent / "runverdict")
    if not Path(runverdict).exists():
        print(f"{runverdict} not found: install the project first (make test, or pip install -e .)")
        return 1
    run, run_label = gate_run()
    env = dict(os.environ, NO_COLOR="1")

    print("== bench_startup: cold start, a fresh process per run ==")
    print(machine_line())
    print(f"gate run: {run_label}")

    ours = [
        ("runverdict --help", [runverdict, "--help"]),
        ("python -c 'import validators'", [python, "-c", "import validators"]),
        ("python -c 'from validators.gate import evaluate'", [python, "-c", "from validators.gate import evaluate"]),
        (f"runverdict check {run.relative_to(ROOT)} --spec checks/run3.toml",
         [runverdict, "check", str(run), "--spec", str(SPEC)]),
    ]
    scale = [
        ("python -c pass (the interpreter alone)", [python, "-c", "pass"], args.repeats),
        ("python -c 'import numpy'", [python, "-c", "import numpy"], args.repeats),
        ("python -c 'import pandas'", [python, "-c", "import pandas"], args.repeats),
    ]
    if not args.no_tensorflow:
        scale.append(("python -c 'import tensorflow'", [python, "-c", "import tensorflow"], 3))

    rows, results = [], {}
    for label, command in ours:
        timing, done = measure(command, args.repeats, env)
        modules, total, _ = imported_modules(command, env)
        results[label] = (timing, done, modules, total)
        rows.append((label, f"{timing.wall:.3f}", f"{timing.cpu:.3f}", timing.spread, len(timing.walls),
                     f"exit {done.returncode}"))
    for label, command, repeats in scale:
        timing, done = measure(command, repeats, env)
        rows.append((label, f"{timing.wall:.3f}", f"{timing.cpu:.3f}", timing.spread, len(timing.walls),
                     "for scale" if done.returncode == 0 else f"exit {done.returncode}"))

    peer_notes = []
    if args.no_peers:
        peer_notes.append("peers: skipped (--no-peers)")
    else:
        for name, (requirements, statements) in PEERS.items():
            peer_python, statement, why = prepare_peer(name, requirements, statements, not args.no_install,
                                                       args.install_timeout)
            if peer_python is None:
                rows.append((f"peer {name}", "-", "-", "-", 0, why))
                continue
            timing, _ = measure([str(peer_python), "-c", statement], args.peer_repeats, env)
            modules, _, _ = imported_modules([str(peer_python), "-c", statement], env)
            heavy = [n for n, s in heavy_imports(modules).items() if s is not None and "." not in n]
            rows.append((f"peer {name} {peer_version(peer_python, name)}: {statement}", f"{timing.wall:.3f}",
                         f"{timing.cpu:.3f}", timing.spread, len(timing.walls),
                         "imports " + (", ".join(heavy) or "none of numpy/pandas/pyarrow/tensorflow")))
        peer_notes.append(f"peers: each in its own venv under {PEERS_DIR.relative_to(ROOT)}/, pip requirements: "
                          + "; ".join(f"{n}: {' '.join(r)}" for n, (r, _) in PEERS.items()))

    print()
    print(table(("command (fresh process)", "wall s", "cpu s", "wall min-max", "runs", "note"), rows))
    print("wall s: median wall-clock seconds after one untimed warm-up; cpu s: median CPU seconds of the "
          "process (wall well above cpu means the machine was busy)")
    for note in peer_notes:
        print(note)
    gate_label = ours[-1][0]
    print(f"the gate said: {(results[gate_label][1].stdout.strip().splitlines() or ['(nothing)'])[-1]}")
    print()
    print("what each command imported (-X importtime, one run; cumulative import seconds):")
    for label, _ in ours:
        print(f"  {label}: {results[label][3]:.2f} s in all imports; {imports_text(results[label][2])}")

    help_t, help_mods = results["runverdict --help"][0], results["runverdict --help"][2]
    import_mods = results["python -c 'import validators'"][2]
    gate_t, gate_mods = results[gate_label][0], results[gate_label][2]
    print()
    print("targets (issues 2 and 8):")
    print(target_line("whole gate on a fixture run under 1 s wall, cold", gate_t.wall < TARGET_GATE,
                      f"{gate_t.wall:.3f} s", "< 1 s",
                      f"{gate_t.wall - TARGET_GATE:.3f} s ({gate_t.wall / TARGET_GATE - 1:.0%})"))
    print(target_line("runverdict --help under 0.3 s", help_t.wall < TARGET_HELP, f"{help_t.wall:.3f} s", "< 0.3 s",
                      f"{help_t.wall - TARGET_HELP:.3f} s ({help_t.wall / TARGET_HELP - 1:.0%})"))
    for label, mods in (("runverdict --help", help_mods), ("import validators", import_mods),
                        ("the whole gate", gate_mods)):
        tf = [m for m in ("tensorflow", "keras") if m in mods]
        print(target_line(f"{label} does not import TensorFlow", not tf,
                          "imports " + ", ".join(tf) if tf else "TensorFlow not imported", "no TensorFlow",
                          "it imports " + ", ".join(tf)))
    if args.profile or (args.profile is None and gate_t.wall >= TARGET_GATE):
        print()
        print(profile_command([python, "-m", "validators", "check", str(run), "--spec", str(SPEC)], env=env))
        print(import_sites_text(first_import_sites("validators", ["check", str(run), "--spec", str(SPEC)], env=env)))
    if not FIXTURE_RUN.is_dir():
        print(f"  note: measured on the hand-made run; rerun when {FIXTURE_RUN.relative_to(ROOT)} exists")
    print(f"load average at end: {load_average()}")
    print("reproduce: .venv/bin/python benchmarks/bench_startup.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
