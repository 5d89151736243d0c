"""The console's files as the server hands them out (no browser needed): same-origin only, the demo
night's files byte for byte, and no path of the server's disk reachable through the demo URL."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fulfil.service.console import CONSOLE_DIR, CSP, DEMO_DIR, DEMO_FILES, mount_console


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    mount_console(app)
    return TestClient(app)


def test_root_opens_the_console_with_its_policy(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (302, 303, 307) and r.headers["location"] == "/console/"
    page = client.get("/console/")
    assert page.status_code == 200 and 'src="app.js"' in page.text
    assert page.headers["content-security-policy"] == CSP
    for path in ("/console/app.js", "/console/app.css", "/console/leaflet/leaflet.js", "/console/leaflet/leaflet.css"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-security-policy"] == CSP, path


def test_the_console_names_no_other_server() -> None:
    """Every URL in the console's own files is relative; the only absolute one is SVG's XML namespace,
    which is a name, not something fetched."""
    found = set()
    for path in CONSOLE_DIR.iterdir():
        found |= set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", path.read_text(encoding="utf-8")))
    assert found == {"http://www.w3.org/2000/svg"}


def test_the_demo_night_is_served_as_it_is_on_disk(client: TestClient) -> None:
    manifest = client.get("/console/demo/manifest.json").json()
    assert manifest == {"entry": "demo_city.toml", "files": list(DEMO_FILES)}
    for name in manifest["files"]:
        r = client.get(f"/console/demo/{name}")
        assert r.status_code == 200 and r.content == (DEMO_DIR / name).read_bytes()


@pytest.mark.parametrize("name", ["large_city.toml", "..%2Fpyproject.toml", "%2Fetc%2Fpasswd", "demo_city.toml%00"])
def test_no_other_file_through_the_demo_url(client: TestClient, name: str) -> None:
    assert client.get(f"/console/demo/{name}").status_code == 404
