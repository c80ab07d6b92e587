"""The CRM's tables (names as the CRM already uses them), as SQLAlchemy 2.x typed models.

All instants are stored in UTC and come back timezone-aware (see `UTCDateTime`), on SQLite as
on PostgreSQL. Allowed values live in CHECK constraints so bad data cannot get in by any path.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.vocabulary import (
    APPOINTMENT_STATES,
    CHANGE_KINDS,
    CHANNELS,
    INTERACTION_TYPES,
    MESSAGE_DIRECTIONS,
    PLAN_STATES,
    STATUSES,
    WEBHOOK_DELIVERY_STATES,
    WEBHOOK_ENDPOINT_STATES,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored in UTC and always read back timezone-aware.

    SQLite has no time zones, so values are normalised to UTC on the way in and tagged UTC on
    the way out; naive datetimes are refused because their meaning would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store timezone-aware instants only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _external_ids() -> Mapped[dict[str, str]]:
    """A small map an integration sets on an object ({"fub": "123"}), returned by the API."""
    return mapped_column(JSON, default=dict, server_default=text("'{}'"))


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    # Stable constraint names, so Alembic migrations can refer to them on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    """A real-estate agent: the only people who can talk to the assistant."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name, validated on input
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # Secret part of the agent's calendar feed URL (/calendar/<token>.ics); None until asked for.
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Settings the agent changes by text: a new-lead alert during quiet hours is sent at once
    # (instead of held until morning) only when `alerts_at_night`; the morning agenda carries
    # suggestions ("nudges") unless `nudges_on` is turned off.
    alerts_at_night: Mapped[bool] = mapped_column(Boolean, default=False,
                                                  server_default=false())
    nudges_on: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    leads: Mapped[list[Lead]] = relationship(back_populates="agent")

    __table_args__ = (CheckConstraint("phone LIKE '+%'", name="phone_e164"),)


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(20), default="new")
    last_contacted: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the lead came from: a channel (sms, voice, web, api, import, cli) or, in time, a
    # lead source's name. None for leads older than the column.
    source: Mapped[str | None] = mapped_column(String(40))
    external_ids: Mapped[dict[str, str]] = _external_ids()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    agent: Mapped[User] = relationship(back_populates="leads")

    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status_valid"),
        Index("ix_leads_agent_id_name", "agent_id", "name"),
        # The API lists an agent's objects in id order (its paging cursor).
        Index("ix_leads_agent_id_id", "agent_id", "id"),
        # One agent's leads by status (the pipeline, who is in a status, won/lost reports), and
        # leads added in a period (stats).
        Index("ix_leads_agent_id_status", "agent_id", "status"),
        Index("ix_leads_agent_id_created_at", "agent_id", "created_at"),
    )


class ClientInteraction(Base):
    __tablename__ = "client_interactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(10))
    plan_id: Mapped[str | None] = mapped_column(String(64), index=True)
    external_ids: Mapped[dict[str, str]] = _external_ids()
    # When the row was written (occurred_at is when the call or meeting happened).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(_in("type", INTERACTION_TYPES), name="type_valid"),
        CheckConstraint(_in("channel", CHANNELS), name="channel_valid"),
        Index("ix_client_interactions_agent_id_id", "agent_id", "id"),
        # One agent's interactions in a time range, counted by week and type from the index
        # alone (reports, stats; the parser's "everyone I called this week"); a lead's first
        # contact, and its timeline, in time order.
        Index("ix_client_interactions_agent_id_occurred_at_type", "agent_id", "occurred_at",
              "type"),
        Index("ix_client_interactions_lead_id_occurred_at", "lead_id", "occurred_at"),
    )


_UNREMINDED = "state = 'scheduled' AND reminded_at IS NULL AND parked_at IS NULL"
_OUTSTANDING = "state = 'scheduled' AND reminded_at IS NOT NULL"
_OPEN = "state = 'scheduled'"
_DONE = "state = 'done'"


class Appointment(Base):
    """A follow-up the agent asked to be reminded of."""

    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(12), default="scheduled")
    # Reminder bookkeeping. A dispatcher claims a due follow-up and writes its reminder text
    # (a `messages` row, which carries the provider sid once sent) in one transaction, so
    # "reminded" and "a text exists to send" can never disagree.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    reminder_number: Mapped[int | None] = mapped_column(Integer)  # "DONE 2" refers to it
    reminder_late: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the follow-up fell due while its agent had opted out (STOP): parked out of the
    # dispatcher's sight (its partial index) until START clears it, instead of being read
    # again, and skipped, by every dispatch.
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # iCalendar SEQUENCE: bumped whenever the event changes (moved, retitled, cancelled), so a
    # subscribed calendar replaces its copy instead of keeping the old one.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    snooze_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when marked done
    channel: Mapped[str] = mapped_column(String(10), default="sms")
    plan_id: Mapped[str | None] = mapped_column(String(64), index=True)
    external_ids: Mapped[dict[str, str]] = _external_ids()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(_in("state", APPOINTMENT_STATES), name="state_valid"),
        Index("ix_appointments_agent_id_id", "agent_id", "id"),
        # Partial indexes: the dispatcher reads only what is due and not yet reminded, and
        # DONE/SNOOZE only an agent's outstanding reminders, however large the table grows.
        Index("ix_appointments_due_unreminded", "due_at", "id",
              postgresql_where=text(_UNREMINDED), sqlite_where=text(_UNREMINDED)),
        Index("ix_appointments_outstanding", "agent_id", "reminder_number",
              postgresql_where=text(_OUTSTANDING), sqlite_where=text(_OUTSTANDING)),
        Index("ix_appointments_agent_id_due_at", "agent_id", "due_at"),
        # Answers read an agent's open follow-ups by due time (agenda, lists, suggestions,
        # missed ones in stats) and done ones by completion (stats), counted from the index;
        # so does the parser naming one ("my 2pm", "the contract reminder").
        Index("ix_appointments_open", "agent_id", "due_at",
              postgresql_where=text(_OPEN), sqlite_where=text(_OPEN)),
        Index("ix_appointments_done", "agent_id", "completed_at",
              postgresql_where=text(_DONE), sqlite_where=text(_DONE)),
        # The parser: a lead's open follow-ups, earliest first ("cancel the follow-up with
        # Dana"), and the one changed last ("push it back an hour" right after a change).
        Index("ix_appointments_open_lead_due", "lead_id", "due_at",
              postgresql_where=text(_OPEN), sqlite_where=text(_OPEN)),
        Index("ix_appointments_agent_id_updated_at", "agent_id", "updated_at"),
    )


class LeadHistory(Base):
    """Audit trail of status changes: who changed what, when, through which channel."""

    __tablename__ = "lead_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    old_status: Mapped[str | None] = mapped_column(String(20))
    new_status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(10))
    plan_id: Mapped[str | None] = mapped_column(String(64), index=True)

    __table_args__ = (
        CheckConstraint(_in("new_status", STATUSES), name="new_status_valid"),
        CheckConstraint(_in("channel", CHANNELS), name="channel_valid"),
        Index("ix_lead_history_agent_id_id", "agent_id", "id"),
        # Stats: leads won or lost in a period.
        Index("ix_lead_history_agent_id_new_status_changed_at", "agent_id", "new_status",
              "changed_at"),
    )


class ChangeHistory(Base):
    """Audit trail of changes to a lead's details and to follow-ups (statuses have their own,
    `lead_history`): what changed from what to what, by which plan, through which channel.

    `changes` maps each changed field to [old, new] (instants as ISO 8601, UTC), e.g.
    {"due_at": ["2026-03-06T16:00:00+00:00", "2026-03-10T15:00:00+00:00"]}.
    """

    __tablename__ = "change_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    changes: Mapped[dict] = mapped_column(JSON)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(10))
    plan_id: Mapped[str | None] = mapped_column(String(64), index=True)

    __table_args__ = (
        CheckConstraint(_in("kind", CHANGE_KINDS), name="kind_valid"),
        CheckConstraint(_in("channel", CHANNELS), name="channel_valid"),
    )


class Message(Base):
    """Every inbound and outbound SMS or voice turn."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # A voice turn's call (Twilio's CallSid); a call has many turns, each its own row.
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(10), default="sms")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    phone: Mapped[str | None] = mapped_column(String(20))  # the other party's number
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(20))
    plan_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(_in("direction", MESSAGE_DIRECTIONS), name="direction_valid"),
        Index("ix_messages_agent_id_created_at", "agent_id", "created_at"),
        Index("ix_messages_status", "status"),
    )


class ExecutedPlan(Base):
    """One row per confirmed plan: the durable promise, then what it did.

    Written as `confirmed` before the task is queued; the task moves it to `executed` (with
    `result`, what undo needs) or `failed`. The unique plan id makes execution exactly-once.
    """

    __tablename__ = "executed_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12), default="confirmed")
    plan: Mapped[dict] = mapped_column(JSON)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # Runs a worker started (committed before it claims the plan, so a worker killed mid-run
    # still counts); MAX_PLAN_ATTEMPTS bounds these. `requeues`: how often the recovery sweep
    # queued it again (spacing the re-queues), which says nothing about any run.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last run's start
    requeues: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    undoes_plan_id: Mapped[str | None] = mapped_column(String(64))
    undone_by_plan_id: Mapped[str | None] = mapped_column(String(64))
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("state", PLAN_STATES), name="state_valid"),
        CheckConstraint(_in("channel", CHANNELS), name="channel_valid"),
        Index("ix_executed_plans_state_confirmed_at", "state", "confirmed_at"),
        Index("ix_executed_plans_agent_id_executed_at", "agent_id", "executed_at"),
    )


class DailyAgenda(Base):
    """One row per agent per local day once the morning agenda was handled, so two beats (or a
    restart) never send it twice: the unique key is the claim."""

    __tablename__ = "daily_agendas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    # None while claimed but not yet written (a worker writes it); a claim left unwritten by a
    # dead worker is handed out again by the next beat.
    composed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("agent_id", "day"),
        Index("ix_daily_agendas_unwritten", "created_at",
              postgresql_where=text("composed_at IS NULL"),
              sqlite_where=text("composed_at IS NULL")),
    )


class Nudge(Base):
    """A suggestion the morning agenda carried, under the number the agent can answer with
    ("2 is lost", "remind me about 2 tomorrow"). Kept so those numbers resolve the next time the
    agent texts, and so tomorrow's agenda repeats one only if its `severity` grew."""

    __tablename__ = "nudges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agenda_id: Mapped[int] = mapped_column(ForeignKey("daily_agendas.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)  # the agenda's local day
    number: Mapped[int] = mapped_column(Integer)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    severity: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("agenda_id", "number"),
        Index("ix_nudges_agent_id_day", "agent_id", "day"),
    )


class LeadAlert(Base):
    """A new lead that did not come from the agent's own text, to be texted to the agent at
    once (held through quiet hours unless they opted in). Written in the transaction that adds
    the lead; `message_id` is the claim: set once, in the transaction that writes the text.
    Leads of one import share a `batch` and are texted as one summary."""

    __tablename__ = "lead_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), unique=True)
    batch: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_lead_alerts_waiting", "created_at",
              postgresql_where=text("sent_at IS NULL"), sqlite_where=text("sent_at IS NULL")),
        Index("ix_lead_alerts_agent_id_sent_at", "agent_id", "sent_at"),
    )


class ApiKey(Base):
    """A key of the integration API. It acts for one agent; only its SHA-256 is kept (the key
    itself is shown once, at creation), and `prefix` lets a person tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyRecord(Base):
    """The first answer to a POST sent with an `Idempotency-Key`, so a retry of the same request
    gets it again instead of doing the work twice. `status_code` is None while the first
    request is still running. Kept 24 hours."""

    __tablename__ = "api_idempotency_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("api_key_id", "key"),)


class WebhookEndpoint(Base):
    """Where an agent's events are POSTed, signed with `secret` (Standard Webhooks, whsec_...).
    `events` lists the event types wanted; empty means all. A 410 Gone disables it."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(10), default="active")
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    external_ids: Mapped[dict[str, str]] = _external_ids()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (CheckConstraint(_in("state", WEBHOOK_ENDPOINT_STATES), name="state_valid"),)


_DUE_DELIVERY = "state = 'pending'"


class WebhookDelivery(Base):
    """The outbox: one event for one endpoint, written in the transaction of the change it
    announces, then delivered by a worker (claimed with a guarded UPDATE, like a text).

    `message_id` is the Standard Webhooks `webhook-id`: the same on every attempt, so a
    receiver can drop a duplicate. `payload` is the exact body that is signed and sent.
    `lead_id` orders delivery: an event is sent only when no earlier one of the same lead to
    the same endpoint is still pending or being delivered.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    lead_id: Mapped[int | None] = mapped_column(Integer)  # no FK: a deleted lead's events stay
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retry_until: Mapped[datetime] = mapped_column(UTCDateTime)  # then it is given up (failed)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(_in("state", WEBHOOK_DELIVERY_STATES), name="state_valid"),
        # The sweep reads only what waits; the order check only one lead's events of one endpoint.
        Index("ix_webhook_deliveries_due", "next_attempt_at", "id",
              postgresql_where=text(_DUE_DELIVERY), sqlite_where=text(_DUE_DELIVERY)),
        Index("ix_webhook_deliveries_endpoint_id_lead_id_id", "endpoint_id", "lead_id", "id"),
        Index("ix_webhook_deliveries_state_updated_at", "state", "updated_at"),
    )


class LoginLink(Base):
    """A one-time sign-in link for the web app, texted to the agent (or printed by the CLI).

    Only a SHA-256 of the link's secret is stored, so a copy of this table signs nobody in.
    A link works once (`used_at`, set by a guarded UPDATE), for a short time (`expires_at`),
    and a newer link retires the agent's older unused ones (`retired_at`).
    """

    __tablename__ = "login_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                          index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser. The cookie holds a random id; this row holds only its SHA-256, so
    "sign out everywhere" is deleting the agent's rows, and a copy of the table is no key."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                          index=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NoteTemplate(Base):
    """A note an agent types often, under a short name ("lv": "left a voicemail, will try again
    tomorrow"): a note that is only the name (or a comma-separated piece of a note that is) is
    written out as the text. `name` is stored lowercase; one per name per agent."""

    __tablename__ = "note_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("agent_id", "name"),)


class EmailDraft(Base):
    """An email the assistant drafted for an agent to send to a lead themselves (Fieldline never
    e-mails a lead). Kept so the texted link (/app/drafts/<id>) and "log it" can find it; the
    lead's address is read when the page is shown, so a corrected address is used."""

    __tablename__ = "email_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    about: Mapped[str] = mapped_column(String(300), default="")  # as the agent asked
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    writer: Mapped[str] = mapped_column(String(10))  # model | template
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(_in("writer", ("model", "template")), name="writer_valid"),
        # "log it": the agent's newest draft.
        Index("ix_email_drafts_agent_id_id", "agent_id", "id"),
    )
