"""The parser's read-only lookups in one agent's book, in SQL (`webapp.understanding.book.Book`).

The parser asks only when a message needs it (a follow-up named, leads picked "I called this
week", a lead's email changed), so each lookup is one small indexed query on its own short
session; most messages cost nothing here. Indexes that serve them (migrations 0008 and 0009):

- open follow-ups by lead: `ix_appointments_open_lead_due` (lead_id, due_at) WHERE state =
  'scheduled'; by due time (a day, "my 2pm" as a list of instants), and title words among the
  open ones: `ix_appointments_open` (agent_id, due_at) WHERE state = 'scheduled', so done
  and cancelled follow-ups are never read (a title search reads every open one: the one lookup
  that grows with the book, and only for a follow-up named by title words alone);
- "it" right after a change or a reminder: `ix_appointments_agent_id_updated_at`, and the
  outstanding-reminder partial index for reminded ones;
- leads with an interaction of a type in a period:
  `ix_client_interactions_agent_id_occurred_at_type`;
- leads not contacted since: the agent's leads (`ix_leads_agent_id_name`), one pass.

Every query is scoped to the agent: another agent's rows do not exist here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.models import Appointment, ClientInteraction, Lead
from webapp.understanding.book import MAX_FOLLOW_UPS, FollowUpRef, LeadContact

SessionFactory = Callable[[], AbstractContextManager[Session]]
OPEN = "scheduled"
_IN_CHUNK = 200  # instants per IN list


class SqlBook:
    """`Book` over the database for `agent_id`; `sessions()` opens a short read-only session."""

    def __init__(self, sessions: SessionFactory, agent_id: int) -> None:
        self.sessions = sessions
        self.agent_id = agent_id

    def open_follow_ups(self, *, lead_ids: Collection[int] | None = None,
                        ids: Collection[int] | None = None,
                        due_at: Collection[datetime] | None = None,
                        due_from: datetime | None = None, due_before: datetime | None = None,
                        title_words: Sequence[str] = (),
                        limit: int = MAX_FOLLOW_UPS) -> list[FollowUpRef]:
        query = select(Appointment.id, Appointment.lead_id, Appointment.title,
                       Appointment.due_at).where(Appointment.agent_id == self.agent_id,
                                                 Appointment.state == OPEN)
        if ids is not None:
            query = query.where(Appointment.id.in_(list(ids)))
        if lead_ids is not None:
            query = query.where(Appointment.lead_id.in_(list(lead_ids)))
        if due_from is not None:
            query = query.where(Appointment.due_at >= due_from)
        if due_before is not None:
            query = query.where(Appointment.due_at < due_before)
        for word in title_words:  # the start of a word of the title
            escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(or_(Appointment.title.ilike(f"{escaped}%", escape="\\"),
                                    Appointment.title.ilike(f"% {escaped}%", escape="\\")))
        query = query.order_by(Appointment.due_at, Appointment.id)
        with self.sessions() as session:
            if due_at is None:
                rows = session.execute(query.limit(limit)).all()
            else:
                moments = sorted(set(due_at))
                rows = []
                for i in range(0, len(moments), _IN_CHUNK):
                    chunk = moments[i:i + _IN_CHUNK]
                    rows.extend(session.execute(
                        query.where(Appointment.due_at.in_(chunk)).limit(limit)).all())
                    if len(rows) >= limit:
                        break
        return [FollowUpRef(r.id, r.lead_id, r.title, r.due_at) for r in rows[:limit]]

    def recent_follow_up(self, since: datetime, until: datetime) -> FollowUpRef | None:
        found: list[FollowUpRef] = []
        with self.sessions() as session:
            for column in (Appointment.updated_at, Appointment.reminded_at):
                query = (select(Appointment.id, Appointment.lead_id, Appointment.title,
                                Appointment.due_at, column.label("touched"))
                         .where(Appointment.agent_id == self.agent_id,
                                Appointment.state == OPEN, column >= since, column <= until)
                         .order_by(column.desc(), Appointment.id.desc()).limit(1))
                if column is Appointment.updated_at:  # an imported row is not a recent talk
                    query = query.where(or_(Appointment.channel != "import",
                                            Appointment.updated_at > Appointment.created_at))
                row = session.execute(query).first()
                if row is not None:
                    found.append(FollowUpRef(row.id, row.lead_id, row.title, row.due_at,
                                             row.touched))
        return max(found, key=lambda f: (f.touched_at, f.id), default=None)

    def leads_with_interactions(self, types: Collection[str], start: datetime,
                                end: datetime) -> set[int]:
        with self.sessions() as session:
            return set(session.scalars(
                select(ClientInteraction.lead_id).distinct()
                .where(ClientInteraction.agent_id == self.agent_id,
                       ClientInteraction.occurred_at >= start,
                       ClientInteraction.occurred_at < end,
                       ClientInteraction.type.in_(list(types)))
            ))

    def leads_not_contacted_since(self, cutoff: datetime) -> set[int]:
        with self.sessions() as session:
            return set(session.scalars(
                select(Lead.id).where(Lead.agent_id == self.agent_id,
                                      or_(Lead.last_contacted.is_(None),
                                          Lead.last_contacted < cutoff))
            ))

    def lead_contact(self, lead_id: int) -> LeadContact | None:
        with self.sessions() as session:
            row = session.execute(
                select(Lead.phone, Lead.email).where(Lead.id == lead_id,
                                                     Lead.agent_id == self.agent_id)
            ).first()
        return LeadContact(row.phone, row.email) if row is not None else None
