"""Nudges: up to three numbered suggestions the morning agenda adds after its follow-ups.

They follow the rules of the "who should I call today?" answer (`crm.suggestions`), minus what
the agenda already lists (follow-ups due today or overdue, and their leads). Each is stored in
`nudges` under its number, so "2 is lost" or "remind me about 2 tomorrow" finds its lead later
that day, and so tomorrow's agenda can tell a repeat: a lead nudged yesterday is left out
unless its reason got worse (a more urgent reason, or the same one a step further along:
silent for 14 days instead of 7, snoozed four times instead of three).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead, Nudge
from webapp.crm.periods import day_span
from webapp.crm.suggestions import REASONS, Suggestion, suggest, why

MAX_NUDGES = 3
# What the agenda does not already list: overdue and due-today follow-ups are its own lines.
NUDGE_REASONS = ("never_contacted", "stale", "snoozed", "unscheduled")
# Steps of "how far along" a reason is, in days (or snoozes): crossing one is "got worse".
_STEPS = {
    "never_contacted": (1, 3, 7, 14),
    "stale": (14, 30, 60, 90),
    "snoozed": (4, 5, 6, 8, 10),
    "unscheduled": (7, 14, 30, 60),
}
HINT = 'Reply e.g. "{n} is lost" or "remind me about 1 tomorrow".'


@dataclass(frozen=True)
class Picked:
    number: int
    suggestion: Suggestion
    severity: int


def severity(suggestion: Suggestion, now: datetime) -> int:
    """A number that grows when the suggestion gets more urgent: its reason's urgency first,
    then how many steps along that reason it is."""
    s = suggestion
    if s.reason == "snoozed":
        measure = s.snoozes
    else:
        measure = (now - s.since).days if s.since is not None else 10_000
    steps = sum(1 for step in _STEPS.get(s.reason, ()) if measure >= step)
    return (len(REASONS) - REASONS.index(s.reason)) * 100 + steps


def pick_nudges(session: Session, agent_id: int, day: date, zone: ZoneInfo,
                now: datetime) -> list[Picked]:
    """Today's nudges, most urgent first, numbered from 1; none repeats yesterday's unless it
    got worse."""
    end_of_day = day_span(day, zone).end
    listed = frozenset(session.scalars(  # the agenda's own leads
        select(Appointment.lead_id).distinct().where(
            Appointment.agent_id == agent_id, Appointment.state == "scheduled",
            Appointment.due_at < end_of_day)))
    yesterday = dict(session.execute(
        select(Nudge.lead_id, Nudge.severity).where(
            Nudge.agent_id == agent_id, Nudge.day == day - timedelta(days=1))).all())
    skipped: set[int] = set()
    while True:  # at most once more per lead nudged yesterday
        found = suggest(session, agent_id, zone, now, MAX_NUDGES, reasons=NUDGE_REASONS,
                        exclude=listed | skipped)
        repeats = {s.lead_id for s in found
                   if s.lead_id in yesterday and severity(s, now) <= yesterday[s.lead_id]}
        if not repeats:
            return [Picked(n, s, severity(s, now)) for n, s in enumerate(found, start=1)]
        skipped |= repeats


def record_nudges(session: Session, agenda_id: int, agent_id: int, day: date,
                  picked: list[Picked]) -> None:
    """Keep what the agenda showed, under its numbers (in the agenda's transaction)."""
    session.add_all(Nudge(agenda_id=agenda_id, agent_id=agent_id, day=day, number=p.number,
                          lead_id=p.suggestion.lead_id, reason=p.suggestion.reason,
                          severity=p.severity) for p in picked)


def nudge_lines(picked: list[Picked], zone: ZoneInfo, now: datetime) -> str:
    """The agenda's closing block: 'Worth a look:\\n1. Dana Cole: new today, never contacted'."""
    if not picked:
        return ""
    lines = ["Worth a look:"]
    lines += [f"{p.number}. {p.suggestion.lead}: {why(p.suggestion, zone, now)}" for p in picked]
    lines.append(HINT.format(n=min(2, len(picked))))
    return "\n".join(lines)


def todays_nudges(session: Session, agent_id: int, day: date) -> dict[int, str]:
    """Number -> lead name of the nudges the agent was sent on `day` (their local day): what
    "2" means in "2 is lost". Yesterday's numbers mean nothing today."""
    rows = session.execute(
        select(Nudge.number, Lead.name).join(Lead, Lead.id == Nudge.lead_id)
        .where(Nudge.agent_id == agent_id, Nudge.day == day)).all()
    return {number: name for number, name in rows}
