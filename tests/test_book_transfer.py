"""`flask --app wsgi data export|import`: the spec's book format, all or nothing, idempotent,
and export -> import -> export gives the same JSON. On SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import Appointment, ChangeHistory, ClientInteraction, Lead, LeadHistory, User
from webapp.database import get_db

SPEC_BOOK = {
    "leads": [{"name": "Dana Cole", "phone": "+17735550127", "email": "dana@example.com",
               "status": "negotiating", "created_at": "2026-02-01T09:00:00-06:00",
               "last_contacted": "2026-03-05T11:20:00-06:00"}],
    "interactions": [{"lead": "Dana Cole", "type": "viewing", "note": "loved the kitchen",
                      "at": "2026-03-05T11:20:00-06:00"}],
    "follow_ups": [{"lead": "Dana Cole", "title": "send comps",
                    "due_at": "2026-03-09T14:00:00-05:00", "state": "open"}],
    "status_history": [{"lead": "Dana Cole", "old": "qualified", "new": "negotiating",
                        "at": "2026-03-05T11:25:00-06:00"}],
}

RICHER_BOOK = {
    "leads": [
        {"name": "Dana Cole", "phone": "+17735550127", "email": "dana@example.com",
         "status": "negotiating", "created_at": "2026-02-01T09:00:00-06:00",
         "last_contacted": "2026-03-05T11:20:00-06:00"},
        {"name": "John Smith", "phone": "+13125550126", "email": None, "status": "qualified",
         "created_at": "2026-01-10T10:00:00-06:00", "last_contacted": None},
        {"name": "John Smith", "phone": "+13125550199", "email": None, "status": "new",
         "created_at": "2026-01-11T10:00:00-06:00", "last_contacted": None},
        {"name": "José García", "phone": None, "email": "jose@example.com", "status": "new",
         "created_at": "2026-02-20T08:30:00.250000-06:00", "last_contacted": None},
    ],
    "interactions": [
        {"lead": "+13125550126", "type": "call", "note": "wants a 3 bed",
         "at": "2026-02-02T16:00:00-06:00"},
        {"lead": "Dana Cole", "type": "note", "note": "", "at": "2026-03-01T09:00:00-06:00"},
    ],
    "follow_ups": [
        {"lead": "José García", "title": "send listings", "due_at": "2026-03-20T10:00:00-05:00",
         "state": "cancelled"},
        {"lead": "+13125550199", "title": "Follow up with John Smith",
         "due_at": "2026-04-01T10:00:00-05:00", "state": "done"},
    ],
    "status_history": [{"lead": "+13125550126", "old": None, "new": "qualified",
                        "at": "2026-01-12T10:00:00-06:00"}],
}


def _add_agent(app, phone: str = "+13125550100") -> None:
    with get_db(app).session() as session:
        session.add(User(name="Alex Rivera", phone=phone, timezone="America/Chicago"))
        session.commit()


def _import(cli, tmp_path: Path, book, agent: str = "+13125550100"):
    path = tmp_path / f"book{len(list(tmp_path.iterdir()))}.json"
    path.write_text(book if isinstance(book, str) else json.dumps(book), encoding="utf-8")
    return cli.invoke(args=["data", "import", str(path), "--agent", agent])


def _export(cli, agent: str = "+13125550100") -> dict:
    result = cli.invoke(args=["data", "export", "--agent", agent])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _counts(app) -> tuple[int, ...]:
    with get_db(app).session() as session:
        return tuple(session.scalar(select(func.count()).select_from(model))
                     for model in (Lead, ClientInteraction, Appointment, LeadHistory))


def test_the_specs_book_imports_and_exports_exactly_as_written(app, cli, tmp_path) -> None:
    _add_agent(app)
    result = _import(cli, tmp_path, SPEC_BOOK)
    assert result.exit_code == 0, result.output
    assert "leads: 1 added" in result.output
    assert _export(cli) == SPEC_BOOK


def test_importing_the_same_file_twice_changes_nothing(app, cli, tmp_path) -> None:
    _add_agent(app)
    assert _import(cli, tmp_path, RICHER_BOOK).exit_code == 0
    before = _counts(app)
    again = _import(cli, tmp_path, RICHER_BOOK)
    assert again.exit_code == 0
    assert "leads: 0 added, 0 updated, 4 unchanged" in again.output
    assert "interactions: 0 added, 2 already there" in again.output
    assert _counts(app) == before


def test_export_import_export_into_an_empty_book_gives_the_same_json(app, cli, tmp_path) -> None:
    _add_agent(app)
    assert _import(cli, tmp_path, RICHER_BOOK).exit_code == 0
    first = _export(cli)
    _add_agent(app, "+13125550101")
    assert _import(cli, tmp_path, first, agent="+13125550101").exit_code == 0
    assert _export(cli, agent="+13125550101") == first
    # two leads share a name: each is named by its phone where it is referred to
    assert {i["lead"] for i in first["interactions"]} == {"+13125550126", "Dana Cole"}
    assert first["follow_ups"][0]["state"] == "cancelled"


@pytest.mark.parametrize("section,index,key,value,why", [
    ("follow_ups", 1, "due_at", "2026-04-01T10:00:00", "has no UTC offset"),
    ("leads", 0, "phone", "555", "is not a valid phone number"),
    ("leads", 1, "status", "hot", "is not one of new"),
    ("interactions", 0, "type", "fax", "is not one of call"),
    ("interactions", 1, "lead", "Nobody Here", "no lead named 'Nobody Here'"),
    ("follow_ups", 0, "state", "maybe", "is not one of open"),
    ("status_history", 0, "at", "yesterday", "is not an ISO 8601 time"),
])
def test_a_bad_record_is_reported_with_its_place_and_nothing_is_imported(
        app, cli, tmp_path, section, index, key, value, why) -> None:
    _add_agent(app)
    book = copy.deepcopy(RICHER_BOOK)
    book[section][index][key] = value
    result = _import(cli, tmp_path, book)
    assert result.exit_code != 0
    assert f"{section}[{index}].{key}: " in result.output and why in result.output
    assert "nothing was imported" in result.output
    assert _counts(app) == (0, 0, 0, 0)


def test_leads_match_by_phone_then_name_and_take_the_files_values(app, cli, tmp_path) -> None:
    _add_agent(app)
    with get_db(app).session() as session:
        agent = session.scalar(select(User))
        session.add_all([
            Lead(agent_id=agent.id, name="Dana C.", phone="+17735550127", status="qualified"),
            Lead(agent_id=agent.id, name="José García", status="contacted"),
        ])
        session.commit()
    book = {"leads": [
        {"name": "Dana Cole", "phone": "(773) 555-0127", "email": "dana@example.com",
         "status": "negotiating"},
        {"name": "josé garcía", "email": "jose@example.com"}]}
    result = _import(cli, tmp_path, book)
    assert "leads: 0 added, 2 updated" in result.output, result.output
    with get_db(app).session() as session:
        leads = {lead.phone or "-": lead for lead in session.scalars(select(Lead))}
        dana = leads["+17735550127"]
        assert (dana.name, dana.email, dana.status) == ("Dana Cole", "dana@example.com",
                                                        "negotiating")
        assert leads["-"].status == "contacted"  # not said in the file: kept
        history = session.scalars(select(LeadHistory)).one()
        assert (history.old_status, history.new_status, history.channel) == (
            "qualified", "negotiating", "import")
        kinds = {row.kind for row in session.scalars(select(ChangeHistory))}
        assert kinds == {"lead.updated"}


def test_not_json_is_refused_clearly(app, cli, tmp_path) -> None:
    _add_agent(app)
    result = _import(cli, tmp_path, '{"leads": [')
    assert result.exit_code != 0 and "not JSON" in result.output


def test_another_agents_book_is_untouched(app, cli, tmp_path) -> None:
    _add_agent(app)
    _add_agent(app, "+13125550101")
    assert _import(cli, tmp_path, SPEC_BOOK).exit_code == 0
    assert _export(cli, agent="+13125550101") == {
        "leads": [], "interactions": [], "follow_ups": [], "status_history": []}


def test_a_done_follow_up_counts_as_done_at_its_due_time(app, cli, tmp_path) -> None:
    _add_agent(app)
    assert _import(cli, tmp_path, RICHER_BOOK).exit_code == 0
    with get_db(app).session() as session:
        done = session.scalar(select(Appointment).where(Appointment.state == "done"))
        assert done.completed_at == done.due_at
