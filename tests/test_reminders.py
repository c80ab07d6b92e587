"""Follow-up reminders, the morning agenda and DONE/SNOOZE: never twice, never lost."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from db.models import Appointment, DailyAgenda, Lead, Message, User
from tests.support.waiting import wait_for
from webapp.conversation.reminder_answers import mark_done, snooze
from webapp.database import get_db
from webapp.execution.reminder_dispatch import (
    ReminderRules,
    dispatch_daily_agendas,
    dispatch_due_reminders,
)

CHICAGO = ZoneInfo("America/Chicago")
RULES = ReminderRules()


def _local(*args: int, zone: ZoneInfo = CHICAGO) -> datetime:
    return datetime(*args, tzinfo=zone)


def _follow_up(app, agent, due_at: datetime, title: str = "send the contract",
               lead_name: str = "John Doe") -> int:
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.agent_id == agent.id,
                                                 Lead.name == lead_name))
        appointment = Appointment(lead_id=lead.id, agent_id=agent.id, title=title, due_at=due_at)
        session.add(appointment)
        session.commit()
        return appointment.id


def _texts(app) -> list[Message]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Message).where(Message.direction == "outbound")
                                    .order_by(Message.id)))


def _appointment(app, appointment_id: int) -> Appointment:
    with get_db(app).session() as session:
        return session.get(Appointment, appointment_id)


def test_a_due_follow_up_gets_one_reminder_text(app, agent) -> None:
    _follow_up(app, agent, _local(2026, 3, 6, 10, 0))
    now = _local(2026, 3, 6, 10, 0, 20).astimezone(UTC)
    ids = dispatch_due_reminders(get_db(app), now, RULES)
    assert len(ids) == 1
    [text] = _texts(app)
    assert text.body == ("⏰ Follow up with John Doe (+1 312-555-0123): send the contract. "
                         "Reply DONE, or SNOOZE 1h / SNOOZE tomorrow.")
    assert text.status == "queued" and text.phone == agent.phone
    assert dispatch_due_reminders(get_db(app), now + timedelta(seconds=30), RULES) == []
    assert len(_texts(app)) == 1


def test_nothing_is_sent_before_it_is_due(app, agent) -> None:
    _follow_up(app, agent, _local(2026, 3, 6, 10, 0))
    assert dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 9, 59), RULES) == []


def test_concurrent_dispatchers_send_each_reminder_once(app, agent) -> None:
    for minute in range(10):
        _follow_up(app, agent, _local(2026, 3, 6, 10, minute), title=f"task {minute}")
    now = _local(2026, 3, 6, 11, 0).astimezone(UTC)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(dispatch_due_reminders(get_db(app), now, RULES))
        except BaseException as exc:  # a lock error would be a failure of the design
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(len(r) for r in results) == 10
    bodies = [m.body for m in _texts(app)]
    assert len(bodies) == 10
    assert len({b.split(":")[1] for b in bodies}) == 10  # each task once


def test_several_outstanding_reminders_are_numbered(app, agent) -> None:
    _follow_up(app, agent, _local(2026, 3, 6, 10, 0), title="send the contract")
    _follow_up(app, agent, _local(2026, 3, 6, 10, 0), title="call about the offer",
               lead_name="Dana Cole")
    dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 10, 1), RULES)
    bodies = [m.body for m in _texts(app)]
    assert any(b.startswith("⏰ #1 ") for b in bodies)
    assert any(b.startswith("⏰ #2 ") and "DONE 2" in b for b in bodies)


def test_opted_out_agents_get_no_reminders(app, agent) -> None:
    with get_db(app).session() as session:
        session.get(User, agent.id).opted_out = True
        session.commit()
    appointment_id = _follow_up(app, agent, _local(2026, 3, 6, 10, 0))
    assert dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 10, 5), RULES) == []
    assert _texts(app) == []
    assert _appointment(app, appointment_id).reminded_at is None


def _due_for_dispatch(app, now: datetime) -> int:
    """Rows the dispatcher's query can still read (its partial index: scheduled, not reminded,
    not parked) that are due at `now`."""
    with get_db(app).session() as session:
        return len(session.scalars(select(Appointment.id).where(
            Appointment.state == "scheduled", Appointment.reminded_at.is_(None),
            Appointment.parked_at.is_(None), Appointment.due_at <= now)).all())


def test_due_follow_ups_of_an_opted_out_agent_are_parked_not_read_again(app, agent) -> None:
    """They used to stay in the dispatcher's way, read and skipped by every dispatch."""
    with get_db(app).session() as session:
        session.get(User, agent.id).opted_out = True
        session.commit()
    ids = [_follow_up(app, agent, _local(2026, 3, 6, 10, minute)) for minute in range(3)]
    later = _follow_up(app, agent, _local(2026, 3, 7, 10, 0))
    now = _local(2026, 3, 6, 10, 5).astimezone(UTC)

    assert dispatch_due_reminders(get_db(app), now, RULES) == []

    assert _due_for_dispatch(app, now) == 0
    assert all(_appointment(app, i).parked_at == now for i in ids)
    assert _appointment(app, later).parked_at is None  # not due yet: left alone
    assert all(_appointment(app, i).reminded_at is None for i in ids)
    assert _texts(app) == []


def test_start_brings_parked_follow_ups_back_and_they_are_reminded(app, agent, phone) -> None:
    assert "unsubscribed" in phone.text("STOP").lower()
    due = _follow_up(app, agent, datetime.now(UTC) - timedelta(minutes=2))
    dispatch_due_reminders(get_db(app), datetime.now(UTC), RULES)
    assert _appointment(app, due).parked_at is not None

    phone.text("START")

    assert _appointment(app, due).parked_at is None
    ids = dispatch_due_reminders(get_db(app), datetime.now(UTC), RULES)
    assert len(ids) == 1
    reminder = [m for m in _texts(app) if m.id in ids][0]
    assert reminder.body.startswith("⏰ Follow up with John Doe") and reminder.status == "queued"


def test_quiet_hours_hold_a_reminder_until_morning(app, agent) -> None:
    _follow_up(app, agent, _local(2026, 3, 6, 20, 55), title="call back")
    assert dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 21, 30), RULES) == []
    assert dispatch_due_reminders(get_db(app), _local(2026, 3, 7, 7, 59), RULES) == []
    assert len(dispatch_due_reminders(get_db(app), _local(2026, 3, 7, 8, 0), RULES)) == 1


def test_a_follow_up_set_inside_quiet_hours_is_sent_on_time(app, agent) -> None:
    _follow_up(app, agent, _local(2026, 3, 6, 22, 30), title="check the counter-offer")
    assert len(dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 22, 30, 10), RULES)) == 1


def test_after_downtime_late_reminders_say_so_and_old_ones_are_folded(app, agent) -> None:
    _follow_up(app, agent, _local(2026, 3, 6, 11, 0), title="recent one")
    _follow_up(app, agent, _local(2026, 3, 5, 10, 0), title="old one")
    _follow_up(app, agent, _local(2026, 3, 4, 10, 0), title="older one", lead_name="Dana Cole")
    ids = dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 12, 0), RULES)
    assert len(ids) == 2
    late, catch_up = sorted((m.body for m in _texts(app)), key=lambda b: "offline" in b)
    assert "recent one" in late and "late" in late
    assert "offline" in catch_up and "old one" in catch_up and "older one" in catch_up


def test_done_and_snooze_answer_the_latest_or_the_numbered_reminder(app, agent) -> None:
    first = _follow_up(app, agent, _local(2026, 3, 6, 10, 0), title="send the contract")
    second = _follow_up(app, agent, _local(2026, 3, 6, 10, 0), title="book the inspection",
                        lead_name="Dana Cole")
    dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 10, 1), RULES)
    numbers = {_appointment(app, i).reminder_number: i for i in (first, second)}
    reply = mark_done(get_db(app), agent, 1, "sms")
    assert "Marked done" in reply
    assert _appointment(app, numbers[1]).state == "done"
    later = _local(2026, 3, 6, 15, 0)
    reply = snooze(get_db(app), agent, None, later, "sms")
    assert "Snoozed" in reply and "3:00 PM" in reply
    snoozed = _appointment(app, numbers[2])
    assert snoozed.due_at == later and snoozed.reminded_at is None
    # The snoozed follow-up is reminded again when its new time comes.
    assert len(dispatch_due_reminders(get_db(app), later, RULES)) == 1
    assert "can't find reminder #7" in mark_done(get_db(app), agent, 7, "sms")


def test_done_with_nothing_outstanding_says_so(app, agent) -> None:
    assert "no reminder" in mark_done(get_db(app), agent, None, "sms")


def test_morning_agenda_is_sent_once_per_agent_per_local_day(app, agent) -> None:
    with get_db(app).session() as session:
        london = User(name="Lee", phone="+447700900123", timezone="Europe/London")
        session.add(london)
        session.flush()
        session.add(Lead(agent_id=london.id, name="Priya Patel"))
        session.commit()
        london_id = london.id
    _follow_up(app, agent, _local(2026, 3, 6, 14, 0), title="showing")
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.agent_id == london_id))
        eleven = datetime(2026, 3, 6, 11, 0, tzinfo=ZoneInfo("Europe/London"))
        session.add(Appointment(lead_id=lead.id, agent_id=london_id, title="valuation",
                                due_at=eleven))
        session.commit()
    db = get_db(app)
    # 08:00 in London is 02:00 in Chicago: only the London agent's agenda goes out.
    london_morning = datetime(2026, 3, 6, 8, 0, tzinfo=ZoneInfo("Europe/London"))
    assert len(dispatch_daily_agendas(db, london_morning, RULES)) == 1
    assert dispatch_daily_agendas(db, london_morning + timedelta(minutes=1), RULES) == []
    chicago_morning = _local(2026, 3, 6, 8, 0)
    assert len(dispatch_daily_agendas(db, chicago_morning, RULES)) == 1
    assert dispatch_daily_agendas(db, chicago_morning + timedelta(minutes=5), RULES) == []
    bodies = [m.body for m in _texts(app)]
    assert any("valuation" in b for b in bodies) and any("showing" in b for b in bodies)


def test_morning_agenda_follows_daylight_saving(app, agent) -> None:
    # 2026-03-08 is the US change: 08:00 CDT is 13:00 UTC (it was 14:00 UTC the day before).
    _follow_up(app, agent, _local(2026, 3, 8, 14, 0), title="open house")
    db = get_db(app)
    assert dispatch_daily_agendas(db, datetime(2026, 3, 8, 12, 59, tzinfo=UTC), RULES) == []
    assert len(dispatch_daily_agendas(db, datetime(2026, 3, 8, 13, 0, tzinfo=UTC), RULES)) == 1


def test_no_agenda_text_when_there_is_nothing(app, agent) -> None:
    with get_db(app).session() as session:  # nudges off: the new lead would be one
        session.get(User, agent.id).nudges_on = False
        session.commit()
    assert dispatch_daily_agendas(get_db(app), _local(2026, 3, 6, 8, 0), RULES) == []
    with get_db(app).session() as session:
        assert session.scalar(select(DailyAgenda)).message_id is None
    assert _texts(app) == []


@pytest.fixture
def settings(twilio_standin) -> dict:
    return {"TWILIO_API_BASE_URL": twilio_standin.base_url, "SMS_SENDER": "twilio",
            "RECOVERY_GRACE_SECONDS": 0}


@pytest.mark.integration
def test_a_reminder_reaches_twilio_once_with_its_sid_recorded(
    app, agent, celery_worker, twilio_standin
) -> None:
    from workers.tasks import dispatch_reminders

    _follow_up(app, agent, datetime.now(UTC) - timedelta(seconds=5))
    twilio_standin.fail_next(429, times=2)
    dispatch_reminders.delay()
    dispatch_reminders.delay()
    wait_for(lambda: twilio_standin.messages)
    sent = wait_for(lambda: [m for m in _texts(app) if m.provider_sid])
    import time

    time.sleep(1)
    assert len(twilio_standin.messages) == 1
    assert sent[0].provider_sid.startswith("SM")
    assert "send the contract" in twilio_standin.messages[0]["Body"]


@pytest.mark.integration
def test_a_reminder_survives_redis_restarting_empty(app, agent, twilio_standin) -> None:
    """The broker's copy is lost; the database still knows, and the sweep sends it."""
    from celery.contrib.testing.worker import start_worker

    from workers.tasks import enqueue_send, sweep_now

    _follow_up(app, agent, datetime.now(UTC) - timedelta(seconds=5))
    for message_id in dispatch_due_reminders(get_db(app), datetime.now(UTC), RULES):
        enqueue_send(message_id)
    app.extensions["redis"].flushdb()  # Redis restarts empty: the queued task is gone
    with start_worker(app.extensions["celery"], pool="threads", perform_ping_check=False,
                      loglevel="WARNING"):
        with app.app_context():
            assert sweep_now(timedelta(0), 5)["messages_requeued"] == 1
        wait_for(lambda: twilio_standin.messages)
    assert len(twilio_standin.messages) == 1


def test_done_and_snooze_work_by_sms(app, agent, phone) -> None:
    first = _follow_up(app, agent, datetime.now(UTC) - timedelta(minutes=1),
                       title="send the contract")
    dispatch_due_reminders(get_db(app), datetime.now(UTC), RULES)
    reply = phone.text("snooze 2 hours")
    assert reply.startswith("😴 Snoozed: send the contract")
    snoozed = _appointment(app, first)
    assert snoozed.reminded_at is None
    assert timedelta(hours=1, minutes=58) < snoozed.due_at - datetime.now(UTC) <= timedelta(hours=2)
    _follow_up(app, agent, datetime.now(UTC) - timedelta(minutes=1), title="book the inspection",
               lead_name="Dana Cole")
    dispatch_due_reminders(get_db(app), datetime.now(UTC), RULES)
    assert phone.text("DONE") == "✅ Marked done: book the inspection (Dana Cole)."
    assert phone.text("done") == "There's no reminder waiting for an answer."


def test_held_reminders_do_not_starve_later_ones_behind_them(app, agent) -> None:
    """More follow-ups held for quiet hours than one batch holds come first in due order; the
    dispatcher still reaches the agent in another zone whose reminder is due behind them."""
    for minute in range(5):
        _follow_up(app, agent, _local(2026, 3, 6, 20, 50 + minute), title=f"held {minute}")
    with get_db(app).session() as session:
        tokyo = User(name="Kenji", phone="+81312345678", timezone="Asia/Tokyo")
        session.add(tokyo)
        session.flush()
        lead = Lead(agent_id=tokyo.id, name="Aiko Sato")
        session.add(lead)
        session.flush()
        session.add(Appointment(lead_id=lead.id, agent_id=tokyo.id, title="call Aiko",
                                due_at=_local(2026, 3, 6, 21, 29)))
        session.commit()
    # 21:30 in Chicago (quiet) is 12:30 in Tokyo: only Tokyo's reminder may go, in batches of 2.
    ids = dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 21, 30), RULES, limit=2)
    assert [m.body for m in _texts(app) if m.id in ids] == [
        "⏰ Follow up with Aiko Sato: call Aiko. Reply DONE, or SNOOZE 1h / SNOOZE tomorrow."
    ]
