"""GET /calendar/<token>.ics: the agent's follow-ups as a valid iCalendar feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
