"""fulfil.executor's Dask backend: a LocalCluster on loopback, a worker killed mid-run, separate
``dask scheduler`` / ``dask worker`` processes as the README starts them, version checks, and
addresses that do not answer."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

import fulfil  # noqa: E402
from fulfil.errors import UsageError  # noqa: E402
from fulfil.executor import (  # noqa: E402
    ClusterError,
    DaskBackend,
    Executor,
    SerialBackend,
    check_cluster,
    cluster_from_env,
    make_executor,
    version_problems,
)
from fulfil.routing_tasks import solve_subproblems  # noqa: E402
from solvers.routing import RoutingParams, solve_routing  # noqa: E402
from solvers.routing.check import check_routes  # noqa: E402
from test_routing_tasks import sig, tiny  # noqa: E402  (tests/fulfil is on sys.path, as for every test here)

PROBLEMS = [tiny(14, 3, 1), tiny(9, 2, 2, zone_deadline=True), tiny(6, 2, 3), tiny(12, 3, 4), tiny(8, 2, 5)]
DET = RoutingParams(time_limit_s=None, solution_limit=60, seed=2)


def slow_square(x: int) -> int:
    time.sleep(0.25)
    return x * x


def worker_pid() -> int:
    return os.getpid()


@pytest.fixture(scope="module")
def local2():
    """``make_executor(0, cluster="local:2")``: 2 single-threaded worker processes on 127.0.0.1."""
    ex = make_executor(0, cluster="local:2")
    try:
        yield ex
    finally:
        ex.shutdown(cancel=True)


def test_local_cluster_gives_the_serial_solutions(local2):
    assert isinstance(local2, DaskBackend) and local2.workers == 2
    addresses = local2.client.scheduler_info()["workers"]
    assert all(a.startswith("tcp://127.0.0.1:") for a in addresses)
    # the workers ignore Ctrl-C (the parent's business), like the process pool's
    assert set(local2.client.run(lambda: signal.getsignal(signal.SIGINT) is signal.SIG_IGN).values()) == {True}
    params = [DET] * len(PROBLEMS)
    serial, i1 = solve_subproblems(PROBLEMS, params, "ortools", SerialBackend(), "serial")
    dask, i2 = solve_subproblems(PROBLEMS, params, "ortools", local2, "dask")
    assert not i1 and not i2 and sorted(serial) == sorted(dask) == list(range(len(PROBLEMS)))
    for i, p in enumerate(PROBLEMS):
        assert sig(dask[i]) == sig(serial[i]) == sig(solve_routing(p, DET))
        assert check_routes(p, dask[i].routes).ok
    assert dask[0].stats["parallel"]
    # keyword arguments reach the task, even one named like a Client.submit option
    assert local2.submit(dict, key=1, workers=2).result() == {"key": 1, "workers": 2}
    with pytest.raises(ZeroDivisionError):
        local2.submit(divmod, 1, 0).result()


class _InterruptAfterTwo(Executor):
    """The Dask backend, with Ctrl-C reaching the parent after two task results."""

    def __init__(self, inner: DaskBackend):
        self.inner = inner

    @property
    def workers(self):
        return self.inner.workers

    def submit(self, fn, /, *args, **kwargs):
        return self.inner.submit(fn, *args, **kwargs)

    def as_completed(self, futures):
        for seen, f in enumerate(self.inner.as_completed(futures), 1):
            yield f
            if seen == 2:
                raise KeyboardInterrupt

    def shutdown(self, cancel=False):
        pass


def test_keyboard_interrupt_keeps_the_finished_problems(local2):
    # six problems of about 1 s of search each (OR-Tools run) on 2 workers; Ctrl-C after two results
    slow = RoutingParams(time_limit_s=None, solution_limit=300, seed=2)
    problems = [tiny(30, 4, 10 + k) for k in range(6)]
    t0 = time.perf_counter()
    sols, interrupted = solve_subproblems(problems, [slow] * len(problems), "ortools", _InterruptAfterTwo(local2), "lm")
    assert interrupted and len(sols) <= 2
    for i, sol in sols.items():
        assert check_routes(problems[i], sol.routes).ok
    # the tasks not started were cancelled: the cluster is free once the running ones end
    assert local2.submit(pow, 2, 10).result(timeout=30) == 1024
    assert time.perf_counter() - t0 < 10


def test_a_worker_killed_mid_run_loses_no_task():
    ex = make_executor(0, cluster="local:2")
    try:
        pids = ex.client.run(worker_pid)
        futs = [ex.submit(slow_square, k) for k in range(16)]
        # once both workers are busy, kill one of them (its nanny starts a new one)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            busy = {a for a, keys in ex.client.processing().items() if keys}
            if len(busy) == 2:
                break
            time.sleep(0.02)
        victim = sorted(busy)[0]
        os.kill(pids[victim], signal.SIGKILL)
        assert [f.result(timeout=60) for f in futs] == [k * k for k in range(16)]
        assert pids[victim] not in ex.client.run(worker_pid).values()
    finally:
        ex.shutdown(cancel=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: this process and its children only
            proc.wait(timeout=10)


def test_separate_scheduler_and_worker_processes(tmp_path: Path):
    """As the README says (``dask scheduler --host HOST``, ``dask worker tcp://HOST:PORT --nworkers N
    --nthreads 1``, then ``cluster="tcp://HOST:PORT"``), on loopback; port 0 and no dashboards here."""
    sched_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("scheduler", "worker")}  # noqa: SIM115
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(sched_file),
             "--no-dashboard"], cwd=tmp_path, stdout=logs["scheduler"], stderr=subprocess.STDOUT,
            start_new_session=True))
        deadline = time.monotonic() + 30
        while not sched_file.exists() or not sched_file.read_text().strip():
            assert procs[0].poll() is None and time.monotonic() < deadline, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(subprocess.Popen(
            [*dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
             "--no-dashboard"], cwd=tmp_path, stdout=logs["worker"], stderr=subprocess.STDOUT,
            start_new_session=True))
        ex = make_executor(0, cluster=address, connect_timeout_s=30)  # waits for the worker to join
        try:
            assert isinstance(ex, DaskBackend) and ex.workers == 1
            worker_pids = set(ex.client.run(os.getpid).values())
            assert os.getpid() not in worker_pids
            sols, interrupted = solve_subproblems(PROBLEMS[:3], [DET] * 3, "ortools", ex, "remote")
            assert not interrupted and sorted(sols) == [0, 1, 2]
            for i, p in enumerate(PROBLEMS[:3]):
                assert sig(sols[i]) == sig(solve_routing(p, DET))
        finally:
            ex.shutdown()
        assert procs[0].poll() is None and procs[1].poll() is None  # closing the client leaves the cluster up

        # the command line on that cluster: one city, then two cities as tasks on the worker
        tiny = Path(__file__).resolve().parents[1] / "data" / "checker" / "tiny.toml"
        cities = tmp_path / "cities"
        cities.mkdir()
        for name in ("north", "south"):
            (cities / f"{name}.toml").write_text(tiny.read_text(encoding="utf-8"), encoding="utf-8")
        cli = [sys.executable, "-m", "fulfil.cli", "-q", "plan", "--time-limit", "0", "--solutions", "20",
               "--charts", "0", "--cluster", address]
        one = subprocess.run([*cli, str(tiny), "--out", str(tmp_path / "one")], capture_output=True, text=True,
                             timeout=240, cwd=tmp_path)
        assert one.returncode == 0, one.stderr
        assert (tmp_path / "one" / "plan.json").is_file() and "no violation" in one.stdout
        many = subprocess.run([*cli, str(cities), "--out", str(tmp_path / "many")], capture_output=True, text=True,
                              timeout=240, cwd=tmp_path)
        assert many.returncode == 0, many.stderr
        assert all((tmp_path / "many" / n / "plan.json").is_file() for n in ("north", "south"))
        assert "north" in (tmp_path / "many" / "national.csv").read_text(encoding="utf-8")

        # a second worker whose fulfil does not import (a broken package shadows the installed one)
        shadow = tmp_path / "shadow" / "fulfil"
        shadow.mkdir(parents=True)
        (shadow / "__init__.py").write_text('raise ImportError("simulated broken install")\n')
        procs.append(subprocess.Popen(
            [*dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
             "--no-dashboard"], cwd=tmp_path, stdout=logs["worker"], stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ, "PYTHONPATH": str(shadow.parent)}))
        from distributed import Client

        with Client(address, timeout=30, set_as_default=False) as probe:
            good = set(probe.scheduler_info()["workers"])
            probe.wait_for_workers(2, timeout=30)
            bad = sorted(set(probe.scheduler_info()["workers"]) - good)
        with pytest.raises(ClusterError) as err:
            make_executor(0, cluster=address, connect_timeout_s=30)
        assert len(err.value.problems) == 1
        assert err.value.problems[0].startswith(f"worker {bad[0]} cannot import fulfil")
        assert "simulated broken install" in str(err.value) and fulfil.__version__ in str(err.value)
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for f in logs.values():
            f.close()


def test_version_mismatch_is_reported_clearly(local2, monkeypatch):
    # the real check against live workers, this process pretending to run another version
    monkeypatch.setattr(fulfil, "__version__", "9.9.9")
    with pytest.raises(ClusterError) as err:
        check_cluster(local2.client)
    text = str(err.value)
    for addr in local2.client.scheduler_info()["workers"]:
        assert f"worker {addr} runs fulfil 0.2.0, this process runs fulfil 9.9.9" in text
    assert isinstance(err.value, UsageError) and err.value.exit_code == 2
    # reports as Client.run returns them: a version, an import failure, the exception it raised
    reports = {
        "tcp://10.0.0.1:4000": "0.2.0",
        "tcp://10.0.0.2:4000": "0.1.0",
        "tcp://10.0.0.3:4000": "cannot import fulfil: ModuleNotFoundError: No module named 'numba'",
        "tcp://10.0.0.4:4000": ModuleNotFoundError("No module named 'fulfil'"),
        "tcp://10.0.0.5:4000": OSError("Timed out during handshake"),
    }
    problems = version_problems(reports, "0.2.0")
    assert len(problems) == 4
    assert problems[0].startswith("worker tcp://10.0.0.2:4000 runs fulfil 0.1.0, this process runs fulfil 0.2.0")
    assert "worker tcp://10.0.0.3:4000 cannot import fulfil" in problems[1] and "numba" in problems[1]
    assert "worker tcp://10.0.0.4:4000 cannot import fulfil" in problems[2] and "No module named 'fulfil'" in problems[2]
    assert all("0.2.0" in p for p in problems[:3])
    assert problems[3] == "worker tcp://10.0.0.5:4000 did not answer the fulfil version check: OSError: Timed out during handshake"
    assert version_problems({"tcp://a:1": "0.2.0"}, "0.2.0") == []


def test_unreachable_or_malformed_cluster_fails_fast(monkeypatch):
    address = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.perf_counter()
    with pytest.raises(ClusterError, match=f"cluster address '{address}'"):
        make_executor(0, cluster=address, connect_timeout_s=1.0)
    assert time.perf_counter() - t0 < 10
    for bad in ("127.0.0.1:8786", "local:x", "local:0"):
        with pytest.raises(ClusterError, match="cluster address"):
            make_executor(0, cluster=bad)
    # dask[distributed] not installed
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ClusterError, match=r'pip install "fulfil\[distributed\]"') as err:
        make_executor(0, cluster="local:2")
    assert "--cluster" not in str(err.value)


def test_cluster_from_env():
    assert cluster_from_env({"FULFIL_CLUSTER": " tcp://10.0.0.1:8786 "}) == "tcp://10.0.0.1:8786"
    assert cluster_from_env({"FULFIL_CLUSTER": ""}) is None
    assert cluster_from_env({}) is None
