"""A fixed book for the read-only answers: one agent in Chicago with eight leads, their
interactions, follow-ups and status history, and a second agent whose data must never show.

"Now" is Thursday 2026-03-05 15:00 in Chicago, three days before the US daylight-saving change.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from db.models import Appointment, ClientInteraction, Lead, LeadHistory, User
from db.session import Database

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 5, 15, 0, tzinfo=CHICAGO)
AGENT_PHONE = "+13125550100"


def at(*args: int) -> datetime:
    """A local time in Chicago."""
    return datetime(*args, tzinfo=CHICAGO)


LEADS = [  # name, phone, email, status, created, last contacted
    ("Dana Cole", "+17735550127", "dana@example.com", "negotiating", at(2026, 2, 1, 9),
     at(2026, 3, 5, 11, 20)),
    ("John Doe", "+13125550123", None, "contacted", at(2026, 1, 10, 9), at(2026, 2, 20, 10)),
    ("Sarah Smith", "+13125550125", None, "qualified", at(2026, 1, 15, 9), at(2026, 2, 10, 10)),
    ("Jane Doe", "+13125550124", None, "new", at(2026, 3, 4, 9), None),
    ("John Smith", "+13125550126", None, "qualified", at(2026, 2, 1, 9), at(2026, 3, 3, 9)),
    ("Emily Chen", None, "emily@example.com", "closed_won", at(2025, 11, 1, 9),
     at(2026, 3, 2, 16)),
    ("Mike Johnson", None, None, "closed_lost", at(2025, 12, 1, 9), at(2026, 2, 25, 9)),
    ("Robert Brown", None, None, "follow_up", at(2026, 2, 2, 9), at(2026, 2, 26, 9)),
]
INTERACTIONS = [  # lead, type, note, when
    ("Dana Cole", "viewing", "loved the kitchen", at(2026, 3, 5, 11, 20)),
    ("Dana Cole", "call", "asked about the HOA fees and wants comps for the three houses on "
     "Elm Street before Friday, also worried about the roof and the inspection timeline",
     at(2026, 3, 3, 16)),
    ("Dana Cole", "email", "sent the disclosures", at(2026, 2, 27, 9)),
    ("Dana Cole", "note", "prefers texts", at(2026, 2, 20, 9)),
    ("John Doe", "call", "no answer", at(2026, 2, 20, 10)),
    ("John Smith", "meeting", "coffee, pre-approved", at(2026, 3, 3, 9)),
    ("John Smith", "call", "", at(2026, 3, 2, 9)),
    ("Emily Chen", "viewing", "", at(2026, 3, 2, 16)),
    ("Robert Brown", "call", "call back in spring", at(2026, 2, 26, 9)),
    ("Mike Johnson", "call", "went with another agent", at(2026, 2, 25, 9)),
]
FOLLOW_UPS = [  # lead, title, due, state, snoozes
    ("Dana Cole", "send comps", at(2026, 3, 9, 14), "scheduled", 0),
    ("John Doe", "send the contract", at(2026, 3, 5, 17), "scheduled", 0),
    ("John Doe", "call back", at(2026, 3, 2, 10), "scheduled", 3),
    ("John Smith", "Follow up with John Smith", at(2026, 3, 5, 9), "scheduled", 0),
    ("Sarah Smith", "send listing", at(2026, 3, 6, 10), "scheduled", 0),
    ("Sarah Smith", "old idea", at(2026, 3, 6, 11), "cancelled", 0),
    ("Sarah Smith", "book the inspection", at(2026, 3, 4, 10), "done", 0),
    ("Emily Chen", "send a closing gift", at(2026, 3, 12, 10), "scheduled", 0),
]
HISTORY = [  # lead, old, new, when
    ("Emily Chen", "negotiating", "closed_won", at(2026, 3, 2, 16, 30)),
    ("Mike Johnson", "qualified", "closed_lost", at(2026, 2, 25, 9, 30)),
    ("Dana Cole", "qualified", "negotiating", at(2026, 3, 5, 11, 25)),
]


def load_book(db: Database) -> dict[str, int]:
    """Write the book; returns the ids by name ("agent", "other", and each lead's name)."""
    ids: dict[str, int] = {}
    with db.session() as session:
        agent = User(name="Alex Rivera", phone=AGENT_PHONE, timezone="America/Chicago")
        other = User(name="Sam Other", phone="+13125550199", timezone="America/Chicago")
        session.add_all([agent, other])
        session.flush()
        ids["agent"], ids["other"] = agent.id, other.id
        for name, phone, email, status, created, contacted in LEADS:
            lead = Lead(agent_id=agent.id, name=name, phone=phone, email=email, status=status,
                        created_at=created, updated_at=created, last_contacted=contacted)
            session.add(lead)
            session.flush()
            ids[name] = lead.id
        for lead, kind, note, when in INTERACTIONS:
            session.add(ClientInteraction(lead_id=ids[lead], agent_id=agent.id, type=kind,
                                          note=note, occurred_at=when, channel="sms"))
        for lead, title, due_at, state, snoozes in FOLLOW_UPS:
            session.add(Appointment(
                lead_id=ids[lead], agent_id=agent.id, title=title, due_at=due_at, state=state,
                snooze_count=snoozes, created_at=at(2026, 2, 1, 9), updated_at=at(2026, 2, 1, 9),
                completed_at=at(2026, 3, 4, 12) if state == "done" else None))
        for lead, old, new, when in HISTORY:
            session.add(LeadHistory(lead_id=ids[lead], agent_id=agent.id, old_status=old,
                                    new_status=new, changed_at=when, channel="sms"))
        # The other agent: a lead with an overdue follow-up, a win and a call this week.
        zed = Lead(agent_id=other.id, name="Zed Zimmerman", status="closed_won",
                   created_at=at(2026, 3, 1, 9))
        session.add(zed)
        session.flush()
        ids["Zed Zimmerman"] = zed.id
        session.add(Appointment(lead_id=zed.id, agent_id=other.id, title="their secret",
                                due_at=at(2026, 3, 5, 9)))
        session.add(ClientInteraction(lead_id=zed.id, agent_id=other.id, type="call",
                                      note="theirs", occurred_at=at(2026, 3, 4, 9),
                                      channel="sms"))
        session.add(LeadHistory(lead_id=zed.id, agent_id=other.id, old_status="new",
                                new_status="closed_won", changed_at=at(2026, 3, 4, 9),
                                channel="sms"))
        session.commit()
    return ids
