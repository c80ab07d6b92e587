"""Liveness and readiness: GET /healthz and GET /readyz; and beat's heartbeat.

* ``/healthz`` answers 200 whenever the process can answer at all. It touches nothing else, so
  a load balancer or systemd does not restart healthy web processes because Redis blinked.
* ``/readyz`` asks the database, Redis and the Celery broker, all at once, each bounded
  (``READY_TIMEOUT``, default 1 s), and answers 200 with each check's result or 503 naming what
  is down. A process that is not ready should be taken out of the load balancer, not restarted.
  Neither answer carries a URL, host name or error text: only the check names, ok/down and the
  exception's class, so they are safe to expose to the load balancer's network.
* The beat heartbeat: the periodic reminder task records when it last ran in Redis
  (`record_beat_heartbeat`); ``flask doctor`` reads it to tell whether beat (and a worker) are
  alive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from kombu import Connection
from redis import Redis
from sqlalchemy import text

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

DEFAULT_READY_TIMEOUT = 1.0
BEAT_HEARTBEAT_KEY = "fl:beat:last_run"

# Shared by all readiness probes of a process. A check stuck past its bound keeps its thread
# until its own socket timeout; a small pool bounds how many can pile up.
_executor = ThreadPoolExecutor(max_workers=6, thread_name_prefix="readyz")


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    app = current_app._get_current_object()
    timeout = float(app.config.get("READY_TIMEOUT") or DEFAULT_READY_TIMEOUT)
    results = run_checks(readiness_checks(app, timeout), timeout)
    down = sorted(name for name, result in results.items() if not result["ok"])
    body: dict[str, Any] = {"status": "down" if down else "ok", "checks": results}
    if down:
        body["down"] = down
    return jsonify(body), 503 if down else 200


def readiness_checks(app: Flask, timeout: float) -> dict[str, Callable[[], None]]:
    """name → a function that returns when that dependency answered, or raises."""
    config = app.config
    broker_url = config.get("CELERY_BROKER_URL") or config["REDIS_URL"]
    return {
        "database": lambda: check_database(app),
        "redis": lambda: check_redis(config["REDIS_URL"], timeout),
        "broker": lambda: check_broker(broker_url, timeout),
    }


def run_checks(checks: dict[str, Callable[[], None]], timeout: float) -> dict[str, dict]:
    """Run every check concurrently; the whole takes about `timeout` at worst."""
    futures = {name: _executor.submit(_timed, fn) for name, fn in checks.items()}
    deadline = time.monotonic() + timeout
    results: dict[str, dict] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            results[name] = {"ok": False, "error": "timeout", "ms": round(timeout * 1000)}
    return results


def _timed(fn: Callable[[], None]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # any failure means "down"; the class name is enough to act on
        log.warning("readiness check failed: %s", type(exc).__name__)
        return {"ok": False, "error": type(exc).__name__,
                "ms": round((time.perf_counter() - start) * 1000)}
    return {"ok": True, "ms": round((time.perf_counter() - start) * 1000)}


def check_database(app: Flask) -> None:
    with app.extensions["db"].engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def check_redis(url: str, timeout: float) -> None:
    client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        if not client.ping():
            raise ConnectionError("no PONG")
    finally:
        client.close()


def check_broker(url: str, timeout: float) -> None:
    """A Redis broker is pinged directly; any other (amqp...) is connected to by kombu."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        check_redis(url, timeout)
        return
    with Connection(url, connect_timeout=timeout) as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout)


# --- Beat heartbeat -----------------------------------------------------------------------------


def record_beat_heartbeat(redis: Any = None, now: float | None = None) -> None:
    """Note that a beat-scheduled task just ran. Never raises: reminders matter more.

    Called from the reminders task (runs every REMINDER_INTERVAL_SECONDS), so a recent value
    means beat is scheduling and a worker is executing.
    """
    try:
        if redis is None:
            redis = current_app.extensions["redis"]
        redis.set(BEAT_HEARTBEAT_KEY, repr(now if now is not None else time.time()),
                  ex=24 * 3600)
    except Exception:
        log.warning("could not record beat heartbeat", exc_info=True)


def read_beat_heartbeat(redis: Any) -> datetime | None:
    """When the heartbeat was last recorded, or None if never (or expired)."""
    raw = redis.get(BEAT_HEARTBEAT_KEY)
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    return datetime.fromtimestamp(float(raw), UTC)


def init_app(app: Flask) -> None:
    """Register /healthz and /readyz (idempotent, so tests may wire an app twice)."""
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
