"""A sweep on a Dask cluster: ``runverdict check RUN... --spec SPEC --scheduler tcp://HOST:PORT``.

Each run is one task on the Dask distributed scheduler at that address (``client.map`` with
``pure=False``): the task is ``sweep.evaluate_one``, the same pure function a local sweep runs in
its worker processes (``judge_on_worker`` around it first says so when the worker cannot see a run
directory), and it returns the same picklable ``RunOutcome``. The outcomes come back in
the runs' order and the sweep goes on exactly as a local one (table, JSON, exit code, reports).

The workers read the runs themselves: a run directory is opened **on the worker**, at the path
given (a relative path against the worker's working directory), so the workers must see the same
filesystem at the same paths; a URL (``s3://...``, ``runs:/ID``) is fetched on the worker. A path
a worker cannot see is that run's error, naming the worker and the scheduler. The workers need
runverdict (and the extras the runs' locations need) installed.

Nothing here waits without a bound, and nothing is ever a pass that was not judged:

* ``distributed`` not installed: an error (exit 2) with ``pip install 'runverdict[dask]'``;
* the scheduler unreachable: Dask's connect gives up after ``$RUNVERDICT_DASK_TIMEOUT`` seconds
  (default ``CONNECT_TIMEOUT``), an error (exit 2) naming the URL, nothing judged;
* no worker: the sweep waits ``$RUNVERDICT_DASK_WORKER_TIMEOUT`` seconds (default
  ``WORKER_TIMEOUT``) for one to register, at the start and whenever every worker is gone while
  runs remain; then the runs not judged yet are errors naming the scheduler;
* a worker dying while it judges a run: distributed retries the task on another worker up to
  ``distributed.scheduler.allowed-failures`` times (a setting of the scheduler, default 3), then
  raises ``KilledWorker``: that run is an error naming the scheduler, the last worker and the
  run; the other runs are reported as usual;
* a frozen worker is removed by the scheduler after ``distributed.scheduler.worker-ttl`` (Dask's
  default 5 minutes), then as above. A run's own evaluation has no time bound, as in a local sweep.
"""

from __future__ import annotations

import os
import time
import uuid

from .errors import ArtefactError, UsageError
from .exitcodes import ExitCode
from .reports.sweep import RunOutcome
from .reports.terminal import safe

CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler ($RUNVERDICT_DASK_TIMEOUT)
WORKER_TIMEOUT = 60.0  # seconds without any worker while runs remain ($RUNVERDICT_DASK_WORKER_TIMEOUT)
POLL = 0.5  # seconds between looks at the cluster while a run is awaited
TIMEOUT_ENV = "RUNVERDICT_DASK_TIMEOUT"
WORKER_TIMEOUT_ENV = "RUNVERDICT_DASK_WORKER_TIMEOUT"
PIP_HINT = "pip install 'runverdict[dask]'"


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def check_address(text: str) -> str:
    """``--scheduler``: ``tcp://HOST:PORT`` (or tls://, ws://, wss://, ucx://); ``UsageError`` otherwise."""
    scheme, sep, rest = text.partition("://")
    host, colon, port = rest.rpartition(":")
    if not sep or scheme not in _SCHEMES or not colon or not host or not port.isdigit() or "/" in rest:
        raise UsageError(f"runverdict: --scheduler {text!r}: expected the scheduler's address, "
                         f"e.g. tcp://127.0.0.1:8786 (schemes: {', '.join(_SCHEMES)})")
    return text


def seconds_from_env(name: str, default: float) -> float:
    """A positive number of seconds from ``$name``, else ``default``; ``UsageError`` when it is not one."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value < float("inf")):
        raise UsageError(f"runverdict: ${name}={text!r}: expected a positive number of seconds")
    return value


def judge_on_worker(scheduler, evaluate_one, spec, run_dir, *rest) -> RunOutcome:
    """The task: ``evaluate_one`` (``sweep.evaluate_one``, pickled by reference) on a worker, a run
    directory the worker cannot see said so."""
    from .sources import is_remote

    if not is_remote(run_dir) and not os.path.isdir(run_dir):
        try:
            from distributed import get_worker

            worker = get_worker().address
        except (ImportError, ValueError):
            worker = "?"
        return RunOutcome(run_dir, safe(
            f"runverdict: run directory {run_dir!r} not found on the Dask worker {worker} (scheduler {scheduler}; "
            f"its working directory {os.getcwd()!r}): the workers read each run themselves, so it must be on a "
            "filesystem they see at the same path, or a URL (s3://..., runs:/...)") + "\n",
            None, int(ExitCode.ERROR), value_note="not checked")
    return evaluate_one(spec, run_dir, *rest)


def evaluate_on_cluster(scheduler: str, evaluate_one, arguments) -> list[RunOutcome]:
    """The ``RunOutcome`` of every run, in order, each ``evaluate_one(*args)`` as a task on ``scheduler``.

    ``arguments`` are ``evaluate_one``'s, one list per parameter (as ``map`` takes them).
    ``ArtefactError`` naming the scheduler when nothing could be judged there.
    """
    check_address(scheduler)
    connect_timeout = seconds_from_env(TIMEOUT_ENV, CONNECT_TIMEOUT)
    worker_timeout = seconds_from_env(WORKER_TIMEOUT_ENV, WORKER_TIMEOUT)
    try:
        import distributed
    except ImportError as exc:
        raise ArtefactError(scheduler, f"a sweep on a Dask cluster needs a package that is not installed "
                                       f"({exc.name})", hint=PIP_HINT) from None
    try:
        client = distributed.Client(scheduler, timeout=connect_timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ArtefactError(scheduler, f"cannot reach the Dask scheduler within {connect_timeout:g} s "
                                       f"(${TIMEOUT_ENV}): {exc}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=worker_timeout)
        except (TimeoutError, OSError) as exc:
            raise ArtefactError(scheduler, f"no Dask worker registered with the scheduler within "
                                           f"{worker_timeout:g} s (${WORKER_TIMEOUT_ENV}); nothing was judged") from exc
        dirs = list(arguments[1])
        batch = uuid.uuid4().hex[:8]
        keys = [f"runverdict-{batch}-{i}" for i in range(len(dirs))]
        futures = client.map(judge_on_worker, [scheduler] * len(dirs), [evaluate_one] * len(dirs), *arguments, key=keys, pure=False)
        return _collect(client, futures, dirs, scheduler, worker_timeout, distributed)
    finally:
        try:
            client.close(timeout=connect_timeout)
        except Exception:  # noqa: BLE001 - the outcomes are in; a slow goodbye must not lose them
            pass


def _collect(client, futures, dirs, scheduler, worker_timeout, distributed) -> list[RunOutcome]:
    """Each future's outcome in order; a run the cluster could not judge is an error outcome."""
    from distributed import KilledWorker

    outcomes: list[RunOutcome | None] = [None] * len(futures)
    without_workers_since = None
    for i, future in enumerate(futures):
        while outcomes[i] is None:
            try:
                outcomes[i] = future.result(timeout=POLL)
            except TimeoutError:
                if _has_workers(client):
                    without_workers_since = None
                    continue
                without_workers_since = without_workers_since or time.monotonic()
                if time.monotonic() - without_workers_since < worker_timeout:
                    continue
                client.cancel([f for f in futures[i:] if not f.done()])
                why = (f"no Dask worker left on the scheduler {scheduler} for {worker_timeout:g} s "
                       f"(${WORKER_TIMEOUT_ENV}) while it waited to be judged")
                for j in range(i, len(futures)):
                    if outcomes[j] is None:
                        outcomes[j] = _outcome_of_done(futures[j], dirs[j], scheduler, KilledWorker) \
                            if futures[j].status == "finished" else _not_judged(dirs[j], why)
                return outcomes
            except KilledWorker as exc:
                outcomes[i] = _not_judged(dirs[i], _killed(exc, scheduler))
            except distributed.CancelledError:
                outcomes[i] = _not_judged(dirs[i], f"its task on the Dask scheduler {scheduler} was cancelled "
                                                   "(the scheduler restarted or the connection was lost)")
            except Exception as exc:  # noqa: BLE001 - evaluate_one catches its own; this is the cluster's
                outcomes[i] = _not_judged(dirs[i], _failed(exc, scheduler))
    return outcomes


def _outcome_of_done(future, run_dir, scheduler, killed_worker) -> RunOutcome:
    try:
        return future.result(timeout=POLL)
    except killed_worker as exc:
        return _not_judged(run_dir, _killed(exc, scheduler))
    except Exception as exc:  # noqa: BLE001
        return _not_judged(run_dir, _failed(exc, scheduler))


def _has_workers(client) -> bool:
    try:
        return bool(client.nthreads())
    except Exception:  # noqa: BLE001 - a scheduler that does not answer has no worker for us
        return False


def _killed(exc, scheduler) -> str:
    last = getattr(getattr(exc, "last_worker", None), "address", "?")
    tries = getattr(exc, "allowed_failures", None)
    attempts = f"{tries + 1} attempt{'s' if tries else ''}" if isinstance(tries, int) else "several attempts"
    return (f"every Dask worker that judged it died ({attempts}: distributed.scheduler.allowed-failures = {tries} "
            f"on the scheduler {scheduler}), the last {last}")


def _failed(exc, scheduler) -> str:
    hint = ""
    if isinstance(exc, (ImportError, AttributeError)):
        hint = " (do the workers have runverdict installed, the same version as here?)"
    return f"its task failed on the Dask scheduler {scheduler}: {type(exc).__name__}: {exc}{hint}"


def _not_judged(run_dir, why: str) -> RunOutcome:
    return RunOutcome(run_dir, safe(f"runverdict: run {run_dir!r} not judged: {why}") + "\n", None,
                      int(ExitCode.ERROR), value_note="not checked")
