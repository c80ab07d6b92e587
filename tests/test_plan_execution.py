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


# --- changing what is already there ------------------------------------------------------------


def follow_up(db: Database, book: dict[str, int], due: datetime, title: str = "send comps",
              reminded_text: str | None = None) -> int:
    """An open follow-up for Dana; with `reminded_text`, already claimed by the dispatcher
    with that reminder text queued (not yet sent)."""
    with db.session() as session:
        appointment = Appointment(lead_id=book["dana"], agent_id=book["alex"], title=title,
                                  due_at=due, channel="sms")
        session.add(appointment)
        session.flush()
        if reminded_text is not None:
            text = Message(direction="outbound", channel="sms", agent_id=book["alex"],
                           phone="+13125550100", body=reminded_text, status="queued")
            session.add(text)
            session.flush()
            appointment.reminded_at = due
            appointment.reminder_number = 1
            appointment.reminder_message_id = text.id
        session.commit()
        return appointment.id


def appointment_row(db: Database, appointment_id: int) -> Appointment:
    with db.session() as session:
        return session.get(Appointment, appointment_id)


def changes(db: Database) -> list[tuple[str, dict, str | None]]:
    from db.models import ChangeHistory

    with db.session() as session:
        return [(row.kind, row.changes, row.plan_id)
                for row in session.scalars(select(ChangeHistory).order_by(ChangeHistory.id))]


def reschedule(book: dict[str, int], appointment_id: int, old: datetime, new: datetime,
               title: str = "send comps", new_title: str | None = None) -> dict:
    return {"type": "reschedule_follow_up", "lead_id": book["dana"], "lead": "Dana Cole",
            "appointment_id": appointment_id, "due_at": new.isoformat(),
            "title": new_title or title, "old_due_at": old.isoformat(), "old_title": title}


def test_a_rescheduled_follow_up_is_reminded_at_its_new_time_never_the_old(db, book) -> None:
    old = NOW - timedelta(minutes=5)
    new = NOW + timedelta(days=4)
    appointment_id = follow_up(db, book, old, reminded_text="⏰ Follow up with Dana Cole")
    plan_id = confirm(db, book["alex"], [reschedule(book, appointment_id, old, new)])
    outcome = run_confirmed_plan(db, plan_id, NOW)
    assert outcome.state == "executed"
    # four days of elapsed time across the DST change of Mar 8 read 4:00 PM on the wall clock
    assert told(db, outcome.message_id) == ("✅ Done! Moved 'send comps' with Dana Cole to Mon "
                                            "Mar 9, 4:00 PM.")
    row = appointment_row(db, appointment_id)
    assert (row.due_at, row.sequence, row.reminded_at, row.reminder_message_id) == (
        new, 1, None, None)
    with db.session() as session:  # the claimed reminder's text never goes out
        assert session.scalar(select(Message.status).where(
            Message.body == "⏰ Follow up with Dana Cole")) == "withdrawn"
    assert changes(db) == [("follow_up.rescheduled",
                            {"due_at": [old.isoformat(), new.isoformat()]}, plan_id)]


def test_a_follow_up_changed_meanwhile_fails_the_plan_and_says_what_changed(db, book) -> None:
    due = NOW + timedelta(days=1)
    appointment_id = follow_up(db, book, due)
    moved_by_the_web = confirm(db, book["alex"], [
        reschedule(book, appointment_id, due, due + timedelta(hours=2))])
    stale = confirm(db, book["alex"], [
        reschedule(book, appointment_id, due, due + timedelta(days=3))])
    assert run_confirmed_plan(db, moved_by_the_web, NOW).state == "executed"
    outcome = run_confirmed_plan(db, stale, NOW)
    assert outcome.state == "failed"
    assert "'send comps' was moved to Fri Mar 6, 5:00 PM meanwhile" in told(db,
                                                                            outcome.message_id)
    cancel = confirm(db, book["alex"], [{"type": "cancel_follow_up", "lead_id": book["dana"],
                                        "appointment_id": appointment_id, "title": "send comps",
                                        "due_at": (due + timedelta(hours=2)).isoformat()}])
    assert run_confirmed_plan(db, cancel, NOW).state == "executed"
    again = confirm(db, book["alex"], [{"type": "complete_follow_up", "lead_id": book["dana"],
                                       "appointment_id": appointment_id, "title": "send comps",
                                       "due_at": (due + timedelta(hours=2)).isoformat()}])
    outcome = run_confirmed_plan(db, again, NOW)
    assert "already marked cancelled meanwhile" in told(db, outcome.message_id)


@pytest.mark.parametrize("kind,state,audit", [("cancel_follow_up", "cancelled",
                                               "follow_up.cancelled"),
                                              ("complete_follow_up", "done",
                                               "follow_up.completed")])
def test_cancel_and_complete_close_the_follow_up_and_undo_reopens_it(db, book, kind, state,
                                                                     audit) -> None:
    due = NOW - timedelta(minutes=1)
    appointment_id = follow_up(db, book, due, reminded_text="⏰ send comps")
    plan_id = confirm(db, book["alex"], [{"type": kind, "lead_id": book["dana"],
                                         "appointment_id": appointment_id,
                                         "title": "send comps", "due_at": due.isoformat()}])
    run_confirmed_plan(db, plan_id, NOW)
    row = appointment_row(db, appointment_id)
    assert (row.state, row.sequence) == (state, 1)
    assert row.completed_at == (NOW if state == "done" else None)
    undo = confirm(db, book["alex"], [], undo_of=plan_id)
    outcome = run_confirmed_plan(db, undo, NOW + timedelta(minutes=1))
    assert told(db, outcome.message_id) == "↩️ Undone: reopened the follow-up 'send comps'."
    row = appointment_row(db, appointment_id)
    # open again; its withdrawn reminder text is replaced by a fresh reminder from the dispatcher
    assert (row.state, row.completed_at, row.reminded_at, row.sequence) == (
        "scheduled", None, None, 2)
    assert [kind for kind, _, _ in changes(db)] == [audit, "follow_up.reopened"]


def test_undo_of_a_reschedule_puts_the_time_and_title_back(db, book) -> None:
    old = NOW + timedelta(days=1)
    new = NOW + timedelta(days=2)
    appointment_id = follow_up(db, book, old)
    plan_id = confirm(db, book["alex"], [reschedule(book, appointment_id, old, new,
                                                    new_title="send the new comps")])
    run_confirmed_plan(db, plan_id, NOW)
    assert appointment_row(db, appointment_id).title == "send the new comps"
    undo = confirm(db, book["alex"], [], undo_of=plan_id)
    outcome = run_confirmed_plan(db, undo, NOW)
    assert told(db, outcome.message_id) == ("↩️ Undone: moved 'send the new comps' back to "
                                            "Fri Mar 6, 3:00 PM.")
    row = appointment_row(db, appointment_id)
    assert (row.due_at, row.title, row.sequence) == (old, "send comps", 2)


def test_update_lead_changes_only_the_fields_said_audits_them_and_undo_restores(db,
                                                                               book) -> None:
    plan_id = confirm(db, book["alex"], [
        {"type": "update_lead", "lead_id": book["dana"], "lead": "Dana Cole",
         "phone": "+17735550199", "email": "Dana@Example.com",
         "old": {"phone": "+17735550127", "email": None}}])
    outcome = run_confirmed_plan(db, plan_id, NOW)
    assert told(db, outcome.message_id) == ("✅ Done! Updated Dana Cole: phone is now "
                                            "+17735550199; email is now dana@example.com.")
    with db.session() as session:
        dana = session.get(Lead, book["dana"])
        assert (dana.name, dana.phone, dana.email) == ("Dana Cole", "+17735550199",
                                                        "dana@example.com")
    assert changes(db) == [("lead.updated", {"phone": ["+17735550127", "+17735550199"],
                                             "email": [None, "dana@example.com"]}, plan_id)]
    undo = confirm(db, book["alex"], [], undo_of=plan_id)
    run_confirmed_plan(db, undo, NOW)
    with db.session() as session:
        dana = session.get(Lead, book["dana"])
        assert (dana.phone, dana.email) == ("+17735550127", None)


@pytest.mark.parametrize("fields,why", [
    ({"phone": "+1555"}, "is not a valid phone number"),
    ({"email": "dana at example"}, "is not a valid email address"),
    ({"name": "  "}, "name must be 1 to 200 characters"),
    ({"phone": "+13125550100", "old": {"phone": "+19999999999"}}, "phone changed meanwhile"),
])
def test_update_lead_refuses_bad_values_and_stale_plans(db, book, fields, why) -> None:
    plan_id = confirm(db, book["alex"], [{"type": "update_lead", "lead_id": book["dana"],
                                         **fields}])
    outcome = run_confirmed_plan(db, plan_id, NOW)
    assert outcome.state == "failed" and why in outcome.error


def test_update_lead_refuses_a_phone_another_lead_has(db, book) -> None:
    with db.session() as session:
        session.get(Lead, book["john"]).phone = "+13125550123"
        session.commit()
    plan_id = confirm(db, book["alex"], [{"type": "update_lead", "lead_id": book["dana"],
                                         "phone": "+13125550123"}])
    assert "already have a lead with that number (John Doe)" in run_confirmed_plan(
        db, plan_id, NOW).error


def test_a_plan_run_now_is_recorded_and_audited_like_a_yes_but_texts_nobody(db, book) -> None:
    from webapp.execution.plans import run_plan_now

    outcome = run_plan_now(db, book["alex"], [
        {"type": "update_status", "lead_id": book["john"], "status": "qualified"}], "web",
        now=NOW)
    assert (outcome.state, outcome.message_id) == ("executed", None)
    assert outcome.effects[0]["new_status"] == "qualified"
    with db.session() as session:
        plan = session.scalar(select(ExecutedPlan))
        assert (plan.channel, plan.state) == ("web", "executed")
        assert session.scalar(select(LeadHistory.channel)) == "web"
        assert not session.scalars(select(Message)).all()


def test_an_action_on_the_lead_the_same_plan_creates_lands_on_that_lead(db, book) -> None:
    due = (NOW + timedelta(days=1)).isoformat()
    new_lead = plan_schema.new_lead_ref(0)
    plan_id = confirm(db, book["alex"], [
        {"type": "create_lead", "name": "Marcus Bell", "phone": "+17735550199", "email": None},
        {"type": "log_interaction", "lead_id": new_lead, "interaction_type": "meeting",
         "note": "at the open house"},
        {"type": "schedule_follow_up", "lead_id": new_lead, "due_at": due, "title": "call"},
    ])
    assert run_confirmed_plan(db, plan_id, NOW).state == "executed"
    with db.session() as session:
        marcus = session.scalar(select(Lead).where(Lead.name == "Marcus Bell"))
        interaction = session.scalar(select(ClientInteraction))
        follow_up = session.scalar(select(Appointment))
        assert interaction.lead_id == marcus.id and follow_up.lead_id == marcus.id
        assert marcus.last_contacted is not None
    undo_id = confirm(db, book["alex"], [], undo_of=plan_id)
    assert run_confirmed_plan(db, undo_id, NOW).state == "executed"
    with db.session() as session:
        assert session.scalar(select(Lead).where(Lead.name == "Marcus Bell")) is None
        assert session.scalar(select(ClientInteraction)) is None


def test_a_reference_to_a_lead_the_plan_does_not_create_rejects_the_plan(db, book) -> None:
    plan_id = confirm(db, book["alex"], [
        {"type": "update_status", "lead_id": book["dana"], "status": "negotiating"},
        {"type": "log_interaction", "lead_id": plan_schema.new_lead_ref(0),
         "interaction_type": "call", "note": ""},
    ])
    assert run_confirmed_plan(db, plan_id, NOW).state == "failed"
    with db.session() as session:
        assert session.get(Lead, book["dana"]).status == "qualified"
