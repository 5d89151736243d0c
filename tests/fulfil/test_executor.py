"""fulfil.executor: the one seam that runs independent tasks."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal

import pytest

from fulfil.executor import Executor, ProcessPoolBackend, SerialBackend, make_executor


def square(x: int) -> int:
    return x * x


def fail(x: int) -> int:
    raise ValueError(f"bad {x}")


def interrupt() -> None:
    raise KeyboardInterrupt


def sigint_handler_is_ignored() -> bool:
    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def worker_pid(_: int) -> int:
    return os.getpid()


def test_make_executor_picks_the_backend():
    assert isinstance(make_executor(1), SerialBackend)
    ex = make_executor(2)
    try:
        assert isinstance(ex, ProcessPoolBackend) and ex.workers == 2
    finally:
        ex.shutdown()
    with pytest.raises(ValueError, match="workers"):
        make_executor(-1)


def test_serial_backend_returns_completed_futures_and_stores_errors():
    with SerialBackend() as ex:
        f = ex.submit(square, 7)
        assert f.done() and f.result() == 49
        g = ex.submit(fail, 3)
        assert g.done() and isinstance(g.exception(), ValueError)
        assert list(ex.as_completed([f])) == [f]


def test_serial_backend_propagates_keyboard_interrupt():
    with pytest.raises(KeyboardInterrupt):
        SerialBackend().submit(interrupt)


def test_process_pool_runs_tasks_and_workers_ignore_sigint():
    with make_executor(2) as ex:
        futs = [ex.submit(square, k) for k in range(6)]
        assert sorted(f.result() for f in ex.as_completed(futs)) == [k * k for k in range(6)]
        assert ex.submit(sigint_handler_is_ignored).result() is True
        assert ex.submit(worker_pid, 0).result() != os.getpid()
        with pytest.raises(ValueError, match="bad 1"):
            ex.submit(fail, 1).result()


def test_shutdown_cancel_does_not_wait_for_running_tasks():
    import time

    ex = ProcessPoolBackend(1)
    slow = ex.submit(time.sleep, 30)
    queued = ex.submit(square, 2)
    time.sleep(0.5)
    t0 = time.perf_counter()
    ex.shutdown(cancel=True)
    assert time.perf_counter() - t0 < 10
    # cancelled, or failed with the terminated pool; never left pending
    assert not cf.wait([queued, slow], timeout=10).not_done


def test_base_class_is_the_interface():
    assert isinstance(SerialBackend(), Executor)
    assert issubclass(ProcessPoolBackend, Executor)
    assert isinstance(SerialBackend().submit(square, 2), cf.Future)
