"""The HTTP API: scenarios in, jobs queued, plans and documents out (OpenAPI at ``/docs``).

Every endpoint under ``/api`` needs ``Authorization: Bearer <token>``; ``/health`` does not.
Bad input is a 422 whose ``problems`` are the command line's ``file: field.path: what is wrong``
lines; a body over the server's limit is a 413, refused while it streams in.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fulfil import __version__
from fulfil.errors import ScenarioError
from fulfil.scenario.load import dotted
from fulfil.service.auth import token_matches
from fulfil.service.jobs import JobManager
from fulfil.service.settings import Settings
from fulfil.service.uploads import (
    JSON_ENTRY,
    BodyLimit,
    UploadRefused,
    content_hash,
    entry_of,
    keep_staged,
    read_multipart,
    stage_scenario,
)
from fulfil.store import Store, open_store
from fulfil.units import format_clock

ACTOR_HEADER = "X-Fulfil-User"
#: Document name in the URL → file name ``fulfil.report.floor.write_floor_documents`` writes.
FLOOR_DOCUMENTS = {"workbook.xlsx": "plan.xlsx", "routes.geojson": "routes.geojson", "map.html": "map.html"}
_MEDIA = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          ".geojson": "application/geo+json", ".html": "text/html; charset=utf-8"}


# --------------------------------------------------------------------------- request and response bodies
class JobRequest(BaseModel):
    """A plan of one stored scenario: the routing budget and seed as ``fulfil plan`` takes them."""

    model_config = ConfigDict(extra="forbid")
    scenario_id: int
    #: routing wall-clock budget, s; 0 = none (then ``solutions`` makes the budget deterministic)
    time_limit_s: float = Field(12.0, ge=0)
    solutions: int | None = Field(None, ge=1)
    seed: int = 0
    engine: Literal["ortools", "nearest"] = "ortools"

    @model_validator(mode="after")
    def _budget(self) -> JobRequest:
        if self.time_limit_s == 0 and self.solutions is None:
            raise ValueError("time_limit_s 0 needs solutions (a deterministic budget)")
        return self


class ReplanRequest(BaseModel):
    """A re-plan of a finished job's plan after the dispatcher's events (see ``fulfil replan``)."""

    model_config = ConfigDict(extra="forbid")
    #: ``{"late_orders": [{"pickup_point", "product", "units"}], "vehicle_down": [{"duty", "from": "08:00"}],
    #: "locks": [{"trip"} | {"pickup_point", "duty"}], "closed": ["<pickup id>"]}``
    events: dict[str, Any]
    time_limit_s: float = Field(10.0, ge=0)
    solutions: int | None = Field(None, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _budget(self) -> ReplanRequest:
        if self.time_limit_s == 0 and self.solutions is None:
            raise ValueError("time_limit_s 0 needs solutions (a deterministic budget)")
        return self


class Problems(BaseModel):
    detail: str
    problems: list[str] = []


# --------------------------------------------------------------------------- helpers
def _iso(t: float | None) -> str | None:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds") if t is not None else None


def _problems(status: int, problems: list[str]) -> JSONResponse:
    n = len(problems)
    head = problems[0] if n == 1 else f"{n} problems found"
    return JSONResponse({"detail": head, "problems": problems}, status_code=status)


def _scenario_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "version": row["version"], "content_hash": row["content_hash"],
            "file": row["entry"], "created_at": _iso(row["created_at"]), "created_by": row["created_by"]}


@lru_cache(maxsize=16)
def _sites(path: Path) -> dict[str, Any]:
    """Where the scenario's sites are, for a map (a stored scenario's files never change)."""
    from fulfil.scenario import load_scenario

    s = load_scenario(path)

    def site(r: Any) -> dict[str, Any]:
        return {"id": r.id, "name": r.name, "lon": r.lon, "lat": r.lat}

    return {
        "central_warehouses": [site(c) for c in s.central_warehouses],
        "forward_warehouses": [{**site(f), "central": f.central} for f in s.forward_warehouses],
        "pickup_points": [{**site(p), "kind": p.kind, "window": [format_clock(p.window.open),
                                                                  format_clock(p.window.close)]}
                          for p in s.pickup_points],
        "products": [{"id": p.id, "name": p.name, "zone": p.zone} for p in s.products],
        "vehicles": sum(v.count for v in s.vehicle_types),
        "orders": sum(d.orders for d in s.demand),
    }


def create_app(settings: Settings) -> FastAPI:
    """The API over the store and job queue of ``settings.data_dir``; jobs run while the app lives."""
    data = settings.data_dir
    state: dict[str, Any] = {}
    floor_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        data.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.database_url)
        jobs = JobManager(store, settings)
        jobs.start()
        state.update(store=store, jobs=jobs)
        try:
            yield
        finally:
            await run_in_threadpool(jobs.shutdown)
            store.close()

    app = FastAPI(title="fulfil", version=__version__, lifespan=lifespan,
                  description="Nightly route plans for community group buying. Every /api endpoint needs "
                              "`Authorization: Bearer <token>` (the token `fulfil serve` printed or read).")
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    def store() -> Store:
        return state["store"]

    def jobs() -> JobManager:
        return state["jobs"]

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        lines = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            where = dotted(loc[1:] if loc[:1] in (("body",), ("query",), ("path",)) else loc)
            what = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            lines.append(f"request: {where}: {what}" if where else f"request: {what}")
        return _problems(422, lines)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        # as the command line does: one line, never a traceback in the answer (the server's log has it)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc} (please report)"},
                            status_code=500)

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        if not token_matches(authorization, settings.token):
            raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer <token>'",
                                headers={"WWW-Authenticate": "Bearer"})

    def actor(who: str | None) -> str:
        return (who or "api").strip()[:100] or "api"

    def run_or_404(run_id: int) -> dict[str, Any]:
        run = store().run(run_id)
        if run is None:
            raise HTTPException(404, f"no job {run_id}")
        return run

    def out_dir(run: dict[str, Any]) -> Path:
        return data / run["folder"] / "out"

    def job_out(run: dict[str, Any], detail: bool = False) -> dict[str, Any]:
        started, finished = run["started_at"], run["finished_at"]
        doc = {
            "id": run["id"], "kind": run["kind"], "scenario_id": run["scenario_id"], "status": run["status"],
            "params": run["params"], "seed": run["seed"], "progress": run["progress"], "kpis": run["kpis"],
            "check": run["check"], "plan_code": run["plan_code"], "exit_code": run["exit_code"],
            "message": run["message"], "has_plan": (out_dir(run) / "plan.json").is_file(),
            "created_by": run["created_by"],
            "timings": {"created_at": _iso(run["created_at"]), "started_at": _iso(started),
                        "finished_at": _iso(finished),
                        "queued_s": round(started - run["created_at"], 3) if started else None,
                        "run_s": round(finished - started, 3) if started and finished else None},
        }
        if detail:
            replan = store().replan_of(run["id"])
            doc["replan"] = None if replan is None else {
                "parent_job": replan["parent_run_id"], "events": replan["events"], "by": replan["actor"],
                "at": _iso(replan["at"])}
        return doc

    def over_limit() -> JSONResponse:
        return _problems(422, [(f"request: time_limit_s: above the server's job time limit of "
                               f"{settings.max_job_seconds:g} s")])

    def plan_file(run: dict[str, Any], name: str = "plan.json") -> Path:
        path = out_dir(run) / name
        if not path.is_file():
            if run["status"] in ("queued", "running"):
                raise HTTPException(404, f"job {run['id']} is {run['status']}; its plan is not written yet")
            raise HTTPException(404, f"job {run['id']} ended '{run['status']}' without a plan"
                                     + (f": {run['message']}" if run["message"] else ""))
        return path

    # ----------------------------------------------------------------- open
    @app.get("/health", summary="Liveness (no token needed)")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    api = APIRouter(prefix="/api", dependencies=[Depends(authorized)])

    # ----------------------------------------------------------------- scenarios
    @api.post("/scenarios", status_code=201, summary="Store a scenario (JSON document, or multipart files)",
              responses={422: {"model": Problems}, 413: {"model": Problems}},
              openapi_extra={"requestBody": {"content": {
                  "application/json": {"schema": {"type": "object", "description": "the scenario document"}},
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                "description": "the scenario file and the CSV files it names"},
                      "entry": {"type": "string", "description": "which file is the scenario, when several "
                                                                  "could be"}}}}}}})
    async def create_scenario(request: Request,
                              who: Annotated[str | None, Header(alias=ACTOR_HEADER)] = None) -> JSONResponse:
        ctype = request.headers.get("content-type", "")
        try:
            if ctype.startswith("multipart/form-data"):
                files, fields = await read_multipart(ctype, request.stream())
                entry = entry_of(files, fields.get("entry"))
            elif ctype.split(";")[0].strip() in ("application/json", ""):
                files, entry = {JSON_ENTRY: await request.body()}, JSON_ENTRY
            else:
                raise HTTPException(415, "send the scenario as application/json or multipart/form-data")
            digest = content_hash(files)
            tmp, scenario = await run_in_threadpool(stage_scenario, files, entry, data / "scenarios")
        except UploadRefused as exc:
            return _problems(422, exc.problems)
        final = data / "scenarios" / digest
        await run_in_threadpool(keep_staged, tmp, final)
        row, created = store().add_scenario(scenario.name, digest, str(final.relative_to(data)), entry, actor(who))
        if created:
            store().add_event(None, "scenario", f"scenario '{row['name']}' version {row['version']} stored",
                              data={"scenario_id": row["id"]}, actor=actor(who))
        return JSONResponse(_scenario_out(row), status_code=201 if created else 200)

    @api.get("/scenarios", summary="Stored scenarios, every version")
    def list_scenarios() -> list[dict[str, Any]]:
        return [_scenario_out(r) for r in store().scenarios()]

    @api.get("/scenarios/{scenario_id}", summary="One scenario with its sites' coordinates (for the map)")
    def get_scenario(scenario_id: int) -> dict[str, Any]:
        row = store().scenario(scenario_id)
        if row is None:
            raise HTTPException(404, f"no scenario {scenario_id}")
        return {**_scenario_out(row), **_sites(data / row["folder"] / row["entry"])}

    # ----------------------------------------------------------------- jobs
    @api.post("/jobs", status_code=201, summary="Queue a plan of a stored scenario",
              responses={422: {"model": Problems}})
    def create_job(req: JobRequest, who: Annotated[str | None, Header(alias=ACTOR_HEADER)] = None) -> dict[str, Any]:
        if store().scenario(req.scenario_id) is None:
            return _problems(422, [f"request: scenario_id: no scenario {req.scenario_id}"])
        if req.time_limit_s > settings.max_job_seconds:
            return over_limit()
        params = {"time_limit_s": req.time_limit_s, "solutions": req.solutions, "engine": req.engine}
        run = store().add_run(req.scenario_id, params, req.seed, lambda i: f"runs/{i}", actor=actor(who))
        jobs().submit(run["id"])
        return job_out(run)

    @api.get("/jobs", summary="Every job, newest last")
    def list_jobs(status: str | None = None) -> list[dict[str, Any]]:
        return [job_out(r) for r in store().runs(status)]

    @api.get("/jobs/{job_id}", summary="A job: status, progress, KPIs, check, timings")
    def get_job(job_id: int) -> dict[str, Any]:
        return job_out(run_or_404(job_id), detail=True)

    @api.post("/jobs/{job_id}/cancel", summary="Cancel: a queued job at once, a running one keeps its best plan")
    def cancel_job(job_id: int, who: Annotated[str | None, Header(alias=ACTOR_HEADER)] = None) -> dict[str, Any]:
        run_or_404(job_id)
        return {"id": job_id, "result": jobs().cancel(job_id, actor(who))}

    @api.get("/jobs/{job_id}/events", summary="The job's progress lines and user actions after event id `after`")
    def job_events(job_id: int, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        run_or_404(job_id)
        return [{"id": e["id"], "kind": e["kind"], "message": e["message"], "data": e["data"], "by": e["actor"],
                 "at": _iso(e["at"])} for e in store().events(job_id, after, min(max(limit, 1), 5000))]

    @api.get("/jobs/{job_id}/plan", summary="The plan (fulfil plan format 2, docs/plan_format.md)")
    def job_plan(job_id: int) -> FileResponse:
        return FileResponse(plan_file(run_or_404(job_id)), media_type="application/json")

    @api.get("/jobs/{job_id}/check", summary="The independent checker's verdict on the plan, every violation")
    def job_check(job_id: int) -> FileResponse:
        run = run_or_404(job_id)
        plan_file(run)
        return FileResponse(plan_file(run, "check.json"), media_type="application/json")

    def floor_document(run: dict[str, Any], name: str) -> Path:
        """A document for the floor, from the job's own output or written once on first request."""
        wanted = FLOOR_DOCUMENTS[name]
        for folder in (out_dir(run), data / run["folder"] / "floor"):
            if (folder / wanted).is_file():
                return folder / wanted
        plan_path = plan_file(run)
        if find_spec("fulfil.report.floor") is None:
            raise HTTPException(404, "this fulfil has no floor documents (fulfil.report.floor is missing)")
        from fulfil.checker import load_plan
        from fulfil.output import replace_folder_atomic
        from fulfil.report.floor import write_floor_documents
        from fulfil.scenario import load_scenario
        from fulfil.service.jobs import plan_scenario

        scenario_row = store().scenario(run["scenario_id"])
        with floor_lock:
            target = data / run["folder"] / "floor"
            if not (target / wanted).is_file():
                plan = load_plan(plan_path)
                scenario = load_scenario(plan_scenario(data / scenario_row["folder"] / scenario_row["entry"],
                                                       plan_path.parent))
                replace_folder_atomic(target, lambda tmp: write_floor_documents(plan, scenario, tmp))
        if not (target / wanted).is_file():
            raise HTTPException(404, f"the floor documents of job {run['id']} hold no {wanted}")
        return target / wanted

    def floor_endpoint(name: str):
        async def endpoint(job_id: int) -> FileResponse:
            run = run_or_404(job_id)
            path = await run_in_threadpool(floor_document, run, name)
            return FileResponse(path, media_type=_MEDIA[path.suffix],
                                filename=f"job{job_id}_{name}" if name.endswith(".xlsx") else None)
        return endpoint

    for name, what in (("workbook.xlsx", "Excel workbook for the floor (trip sheets, loading lists)"),
                       ("routes.geojson", "Trips and stops as GeoJSON (RFC 7946, WGS-84)"),
                       ("map.html", "Interactive offline map of the plan")):
        api.add_api_route(f"/jobs/{{job_id}}/{name}", floor_endpoint(name), methods=["GET"], summary=what,
                          response_class=FileResponse)

    # ----------------------------------------------------------------- re-plan
    @api.post("/jobs/{job_id}/replan", status_code=201, summary="Re-plan a job's plan after events → a new job",
              responses={422: {"model": Problems}, 409: {"model": Problems}, 501: {"model": Problems}})
    async def replan_job(job_id: int, req: ReplanRequest,
                         who: Annotated[str | None, Header(alias=ACTOR_HEADER)] = None) -> Any:
        if find_spec("fulfil.replan") is None or find_spec("fulfil.replan.events") is None:
            raise HTTPException(501, "re-planning is not available in this fulfil (fulfil.replan is missing)")
        from fulfil.replan.events import event_problems, parse_events
        from fulfil.service.jobs import plan_scenario

        parent = run_or_404(job_id)
        previous = out_dir(parent) / "plan.json"
        if not previous.is_file():
            raise HTTPException(409, f"job {job_id} has no plan to re-plan (status '{parent['status']}')")
        if req.time_limit_s > settings.max_job_seconds:
            return over_limit()
        scenario_row = store().scenario(parent["scenario_id"])
        previous_scenario = plan_scenario(data / scenario_row["folder"] / scenario_row["entry"], out_dir(parent))

        def check() -> list[str]:
            from fulfil.checker import load_plan
            from fulfil.scenario import load_scenario

            events = parse_events(req.events, "events")
            return event_problems(events, load_plan(previous), load_scenario(previous_scenario), "events")

        try:
            problems = await run_in_threadpool(check)
        except ScenarioError as exc:
            problems = exc.problems
        if problems:
            return _problems(422, problems)
        params = {"time_limit_s": req.time_limit_s, "solutions": req.solutions, "parent_job": job_id}
        run = store().add_run(parent["scenario_id"], params, req.seed, lambda i: f"runs/{i}", kind="replan",
                              actor=actor(who))
        folder = data / run["folder"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "previous_plan.json").write_bytes(previous.read_bytes())
        if previous_scenario.parent == out_dir(parent):  # the parent's own scenario.json (late orders)
            (folder / "previous_scenario.json").write_bytes(previous_scenario.read_bytes())
        (folder / "events.json").write_text(json.dumps(req.events, indent=1, ensure_ascii=False), encoding="utf-8")
        store().add_replan(job_id, run["id"], req.events, actor(who))
        store().add_event(job_id, "replan", f"re-planned as job {run['id']}", data={"job": run["id"]},
                          actor=actor(who))
        jobs().submit(run["id"])
        return JSONResponse(job_out(store().run(run["id"]), detail=True), status_code=201)

    @api.get("/jobs/{job_id}/changes", summary="What a re-plan changed from its parent's plan")
    def job_changes(job_id: int) -> FileResponse:
        run = run_or_404(job_id)
        if run["kind"] != "replan":
            raise HTTPException(404, f"job {job_id} is a plan, not a re-plan: it has no changes")
        return FileResponse(plan_file(run, "changes.json"), media_type="application/json")

    app.include_router(api)
    from fulfil.service.console import mount_console

    mount_console(app)
    return app
