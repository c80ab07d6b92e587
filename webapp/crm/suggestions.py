"""Which leads to act on next, and why: rules over the agent's book, most urgent first.

`suggest` returns structured `Suggestion`s (a lead, a reason code, since when, the follow-up
concerned), so the answer to "who should I call today?" and a later morning nudge share the
same rules and only word them differently. Each lead appears once, for its most urgent reason.
The rules, in order of urgency:

1. `overdue`: an open follow-up is past its due time (the longest overdue first);
2. `never_contacted`: a new lead nobody has contacted yet (the newest first: a fresh lead
   cools fastest);
3. `stale`: a negotiating, then a qualified lead with no contact for STALE_AFTER (the longest
   silence first; a lead added within that time is not stale yet);
4. `snoozed`: an open follow-up snoozed SNOOZED_TOO_OFTEN times or more (do it or drop it);
5. `due_today`: an open follow-up due later today;
6. `unscheduled`: a lead marked follow_up with no open follow-up.

Every rule reads at most a page of rows through an index, whatever the size of the book.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead
from webapp.crm.periods import day_span
from webapp.crm.wording import clock, day, due, purpose, status_words

MAX_SUGGESTIONS = 5
STALE_AFTER = timedelta(days=7)
SNOOZED_TOO_OFTEN = 3
PAGE = 50

REASONS: tuple[str, ...] = ("overdue", "never_contacted", "stale", "snoozed", "due_today",
                            "unscheduled")


@dataclass(frozen=True)
class Suggestion:
    lead_id: int
    lead: str
    phone: str | None
    status: str
    reason: str  # one of REASONS
    since: datetime | None  # due time, last contact or when the lead was added (by reason)
    follow_up_id: int | None = None
    follow_up_title: str | None = None
    snoozes: int = 0


Rule = Callable[[Session, int, ZoneInfo, datetime, set[int]], Iterator[Suggestion]]


def suggest(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
            limit: int = MAX_SUGGESTIONS, *, reasons: tuple[str, ...] = REASONS,
            exclude: frozenset[int] = frozenset()) -> list[Suggestion]:
    """Up to `limit` leads to act on, most urgent first, each once: only for `reasons`, and
    none of the leads in `exclude` (the morning agenda's nudges leave out what it lists)."""
    chosen: list[Suggestion] = []
    taken: set[int] = set(exclude)
    for reason, rule in zip(REASONS, RULES, strict=True):
        if reason not in reasons:
            continue
        if len(chosen) >= limit:
            break
        for suggestion in rule(session, agent_id, zone, now, set(taken)):
            if suggestion.lead_id in taken:
                continue
            chosen.append(suggestion)
            taken.add(suggestion.lead_id)
            if len(chosen) >= limit:
                break
    return chosen


# --- rules over follow-ups -----------------------------------------------------------------

def _follow_up_rows(session: Session, query: Select, taken: set[int]) -> Iterator:
    """Rows of `query` (ordered) page by page, leads already taken left out."""
    if taken:
        query = query.where(Appointment.lead_id.not_in(taken))
    offset = 0
    while True:
        rows = session.execute(query.offset(offset).limit(PAGE)).all()
        yield from rows
        if len(rows) < PAGE:
            return
        offset += PAGE


def _open_follow_ups(agent_id: int) -> Select:
    return (select(Appointment.id, Appointment.title, Appointment.due_at,
                   Appointment.snooze_count, Lead.id, Lead.name, Lead.phone, Lead.status)
            .join(Lead, Lead.id == Appointment.lead_id)
            .where(Appointment.agent_id == agent_id, Appointment.state == "scheduled"))


def _from_follow_ups(reason: str, session: Session, query: Select,
                     taken: set[int]) -> Iterator[Suggestion]:
    for row in _follow_up_rows(session, query, taken):
        appointment_id, title, due_at, snoozes, lead_id, name, phone, status = row
        yield Suggestion(lead_id, name, phone, status, reason, due_at, appointment_id, title,
                         snoozes)


def _overdue(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
             taken: set[int]) -> Iterator[Suggestion]:
    query = _open_follow_ups(agent_id).where(Appointment.due_at < now).order_by(
        Appointment.due_at, Appointment.id)
    return _from_follow_ups("overdue", session, query, taken)


def _snoozed(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
             taken: set[int]) -> Iterator[Suggestion]:
    query = _open_follow_ups(agent_id).where(
        Appointment.snooze_count >= SNOOZED_TOO_OFTEN).order_by(
        Appointment.snooze_count.desc(), Appointment.due_at, Appointment.id)
    return _from_follow_ups("snoozed", session, query, taken)


def _due_today(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
               taken: set[int]) -> Iterator[Suggestion]:
    end = day_span(now.astimezone(zone).date(), zone).end
    query = _open_follow_ups(agent_id).where(
        Appointment.due_at >= now, Appointment.due_at < end).order_by(
        Appointment.due_at, Appointment.id)
    return _from_follow_ups("due_today", session, query, taken)


# --- rules over leads ----------------------------------------------------------------------

def _leads(session: Session, query: Select, taken: set[int], limit: int) -> list:
    if taken:
        query = query.where(Lead.id.not_in(taken))
    return session.execute(query.limit(limit)).all()


_LEAD = (Lead.id, Lead.name, Lead.phone, Lead.status)


def _never_contacted(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
                     taken: set[int]) -> Iterator[Suggestion]:
    query = (select(*_LEAD, Lead.created_at)
             .where(Lead.agent_id == agent_id, Lead.status == "new",
                    Lead.last_contacted.is_(None))
             .order_by(Lead.created_at.desc(), Lead.id.desc()))
    for lead_id, name, phone, status, created in _leads(session, query, taken,
                                                        MAX_SUGGESTIONS):
        yield Suggestion(lead_id, name, phone, status, "never_contacted", created)


def _stale(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
           taken: set[int]) -> Iterator[Suggestion]:
    for wanted in ("negotiating", "qualified"):
        query = (select(*_LEAD, Lead.last_contacted)
                 .where(Lead.agent_id == agent_id, Lead.status == wanted,
                        func.coalesce(Lead.last_contacted, Lead.created_at) < now - STALE_AFTER)
                 .order_by(Lead.last_contacted.asc().nulls_first(), Lead.id))
        for lead_id, name, phone, status, contacted in _leads(session, query, taken,
                                                              MAX_SUGGESTIONS):
            yield Suggestion(lead_id, name, phone, status, "stale", contacted)


def _unscheduled(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
                 taken: set[int]) -> Iterator[Suggestion]:
    has_open = exists().where(Appointment.lead_id == Lead.id,
                              Appointment.state == "scheduled")
    query = (select(*_LEAD, Lead.updated_at)
             .where(Lead.agent_id == agent_id, Lead.status == "follow_up", ~has_open)
             .order_by(Lead.updated_at, Lead.id))
    for lead_id, name, phone, status, updated in _leads(session, query, taken,
                                                        MAX_SUGGESTIONS):
        yield Suggestion(lead_id, name, phone, status, "unscheduled", updated)


RULES: tuple[Rule, ...] = (_overdue, _never_contacted, _stale, _snoozed, _due_today,
                           _unscheduled)


# --- words ---------------------------------------------------------------------------------

def why(suggestion: Suggestion, zone: ZoneInfo, now: datetime) -> str:
    """The reason in a few words: 'overdue since Mon Mar 2 (send comps)'."""
    s = suggestion
    what = purpose(s.follow_up_title or "", s.lead)
    about = f" ({what})" if what else ""
    today = now.astimezone(zone).date()
    since = s.since.astimezone(zone) if s.since else None
    if s.reason == "overdue" and since is not None:
        when = clock(since) if since.date() == today else day(since.date(), today)
        snoozed = f", snoozed {s.snoozes} times" if s.snoozes >= SNOOZED_TOO_OFTEN else ""
        return f"overdue since {when}{about}{snoozed}"
    if s.reason == "never_contacted":
        added = since.date() if since else today
        when = "today" if added == today else f"since {day(added, today)}"
        return f"new {when}, never contacted"
    if s.reason == "stale":
        if since is None:
            return f"{status_words(s.status)}, never contacted"
        return f"{status_words(s.status)}, no contact for {(now - since).days} days"
    if s.reason == "snoozed" and since is not None:
        return f"snoozed {s.snoozes} times{about}, due {due(since, zone, now)}"
    if s.reason == "due_today" and since is not None:
        return f"due {clock(since)} today{about}"
    if s.reason == "unscheduled":
        return "marked follow up, nothing scheduled"
    return s.reason.replace("_", " ")
