"""The demo data (`flask --app wsgi demo seed`): months of history for every page to show,
safe to run on every start, and no reminder flood from follow-ups already past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from db.models import Appointment, ChangeHistory, ClientInteraction, Lead, LeadHistory
from webapp.crm.demo import DEMO_LEADS, MORE_LEADS, seed_demo
from webapp.web.reports import report


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_the_demo_has_months_of_history_and_every_report_has_figures(db) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        agent = seed_demo(session, now)
        session.commit()
        assert _count(session, Lead) == len(DEMO_LEADS) + len(MORE_LEADS)
        oldest = session.scalar(select(func.min(LeadHistory.changed_at)))
        assert now - oldest > timedelta(days=90)
        assert _count(session, ClientInteraction) > 150
        states = dict(session.execute(select(Appointment.state, func.count())
                                      .group_by(Appointment.state)).all())
        assert set(states) == {"scheduled", "done", "cancelled"}
        assert _count(session, ChangeHistory) > 0
        # Every moment lies in the past, and nothing already due waits for a reminder.
        for column in (Lead.created_at, LeadHistory.changed_at, ClientInteraction.occurred_at,
                       Appointment.created_at, Appointment.completed_at):
            assert session.scalar(select(func.max(column))) <= now
        assert _count(session, Appointment, Appointment.due_at < now,
                      Appointment.state == "scheduled", Appointment.reminded_at.is_(None)) == 0
        assert _count(session, Appointment, Appointment.due_at > now,
                      Appointment.state == "scheduled") > 10
        figures = report(session, agent.id, "last_90_days", ZoneInfo(agent.timezone), now)
    assert sum(n for _, n in figures.by_status) > 0
    assert sum(won + lost for _, won, lost in figures.months) > 0
    assert sum(sum(counts.values()) for _, counts in figures.weeks) > 100
    compliance = figures.compliance
    assert compliance.on_time and compliance.late and compliance.missed
    assert figures.speed.median_seconds is not None


def test_seeding_again_adds_nothing(db) -> None:
    with db.session() as session:
        seed_demo(session)
        session.commit()
        before = [_count(session, model) for model in (Lead, LeadHistory, ClientInteraction,
                                                       Appointment)]
        seed_demo(session)
        session.commit()
        after = [_count(session, model) for model in (Lead, LeadHistory, ClientInteraction,
                                                      Appointment)]
    assert after == before
