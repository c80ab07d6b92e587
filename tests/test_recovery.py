"""The recovery sweep's decisions (webapp/execution/recovery.py, webapp/outbound/messages.py):
a send cut off by a dead worker is looked up at Twilio before anything is decided; nothing
merely waiting is re-queued while the broker's queue is long; plans are given up only after
MAX_PLAN_ATTEMPTS runs a worker actually started.

Twilio is the stand-in, driven through the real twilio client; the broker is the test Redis.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from db.models import ExecutedPlan, Lead, Message, User
from db.session import Database
from tests.support.twilio_standin import TwilioStandIn
from webapp.database import get_db
from webapp.execution import handlers
from webapp.execution.plans import run_confirmed_plan
from webapp.execution.recovery import ATTEMPT_TIME_LIMIT, sweep
from webapp.outbound.delivery import current_sender, deliver
from webapp.outbound.messages import queue_text
from workers.tasks import sweep_now

GRACE = timedelta(seconds=60)
BODY = "✅ Done! The status for Sarah Smith has been updated from 'contacted' to 'qualified'."


# --- a send cut off by a dead worker ------------------------------------------------------------


@pytest.fixture
def on_standin(app: Flask, twilio_standin: TwilioStandIn) -> Flask:
    """The app as a deployment pointed at the stand-in (what the sweep's lookup uses)."""
    app.config.update(SMS_SENDER="twilio", TWILIO_API_BASE_URL=twilio_standin.base_url,
                      TWILIO_TIMEOUT=2)
    return app


def _queue(app: Flask, agent, body: str = BODY) -> int:
    with get_db(app).session() as session:
        message = queue_text(session, agent_id=agent.id, phone=agent.phone, body=body)
        session.commit()
        return message.id


def _set(app: Flask, message_id: int, **values) -> None:
    with get_db(app).session() as session:
        session.execute(update(Message).where(Message.id == message_id).values(**values))
        session.commit()


def _row(app: Flask, message_id: int) -> Message:
    with get_db(app).session() as session:
        return session.get_one(Message, message_id)


def _killed_mid_send(app: Flask, message_id: int, minutes_ago: int = 10) -> None:
    """What a worker killed between its claim and its outcome leaves: `sending`, no sid."""
    claimed = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    _set(app, message_id, status="sending", provider_sid=None, updated_at=claimed)


def _sweep(app: Flask) -> dict[str, int]:
    with app.app_context():
        return sweep_now(GRACE, 5)


def _deliver(app: Flask, message_id: int) -> str:
    return deliver(get_db(app), message_id, current_sender(app.config), config=app.config)


def test_a_send_killed_before_its_http_call_is_looked_up_then_sent_once(
        on_standin: Flask, agent, twilio_standin: TwilioStandIn) -> None:
    message_id = _queue(on_standin, agent)
    _killed_mid_send(on_standin, message_id)

    result = _sweep(on_standin)

    assert result["messages_requeued"] == 1
    assert _row(on_standin, message_id).status == "queued"  # it never reached Twilio
    assert [r.method for r in twilio_standin.requests] == ["GET"]  # looked up, To + From
    assert twilio_standin.requests[0].form["To"] == agent.phone
    assert _deliver(on_standin, message_id) == "sent"
    assert [m["Body"] for m in twilio_standin.messages] == [BODY]
    assert _row(on_standin, message_id).provider_sid == twilio_standin.messages[0].sid


def test_a_send_killed_after_twilio_accepted_it_is_recorded_not_sent_again(
        on_standin: Flask, agent, twilio_standin: TwilioStandIn) -> None:
    message_id = _queue(on_standin, agent)
    assert _deliver(on_standin, message_id) == "sent"
    accepted = twilio_standin.messages[0].sid
    _killed_mid_send(on_standin, message_id)  # as if the worker died before recording it

    result = _sweep(on_standin)

    assert result["messages_requeued"] == 0
    row = _row(on_standin, message_id)
    assert (row.status, row.provider_sid) == ("sent", accepted)
    assert len(twilio_standin.messages) == 1


def test_the_same_words_sent_for_another_row_are_not_taken_for_the_stuck_one(
        on_standin: Flask, agent, twilio_standin: TwilioStandIn) -> None:
    earlier = _queue(on_standin, agent)
    assert _deliver(on_standin, earlier) == "sent"
    stuck = _queue(on_standin, agent)  # the same text again (e.g. a second identical result)
    _killed_mid_send(on_standin, stuck)

    assert _sweep(on_standin)["messages_requeued"] == 1
    assert _deliver(on_standin, stuck) == "sent"
    assert len(twilio_standin.messages) == 2
    assert _row(on_standin, stuck).provider_sid != _row(on_standin, earlier).provider_sid


def test_another_text_to_the_same_number_is_not_taken_for_it(
        on_standin: Flask, agent, twilio_standin: TwilioStandIn) -> None:
    other = _queue(on_standin, agent, body="⏰ Follow up with John Doe: send the contract.")
    assert _deliver(on_standin, other) == "sent"
    _set(on_standin, other, provider_sid=None)  # even one we do not know the sid of
    stuck = _queue(on_standin, agent)
    _killed_mid_send(on_standin, stuck)

    assert _sweep(on_standin)["messages_requeued"] == 1


def test_when_twilio_cannot_be_asked_the_send_waits_then_ends_unknown(
        on_standin: Flask, agent, twilio_standin: TwilioStandIn) -> None:
    message_id = _queue(on_standin, agent)
    _killed_mid_send(on_standin, message_id)
    twilio_standin.fail_next(500, times=2)

    assert _sweep(on_standin)["messages_requeued"] == 0
    assert _row(on_standin, message_id).status == "sending"  # asked again at the next sweep

    _set(on_standin, message_id, created_at=datetime.now(UTC) - timedelta(hours=2),
         updated_at=_row(on_standin, message_id).updated_at)
    _sweep(on_standin)
    row = _row(on_standin, message_id)
    assert (row.status, row.error_code) == ("unknown", "lookup_failed")
    assert twilio_standin.messages == []


# --- a long queue ----------------------------------------------------------------------------


def _confirmed_plan(db: Database, agent_id: int, confirmed_at: datetime,
                    **values) -> str:
    with db.session() as session:
        lead = session.scalar(select(Lead).where(Lead.agent_id == agent_id))
        plan_id = f"plan-{confirmed_at.timestamp():.0f}-{len(values)}"
        session.add(ExecutedPlan(
            plan_id=plan_id, agent_id=agent_id, channel="sms", state="confirmed",
            confirmed_at=confirmed_at, plan={"actions": [
                {"type": "update_status", "lead_id": lead.id, "status": "qualified"}],
                "summary": "Mark as qualified"}, **values))
        session.commit()
    return plan_id


def _plan(db: Database, plan_id: str) -> ExecutedPlan:
    with db.session() as session:
        return session.scalar(select(ExecutedPlan).where(ExecutedPlan.plan_id == plan_id))


@pytest.fixture
def book(db: Database) -> int:
    with db.session() as session:
        agent = User(name="Alex Rivera", phone="+13125550100", timezone="America/Chicago")
        session.add(agent)
        session.flush()
        session.add(Lead(agent_id=agent.id, name="Sarah Smith", status="contacted"))
        session.commit()
        return agent.id


def _sweeper(db: Database, depth: int | None = None):
    queued: list[str] = []

    def run(now: datetime, max_attempts: int = 5) -> dict[str, int]:
        return sweep(db, GRACE, max_attempts, run_plan=lambda p: queued.append(p) or True,
                     send_message=lambda m: True, now=now, queue_depth=lambda: depth,
                     max_queue_depth=100)

    run.queued = queued  # type: ignore[attr-defined]
    return run


def test_nothing_merely_waiting_is_requeued_while_the_broker_queue_is_long(db, book) -> None:
    confirmed = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    plan_id = _confirmed_plan(db, book, confirmed)
    busy, idle = _sweeper(db, depth=500), _sweeper(db, depth=3)

    result = busy(confirmed + GRACE * 3)
    assert (result["plans_requeued"], result["skipped_busy_queue"]) == (0, 1)
    assert busy.queued == [] and _plan(db, plan_id).requeues == 0

    assert idle(confirmed + GRACE * 3)["plans_requeued"] == 1
    assert idle.queued == [plan_id]


def test_the_real_sweep_reads_the_brokers_queue_depth(app: Flask, agent) -> None:
    """sweep_now asks Redis how many tasks wait (LLEN of Celery's queue)."""
    plan_id = _confirmed_plan(get_db(app), agent.id, datetime.now(UTC) - GRACE * 3)
    redis = app.extensions["redis"]
    redis.rpush("celery", *["a waiting task"] * 150)
    try:
        with app.app_context():
            result = sweep_now(GRACE, 5)
    finally:
        redis.delete("celery")
    assert result["skipped_busy_queue"] == 1 and result["plans_requeued"] == 0
    assert _plan(get_db(app), plan_id).requeues == 0


# --- attempts a worker started, not re-queues ------------------------------------------------


def test_a_plan_that_only_waited_is_never_given_up(db, book) -> None:
    """MAX_PLAN_ATTEMPTS counted re-queues: a plan waiting behind a long queue was failed,
    and the agent told nothing changed, though no worker had ever tried it."""
    confirmed = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    plan_id = _confirmed_plan(db, book, confirmed)
    run = _sweeper(db)

    results = [run(confirmed + GRACE * k + timedelta(seconds=1)) for k in range(1, 9)]

    assert [r["plans_requeued"] for r in results] == [1] * 8
    assert sum(r["plans_failed"] for r in results) == 0
    plan = _plan(db, plan_id)
    assert (plan.state, plan.requeues, plan.attempts) == ("confirmed", 8, 0)


def test_runs_that_died_count_and_the_plan_is_given_up_after_max_attempts(
        db, book, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed mid-transaction rolls its claim back; its attempt must still count."""
    confirmed = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    plan_id = _confirmed_plan(db, book, confirmed)

    def dies(run, action):
        raise OperationalError("UPDATE leads", {}, Exception("server closed the connection"))

    monkeypatch.setattr(handlers.handler_for("update_status"), "apply", dies)
    for k in range(3):
        with pytest.raises(OperationalError):
            run_confirmed_plan(db, plan_id, now=confirmed + GRACE * (k + 1))
    plan = _plan(db, plan_id)
    assert (plan.state, plan.attempts) == ("confirmed", 3)

    result = _sweeper(db)(confirmed + GRACE * 3 + ATTEMPT_TIME_LIMIT + GRACE, max_attempts=3)

    assert result["plans_failed"] == 1
    assert _plan(db, plan_id).state == "failed"


def test_the_last_run_still_going_is_not_given_up(db, book) -> None:
    confirmed = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    now = confirmed + GRACE * 10
    plan_id = _confirmed_plan(db, book, confirmed, attempts=3, started_at=now - GRACE)
    run = _sweeper(db)

    assert run(now, max_attempts=3)["plans_failed"] == 0
    assert _plan(db, plan_id).state == "confirmed"
    assert run(now + ATTEMPT_TIME_LIMIT, max_attempts=3)["plans_failed"] == 1


def test_a_plan_whose_worker_died_mid_run_is_requeued_at_once(db, book) -> None:
    """Its run started seconds ago and its worker was SIGKILLed: only the sweep will run it."""
    confirmed = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    now = confirmed + GRACE * 2
    plan_id = _confirmed_plan(db, book, confirmed, attempts=1, started_at=now - GRACE / 4)
    run = _sweeper(db)

    assert run(now)["plans_requeued"] == 1
    assert run.queued == [plan_id]


def test_a_plan_that_runs_counts_one_attempt(db, book) -> None:
    confirmed = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    plan_id = _confirmed_plan(db, book, confirmed)

    assert run_confirmed_plan(db, plan_id, now=confirmed).state == "executed"
    assert run_confirmed_plan(db, plan_id, now=confirmed).state == "already_done"

    plan = _plan(db, plan_id)
    assert (plan.state, plan.attempts, plan.started_at) == ("executed", 1, confirmed)
