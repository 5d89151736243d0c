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
    ``KeyboardInterrupt``, which propagates at once). ``make_executor(1)``.
:class:`ProcessPoolBackend`
    The stdlib :class:`~concurrent.futures.ProcessPoolExecutor` with the ``forkserver``
    start method (``spawn`` where there is no forkserver). Workers ignore SIGINT (an
    initializer), so Ctrl-C reaches only the parent: it gets ``KeyboardInterrupt`` inside
    its ``as_completed`` loop, keeps every future already done, and decides;
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

Adding a backend
----------------
A backend subclasses :class:`Executor` and implements ``submit``, ``shutdown`` and
``workers``; ``as_completed`` and the context manager come from the base class and work on
any :class:`concurrent.futures.Future`. A Dask backend is therefore a few lines::

    class DaskBackend(Executor):
        def __init__(self, client):            # a dask.distributed.Client
            self._client = client
        @property
        def workers(self):
            return sum(self._client.nthreads().values())
        def submit(self, fn, *args, **kwargs):
            return self._client.submit(fn, *args, pure=False, **kwargs)
        def as_completed(self, futures):
            from dask.distributed import as_completed
            return as_completed(list(futures))
        def shutdown(self, cancel=False):
            ...                                # client.cancel(pending) when cancel

``client.submit`` returns ``distributed.Future`` objects with the same ``result()``,
``done()``, ``cancel()`` shape, so the callers (:func:`fulfil.routing_tasks.solve_subproblems`,
the rollout, the bench) need no change.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["PRELOAD", "Executor", "ProcessPoolBackend", "SerialBackend", "cpu_count", "make_executor"]

#: Modules the forkserver imports once, so that forked workers start warm.
PRELOAD: tuple[str, ...] = ("numpy", "ortools.constraint_solver.pywrapcp", "solvers.routing")


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask where there is one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Executor:
    """Runs independent tasks; see the module docstring.

    Subclasses implement :meth:`submit`, :meth:`shutdown` and :attr:`workers`.
    """

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
        """Yield ``futures`` as they complete (already completed ones first)."""
        return cf.as_completed(list(futures))

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
        return None


def _noop() -> None:
    return None


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


def make_executor(workers: int) -> Executor:
    """The default executor for ``workers``: ``1`` serial, ``0`` one process per core, else that many.

    Raises
    ------
    ValueError
        When ``workers`` is negative.
    """
    n = int(workers)
    if n < 0:
        raise ValueError(f"workers must be >= 0 (0 = one per core), got {workers!r}")
    if n == 0:
        n = cpu_count()
    if n == 1:
        return SerialBackend()
    return ProcessPoolBackend(n)
