"""``fulfil serve``: the HTTP API over the library (FastAPI on uvicorn), its job queue and uploads.

Plans run as subprocesses of the real command line (:mod:`fulfil.service.jobs`), so a job is
exactly what ``fulfil plan`` does and a cancel is its Ctrl-C; runs and their events are kept in
the plan store (:mod:`fulfil.store`).
"""
