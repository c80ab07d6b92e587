"""GET /calendar/<token>.ics — an agent's follow-ups as an iCalendar feed (the `icalendar`
library), so they show up in Google/Apple/Outlook calendars next to showings.

The token is a long random secret per agent (`flask --app wsgi agents calendar-url`); the URL
is the only credential, as with every subscribable calendar feed, so it can be rotated.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort
from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead, User
from webapp.database import get_db
from webapp.phones import display_phone

bp = Blueprint("calendar", __name__)

HISTORY = timedelta(days=30)  # recent past follow-ups stay visible
EVENT_LENGTH = timedelta(minutes=30)


def issue_calendar_token(session: Session, agent: User, rotate: bool = False) -> str:
    """The agent's feed token, created on first use; `rotate` invalidates the old URL."""
    if agent.calendar_token is None or rotate:
        agent.calendar_token = secrets.token_urlsafe(24)
        session.flush()
    return agent.calendar_token


def build_calendar(agent: User, rows: list[tuple[Appointment, Lead]], now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Fieldline//Follow-ups//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Fieldline follow-ups — {agent.name}")
    calendar.add("x-wr-timezone", agent.timezone)
    for appointment, lead in rows:
        event = Event()
        event.add("uid", f"appointment-{appointment.id}@fieldline")
        event.add("dtstamp", now)
        event.add("dtstart", appointment.due_at.astimezone(UTC))
        event.add("dtend", appointment.due_at.astimezone(UTC) + EVENT_LENGTH)
        event.add("summary", f"{lead.name}: {appointment.title}")
        details = [f"Lead: {lead.name}"]
        if lead.phone:
            details.append(f"Phone: {display_phone(lead.phone)}")
        if lead.email:
            details.append(f"Email: {lead.email}")
        event.add("description", "\n".join(details))
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str) -> Response:
    now = datetime.now(UTC)
    with get_db().session() as session:
        agent = session.scalar(select(User).where(User.calendar_token == token)) if token else None
        if agent is None:
            abort(404)
        rows = session.execute(
            select(Appointment, Lead)
            .join(Lead, Lead.id == Appointment.lead_id)
            .where(
                Appointment.agent_id == agent.id,
                Appointment.state == "scheduled",
                Appointment.due_at >= now - HISTORY,
            )
            .order_by(Appointment.due_at)
        ).all()
        body = build_calendar(agent, [(a, lead) for a, lead in rows], now)
    return Response(body, mimetype="text/calendar",
                    headers={"Cache-Control": "private, max-age=300"})
