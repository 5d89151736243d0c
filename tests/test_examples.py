"""The examples in docs/examples run as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / "plan_from_python.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_plan_from_python_plans_the_demo_and_checks_it():
    """The README's "From Python" example: plans the demo city on worker processes (behind the
    ``if __name__ == "__main__":`` guard), prints KPIs and trips, checks the plan, exits 0."""
    res = _run()
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert out.startswith("demo_city: ")
    assert "orders served 20000.0 of 20000" in out
    assert "  duty T-CW1-01 (trunk," in out and "    trip T-CW1-01.1 " in out
    assert out.rstrip().endswith("checker: no violation")
    assert "Traceback" not in res.stderr


def test_plan_from_python_takes_a_scenario_path():
    tiny = ROOT / "tests" / "data" / "checker" / "tiny.toml"
    res = _run(str(tiny))
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("tiny: ") and "checker: no violation" in res.stdout
    assert "unserved lines" in res.stdout
