"""Fixtures of the browser test: the real server on a free loopback port, and headless Chromium.

The browser is Debian's ``chromium`` driven through ``chromedriver`` (both installed by ``.ci/run``).
Without them (or without selenium) the test is skipped, unless ``FULFIL_REQUIRE_BROWSER=1``
(CI sets it): then it fails, so a missing browser never passes for a green run.
Screenshots go to ``tests/browser/artifacts/`` (git-ignored), or to ``FULFIL_BROWSER_ARTIFACTS``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REQUIRED = os.environ.get("FULFIL_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(os.environ.get("FULFIL_BROWSER_ARTIFACTS") or Path(__file__).parent / "artifacts")
#: ECOSYSTEM.md §6: what makes Debian's Chromium run headless in a container with no network.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1600,1000")


def _missing() -> list[str]:
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if importlib.util.find_spec("selenium") is None:
        missing.append("the selenium package")
    return missing


@pytest.fixture(scope="session")
def browser_tools() -> None:
    """Skip (or, with ``FULFIL_REQUIRE_BROWSER=1``, fail) when the browser or its driver is missing."""
    missing = _missing()
    if missing:
        why = f"browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver; pip install selenium)"
        if REQUIRED:
            pytest.fail(why + "; FULFIL_REQUIRE_BROWSER=1 makes that a failure")
        pytest.skip(why)


@dataclass
class Server:
    url: str
    token: str
    data_dir: Path

    def status(self, path: str) -> int:
        """The HTTP status of an unauthenticated GET (redirects followed)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """One authorised JSON call to the server's API (the cross-check beside the browser)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """``fulfil serve``'s app under uvicorn in a thread, on 127.0.0.1 and a free port, over a temporary
    data folder, with a fresh token; stopped (its jobs Ctrl-C'd) at the end."""
    import uvicorn

    from fulfil.service.app import create_app
    from fulfil.service.settings import Settings

    token = secrets.token_urlsafe(18)
    data = tmp_path / "data"
    app = create_app(Settings(data_dir=data, token=token, max_concurrent_jobs=1, stop_grace_seconds=10))
    sock = socket.socket(socket.AF_INET)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, name="fulfil-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", token, data)
    finally:
        uv.should_exit = True
        thread.join(60)
        sock.close()


@pytest.fixture
def driver(browser_tools: None, tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium through chromedriver, the browser's console log kept for the test to read."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """The folder this test's screenshots go to (emptied first, kept after the run)."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
