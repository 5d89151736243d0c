"""The HTTP API through FastAPI's TestClient: access, bad input, size limits, confinement, jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from service_helpers import FAST, GOOD, TOKEN, finished, mini_files, wait_for

from fulfil.service.jobs import read_progress


def _mini_doc() -> dict:
    return json.loads((GOOD / "mini.json").read_text(encoding="utf-8"))


def _post_scenario(client, doc: dict) -> dict:
    r = client.post("/api/scenarios", json=doc)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_health_is_open_and_every_api_endpoint_needs_the_token(serve):
    client = serve()
    assert client.get("/health", headers={"Authorization": ""}).json()["status"] == "ok"
    for method, url in [("get", "/api/scenarios"), ("get", "/api/jobs"), ("get", "/api/jobs/1"),
                        ("post", "/api/scenarios"), ("post", "/api/jobs"), ("post", "/api/jobs/1/cancel"),
                        ("get", "/api/jobs/1/plan"), ("post", "/api/jobs/1/replan")]:
        for header in ("", "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x"):
            r = getattr(client, method)(url, headers={"Authorization": header})
            assert r.status_code == 401, (method, url, header, r.status_code)
    assert client.get("/api/scenarios").status_code == 200
    assert "/api/jobs/{job_id}/cancel" in client.get("/openapi.json").json()["paths"]


def test_a_broken_scenario_is_422_naming_file_and_field(serve):
    client = serve()
    doc = _mini_doc()
    doc["pickup_points"][0]["lat"] = 200
    r = client.post("/api/scenarios", json=doc)
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert any(p.startswith("scenario.json: pickup_points[0].lat: ") and "latitude" in p for p in problems), problems

    files = mini_files()
    files[1] = ("files", ("mini_pickup_points.csv",
                          (GOOD / "mini_pickup_points.csv").read_bytes().replace(b"28.16", b"north")))
    r = client.post("/api/scenarios", files=files)
    assert r.status_code == 422
    assert any(p.startswith("mini_pickup_points.csv: row 2: lat: ") for p in r.json()["problems"]), r.json()
    assert client.get("/api/scenarios").json() == []


def test_a_bad_job_request_is_422_naming_the_field(serve):
    client = serve(max_job_seconds=60)
    sid = _post_scenario(client, _mini_doc())["id"]
    cases = [({"scenario_id": sid, "time_limit_s": 0}, "request: time_limit_s 0 needs solutions"),
             ({"scenario_id": sid, "seed": "x"}, "request: seed: "),
             ({"scenario_id": sid, "time_limit_s": 120}, "request: time_limit_s: above the server's job time limit"),
             ({"scenario_id": 999, **FAST}, "request: scenario_id: no scenario 999")]
    for body, start in cases:
        r = client.post("/api/jobs", json=body)
        assert r.status_code == 422, body
        assert any(p.startswith(start) for p in r.json()["problems"]), (body, r.json())


def test_an_oversized_body_is_413_declared_or_streamed(serve):
    client = serve(max_body_bytes=4096)
    big = {**_mini_doc(), "description": "x" * 10_000}
    assert client.post("/api/scenarios", json=big).status_code == 413

    def chunks():  # no Content-Length: the limit must bite while the body streams in
        yield b'{"description": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}'

    r = client.post("/api/scenarios", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert "limit of 4096 bytes" in r.json()["detail"]
    assert client.get("/api/scenarios").json() == []
    assert client.post("/api/scenarios", json=_mini_doc()).status_code == 201  # under the limit


def _multipart(files: list[tuple[bytes, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart body written by hand, so each file name reaches the server byte for byte."""
    boundary = b"fulfil-test-boundary"
    body = b"".join(b"--" + boundary + b'\r\nContent-Disposition: form-data; name="files"; filename="' + name
                    + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data + b"\r\n" for name, data in files)
    return body + b"--" + boundary + b"--\r\n", {"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}


@pytest.mark.parametrize("name", [b"../evil.toml", b"/tmp/evil.toml", b"sub/../../evil.csv", b"..", b".hidden.csv",
                                  b"a\\..\\evil.csv", b"C:evil.csv", b"evil\x00.csv", b"evil\x01.csv", b""])
def test_upload_names_that_leave_the_folder_are_refused(serve, tmp_path, name):
    client = serve()
    files = [(n.encode(), data) for _, (n, data) in mini_files()] + [(name, b"id,lon,lat\n")]
    body, headers = _multipart(files)
    r = client.post("/api/scenarios", content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert "upload: " in r.json()["detail"]
    assert not list(tmp_path.rglob("evil*")) and not Path("/tmp/evil.toml").exists()
    staged = tmp_path / "data" / "scenarios"
    assert not staged.exists() or not list(staged.iterdir())  # nothing of the upload is left
    assert client.get("/api/scenarios").json() == []
    ok, headers = _multipart([(n.encode(), data) for _, (n, data) in mini_files()])
    assert client.post("/api/scenarios", content=ok, headers=headers).status_code == 201  # the same, named well


@pytest.mark.parametrize("ref", ["../../token", "/etc/passwd", "../../store.sqlite"])
def test_csv_references_outside_the_scenario_folder_are_refused(serve, tmp_path, ref):
    client = serve()
    toml = (GOOD / "mini_csv.toml").read_text(encoding="utf-8").replace('"mini_pickup_points.csv"', json.dumps(ref))
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "token").write_text("id,lon,lat\nSECRET,1,2\n")
    files = [("files", ("mini_csv.toml", toml.encode())), *mini_files()[1:]]
    r = client.post("/api/scenarios", files=files)
    assert r.status_code == 422, r.text
    assert r.json()["problems"][0].startswith("mini_csv.toml: pickup_points_csv: ")
    assert "outside the scenario's folder" in r.json()["problems"][0]
    assert "SECRET" not in r.text


def test_a_plan_job_end_to_end(serve):
    client = serve()
    r = client.post("/api/scenarios", files=mini_files(), headers={"X-Fulfil-User": "dispatcher-7"})
    assert r.status_code == 201, r.text
    scenario = r.json()
    assert (scenario["name"], scenario["version"], scenario["file"]) == ("mini", 1, "mini_csv.toml")
    assert client.post("/api/scenarios", files=mini_files()).json()["id"] == scenario["id"]  # same upload
    assert _post_scenario(client, _mini_doc())["version"] == 2  # same name, other content
    detail = client.get(f"/api/scenarios/{scenario['id']}").json()
    assert [p["id"] for p in detail["pickup_points"]] == ["PP1", "PP2"]
    assert detail["central_warehouses"][0]["lon"] == pytest.approx(113.105)

    job = client.post("/api/jobs", json={"scenario_id": scenario["id"], **FAST, "seed": 3},
                      headers={"X-Fulfil-User": "dispatcher-7"}).json()
    job = wait_for(client, job["id"], finished)
    assert job["status"] == "done", job
    plan = client.get(f"/api/jobs/{job['id']}/plan").json()
    assert (plan["format"], plan["code"], plan["seed"]) == ("fulfil-plan", 0, 3)
    assert job["kpis"] == plan["kpis"] and job["plan_code"] == 0 and job["created_by"] == "dispatcher-7"
    check = client.get(f"/api/jobs/{job['id']}/check").json()
    assert check["violations"] == 0 and check["details"] == [] and job["check"]["violations"] == 0
    assert job["progress"]["fraction"] == 1.0 and job["timings"]["run_s"] > 0
    events = client.get(f"/api/jobs/{job['id']}/events").json()
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "submitted" and kinds[-1] == "done" and "log" in kinds
    assert any("last mile 1/1 solved" in e["message"] for e in events)
    later = client.get(f"/api/jobs/{job['id']}/events", params={"after": events[-2]["id"]}).json()
    assert [e["id"] for e in later] == [events[-1]["id"]]
    assert client.get("/api/jobs/999/plan").status_code == 404


def test_floor_documents_come_from_the_floor_module(serve):
    pytest.importorskip("fulfil.report.floor")
    client = serve()
    sid = client.post("/api/scenarios", files=mini_files()).json()["id"]
    job = wait_for(client, client.post("/api/jobs", json={"scenario_id": sid, **FAST}).json()["id"], finished)
    geo = client.get(f"/api/jobs/{job['id']}/routes.geojson")
    assert geo.status_code == 200 and geo.json()["type"] == "FeatureCollection"
    book = client.get(f"/api/jobs/{job['id']}/workbook.xlsx")
    assert book.status_code == 200 and book.content[:2] == b"PK"
    page = client.get(f"/api/jobs/{job['id']}/map.html")
    assert page.status_code == 200 and "<html" in page.text


def test_two_jobs_run_at_once_and_a_third_waits(serve):
    client = serve(max_concurrent_jobs=2)
    sid = client.post("/api/scenarios", files=mini_files()).json()["id"]
    ids = [client.post("/api/jobs", json={"scenario_id": sid, **FAST, "seed": s}).json()["id"] for s in range(3)]
    jobs = [wait_for(client, i, finished) for i in ids]
    assert [j["status"] for j in jobs] == ["done"] * 3
    t = [(j["timings"]["started_at"], j["timings"]["finished_at"]) for j in jobs]
    assert t[0][0] < t[1][1] and t[1][0] < t[0][1], f"the first two jobs did not overlap: {t}"
    assert t[2][0] >= min(t[0][1], t[1][1]), f"the third job started before a slot was free: {t}"
    assert [client.get(f"/api/jobs/{i}/plan").json()["seed"] for i in ids] == [0, 1, 2]


def test_cancel_keeps_the_best_plan_and_it_passes_the_checker(serve, small_city):
    client = serve()
    files = [("files", (p.name, p.read_bytes())) for p in sorted(small_city.parent.iterdir()) if p.is_file()]
    sid = client.post("/api/scenarios", files=files, data={"entry": small_city.name}).json()["id"]
    job = client.post("/api/jobs", json={"scenario_id": sid, "time_limit_s": 40}).json()
    wait_for(client, job["id"], lambda j: finished(j) or (j["progress"] or {}).get("phase") == "last_mile")
    assert client.post(f"/api/jobs/{job['id']}/cancel", headers={"X-Fulfil-User": "ops"}).json()["result"] \
        == "cancelling", "the job ended before the cancel: raise its time limit"
    job = wait_for(client, job["id"], finished)
    assert job["status"] == "cancelled" and job["exit_code"] == 130, job
    plan = client.get(f"/api/jobs/{job['id']}/plan").json()
    assert plan["code"] == 130
    assert client.get(f"/api/jobs/{job['id']}/check").json()["violations"] == 0
    assert job["timings"]["run_s"] < 30  # the 40 s budget was cut short
    events = client.get(f"/api/jobs/{job['id']}/events").json()
    assert any(e["kind"] == "cancel" and e["by"] == "ops" for e in events)


def test_cancel_of_a_queued_job_is_immediate(serve, small_city):
    client = serve(max_concurrent_jobs=1)
    sid = client.post("/api/scenarios", files=mini_files()).json()["id"]
    first = client.post("/api/jobs", json={"scenario_id": sid, **FAST}).json()["id"]
    second = client.post("/api/jobs", json={"scenario_id": sid, **FAST}).json()["id"]
    assert client.post(f"/api/jobs/{second}/cancel").json()["result"] == "cancelled"
    assert wait_for(client, first, finished)["status"] == "done"
    second_job = client.get(f"/api/jobs/{second}").json()
    assert second_job["status"] == "cancelled" and second_job["timings"]["started_at"] is None
    assert client.post(f"/api/jobs/{first}/cancel").json()["result"] == "done"


def test_progress_follows_the_command_lines_log():
    p = {"phase": "starting", "fraction": 0.0}
    p = read_progress("[   1.2s] routing last mile: 4 forward warehouses, 160 jobs, 2 workers\n", p)
    assert (p["phase"], p["fraction"], p["elapsed_s"]) == ("last_mile", 0.10, 1.2)
    p = read_progress("[   3.0s]   last mile 2/4 solved (40 jobs, 3 vehicles used)\n", p)
    assert (p["phase"], p["last_mile"], p["fraction"]) == ("last_mile", [2, 4], 0.45)
    p = read_progress("[   9.0s]   trunk (quick dispatch) 1/1 solved (4 jobs, 1 vehicles used)\n", p)
    assert (p["phase"], p["fraction"]) == ("trunk", 0.9)
    assert read_progress("error: something\n", p)["line"] == "error: something"
