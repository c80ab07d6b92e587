"""A real `celery worker`, started exactly as `scripts/run` starts it (Procfile.dev), keeps
consuming after the Redis under it restarts empty (issue 20, item 11).

With Celery's gossip and mingle on, a Redis restart killed the dev worker outright
("Unrecoverable error"), and honcho then stopped the whole stack with it. Every way the project
starts a worker now says `--without-mingle --without-gossip`, as production always did.

The Redis here is a private redis-server on a free port, killed with SIGKILL and started again
empty (tests/support/service_processes.PrivateRedis): the machine's shared Redis, which other
test runs use, is never restarted.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from db import migrate
from db.models import ExecutedPlan
from tests.support.chaos import confirm_plan, seed_agent
from tests.support.service_processes import (
    REPO,
    PrivateRedis,
    ProcessGroups,
    service_env,
)
from tests.support.settings import TEST_SETTINGS
from tests.support.twilio_standin import TwilioStandIn
from webapp.app import create_app
from webapp.database import get_db
from workers.tasks import enqueue_run_plan

PRODUCTION_FLAGS = ("--without-mingle", "--without-gossip")


def _procfile_command(path: Path, process: str) -> str:
    for line in path.read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise AssertionError(f"no {process!r} in {path}")


def test_every_way_of_starting_a_worker_turns_off_mingle_and_gossip() -> None:
    commands = {
        "Procfile.dev (scripts/run)": _procfile_command(REPO / "Procfile.dev", "worker"),
        "Procfile": _procfile_command(REPO / "Procfile", "worker"),
        "systemd": (REPO / "deploy/systemd/fieldline-worker@.service").read_text(),
    }
    for source in ("tests/support/chaos.py", "tests/system/test_scale_out.py",
                   "bench/capacity.py", "bench/chaos.py", "bench/reminders_bench.py"):
        text = (REPO / source).read_text()
        assert '"worker"' in text, source
        commands[source] = text
    for source, command in commands.items():
        for flag in PRODUCTION_FLAGS:
            assert flag in command, f"{source} starts a worker without {flag}"


def _state(app, plan_id: str) -> str | None:
    with get_db(app).session() as session:
        return session.scalar(select(ExecutedPlan.state).where(ExecutedPlan.plan_id == plan_id))


def _run_through_the_worker(app, plan_id: str, processes: ProcessGroups,
                            timeout: float = 60.0) -> None:
    """Wait until the worker has executed `plan_id`, publishing its task again every few
    seconds (a publish right after a restart may find the old connection dead; the plan's
    claim makes the extra copies harmless)."""
    deadline = time.monotonic() + timeout
    next_publish = 0.0
    while _state(app, plan_id) != "executed":
        assert processes.alive("worker"), "the worker died:\n" + processes.logs()
        if time.monotonic() > deadline:
            raise AssertionError(f"plan not run within {timeout}s:\n" + processes.logs())
        if time.monotonic() >= next_publish:
            with app.app_context():
                enqueue_run_plan(plan_id)
            next_publish = time.monotonic() + 3
        time.sleep(0.2)


def _wait_until(predicate, processes: ProcessGroups, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("not within the time:\n" + processes.logs())
        time.sleep(0.05)


@pytest.mark.integration
def test_a_dev_worker_keeps_consuming_after_redis_restarts_under_it(
        tmp_path: Path, twilio_standin: TwilioStandIn) -> None:
    redis = PrivateRedis(tmp_path)
    redis.start()
    database_url = "sqlite:///" + str(tmp_path / "worker.sqlite3")
    migrate.upgrade(database_url)
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    env = service_env(database_url, redis.url, twilio_standin,
                      TEST_SETTINGS["TWILIO_PHONE_NUMBER"], metrics, LOG_LEVEL="INFO")
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url, "REDIS_URL": redis.url,
                      "SMS_SENDER": "twilio", "TWILIO_API_BASE_URL": twilio_standin.base_url})
    app.extensions["celery"].set_current()
    processes = ProcessGroups(env, tmp_path)
    try:
        agent_id, lead_ids = seed_agent(app, 3)
        command = _procfile_command(REPO / "Procfile.dev", "worker")
        processes.start("worker", ["bash", "-c", f"exec {command}"])

        for number in (0, 1):  # twice: Redis restarts empty while a task is running
            # The plan's result text then waits 3 s on Twilio: its send_message task is
            # running, unacknowledged (acks_late), when Redis goes away under it.
            twilio_standin.hang_next(3.0)
            sent_before = len(twilio_standin.requests)
            plan_id = confirm_plan(app, agent_id, lead_ids[number], number)
            _run_through_the_worker(app, plan_id, processes)
            _wait_until(lambda n=sent_before: len(twilio_standin.requests) > n, processes)
            redis.restart()
            time.sleep(1.0)

        last = confirm_plan(app, agent_id, lead_ids[2], 2)
        _run_through_the_worker(app, last, processes)
        # Every result text went out once (the ones sent during a restart included).
        _wait_until(lambda: len(twilio_standin.messages) >= 3, processes)

        assert processes.alive("worker")
        log = processes.logs(tail=200_000)
        assert not re.search(r"Unrecoverable error", log), log[-3000:]
    finally:
        processes.stop_all()
        redis.stop()
        get_db(app).dispose()
