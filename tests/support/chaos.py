"""The chaos harness shared by tests/system/test_chaos.py and bench/chaos.py: separate `celery
worker` processes (a `Fleet`) killed with SIGKILL while confirmed plans run, the broker emptied,
the recovery sweep run as beat would, and the figures counted from the database and the stand-in.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from db.models import (
    Appointment,
    ClientInteraction,
    ExecutedPlan,
    Lead,
    LeadHistory,
    Message,
    User,
)
from tests.support.service_processes import BIN, ProcessGroups, restart_redis_empty
from tests.support.twilio_standin import TwilioStandIn
from webapp.database import get_db
from webapp.understanding.plan import (
    LogInteraction,
    ScheduleFollowUp,
    UpdateStatus,
    action_to_dict,
)
from workers.tasks import enqueue_run_plan, sweep_now

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

    def start(self, index: int) -> None:
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

    def alive(self, index: int) -> bool:
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

    def logs(self, tail: int = 4000) -> str:
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
    with app.app_context():
        try:
            return sweep_now(timedelta(seconds=GRACE_SECONDS), max_attempts)
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
