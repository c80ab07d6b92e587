"""GET /calendar/<token>.ics: the agent's follow-ups as a valid iCalendar feed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from icalendar import Calendar
from sqlalchemy import select

from db.models import Appointment, Lead, User
from webapp.channels.calendar_feed import issue_calendar_token
from webapp.database import get_db


def _token(app, agent_id: int, rotate: bool = False) -> str:
    with get_db(app).session() as session:
        token = issue_calendar_token(session, session.get(User, agent_id), rotate)
        session.commit()
        return token


def _add(app, agent_id: int, title: str, due_at: datetime, state: str = "scheduled") -> None:
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.agent_id == agent_id))
        session.add(Appointment(lead_id=lead.id, agent_id=agent_id, title=title, due_at=due_at,
                                state=state))
        session.commit()


def test_feed_lists_the_agents_scheduled_follow_ups_as_events(app, agent) -> None:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    _add(app, agent.id, "send the contract", due)
    _add(app, agent.id, "already done", due, state="done")
    response = app.test_client().get(f"/calendar/{_token(app, agent.id)}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = [c for c in calendar.walk("VEVENT")]
    assert len(events) == 1
    assert "send the contract" in str(events[0]["SUMMARY"])
    assert events[0].decoded("DTSTART") == due
    assert str(events[0]["UID"]).endswith("@fieldline")


def test_another_agents_follow_ups_are_not_in_the_feed(app, agent) -> None:
    with get_db(app).session() as session:
        other = User(name="Other", phone="+13125550111", timezone="America/Chicago")
        session.add(other)
        session.flush()
        session.add(Lead(agent_id=other.id, name="Karen White"))
        session.commit()
        other_id = other.id
    _add(app, other_id, "their secret", datetime.now(UTC) + timedelta(days=1))
    response = app.test_client().get(f"/calendar/{_token(app, agent.id)}.ics")
    assert b"their secret" not in response.data


def test_unknown_or_rotated_tokens_get_404(app, agent) -> None:
    client = app.test_client()
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    old = _token(app, agent.id)
    new = _token(app, agent.id, rotate=True)
    assert old != new
    assert client.get(f"/calendar/{old}.ics").status_code == 404
    assert client.get(f"/calendar/{new}.ics").status_code == 200


def test_cli_prints_the_feed_url(app, agent, cli) -> None:
    result = cli.invoke(args=["agents", "calendar-token", "--agent", agent.phone])
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith(app.config["PUBLIC_BASE_URL"] + "/calendar/")
    assert result.output.strip().endswith(".ics")


# --- changes reach subscribed calendars ----------------------------------------------------------

def _change(app, agent_id: int, kind: str, appointment_id: int, now: datetime,
            to: datetime | None = None) -> None:
    from webapp.execution.plans import run_plan_now

    with get_db(app).session() as session:
        row = session.get(Appointment, appointment_id)
        action = {"type": kind, "lead_id": row.lead_id, "appointment_id": row.id,
                  "title": row.title, "due_at": row.due_at.isoformat()}
    if to is not None:
        action.update(due_at=to.isoformat(), old_due_at=action["due_at"],
                      old_title=action["title"])
    assert run_plan_now(get_db(app), agent_id, [action], "sms", now=now).state == "executed"


def _events(app, agent_id: int) -> dict[str, object]:
    response = app.test_client().get(f"/calendar/{_token(app, agent_id)}.ics")
    assert response.status_code == 200
    return {str(e["SUMMARY"]).split(": ", 1)[1]: e
            for e in Calendar.from_ical(response.data).walk("VEVENT")}


def _id(app, title: str) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(Appointment.id).where(Appointment.title == title))


def test_a_new_event_has_sequence_zero_and_its_own_times(app, agent) -> None:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    _add(app, agent.id, "send comps", due)
    event = _events(app, agent.id)["send comps"]
    with get_db(app).session() as session:
        created = session.get(Appointment, _id(app, "send comps")).created_at.replace(
            microsecond=0)
    assert event.decoded("SEQUENCE") == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event.decoded("CREATED") == created
    assert event.decoded("LAST-MODIFIED") == created
    assert event.decoded("DTSTAMP") == created  # no METHOD: DTSTAMP is the last change


def test_reminder_bookkeeping_is_not_a_change_but_a_lead_renamed_is(app, agent) -> None:
    from webapp.execution.plans import run_plan_now
    from webapp.execution.reminder_dispatch import ReminderRules, dispatch_due_reminders

    now = datetime.now(UTC).replace(microsecond=0)
    _add(app, agent.id, "send comps", now - timedelta(minutes=1))
    created = _events(app, agent.id)["send comps"].decoded("LAST-MODIFIED")
    assert len(dispatch_due_reminders(get_db(app), now, ReminderRules(
        quiet_start=time(0), quiet_end=time(0)))) == 1
    assert _events(app, agent.id)["send comps"].decoded("LAST-MODIFIED") == created
    with get_db(app).session() as session:
        lead_id = session.get(Appointment, _id(app, "send comps")).lead_id
        name = session.get(Lead, lead_id).name
    renamed_at = now + timedelta(minutes=3)
    outcome = run_plan_now(get_db(app), agent.id, [{
        "type": "update_lead", "lead_id": lead_id, "lead": name, "name": "Renamed Person",
        "old": {"name": name}}], "sms", now=renamed_at)
    assert outcome.state == "executed", outcome.error
    event = _events(app, agent.id)["send comps"]
    assert str(event["SUMMARY"]).startswith("Renamed Person: ")
    assert event.decoded("LAST-MODIFIED") == renamed_at


def test_a_moved_event_keeps_its_uid_and_bumps_sequence_and_last_modified(app, agent) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    due = now + timedelta(days=1)
    _add(app, agent.id, "send comps", due)
    before = _events(app, agent.id)["send comps"]
    moved_at = now + timedelta(minutes=5)
    _change(app, agent.id, "reschedule_follow_up", _id(app, "send comps"), moved_at,
            to=due + timedelta(days=2))
    after = _events(app, agent.id)["send comps"]
    assert str(after["UID"]) == str(before["UID"])
    assert (before.decoded("SEQUENCE"), after.decoded("SEQUENCE")) == (0, 1)
    assert after.decoded("DTSTART") == due + timedelta(days=2)
    assert after.decoded("LAST-MODIFIED") == moved_at
    assert after.decoded("DTSTAMP") == moved_at
    _change(app, agent.id, "reschedule_follow_up", _id(app, "send comps"),
            moved_at + timedelta(minutes=1), to=due + timedelta(days=3))
    assert _events(app, agent.id)["send comps"].decoded("SEQUENCE") == 2


def test_a_cancelled_event_stays_marked_cancelled_and_a_completed_one_leaves(app,
                                                                           agent) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _add(app, agent.id, "cancel me", now + timedelta(days=1))
    _add(app, agent.id, "complete me", now + timedelta(days=1))
    _change(app, agent.id, "cancel_follow_up", _id(app, "cancel me"), now)
    _change(app, agent.id, "complete_follow_up", _id(app, "complete me"), now)
    events = _events(app, agent.id)
    assert set(events) == {"cancel me"}
    cancelled = events["cancel me"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled.decoded("SEQUENCE") == 1
    assert cancelled.decoded("LAST-MODIFIED") == now


def test_a_cancellation_leaves_the_feed_after_a_while(app, agent) -> None:
    from webapp.channels.calendar_feed import CANCELLED_SHOWN

    now = datetime.now(UTC).replace(microsecond=0)
    _add(app, agent.id, "long cancelled", now + timedelta(days=90))
    _change(app, agent.id, "cancel_follow_up", _id(app, "long cancelled"),
            now - CANCELLED_SHOWN - timedelta(days=1))
    assert _events(app, agent.id) == {}
