"""Plan execution on its own: a `Database`, confirmed rows, handlers. No Flask, Redis or Celery.

Each test writes the `executed_plans` row the conversation would write on YES and runs
`run_confirmed_plan` as the task would; what the agent is told is the queued text.
"""

from __future__ import annotations

import typing
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from db.models import (
    Appointment,
    ClientInteraction,
    ExecutedPlan,
    Lead,
    LeadHistory,
    Message,
    User,
)
from db.session import Database
from webapp.execution.handlers import HANDLERS
from webapp.execution.plans import run_confirmed_plan
from webapp.understanding import plan as plan_schema

NOW = datetime(2026, 3, 5, 21, 0, tzinfo=UTC)  # 15:00 in Chicago


@pytest.fixture
def book(db: Database) -> dict[str, int]:
    """Two agents; the first has Dana (qualified) and John, the second has Zed."""
    with db.session() as session:
        alex = User(name="Alex Rivera", phone="+13125550100", timezone="America/Chicago")
        sam = User(name="Sam Other", phone="+13125550199", timezone="America/Chicago")
        session.add_all([alex, sam])
        session.flush()
        dana = Lead(agent_id=alex.id, name="Dana Cole", phone="+17735550127", status="qualified")
        john = Lead(agent_id=alex.id, name="John Doe", status="contacted")
        zed = Lead(agent_id=sam.id, name="Zed Zimmerman", status="new")
        session.add_all([dana, john, zed])
        session.commit()
        return {"alex": alex.id, "sam": sam.id, "dana": dana.id, "john": john.id, "zed": zed.id}


def confirm(db: Database, agent_id: int, actions: list[dict], undo_of: str | None = None) -> str:
    plan_id = uuid.uuid4().hex
    with db.session() as session:
        session.add(ExecutedPlan(plan_id=plan_id, agent_id=agent_id, channel="sms",
                                 state="confirmed", plan={"actions": actions, "summary": "s"},
                                 undoes_plan_id=undo_of, confirmed_at=NOW))
        session.commit()
    return plan_id


def told(db: Database, message_id: int | None) -> str:
    with db.session() as session:
        return session.get(Message, message_id).body


def test_every_action_of_the_plan_schema_has_a_handler() -> None:
    action_types = {cls.__dataclass_fields__["type"].default
                    for cls in typing.get_args(plan_schema.Action)}
    assert action_types == set(HANDLERS)


def test_a_plan_runs_all_its_actions_in_order_and_tells_the_agent(db, book) -> None:
    due = (NOW + timedelta(days=1)).isoformat()
    plan_id = confirm(db, book["alex"], [
        {"type": "log_interaction", "lead_id": book["dana"], "interaction_type": "call",
         "note": "went well"},
        {"type": "update_status", "lead_id": book["dana"], "status": "negotiating"},
        {"type": "schedule_follow_up", "lead_id": book["dana"], "due_at": due,
         "title": "send the contract"},
        {"type": "create_lead", "name": "Nina Park", "phone": "+13125550177", "email": None},
    ])
    outcome = run_confirmed_plan(db, plan_id, NOW)
    assert outcome.state == "executed"
    with db.session() as session:
        dana = session.get(Lead, book["dana"])
        assert (dana.status, dana.last_contacted) == ("negotiating", NOW)
        history = session.scalars(select(LeadHistory)).one()
        assert (history.old_status, history.new_status, history.plan_id) == (
            "qualified", "negotiating", plan_id)
        call = session.scalars(select(ClientInteraction)).one()
        assert (call.type, call.note, call.channel) == ("call", "went well", "sms")
        follow_up = session.scalars(select(Appointment)).one()
        assert (follow_up.title, follow_up.due_at) == ("send the contract", NOW + timedelta(days=1))
        assert session.scalar(select(Lead).where(Lead.name == "Nina Park")).status == "new"
    text = told(db, outcome.message_id)
    assert text.splitlines()[1:] == [
        "• Logged call with Dana Cole: went well.",
        "• The status for Dana Cole has been updated from 'qualified' to 'negotiating'.",
        "• Follow-up with Dana Cole set: send the contract — Fri Mar 6, 3:00 PM.",
        "• Added Nina Park as a new lead.",
    ]


def test_a_plan_runs_once_however_often_its_task_arrives(db, book) -> None:
    plan_id = confirm(db, book["alex"], [
        {"type": "log_interaction", "lead_id": book["john"], "interaction_type": "text",
         "note": ""}])
    assert run_confirmed_plan(db, plan_id, NOW).state == "executed"
    assert run_confirmed_plan(db, plan_id, NOW).state == "already_done"
    with db.session() as session:
        assert len(session.scalars(select(ClientInteraction)).all()) == 1


def test_a_failing_action_rolls_back_the_whole_plan_and_says_nothing_changed(db, book) -> None:
    plan_id = confirm(db, book["alex"], [
        {"type": "update_status", "lead_id": book["dana"], "status": "closed_won"},
        {"type": "log_interaction", "lead_id": book["zed"], "interaction_type": "call",
         "note": "another agent's lead"},
    ])
    outcome = run_confirmed_plan(db, plan_id, NOW)
    assert outcome.state == "failed"
    assert told(db, outcome.message_id) == (
        "❌ Sorry, I couldn't do that: that lead no longer exists. Nothing was changed.")
    with db.session() as session:
        assert session.get(Lead, book["dana"]).status == "qualified"
        assert not session.scalars(select(LeadHistory)).all()
        assert session.scalar(select(ExecutedPlan.state)) == "failed"


@pytest.mark.parametrize("action", [
    {"type": "update_status", "status": "won"},
    {"type": "log_interaction", "interaction_type": "fax", "note": ""},
    {"type": "schedule_follow_up", "due_at": "2026-03-06T10:00:00", "title": "naive time"},
    {"type": "teleport"},
])
def test_a_value_the_handlers_do_not_know_fails_the_plan(db, book, action) -> None:
    plan_id = confirm(db, book["alex"], [{**action, "lead_id": book["dana"]}])
    assert run_confirmed_plan(db, plan_id, NOW).state == "failed"


def test_a_second_lead_with_the_same_phone_is_refused(db, book) -> None:
    plan_id = confirm(db, book["alex"], [
        {"type": "create_lead", "name": "Dana Again", "phone": "+17735550127", "email": None}])
    outcome = run_confirmed_plan(db, plan_id, NOW)
    assert outcome.state == "failed"
    assert "already have a lead with that number (Dana Cole)" in told(db, outcome.message_id)


def test_undo_reverts_every_effect_newest_first_and_only_once(db, book) -> None:
    before = NOW - timedelta(days=3)
    with db.session() as session:
        session.get(Lead, book["dana"]).last_contacted = before
        session.commit()
    original = confirm(db, book["alex"], [
        {"type": "update_status", "lead_id": book["dana"], "status": "negotiating"},
        {"type": "log_interaction", "lead_id": book["dana"], "interaction_type": "call",
         "note": ""},
        {"type": "schedule_follow_up", "lead_id": book["dana"],
         "due_at": (NOW + timedelta(days=1)).isoformat(), "title": "call back"},
        {"type": "create_lead", "name": "Nina Park", "phone": None, "email": None},
    ])
    run_confirmed_plan(db, original, NOW)
    undo = confirm(db, book["alex"], [], undo_of=original)
    outcome = run_confirmed_plan(db, undo, NOW + timedelta(minutes=1))
    assert told(db, outcome.message_id) == (
        "↩️ Undone: removed the new lead Nina Park; cancelled the follow-up 'call back'; "
        "removed the call with Dana Cole; Dana Cole is back to 'qualified'.")
    with db.session() as session:
        dana = session.get(Lead, book["dana"])
        assert (dana.status, dana.last_contacted) == ("qualified", before)
        assert not session.scalars(select(ClientInteraction)).all()
        assert session.scalars(select(Appointment)).one().state == "cancelled"
        assert session.scalar(select(Lead).where(Lead.name == "Nina Park")) is None
        back = session.scalars(select(LeadHistory).order_by(LeadHistory.id)).all()[-1]
        assert (back.old_status, back.new_status, back.plan_id) == ("negotiating", "qualified",
                                                                    undo)
    again = confirm(db, book["alex"], [], undo_of=original)
    outcome = run_confirmed_plan(db, again, NOW + timedelta(minutes=2))
    assert outcome.state == "failed"
    assert "already undone" in told(db, outcome.message_id)


def test_another_agents_plan_cannot_be_undone(db, book) -> None:
    original = confirm(db, book["sam"], [
        {"type": "update_status", "lead_id": book["zed"], "status": "contacted"}])
    run_confirmed_plan(db, original, NOW)
    undo = confirm(db, book["alex"], [], undo_of=original)
    assert run_confirmed_plan(db, undo, NOW).state == "failed"
    with db.session() as session:
        assert session.get(Lead, book["zed"]).status == "contacted"
