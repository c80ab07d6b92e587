"""GET /calendar/<token>.ics — an agent's follow-ups as an iCalendar feed (the `icalendar`
library), so they show up in Google/Apple/Outlook calendars next to showings.

The token is a long random secret per agent (`flask --app wsgi agents calendar-url`); the URL
is the only credential, as with every subscribable calendar feed, so it can be rotated.

Subscribed calendars re-read the whole feed and keep an event by its UID; they replace their
copy when its SEQUENCE rises (every move, retitle, cancel or reopen bumps `appointments.sequence`)
and show LAST-MODIFIED. A cancelled follow-up stays in the feed as STATUS:CANCELLED for
CANCELLED_SHOWN, so calendars that keep vanished events still learn it is off; a completed one
leaves the feed (it needs no slot any more). LAST-MODIFIED is the last change to what the event
shows, from the audit trail (`change_history`: the follow-up moved, retitled, cancelled or
reopened; its lead renamed or given a new phone or email), else its creation — not the row's
`updated_at`, which reminder bookkeeping also touches. The feed has no METHOD, so DTSTAMP is
that same instant (RFC 5545 3.8.7.2), not the time of the request.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort
from icalendar import Calendar, Event
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from db.models import Appointment, ChangeHistory, Lead, User
from webapp.database import get_db
from webapp.phones import display_phone

bp = Blueprint("calendar", __name__)

HISTORY = timedelta(days=30)  # recent past follow-ups stay visible
CANCELLED_SHOWN = timedelta(days=30)  # how long a cancellation stays in the feed
EVENT_LENGTH = timedelta(minutes=30)


def issue_calendar_token(session: Session, agent: User, rotate: bool = False) -> str:
    """The agent's feed token, created on first use; `rotate` invalidates the old URL."""
    if agent.calendar_token is None or rotate:
        agent.calendar_token = secrets.token_urlsafe(24)
        session.flush()
    return agent.calendar_token


def build_calendar(agent: User, rows: list[tuple[Appointment, Lead, datetime]]) -> bytes:
    """The feed; each row is a follow-up, its lead, and when what the event shows last
    changed."""
    calendar = Calendar()
    calendar.add("prodid", "-//Fieldline//Follow-ups//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Fieldline follow-ups — {agent.name}")
    calendar.add("x-wr-timezone", agent.timezone)
    for appointment, lead, modified in rows:
        event = Event()
        modified = modified.astimezone(UTC)
        event.add("uid", f"appointment-{appointment.id}@fieldline")
        event.add("dtstamp", modified)
        event.add("created", appointment.created_at.astimezone(UTC))
        event.add("last-modified", modified)
        event.add("sequence", appointment.sequence)
        event.add("dtstart", appointment.due_at.astimezone(UTC))
        event.add("dtend", appointment.due_at.astimezone(UTC) + EVENT_LENGTH)
        event.add("summary", f"{lead.name}: {appointment.title}")
        details = [f"Lead: {lead.name}"]
        if lead.phone:
            details.append(f"Phone: {display_phone(lead.phone)}")
        if lead.email:
            details.append(f"Email: {lead.email}")
        event.add("description", "\n".join(details))
        event.add("status", "CANCELLED" if appointment.state == "cancelled" else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str) -> Response:
    now = datetime.now(UTC)
    with get_db().session() as session:
        agent = session.scalar(select(User).where(User.calendar_token == token)) if token else None
        if agent is None:
            abort(404)
        event_changed = (select(func.max(ChangeHistory.changed_at))
                         .where(ChangeHistory.appointment_id == Appointment.id)
                         .scalar_subquery())
        lead_changed = (select(func.max(ChangeHistory.changed_at))
                        .where(ChangeHistory.lead_id == Lead.id,
                               ChangeHistory.kind == "lead.updated")
                        .scalar_subquery())
        rows = session.execute(
            select(Appointment, Lead, event_changed, lead_changed)
            .join(Lead, Lead.id == Appointment.lead_id)
            .where(
                Appointment.agent_id == agent.id,
                or_(Appointment.state == "scheduled",
                    and_(Appointment.state == "cancelled",
                         Appointment.updated_at >= now - CANCELLED_SHOWN)),
                Appointment.due_at >= now - HISTORY,
            )
            .order_by(Appointment.due_at)
        ).all()
        body = build_calendar(agent, [
            (a, lead, max(t for t in (a.created_at, moved, renamed) if t is not None))
            for a, lead, moved, renamed in rows])
    return Response(body, mimetype="text/calendar",
                    headers={"Cache-Control": "private, max-age=300"})

