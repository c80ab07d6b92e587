"""Nothing confirmed is ever lost: real Celery worker processes killed with SIGKILL, Redis
emptied, and the recovery sweep — against a real database and the Twilio stand-in.

The chaos test drives the production path end to end: a confirmed plan is committed to
`executed_plans` and then queued (as `Conversation._confirm` does), separate `celery worker`
processes (prefork, acks_late) run it, and the result text goes through the real twilio client
to the loopback stand-in. Meanwhile whole workers (process groups) and single pool children are
killed with SIGKILL at random moments just after bursts of confirmations, and once the broker's
Redis database is emptied. The recovery sweep runs as beat would, only more often. Afterwards
every plan must be `executed` with each effect exactly once, and every result text must have
reached the stand-in exactly once — or be `unknown` (never more than once) and listed by
`flask ops unknown-sends`.

The harness (`Fleet`, `run_chaos`) is in tests/support/chaos.py, shared with `bench/chaos.py`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import func, select, update

from db import migrate
from db.models import Appointment, ClientInteraction, ExecutedPlan, Lead, LeadHistory, Message
from tests.support.chaos import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CHAOS_MAX_ATTEMPTS,
    CHAOS_REDIS_URL,
    GRACE_SECONDS,
    Fleet,
    app_settings,
    confirm_plan,
    run_chaos,
    run_sweep,
    seed_agent,
    worker_env,
)
from tests.support.databases import TemporarySchema
from tests.support.twilio_standin import TwilioStandIn
from webapp.app import create_app
from webapp.cli.ops import ops_cli
from webapp.database import get_db

# --- fixtures -----------------------------------------------------------------------------


def _redis_or_skip() -> Redis:
    redis = Redis.from_url(CHAOS_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        redis.ping()
    except Exception as exc:  # noqa: BLE001 (any reason Redis is not there)
        pytest.skip(f"chaos tests need Redis at {CHAOS_REDIS_URL}: {exc}")
    return redis


@pytest.fixture
def chaos_redis() -> Iterator[Redis]:
    redis = _redis_or_skip()
    redis.flushdb()
    yield redis
    redis.flushdb()
    redis.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def chaos_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database that worker processes can reach by URL."""
    if request.param == "sqlite":
        url = "sqlite:///" + str(tmp_path / "chaos.sqlite3")
        migrate.upgrade(url)
        yield url
        return
    base = request.getfixturevalue("postgres_base_url")
    with TemporarySchema(base, prefix="fl_chaos") as schema:
        migrate.upgrade(schema.url)
        yield schema.url


@pytest.fixture
def chaos_standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as standin:
        yield standin


@pytest.fixture
def chaos_env(chaos_database: str, chaos_standin: TwilioStandIn) -> dict[str, str]:
    return worker_env(chaos_database, chaos_standin.base_url, CHAOS_MAX_ATTEMPTS)


@pytest.fixture
def chaos_app(chaos_env: dict[str, str], chaos_redis: Redis) -> Iterator[Flask]:
    app = create_app(app_settings(chaos_env))
    app.extensions["celery"].set_current()
    app.cli.add_command(ops_cli)  # until webapp/cli registers it
    yield app
    get_db(app).dispose()


@pytest.fixture
def fleet(chaos_env: dict[str, str], tmp_path: Path) -> Iterator[Fleet]:
    """Two workers (not started); every process group is killed at the end, pass or fail.
    Their logs stay in `tmp_path` (worker0.log, worker1.log)."""
    workers = Fleet(chaos_env, tmp_path, size=2, concurrency=2)
    yield workers
    workers.stop()


# --- tests --------------------------------------------------------------------------------


@pytest.mark.integration
def test_sigkilled_workers_and_an_emptied_broker_lose_and_duplicate_nothing(
    chaos_app: Flask, fleet: Fleet, chaos_standin: TwilioStandIn, chaos_redis: Redis
) -> None:
    figures = run_chaos(chaos_app, fleet, chaos_standin, chaos_redis, rounds=12)
    print("\nchaos:", figures.line(), f"(worker logs in {fleet.log_dir})")

    assert figures.kills == 12 and figures.broker_wipes == 1
    assert figures.still_confirmed == 0, figures.problems
    assert figures.failed == 0, figures.problems
    assert figures.executed == figures.plans
    assert figures.duplicates == 0 and figures.missing_effects == 0, figures.problems
    assert figures.texts_twice == 0 and figures.texts_lost == 0, figures.problems
    assert figures.texts_sent + figures.texts_unknown == figures.plans
    assert not figures.problems, figures.problems

    # What the workers could not vouch for, an operator sees.
    listed = chaos_app.test_cli_runner().invoke(args=["ops", "unknown-sends"])
    assert listed.exit_code == 0, listed.output
    with get_db(chaos_app).session() as session:
        unknown = list(session.scalars(select(Message.id).where(Message.status == "unknown")))
    for message_id in unknown:
        assert f"\n{message_id}\t" in listed.output
    if not unknown:
        assert "No texts with an unknown outcome." in listed.output
    stuck = chaos_app.test_cli_runner().invoke(args=["ops", "plans", "--state", "confirmed",
                                                     "--check"])
    assert stuck.exit_code == 0 and "No confirmed plans." in stuck.output


@pytest.mark.integration
def test_a_plan_whose_task_never_reached_the_broker_is_run_by_the_sweep(
    chaos_app: Flask, fleet: Fleet, chaos_standin: TwilioStandIn, chaos_redis: Redis
) -> None:
    agent_id, lead_ids = seed_agent(chaos_app, 1)
    plan_id = confirm_plan(chaos_app, agent_id, lead_ids[0], 0)
    chaos_redis.flushdb()  # the task is gone before any worker saw it
    fleet.start(0)
    time.sleep(GRACE_SECONDS + 0.5)
    assert _state(chaos_app, plan_id) == "confirmed"  # nobody else will ever run it

    assert run_sweep(chaos_app, CHAOS_MAX_ATTEMPTS)["plans_requeued"] == 1
    _wait(lambda: _state(chaos_app, plan_id) == "executed" and chaos_standin.messages, 20)
    assert [m["Body"] for m in chaos_standin.messages] == [
        "✅ Done!\n• The status for Lead 000 has been updated from 'new' to 'contacted'.\n"
        "• Logged call with Lead 000: chaos plan 0.\n"
        f"• Follow-up with Lead 000 set: send contract 0 — {_follow_up_when(chaos_app, plan_id)}."
    ]
    with get_db(chaos_app).session() as session:
        assert session.scalar(select(func.count()).select_from(LeadHistory)) == 1
        assert session.scalar(select(func.count()).select_from(ClientInteraction)) == 1


@pytest.mark.integration
def test_a_plan_whose_runs_died_max_attempts_times_fails_and_the_agent_is_told_nothing_changed(
    chaos_database: str, chaos_standin: TwilioStandIn, chaos_redis: Redis, tmp_path: Path
) -> None:
    attempts = 3
    env = worker_env(chaos_database, chaos_standin.base_url, attempts)
    app = create_app(app_settings(env))
    app.extensions["celery"].set_current()
    app.cli.add_command(ops_cli)  # until webapp/cli registers it
    fleet = Fleet(env, tmp_path, size=1)
    try:
        agent_id, lead_ids = seed_agent(app, 1)
        plan_id = confirm_plan(app, agent_id, lead_ids[0], 0)
        chaos_redis.flushdb()
        # No worker: every sweep re-queues into the void, once per grace period; a plan that
        # never ran is never given up for that (MAX_PLAN_ATTEMPTS counts runs started).
        from workers.tasks import sweep_now

        with get_db(app).session() as session:
            confirmed_at = session.scalar(select(ExecutedPlan.confirmed_at))
        grace = timedelta(seconds=GRACE_SECONDS)
        results = []
        with app.app_context():
            for k in range(1, attempts + 3):
                results.append(sweep_now(grace, attempts, now=confirmed_at + grace * k
                                     + timedelta(milliseconds=10)))
        assert [r["plans_requeued"] for r in results] == [1] * (attempts + 2)
        assert [r["plans_failed"] for r in results] == [0] * (attempts + 2)
        assert _state(app, plan_id) == "confirmed"

        # Its runs then start and die (a worker SIGKILLed mid-plan each time): after the
        # last one the sweep gives up and tells the agent.
        with get_db(app).session() as session:
            session.execute(update(ExecutedPlan).where(ExecutedPlan.plan_id == plan_id)
                            .values(attempts=attempts, started_at=confirmed_at))
            session.commit()
        with app.app_context():
            late = sweep_now(grace, attempts, now=confirmed_at + timedelta(minutes=10))
        assert late["plans_failed"] == 1
        assert _state(app, plan_id) == "failed"

        # The queued run_plan copies, run late, change nothing; the agent gets one plain text.
        fleet.start(0)
        _wait(lambda: chaos_standin.messages, 20)
        time.sleep(1.0)  # the three stale run_plan tasks have run by now, as no-ops
        assert [m["Body"] for m in chaos_standin.messages] == [
            "❌ Sorry, I couldn't do that: it could not be completed in time. "
            "Nothing was changed."
        ]
        with get_db(app).session() as session:
            assert _state(app, plan_id) == "failed"
            for model in (LeadHistory, ClientInteraction, Appointment):
                assert session.scalar(select(func.count()).select_from(model)) == 0
            assert session.scalar(select(Lead.status)) == "new"
        listed = app.test_cli_runner().invoke(args=["ops", "plans", "--state", "failed"])
        assert plan_id in listed.output and "could not be completed in time" in listed.output
    finally:
        fleet.stop()
        get_db(app).dispose()


@pytest.mark.integration
def test_two_sweeps_at_once_run_a_lost_plan_once(
    chaos_app: Flask, fleet: Fleet, chaos_standin: TwilioStandIn, chaos_redis: Redis
) -> None:
    agent_id, lead_ids = seed_agent(chaos_app, 5)
    plan_ids = [confirm_plan(chaos_app, agent_id, lead_ids[n], n) for n in range(5)]
    chaos_redis.flushdb()
    fleet.start_all()
    time.sleep(GRACE_SECONDS + 0.5)
    beats = [threading.Thread(target=run_sweep, args=(chaos_app, CHAOS_MAX_ATTEMPTS))
             for _ in range(2)]
    for beat in beats:
        beat.start()
    for beat in beats:
        beat.join(timeout=30)
    _wait(lambda: all(_state(chaos_app, p) == "executed" for p in plan_ids)
          and len(chaos_standin.messages) >= 5, 20)
    time.sleep(1.0)
    assert len(chaos_standin.messages) == 5
    with get_db(chaos_app).session() as session:
        for model in (LeadHistory, ClientInteraction, Appointment):
            per_plan = session.execute(select(model.plan_id, func.count())
                                       .group_by(model.plan_id)).all()
            assert sorted(per_plan) == sorted((p, 1) for p in plan_ids)


def _state(app: Flask, plan_id: str) -> str | None:
    with get_db(app).session() as session:
        return session.scalar(select(ExecutedPlan.state).where(ExecutedPlan.plan_id == plan_id))


def _follow_up_when(app: Flask, plan_id: str) -> str:
    from zoneinfo import ZoneInfo

    from webapp.understanding.replies import format_due

    with get_db(app).session() as session:
        due = session.scalar(select(Appointment.due_at).where(Appointment.plan_id == plan_id))
    return format_due(due.astimezone(ZoneInfo("America/Chicago")))


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"not done within {timeout}s")


def test_giving_up_never_overrides_a_plan_that_ran_meanwhile(
    chaos_database: str, chaos_redis: Redis
) -> None:
    """The sweep picks a plan still `confirmed` after its last attempt, and only then calls
    `mark_failed`; a late task may have executed it in between. Then the plan must stay
    `executed`, with no "Nothing was changed" text contradicting what the CRM now holds."""
    from webapp.execution.plans import mark_failed, run_confirmed_plan

    app = create_app(app_settings(worker_env(chaos_database, "http://127.0.0.1:9", 1)))
    app.extensions["celery"].set_current()
    try:
        agent_id, lead_ids = seed_agent(app, 1)
        plan_id = confirm_plan(app, agent_id, lead_ids[0], 0)
        assert run_confirmed_plan(get_db(app), plan_id).state == "executed"

        mark_failed(get_db(app), plan_id, "it could not be completed in time")

        assert _state(app, plan_id) == "executed"
        with get_db(app).session() as session:
            bodies = list(session.scalars(select(Message.body)))
        assert len(bodies) == 1 and bodies[0].startswith("✅ Done!")
    finally:
        get_db(app).dispose()


def test_giving_up_while_the_last_attempt_is_committing_keeps_it_executed(
    chaos_database: str, chaos_redis: Redis
) -> None:
    """PostgreSQL, READ COMMITTED: `mark_failed` reads `confirmed` while a worker's claim is
    not yet committed, waits on the row lock, then writes `failed` over `executed`."""
    if not chaos_database.startswith("postgresql"):
        pytest.skip("SQLite serialises the two writers (the second one errors instead)")
    from sqlalchemy import update

    from webapp.execution.plans import mark_failed

    app = create_app(app_settings(worker_env(chaos_database, "http://127.0.0.1:9", 1)))
    app.extensions["celery"].set_current()
    try:
        agent_id, lead_ids = seed_agent(app, 1)
        plan_id = confirm_plan(app, agent_id, lead_ids[0], 0)
        worker = get_db(app).sessionmaker()
        worker.execute(update(ExecutedPlan).where(ExecutedPlan.plan_id == plan_id,
                                                  ExecutedPlan.state == "confirmed")
                       .values(state="executed"))  # the claim, effects still being written
        giving_up = threading.Thread(target=mark_failed, args=(get_db(app), plan_id, "late"))
        giving_up.start()
        time.sleep(0.5)  # mark_failed has read `confirmed` and waits on the row lock
        worker.commit()
        worker.close()
        giving_up.join(timeout=10)
        assert _state(app, plan_id) == "executed"
    finally:
        get_db(app).dispose()
