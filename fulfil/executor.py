"""One seam for running independent tasks: routing engine runs, rollout days, bench instances.

Every parallel stage of fulfil goes through an :class:`Executor`; nothing else in the
packages creates process pools or forks (``solvers/`` never does: it takes a ``submit``
callable instead). A task is a **top-level function** called with **picklable** arguments
and returning a picklable result (numpy arrays, dataclasses, dicts); OR-Tools and PyVRP
objects never cross the seam, models are built inside the task.

::

    from fulfil.executor import make_executor

    with make_executor(workers) as ex:                   # 0 = one per core, 1 = serial
        futs = {ex.submit(solve_one, p, params): k for k, p in problems.items()}
        for fut in ex.as_completed(futs):
            results[futs[fut]] = fut.result()

Backends
--------
:class:`SerialBackend`
    Runs each task at ``submit`` in the calling process and returns an already completed
    :class:`concurrent.futures.Future` (the task's exception is stored in it, except
    ``KeyboardInterrupt``, which propagates at once). ``make_executor(1)``. A Ctrl-C's
    Python handler runs between the task's own Python steps (an OR-Tools search: at its
    solutions), so a task sees :meth:`~Executor.request_stop` here too.
:class:`ProcessPoolBackend`
    The stdlib :class:`~concurrent.futures.ProcessPoolExecutor` with the ``forkserver``
    start method (``spawn`` where there is no forkserver). Workers ignore SIGINT (an
    initializer), so Ctrl-C reaches only the parent: it asks the tasks to stop early
    (:meth:`~Executor.request_stop`, below), or gets ``KeyboardInterrupt`` inside its
    ``as_completed`` loop, keeps every future already done, and decides;
    ``shutdown(cancel=True)`` cancels what has not started and terminates the workers
    still running, without waiting for them.

    Why ``forkserver``: ``fork`` copies a parent that may already run threads (OR-Tools,
    numba, the executor's own manager thread), which can deadlock a child on a lock held
    at fork time; ``spawn`` and ``forkserver`` start from a clean interpreter. The
    forkserver imports :data:`PRELOAD` (numpy, OR-Tools, the routing package) once, and
    each worker is a fork of that clean, single-threaded server, so it pays no import.
    Measured on the 2-core machine, pool of 2 workers, two 5-job routing tasks
    (``solution_limit=50``, 0.014 s each in-process), time to both results: fork
    0.04-0.05 s; forkserver 0.5 s for the first pool of a process (the server starts and
    preloads) and 0.24-0.31 s for later pools; spawn 0.6-1.0 s for every pool. Against a
    routing stage of seconds, forkserver's cost is small and it is the safe choice.

Stopping early (Ctrl-C)
-----------------------
:meth:`Executor.request_stop` is how a Ctrl-C reaches the tasks. The first call creates the
executor's :attr:`~Executor.stop_file` (a file under an unguessable name in this machine's
temporary folder, removed at shutdown); the routing searches given its path (``RoutingParams.stop_file``) poll for it and
hand back their best plan so far, and a search that starts afterwards returns a quick
construction, so every task still comes back, soon. A file because it is the one signal
that every backend's processes see without an extra server: forkserver children, local Dask
workers and the serial backend alike (workers of a Dask cluster on other machines do not
see it: their tasks run to their budgets). The second and later calls stop the waiting as
well: :meth:`~Executor.as_completed` raises ``KeyboardInterrupt`` once a second passes
without a result, which the caller handles as it handled a Ctrl-C before (the serial
backend runs its remaining tasks, quick constructions by then).

Adding a backend
----------------
A backend subclasses :class:`Executor` and implements ``submit``, ``shutdown`` and
``workers``; ``as_completed`` and the context manager come from the base class and work on
any :class:`concurrent.futures.Future`.

Several machines: :class:`DaskBackend`
--------------------------------------
``make_executor(workers, cluster="tcp://HOST:8786")`` connects to a running Dask scheduler
(``dask scheduler`` on one machine, ``dask worker tcp://HOST:8786`` on each; every machine,
the scheduler's included, needs the same fulfil installed with ``pip install
"fulfil[distributed]"``); ``cluster="local:N"`` starts a ``LocalCluster`` of ``N``
single-threaded worker processes bound to 127.0.0.1. :func:`cluster_from_env` reads
``FULFIL_CLUSTER``. ``dask.distributed`` is imported only here, when a cluster is asked for.

``Client.submit`` (``pure=False``: every call runs) returns ``distributed.Future`` objects with
the same ``result()``, ``done()``, ``cancel()`` shape, so the callers
(:func:`fulfil.routing_tasks.solve_subproblems`, the rollout, the bench) need no change.
On connecting, every worker and the scheduler run :func:`fulfil_version_on_worker`; a
machine that cannot import fulfil, or runs another version, is a :class:`ClusterError`
naming its address and both versions (workers that join later are not checked). A worker
that dies mid-run loses no task: the scheduler runs its tasks elsewhere (a task that was
running on ``distributed.scheduler.allowed-failures`` + 1 workers that died, 3 + 1 by default,
fails with ``KilledWorker`` instead: it is probably what kills them).
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import os
import re
import secrets
import signal
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from fulfil.errors import UsageError

__all__ = ["CLUSTER_ENV", "PRELOAD", "STOP_GRACE_S", "STOP_POLL_S", "ClusterError", "DaskBackend", "Executor",
           "ProcessPoolBackend", "SerialBackend", "StopRequest", "check_cluster", "cluster_from_env",
           "connect_cluster", "cpu_count", "fulfil_version_on_worker", "make_executor", "version_problems"]

#: Environment variable :func:`cluster_from_env` reads (a cluster address, as ``make_executor(cluster=)`` takes).
CLUSTER_ENV = "FULFIL_CLUSTER"
#: Seconds :func:`make_executor` waits for a scheduler to answer and for a first worker to join.
CONNECT_TIMEOUT_S = 10.0

#: Seconds :meth:`Executor.as_completed` waits before it looks again for a second stop request.
STOP_POLL_S = 0.1
#: After a second stop request, :meth:`Executor.as_completed` stops waiting once this many seconds
#: pass without a result (counted from the last result, or the first request if later).
STOP_GRACE_S = 1.0

#: Modules the forkserver imports once, so that forked workers start warm.
PRELOAD: tuple[str, ...] = ("numpy", "ortools.constraint_solver.pywrapcp", "solvers.routing")


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask where there is one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class StopRequest:
    """The stop request of one executor: a count, and a file that tasks in other processes poll.

    The file, in the temporary folder under an unguessable name, exists only from the first
    request until :meth:`close` (or until the object is collected): nothing is left on disk by a
    run that was not stopped.
    """

    def __init__(self) -> None:
        self.count = 0
        self.first_at = 0.0  # time.monotonic() of the first request
        self.path = os.path.join(tempfile.gettempdir(), f"fulfil-stop-{os.getpid()}-{secrets.token_hex(8)}")
        self._cleanup: weakref.finalize | None = None
        self._closed = False

    def request(self) -> int:
        """Count one request (the first creates the file, unless the executor is closed); returns the count.

        Never raises (it runs in a signal handler): without the file the tasks just run on.
        """
        self.count += 1
        if self.count > 1:
            return self.count
        self.first_at = time.monotonic()
        if not self._closed:
            try:  # a new file, never through a link someone placed there
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                                 0o600))
                self._cleanup = weakref.finalize(self, _remove, self.path)
            except OSError:
                pass
        return self.count

    def close(self) -> None:
        """Remove the file; later requests are only counted."""
        self._closed = True
        if self._cleanup is not None:
            self._cleanup()


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class Executor:
    """Runs independent tasks; see the module docstring.

    Subclasses implement :meth:`submit`, :meth:`shutdown` and :attr:`workers`.
    """

    _stop: StopRequest | None = None

    def stop_request(self) -> StopRequest:
        """This executor's :class:`StopRequest` (made on first use)."""
        if self._stop is None:
            self._stop = StopRequest()
        return self._stop

    @property
    def stop_file(self) -> str:
        """str: The path the tasks poll: once it exists they finish at once with what they have."""
        return self.stop_request().path

    @property
    def stop_level(self) -> int:
        """int: ``0`` run normally; ``1`` the tasks are asked to finish early; ``2`` or more: stop waiting
        for tasks that do not answer (see :meth:`as_completed`)."""
        return self.stop_request().count

    def request_stop(self) -> int:
        """Ask the tasks to stop (a Ctrl-C); the second and later calls also cut the waiting short.
        Returns :attr:`stop_level`. Safe to call from a signal handler."""
        return self.stop_request().request()

    def _close_stop(self) -> None:
        if self._stop is not None:
            self._stop.close()

    @property
    def workers(self) -> int:
        """int: Tasks that can run at the same time."""
        raise NotImplementedError

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Schedule ``fn(*args, **kwargs)``; returns its future.

        ``fn`` must be a top-level function and the arguments and result picklable
        (the serial backend does not check this; the process pool does).
        """
        raise NotImplementedError

    def as_completed(self, futures: Iterable[cf.Future]) -> Iterator[cf.Future]:
        """Yield ``futures`` as they complete (already completed ones first).

        Once :attr:`stop_level` reaches 2 it raises ``KeyboardInterrupt`` as soon as
        :data:`STOP_GRACE_S` pass without a result (the caller keeps what came back): the
        searches asked to stop a moment ago are still worth their short wait, a task that does
        not answer is not.
        """
        pending = set(futures)
        last = time.monotonic()
        while pending:
            done, pending = cf.wait(pending, timeout=STOP_POLL_S, return_when=cf.FIRST_COMPLETED)
            now = time.monotonic()
            if done:
                last = now
            elif self.stop_level >= 2 and now - max(last, self.stop_request().first_at) >= STOP_GRACE_S:
                raise KeyboardInterrupt
            yield from done

    def warm_up(self) -> None:
        """Start the workers now, in the background, so that they are ready when the first
        tasks come (the caller prepares them meanwhile); a no-op where nothing needs starting."""
        return None

    def shutdown(self, cancel: bool = False) -> None:
        """Release the workers.

        ``cancel=False`` waits for every submitted task; ``cancel=True`` cancels the tasks
        not started and does not wait for the running ones (their results are lost).
        """
        raise NotImplementedError

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # an exception (Ctrl-C included) leaving the block: do not wait for the rest
        self.shutdown(cancel=exc_type is not None)


class SerialBackend(Executor):
    """Runs every task at ``submit``, in the calling process; futures come back completed."""

    @property
    def workers(self) -> int:
        return 1

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        fut: cf.Future = cf.Future()
        try:
            result = fn(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            fut.cancel()
            raise
        except BaseException as exc:  # noqa: BLE001 - stored like a pool would
            fut.set_exception(exc)
        else:
            fut.set_result(result)
        return fut

    def shutdown(self, cancel: bool = False) -> None:
        self._close_stop()


def _noop() -> None:
    return None


#: What a worker imports ahead of the first city or subproblem (Dask workers plan whole cities).
PLANNER_MODULES = ("fulfil.pipeline", "fulfil.stages.assemble", "fulfil.stages.cold_repair", "fulfil.stages.trunk",
                   "fulfil.checker", "solvers.routing", "solvers.allocation", "solvers.thermal.route")


def preload_planner() -> None:
    """Import :data:`PLANNER_MODULES` (a task run on every worker by :meth:`DaskBackend.warm_up`)."""
    import importlib

    for m in PLANNER_MODULES:
        importlib.import_module(m)


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's business."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _context():
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(list(PRELOAD))
        return ctx
    return mp.get_context("spawn")  # pragma: no cover - Windows


class ProcessPoolBackend(Executor):
    """A process pool of ``workers`` processes (``0``: one per core); see the module docstring."""

    def __init__(self, workers: int = 0):
        n = int(workers) or cpu_count()
        if n < 1:
            raise ValueError(f"ProcessPoolBackend: workers must be >= 0, got {workers!r}")
        self._n = n
        self._pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=_context(), initializer=_ignore_sigint)
        self._warming: threading.Thread | None = None

    @property
    def workers(self) -> int:
        return self._n

    def warm_up(self) -> None:
        # The first worker waits for the forkserver to start and import PRELOAD (about 0.5 s);
        # a thread of this process asks for the workers while the caller goes on.
        def start() -> None:
            for _ in range(self._n):
                self._pool.submit(_noop)

        if self._warming is None:
            self._warming = threading.Thread(target=start, name="fulfil-warm-up", daemon=True)
            self._warming.start()

    def _warmed(self) -> None:
        if self._warming is not None:
            self._warming.join()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        self._warmed()
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, cancel: bool = False) -> None:
        self._warmed()
        if not cancel:
            self._pool.shutdown(wait=True)
            self._close_stop()
            return
        # The stdlib pool has no "stop now": cancel what is queued, then terminate the
        # workers (they ignore SIGINT), so that neither this call nor interpreter exit
        # waits for a running task. The stdlib keeps its processes in ``_processes``.
        procs = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5.0)
        self._close_stop()


class ClusterError(UsageError):
    """A Dask cluster cannot be used: ``dask[distributed]`` is not installed, the address is
    malformed or does not answer, no worker joins, or a machine cannot import this fulfil
    (or runs another version). ``problems`` lists every problem found."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def fulfil_version_on_worker() -> str:
    """``fulfil.__version__`` where this runs, or why fulfil cannot be imported there.

    Sent to every worker (``Client.run``) and the scheduler on connecting. A machine without
    fulfil already fails to unpickle this function; that error comes back instead of a string.
    """
    try:
        import fulfil
    except Exception as exc:  # noqa: BLE001 - ImportError, or whatever a broken install raises
        return f"cannot import fulfil: {type(exc).__name__}: {exc}"
    return str(getattr(fulfil, "__version__", "unknown"))


def version_problems(reports: Mapping[str, Any], expected: str, role: str = "worker") -> list[str]:
    """What is wrong in ``{address: fulfil_version_on_worker() result, or the exception it raised}``.

    One line per machine that cannot import fulfil or runs a version other than ``expected``;
    ``[]`` when all agree.
    """
    out = []
    for addr, got in sorted(reports.items(), key=lambda kv: str(kv[0])):
        if isinstance(got, BaseException):
            # an import error while unpickling the check comes back wrapped in a plain Exception
            text = str(got) if type(got) is Exception else f"{type(got).__name__}: {got}"
            if isinstance(got, ImportError) or "ImportError" in text or "ModuleNotFoundError" in text:
                got = f"cannot import fulfil: {text}"
            else:
                out.append(f"{role} {addr} did not answer the fulfil version check: {text}")
                continue
        got = str(got)
        if got.startswith("cannot import fulfil"):
            out.append(f"{role} {addr} {got} (this process runs fulfil {expected}); "
                       f"install fulfil {expected} there, with its distributed extra")
        elif got != expected:
            out.append(f"{role} {addr} runs fulfil {got}, this process runs fulfil {expected}; "
                       "install the same version on every machine")
    return out


def check_cluster(client: Any, expected: str | None = None) -> None:
    """Raise :class:`ClusterError` unless every worker and the scheduler of ``client`` import
    fulfil ``expected`` (default: this process's ``fulfil.__version__``)."""
    if expected is None:
        import fulfil

        expected = fulfil.__version__
    reports = client.run(fulfil_version_on_worker, on_error="return")
    problems = version_problems(reports, expected, "worker")
    try:
        sched: Any = client.run_on_scheduler(fulfil_version_on_worker)
    except Exception as exc:  # noqa: BLE001 - reported like a worker's
        sched = exc
    problems += version_problems({client.scheduler.address: sched}, expected, "scheduler")
    if problems:
        raise ClusterError(problems)


def cluster_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The cluster address in ``FULFIL_CLUSTER`` (``tcp://HOST:PORT`` or ``local:N``), or ``None``."""
    value = (os.environ if environ is None else environ).get(CLUSTER_ENV, "").strip()
    return value or None


def _ignore_sigint_on_worker(dask_worker: Any = None) -> None:
    try:
        _ignore_sigint()
    except ValueError:  # pragma: no cover - not the worker's main thread
        pass


def _sigint_plugin() -> Any:
    """A worker plugin (restarted workers get it too): workers of a local cluster ignore Ctrl-C,
    which is the parent's business, like the process pool's."""
    from dask.distributed import WorkerPlugin

    class IgnoreSigint(WorkerPlugin):
        idempotent = True
        name = "fulfil-ignore-sigint"

        def setup(self, worker: Any) -> None:
            _ignore_sigint_on_worker()

    return IgnoreSigint()


class DaskBackend(Executor):
    """Tasks on a Dask cluster through a ``distributed.Client``; see the module docstring.

    Parameters
    ----------
    client : distributed.Client
        Connected (``make_executor(..., cluster=...)`` or :func:`connect_cluster` make one and
        check the workers' fulfil).
    cluster : distributed.LocalCluster, optional
        A cluster this backend started: closed by :meth:`shutdown`.
    """

    def __init__(self, client: Any, cluster: Any = None):
        self._client = client
        self._cluster = cluster
        self._futures: weakref.WeakSet = weakref.WeakSet()  # submitted, still referenced
        self._lock = threading.Lock()  # callers may submit from several threads
        self._closed = False

    @property
    def client(self) -> Any:
        """distributed.Client: the connection to the scheduler."""
        return self._client

    @property
    def workers(self) -> int:
        """Total worker threads of the cluster now (at least 1)."""
        return max(1, sum(self._client.nthreads().values()))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        # keyword arguments travel inside a partial, so that none is taken for one of
        # Client.submit's own (key=, workers=, retries=, priority=, ...)
        task = functools.partial(fn, **kwargs) if kwargs else fn
        fut = self._client.submit(task, *args, pure=False)
        with self._lock:
            self._futures.add(fut)
        return fut

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        from dask.distributed import as_completed

        return iter(as_completed(list(futures), loop=self._client.loop))

    def warm_up(self) -> None:
        """Have every worker import the planner now (without waiting), so that the first
        tasks do not pay for it."""
        try:
            self._client.run(preload_planner, wait=False)
        except Exception:  # noqa: BLE001 - only an optimisation
            pass

    def shutdown(self, cancel: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            submitted = list(self._futures)
        try:
            pending = [f for f in submitted if not f.done()]
            if pending:
                if cancel:
                    self._client.cancel(pending)
                else:
                    from dask.distributed import wait

                    wait(pending)
        finally:
            self._close_stop()
            try:
                self._client.close()
            finally:
                if self._cluster is not None:
                    self._cluster.close()


_LOCAL = re.compile(r"local(?::(\d+))?")
_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://\S+")


def connect_cluster(address: str, *, workers: int = 0, timeout_s: float = CONNECT_TIMEOUT_S) -> DaskBackend:
    """A :class:`DaskBackend` on the cluster at ``address``, its workers checked.

    ``address``: ``"tcp://HOST:PORT"`` (any address ``distributed.Client`` takes) connects to a
    running scheduler and waits up to ``timeout_s`` for it and for a first worker;
    ``"local:N"`` starts a LocalCluster of ``N`` single-threaded worker processes on
    127.0.0.1 (``"local"``: ``workers`` of them, ``0`` one per core).

    Raises
    ------
    ClusterError
        ``dask[distributed]`` missing, a malformed address, no scheduler or no worker within
        ``timeout_s``, or a worker (or the scheduler) that cannot import this fulfil or runs
        another version.
    """
    text = str(address).strip()
    local = _LOCAL.fullmatch(text)
    if not local and not _ADDRESS.fullmatch(text):
        raise ClusterError(f"cluster address {text!r} is neither 'tcp://HOST:PORT' nor 'local:N'")
    n_local = 0
    if local:
        n_local = int(local.group(1)) if local.group(1) is not None else (int(workers) or cpu_count())
        if n_local < 1:
            raise ClusterError(f"cluster address {text!r}: a local cluster needs at least 1 worker")
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ClusterError(f'cluster address {text!r} needs Dask: pip install "fulfil[distributed]" ({exc})') from exc

    cluster = client = None
    try:
        if local:
            # no dashboard; the scheduler's small HTTP server (health, metrics) on a free loopback
            # port rather than 8787, which a user's own Dask dashboard may hold
            cluster = LocalCluster(n_workers=n_local, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
            client = Client(cluster, set_as_default=False)
        else:
            try:
                client = Client(text, timeout=timeout_s, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterError(f"cluster address {text!r}: no Dask scheduler answered within {timeout_s:g} s "
                                   f"({exc})") from exc
            try:
                client.wait_for_workers(1, timeout=timeout_s)
            except TimeoutError as exc:
                raise ClusterError(f"cluster address {text!r}: the scheduler answered but no worker joined within "
                                   f"{timeout_s:g} s (start some with: dask worker {text})") from exc
        check_cluster(client)
        if local:
            client.register_plugin(_sigint_plugin())
    except BaseException:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        raise
    return DaskBackend(client, cluster)


def make_executor(workers: int, cluster: str | None = None, *,
                  connect_timeout_s: float = CONNECT_TIMEOUT_S) -> Executor:
    """The executor for ``workers`` and ``cluster``.

    ``cluster=None``: ``workers`` ``1`` serial, ``0`` one process per core, else that many
    processes. ``cluster="tcp://HOST:PORT"`` or ``"local:N"``: a :class:`DaskBackend`
    (:func:`connect_cluster`; ``workers`` is then ignored, except by a bare ``"local"``).

    Raises
    ------
    ValueError
        When ``workers`` is negative.
    ClusterError
        When the cluster cannot be used (see :func:`connect_cluster`).
    """
    n = int(workers)
    if n < 0:
        raise ValueError(f"workers must be >= 0 (0 = one per core), got {workers!r}")
    if cluster is not None and str(cluster).strip():
        return connect_cluster(cluster, workers=n, timeout_s=connect_timeout_s)
    if n == 0:
        n = cpu_count()
    if n == 1:
        return SerialBackend()
    return ProcessPoolBackend(n)
