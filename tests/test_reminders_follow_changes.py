"""Reminders, the morning agenda and DONE/SNOOZE follow a changed follow-up, end to end: the
dispatcher claims and writes the text, the sender sends it through the real twilio client to
the local stand-in. A moved follow-up is reminded at its new time and never at the old one —
also when the old reminder was claimed and its text not yet sent — and a cancelled or
completed one never."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from db.models import Appointment, Lead, Message, User
from webapp.conversation.reminder_answers import mark_done, snooze
from webapp.database import get_db
from webapp.execution import reminder_dispatch
from webapp.execution.plans import run_plan_now
from webapp.execution.reminder_dispatch import (
    ReminderRules,
    dispatch_daily_agendas,
    dispatch_due_reminders,
)
from webapp.outbound.delivery import current_sender, deliver
from webapp.outbound.messages import requeue_stale_messages

CHICAGO = ZoneInfo("America/Chicago")
RULES = ReminderRules()


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


@pytest.fixture
def settings(twilio_standin) -> dict:
    return {"TWILIO_API_BASE_URL": twilio_standin.base_url, "SMS_SENDER": "twilio"}


def _nudges_off(app, agent) -> None:
    """These tests pin the agenda's follow-up lines; its nudges are tests/test_nudges.py's."""
    with get_db(app).session() as session:
        session.get(User, agent.id).nudges_on = False
        session.commit()


def _follow_up(app, agent, due_at: datetime, title: str = "send comps",
               lead_name: str = "Dana Cole") -> int:
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.agent_id == agent.id,
                                                 Lead.name == lead_name))
        appointment = Appointment(lead_id=lead.id, agent_id=agent.id, title=title, due_at=due_at)
        session.add(appointment)
        session.commit()
        return appointment.id


def _row(app, appointment_id: int) -> Appointment:
    with get_db(app).session() as session:
        return session.get(Appointment, appointment_id)


def _change(app, agent, kind: str, appointment_id: int, now: datetime,
            to: datetime | None = None) -> str:
    """Run a change the way a confirmed text does (no YES needed here); returns the plan id."""
    row = _row(app, appointment_id)
    action = {"type": kind, "lead_id": row.lead_id, "appointment_id": row.id,
              "title": row.title}
    if kind == "reschedule_follow_up":
        action.update(due_at=to.isoformat(), old_due_at=row.due_at.isoformat(),
                      old_title=row.title)
    else:
        action["due_at"] = row.due_at.isoformat()
    outcome = run_plan_now(get_db(app), agent.id, [action], "sms", now=now)
    assert outcome.state == "executed", outcome.error
    return outcome.plan_id


def _send(app, message_ids: list[int]) -> list[str]:
    """What the send task does with each id: the statuses the rows end in."""
    return [deliver(get_db(app), m, current_sender(app.config), config=app.config)
            for m in message_ids]


def _status(app, message_id: int) -> str:
    with get_db(app).session() as session:
        return session.get(Message, message_id).status


def test_a_follow_up_moved_before_it_fell_due_is_reminded_at_its_new_time_only(
        app, agent, twilio_standin) -> None:
    appointment_id = _follow_up(app, agent, _local(2026, 3, 6, 10, 0))
    _change(app, agent, "reschedule_follow_up", appointment_id, _local(2026, 3, 6, 9, 0),
            to=_local(2026, 3, 6, 15, 0))
    assert dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 10, 1), RULES) == []
    assert dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 14, 59), RULES) == []
    ids = dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 15, 0, 10), RULES)
    assert _send(app, ids) == ["sent"]
    [sent] = twilio_standin.messages
    assert sent["Body"] == ("⏰ Follow up with Dana Cole (+1 773-555-0127): send comps. "
                            "Reply DONE, or SNOOZE 1h / SNOOZE tomorrow.")


def test_a_claimed_reminder_not_yet_sent_is_withdrawn_when_the_follow_up_moves(
        app, agent, twilio_standin) -> None:
    appointment_id = _follow_up(app, agent, _local(2026, 3, 6, 10, 0))
    [old] = dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 10, 0, 5), RULES)
    assert _row(app, appointment_id).reminded_at is not None  # claimed; the text is queued
    _change(app, agent, "reschedule_follow_up", appointment_id, _local(2026, 3, 6, 10, 0, 20),
            to=_local(2026, 3, 9, 14, 0))
    assert _send(app, [old]) == ["withdrawn"]  # the send task finds nothing to send
    assert requeue_stale_messages(get_db(app), timedelta(0)) == []  # nor does the sweep
    assert twilio_standin.messages == []
    row = _row(app, appointment_id)
    assert (row.reminded_at, row.reminder_message_id, row.reminder_number) == (None, None, None)
    assert dispatch_due_reminders(get_db(app), _local(2026, 3, 9, 13, 59), RULES) == []
    new = dispatch_due_reminders(get_db(app), _local(2026, 3, 9, 14, 0, 5), RULES)
    assert _send(app, new) == ["sent"]
    assert [m["Body"] for m in twilio_standin.messages] == [
        "⏰ Follow up with Dana Cole (+1 773-555-0127): send comps. "
        "Reply DONE, or SNOOZE 1h / SNOOZE tomorrow."]


@pytest.mark.parametrize("kind", ["cancel_follow_up", "complete_follow_up"])
def test_a_cancelled_or_completed_follow_up_is_never_reminded(app, agent, twilio_standin,
                                                              kind) -> None:
    before = _follow_up(app, agent, _local(2026, 3, 6, 10, 0), title="before it fell due")
    claimed = _follow_up(app, agent, _local(2026, 3, 6, 9, 0), title="claimed, not sent",
                         lead_name="John Doe")
    [text] = dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 9, 0, 5), RULES)
    _change(app, agent, kind, before, _local(2026, 3, 6, 9, 1))
    _change(app, agent, kind, claimed, _local(2026, 3, 6, 9, 1))
    assert _send(app, [text]) == ["withdrawn"]
    for later in (_local(2026, 3, 6, 10, 1), _local(2026, 3, 7, 12, 0)):
        assert dispatch_due_reminders(get_db(app), later, RULES) == []
    assert twilio_standin.messages == []


def test_a_change_committed_while_the_dispatcher_works_is_never_reminded_as_it_was(
        app, agent, twilio_standin, monkeypatch) -> None:
    """The reschedule commits after the dispatcher read the due row and before it claims it.
    SQLite lets it through (the claim then finds the row changed and claims nothing);
    PostgreSQL holds it on the row lock until the dispatcher commits (it then withdraws the
    text). Either way the old time's reminder never reaches Twilio."""
    appointment_id = _follow_up(app, agent, _local(2026, 3, 6, 10, 0))
    original = reminder_dispatch._remind_agent
    changes: list[threading.Thread] = []

    def meanwhile(session, rows, now, rules):
        change = threading.Thread(target=_change, args=(
            app, agent, "reschedule_follow_up", appointment_id, now,
            _local(2026, 3, 6, 16, 0)))
        change.start()
        change.join(timeout=1.0)  # done at once on SQLite; waits for our commit on PostgreSQL
        changes.append(change)
        return original(session, rows, now, rules)

    monkeypatch.setattr(reminder_dispatch, "_remind_agent", meanwhile)
    ids = dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 10, 0, 5), RULES)
    monkeypatch.undo()
    changes[0].join(timeout=10)
    assert not changes[0].is_alive()
    _send(app, ids)
    assert twilio_standin.messages == []
    row = _row(app, appointment_id)
    assert (row.due_at, row.reminded_at) == (_local(2026, 3, 6, 16, 0), None)
    assert _send(app, dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 16, 0, 5),
                                             RULES)) == ["sent"]
    assert len(twilio_standin.messages) == 1


def test_undoing_a_move_brings_the_reminder_back_to_the_old_time(app, agent,
                                                                 twilio_standin) -> None:
    appointment_id = _follow_up(app, agent, _local(2026, 3, 6, 10, 0))
    plan_id = _change(app, agent, "reschedule_follow_up", appointment_id,
                      _local(2026, 3, 6, 8, 0), to=_local(2026, 3, 7, 10, 0))
    undone = run_plan_now(get_db(app), agent.id, [], "sms", undo_of=plan_id,
                          now=_local(2026, 3, 6, 8, 5))
    assert undone.state == "executed"
    ids = dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 10, 0, 5), RULES)
    assert _send(app, ids) == ["sent"]
    assert dispatch_due_reminders(get_db(app), _local(2026, 3, 7, 10, 1), RULES) == []
    assert len(twilio_standin.messages) == 1


def test_snooze_after_a_sent_reminder_reminds_again_later_and_done_ends_it(
        app, agent, twilio_standin) -> None:
    appointment_id = _follow_up(app, agent, _local(2026, 3, 6, 10, 0))
    first = dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 10, 0, 5), RULES)
    assert _send(app, first) == ["sent"]
    reply = snooze(get_db(app), agent, None, _local(2026, 3, 6, 11, 0), "sms",
                   _local(2026, 3, 6, 10, 2))
    assert reply.startswith("😴 Snoozed: send comps.")
    assert _status(app, first[0]) == "sent"  # a text already sent stays as it was
    row = _row(app, appointment_id)
    assert (row.snooze_count, row.sequence, row.reminded_at) == (1, 1, None)
    assert dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 10, 59), RULES) == []
    second = dispatch_due_reminders(get_db(app), _local(2026, 3, 6, 11, 0, 5), RULES)
    assert _send(app, second) == ["sent"]
    assert mark_done(get_db(app), agent, None, "sms", _local(2026, 3, 6, 11, 5)) == (
        "✅ Marked done: send comps (Dana Cole).")
    assert dispatch_due_reminders(get_db(app), _local(2026, 3, 7, 12, 0), RULES) == []
    assert len(twilio_standin.messages) == 2


def test_the_morning_agenda_shows_the_follow_ups_as_they_are_now(app, agent) -> None:
    _nudges_off(app, agent)
    moved_away = _follow_up(app, agent, _local(2026, 3, 6, 14, 0), title="moved to Monday")
    cancelled = _follow_up(app, agent, _local(2026, 3, 6, 15, 0), title="cancelled one")
    completed = _follow_up(app, agent, _local(2026, 3, 5, 9, 0), title="done yesterday",
                           lead_name="John Doe")
    moved_in = _follow_up(app, agent, _local(2026, 3, 9, 9, 0), title="moved to today",
                          lead_name="Sarah Smith")
    changed_at = _local(2026, 3, 5, 20, 0)
    _change(app, agent, "reschedule_follow_up", moved_away, changed_at,
            to=_local(2026, 3, 9, 14, 0))
    _change(app, agent, "cancel_follow_up", cancelled, changed_at)
    _change(app, agent, "complete_follow_up", completed, changed_at)
    _change(app, agent, "reschedule_follow_up", moved_in, changed_at,
            to=_local(2026, 3, 6, 16, 30))
    [message_id] = dispatch_daily_agendas(get_db(app), _local(2026, 3, 6, 8, 0), RULES)
    with get_db(app).session() as session:
        body = session.get(Message, message_id).body
    assert body == ("Good morning! Agenda today: 1 follow-up.\n"
                    "4:30 PM Sarah Smith: moved to today")


def test_nothing_left_today_after_the_changes_means_no_morning_text(app, agent) -> None:
    _nudges_off(app, agent)
    cancelled = _follow_up(app, agent, _local(2026, 3, 6, 15, 0), title="cancelled one")
    _change(app, agent, "cancel_follow_up", cancelled, _local(2026, 3, 5, 20, 0))
    assert dispatch_daily_agendas(get_db(app), _local(2026, 3, 6, 8, 0), RULES) == []


def test_times_are_utc_instants_whatever_the_zone(app, agent) -> None:
    """The dispatcher compares instants: a follow-up moved to 10:00 Chicago time is due at
    16:00 UTC on a winter day."""
    appointment_id = _follow_up(app, agent, _local(2026, 3, 6, 9, 0))
    _change(app, agent, "reschedule_follow_up", appointment_id, _local(2026, 3, 6, 8, 0),
            to=_local(2026, 3, 6, 10, 0))
    assert dispatch_due_reminders(get_db(app), datetime(2026, 3, 6, 15, 59, tzinfo=UTC),
                                  RULES) == []
    assert len(dispatch_due_reminders(get_db(app), datetime(2026, 3, 6, 16, 0, tzinfo=UTC),
                                      RULES)) == 1
