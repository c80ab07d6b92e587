"""The assistant's latest text about one lead, which the agent's next message may answer: a
reminder ("done, talked to him") or a new-lead alert ("called, went well", "remind me
tomorrow at 9"). When it came after the agent's last message, its lead is whom "him" means.

A new-lead alert that named several leads (an import's summary) is about no one lead: when it
is the latest, nobody is "him" because of it, not even an earlier reminder's lead. An alert is
answered soon or not at all: past `alert_for` (the conversation's memory of what the agent
said, CONTEXT_TTL) it is no longer what the next message is about. A reminder is, until it is
done or snoozed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select

from db.models import Appointment, LeadAlert
from db.session import Database


@dataclass(frozen=True)
class Prompt:
    lead_id: int | None  # None: a summary alert, about several leads
    at: datetime
    kind: str  # "reminder" (a follow-up reminded and still open) or "alert" (a new lead)


def _newest_reminder(column):
    return (select(column)
            .where(Appointment.agent_id == bindparam("agent_id"),
                   Appointment.state == "scheduled", Appointment.reminded_at.is_not(None))
            .order_by(Appointment.reminded_at.desc(), Appointment.id.desc()).limit(1)
            .scalar_subquery())


_ALERT_AT = (select(func.max(LeadAlert.sent_at))
             .where(LeadAlert.agent_id == bindparam("agent_id")).scalar_subquery())
_ALERTED = select(LeadAlert.lead_id).where(LeadAlert.agent_id == bindparam("agent_id"),
                                           LeadAlert.sent_at == _ALERT_AT)

# One statement, built once, so that on PostgreSQL it runs straight on the driver
# (`Database.fetch_row`): it is read on every message.
_LATEST = select(
    _newest_reminder(Appointment.lead_id).label("reminder_lead"),
    _newest_reminder(Appointment.reminded_at).label("reminded_at"),
    _ALERT_AT.label("alerted_at"),
    _ALERTED.with_only_columns(func.count()).scalar_subquery().label("alerted_leads"),
    _ALERTED.with_only_columns(func.min(LeadAlert.lead_id)).scalar_subquery()
    .label("alerted_lead"),
)


def latest_prompt(db: Database, agent_id: int, now: datetime,
                  alert_for: timedelta) -> Prompt | None:
    """The agent's newest outstanding reminder or sent new-lead alert, whichever is later
    (None when that is an alert older than `alert_for`). On PostgreSQL one autocommit round
    trip on the driver rather than a session's BEGIN, SELECT and ROLLBACK."""
    params = {"agent_id": agent_id}
    if db.is_postgresql:
        row = db.fetch_row(_LATEST, params)
    else:
        with db.session() as session:
            found = session.execute(_LATEST, params).mappings().first()
        row = dict(found) if found else None
    if row is None:
        return None
    reminder = (Prompt(row["reminder_lead"], row["reminded_at"], "reminder")
                if row["reminded_at"] is not None else None)
    alert = None
    if row["alerted_at"] is not None:
        single = row["alerted_leads"] == 1  # the rows of one instant: one text, or a summary
        alert = Prompt(row["alerted_lead"] if single else None, row["alerted_at"], "alert")
    if reminder is None or (alert is not None and alert.at > reminder.at):
        return alert if alert is not None and now - alert.at <= alert_for else None
    return reminder
