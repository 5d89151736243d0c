"""A server over a temporary data folder, through FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_helpers import AUTH, TOKEN

from fulfil.service.app import create_app
from fulfil.service.settings import Settings


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """``serve(**settings)`` → a started client on ``tmp_path/data``; every one is closed at the end."""
    clients: list[TestClient] = []

    def start(**overrides) -> TestClient:
        settings = Settings(**{"data_dir": tmp_path / "data", "token": TOKEN, **overrides})
        client = TestClient(create_app(settings), headers=AUTH)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for c in clients:
        c.__exit__(None, None, None)

