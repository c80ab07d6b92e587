"""/healthz and /readyz: up, each dependency down, and a hung dependency answered within a bound."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from db.session import Database
from webapp.ops import health

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


@pytest.fixture
def redis_down(settings: dict) -> None:
    """Point the app at a Redis that refuses connections (request it before `app`)."""
    settings["REDIS_URL"] = DEAD_REDIS


@pytest.fixture
def silent_port(settings: dict) -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    settings["REDIS_URL"] = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    settings["READY_TIMEOUT"] = 0.3
    settings["REDIS_TIMEOUT"] = 0.2  # the app fixture's own flush must not wait long either
    yield server.getsockname()[1]
    stop.set()
    thread.join(1)
    for conn in held:
        conn.close()
    server.close()


def test_healthz_needs_nothing(redis_down: None, app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_all_up(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_names_redis_when_down(redis_down: None, app: Flask) -> None:
    start = time.monotonic()
    response = app.test_client().get("/readyz")
    elapsed = time.monotonic() - start
    body = response.get_json()
    assert response.status_code == 503
    assert body["down"] == ["broker", "redis"]  # the broker defaults to REDIS_URL
    assert body["checks"]["database"]["ok"] is True
    assert elapsed < 2.0
    assert "127.0.0.1" not in response.get_data(as_text=True)  # no addresses or secrets


def test_readyz_names_database_when_down(app: Flask, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path) -> None:
    broken = Database("sqlite:///" + str(tmp_path / "missing-dir" / "db.sqlite3"))
    monkeypatch.setitem(app.extensions, "db", broken)
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["down"] == ["database"]
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert "missing-dir" not in response.get_data(as_text=True)
    broken.dispose()


def test_readyz_bounded_when_redis_hangs(silent_port: int, app: Flask) -> None:
    start = time.monotonic()
    response = app.test_client().get("/readyz")
    elapsed = time.monotonic() - start
    body = response.get_json()
    assert response.status_code == 503
    assert "redis" in body["down"]
    assert elapsed < 1.0, elapsed


def test_beat_heartbeat_round_trip(app: Flask) -> None:
    redis = app.extensions["redis"]
    assert health.read_beat_heartbeat(redis) is None
    health.record_beat_heartbeat(redis, now=1_700_000_000.0)
    assert health.read_beat_heartbeat(redis).timestamp() == 1_700_000_000.0


def test_beat_heartbeat_never_raises(app: Flask) -> None:
    class Down:
        def set(self, *args: object, **kwargs: object) -> None:
            raise ConnectionError("down")

    health.record_beat_heartbeat(Down())  # logged, not raised
