"""Answers about leads: one lead's status or briefing, the leads in a status, the pipeline."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Appointment, ClientInteraction, Lead
from db.vocabulary import STATUSES
from webapp.crm.answers.shape import BRIEF_SEGMENTS, SEGMENTS, Answer
from webapp.crm.sms_budget import CUT, cut, cut_words, fits, listed
from webapp.crm.wording import day, day_short, due, purpose, status_words
from webapp.phones import display_phone
from webapp.understanding.lead_names import fold_name

NOT_FOUND = "I couldn't find that lead."
NO_LEADS = 'You have no leads yet. Text e.g. "New lead Jane Roe 312-555-0123".'
BRIEF_INTERACTIONS = 3
SPOKEN_NOTE_WORDS = 15
_TYPE_WORDS = {"call": "Call", "meeting": "Meeting", "viewing": "Viewing", "email": "Email",
               "text": "Text", "note": "Note"}


def own_lead(session: Session, agent_id: int, lead_id: object) -> Lead | None:
    """The agent's lead `lead_id`; None for another agent's lead or none at all."""
    if not isinstance(lead_id, int) or isinstance(lead_id, bool):
        return None
    lead = session.get(Lead, lead_id)
    return lead if lead is not None and lead.agent_id == agent_id else None


def _last_contact(lead: Lead, zone: ZoneInfo, now: datetime) -> str | None:
    if lead.last_contacted is None:
        return None
    return day(lead.last_contacted.astimezone(zone).date(), now.astimezone(zone).date())


def lead_status(session: Session, agent_id: int, lead_id: object, zone: ZoneInfo,
                now: datetime) -> Answer:
    """'John Doe is 'contacted'. Last contacted Thu Mar 5.'"""
    lead = own_lead(session, agent_id, lead_id)
    if lead is None:
        return Answer(NOT_FOUND)
    contact = _last_contact(lead, zone, now)
    tail = f"Last contacted {contact}." if contact else "No contact logged yet."
    return Answer(f"{lead.name} is '{lead.status}'. {tail}")


# --- a briefing ------------------------------------------------------------------------------

def _sentence(label: str, note: str) -> str:
    if not note:
        return f"{label}."
    return f"{label}: {note}" + ("" if note[-1] in ".!?" + CUT else ".")


def lead_brief(session: Session, agent_id: int, lead_id: object, zone: ZoneInfo,
               now: datetime) -> Answer:
    """Status, phone, email, last contact, the last three interactions (type, day, note) and
    the next open follow-up, within three segments: older notes are cut first."""
    lead = own_lead(session, agent_id, lead_id)
    if lead is None:
        return Answer(NOT_FOUND)
    today = now.astimezone(zone).date()
    facts = [status_words(lead.status)]
    if lead.phone:
        facts.append(display_phone(lead.phone))
    if lead.email:
        facts.append(lead.email)
    contact = _last_contact(lead, zone, now)
    facts.append(f"last contact {contact}" if contact else "never contacted")
    head = f"{lead.name} — {' · '.join(facts)}."

    interactions = session.execute(
        select(ClientInteraction.type, ClientInteraction.note, ClientInteraction.occurred_at)
        .where(ClientInteraction.lead_id == lead.id, ClientInteraction.agent_id == agent_id)
        .order_by(ClientInteraction.occurred_at.desc(), ClientInteraction.id.desc())
        .limit(BRIEF_INTERACTIONS)
    ).all()
    labels = [f"{_TYPE_WORDS.get(kind, kind.title())} "
              f"{day_short(at.astimezone(zone).date(), today)}"
              for kind, _, at in interactions]
    notes = [" ".join((note or "").split()) for _, note, _ in interactions]

    upcoming = session.execute(
        select(Appointment.title, Appointment.due_at)
        .where(Appointment.lead_id == lead.id, Appointment.agent_id == agent_id,
               Appointment.state == "scheduled")
        .order_by(Appointment.due_at, Appointment.id)
        .limit(1)
    ).first()
    if upcoming is None:
        next_line = "Nothing scheduled."
    else:
        what = purpose(upcoming.title, lead.name) or "follow up"
        when = due(upcoming.due_at, zone, now)
        overdue = upcoming.due_at < now
        next_line = f"Next: {what}, overdue since {when}." if overdue else f"Next: {what} {when}."
    if interactions:
        text = _fit_brief(head, labels, notes, next_line)
        spoken = [_sentence(label, cut_words(note, SPOKEN_NOTE_WORDS))
                  for label, note in zip(labels, notes, strict=True)]
    else:
        spoken = ["No interactions logged."]
        text = cut(" ".join([head, *spoken, next_line]), BRIEF_SEGMENTS)
    # For the ear: the latest interaction, then what is next, then the older ones.
    return Answer(text, head=head, items=(spoken[0], next_line, *spoken[1:]))


def _fit_brief(head: str, labels: list[str], notes: list[str], next_line: str) -> str:
    """The briefing within BRIEF_SEGMENTS, cutting the oldest notes first, word by word."""
    notes = list(notes)

    def render() -> str:
        said = [_sentence(label, note) for label, note in zip(labels, notes, strict=True)]
        return " ".join([head, *said, next_line])

    for index in range(len(notes) - 1, -1, -1):
        if fits(render(), BRIEF_SEGMENTS):
            return render()
        full = notes[index]
        if not full:
            continue
        low, high, kept = 0, len(full.split()) - 1, None  # the most words that still fit
        while low <= high:
            middle = (low + high) // 2
            notes[index] = cut_words(full, middle)
            if fits(render(), BRIEF_SEGMENTS):
                kept, low = middle, middle + 1
            else:
                high = middle - 1
        notes[index] = cut_words(full, kept or 0)
    return cut(render(), BRIEF_SEGMENTS)


# --- many leads ------------------------------------------------------------------------------

def leads_by_status(session: Session, agent_id: int, status: object) -> Answer:
    """'3 leads are qualified: Dana Cole, John Smith, Zoe Park.' (alphabetical, counted)."""
    if not status:  # "list my leads": a count per status, not 5,000 names
        return Answer(lead_counts_text(session, agent_id))
    if status not in STATUSES:
        return Answer(f"'{status}' is not a status.")
    names = sorted(session.scalars(select(Lead.name).where(Lead.agent_id == agent_id,
                                                           Lead.status == status)),
                   key=lambda name: (fold_name(name), name))
    label = status_words(str(status))
    if not names:
        return Answer(f"No leads are {label}.")
    head = f"1 lead is {label}:" if len(names) == 1 else f"{len(names)} leads are {label}:"
    text = listed(head + " ", names, SEGMENTS, separator=", ", end=".")
    return Answer(text, head=head.rstrip(":") + ".", items=tuple(names))


def lead_counts(session: Session, agent_id: int) -> dict[str, int]:
    return dict(session.execute(
        select(Lead.status, func.count(Lead.id))
        .where(Lead.agent_id == agent_id)
        .group_by(Lead.status)
    ).all())


def lead_counts_text(session: Session, agent_id: int) -> str:
    """'You have 5 leads: 1 new, 2 contacted, 1 qualified, 1 negotiating.'"""
    counts = lead_counts(session, agent_id)
    if not counts:
        return NO_LEADS
    parts = [f"{counts[s]} {status_words(s)}" for s in STATUSES if counts.get(s)]
    return f"You have {sum(counts.values())} leads: {', '.join(parts)}."


def pipeline(session: Session, agent_id: int) -> Answer:
    """Every status in the pipeline's order, zeros included: where the leads stand."""
    counts = lead_counts(session, agent_id)
    if not counts:
        return Answer(NO_LEADS)
    total = sum(counts.values())
    parts = ", ".join(f"{status_words(s)} {counts.get(s, 0)}" for s in STATUSES)
    noun = "lead" if total == 1 else "leads"
    return Answer(f"Pipeline, {total} {noun}: {parts}.")
