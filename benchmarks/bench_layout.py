"""Benchmark: what the layout binding (commits 7e7b28a, 8db1eac) costs a gate, against the tree before it.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_layout.py                  # 21 interleaved repetitions
    .venv/bin/python benchmarks/bench_layout.py --new HEAD --new-dir /tmp/rv_head

Two source trees, each exported with ``git archive COMMIT | tar -x`` into its own directory
(never the checkout at the repository root) and run with this interpreter, ``PYTHONPATH`` set to
the tree and the tree as the working directory (the script checks that ``import validators``
imports that tree's package, not the editable install's):

- **old**: ``--old`` (d17c129, the tree before the layout work) in ``--old-dir`` (/tmp/rv_before);
- **new**: ``--new`` (8db1eac, the layout work's second and last commit; or ``HEAD``), exported to
  ``--new-dir`` (/tmp/rv_after), or ``--new worktree`` for the repository root as it is on disk
  (other engineers' uncommitted edits included). The output lists the commits touching
  ``validators/`` between the two.

Specs: each tree's own ``checks/run3.toml`` ("own"; they differ: d17c129's has config checks and
``label_column``, the new one a ``compile`` check and labels found by the layout), and a **fair**
spec, the same text for both trees: the old tree's spec, when the new tree accepts it and judges
every check the same; otherwise the old spec's checks (and advice) that both trees accept. The
script says which it used.

Measured, the arms of each table interleaved within every repetition (the order rotated from one
repetition to the next, so load drift and position in the round hit every arm alike), after one
untimed round:

- (a) and (c) **cold**: ``python -m validators check RUN --spec SPEC``, a fresh process each time,
  on ``fixtures/runs/run3_relu`` and ``fixtures/runs/run2_sigmoid`` (the tree's own copy; the
  fixtures are the same files in both commits);
- (b) and (c) **in process**: ``validators.gate.evaluate(spec, run_dir)`` in one long-lived
  worker process per tree (the spec parsed once, three untimed evaluations per arm first);
- (d) ``python -c "import validators.cli"`` and ``python -m validators --help``, fresh processes;
- the **history cross-check** alone (new tree, its own spec): the run copied with every file
  (history.csv, history.json, logs/ with the TensorBoard events), against a copy holding
  history.csv but neither history.json nor logs/ (the gate then has nothing to cross-check);
  cold and in process. And, instrumented in separate evaluations, the time spent inside the
  cross-check (``run._agree``), reading histories, and locating artefacts and binding columns
  (``Layout``).

Every arm: median and interquartile range (q1-q3) of the wall times, the median CPU time. Every
comparison: the median of the paired differences (arm minus reference, same repetition) with a
distribution-free 95% confidence interval for it (order statistics of the differences); "within
noise" when that interval holds 0. The load average is printed at the start, between the phases
and at the end: the machine is shared, so wall times move with it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, cpu_seconds, imported_modules, load_average, machine_line, table

FIXTURES = ("run3_relu", "run2_sigmoid")
OLD_OWN, OLD_FAIR = "old, own spec", "old, fair spec"
NEW_OWN, NEW_FAIR = "new, own spec", "new, fair spec"
NEW_OWN_NO_LOGS = "new, own spec, copy without logs/"
NEW_OWN_CSV = "new, own spec, copy with history.csv only"
NEW_FAIR_CSV = "new, fair spec, copy with history.csv only"
STAMP = ".bench_layout_commit"  # in an exported tree: the commit it holds (a directory without it is never removed)
CROSS_CHECK_FILES = ("history.json", "logs")  # removed in the "history.csv only" copy

# A worker per tree: reads one JSON request a line on stdin, answers one JSON line on stdout.
WORKER = r"""
import json, os, sys, time
from validators.gate import evaluate
from validators.spec import load_spec

specs = {}
TIMED = {  # module -> attribute paths timed when a request asks for the breakdown (skipped where absent)
    "validators.artefacts.run": ["_agree"],
    "validators.artefacts.history": ["read_history"],
    "validators.artefacts.layout": ["Layout._find", "Layout.prediction_column", "Layout.label_column",
                                    "Layout.config_key"],
}

def patched():
    import importlib
    spent, undo = {}, []
    for module_name, names in TIMED.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for dotted in names:
            owner, attr = module, dotted
            if "." in dotted:
                cls, attr = dotted.split(".")
                owner = getattr(module, cls, None)
            original = getattr(owner, attr, None) if owner is not None else None
            if original is None:
                continue
            key = f"{module_name.rsplit('.', 1)[-1]}.{dotted}"
            if not key.endswith("_agree"):
                spent[key] = 0.0
            def wrapper(*args, _f=original, _k=key, **kwargs):
                k = f"{_k}({os.path.basename(str(args[1]))})" if _k.endswith("_agree") else _k
                t = time.perf_counter()
                try:
                    return _f(*args, **kwargs)
                finally:
                    spent[k] = spent.get(k, 0.0) + time.perf_counter() - t
            setattr(owner, attr, wrapper)
            undo.append((owner, attr, original))
    return spent, undo

for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "where":
        import validators
        print(json.dumps({"file": validators.__file__}), flush=True)
        continue
    path = request["spec"]
    if path not in specs:
        specs[path] = load_spec(path)
    spec = specs[path]
    spent, undo = patched() if request.get("breakdown") else ({}, [])
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        report = evaluate(spec, request["run"])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        for owner, attr, original in undo:
            setattr(owner, attr, original)
    statuses = {r.id: r.status for r in report.results}
    print(json.dumps({"wall": wall, "cpu": cpu, "verdict": report.verdict, "statuses": statuses,
                      "notes": list(getattr(report, "notes", ())), "spent": spent}), flush=True)
"""


@dataclass
class Tree:
    name: str  # "old" / "new"
    commit: str  # full sha, or "worktree"
    path: Path

    def env(self) -> dict:
        env = dict(os.environ, NO_COLOR="1", PYTHONPATH=str(self.path))
        env.pop("PYTHONHOME", None)
        return env

    def run(self, args, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=self.path, env=self.env(), capture_output=True, text=True,
                              check=False, **kwargs)


@dataclass
class Arm:
    label: str
    tree: Tree
    args: list = field(default_factory=list)  # cold: the python arguments
    spec: str = ""  # in process
    run_dir: str = ""
    walls: list = field(default_factory=list)
    cpus: list = field(default_factory=list)
    outcomes: list = field(default_factory=list)  # exit code + last line (cold), or statuses (in process)
    pandas: str = "-"  # cold: modules imported, all imports' time and pandas' (-X importtime, 3 more runs)


# -- statistics ----------------------------------------------------------------------------
def quartiles(values) -> tuple[float, float]:
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def median_ci(values, level=0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median: order statistics k and n-1-k (0-based)."""
    xs, n = sorted(values), len(values)
    k, tail = 0, 0.0
    while True:  # largest k with P(Binomial(n, 1/2) <= k - 1) <= (1 - level) / 2
        p = math.comb(n, k) / 2 ** n
        if tail + p > (1 - level) / 2:
            break
        tail += p
        k += 1
    k = max(0, min(k, (n - 1) // 2))
    return xs[k], xs[n - 1 - k]


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def arm_row(arm: Arm, what: str) -> tuple:
    q1, q3 = quartiles(arm.walls)
    return (what, arm.label, ms(statistics.median(arm.walls)), f"{ms(q1)}-{ms(q3)}", ms(statistics.median(arm.cpus)),
            len(arm.walls), arm.pandas, outcome_text(arm))


def outcome_text(arm: Arm) -> str:
    kinds = {json.dumps(o, sort_keys=True) for o in arm.outcomes}
    if len(kinds) != 1:
        return f"{len(kinds)} different outcomes!"
    outcome = arm.outcomes[0]
    if isinstance(outcome, dict):
        counts = {}
        for status in outcome["statuses"].values():
            counts[status] = counts.get(status, 0) + 1
        return f"{outcome['verdict']}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return outcome


def compare_row(what: str, arm: Arm, reference: Arm) -> tuple:
    """Median paired difference (arm - reference, same repetition) of wall and CPU times, with its 95% CI."""
    cells = []
    for mine, theirs in ((arm.walls, reference.walls), (arm.cpus, reference.cpus)):
        diffs = [a - b for a, b in zip(mine, theirs)]
        d, (lo, hi) = statistics.median(diffs), median_ci(diffs)
        cells.append((d, lo, hi, d / statistics.median(theirs)))
    (d, lo, hi, rel), (cd, clo, chi, _crel) = cells
    verdict = "within noise" if lo <= 0 <= hi else ("slower" if lo > 0 else "faster")
    return (what, f"{arm.label} - {reference.label}", f"{d * 1000:+.1f}", f"{lo * 1000:+.1f} to {hi * 1000:+.1f}",
            f"{rel:+.1%}", verdict, f"{cd * 1000:+.1f} ({clo * 1000:+.1f} to {chi * 1000:+.1f})")


# -- trees and inputs ----------------------------------------------------------------------
def resolve(commit: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"unknown commit {commit!r}: {done.stderr.strip()}")
    return done.stdout.strip()


def export(name: str, commit: str, dest: Path) -> Tree:
    """``git archive COMMIT | tar -x -C DEST``, reused when DEST already holds that commit."""
    if commit == "worktree":
        return Tree(name, "worktree", ROOT)
    sha = resolve(commit)
    stamp = dest / STAMP
    if stamp.is_file() and stamp.read_text().strip() == sha:
        return Tree(name, sha, dest)
    if dest.exists():
        if not (stamp.is_file() or not any(dest.iterdir())):
            sys.exit(f"{dest} exists and was not exported by this script ({STAMP} missing): remove it or pick "
                     f"another directory")
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", sha], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    archive.stdout.close()
    if archive.wait() != 0:
        sys.exit(f"git archive {sha} failed")
    stamp.write_text(sha + "\n")
    return Tree(name, sha, dest)


def check_imports(tree: Tree) -> str:
    done = tree.run(["-c", "import validators; print(validators.__file__)"])
    where = Path(done.stdout.strip()).resolve()
    if done.returncode != 0 or not where.is_relative_to(tree.path.resolve()):
        sys.exit(f"the {tree.name} tree does not import its own package: {done.stdout.strip()} {done.stderr.strip()}")
    return str(where)


def accepts(tree: Tree, spec: Path) -> tuple[bool, str]:
    done = tree.run(["-c", "import sys; from validators.spec import load_spec; load_spec(sys.argv[1])", str(spec)])
    return done.returncode == 0, (done.stderr.strip().splitlines() or [""])[-1]


def spec_blocks(text: str) -> list[str]:
    """The spec's text cut before every table header line (``[x]`` or ``[[x]]``)."""
    blocks, current = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith("[") and current and any(ln.strip() and not ln.lstrip().startswith("#") for ln in current):
            blocks.append("".join(current))
            current = []
        current.append(line)
    blocks.append("".join(current))
    return blocks


def fair_spec(old: Tree, new: Tree, work: Path, statuses_of) -> tuple[Path, str]:
    """The same spec text for both trees: the old spec if the new tree judges it alike, else the intersection."""
    text = (old.path / "checks" / "run3.toml").read_text()
    fair = work / "fair_run3.toml"
    fair.write_text(text)
    ok, why = accepts(new, fair)
    if ok:
        run = "fixtures/runs/run3_relu"
        a, b = statuses_of(old, fair, run), statuses_of(new, fair, run)
        if a == b:
            return fair, (f"the old tree's checks/run3.toml, verbatim: the new tree accepts it and judges its "
                          f"{len(a)} checks alike on {run}")
        why = f"the trees judge it differently: {sorted(set(a.items()) ^ set(b.items()))}"
    # The intersection: the old spec's non-check tables, then each [[check]] and [[advice]] both trees accept.
    blocks = spec_blocks(text)
    kept = [blk for blk in blocks if not blk.lstrip().startswith(("[[check]]", "[[advice]]"))]
    dropped = []
    for blk in (b for b in blocks if b.lstrip().startswith(("[[check]]", "[[advice]]"))):
        fair.write_text("".join(kept + [blk]))
        if accepts(old, fair)[0] and accepts(new, fair)[0]:
            kept.append(blk)
        else:
            dropped.append(next((ln for ln in blk.splitlines() if ln.startswith("id")), blk.splitlines()[0]))
    fair.write_text("".join(kept))
    return fair, f"the old spec's checks both trees accept (the old spec as a whole: {why}); dropped: {dropped}"


def copies(tree: Tree, work: Path) -> dict:
    """Per fixture, copies of the run: without logs/ (history.csv and history.json), and history.csv only."""
    out = {}
    for fixture in FIXTURES:
        source = tree.path / "fixtures" / "runs" / fixture
        made = {}
        for variant, skip in (("no_logs", ("logs",)), ("csv_only", CROSS_CHECK_FILES)):
            dest = work / "runs" / f"{fixture}_{variant}"
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(source, dest, ignore=lambda _d, names, s=skip: [n for n in names if n in s])
            made[variant] = dest
        out[fixture] = made
    return out


# -- measuring -----------------------------------------------------------------------------
def rotated(arms: list, rep: int) -> list:
    k = rep % len(arms)
    return arms[k:] + arms[:k]


def measure_cold(arms: list[Arm], repeats: int) -> None:
    for rep in range(repeats + 1):  # round 0 is untimed
        for arm in rotated(arms, rep):
            cpu, wall = cpu_seconds(), time.perf_counter()
            done = arm.tree.run(arm.args)
            wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            if rep == 0:
                continue
            arm.walls.append(wall)
            arm.cpus.append(cpu)
            last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
            arm.outcomes.append(f"exit {done.returncode}: {last[:60]}" if "--help" not in arm.args
                                and "-c" not in arm.args else f"exit {done.returncode}")
    for arm in arms:  # what it imports: median of 3 runs with -X importtime
        seen = [imported_modules([sys.executable, *arm.args], arm.tree.env(), cwd=arm.tree.path) for _ in range(3)]
        total = statistics.median(t for _, t, _ in seen)
        pandas = [m["pandas"] for m, _, _ in seen if "pandas" in m]
        arm.pandas = f"{len(seen[0][0])} modules, {total * 1000:.0f} ms; pandas " + (
            f"{statistics.median(pandas) * 1000:.0f} ms" if pandas else "no")


class Worker:
    def __init__(self, tree: Tree):
        self.tree = tree
        self.process = subprocess.Popen([sys.executable, "-c", WORKER], cwd=tree.path, env=tree.env(),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"the {self.tree.name} tree's worker died (request {request})")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def measure_warm(arms: list[Arm], workers: dict, repeats: int, warmup: int = 3) -> None:
    for arm in arms:
        for _ in range(warmup):
            workers[arm.tree.name].ask(op="evaluate", spec=arm.spec, run=arm.run_dir)
    for rep in range(repeats):
        for arm in rotated(arms, rep):
            answer = workers[arm.tree.name].ask(op="evaluate", spec=arm.spec, run=arm.run_dir)
            arm.walls.append(answer["wall"])
            arm.cpus.append(answer["cpu"])
            arm.outcomes.append({"verdict": answer["verdict"], "statuses": answer["statuses"]})


def breakdown(worker: Worker, spec: str, run_dir: str, repeats: int) -> tuple[dict, float, list]:
    """Median seconds per evaluate inside each timed function (instrumented evaluations, not the ones above)."""
    spent, walls, notes = {}, [], []
    for _ in range(repeats):
        answer = worker.ask(op="evaluate", spec=spec, run=run_dir, breakdown=True)
        walls.append(answer["wall"])
        notes = answer["notes"]
        for key, seconds in answer["spent"].items():
            spent.setdefault(key, []).append(seconds)
    return {k: statistics.median(v) for k, v in spent.items()}, statistics.median(walls), notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="timed repetitions of every arm (median, IQR)")
    parser.add_argument("--old", default="d17c129", help="the commit before the layout work")
    parser.add_argument("--new", default="8db1eac",
                        help="the commit to compare (8db1eac: the layout work's last commit; HEAD; or 'worktree', "
                             "the checkout as is)")
    parser.add_argument("--old-dir", type=Path, default=Path("/tmp/rv_before"))
    parser.add_argument("--new-dir", type=Path, default=Path("/tmp/rv_after"))
    args = parser.parse_args()
    if args.repeats < 15:
        print(f"note: --repeats {args.repeats} is below the 15 the comparison was planned with", file=sys.stderr)

    print("== bench_layout: the layout binding's cost to a gate, old tree against new ==")
    print(machine_line())
    started_load = load_average()
    old = export("old", args.old, args.old_dir)
    new = export("new", args.new, args.new_dir)
    for tree in (old, new):
        print(f"{tree.name} tree: {tree.commit[:10] if tree.commit != 'worktree' else 'worktree (the checkout as is)'}"
              f" in {tree.path}; imports {check_imports(tree)}")
    if new.commit != "worktree":
        log = subprocess.run(["git", "-C", str(ROOT), "log", "--format=%h %s", f"{old.commit}..{new.commit}", "--",
                              "validators"], capture_output=True, text=True, check=False).stdout.splitlines()
        print(f"commits touching validators/ from old to new: {len(log)}: "
              + "; ".join(line[:60] + ("..." if len(line) > 60 else "") for line in log))
    for fixture in FIXTURES:
        same = subprocess.run(["diff", "-r", "-q", str(old.path / "fixtures/runs" / fixture),
                               str(new.path / "fixtures/runs" / fixture)], capture_output=True, check=False)
        print(f"fixtures/runs/{fixture}: {'the same files in both trees' if same.returncode == 0 else 'DIFFERS'}")

    work = Path(tempfile.mkdtemp(prefix="bench_layout_"))
    workers = {tree.name: Worker(tree) for tree in (old, new)}
    try:
        for name, worker in workers.items():
            where = worker.ask(op="where")["file"]
            if not Path(where).resolve().is_relative_to(worker.tree.path.resolve()):
                sys.exit(f"the {name} worker imports {where}, not its tree")

        def statuses_of(tree, spec, run):
            return workers[tree.name].ask(op="evaluate", spec=str(spec), run=run)["statuses"]

        fair, fair_how = fair_spec(old, new, work, statuses_of)
        own_old, own_new = old.path / "checks" / "run3.toml", new.path / "checks" / "run3.toml"
        print(f"specs: own = each tree's checks/run3.toml; fair = {fair_how}")
        same_text = fair.read_text() == own_old.read_text()
        old_label = OLD_OWN + (" (= fair)" if same_text else "")
        runs = copies(new, work)
        print(f"cross-check copies (new tree): {work / 'runs'}: <fixture>_no_logs (without logs/), "
              f"<fixture>_csv_only (without {' and '.join(CROSS_CHECK_FILES)})")
        print(f"load average at start: {started_load}")
        print(f"repetitions: {args.repeats} timed per arm, interleaved, after an untimed round", flush=True)

        def gate_arms(fixture, make):
            run = f"fixtures/runs/{fixture}"
            copy = runs[fixture]
            arms = [make(old_label, old, own_old, run), make(NEW_OWN, new, own_new, run),
                    make(NEW_FAIR, new, fair, run)]
            if not same_text:
                arms.append(make(OLD_FAIR, old, fair, run))
            return arms + [make(NEW_OWN_NO_LOGS, new, own_new, str(copy["no_logs"])),
                           make(NEW_OWN_CSV, new, own_new, str(copy["csv_only"])),
                           make(NEW_FAIR_CSV, new, fair, str(copy["csv_only"]))]

        def cold_arm(label, tree, spec, run):
            return Arm(label, tree, ["-m", "validators", "check", run, "--spec", str(spec)])

        def warm_arm(label, tree, spec, run):
            return Arm(label, tree, spec=str(spec), run_dir=run)

        # (a), (c) cold, with the cross-check's share
        cold = []
        for fixture in FIXTURES:
            arms = gate_arms(fixture, cold_arm)
            measure_cold(arms, args.repeats)
            cold.append((fixture, arms))
            print(f"  cold {fixture} done; load {load_average()}", flush=True)

        # (d) import and --help
        startup = [Arm("old", old, ["-c", "import validators.cli"]), Arm("new", new, ["-c", "import validators.cli"]),
                   Arm("old", old, ["-m", "validators", "--help"]), Arm("new", new, ["-m", "validators", "--help"])]
        measure_cold(startup, args.repeats)
        print(f"  import and --help done; load {load_average()}", flush=True)

        # (b), (c) in process, with the cross-check's share
        warm = []
        for fixture in FIXTURES:
            arms = gate_arms(fixture, warm_arm)
            measure_warm(arms, workers, args.repeats)
            warm.append((fixture, arms))
        print(f"  in process done; load {load_average()}", flush=True)

        spent = {}
        for fixture in FIXTURES:
            spent[fixture] = (breakdown(workers["new"], str(own_new), f"fixtures/runs/{fixture}", args.repeats),
                              breakdown(workers["new"], str(own_new), str(runs[fixture]["csv_only"]), args.repeats))
    finally:
        for worker in workers.values():
            worker.close()
        shutil.rmtree(work, ignore_errors=True)
    end_load = load_average()

    header = ("what", "arm", "median ms", "IQR ms", "cpu ms", "n", "imports (-X importtime)", "outcome")
    rows = []
    for fixture, arms in cold:
        rows += [arm_row(arm, f"(a/c) cold check {fixture}") for arm in arms]
    rows += [arm_row(arm, "(d) python -c 'import validators.cli'") for arm in startup[:2]]
    rows += [arm_row(arm, "(d) python -m validators --help") for arm in startup[2:]]
    for fixture, arms in warm:
        rows += [arm_row(arm, f"(b/c) evaluate() in process {fixture}") for arm in arms]
    print()
    print(table(header, rows, left=(0, 1, 6, 7)))
    print("median ms / IQR ms: median and interquartile range (q1-q3) of the wall times; cpu ms: median CPU time "
          "(cold: the child process; in process: the worker's); imports: 3 more runs with -X importtime, "
          "the modules imported, the median time in all imports and in importing pandas (cumulative); copies: the fixture copied without logs/, or without history.json and logs/")

    def pick(arms, label):
        return next(a for a in arms if a.label == label)

    crows = []
    for (fixture, c_arms), (_, w_arms) in zip(cold, warm):
        for kind, arms in (("cold check", c_arms), ("evaluate()", w_arms)):
            ref = arms[0]  # the old tree with its own spec
            fair_ref = pick(arms, OLD_FAIR) if any(a.label == OLD_FAIR for a in arms) else ref
            crows += [
                compare_row(f"{kind} {fixture}: own specs", pick(arms, NEW_OWN), ref),
                compare_row(f"{kind} {fixture}: fair spec", pick(arms, NEW_FAIR), fair_ref),
                compare_row(f"{kind} {fixture}: history cross-check (json + logs/)", pick(arms, NEW_OWN),
                            pick(arms, NEW_OWN_CSV)),
                compare_row(f"{kind} {fixture}:   of which logs/", pick(arms, NEW_OWN), pick(arms, NEW_OWN_NO_LOGS)),
                compare_row(f"{kind} {fixture}:   of which history.json", pick(arms, NEW_OWN_NO_LOGS),
                            pick(arms, NEW_OWN_CSV)),
                compare_row(f"{kind} {fixture}: fair spec, no cross-check", pick(arms, NEW_FAIR_CSV), fair_ref),
            ]
    crows.append(compare_row("import validators.cli", startup[1], startup[0]))
    crows.append(compare_row("--help", startup[3], startup[2]))
    print()
    print(table(("comparison", "arms", "wall diff ms", "95% CI ms", "vs reference", "reading (wall)",
                 "cpu diff ms (95% CI)"), crows, left=(0, 1, 5)))
    print("wall diff: median over repetitions of (arm - reference) in the same repetition; 95% CI: distribution-"
          "free interval of that median (order statistics); 'within noise' when it holds 0; cpu diff: the same for "
          "the CPU times (less moved by the load than wall times). The old tree reads "
          "history.csv only whatever else the run holds, so its reference is the fixture itself")
    print()
    print("where the new tree's time goes, in process (instrumented evaluations, median per evaluate, own spec):")
    for fixture in FIXTURES:
        (full_spent, full_wall, notes), (csv_spent, csv_wall, _) = spent[fixture]
        parts = []
        for key in full_spent:
            parts.append(f"{key} {ms(full_spent[key])} ms (history.csv only: {ms(csv_spent.get(key, 0.0))} ms)")
        print(f"  {fixture}: evaluate {ms(full_wall)} ms with every file ({ms(csv_wall)} ms history.csv only); "
              + "; ".join(parts))
        if notes:
            print(f"    report note: {notes[-1]}")
    print("  (run._agree is the cross-check: it reads each other history file and compares the judged metrics; "
          "history.read_history counts every history read, the cross-check's included; Layout.* is locating "
          "artefacts and binding columns and config keys)")
    print(f"load average at start: {started_load}; at end: {end_load}")
    print(f"reproduce: .venv/bin/python benchmarks/bench_layout.py --repeats {args.repeats} --old {args.old} "
          f"--new {args.new} --old-dir {args.old_dir} --new-dir {args.new_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
