"""Agents (the `users` table): adding them and finding them by phone."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import User
from webapp.phones import normalize_phone


class AgentError(ValueError):
    """An agent cannot be added as asked; the message says why."""


def validate_timezone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or AgentError. Rejects abbreviations like 'EST' that shift with DST
    in people's minds but not in the database."""
    if name not in available_timezones():
        raise AgentError(f"unknown time zone {name!r}; use an IANA name such as America/Chicago")
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:  # pragma: no cover - available_timezones guards this
        raise AgentError(f"unknown time zone {name!r}") from exc


def add_agent(session: Session, name: str, phone: str, timezone: str, region: str) -> User:
    """Create an agent; the phone (national numbers read in `region`, the deployment's
    DEFAULT_COUNTRY) must be unique once normalized. The caller commits."""
    name = name.strip()
    if not name:
        raise AgentError("name is required")
    try:
        e164 = normalize_phone(phone, region)
    except ValueError as exc:
        raise AgentError(str(exc)) from exc
    validate_timezone(timezone)
    if find_agent(session, e164, region) is not None:
        raise AgentError(f"an agent with phone {e164} already exists")
    agent = User(name=name, phone=e164, timezone=timezone)
    session.add(agent)
    session.flush()
    return agent


def find_agent(session: Session, phone: str, region: str) -> User | None:
    """The agent whose phone is `phone` (any format; national numbers read in `region`)."""
    try:
        e164 = normalize_phone(phone, region)
    except ValueError:
        return None
    return session.scalar(select(User).where(User.phone == e164))
