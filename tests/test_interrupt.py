"""Ctrl-C during routing: the plan written holds every solved subproblem's trips and checks clean."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

BUDGET_S = 10.0


@pytest.fixture(scope="module")
def four_warehouses(tmp_path_factory) -> Path:
    from fulfil.generate import GenerateConfig, write_scenario

    out = tmp_path_factory.mktemp("four_fw")
    return write_scenario(GenerateConfig(name="four_fw", seed=5, forward_warehouses=4, pickup_points=160,
                                         orders=8000), out)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics")
def test_ctrl_c_at_60_percent_keeps_every_solved_subproblem(four_warehouses, tmp_path):
    from fulfil.checker import check_plan, load_plan
    from fulfil.scenario import load_scenario

    out = tmp_path / "plan"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fulfil.cli", "plan", str(four_warehouses), "--out", str(out),
         "--time-limit", str(BUDGET_S), "--workers", "2", "--charts", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "routing last mile" in line:
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(120), "".join(lines)
    time.sleep(0.6 * 0.85 * BUDGET_S)  # 60 % into the last mile's share of the budget
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=120)
    reader.join(5)
    log = "".join(lines)
    assert proc.returncode == 130, log + stdout

    solved = [int(m.group(1)) for m in re.finditer(r"last mile (\d+)/(\d+) solved", log)]
    total = int(re.search(r"routing last mile: (\d+) forward warehouses", log).group(1))
    assert 0 < len(solved) < total, f"the interrupt should fall between the subproblems:\n{log}"

    plan = load_plan(out / "plan.json")
    assert plan.code == 130
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    lm_depots = {d["depot"] for d in doc["duties"] if d["tier"] == "last_mile"}
    assert len(lm_depots) == len(solved), (lm_depots, log)
    # every solved warehouse's goods are fed by a trunk; the unsolved ones are reported, not lost
    assert any(d["tier"] == "trunk" for d in doc["duties"])
    assert any(u["reason"] == "interrupted" for u in doc["unserved"])
    assert check_plan(load_scenario(four_warehouses), plan) == []
