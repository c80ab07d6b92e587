"""The reports' figures, computed in the database (SQLite and PostgreSQL), for a fixed now;
and the charts' geometry."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from db.models import Appointment, ClientInteraction, Lead, LeadHistory, User
from webapp.web.charts import Series, column_chart, nice_step, row_chart
from webapp.web.report_charts import report_charts
from webapp.web.reports import Compliance, period, report

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 18, 15, 0, tzinfo=CHICAGO)  # a Wednesday


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


@pytest.fixture
def agent_ids(db) -> tuple[int, int]:
    with db.session() as session:
        alex = User(name="Alex Rivera", phone="+13125550100", timezone="America/Chicago")
        blake = User(name="Blake Ng", phone="+13125550199", timezone="America/New_York")
        session.add_all([alex, blake])
        session.commit()
        return alex.id, blake.id


def _lead(session, agent_id: int, name: str, created: datetime, status: str = "new") -> Lead:
    lead = Lead(agent_id=agent_id, name=name, status=status, created_at=created)
    session.add(lead)
    session.flush()
    return lead


# --- periods ---------------------------------------------------------------------------------

def test_periods_are_read_in_the_agents_zone() -> None:
    this_month = period("this_month", CHICAGO, NOW)
    assert (this_month.start, this_month.end) == (local(2026, 3, 1), NOW)
    last_month = period("last_month", CHICAGO, NOW)
    assert (last_month.start, last_month.end) == (local(2026, 2, 1), local(2026, 3, 1))
    quarter = period("last_90_days", CHICAGO, NOW)
    assert quarter.start == local(2025, 12, 19) and quarter.end == NOW
    assert period("this_year", CHICAGO, NOW).start == local(2026, 1, 1)
    assert period("nonsense", CHICAGO, NOW).key == "last_90_days"
    assert last_month.months(CHICAGO) == [date(2026, 2, 1)]
    assert this_month.weeks(CHICAGO) == [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9),
                                         date(2026, 3, 16)]


def test_last_month_in_january_is_last_years_december() -> None:
    chosen = period("last_month", CHICAGO, local(2026, 1, 10, 9))
    assert (chosen.start, chosen.end) == (local(2025, 12, 1), local(2026, 1, 1))


# --- figures ---------------------------------------------------------------------------------

def test_leads_by_status_counts_leads_added_in_the_period_by_status_now(db, agent_ids) -> None:
    alex, blake = agent_ids
    with db.session() as session:
        _lead(session, alex, "A", local(2026, 3, 2), "qualified")
        _lead(session, alex, "B", local(2026, 3, 17), "qualified")
        _lead(session, alex, "C", local(2026, 3, 10), "closed_won")
        _lead(session, alex, "Old", local(2026, 2, 27), "qualified")  # before the period
        _lead(session, blake, "Theirs", local(2026, 3, 5), "qualified")
        session.commit()
        figures = report(session, alex, "this_month", CHICAGO, NOW)
    assert dict(figures.by_status) == {"new": 0, "contacted": 0, "qualified": 2,
                                       "negotiating": 0, "closed_won": 1, "closed_lost": 0,
                                       "follow_up": 0}
    assert [s for s, _ in figures.by_status][0] == "new"  # the pipeline's order


def test_won_and_lost_count_leads_in_the_month_they_last_closed(db, agent_ids) -> None:
    alex, blake = agent_ids
    with db.session() as session:
        def moved(lead: Lead, new: str, at: datetime) -> None:
            session.add(LeadHistory(lead_id=lead.id, agent_id=lead.agent_id, old_status="x",
                                    new_status=new, changed_at=at, channel="sms"))

        jan = _lead(session, alex, "Won in January", local(2025, 12, 1), "closed_won")
        moved(jan, "closed_won", local(2026, 1, 20))
        twice = _lead(session, alex, "Won twice", local(2025, 12, 1), "closed_won")
        moved(twice, "closed_won", local(2026, 1, 5))
        moved(twice, "negotiating", local(2026, 1, 6))
        moved(twice, "closed_won", local(2026, 3, 3))  # counts in March only
        undone = _lead(session, alex, "Undone win", local(2025, 12, 1), "negotiating")
        moved(undone, "closed_won", local(2026, 2, 10))  # no longer won: not counted
        lost = _lead(session, alex, "Lost", local(2025, 12, 1), "closed_lost")
        moved(lost, "closed_lost", local(2026, 2, 28, 23, 30))  # still February in Chicago
        theirs = _lead(session, blake, "Theirs", local(2025, 12, 1), "closed_won")
        moved(theirs, "closed_won", local(2026, 2, 2))
        session.commit()
        figures = report(session, alex, "this_year", CHICAGO, NOW)
    assert figures.months == [(date(2026, 1, 1), 1, 0), (date(2026, 2, 1), 0, 1),
                              (date(2026, 3, 1), 1, 0)]


def test_interactions_are_counted_per_local_week_and_type(db, agent_ids) -> None:
    alex, blake = agent_ids
    with db.session() as session:
        lead = _lead(session, alex, "Dana", local(2026, 1, 1))
        theirs = _lead(session, blake, "Theirs", local(2026, 1, 1))
        for at, kind in [(local(2026, 3, 2, 9), "call"), (local(2026, 3, 8, 23, 30), "call"),
                         (local(2026, 3, 9, 0, 30), "text"), (local(2026, 3, 18, 14), "note"),
                         (local(2026, 2, 28, 12), "call")]:  # before the period
            session.add(ClientInteraction(lead_id=lead.id, agent_id=alex, type=kind,
                                          occurred_at=at, channel="sms"))
        session.add(ClientInteraction(lead_id=theirs.id, agent_id=blake, type="call",
                                      occurred_at=local(2026, 3, 3, 9), channel="sms"))
        session.commit()
        figures = report(session, alex, "this_month", CHICAGO, NOW)
    weeks = {monday: {k: v for k, v in counts.items() if v} for monday, counts in figures.weeks}
    assert weeks == {date(2026, 2, 23): {}, date(2026, 3, 2): {"call": 2},
                     date(2026, 3, 9): {"text": 1}, date(2026, 3, 16): {"note": 1}}


def test_follow_up_compliance_on_time_late_and_missed(db, agent_ids) -> None:
    alex, _ = agent_ids
    with db.session() as session:
        lead = _lead(session, alex, "Dana", local(2026, 1, 1))

        def follow_up(due: datetime, state: str = "scheduled",
                      done: datetime | None = None) -> None:
            session.add(Appointment(lead_id=lead.id, agent_id=alex, title="t", due_at=due,
                                    state=state, completed_at=done))

        follow_up(local(2026, 3, 2, 10), "done", local(2026, 3, 2, 22))  # same day: on time
        follow_up(local(2026, 3, 3, 10), "done", local(2026, 3, 1, 9))  # early: on time
        follow_up(local(2026, 3, 4, 10), "done", local(2026, 3, 5, 8))  # next day: late
        follow_up(local(2026, 3, 5, 10))  # open, its day is over: missed
        follow_up(local(2026, 3, 18, 9))  # open, due earlier today: not yet missed
        follow_up(local(2026, 3, 6, 10), "cancelled")  # cancelled: not counted
        follow_up(local(2026, 2, 20, 10))  # before the period
        session.commit()
        figures = report(session, alex, "this_month", CHICAGO, NOW)
    assert figures.compliance == Compliance(on_time=2, late=1, missed=1)


def test_speed_to_lead_is_the_median_time_to_the_first_contact(db, agent_ids) -> None:
    alex, _ = agent_ids
    with db.session() as session:
        created = local(2026, 3, 2, 9)
        waits = {"Fast": timedelta(minutes=20), "Day": timedelta(hours=5),
                 "Slow": timedelta(days=3)}
        for name, wait in waits.items():
            lead = _lead(session, alex, name, created)
            session.add(ClientInteraction(lead_id=lead.id, agent_id=alex, type="note",
                                          occurred_at=created + timedelta(minutes=1),
                                          channel="sms"))  # a note is not contact
            for extra in (wait, wait + timedelta(hours=1)):
                session.add(ClientInteraction(lead_id=lead.id, agent_id=alex, type="call",
                                              occurred_at=created + extra, channel="sms"))
        _lead(session, alex, "Waiting", created)
        old = _lead(session, alex, "Before the period", local(2026, 2, 1))
        session.add(ClientInteraction(lead_id=old.id, agent_id=alex, type="call",
                                      occurred_at=local(2026, 3, 10), channel="sms"))
        session.commit()
        speed = report(session, alex, "this_month", CHICAGO, NOW).speed
    assert speed.median_seconds == pytest.approx(5 * 3600)
    assert speed.buckets == [("Within 1 hour", 1), ("1 to 24 hours", 1), ("1 to 7 days", 1),
                             ("Over 7 days", 0)]
    assert (speed.not_contacted, speed.leads) == (1, 4)


def test_an_empty_book_gives_empty_figures_and_empty_charts(db, agent_ids) -> None:
    alex, _ = agent_ids
    with db.session() as session:
        figures = report(session, alex, "last_90_days", CHICAGO, NOW)
    assert figures.speed.median_seconds is None
    charts = report_charts(figures)
    assert set(charts) == {"funnel", "won_lost", "interactions", "compliance", "speed"}
    assert all(chart.empty and not chart.rects for chart in charts.values())


# --- chart geometry ---------------------------------------------------------------------------

@pytest.mark.parametrize(("top", "step"), [(1, 1), (5, 1), (6, 2), (10, 2), (11, 5), (26, 10),
                                           (240, 50), (5000, 1000)])
def test_grid_steps_are_round(top: int, step: int) -> None:
    assert nice_step(top) == step


def test_column_heights_are_proportional_and_stacks_add_up() -> None:
    chart = column_chart("c", "t", ["a", "b"], [Series("x", "c0", [2, 4]),
                                                Series("y", "c1", [2, 0])], stacked=True)
    heights = {(r.label.split(":")[0], r.css): r.height for r in chart.rects}
    assert heights[("a", "c0")] == heights[("a", "c1")] == pytest.approx(heights[("b", "c0")] / 2)
    a_rects = [r for r in chart.rects if r.label.startswith("a:")]
    assert a_rects[1].y + a_rects[1].height == pytest.approx(a_rects[0].y)  # stacked
    assert all(r.y + r.height <= chart.baseline + 0.1 for r in chart.rects)
    assert all(chart.plot_left <= r.x and r.x + r.width <= chart.plot_right + 0.1
               for r in chart.rects)
    assert [t.label for t in chart.y_ticks] == ["0", "1", "2", "3", "4"]
    assert chart.legend == [("x", "c0"), ("y", "c1")] and not chart.empty


def test_grouped_columns_sit_side_by_side() -> None:
    chart = column_chart("c", "t", ["Jan"], [Series("won", "c4", [3]), Series("lost", "c5", [1])])
    won, lost = chart.rects
    assert won.x + won.width == pytest.approx(lost.x)
    assert won.height == pytest.approx(3 * lost.height)


def test_many_week_labels_are_thinned_so_they_never_overlap() -> None:
    weeks = [f"Mar {n}" for n in range(52)]
    chart = column_chart("c", "t", weeks, [Series("x", "c0", [1] * 52)])
    xs = [label.x for label in chart.x_labels]
    assert 1 < len(xs) < 52
    assert min(b - a for a, b in zip(xs, xs[1:], strict=False)) >= 7 * 6.2


def test_rows_scale_to_the_largest_value_and_label_each_row() -> None:
    chart = row_chart("r", "t", [("On time", 10, "c4"), ("Late", 5, "c3"), ("Missed", 0, "c5")])
    assert [t.label for t in chart.row_labels] == ["On time", "Late", "Missed"]
    assert [t.label for t in chart.value_labels] == ["10", "5", "0"]
    on_time, late = chart.rects  # nothing is drawn for a zero
    assert on_time.width == pytest.approx(2 * late.width)
    assert on_time.x + on_time.width <= chart.width
