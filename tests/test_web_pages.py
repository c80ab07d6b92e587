"""The web app's pages with the Flask test client, on SQLite and PostgreSQL: the pipeline,
search and paging, a lead's timeline, the agenda, the reports page and the CSV export; every
page only for its signed-in agent."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from db.models import Appointment, ChangeHistory, ClientInteraction, Lead, LeadHistory, User
from tests.support.web import sign_in
from webapp.database import get_db
from webapp.web import agenda as agenda_queries
from webapp.web.pipeline import PAGE_SIZE, PER_COLUMN
from webapp.web.timeline import PAGE_SIZE as TIMELINE_PAGE

CHICAGO = ZoneInfo("America/Chicago")
APP_PAGES = ["/app", "/app?q=doe", "/app?status=new", "/app/leads/1", "/app/agenda",
             "/app/reports", "/app/reports?period=this_year", "/app/export.csv",
             "/app/export.json"]


@pytest.fixture
def client(app: Flask, agent):
    return sign_in(app, agent.id)


def _lead_id(app: Flask, name: str) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(Lead.id).where(Lead.name == name))


def _other_agent_with_lead(app: Flask) -> tuple[int, int]:
    with get_db(app).session() as session:
        other = User(name="Blake Ng", phone="+13125550199", timezone="America/New_York")
        session.add(other)
        session.flush()
        lead = Lead(agent_id=other.id, name="Secret Person", phone="+13125550188",
                    status="qualified")
        session.add(lead)
        session.commit()
        return other.id, lead.id


def _html(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize("path", APP_PAGES)
def test_every_page_sends_a_signed_out_browser_to_sign_in(app, agent, path) -> None:
    response = app.test_client().get(path)
    assert response.status_code == 303 and response.headers["Location"] == "/login"


@pytest.mark.parametrize("path", APP_PAGES)
def test_every_page_renders_for_the_signed_in_agent(app, client, path) -> None:
    path = path.replace("/app/leads/1", f"/app/leads/{_lead_id(app, 'Dana Cole')}")
    response = client.get(path)
    assert response.status_code == 200, _html(response)[:500]


# --- the pipeline --------------------------------------------------------------------------

def test_the_pipeline_has_a_column_per_status_in_order_with_counts(app, client) -> None:
    html = _html(client.get("/app"))
    board = html[html.index('class="board"'):]
    order = re.findall(r'<h2 id="col-(\w+)"', board)
    assert order == ["new", "contacted", "qualified", "negotiating", "closed_won",
                     "closed_lost", "follow_up"]
    counts = dict(re.findall(r'<h2 id="col-(\w+)".*?<span class="count">(\d+)</span>', board,
                             re.S))
    assert counts == {"new": "1", "contacted": "2", "qualified": "1", "negotiating": "1",
                      "closed_won": "0", "closed_lost": "0", "follow_up": "0"}
    for name in ("John Doe", "Jane Doe", "Sarah Smith", "John Smith", "Dana Cole"):
        assert name in html
    assert "5 leads" in html


def test_a_card_shows_the_last_contact_and_the_next_follow_up(app, client, agent) -> None:
    dana = _lead_id(app, "Dana Cole")
    now = datetime.now(UTC)
    with get_db(app).session() as session:
        lead = session.get(Lead, dana)
        lead.last_contacted = now - timedelta(days=40)
        for days, title in ((9, "later one"), (2, "send comps")):
            session.add(Appointment(lead_id=dana, agent_id=agent.id, title=title,
                                    due_at=now + timedelta(days=days)))
        session.add(Appointment(lead_id=dana, agent_id=agent.id, title="closed one",
                                due_at=now + timedelta(days=1), state="done"))
        session.commit()
    html = _html(client.get("/app"))
    card = html[html.index(f'/app/leads/{dana}"'):]
    card = card[:card.index("</a>")]
    last = (now - timedelta(days=40)).astimezone(CHICAGO)
    assert f"Last contact: {last:%b} {last.day}" in card
    assert "send comps" in card and "later one" not in card and "closed one" not in card


def test_a_column_shows_a_few_cards_and_links_to_all_of_them_page_by_page(app, client,
                                                                          agent) -> None:
    with get_db(app).session() as session:
        for n in range(60):
            session.add(Lead(agent_id=agent.id, name=f"Bulk Lead {n:02d}", status="follow_up"))
        session.commit()
    html = _html(client.get("/app"))
    column = html[html.index('id="col-follow_up"'):]
    assert column.count('class="card"') == PER_COLUMN
    assert 'href="/app?status=follow_up"' in column and "All 60 follow up" in column

    first = _html(client.get("/app?status=follow_up"))
    assert first.count('class="card"') == PAGE_SIZE and "Page 1 of 3" in first
    last = _html(client.get("/app?status=follow_up&page=3"))
    assert last.count('class="card"') == 60 - 2 * PAGE_SIZE and "Page 3 of 3" in last
    assert "Next →" not in last and "← Previous" in last
    beyond = _html(client.get("/app?status=follow_up&page=99"))
    assert "Page 3 of 3" in beyond
    assert "Page 1 of 3" in _html(client.get("/app?status=follow_up&page=zero"))


@pytest.mark.parametrize(("query", "found"), [
    ("doe", {"John Doe", "Jane Doe"}),
    ("JOHN", {"John Doe", "John Smith"}),
    ("555-0125", {"Sarah Smith"}),
    ("(773) 555", {"Dana Cole"}),
    ("nobody", set()),
    ("%", set()),
])
def test_search_finds_leads_by_name_or_phone(app, client, query, found) -> None:
    _other_agent_with_lead(app)
    html = _html(client.get("/app", query_string={"q": query}))
    shown = set(re.findall(r'<span class="card-name">([^<]+)</span>', html))
    assert shown == found
    assert "Secret Person" not in html


def test_names_are_escaped(app, client, agent) -> None:
    with get_db(app).session() as session:
        session.add(Lead(agent_id=agent.id, name="<img src=x onerror=alert(1)>"))
        session.commit()
    html = _html(client.get("/app"))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


# --- a lead --------------------------------------------------------------------------------

def test_another_agents_lead_is_not_found_like_a_missing_one(app, client) -> None:
    _, secret = _other_agent_with_lead(app)
    theirs = client.get(f"/app/leads/{secret}")
    missing = client.get("/app/leads/987654")
    assert theirs.status_code == missing.status_code == 404
    assert "Secret Person" not in _html(theirs)
    assert _html(theirs) == _html(missing)


def test_the_timeline_tells_every_source_newest_first_with_its_channel(app, client,
                                                                        agent) -> None:
    dana = _lead_id(app, "Dana Cole")
    start = datetime.now(UTC) - timedelta(days=10)
    with get_db(app).session() as session:
        session.add(LeadHistory(lead_id=dana, agent_id=agent.id, old_status="qualified",
                                new_status="negotiating", changed_at=start, channel="sms"))
        session.add(ClientInteraction(lead_id=dana, agent_id=agent.id, type="viewing",
                                      note="loved the kitchen", channel="voice",
                                      occurred_at=start + timedelta(days=1)))
        open_one = Appointment(lead_id=dana, agent_id=agent.id, title="send comps",
                               due_at=start + timedelta(days=20), channel="web",
                               created_at=start + timedelta(days=2))
        done_one = Appointment(lead_id=dana, agent_id=agent.id, title="call the lender",
                               due_at=start + timedelta(days=3), channel="sms", state="done",
                               completed_at=start + timedelta(days=3),
                               created_at=start + timedelta(days=2, hours=1))
        session.add_all([open_one, done_one])
        session.flush()
        session.add(ChangeHistory(agent_id=agent.id, lead_id=dana, appointment_id=done_one.id,
                                  kind="follow_up.completed",
                                  changes={"state": ["scheduled", "done"]}, channel="voice",
                                  changed_at=start + timedelta(days=3)))
        session.add(ChangeHistory(agent_id=agent.id, lead_id=dana, kind="lead.updated",
                                  changes={"email": ["old@example.com", "new@example.com"]},
                                  channel="api", changed_at=start + timedelta(days=4)))
        session.commit()
    html = _html(client.get(f"/app/leads/{dana}"))
    timeline = html[html.index('id="h-timeline"'):]
    titles = re.findall(r'<span class="entry-title">([^<]+)</span>', timeline)
    assert titles == ["Details changed", "Follow-up done: call the lender",
                      "Follow-up set: call the lender", "Follow-up set: send comps", "Viewing",
                      "Status: Qualified → Negotiating"]
    channels = re.findall(r'<span class="channel">(\w+)</span>', timeline)
    assert channels == ["api", "voice", "sms", "web", "voice", "sms"]
    assert "email: old@example.com → new@example.com" in timeline
    assert "loved the kitchen" in timeline
    assert 'class="badge open"' in timeline and 'class="badge done"' in timeline


def test_a_long_timeline_comes_in_pages(app, client, agent) -> None:
    dana = _lead_id(app, "Dana Cole")
    start = datetime.now(UTC) - timedelta(days=300)
    with get_db(app).session() as session:
        for n in range(250):
            session.add(ClientInteraction(lead_id=dana, agent_id=agent.id, type="call",
                                          note=f"call number {n}", channel="sms",
                                          occurred_at=start + timedelta(hours=n)))
        session.commit()
    first = _html(client.get(f"/app/leads/{dana}"))
    assert first.count('class="entry ') == TIMELINE_PAGE
    assert "call number 249" in first and "call number 150" in first
    assert "call number 149" not in first and "Older →" in first
    third = _html(client.get(f"/app/leads/{dana}?page=3"))
    assert third.count('class="entry ') == 50 and "call number 0<" in third
    assert "Older →" not in third and "← Newer" in third


# --- the agenda ----------------------------------------------------------------------------

def test_the_agenda_sorts_follow_ups_into_overdue_today_and_the_next_days(app, agent) -> None:
    now = datetime(2026, 3, 10, 15, 0, tzinfo=CHICAGO)  # a Tuesday afternoon
    dana = _lead_id(app, "Dana Cole")
    times = {
        "long overdue": datetime(2026, 2, 1, 10, 0, tzinfo=CHICAGO),
        "this morning": datetime(2026, 3, 10, 9, 0, tzinfo=CHICAGO),
        "tonight": datetime(2026, 3, 10, 19, 0, tzinfo=CHICAGO),
        "thursday": datetime(2026, 3, 12, 10, 0, tzinfo=CHICAGO),
        "in a week": datetime(2026, 3, 17, 23, 0, tzinfo=CHICAGO),
        "too far": datetime(2026, 3, 18, 0, 30, tzinfo=CHICAGO),
    }
    with get_db(app).session() as session:
        for title, due in times.items():
            session.add(Appointment(lead_id=dana, agent_id=agent.id, title=title, due_at=due))
        session.add(Appointment(lead_id=dana, agent_id=agent.id, title="done already",
                                due_at=datetime(2026, 3, 10, 18, 0, tzinfo=CHICAGO),
                                state="done"))
        session.commit()
        result = agenda_queries.agenda(session, agent.id, CHICAGO, now)
    assert [i.title for i in result.overdue] == ["this morning", "long overdue"]
    assert result.overdue_count == 2
    assert [i.title for i in result.today] == ["tonight"]
    assert [(d.isoformat(), [i.title for i in items]) for d, items in result.days] == [
        ("2026-03-12", ["thursday"]), ("2026-03-17", ["in a week"])]


def test_the_agenda_page_lists_the_agents_own_follow_ups(app, client, agent) -> None:
    other_id, secret = _other_agent_with_lead(app)
    now = datetime.now(UTC)
    dana = _lead_id(app, "Dana Cole")
    with get_db(app).session() as session:
        session.add(Appointment(lead_id=dana, agent_id=agent.id, title="overdue call",
                                due_at=now - timedelta(days=2)))
        session.add(Appointment(lead_id=dana, agent_id=agent.id, title="send comps",
                                due_at=now + timedelta(days=3)))
        session.add(Appointment(lead_id=secret, agent_id=other_id, title="not yours",
                                due_at=now + timedelta(days=1)))
        session.commit()
    html = _html(client.get("/app/agenda"))
    assert "overdue call" in html and "send comps" in html and "not yours" not in html
    overdue = html[html.index('id="h-overdue"'):html.index('id="h-today"')]
    assert "overdue call" in overdue


# --- reports and exports -------------------------------------------------------------------

@pytest.mark.parametrize("period", ["this_month", "last_month", "last_90_days", "this_year",
                                    "bogus"])
def test_the_reports_page_draws_five_titled_charts_with_tables(app, client, period) -> None:
    html = _html(client.get("/app/reports", query_string={"period": period}))
    charts = re.findall(r'<svg class="chart"[^>]*role="img"[^>]*aria-labelledby="([\w-]+)"',
                        html)
    assert len(charts) == 5
    for title_id in charts:
        assert f'<title id="{title_id}">' in html
    assert html.count("<table") == 5
    current = re.search(r'<a href="/app/reports\?period=(\w+)" aria-current="page"', html)
    assert current.group(1) == (period if period != "bogus" else "last_90_days")


def test_the_csv_export_holds_the_agents_leads_only(app, client, agent) -> None:
    _other_agent_with_lead(app)
    dana = _lead_id(app, "Dana Cole")
    contacted = datetime(2026, 1, 5, 17, 30, tzinfo=UTC)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    with get_db(app).session() as session:
        lead = session.get(Lead, dana)
        lead.last_contacted, lead.email = contacted, "dana@example.com"
        session.add(Appointment(lead_id=dana, agent_id=agent.id, title="later", due_at=due
                                + timedelta(days=1)))
        session.add(Appointment(lead_id=dana, agent_id=agent.id, title="next", due_at=due))
        session.add(Lead(agent_id=agent.id, name="=HYPERLINK(\"http://x\")", status="new"))
        session.commit()
    response = client.get("/app/export.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_html(response))))
    assert list(rows[0]) == ["name", "phone", "email", "status", "last_contacted",
                             "next_follow_up"]
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == {"John Doe", "Jane Doe", "Sarah Smith", "John Smith", "Dana Cole",
                            "'=HYPERLINK(\"http://x\")"}
    assert by_name["Dana Cole"] == {
        "name": "Dana Cole", "phone": "+17735550127", "email": "dana@example.com",
        "status": "negotiating", "last_contacted": "2026-01-05T11:30:00-06:00",
        "next_follow_up": due.astimezone(CHICAGO).isoformat(timespec="seconds")}
    assert by_name["Jane Doe"]["last_contacted"] == "" == by_name["Jane Doe"]["next_follow_up"]


def test_the_json_export_is_the_agents_book_as_data_export_writes_it(app, client, cli,
                                                                    agent) -> None:
    _other_agent_with_lead(app)
    dana = _lead_id(app, "Dana Cole")
    with get_db(app).session() as session:
        session.add(ClientInteraction(lead_id=dana, agent_id=agent.id, type="viewing",
                                      note="loved the kitchen", channel="web"))
        session.commit()
    response = client.get("/app/export.json")
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    book = response.get_json()
    assert set(book) == {"leads", "interactions", "follow_ups", "status_history"}
    assert {lead["name"] for lead in book["leads"]} == {
        "John Doe", "Jane Doe", "Sarah Smith", "John Smith", "Dana Cole"}
    assert book["interactions"][0]["note"] == "loved the kitchen"
    printed = cli.invoke(args=["data", "export", "--agent", agent.phone])
    assert json.loads(printed.output) == book
