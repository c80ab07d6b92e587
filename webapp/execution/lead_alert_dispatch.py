"""New-lead alerts, sent: claim the waiting ones, write their text, hand the ids on.

Claiming an alert (`sent_at`, then `message_id`) and writing its text (a queued `messages` row)
happen in one transaction, as for reminders, so "alerted" and "a text exists to send" never
disagree: two dispatchers at once (two beats, beat and the hand-off after a lead's commit) text
a lead once, and a worker killed after the commit leaves a queued row the recovery sweep sends.
On PostgreSQL each dispatcher locks the rows it takes (`SKIP LOCKED`: neither waits on the
other); on every backend the claim is a guarded UPDATE that only takes rows still waiting.

What an agent gets from one dispatch: one waiting alert is one text ("New lead: Dana Cole
(+1 312-555-0123), from the API. Note: …. Reply 'called, <how it went>' or 'remind me
<when>'."), whose lead the next message's "him" and "called" then mean; several (an import, or
leads that waited through the night together) are one summary text naming them, and make no
lead "him". Alerts wait, unclaimed:

* during quiet hours in the agent's zone, unless the agent turned alerts at night on;
* while the agent has opted out (STOP): START brings them, folded into one summary;
* in a batch still growing (the API's batch upsert commits lead by lead), until its writer
  says it is complete (`complete_batches`) or nothing joined it for BATCH_SETTLE.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from db.models import ClientInteraction, Lead, LeadAlert, User
from db.session import Database
from webapp.crm.sms_budget import fits
from webapp.execution.reminder_dispatch import ReminderRules
from webapp.outbound.messages import queue_text
from webapp.phones import display_phone

# A batch nobody said was complete is summarised once no lead joined it for this long.
BATCH_SETTLE = timedelta(seconds=30)
MAX_SEGMENTS = 2
CLAIM_CHUNK = 500  # ids per guarded UPDATE (SQLite's bound-parameter limit, with room)
REPLY_HINT = "Reply 'called, <how it went>' or 'remind me <when>'."
SOURCES = {"web": "from the web app", "api": "from the API", "import": "from an import",
           "cli": "from the command line"}
# Typographic quotes (phones type them) would make the whole text UCS-2: half the room.
PLAIN_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


@dataclass(frozen=True)
class _Waiting:
    """An agent with alerts waiting: which of their batches may go now (None: no batch)."""

    agent_id: int
    ready_batches: frozenset[str | None]
    oldest: datetime


def dispatch_lead_alerts(
    db: Database, now: datetime, rules: ReminderRules, *,
    agent_ids: Collection[int] | None = None, complete_batches: Collection[str] = (),
    limit: int = 500,
) -> list[int]:
    """Text each agent (of `agent_ids`, default all) their waiting alerts that may go now, in a
    short transaction per agent; return the ids of the queued texts, for the caller to send.

    `complete_batches`: batches whose writer committed its last lead (the hand-off after an
    import) and may be summarised at once. At most `limit` agents, those waiting longest first.
    """
    message_ids = []
    for waiting in _agents_waiting(db, now, rules, agent_ids, set(complete_batches), limit):
        message_id = _alert_agent(db, waiting, now)
        if message_id is not None:
            message_ids.append(message_id)
    return message_ids


def _agents_waiting(db: Database, now: datetime, rules: ReminderRules,
                    agent_ids: Collection[int] | None, complete: set[str], limit: int
                    ) -> list[_Waiting]:
    """The agents whose alerts may go now (quiet hours, opt-outs and growing batches held)."""
    query = (
        select(LeadAlert.agent_id, LeadAlert.batch, func.min(LeadAlert.created_at),
               func.max(LeadAlert.created_at), User.timezone, User.alerts_at_night)
        .join(User, User.id == LeadAlert.agent_id)
        .where(LeadAlert.sent_at.is_(None), User.opted_out.is_(False))
        .group_by(LeadAlert.agent_id, LeadAlert.batch, User.timezone, User.alerts_at_night)
    )
    if agent_ids is not None:
        query = query.where(LeadAlert.agent_id.in_(list(agent_ids)))
    ready: dict[int, set[str | None]] = {}
    oldest: dict[int, datetime] = {}
    with db.session() as session:
        for agent_id, batch, first, newest, timezone, at_night in session.execute(query):
            if not at_night and rules.in_quiet_hours(now.astimezone(ZoneInfo(timezone))):
                continue
            if batch is not None and batch not in complete and newest > now - BATCH_SETTLE:
                continue
            ready.setdefault(agent_id, set()).add(batch)
            oldest[agent_id] = min(first, oldest.get(agent_id, first))
    waiting = [_Waiting(agent_id, frozenset(batches), oldest[agent_id])
               for agent_id, batches in ready.items()]
    waiting.sort(key=lambda w: (w.oldest, w.agent_id))
    return waiting[:limit]


def _alert_agent(db: Database, waiting: _Waiting, now: datetime) -> int | None:
    """Claim the agent's alerts that may go, write their one text; its message id, or None
    when another dispatcher took them first (or the agent opted out meanwhile)."""
    batches = [batch for batch in waiting.ready_batches if batch is not None]
    which = [LeadAlert.batch.in_(batches)] if batches else []
    if None in waiting.ready_batches:
        which.append(LeadAlert.batch.is_(None))
    with db.session() as session:
        agent = session.get(User, waiting.agent_id)
        if agent is None or agent.opted_out:  # STOP came in between: they wait for START
            return None
        query = (
            select(LeadAlert.id, Lead)
            .join(Lead, Lead.id == LeadAlert.lead_id)
            .where(LeadAlert.agent_id == agent.id, LeadAlert.sent_at.is_(None), or_(*which))
            .order_by(LeadAlert.created_at, LeadAlert.id)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Two dispatchers never wait on each other: each takes rows the other has not locked.
            query = query.with_for_update(skip_locked=True, of=LeadAlert)
        found = {alert_id: lead for alert_id, lead in session.execute(query)}
        claimed = _claim(session, list(found), now)
        if not claimed:
            return None
        leads = [found[alert_id] for alert_id in found if alert_id in claimed]
        if len(leads) == 1:
            body = alert_text(leads[0], _latest_note(session, leads[0].id))
        else:
            body = summary_text(leads)
        message = queue_text(session, agent_id=agent.id, phone=agent.phone, body=body)
        ids = sorted(claimed)
        for start in range(0, len(ids), CLAIM_CHUNK):
            session.execute(
                update(LeadAlert).where(LeadAlert.id.in_(ids[start:start + CLAIM_CHUNK]))
                .values(message_id=message.id).execution_options(synchronize_session=False))
        session.commit()
        return message.id


def _claim(session: Session, alert_ids: list[int], now: datetime) -> set[int]:
    """The guarded UPDATE that makes an alert exactly-once on every backend: of `alert_ids`,
    those still waiting, now claimed in this transaction."""
    claimed: set[int] = set()
    for start in range(0, len(alert_ids), CLAIM_CHUNK):
        chunk = alert_ids[start:start + CLAIM_CHUNK]
        claimed.update(session.scalars(
            update(LeadAlert)
            .where(LeadAlert.id.in_(chunk), LeadAlert.sent_at.is_(None))
            .values(sent_at=now)
            .returning(LeadAlert.id)
            .execution_options(synchronize_session=False)
        ))
    return claimed


def _latest_note(session: Session, lead_id: int) -> str | None:
    """What is known about a new lead: its newest note (an API create may carry one, an
    import its history)."""
    return session.scalar(
        select(ClientInteraction.note)
        .where(ClientInteraction.lead_id == lead_id, ClientInteraction.note != "")
        .order_by(ClientInteraction.occurred_at.desc(), ClientInteraction.id.desc()).limit(1)
    )


def source_words(source: str | None) -> str | None:
    """'from the web app', 'from the API', 'from zillow' (a lead source's name); None unknown."""
    if not source:
        return None
    return SOURCES.get(source, f"from {source}")


def alert_text(lead: Lead, note: str | None) -> str:
    """E.g. "New lead: Dana Cole (+1 312-555-0123), from the API. Note: wants a 3-bed. Reply
    'called, <how it went>' or 'remind me <when>'." — the note cut to keep two segments."""
    contact = display_phone(lead.phone) if lead.phone else lead.email
    head = f"New lead: {lead.name}" + (f" ({contact})" if contact else "")
    source = source_words(lead.source)
    head += (f", {source}." if source else ".")
    words = " ".join((note or "").translate(PLAIN_QUOTES).split()).split(" ")

    def with_note(count: int) -> str:
        said = " ".join(words[:count]).rstrip(" ,;:-")
        if not said:
            return f"{head} {REPLY_HINT}"
        if count < len(words):
            said += "..."
        elif said[-1] not in ".!?":
            said += "."
        return f"{head} Note: {said} {REPLY_HINT}"

    if fits(with_note(len(words)), MAX_SEGMENTS):
        return with_note(len(words))
    low, high = 0, len(words)  # `low` words fit, `high` do not
    while high - low > 1:
        middle = (low + high) // 2
        if fits(with_note(middle), MAX_SEGMENTS):
            low = middle
        else:
            high = middle
    return with_note(low)


def summary_text(leads: list[Lead]) -> str:
    """One text for several new leads: "12 new leads from an import: Dana Cole, Sam Lee, +10
    more. Text 'who is new' to list them." — as many names as two segments hold."""
    sources = {lead.source for lead in leads}
    source = source_words(sources.pop()) if len(sources) == 1 else None
    head = f"{len(leads)} new leads" + (f" {source}" if source else "") + ": "
    if all(lead.status == "new" for lead in leads):
        hint = " Text 'who is new' to list them."
    else:
        hint = " Text LOGIN to see them in the web app."
    names = [lead.name for lead in leads[:40]]  # no two segments hold more
    for count in range(len(names), 0, -1):
        left = len(leads) - count
        listed = ", ".join(names[:count]) + (f", +{left} more" if left else "")
        text = f"{head}{listed}.{hint}"
        if fits(text, MAX_SEGMENTS):
            return text
    return f"{head.rstrip(': ')}.{hint}"
