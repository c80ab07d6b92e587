"""The lead page's forms: each change runs as a confirmed plan with the channel "web", through
the same execution as a YES by text (audit rows, undo by text, reminders), and a change that
is stale, invalid, cross-site or for another agent changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from db.models import (
    Appointment,
    ChangeHistory,
    ClientInteraction,
    ExecutedPlan,
    Lead,
    LeadHistory,
    Message,
    User,
)
from tests.support.sms import SmsPhone
from tests.support.web import csrf_of, post_form, sign_in
from webapp.database import get_db
from webapp.execution.plans import run_confirmed_plan
from webapp.execution.reminder_dispatch import ReminderRules, dispatch_due_reminders

CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture
def client(app: Flask, agent):
    return sign_in(app, agent.id)


@pytest.fixture
def dana(app: Flask, agent) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(Lead.id).where(Lead.name == "Dana Cole"))


def _post(client, lead_id: int, action: str, fields: dict[str, str]):
    return post_form(client, f"/app/leads/{lead_id}", f"/app/leads/{lead_id}/{action}", fields)


def _get(app: Flask, model, *where):
    with get_db(app).session() as session:
        return list(session.scalars(select(model).where(*where).order_by(model.id)))


def _count(app: Flask, model) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _lead(app: Flask, lead_id: int) -> Lead:
    with get_db(app).session() as session:
        return session.get(Lead, lead_id)


def _follow_up(app: Flask, agent_id: int, lead_id: int, due: datetime,
               title: str = "send comps") -> Appointment:
    with get_db(app).session() as session:
        appointment = Appointment(lead_id=lead_id, agent_id=agent_id, title=title, due_at=due)
        session.add(appointment)
        session.commit()
        return appointment


def _shown(appointment: Appointment) -> dict[str, str]:
    return {"shown_due_at": appointment.due_at.isoformat(), "shown_title": appointment.title}


def _tomorrow_local() -> str:
    return (datetime.now(CHICAGO) + timedelta(days=1)).date().isoformat()


# --- status ---------------------------------------------------------------------------------

def test_a_status_change_runs_as_a_web_plan_and_shows_in_the_timeline(app, client, dana) -> None:
    response = _post(client, dana, "status", {"status": "closed_won",
                                              "old_status": "negotiating"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/app/leads/{dana}?done=status"
    assert _lead(app, dana).status == "closed_won"
    (history,) = _get(app, LeadHistory)
    assert (history.old_status, history.new_status, history.channel) == (
        "negotiating", "closed_won", "web")
    (plan,) = _get(app, ExecutedPlan)
    assert (plan.channel, plan.state, plan.plan_id) == ("web", "executed", history.plan_id)
    assert _count(app, Message) == 0  # the agent is looking at the page: no result text
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Status changed." in page and "Text UNDO" in page
    assert "Status: Negotiating → Closed won" in page


def test_a_status_changed_meanwhile_is_not_overwritten(app, client, dana) -> None:
    page = client.get(f"/app/leads/{dana}").get_data(as_text=True)
    with get_db(app).session() as session:  # a text changes it while the page is open
        session.get(Lead, dana).status = "closed_lost"
        session.commit()
    response = client.post(f"/app/leads/{dana}/status", data={
        "csrf_token": csrf_of(page), "status": "closed_won", "old_status": "negotiating"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Nothing was changed" in html and "meanwhile" in html
    assert _lead(app, dana).status == "closed_lost"
    assert _get(app, LeadHistory) == []
    (plan,) = _get(app, ExecutedPlan)
    assert plan.state == "failed"


@pytest.mark.parametrize(("fields", "says"), [
    ({"status": "negotiating", "old_status": "negotiating"}, "already negotiating"),
    ({"status": "sold", "old_status": "negotiating"}, "Pick one of the statuses"),
])
def test_a_status_form_that_changes_nothing_says_why(app, client, dana, fields, says) -> None:
    response = _post(client, dana, "status", fields)
    assert response.status_code == 422
    assert says in response.get_data(as_text=True)
    assert _count(app, ExecutedPlan) == 0


def test_undo_by_text_reverts_a_change_made_on_the_web(app, client, agent, dana) -> None:
    _post(client, dana, "status", {"status": "closed_won", "old_status": "negotiating"})
    phone = SmsPhone(app, agent.phone)
    offer = phone.text("undo")
    assert "set Dana Cole back to 'negotiating'" in offer
    assert "Confirmed" in phone.text("YES")
    plan_id = _get(app, ExecutedPlan, ExecutedPlan.undoes_plan_id.is_not(None))[0].plan_id
    assert run_confirmed_plan(get_db(app), plan_id).state == "executed"  # as the worker would
    assert _lead(app, dana).status == "negotiating"


# --- interactions ---------------------------------------------------------------------------

def test_logging_an_interaction_records_it_with_the_web_channel(app, client, dana) -> None:
    response = _post(client, dana, "interactions", {"interaction_type": "viewing",
                                                    "note": "loved the kitchen"})
    assert response.status_code == 303
    (row,) = _get(app, ClientInteraction)
    assert (row.type, row.note, row.channel, row.lead_id) == (
        "viewing", "loved the kitchen", "web", dana)
    assert _lead(app, dana).last_contacted is not None
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Interaction logged." in page and "loved the kitchen" in page


@pytest.mark.parametrize(("fields", "says"), [
    ({"interaction_type": "telepathy", "note": "x"}, "what kind"),
    ({"interaction_type": "note", "note": "  "}, "Write the note"),
    ({"interaction_type": "call", "note": "x" * 2001}, "longer than 2000"),
])
def test_a_bad_interaction_is_refused(app, client, dana, fields, says) -> None:
    response = _post(client, dana, "interactions", fields)
    assert response.status_code == 422 and says in response.get_data(as_text=True)
    assert _count(app, ClientInteraction) == 0


# --- follow-ups -----------------------------------------------------------------------------

def test_adding_a_follow_up_schedules_it_in_the_agents_zone_and_it_is_reminded(app, client,
                                                                             dana) -> None:
    day = _tomorrow_local()
    response = _post(client, dana, "follow-ups", {"title": "send the contract", "date": day,
                                                  "time": "14:30"})
    assert response.status_code == 303
    (row,) = _get(app, Appointment)
    due = datetime.combine(datetime.fromisoformat(day).date(), time(14, 30), tzinfo=CHICAGO)
    assert (row.title, row.due_at, row.channel, row.state) == (
        "send the contract", due, "web", "scheduled")
    # The reminder follows, as for a follow-up made by text.
    rules = ReminderRules(quiet_start=time(0), quiet_end=time(0))
    (message_id,) = dispatch_due_reminders(get_db(app), due + timedelta(minutes=1), rules)
    (text,) = _get(app, Message, Message.id == message_id)
    assert "send the contract" in text.body and "Dana Cole" in text.body


@pytest.mark.parametrize(("fields", "says"), [
    ({"title": "x", "date": "2020-01-01", "time": "10:00"}, "already past"),
    ({"title": "x", "date": "next tuesday", "time": "10:00"}, "YYYY-MM-DD"),
    ({"title": "x" * 301, "date": "2999-01-01", "time": "10:00"}, "longer than 300"),
])
def test_a_bad_follow_up_is_refused_and_the_form_keeps_what_was_typed(app, client, dana,
                                                                      fields, says) -> None:
    response = _post(client, dana, "follow-ups", fields)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert says in html
    assert f'value="{fields["date"]}"' in html
    assert _count(app, Appointment) == 0


def test_moving_a_follow_up_reschedules_it_and_records_the_change(app, client, agent,
                                                                   dana) -> None:
    appointment = _follow_up(app, agent.id, dana, datetime.now(UTC) + timedelta(days=3))
    day = _tomorrow_local()
    response = _post(client, dana, f"follow-ups/{appointment.id}/reschedule",
                     {**_shown(appointment), "date": day, "time": "09:15"})
    assert response.status_code == 303
    (row,) = _get(app, Appointment)
    assert row.due_at.astimezone(CHICAGO).strftime("%Y-%m-%d %H:%M") == f"{day} 09:15"
    (change,) = _get(app, ChangeHistory)
    assert (change.kind, change.channel) == ("follow_up.rescheduled", "web")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Follow-up moved: send comps" in page


def test_a_follow_up_moved_meanwhile_is_not_moved_again(app, client, agent, dana) -> None:
    appointment = _follow_up(app, agent.id, dana, datetime.now(UTC) + timedelta(days=3))
    stale = _shown(appointment)
    with get_db(app).session() as session:
        session.get(Appointment, appointment.id).due_at += timedelta(hours=2)
        session.commit()
    response = _post(client, dana, f"follow-ups/{appointment.id}/reschedule",
                     {**stale, "date": _tomorrow_local(), "time": "09:00"})
    assert response.status_code == 409
    assert "moved to" in response.get_data(as_text=True)
    assert _get(app, ChangeHistory) == []


@pytest.mark.parametrize(("action", "state", "kind"), [
    ("complete", "done", "follow_up.completed"),
    ("cancel", "cancelled", "follow_up.cancelled"),
])
def test_completing_or_cancelling_a_follow_up(app, client, agent, dana, action, state,
                                              kind) -> None:
    appointment = _follow_up(app, agent.id, dana, datetime.now(UTC) + timedelta(days=1))
    response = _post(client, dana, f"follow-ups/{appointment.id}/{action}", _shown(appointment))
    assert response.status_code == 303
    (row,) = _get(app, Appointment)
    assert row.state == state
    assert (row.completed_at is not None) == (state == "done")
    (change,) = _get(app, ChangeHistory)
    assert (change.kind, change.channel) == (kind, "web")
    again = _post(client, dana, f"follow-ups/{appointment.id}/{action}", _shown(appointment))
    assert again.status_code == 409
    assert "already marked" in again.get_data(as_text=True)


# --- details ---------------------------------------------------------------------------------

SHOWN = {"name": "Dana Cole", "phone": "+17735550127", "email": ""}


def _details(**typed: str) -> dict[str, str]:
    """The details form as the page showed Dana Cole, with what the agent typed over it."""
    return {**{f"shown_{field}": value for field, value in SHOWN.items()}, **SHOWN, **typed}


def test_editing_phone_and_email_updates_the_lead_with_an_audit_row(app, client, dana) -> None:
    response = _post(client, dana, "details", _details(phone="(773) 555-0199",
                                                       email="Dana@Example.com"))
    assert response.status_code == 303, response.get_data(as_text=True)
    lead = _lead(app, dana)
    assert (lead.phone, lead.email) == ("+17735550199", "dana@example.com")
    (change,) = _get(app, ChangeHistory)
    assert change.kind == "lead.updated" and change.channel == "web"
    assert change.changes == {"phone": ["+17735550127", "+17735550199"],
                              "email": [None, "dana@example.com"]}


@pytest.mark.parametrize(("changed", "status", "says"), [
    ({"phone": "12"}, 422, "not a valid phone number"),
    ({"phone": ""}, 422, "not removed"),
    ({}, 422, "Nothing was changed"),
    ({"phone": "(312) 555-0123"}, 409, "already have a lead with that number (John Doe)"),
    ({"email": "not-an-email"}, 409, "not a valid email address"),
])
def test_bad_details_change_nothing(app, client, dana, changed, status, says) -> None:
    response = _post(client, dana, "details", _details(**changed))
    assert response.status_code == status
    assert says in response.get_data(as_text=True)
    assert _lead(app, dana).phone == "+17735550127"
    assert _get(app, ChangeHistory) == []


def test_details_changed_meanwhile_are_not_overwritten(app, client, dana) -> None:
    with get_db(app).session() as session:
        session.get(Lead, dana).email = "changed@example.com"
        session.commit()
    response = _post(client, dana, "details", _details(email="me@example.com"))
    assert response.status_code == 409 and "changed meanwhile" in response.get_data(as_text=True)
    assert _lead(app, dana).email == "changed@example.com"


# --- refused before anything runs -------------------------------------------------------------

FORM_ACTIONS = ["status", "interactions", "follow-ups", "details", "follow-ups/{a}/reschedule",
                "follow-ups/{a}/complete", "follow-ups/{a}/cancel"]
FIELDS = {"status": "closed_won", "old_status": "negotiating", "interaction_type": "call",
          "note": "hi", "title": "x", "date": "2999-01-01", "time": "10:00",
          "shown_phone": "+17735550127", "phone": "+17735550199", "shown_due_at": "",
          "shown_title": "send comps"}


@pytest.mark.parametrize("action", FORM_ACTIONS)
def test_a_form_post_without_its_csrf_token_is_refused(app, client, agent, dana,
                                                       action) -> None:
    appointment = _follow_up(app, agent.id, dana, datetime.now(UTC) + timedelta(days=1))
    fields = {**FIELDS, "shown_due_at": appointment.due_at.isoformat()}
    path = f"/app/leads/{dana}/" + action.format(a=appointment.id)
    for token in ({}, {"csrf_token": "f" * 64}):
        response = client.post(path, data={**fields, **token})
        assert response.status_code == 400
    assert _count(app, ExecutedPlan) == 0


@pytest.mark.parametrize("action", FORM_ACTIONS)
def test_another_agents_lead_or_follow_up_is_not_found_and_unchanged(app, client, agent,
                                                                     dana, action) -> None:
    with get_db(app).session() as session:
        other = User(name="Blake Ng", phone="+13125550199", timezone="America/New_York")
        session.add(other)
        session.flush()
        theirs = Lead(agent_id=other.id, name="Secret Person", status="negotiating",
                      phone="+17735550127")
        session.add(theirs)
        session.flush()
        their_follow_up = Appointment(lead_id=theirs.id, agent_id=other.id, title="send comps",
                                      due_at=datetime.now(UTC) + timedelta(days=1))
        session.add(their_follow_up)
        session.commit()
    token = csrf_of(client.get("/app").get_data(as_text=True))
    fields = {**FIELDS, "csrf_token": token,
              "shown_due_at": their_follow_up.due_at.isoformat()}
    # Their lead under its own id, and their follow-up under my lead's id.
    for lead_id in (theirs.id, dana):
        if lead_id == dana and "{a}" not in action:
            continue
        path = f"/app/leads/{lead_id}/" + action.format(a=their_follow_up.id)
        assert client.post(path, data=fields).status_code == 404
    assert _count(app, ExecutedPlan) == 0
    assert _lead(app, theirs.id).status == "negotiating"


def test_forms_need_a_signed_in_agent(app, agent, dana) -> None:
    from tests.support.web import fresh_browser_token

    browser = app.test_client()
    token = fresh_browser_token(app, browser)
    response = browser.post(f"/app/leads/{dana}/status", data={
        "csrf_token": token, "status": "closed_won", "old_status": "negotiating"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert _count(app, ExecutedPlan) == 0


def test_every_form_on_the_lead_page_carries_the_csrf_token(app, client, agent, dana) -> None:
    _follow_up(app, agent.id, dana, datetime.now(UTC) + timedelta(days=1))
    html = client.get(f"/app/leads/{dana}").get_data(as_text=True)
    forms = re.findall(r"<form method=\"post\".*?</form>", html, re.S)
    assert len(forms) == 9  # status, log, done, cancel, move, add, details, 2 x sign out
    assert all('name="csrf_token"' in form for form in forms)
