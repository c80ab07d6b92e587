"""Model constraints and time handling, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from db.models import Appointment, Lead, User


def _agent(session, phone: str = "+13125550100") -> User:
    agent = User(name="Alex", phone=phone, timezone="America/Chicago")
    session.add(agent)
    session.flush()
    return agent


def test_lead_status_outside_the_list_is_refused_by_the_database(db_session) -> None:
    agent = _agent(db_session)
    db_session.add(Lead(agent_id=agent.id, name="John Doe", status="hot"))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_every_spec_status_is_accepted(db_session) -> None:
    agent = _agent(db_session)
    for status in (
        "new", "contacted", "qualified", "negotiating", "closed_won", "closed_lost", "follow_up"
    ):
        db_session.add(Lead(agent_id=agent.id, name=f"Lead {status}", status=status))
    db_session.flush()


def test_two_agents_cannot_share_a_phone(db_session) -> None:
    _agent(db_session)
    db_session.add(User(name="Other", phone="+13125550100", timezone="UTC"))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_naive_datetimes_are_refused(db_session) -> None:
    agent = _agent(db_session)
    lead = Lead(agent_id=agent.id, name="John Doe")
    db_session.add(lead)
    db_session.flush()
    db_session.add(
        Appointment(lead_id=lead.id, agent_id=agent.id, title="x", due_at=datetime(2026, 3, 8))
    )
    with pytest.raises(Exception, match="naive"):
        db_session.flush()


@pytest.mark.parametrize(
    "local",
    [
        datetime(2026, 3, 8, 1, 30, tzinfo=ZoneInfo("America/Chicago")),  # just before DST
        datetime(2026, 3, 8, 3, 30, tzinfo=ZoneInfo("America/Chicago")),  # just after DST
        datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/Chicago")),  # repeated hour
        datetime(2026, 7, 1, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata")),
    ],
)
def test_instants_round_trip_as_the_same_moment_in_utc(app, local: datetime) -> None:
    from webapp.database import get_db

    with get_db(app).session() as session:
        agent = _agent(session)
        lead = Lead(agent_id=agent.id, name="John Doe")
        session.add(lead)
        session.flush()
        session.add(Appointment(lead_id=lead.id, agent_id=agent.id, title="x", due_at=local))
        session.commit()
    with get_db(app).session() as session:
        stored = session.scalar(select(Appointment.due_at))
    assert stored.tzinfo is not None
    assert stored == local.astimezone(UTC)
    assert stored.utcoffset() == UTC.utcoffset(None)
    assert stored.astimezone(local.tzinfo).replace(fold=0) == local.replace(fold=0)
