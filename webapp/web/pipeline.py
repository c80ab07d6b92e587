"""The pipeline's figures: leads per status with a few cards each, one status page by page, and
search by name or phone. Every query is scoped to one agent.

A card shows the lead's last contact and next open follow-up; the follow-ups of the cards on
screen are read in one query, so a page costs the same few queries at 50 leads or 5,000.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead
from db.vocabulary import STATUSES

PER_COLUMN = 6  # cards per status on the overview; the rest are a click away, page by page
PAGE_SIZE = 25
MAX_QUERY = 100


@dataclass
class Card:
    id: int
    name: str
    phone: str | None
    status: str
    last_contacted: datetime | None
    next_due: datetime | None = None
    next_title: str | None = None


@dataclass
class Column:
    status: str
    count: int
    cards: list[Card] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.count - len(self.cards)


@dataclass
class LeadPage:
    cards: list[Card]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


_CARD_COLUMNS = (Lead.id, Lead.name, Lead.phone, Lead.status, Lead.last_contacted)
_RECENT_FIRST = (Lead.updated_at.desc(), Lead.id.desc())


def columns(session: Session, agent_id: int) -> list[Column]:
    """One column per status, in the spec's order, each with its count and latest cards."""
    counts = dict(session.execute(
        select(Lead.status, func.count()).where(Lead.agent_id == agent_id).group_by(Lead.status)
    ).all())
    ranked = (
        select(*_CARD_COLUMNS, func.row_number().over(
            partition_by=Lead.status, order_by=_RECENT_FIRST).label("place"))
        .where(Lead.agent_id == agent_id)
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.id, ranked.c.name, ranked.c.phone, ranked.c.status,
               ranked.c.last_contacted)
        .where(ranked.c.place <= PER_COLUMN)
        .order_by(ranked.c.status, ranked.c.place)
    ).all()
    cards = _with_follow_ups(session, agent_id, [Card(*row) for row in rows])
    by_status = {status: Column(status, counts.get(status, 0)) for status in STATUSES}
    for card in cards:
        by_status[card.status].cards.append(card)
    return list(by_status.values())


def status_page(session: Session, agent_id: int, status: str, page: int) -> LeadPage:
    query = select(*_CARD_COLUMNS).where(Lead.agent_id == agent_id, Lead.status == status)
    return _page(session, agent_id, query, page)


def search(session: Session, agent_id: int, text: str, page: int) -> LeadPage:
    """Leads whose name contains `text` (any case), or whose phone contains its digits."""
    text = text.strip()[:MAX_QUERY]
    conditions = [func.lower(Lead.name).contains(text.lower(), autoescape=True)]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3:
        conditions.append(Lead.phone.contains(digits, autoescape=True))
    query = select(*_CARD_COLUMNS).where(Lead.agent_id == agent_id, or_(*conditions))
    return _page(session, agent_id, query, page)


def _page(session: Session, agent_id: int, query: Select, page: int) -> LeadPage:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = min(max(1, page), max(1, -(-total // PAGE_SIZE)))
    rows = session.execute(
        query.order_by(*_RECENT_FIRST).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return LeadPage(_with_follow_ups(session, agent_id, [Card(*row) for row in rows]), total,
                    page)


def _with_follow_ups(session: Session, agent_id: int, cards: list[Card]) -> list[Card]:
    """Fill each card's next open follow-up (the earliest due), in one query."""
    if not cards:
        return cards
    by_id = {card.id: card for card in cards}
    rows = session.execute(
        select(Appointment.lead_id, Appointment.due_at, Appointment.title)
        .where(Appointment.agent_id == agent_id, Appointment.state == "scheduled",
               Appointment.lead_id.in_(by_id))
        .order_by(Appointment.lead_id, Appointment.due_at)
    ).all()
    for lead_id, due_at, title in rows:
        card = by_id[lead_id]
        if card.next_due is None:
            card.next_due, card.next_title = due_at, title
    return cards
