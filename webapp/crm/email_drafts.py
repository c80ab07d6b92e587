"""Email drafts in the database (issue 19): the facts a draft is written from, the stored
drafts, and the words the agent gets back.

A draft is stored so the texted link (/app/drafts/<id>) and "log it" can find it. Whether it was
logged is not a flag to keep in step: it is whether an `email` interaction with the draft's
subject as its note was logged on the lead since the draft was made (so an UNDO of the log
makes it loggable again). Nothing here sends anything to a lead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from db.models import Appointment, ClientInteraction, EmailDraft, Lead, User
from webapp.crm.sms_budget import cut_words
from webapp.understanding.draft_writing import MAX_NOTES, Draft, DraftFacts, Interaction
from webapp.understanding.drafts import DraftRef

RECENT_DAYS = 90  # interactions older than this are no longer what an email builds on
FIRST_WORDS = 24  # of the body, in the text back


def draft_facts(session: Session, agent: User, lead_id: int, about: str, thank_you: bool,
                now: datetime) -> DraftFacts | None:
    """What a draft for the agent's lead `lead_id` may say, or None if there is no such lead."""
    lead = _own_lead(session, agent.id, lead_id)
    if lead is None:
        return None
    zone = ZoneInfo(agent.timezone)
    rows = session.execute(
        select(ClientInteraction.type, ClientInteraction.occurred_at, ClientInteraction.note)
        .where(ClientInteraction.lead_id == lead.id, ClientInteraction.agent_id == agent.id,
               ClientInteraction.occurred_at >= now - timedelta(days=RECENT_DAYS),
               ClientInteraction.occurred_at <= now)
        .order_by(ClientInteraction.occurred_at.desc(), ClientInteraction.id.desc())
        .limit(MAX_NOTES)
    ).all()
    upcoming = session.execute(
        select(Appointment.title, Appointment.due_at)
        .where(Appointment.lead_id == lead.id, Appointment.agent_id == agent.id,
               Appointment.state == "scheduled", Appointment.due_at > now)
        .order_by(Appointment.due_at, Appointment.id).limit(1)
    ).first()
    return DraftFacts(
        lead=lead.name, agent=agent.name, about=about, thank_you=thank_you,
        now=now.astimezone(zone),
        interactions=tuple(Interaction(kind, at.astimezone(zone), note or "")
                           for kind, at, note in rows),
        next_follow_up=(upcoming.title, upcoming.due_at.astimezone(zone)) if upcoming else None,
    )


def store_draft(session: Session, agent_id: int, lead_id: int, about: str, draft: Draft,
                now: datetime) -> EmailDraft:
    """Add the draft (the caller commits)."""
    row = EmailDraft(agent_id=agent_id, lead_id=lead_id, about=about[:300],
                     subject=draft.subject[:200], body=draft.body, writer=draft.writer,
                     created_at=now)
    session.add(row)
    session.flush()
    return row


def own_draft(session: Session, agent_id: int, draft_id: int) -> tuple[EmailDraft, Lead] | None:
    """The agent's draft `draft_id` and its lead; another agent's draft does not exist."""
    row = session.execute(
        select(EmailDraft, Lead).join(Lead, Lead.id == EmailDraft.lead_id)
        .where(EmailDraft.id == draft_id, EmailDraft.agent_id == agent_id,
               Lead.agent_id == agent_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def is_logged(session: Session, draft: EmailDraft) -> bool:
    """Was an email with this draft's subject logged on its lead since it was drafted?"""
    return bool(session.scalar(select(_logged(draft.lead_id, draft.subject, draft.created_at))))


def latest_draft(session: Session, agent_id: int) -> DraftRef | None:
    """The agent's newest draft, for "log it"."""
    row = session.execute(
        select(EmailDraft, Lead.name).join(Lead, Lead.id == EmailDraft.lead_id)
        .where(EmailDraft.agent_id == agent_id)
        .order_by(EmailDraft.id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    draft, name = row
    return DraftRef(draft.id, draft.lead_id, name, draft.subject, draft.created_at,
                    is_logged(session, draft))


def _logged(lead_id: int, subject: str, since: datetime):
    return exists().where(ClientInteraction.lead_id == lead_id,
                          ClientInteraction.type == "email",
                          ClientInteraction.note == subject,
                          ClientInteraction.occurred_at >= since)


def _own_lead(session: Session, agent_id: int, lead_id: int) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.id == lead_id, Lead.agent_id == agent_id))


# --- what the agent reads -----------------------------------------------------------------------


def mailto(email: str | None, subject: str, body: str) -> str:
    """An RFC 6068 mailto: URL with the subject and body filled (spaces as %20, lines as CRLF),
    to the lead's address when there is one."""
    to = quote(email or "", safe="@")
    text = body.replace("\r\n", "\n").replace("\n", "\r\n")
    return f"mailto:{to}?subject={quote(subject, safe='')}&body={quote(text, safe='')}"


def draft_reply(lead: str, email: str | None, draft: Draft, url: str | None,
                left_out: str = "") -> str:
    """The text back: the subject, the first words of the body, the link to the full draft
    (with "Open in mail" and "Copy"), how to log it once sent, and what else was said but not
    done (`left_out`)."""
    lines_of_body = [line.strip() for line in draft.body.splitlines() if line.strip()]
    if lines_of_body and lines_of_body[0].endswith(",") and len(lines_of_body[0]) < 40:
        lines_of_body = lines_of_body[1:]  # "Hi Dana,": the text shows what follows it
    first = " ".join(lines_of_body)
    lines = [f"Draft email to {lead}" + (f" ({email}):" if email else ":"),
             f"Subject: {draft.subject}", cut_words(first, FIRST_WORDS)]
    if url:
        lines.append(f"Full draft, Open in mail and Copy: {url}")
    if not email:
        lines.append(f"No email address on file for {lead}.")
    lines.append('Once you have sent it, reply "log it" to log the email.')
    if left_out:
        lines.append(f'Not done, send it on its own: "{left_out}"')
    return "\n".join(lines)
