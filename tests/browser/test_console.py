"""A dispatcher's night in the real console, in headless Chromium against the real server.

Log in with the token, load the demo night, plan it, see every trip of the plan drawn, lock one
trip, break a last-mile vehicle down at 08:00, re-plan, and see the locked trip unchanged and the
broken vehicle's remaining stops on other vehicles. Every step goes through the page; the API
is read beside it to check that what the page shows is what the server holds. A screenshot per
step is kept (see ``conftest.ARTIFACTS``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("FULFIL_REQUIRE_BROWSER") != "1":
    pytest.importorskip("selenium", reason="the browser test needs selenium")

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

#: Routing budget of the demo plan, s: small, so the test stays near a minute, and still a real plan.
PLAN_BUDGET_S = 3
REPLAN_BUDGET_S = 5
BREAKDOWN = "08:00"
BREAKDOWN_MIN = 8 * 60


def _shot(driver, folder: Path, name: str) -> None:
    path = folder / f"{len(list(folder.glob('*.png'))) + 1:02d}_{name}.png"
    assert driver.save_screenshot(str(path)), f"no screenshot {path}"


def _wait(driver, until, timeout: float, what: str) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(until, message=f"waiting for {what}")


def _body(driver, key: str) -> str | None:
    return driver.execute_script("return document.body.dataset[arguments[0]] || null", key)


def _click(driver, css: str) -> None:
    el = driver.find_element(By.CSS_SELECTOR, css)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()


def _set(driver, css: str, text: str) -> None:
    el = driver.find_element(By.CSS_SELECTOR, css)
    el.clear()
    el.send_keys(text)


def _trips(plan: dict) -> dict[str, tuple[dict, dict]]:
    return {t["id"]: (d, t) for d in plan["duties"] for t in d["trips"]}


def _pick_events(plan: dict) -> tuple[str, list[str], list[str], str]:
    """``(broken duty, its stops kept, its stops to re-plan, trip to lock)``: the last-mile duty with the
    most stops after the breakdown (it has some before it, if any has), and the first trip of another
    vehicle of the same warehouse — the one the re-plan would otherwise be freest to use."""
    def split(duty: dict) -> tuple[list[str], list[str]]:
        stops = [s for t in duty["trips"] for s in t["stops"]]
        return ([s["location"] for s in stops if s["departure"] <= BREAKDOWN_MIN],
                [s["location"] for s in stops if s["departure"] > BREAKDOWN_MIN])

    last_mile = [d for d in plan["duties"] if d["tier"] == "last_mile"]
    broken = max(last_mile, key=lambda d: (len(split(d)[1]) > 0, len(split(d)[0]) > 0, len(split(d)[1])))
    kept, remaining = split(broken)
    assert remaining, "no last-mile vehicle of the demo plan has a stop after 08:00"
    other = next(d for d in last_mile if d["depot"] == broken["depot"] and d["id"] != broken["id"])
    return broken["id"], kept, remaining, other["trips"][0]["id"]


def test_a_dispatchers_night(server, driver, artifacts: Path) -> None:
    print(f"\nscreenshots: {artifacts}")
    # ---------------------------------------------------------------- log in
    assert server.status("/console/") == 200, "the app serves no console (create_app calls mount_console)"
    assert server.status("/api/jobs") == 401, "the API needs the token, the console's files do not"
    driver.get(server.url + "/")
    _wait(driver, lambda d: d.find_element(By.ID, "token-input").is_displayed(), 20, "the login form")
    assert driver.current_url.endswith("/console/")
    _shot(driver, artifacts, "login")
    _set(driver, "#token-input", "not-the-token")
    _click(driver, "#login-button")
    _wait(driver, lambda d: "refused" in d.find_element(By.ID, "login-error").text, 20, "a refused token")
    _set(driver, "#token-input", server.token)
    _click(driver, "#login-button")
    _wait(driver, lambda d: _body(d, "loggedIn") == "1", 20, "the console after logging in")

    # ---------------------------------------------------------------- load the demo
    _click(driver, "#load-demo-button")
    _wait(driver, lambda d: _body(d, "scenario"), 60, "the demo scenario")
    scenario = server.api("GET", f"/api/scenarios/{_body(driver, 'scenario')}")
    assert scenario["name"] == "demo_city"
    sites = len(scenario["central_warehouses"]) + len(scenario["forward_warehouses"]) + len(scenario["pickup_points"])
    assert len(driver.find_elements(By.CSS_SELECTOR, "path[data-site]")) == sites
    _shot(driver, artifacts, "demo_loaded")

    # ---------------------------------------------------------------- plan
    _set(driver, "#budget-input", str(PLAN_BUDGET_S))
    _click(driver, "#plan-button")
    _wait(driver, lambda d: _body(d, "jobStatus") in ("running", "done"), 60, "the plan job to start")
    _shot(driver, artifacts, "planning")
    _wait(driver, lambda d: _body(d, "planJob"), 240, "the plan on screen")
    job_id = int(_body(driver, "planJob"))
    job = server.api("GET", f"/api/jobs/{job_id}")
    assert job["status"] == "done" and job["check"]["violations"] == 0, job
    plan = server.api("GET", f"/api/jobs/{job_id}/plan")
    trips = _trips(plan)
    assert len(trips) == plan["kpis"]["trips"] > 0
    drawn = [e.get_attribute("data-trip-id") for e in driver.find_elements(By.CSS_SELECTOR, "path.trip-line[data-trip-id]")]
    assert sorted(drawn) == sorted(trips), "the map draws exactly the plan's trips, one line each"
    assert sorted(driver.execute_script("return window.fulfilConsole.drawnTrips()")) == sorted(trips)
    bars = driver.find_elements(By.CSS_SELECTOR, "#timeline .tl-trip[data-trip-id]")
    assert len(bars) == len(trips), "the timeline has a bar per trip"
    shown = driver.find_element(By.CSS_SELECTOR, '#kpis tr[data-kpi="two_hour_compliance"] .value').text
    assert shown == f"{100 * plan['kpis']['two_hour_compliance']:.2f} %"
    _shot(driver, artifacts, "planned")

    # ---------------------------------------------------------------- lock a trip, break a vehicle down
    broken, kept, remaining, locked = _pick_events(plan)
    _click(driver, f'#timeline .tl-trip[data-trip-id="{locked}"]')
    _wait(driver, lambda d: d.find_element(By.ID, "trip-summary").get_attribute("data-trip-id") == locked, 10,
          "the selected trip's details")
    compartments = trips[locked][1].get("thermal", {}).get("compartments", {})
    assert len(driver.find_elements(By.CSS_SELECTOR, "#thermal-chart svg.thermal")) == len(compartments)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#trip-stops tbody tr")) == len(trips[locked][1]["stops"])
    _shot(driver, artifacts, "trip_selected")
    _click(driver, "#lock-trip-button")
    Select(driver.find_element(By.ID, "down-duty")).select_by_value(broken)
    _set(driver, "#down-time", BREAKDOWN)
    _click(driver, "#down-add")
    assert driver.execute_script("return window.fulfilConsole.pendingEvents()") == {
        "late_orders": [], "vehicle_down": [{"duty": broken, "from": BREAKDOWN}], "locks": [{"trip": locked}],
        "closed": []}
    assert driver.find_elements(By.CSS_SELECTOR, f'.tl-row[data-duty="{broken}"] .tl-down')
    _shot(driver, artifacts, "events")

    # ---------------------------------------------------------------- re-plan
    _set(driver, "#replan-budget", str(REPLAN_BUDGET_S))
    _click(driver, "#replan-button")
    _wait(driver, lambda d: _body(d, "planJob") not in (None, str(job_id)), 180, "the re-plan on screen")
    new_id = int(_body(driver, "planJob"))
    new_job = server.api("GET", f"/api/jobs/{new_id}")
    assert new_job["kind"] == "replan" and new_job["status"] == "done", new_job
    assert new_job["replan"]["parent_job"] == job_id
    assert new_job["replan"]["events"] == {"vehicle_down": [{"duty": broken, "from": BREAKDOWN}],
                                           "locks": [{"trip": locked}]}
    assert new_job["check"]["violations"] == 0, new_job["check"]
    new_plan = server.api("GET", f"/api/jobs/{new_id}/plan")
    new_trips = _trips(new_plan)
    drawn = [e.get_attribute("data-trip-id") for e in driver.find_elements(By.CSS_SELECTOR, "path.trip-line[data-trip-id]")]
    assert sorted(drawn) == sorted(new_trips)
    assert driver.find_elements(By.CSS_SELECTOR, f'.tl-row[data-duty="{broken}"] .tl-down')
    assert driver.find_elements(By.CSS_SELECTOR, f'.tl-trip.locked[data-trip-id="{locked}"]')
    driver.execute_script("document.getElementById('changes-card').scrollIntoView()")
    _shot(driver, artifacts, "replanned")

    # the locked trip: same vehicle, same stops in the same order, same departure
    (d0, t0), (d1, t1) = trips[locked], new_trips[locked]
    assert d1["id"] == d0["id"]
    assert [s["location"] for s in t1["stops"]] == [s["location"] for s in t0["stops"]]
    assert t1["departure"] == t0["departure"]
    # the broken vehicle keeps what it delivered before 08:00 and nothing after; those stops went to others
    served_by: dict[str, set[str]] = {}
    for d in new_plan["duties"]:
        for t in d["trips"]:
            for s in t["stops"]:
                served_by.setdefault(s["location"], set()).add(d["id"])
                if d["id"] == broken:
                    assert s["departure"] <= BREAKDOWN_MIN, f"{broken} still serves {s['location']} after 08:00"
    assert all(broken in served_by.get(p, set()) for p in kept)
    for p in remaining:
        assert served_by.get(p, set()) - {broken}, f"{p} of the broken {broken} is on no other vehicle"

    # what the page says changed is what the server computed, and names those stops
    changes = server.api("GET", f"/api/jobs/{new_id}/changes")
    rows = driver.find_elements(By.CSS_SELECTOR, "#moved-stops tr.moved-stop")
    moved = {r.get_attribute("data-pickup-point"): (r.get_attribute("data-from-trip"), r.get_attribute("data-to-trip"))
             for r in rows}
    assert len(rows) == len(changes["moved"]) == int(driver.find_element(By.ID, "moved-count").text)
    for p in remaining:
        assert p in moved, f"{p} is not listed as moved"
        assert moved[p][0].startswith(broken + ".") and not moved[p][1].startswith(broken + ".")
    assert float(driver.find_element(By.CSS_SELECTOR, "#cost-delta td[data-value]").get_attribute("data-value")) \
        == pytest.approx(changes["cost_delta"])
    assert changes["cost_delta"] == pytest.approx(new_plan["kpis"]["cost"] - plan["kpis"]["cost"], abs=0.01)
    notes = driver.find_element(By.ID, "change-notes").text
    assert f"locked trip {locked}: unchanged" in notes
    _click(driver, f'#moved-stops tr.moved-stop[data-pickup-point="{remaining[0]}"]')
    _wait(driver, lambda d: d.find_element(By.ID, "trip-summary").get_attribute("data-trip-id") == moved[remaining[0]][1],
          10, "the trip a moved stop went to")
    _shot(driver, artifacts, "moved_stop")

    # nothing the page asked for failed or was refused (a remote URL would be refused by its CSP)
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    refused = [m for m in severe if "status of 401" in m]
    assert len(refused) == 1 and severe == refused, severe  # only the wrong token's refusal
