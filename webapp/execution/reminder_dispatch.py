"""Follow-up reminders and the morning agenda: claim what fell due, write its text, hand ids on.

Claiming a follow-up and writing its reminder text (a queued `messages` row) happen in one
transaction, so "reminded" and "a text exists to send" can never disagree; the outbound sender
then sends that row at most once and the recovery sweep re-queues it if a worker died. Nothing
waits in the broker with a long ETA: the database decides what is due, every few seconds.

Follow-ups that fall due while their agent has opted out (STOP) cannot be reminded; rather than
read and skip them on every dispatch, the dispatch parks them (`parked_at`, which takes them out
of its partial index) and START brings them back (`resume_parked_reminders`): they are then
reminded as late ones are, folded into a catch-up text when they are old.

The morning agenda is split the same way, so any number of workers share it: beat only claims
(`claim_daily_agendas`: one `daily_agendas` row per agent whose local agenda hour has come,
inserted in bulk and committed) and hands the claim ids to workers in batches; a worker writes
each claim's text (`write_daily_agendas`) under a row lock and marks it `composed_at`. A claim
still unwritten a few minutes later belonged to a dead worker or a lost task: beat hands it out
again (`unwritten_agenda_claims`), and the lock and `composed_at` make a second copy a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from db.models import Appointment, DailyAgenda, Lead, User
from db.session import Database
from webapp.crm.answers import agenda_text
from webapp.crm.answers.shape import BRIEF_SEGMENTS, SEGMENTS
from webapp.crm.nudges import nudge_lines, pick_nudges, record_nudges
from webapp.ops import counters
from webapp.outbound.messages import queue_text
from webapp.phones import display_phone

log = logging.getLogger(__name__)

MAX_CATCH_UP_LINES = 10
REPLY_HINT = "Reply DONE, or SNOOZE 1h / SNOOZE tomorrow."
# The morning agenda with its nudges may take a third segment, as a briefing does.
AGENDA_SEGMENTS = BRIEF_SEGMENTS
AGENDA_WINDOW_HOURS = 4
# Claims per `write_agendas` task: small enough that two workers finish within a task of each
# other, large enough that a time zone's 10,000 agents are a hundred tasks, not ten thousand.
AGENDA_BATCH = 100
# Claims written in one transaction: one lock and one commit for all of them, not one each.
AGENDAS_PER_COMMIT = 20
# A claim unwritten this long after it was made lost its worker or its task: handed out again.
UNWRITTEN_AFTER = timedelta(minutes=5)
MAX_HANDED_OUT_AGAIN = 10_000  # per beat; the rest wait for the next one


@dataclass(frozen=True)
class ReminderRules:
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    max_lateness: timedelta = timedelta(hours=12)  # older than this: folded into a catch-up
    late_after: timedelta = timedelta(minutes=5)  # later than this: the text says it is late
    agenda_hour: int = 8

    @classmethod
    def from_config(cls, config: dict) -> ReminderRules:
        return cls(
            quiet_start=time.fromisoformat(config["QUIET_HOURS_START"]),
            quiet_end=time.fromisoformat(config["QUIET_HOURS_END"]),
            max_lateness=timedelta(seconds=config["MAX_REMINDER_LATENESS"]),
            agenda_hour=config["AGENDA_HOUR"],
        )

    def in_quiet_hours(self, local: datetime) -> bool:
        moment = local.time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= moment < self.quiet_end
        return moment >= self.quiet_start or moment < self.quiet_end

    def agenda_due(self, local: datetime) -> bool:
        """Whether `local` (an agent's wall clock) is in the morning agenda's window: the agenda
        hour and AGENDA_WINDOW_HOURS after it, so a long outage never sends a "morning" agenda
        at night."""
        return self.agenda_hour <= local.hour < self.agenda_hour + AGENDA_WINDOW_HOURS

    def hold(self, due_local: datetime, now_local: datetime) -> bool:
        """Hold until morning during quiet hours, unless the agent set the follow-up inside
        them on purpose (then its time was explicit)."""
        return self.in_quiet_hours(now_local) and not self.in_quiet_hours(due_local)


def dispatch_due_reminders(
    db: Database,
    now: datetime,
    rules: ReminderRules,
    limit: int = 200,
    max_batches: int = 50,
    on_batch: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """Claim due follow-ups in batches of `limit`, write their texts; return the message ids.

    Each batch is its own short transaction (`on_batch` gets its ids right after the commit, so
    sending starts while later batches are claimed). Batches walk the due rows in (due_at, id)
    order, so follow-ups held for quiet hours never starve later ones behind them.
    """
    message_ids: list[int] = []
    after: tuple[datetime, int] | None = None
    park_opted_out(db, now)
    for _ in range(max_batches):
        batch, after = _dispatch_batch(db, now, rules, limit, after)
        message_ids += batch
        if batch and on_batch is not None:
            on_batch(batch)
        if after is None:
            break
    return message_ids


def _dispatch_batch(
    db: Database, now: datetime, rules: ReminderRules, limit: int,
    after: tuple[datetime, int] | None,
) -> tuple[list[int], tuple[datetime, int] | None]:
    """One batch; also returns where the next one starts (None when this was the last)."""
    with db.session() as session:
        query = (
            select(Appointment, Lead, User)
            .join(Lead, Lead.id == Appointment.lead_id)
            .join(User, User.id == Appointment.agent_id)
            .where(
                Appointment.state == "scheduled",
                Appointment.reminded_at.is_(None),
                Appointment.parked_at.is_(None),
                Appointment.due_at <= now,
                User.opted_out.is_(False),
            )
            .order_by(Appointment.due_at, Appointment.id)
            .limit(limit)
        )
        if after is not None:
            due_at, appointment_id = after
            query = query.where(
                or_(
                    Appointment.due_at > due_at,
                    and_(Appointment.due_at == due_at, Appointment.id > appointment_id),
                )
            )
        if session.get_bind().dialect.name == "postgresql":
            # Two dispatchers never wait on each other: each takes rows the other has not locked.
            query = query.with_for_update(skip_locked=True, of=Appointment)
        by_agent: dict[int, list[tuple[Appointment, Lead, User]]] = {}
        last: tuple[datetime, int] | None = None
        count = 0
        for appointment, lead, agent in session.execute(query):
            by_agent.setdefault(agent.id, []).append((appointment, lead, agent))
            last = (appointment.due_at, appointment.id)
            count += 1

        message_ids = []
        for rows in by_agent.values():
            message_ids += _remind_agent(session, rows, now, rules)
        session.commit()
    return message_ids, (last if count == limit else None)


def _claim(session: Session, appointment: Appointment, now: datetime) -> bool:
    """The guarded UPDATE that makes a reminder exactly-once on every backend."""
    claimed = session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.reminded_at.is_(None),
               Appointment.parked_at.is_(None), Appointment.state == "scheduled",
               # unchanged since it was read: a follow-up moved, retitled or closed in between
               # (by a plan committed after the dispatcher's SELECT) is not reminded of as it was
               Appointment.sequence == appointment.sequence,
               Appointment.due_at <= now)
        .values(reminded_at=now)
    ).rowcount
    return claimed == 1


def park_opted_out(db: Database, now: datetime) -> int:
    """Park the due, unreminded follow-ups of agents who opted out, so later dispatches do not
    read them again; returns how many. Their `updated_at` is kept: nothing about the
    follow-up itself changed (the calendar feed must not see an edit)."""
    with db.session() as session:
        parked = session.execute(
            update(Appointment)
            .where(
                Appointment.state == "scheduled",
                Appointment.reminded_at.is_(None),
                Appointment.parked_at.is_(None),
                Appointment.due_at <= now,
                Appointment.agent_id.in_(select(User.id).where(User.opted_out.is_(True))),
            )
            .values(parked_at=now, updated_at=Appointment.updated_at)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
    return parked


def resume_parked_reminders(session: Session, agent_id: int) -> int:
    """START: the agent's parked follow-ups are due again (reminded at the next dispatch, as
    late ones). In the caller's transaction; returns how many."""
    return session.execute(
        update(Appointment)
        .where(Appointment.agent_id == agent_id, Appointment.parked_at.is_not(None))
        .values(parked_at=None, updated_at=Appointment.updated_at)
        .execution_options(synchronize_session=False)
    ).rowcount


def _next_number(session: Session, agent_id: int) -> int:
    highest = session.scalar(
        select(func.max(Appointment.reminder_number)).where(
            Appointment.agent_id == agent_id,
            Appointment.state == "scheduled",
            Appointment.reminded_at.is_not(None),
        )
    )
    return (highest or 0) + 1


def _remind_agent(session: Session, rows: list, now: datetime, rules: ReminderRules) -> list[int]:
    agent: User = rows[0][2]
    zone = ZoneInfo(agent.timezone)
    now_local = now.astimezone(zone)
    single, folded = [], []
    for appointment, lead, _ in rows:
        if rules.hold(appointment.due_at.astimezone(zone), now_local):
            continue
        if not _claim(session, appointment, now):
            continue
        appointment.reminder_number = _next_number(session, agent.id)
        appointment.reminder_late = now - appointment.due_at > rules.late_after
        (folded if now - appointment.due_at > rules.max_lateness else single).append(
            (appointment, lead)
        )
        session.flush()

    message_ids = []
    numbered = _outstanding_count(session, agent.id) > 1
    for appointment, lead in single:
        body = reminder_text(appointment, lead, zone, numbered)
        message = queue_text(session, agent_id=agent.id, phone=agent.phone, body=body)
        appointment.reminder_message_id = message.id
        message_ids.append(message.id)
    if folded:
        body = catch_up_text([(a, lead) for a, lead in folded], zone)
        message = queue_text(session, agent_id=agent.id, phone=agent.phone, body=body)
        for appointment, _ in folded:
            appointment.reminder_message_id = message.id
        message_ids.append(message.id)
    counters.count_reminder_batch(single, folded)
    return message_ids


def _outstanding_count(session: Session, agent_id: int) -> int:
    return session.scalar(
        select(func.count(Appointment.id)).where(
            Appointment.agent_id == agent_id,
            Appointment.state == "scheduled",
            Appointment.reminded_at.is_not(None),
        )
    ) or 0


def _what(appointment: Appointment, lead: Lead) -> str:
    """'Follow up with John Doe (+1 312-555-0123): send the contract'."""
    contact = f" ({display_phone(lead.phone)})" if lead.phone else ""
    default_title = appointment.title.strip().lower() == f"follow up with {lead.name}".lower()
    purpose = "" if default_title else f": {appointment.title}"
    return f"Follow up with {lead.name}{contact}{purpose}"


def reminder_text(appointment: Appointment, lead: Lead, zone: ZoneInfo, numbered: bool) -> str:
    """E.g. "⏰ Follow up with John Doe (+1 312-555-0123): send the contract. Reply DONE, or
    SNOOZE 1h / SNOOZE tomorrow." — numbered ("#2 ... DONE 2") when several are outstanding."""
    late = ""
    if appointment.reminder_late:
        due = appointment.due_at.astimezone(zone).strftime("%a %-I:%M %p")
        late = f" (late — was due {due})"
    if numbered:
        n = appointment.reminder_number
        return (f"⏰ #{n} {_what(appointment, lead)}{late}. "
                f"Reply DONE {n}, or SNOOZE {n} 1h / SNOOZE {n} tomorrow.")
    return f"⏰ {_what(appointment, lead)}{late}. {REPLY_HINT}"


def catch_up_text(rows: list[tuple[Appointment, Lead]], zone: ZoneInfo) -> str:
    """One message for reminders that fell due long ago (the service was down)."""
    lines = ["⏰ While I was offline these follow-ups came due:"]
    for appointment, lead in rows[:MAX_CATCH_UP_LINES]:
        due = appointment.due_at.astimezone(zone).strftime("%a %b %-d %-I:%M %p")
        lines.append(f"#{appointment.reminder_number} {_what(appointment, lead)} (due {due})")
    if len(rows) > MAX_CATCH_UP_LINES:
        lines.append(f"…and {len(rows) - MAX_CATCH_UP_LINES} more. Text AGENDA for the list.")
    lines.append("Reply DONE <#> or SNOOZE <#> <when>.")
    return "\n".join(lines)


def dispatch_daily_agendas(db: Database, now: datetime, rules: ReminderRules) -> list[int]:
    """Claim and write, in this process, the morning agendas that came due at `now`; return
    their text ids. What beat and the workers do in two steps, for callers without Celery."""
    return write_daily_agendas(db, claim_daily_agendas(db, now, rules), now, rules)


def claim_daily_agendas(db: Database, now: datetime, rules: ReminderRules) -> list[int]:
    """Claim today's agenda of every agent (not opted out) whose local agenda hour has come;
    return the new claims' ids, committed, for workers to write.

    Zones, not agents, are compared with the clock: one read of the distinct zones, then one
    INSERT ... SELECT per local day among those in their window (at most two: the zones
    around the date line). The unique (agent, day) key is the claim: a second beat, or a
    rerun, inserts nothing. Agents already claimed today are left out before the insert (so
    the beats of the four-hour window do not burn an id each per agent) and ON CONFLICT DO
    NOTHING settles two beats racing.
    """
    with db.session() as session:
        zones = session.scalars(
            select(User.timezone).where(User.opted_out.is_(False)).distinct()).all()
        by_day: dict[date, list[str]] = {}
        for zone in zones:
            local = now.astimezone(ZoneInfo(zone))
            if rules.agenda_due(local):
                by_day.setdefault(local.date(), []).append(zone)
        claim_ids: list[int] = []
        for day, day_zones in sorted(by_day.items()):
            claim_ids += session.scalars(_claim_statement(session, day, day_zones, now)).all()
        session.commit()
    return sorted(claim_ids)


def _claim_statement(session: Session, day: date, zones: list[str], now: datetime):
    """INSERT INTO daily_agendas ... SELECT the agents of `zones` without a claim for `day`
    ... ON CONFLICT DO NOTHING RETURNING id, in the session's dialect."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    claimed = exists().where(DailyAgenda.agent_id == User.id, DailyAgenda.day == day)
    agents = select(
        User.id,
        bindparam("day", day, type_=DailyAgenda.__table__.c.day.type),
        bindparam("now", now, type_=DailyAgenda.__table__.c.created_at.type),
    ).where(User.opted_out.is_(False), User.timezone.in_(zones), ~claimed)
    return (dialect.insert(DailyAgenda)
            .from_select(["agent_id", "day", "created_at"], agents)
            .on_conflict_do_nothing(index_elements=["agent_id", "day"])
            .returning(DailyAgenda.id))


def unwritten_agenda_claims(db: Database, now: datetime,
                            older_than: timedelta = UNWRITTEN_AFTER) -> list[int]:
    """Claims made `older_than` or longer before `now` and still not written: their worker
    died or their task was lost. Beat hands them out again (writing is idempotent by claim);
    read through the partial index of unwritten claims, however many days the table holds."""
    with db.session() as session:
        return list(session.scalars(
            select(DailyAgenda.id)
            .where(DailyAgenda.composed_at.is_(None), DailyAgenda.created_at <= now - older_than)
            .order_by(DailyAgenda.created_at, DailyAgenda.id)
            .limit(MAX_HANDED_OUT_AGAIN)))


def write_daily_agendas(
    db: Database, claim_ids: list[int], now: datetime, rules: ReminderRules,
    on_text: Callable[[int], None] | None = None,
) -> list[int]:
    """Write the agenda of each claim not yet written, AGENDAS_PER_COMMIT claims to a
    transaction; return the ids of the texts queued (`on_text` gets each right after its
    commit, so sending starts while later agendas are written).

    Idempotent by claim: one already written, or locked by another worker writing it, is
    skipped, so a redelivered task or a second copy handed out by beat changes nothing. When
    one agent's agenda fails, its group is written again one claim to a transaction, so only
    that claim is left unwritten (logged; beat hands it out again).
    """
    message_ids = []
    for start in range(0, len(claim_ids), AGENDAS_PER_COMMIT):
        group = claim_ids[start:start + AGENDAS_PER_COMMIT]
        try:
            written = _write_claims(db, group, now, rules)
        except OperationalError:
            raise  # the database is away: the task retries the whole batch
        except Exception:
            written = []
            for claim_id in group:
                try:
                    written += _write_claims(db, [claim_id], now, rules)
                except OperationalError:
                    raise
                except Exception:
                    log.exception("morning agenda not written", extra={"claim_id": claim_id})
        message_ids += written
        if on_text is not None:
            for message_id in written:
                on_text(message_id)
    return message_ids


def _write_claims(db: Database, claim_ids: list[int], now: datetime,
                  rules: ReminderRules) -> list[int]:
    """Lock the unwritten claims among `claim_ids`, write them, commit: one transaction. The
    ids of the texts queued."""
    with db.session() as session:
        message_ids = []
        for claim, agent in _lock_unwritten(session, claim_ids, now):
            zone = ZoneInfo(agent.timezone)
            if _too_late(claim, now.astimezone(zone), now, rules):
                claim.composed_at = now
                log.info("morning agenda window passed; not sent", extra={"agent_id": agent.id})
                continue
            message_id = write_agenda(session, claim, agent, zone, now)
            if message_id is not None:
                message_ids.append(message_id)
        session.commit()
    return message_ids


def _lock_unwritten(session: Session, claim_ids: list[int],
                    now: datetime) -> list[tuple[DailyAgenda, User]]:
    """The claims among `claim_ids` not yet written, with their agents, now this
    transaction's to write."""
    # By primary key alone, and `composed_at` checked on the rows read: with "composed_at IS
    # NULL" in the WHERE, PostgreSQL walks the partial index of unwritten claims instead (its
    # statistics, from before the morning's claims, say it is empty), a scan of every claim
    # still unwritten for each one written.
    query = (select(DailyAgenda, User).join(User, User.id == DailyAgenda.agent_id)
             .where(DailyAgenda.id.in_(claim_ids)).order_by(DailyAgenda.id))
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # Two workers never wait on each other: a claim locked is being written already.
        # The rows read under the lock are the latest committed: written ones are left out.
        query = query.with_for_update(skip_locked=True, of=DailyAgenda)
    rows = session.execute(query).all()
    return [(claim, agent) for claim, agent in rows if claim.composed_at is None
            and (postgres or _take_unlocked(session, claim.id, now))]


def _take_unlocked(session: Session, claim_id: int, now: datetime) -> bool:
    """SQLite has no row locks: a guarded UPDATE takes the database's write lock before the
    text is written, and finds nothing when another writer got there first."""
    return session.execute(
        update(DailyAgenda)
        .where(DailyAgenda.id == claim_id, DailyAgenda.composed_at.is_(None))
        .values(composed_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1


def _too_late(claim: DailyAgenda, local: datetime, now: datetime, rules: ReminderRules) -> bool:
    """A claim handed out again after its window closed (the workers were down for hours) is
    marked written without a text: no "morning" agenda in the afternoon or the next day. One
    handed out for the first time is written even if the window closed a moment ago."""
    handed_again = now - claim.created_at >= UNWRITTEN_AFTER
    return handed_again and (local.date() != claim.day or not rules.agenda_due(local))


def write_agenda(session: Session, claim: DailyAgenda, agent: User, zone: ZoneInfo,
                 now: datetime) -> int | None:
    """Write the claimed morning agenda: its text queued (only when follow-ups are due today
    or overdue) and the claim marked written, in the caller's transaction (the caller
    commits); the text's id, or None."""
    day = claim.day
    end_of_day = datetime.combine(day, time(0), tzinfo=zone) + timedelta(days=1)
    has_items = session.scalar(
        select(func.count(Appointment.id)).where(
            Appointment.agent_id == agent.id,
            Appointment.state == "scheduled",
            Appointment.due_at < end_of_day,
        )
    )
    picked = pick_nudges(session, agent.id, day, zone, now) if agent.nudges_on else []
    if has_items or picked:
        record_nudges(session, claim.id, agent.id, day, picked)
        # Plain words: an emoji would make the whole text UCS-2, halving what two segments hold.
        body = agenda_text(session, agent.id, zone, now, day.isoformat(),
                           lead_in="Good morning! ", tail=nudge_lines(picked, zone, now),
                           segments=AGENDA_SEGMENTS if picked else SEGMENTS)
        message = queue_text(session, agent_id=agent.id, phone=agent.phone, body=body)
        claim.message_id = message.id
    claim.composed_at = now
    return claim.message_id
