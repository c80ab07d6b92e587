"""Demo data for the README's first run: one agent and forty leads with five months of history.

Rich enough that every page of the web app has something to show: statuses moved over months
(`lead_history`), calls, texts, viewings and notes (`client_interactions`), follow-ups done on
time, done late, missed, cancelled and still open, some moved (`change_history`). Generated
from a fixed seed relative to now, so every run looks alike. Follow-ups already past are marked
reminded, so the first beat does not text a reminder for each of them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Appointment, ChangeHistory, ClientInteraction, Lead, LeadHistory, User

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
# More leads, so the pipeline, agenda and reports look like a working agent's.
MORE_LEADS = [
    ("Aaron Brooks", "closed_won"), ("Bianca Russo", "closed_won"),
    ("Carlos Mendez", "closed_lost"),
    ("Deborah Kim", "negotiating"), ("Ethan Wright", "qualified"), ("Fatima Noor", "contacted"),
    ("Grace Liu", "closed_won"), ("Hector Alvarez", "closed_lost"), ("Irene Novak", "follow_up"),
    ("Jamal Carter", "qualified"), ("Keiko Tanaka", "negotiating"), ("Liam O'Connor", "contacted"),
    ("Maya Singh", "new"), ("Noah Fischer", "closed_won"), ("Olivia Martin", "qualified"),
    ("Pedro Santos", "closed_lost"), ("Quinn Harper", "contacted"), ("Rosa Delgado", "follow_up"),
    ("Samuel Okafor", "negotiating"), ("Tara Quinn", "new"), ("Umar Farouk", "closed_won"),
    ("Vera Ivanova", "qualified"), ("Will Turner", "contacted"), ("Ximena Ruiz", "closed_lost"),
    ("Yusuf Demir", "closed_won"), ("Zoe Adams", "negotiating"), ("Ben Carter", "qualified"),
    ("Lena Park", "contacted"),
]
HISTORY_DAYS = 150
_PATH = ("new", "contacted", "qualified", "negotiating")
_NOTES = {
    "call": ["went well", "no answer, left a voicemail", "wants to see more listings",
             "asked about school districts", "pre-approved, budget confirmed"],
    "text": ["sent the listing links", "confirmed Saturday", "shared the disclosure packet"],
    "email": ["sent comps for the block", "sent the offer summary", "intro and next steps"],
    "meeting": ["coffee, talked about timing", "went over the offer strategy"],
    "viewing": ["loved the kitchen", "too small, keep looking", "second viewing, very keen"],
    "note": ["mentioned budget concerns", "relocating for work in the spring",
             "prefers texts after 6pm"],
}
_TITLES = ["send comps", "call about the offer", "book a second viewing", "send the contract",
           "check in on financing", "share new listings"]
_CHANNELS = ("sms", "sms", "sms", "voice", "web")


def seed_demo(session: Session, now: datetime | None = None) -> User:
    """Create the demo agent and leads unless they exist; safe to run on every start (a lead
    that exists is left as it is, history and all)."""
    now = now or datetime.now(UTC)
    agent = session.scalar(select(User).where(User.phone == DEMO_AGENT["phone"]))
    if agent is None:
        agent = User(**DEMO_AGENT)
        session.add(agent)
        session.flush()
    existing = set(session.scalars(select(Lead.name).where(Lead.agent_id == agent.id)))
    people = [*DEMO_LEADS, *((name, _phone(i), _email(name), status)
                             for i, (name, status) in enumerate(MORE_LEADS))]
    for place, (name, phone, email, status) in enumerate(people):
        if name not in existing:
            _lead_with_history(session, agent, place, name, phone, email, status, now)
    session.flush()
    return agent


def _phone(i: int) -> str:
    return f"+1312555{160 + i:04d}"


def _email(name: str) -> str:
    return name.lower().replace(" ", ".").replace("'", "") + "@example.com"


def _lead_with_history(session: Session, agent: User, place: int, name: str,
                       phone: str | None, email: str | None, status: str,
                       now: datetime) -> None:
    rng = random.Random(f"fieldline-demo-{place}")
    created = now - timedelta(days=rng.uniform(2, HISTORY_DAYS), minutes=rng.randint(0, 600))
    lead = Lead(agent_id=agent.id, name=name, phone=phone, email=email, status="new",
                source=rng.choice(("import", "sms")), created_at=created, updated_at=created)
    session.add(lead)
    session.flush()
    span = (now - created).total_seconds()
    zone = ZoneInfo(agent.timezone)

    def at(fraction: float) -> datetime:
        """The moment `fraction` of the way from the lead's creation to now, moved into the
        agent's working hours (never past now)."""
        moment = (created + timedelta(seconds=span * fraction)).astimezone(zone)
        moment = moment.replace(hour=rng.randint(8, 18), minute=rng.randint(0, 59))
        return min(max(moment.astimezone(UTC), created), now - timedelta(minutes=5))

    # Statuses: along the path as far as the final status needs, then the final one.
    steps = list(_PATH[1:_PATH.index(status) + 1]) if status in _PATH else \
        list(_PATH[1:rng.randint(2, 4)]) + [status]
    previous, changed = "new", sorted(rng.uniform(0.05, 0.9) for _ in steps)
    for step, fraction in zip(steps, changed, strict=True):
        session.add(LeadHistory(lead_id=lead.id, agent_id=agent.id, old_status=previous,
                                new_status=step, changed_at=at(fraction),
                                channel=rng.choice(_CHANNELS)))
        previous = step
    lead.status = status

    # Interactions: a first contact (minutes to days after the lead came in), then more.
    contacted = None
    if status != "new" or rng.random() < 0.3:
        first = created + timedelta(minutes=rng.choice((8, 25, 50, 180, 600, 1500, 4000)))
        moments = [first] + sorted(at(rng.uniform(0.1, 0.98)) for _ in range(rng.randint(2, 12)))
        for index, moment in enumerate(moments):
            if moment >= now:
                continue
            kind = "call" if index == 0 else rng.choice(tuple(_NOTES))
            session.add(ClientInteraction(lead_id=lead.id, agent_id=agent.id, type=kind,
                                          note=rng.choice(_NOTES[kind]), occurred_at=moment,
                                          channel=rng.choice(_CHANNELS)))
            if kind != "note":
                contacted = max(contacted, moment) if contacted else moment
    lead.last_contacted = contacted

    # Follow-ups: past ones done on time, late, missed or cancelled; open ones ahead.
    for _ in range(rng.randint(1, 4)):
        due = at(rng.uniform(0.15, 0.95)).replace(minute=0, second=0, microsecond=0)
        _follow_up(session, agent, lead, rng, due, now)
    if status not in ("closed_won", "closed_lost"):
        day = now.astimezone(zone) + timedelta(days=rng.choice((0, 0, 1, 2, 3, 5, 6, 9)))
        ahead = day.replace(hour=rng.randint(9, 17), minute=0, second=0, microsecond=0)
        if ahead <= now:
            ahead += timedelta(days=1)
        _follow_up(session, agent, lead, rng, ahead.astimezone(UTC), now)
    lead.updated_at = max(contacted or created, at(max(changed, default=0.0)))


def _follow_up(session: Session, agent: User, lead: Lead, rng: random.Random, due: datetime,
               now: datetime) -> None:
    set_at = min(max(lead.created_at, due - timedelta(days=rng.uniform(0.5, 6))),
                 now - timedelta(minutes=10))
    appointment = Appointment(lead_id=lead.id, agent_id=agent.id, title=rng.choice(_TITLES),
                              due_at=due, state="scheduled", channel=rng.choice(_CHANNELS),
                              created_at=set_at, updated_at=set_at)
    session.add(appointment)
    session.flush()
    if due >= now:
        return
    appointment.reminded_at = due  # it was reminded back then: no reminder text now
    fate = rng.random()
    if fate < 0.7:  # done, mostly the same day
        late = rng.random() < 0.3
        done_at = due + timedelta(days=rng.uniform(1.1, 4) if late else 0,
                                  hours=rng.uniform(0.2, 5))
        if done_at < now:
            _close(session, agent, appointment, "done", done_at, rng)
    elif fate < 0.88:
        _close(session, agent, appointment, "cancelled", due - timedelta(hours=3), rng)
    # else: missed, still open


def _close(session: Session, agent: User, appointment: Appointment, state: str,
           moment: datetime, rng: random.Random) -> None:
    appointment.state = state
    appointment.updated_at = moment
    if state == "done":
        appointment.completed_at = moment
    kind = "follow_up.completed" if state == "done" else "follow_up.cancelled"
    session.add(ChangeHistory(agent_id=agent.id, lead_id=appointment.lead_id,
                              appointment_id=appointment.id, kind=kind,
                              changes={"state": ["scheduled", state]}, changed_at=moment,
                              channel=rng.choice(_CHANNELS)))
