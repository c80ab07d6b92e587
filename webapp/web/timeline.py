"""A lead's timeline: status changes, interactions, follow-ups and edits, newest first.

Four tables tell it: `lead_history` (statuses), `client_interactions`, `appointments` (each
follow-up as it was set, with its state now: open, done or cancelled) and `change_history`
(edits of the lead, follow-ups moved, cancelled, done or reopened). Each source is read newest
first, only as far as the page needs, and the four are merged; every entry keeps its channel.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Appointment, ChangeHistory, ClientInteraction, LeadHistory
from webapp.phones import display_phone
from webapp.understanding.replies import format_due
from webapp.web.display import status_label

PAGE_SIZE = 100
FOLLOW_UP_STATES = {"scheduled": "open", "done": "done", "cancelled": "cancelled"}


@dataclass
class Entry:
    at: datetime
    kind: str  # status | interaction | follow_up | change
    channel: str
    title: str
    detail: str = ""
    badge: str = ""  # a follow-up's state: open, done, cancelled

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return self.at, self.kind


@dataclass
class Timeline:
    entries: list[Entry]
    page: int
    more: bool


def timeline(session: Session, agent_id: int, lead_id: int, zone: ZoneInfo,
             page: int = 1) -> Timeline:
    """Page `page` (1 = newest) of the lead's timeline."""
    page = max(1, page)
    need = page * PAGE_SIZE + 1  # one more than the page shows, to know if there is more
    sources = (_statuses(session, agent_id, lead_id, need),
               _interactions(session, agent_id, lead_id, need),
               _follow_ups(session, agent_id, lead_id, need, zone),
               _changes(session, agent_id, lead_id, need, zone))
    merged = list(heapq.merge(*sources, key=lambda e: e.sort_key, reverse=True))
    start = (page - 1) * PAGE_SIZE
    return Timeline(merged[start:start + PAGE_SIZE], page, len(merged) > start + PAGE_SIZE)


def _statuses(session: Session, agent_id: int, lead_id: int, limit: int) -> list[Entry]:
    rows = session.execute(
        select(LeadHistory.changed_at, LeadHistory.old_status, LeadHistory.new_status,
               LeadHistory.channel)
        .where(LeadHistory.lead_id == lead_id, LeadHistory.agent_id == agent_id)
        .order_by(LeadHistory.changed_at.desc(), LeadHistory.id.desc()).limit(limit)
    ).all()
    entries = []
    for at, old, new, channel in rows:
        title = (f"Status: {status_label(old)} → {status_label(new)}" if old
                 else f"Status set to {status_label(new)}")
        entries.append(Entry(at, "status", channel, title))
    return entries


def _interactions(session: Session, agent_id: int, lead_id: int, limit: int) -> list[Entry]:
    rows = session.execute(
        select(ClientInteraction.occurred_at, ClientInteraction.type, ClientInteraction.note,
               ClientInteraction.channel)
        .where(ClientInteraction.lead_id == lead_id, ClientInteraction.agent_id == agent_id)
        .order_by(ClientInteraction.occurred_at.desc(), ClientInteraction.id.desc())
        .limit(limit)
    ).all()
    return [Entry(at, "interaction", channel, kind.capitalize(), note)
            for at, kind, note, channel in rows]


def _follow_ups(session: Session, agent_id: int, lead_id: int, limit: int,
                zone: ZoneInfo) -> list[Entry]:
    rows = session.execute(
        select(Appointment.created_at, Appointment.title, Appointment.due_at, Appointment.state,
               Appointment.channel)
        .where(Appointment.lead_id == lead_id, Appointment.agent_id == agent_id)
        .order_by(Appointment.created_at.desc(), Appointment.id.desc()).limit(limit)
    ).all()
    return [Entry(at, "follow_up", channel, f"Follow-up set: {title}",
                  f"due {format_due(due.astimezone(zone))}", FOLLOW_UP_STATES[state])
            for at, title, due, state, channel in rows]


def _changes(session: Session, agent_id: int, lead_id: int, limit: int,
             zone: ZoneInfo) -> list[Entry]:
    rows = session.execute(
        select(ChangeHistory.changed_at, ChangeHistory.kind, ChangeHistory.changes,
               ChangeHistory.channel, Appointment.title)
        .outerjoin(Appointment, Appointment.id == ChangeHistory.appointment_id)
        .where(ChangeHistory.lead_id == lead_id, ChangeHistory.agent_id == agent_id)
        .order_by(ChangeHistory.changed_at.desc(), ChangeHistory.id.desc()).limit(limit)
    ).all()
    return [Entry(at, "change", channel, *_describe_change(kind, changes or {}, title, zone))
            for at, kind, changes, channel, title in rows]


def _describe_change(kind: str, changes: dict[str, Any], title: str | None,
                     zone: ZoneInfo) -> tuple[str, str]:
    """(title, detail) of one `change_history` row."""
    if kind == "lead.updated":
        parts = [f"{field}: {_value(field, old)} → {_value(field, new)}"
                 for field, (old, new) in changes.items()]
        return "Details changed", "; ".join(parts)
    if kind == "follow_up.rescheduled":
        old_due, new_due = changes.get("due_at", [None, None])
        detail = f"{_due(old_due, zone)} → {_due(new_due, zone)}"
        if "title" in changes:
            detail += f"; was '{changes['title'][0]}'"
        return f"Follow-up moved: {title or ''}", detail
    words = {"follow_up.cancelled": "Follow-up cancelled", "follow_up.completed":
             "Follow-up done", "follow_up.reopened": "Follow-up reopened"}
    return f"{words.get(kind, kind)}: {title or ''}", ""


def _value(field: str, value: str | None) -> str:
    if not value:
        return "none"
    return display_phone(value) if field == "phone" else value


def _due(value: str | None, zone: ZoneInfo) -> str:
    return format_due(datetime.fromisoformat(value).astimezone(zone)) if value else "?"
