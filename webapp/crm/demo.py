"""Demo data for the README's first run: one agent and a dozen leads with some history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ClientInteraction, Lead, User

DEMO_AGENT = {"name": "Alex Rivera", "phone": "+13125550100", "timezone": "America/Chicago"}

DEMO_LEADS = [
    ("John Doe", "+13125550123", "john.doe@example.com", "contacted"),
    ("Jane Doe", "+13125550124", "jane.doe@example.com", "new"),
    ("Sarah Smith", "+13125550125", "sarah@example.com", "contacted"),
    ("John Smith", "+13125550126", None, "qualified"),
    ("Dana Cole", "+17735550127", "dana.cole@example.com", "negotiating"),
    ("José García", "+17735550128", "jose@example.com", "new"),
    ("Mark Price", "+13125550129", None, "follow_up"),
    ("April Jones", "+13125550130", "april@example.com", "qualified"),
    ("Chloë O'Brien", "+13125550131", None, "contacted"),
    ("Priya Patel", "+13125550132", "priya@example.com", "new"),
    ("Michael Chen", "+13125550133", "mchen@example.com", "closed_won"),
    ("Karen Lopez", None, "karen.lopez@example.com", "closed_lost"),
]


def seed_demo(session: Session) -> User:
    """Create the demo agent and leads unless they exist; safe to run on every start."""
    agent = session.scalar(select(User).where(User.phone == DEMO_AGENT["phone"]))
    if agent is None:
        agent = User(**DEMO_AGENT)
        session.add(agent)
        session.flush()
    existing = set(session.scalars(select(Lead.name).where(Lead.agent_id == agent.id)))
    now = datetime.now(UTC)
    for name, phone, email, status in DEMO_LEADS:
        if name in existing:
            continue
        lead = Lead(agent_id=agent.id, name=name, phone=phone, email=email, status=status)
        session.add(lead)
        session.flush()
        if status != "new":
            session.add(
                ClientInteraction(
                    lead_id=lead.id,
                    agent_id=agent.id,
                    type="call",
                    note="first call",
                    occurred_at=now - timedelta(days=3),
                    channel="cli",
                )
            )
            lead.last_contacted = now - timedelta(days=3)
    session.flush()
    return agent
