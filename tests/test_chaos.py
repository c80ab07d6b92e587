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

The harness (`Fleet`, `run_chaos`) is shared with `bench/chaos.py`, the longer run.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from db import migrate
from db.models import (
    Appointment,
    ClientInteraction,
    ExecutedPlan,
    Lead,
    LeadHistory,
    Message,
    User,
)
from tests.databases import TemporarySchema
from tests.service_processes import BIN, ProcessGroups, restart_redis_empty
from tests.twilio_standin import TwilioStandIn
from webapp import create_app, get_db
from webapp.cli.ops import ops_cli
from webapp.understanding.plan import (
    LogInteraction,
    ScheduleFollowUp,
    UpdateStatus,
    action_to_dict,
)

# A Redis database of its own: the test empties it, so it must be nobody else's.
CHAOS_REDIS_URL = os.environ.get("CHAOS_REDIS_URL", "redis://localhost:6379/7")
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"
ASSISTANT_NUMBER = "+13125550000"
AGENT_PHONE = "+13125550100"
GRACE_SECONDS = 2
# Enough attempts that a plan is never given up on during the run: giving up is tested apart.
CHAOS_MAX_ATTEMPTS = 40


# --- worker processes ---------------------------------------------------------------------


class Fleet(ProcessGroups):
    """Real `celery worker` processes `worker0`..`worker<size-1>`, each the leader of its own
    process group (see tests/service_processes.py), restarted under a new node name each time."""

    def __init__(self, env: dict[str, str], log_dir: Path, size: int = 2,
                 concurrency: int = 2) -> None:
        super().__init__({**os.environ, **env}, log_dir)
        self.size = size
        self.concurrency = concurrency
        self.generation = 0

    def start(self, index: int) -> None:  # type: ignore[override]
        self.generation += 1
        super().start(f"worker{index}", [
            str(BIN / "celery"), "-A", "workers", "worker", "--pool", "prefork",
            "--concurrency", str(self.concurrency), "-Q", "celery",
            "--loglevel", "WARNING", "-n", f"chaos{index}-{self.generation}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ])

    def start_all(self) -> None:
        for index in range(self.size):
            if not self.alive(index):
                self.start(index)

    def alive(self, index: int) -> bool:  # type: ignore[override]
        return super().alive(f"worker{index}")

    def kill(self, index: int) -> None:
        """SIGKILL the whole worker: main process and pool children."""
        self.kill_group(f"worker{index}")
        self.procs.pop(f"worker{index}", None)

    def kill_child(self, index: int) -> bool:
        """SIGKILL one pool child (the main process sees WorkerLostError and replaces it)."""
        children = self.pool_children(f"worker{index}")
        if not children:
            return False
        try:
            os.kill(random.choice(children), signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        for index in range(self.size):
            self.kill(index)

    def logs(self, tail: int = 4000) -> str:  # type: ignore[override]
        return super().logs(tail, "worker*.log")


def worker_env(database_url: str, twilio_url: str, max_attempts: int) -> dict[str, str]:
    """The environment of a worker process; `app_settings` is the same for the test's app."""
    return {
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": CHAOS_REDIS_URL,
        "CELERY_BROKER_URL": "",
        "TWILIO_API_BASE_URL": twilio_url,
        "SMS_SENDER": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": ASSISTANT_NUMBER,
        "TWILIO_TIMEOUT": "5",
        "PUBLIC_BASE_URL": "",
        "RECOVERY_GRACE_SECONDS": str(GRACE_SECONDS),
        "MAX_PLAN_ATTEMPTS": str(max_attempts),
        "PYTHONUNBUFFERED": "1",
    }


def app_settings(env: dict[str, str]) -> dict:
    return {
        **env,
        "TESTING": True,
        "CELERY_BROKER_URL": None,
        "TWILIO_TIMEOUT": float(env["TWILIO_TIMEOUT"]),
        "RECOVERY_GRACE_SECONDS": int(env["RECOVERY_GRACE_SECONDS"]),
        "MAX_PLAN_ATTEMPTS": int(env["MAX_PLAN_ATTEMPTS"]),
    }


# --- plans, as the conversation confirms them ---------------------------------------------


def seed_agent(app: Flask, leads: int) -> tuple[int, list[int]]:
    """One agent with `leads` leads, all `new`: each plan gets a lead of its own, so every
    effect (history row, interaction, follow-up) is attributable to exactly one plan."""
    with get_db(app).session() as session:
        agent = User(name="Alex Rivera", phone=AGENT_PHONE, timezone="America/Chicago")
        session.add(agent)
        session.flush()
        rows = [Lead(agent_id=agent.id, name=f"Lead {n:03d}", phone=f"+1312555{n:04d}",
                     status="new") for n in range(leads)]
        session.add_all(rows)
        session.commit()
        return agent.id, [row.id for row in rows]


def confirm_plan(app: Flask, agent_id: int, lead_id: int, number: int) -> str:
    """What a YES does: commit the `confirmed` row, then queue the task (a failed publish is
    fine — the row is there for the sweep)."""
    from workers.tasks import enqueue_run_plan

    name = f"Lead {number:03d}"
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    actions = [
        UpdateStatus(lead_id=lead_id, lead=name, status="contacted", old_status="new"),
        LogInteraction(lead_id=lead_id, lead=name, interaction_type="call",
                       note=f"chaos plan {number}"),
        ScheduleFollowUp(lead_id=lead_id, lead=name, due_at=due, title=f"send contract {number}"),
    ]
    plan_id = f"chaos{number:04d}{os.urandom(4).hex()}"
    with get_db(app).session() as session:
        session.add(ExecutedPlan(plan_id=plan_id, agent_id=agent_id, channel="sms",
                                 state="confirmed",
                                 plan={"actions": [action_to_dict(a) for a in actions],
                                       "summary": f"chaos plan {number}"}))
        session.commit()
    enqueue_run_plan(plan_id)
    return plan_id


def run_sweep(app: Flask, max_attempts: int) -> dict[str, int]:
    """One beat tick of the recovery sweep, from this process."""
    from workers.tasks import sweep

    with app.app_context():
        try:
            return sweep(timedelta(seconds=GRACE_SECONDS), max_attempts)
        except OperationalError:  # SQLite busy under load: the next tick tries again
            return {}


def outstanding(app: Flask) -> tuple[int, int]:
    """(plans still confirmed, texts still queued or sending)."""
    with get_db(app).session() as session:
        plans = session.scalar(select(func.count()).select_from(ExecutedPlan)
                               .where(ExecutedPlan.state == "confirmed"))
        texts = session.scalar(select(func.count()).select_from(Message).where(
            Message.direction == "outbound", Message.status.in_(("queued", "sending"))))
    return plans or 0, texts or 0


# --- the run ------------------------------------------------------------------------------


@dataclass
class Figures:
    kills: int = 0
    child_kills: int = 0
    broker_wipes: int = 0
    plans: int = 0
    executed: int = 0
    failed: int = 0
    still_confirmed: int = 0
    duplicates: int = 0  # plans with any effect more than once
    missing_effects: int = 0  # executed plans without all their effects
    texts_sent: int = 0
    texts_unknown: int = 0
    texts_lost: int = 0  # result texts neither sent nor unknown (or no row at all)
    texts_twice: int = 0  # stand-in got the same result text more than once
    unknown_received: int = 0  # unknown texts that did reach the stand-in
    longest_seconds: float = 0.0  # confirmation to execution
    latencies: list[float] = field(default_factory=list)
    attempts: Counter = field(default_factory=Counter)  # plans by attempts when they ended
    sweeps: int = 0
    drain_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"kills={self.kills} (pool children {self.child_kills}), broker wipes="
            f"{self.broker_wipes}; plans={self.plans} executed={self.executed} "
            f"failed={self.failed} lost={self.still_confirmed} duplicates={self.duplicates} "
            f"missing effects={self.missing_effects}; texts sent={self.texts_sent} "
            f"unknown={self.texts_unknown} (of which reached Twilio {self.unknown_received}) "
            f"lost={self.texts_lost} twice={self.texts_twice}; longest confirm→executed="
            f"{self.longest_seconds:.1f}s; attempts {dict(sorted(self.attempts.items()))}; "
            f"drain={self.drain_seconds:.1f}s, sweeps={self.sweeps}"
        )


def run_chaos(
    app: Flask,
    fleet: Fleet,
    standin: TwilioStandIn,
    redis: Redis,
    *,
    rounds: int = 12,
    burst: tuple[int, int] = (3, 6),
    round_seconds: float = 1.2,
    drain_timeout: float = 40.0,
    max_attempts: int = CHAOS_MAX_ATTEMPTS,
    steady_rate: float = 0.0,
    seed: int | None = None,
) -> Figures:
    """Confirm bursts of plans, SIGKILL a worker (or a pool child) just after each burst,
    wipe the broker once half-way, sweep every second; then restart everything and sweep until
    nothing is outstanding; then count. `steady_rate` adds plans per second in between, so
    faults also land on a queue that is never idle."""
    rng = random.Random(seed)
    figures = Figures()
    steady = int(steady_rate * rounds * (round_seconds + 0.3)) + 5
    agent_id, lead_ids = seed_agent(app, rounds * burst[1] + steady + 5)
    plan_ids: list[str] = []
    restart_at: dict[int, float] = {}
    next_sweep = time.monotonic() + 1.0
    next_steady = time.monotonic() + (1.0 / steady_rate if steady_rate else float("inf"))

    def confirm_next() -> None:
        number = len(plan_ids)
        if number < len(lead_ids):
            plan_ids.append(confirm_plan(app, agent_id, lead_ids[number], number))
    fleet.start_all()
    time.sleep(2.5)  # let the first workers come up, so the first kills hit running tasks

    def tick(until: float) -> None:
        """Sleep until `until`, meanwhile restarting killed workers and sweeping on time."""
        nonlocal next_sweep, next_steady
        while True:
            now = time.monotonic()
            if now >= next_steady and until - now > 0.0:
                confirm_next()
                next_steady = now + rng.expovariate(steady_rate)
            for index, when in list(restart_at.items()):
                if now >= when:
                    fleet.start(index)
                    del restart_at[index]
            if now >= next_sweep:
                run_sweep(app, max_attempts)
                figures.sweeps += 1
                next_sweep = now + 1.0
            if now >= until:
                return
            time.sleep(min(0.05, until - now))

    wipe_round = rounds // 2
    for round_number in range(rounds):
        for _ in range(rng.randint(*burst)):
            confirm_next()
        tick(time.monotonic() + rng.uniform(0.0, 0.25))
        if round_number == wipe_round:
            restart_redis_empty(redis)
            figures.broker_wipes += 1
        index = rng.randrange(fleet.size)
        if rng.random() < 0.35 and fleet.kill_child(index):
            figures.child_kills += 1
        elif fleet.alive(index):
            fleet.kill(index)
            restart_at[index] = time.monotonic() + rng.uniform(0.1, 2.0)
        else:
            # Already down: take the other one too, so for a moment no worker runs at all.
            other = (index + 1) % fleet.size
            if fleet.alive(other):
                fleet.kill(other)
                restart_at[other] = time.monotonic() + rng.uniform(0.5, 2.5)
                index = other
            else:
                restart_at.setdefault(index, time.monotonic())
        figures.kills += 1
        tick(time.monotonic() + round_seconds)

    # Drain: every worker back, the sweep as beat would run it, until nothing is outstanding.
    next_steady = float("inf")
    started = time.monotonic()
    restart_at.clear()
    fleet.start_all()
    deadline = started + drain_timeout
    while time.monotonic() < deadline:
        tick(time.monotonic() + 0.5)
        if outstanding(app) == (0, 0):
            break
    figures.drain_seconds = time.monotonic() - started
    time.sleep(0.3)  # a send that just finished has already reached the stand-in
    count(app, standin, plan_ids, figures)
    return figures


def count(app: Flask, standin: TwilioStandIn, plan_ids: list[str], figures: Figures) -> None:
    """Fill `figures` from the database and the stand-in: one row per effect per plan, one
    result text per plan, received by Twilio at most once."""
    received = Counter(message["Body"] for message in list(standin.messages))
    received_sids = {message.sid for message in list(standin.messages)}
    figures.plans = len(plan_ids)
    with get_db(app).session() as session:
        plans = {row.plan_id: row for row in session.scalars(
            select(ExecutedPlan).where(ExecutedPlan.plan_id.in_(plan_ids)))}
        effects: dict[str, Counter] = {}
        for model in (LeadHistory, ClientInteraction, Appointment):
            for plan_id, n in session.execute(
                select(model.plan_id, func.count()).where(model.plan_id.in_(plan_ids))
                .group_by(model.plan_id)
            ):
                effects.setdefault(plan_id, Counter())[model.__tablename__] = n
        texts: dict[str, list[Message]] = {}
        for message in session.scalars(select(Message).where(
                Message.direction == "outbound", Message.plan_id.in_(plan_ids))):
            texts.setdefault(message.plan_id, []).append(message)

    for plan_id in plan_ids:
        row = plans.get(plan_id)
        if row is None or row.state == "confirmed":
            figures.still_confirmed += 1
            figures.problems.append(f"{plan_id}: never executed")
            continue
        per_table = effects.get(plan_id, Counter())
        figures.attempts[row.attempts] += 1
        if row.state == "executed":
            figures.executed += 1
            latency = (row.executed_at - row.confirmed_at).total_seconds()
            figures.latencies.append(latency)
            figures.longest_seconds = max(figures.longest_seconds, latency)
            if any(n > 1 for n in per_table.values()):
                figures.duplicates += 1
                figures.problems.append(f"{plan_id}: effects {dict(per_table)}")
            elif sorted(per_table) != ["appointments", "client_interactions", "lead_history"]:
                figures.missing_effects += 1
                figures.problems.append(f"{plan_id}: effects {dict(per_table)}")
        else:
            figures.failed += 1
            if per_table:
                figures.problems.append(f"{plan_id}: failed but has effects {dict(per_table)}")
        rows = texts.get(plan_id, [])
        if len(rows) != 1:
            figures.problems.append(f"{plan_id}: {len(rows)} result text rows")
        for message in rows:
            copies = received[message.body]
            if copies > 1:
                figures.texts_twice += 1
                figures.problems.append(f"{plan_id}: text received {copies} times")
            if message.status == "sent":
                figures.texts_sent += 1
                if copies != 1 or message.provider_sid not in received_sids:
                    figures.texts_lost += 1
                    figures.problems.append(f"{plan_id}: 'sent' but stand-in has {copies}")
            elif message.status == "unknown":
                figures.texts_unknown += 1
                figures.unknown_received += copies
            else:
                figures.texts_lost += 1
                figures.problems.append(f"{plan_id}: text left {message.status}")
        if not rows:
            figures.texts_lost += 1


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
def test_a_plan_never_run_in_max_attempts_fails_and_the_agent_is_told_nothing_changed(
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
        # No worker: every sweep re-queues into the void, once per grace period, then gives up.
        from workers.tasks import sweep

        with get_db(app).session() as session:
            confirmed_at = session.scalar(select(ExecutedPlan.confirmed_at))
        grace = timedelta(seconds=GRACE_SECONDS)
        results = []
        with app.app_context():
            for k in range(1, attempts + 3):
                results.append(sweep(grace, attempts, now=confirmed_at + grace * k
                                     + timedelta(milliseconds=10)))
        assert [r["plans_requeued"] for r in results] == [1, 1, 1, 0, 0]
        assert [r["plans_failed"] for r in results] == [0, 0, 0, 1, 0]
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

    from workers.plan_execution import _when

    with get_db(app).session() as session:
        due = session.scalar(select(Appointment.due_at).where(Appointment.plan_id == plan_id))
    return _when(due.isoformat(), ZoneInfo("America/Chicago"))


def _wait(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
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
    from workers.plan_execution import mark_failed, run_confirmed_plan

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

    from workers.plan_execution import mark_failed

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
