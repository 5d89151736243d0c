"""The dispatcher's console, served by the API's own process: static files only, nothing remote.

``mount_console(app)`` serves ``fulfil/console/`` at ``/console/`` (``/`` redirects there), the
Leaflet shipped in ``fulfil/static/leaflet/`` at ``/console/leaflet/``, and the bundled demo
scenario's files at ``/console/demo/``, which the console uploads through ``POST /api/scenarios``
like any other scenario. None of it needs the token: it holds no data of the server's; every
call the console makes for data goes to ``/api`` with the token the dispatcher typed in.

Every console response carries a Content-Security-Policy that allows this origin only, so a
console that still works in the test works with no internet: a script, style, font or map tile
from anywhere else would be refused by the browser, not fetched.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

_PACKAGE = Path(__file__).resolve().parents[1]
CONSOLE_DIR = _PACKAGE / "console"
LEAFLET_DIR = _PACKAGE / "static" / "leaflet"
#: The demo night (``scenarios/demo_city.toml`` and the CSV tables it names) of a source checkout.
DEMO_DIR = _PACKAGE.parent / "scenarios"
DEMO_ENTRY = "demo_city.toml"
DEMO_FILES = (DEMO_ENTRY, "demo_city_pickup_points.csv", "demo_city_demand.csv")

#: Same origin only; inline styles because Leaflet positions its panes with style attributes.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


class _ConsoleFiles(StaticFiles):
    """Static files with the console's security headers."""

    async def get_response(self, path: str, scope: MutableMapping[str, Any]) -> Any:
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


def mount_console(app: FastAPI) -> None:
    """Serve the console on ``app`` (call once, after the API routes)."""

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    @app.get("/console/demo/manifest.json", include_in_schema=False)
    def demo_manifest() -> JSONResponse:
        missing = [n for n in DEMO_FILES if not (DEMO_DIR / n).is_file()]
        if missing:
            raise HTTPException(404, f"the demo scenario is not bundled with this installation "
                                     f"(no {', '.join(missing)} in {DEMO_DIR})")
        return JSONResponse({"entry": DEMO_ENTRY, "files": list(DEMO_FILES)}, headers=_HEADERS)

    @app.get("/console/demo/{name}", include_in_schema=False)
    def demo_file(name: str) -> FileResponse:
        # only the listed names: the URL never becomes a path of its own
        if name not in DEMO_FILES or not (DEMO_DIR / name).is_file():
            raise HTTPException(404, f"no demo file '{name}'")
        return FileResponse(DEMO_DIR / name, media_type="text/plain; charset=utf-8", headers=_HEADERS)

    app.mount("/console/leaflet", _ConsoleFiles(directory=LEAFLET_DIR), name="console-leaflet")
    app.mount("/console", _ConsoleFiles(directory=CONSOLE_DIR, html=True), name="console")
