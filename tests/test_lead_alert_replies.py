"""Answering a new-lead alert: right after "New lead: Nina Park …", "called, went well" or
"remind me tomorrow at 9" is about Nina Park, by text and by call. The latest of the
assistant's texts about one lead (an alert or a reminder) is whom "him" means, unless the agent
has written since; a summary of several new leads makes no one "him"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select, update

from db.models import Appointment, ClientInteraction, ExecutedPlan, Lead, LeadAlert, User
from tests.support.databases import rows
from tests.support.voice import VoicePhone, said
from webapp.database import get_db
from webapp.execution.lead_alert_dispatch import dispatch_lead_alerts
from webapp.execution.plans import run_confirmed_plan, run_plan_now
from webapp.execution.reminder_dispatch import ReminderRules, dispatch_due_reminders

RULES = ReminderRules()


@pytest.fixture
def agent(app: Flask, agent):
    """The test agent, with alerts at night on: an alert goes out whatever the hour."""
    with get_db(app).session() as session:
        session.execute(update(User).where(User.id == agent.id).values(alerts_at_night=True))
        session.commit()
    return agent


def _alerted_lead(app: Flask, agent, name: str = "Nina Park", phone: str = "+13125550142",
                  channel: str = "api") -> int:
    """A lead added by the API (or `channel`), and its alert texted now."""
    outcome = run_plan_now(get_db(app), agent.id,
                           [{"type": "create_lead", "name": name, "phone": phone}], channel)
    assert len(dispatch_lead_alerts(get_db(app), datetime.now(UTC), RULES)) == 1
    return outcome.effects[0]["lead_id"]


def _reminded(app: Flask, agent, lead_name: str, title: str = "send the contract") -> None:
    """An outstanding reminder about `lead_name`, texted now."""
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.agent_id == agent.id,
                                                 Lead.name == lead_name))
        session.add(Appointment(lead_id=lead.id, agent_id=agent.id, title=title,
                                due_at=datetime.now(UTC) - timedelta(minutes=1)))
        session.commit()
    assert dispatch_due_reminders(get_db(app), datetime.now(UTC), RULES)


def _run_confirmed(app: Flask) -> None:
    """What the worker would do with the plan the agent just confirmed."""
    [plan] = [p for p in rows(app, ExecutedPlan) if p.state == "confirmed"]
    assert run_confirmed_plan(get_db(app), plan.plan_id).state == "executed"


def _interactions(app: Flask) -> list[tuple[str, str, str, str]]:
    with get_db(app).session() as session:
        return [(name, kind, note, channel) for name, kind, note, channel in session.execute(
            select(Lead.name, ClientInteraction.type, ClientInteraction.note,
                   ClientInteraction.channel)
            .join(Lead, Lead.id == ClientInteraction.lead_id).order_by(ClientInteraction.id))]


@pytest.mark.parametrize(("text", "note"), [
    ("called, went well", "went well"),
    ("Called, left a voicemail", "left a voicemail"),
    ("called her, no answer", "no answer"),
])
def test_called_after_an_alert_logs_a_call_with_the_new_lead_by_text(
        app, agent, phone, text, note) -> None:
    _alerted_lead(app, agent)
    reply = phone.text(text)
    assert reply.startswith(f"Log call with Nina Park: {note}."), reply
    assert "Confirmed" in phone.text("YES")
    _run_confirmed(app)
    assert _interactions(app) == [("Nina Park", "call", note, "sms")]


def test_remind_me_after_an_alert_is_a_follow_up_with_the_new_lead(app, agent, phone) -> None:
    _reminded(app, agent, "John Doe")  # an older reminder, still open
    lead_id = _alerted_lead(app, agent)
    reply = phone.text("remind me tomorrow at 9")
    assert reply.startswith("Follow up with Nina Park"), reply
    assert "9:00 AM" in reply
    phone.text("YES")
    _run_confirmed(app)
    with get_db(app).session() as session:
        follow_up = session.scalar(select(Appointment).where(Appointment.lead_id == lead_id))
        john = session.scalar(select(Appointment).join(Lead, Lead.id == Appointment.lead_id)
                              .where(Lead.name == "John Doe"))
    local = follow_up.due_at.astimezone(ZoneInfo("America/Chicago"))
    assert (local.hour, local.minute) == (9, 0)
    assert local.date() == datetime.now(ZoneInfo("America/Chicago")).date() + timedelta(days=1)
    assert john.reminded_at is not None and john.state == "scheduled"  # not snoozed


def test_called_and_remind_me_in_one_reply(app, agent, phone) -> None:
    _alerted_lead(app, agent)
    reply = phone.text("called, went well. remind me friday at 10")
    assert reply.startswith("Log call with Nina Park: went well.\nFollow up with Nina Park"), reply


def test_the_agents_own_message_after_an_alert_leads(app, agent, phone) -> None:
    _alerted_lead(app, agent)
    assert "Sarah Smith" in phone.text("What's Sarah Smith's status?")
    assert phone.text("called her, went well").startswith("Log call with Sarah Smith")


def test_a_reminder_after_an_alert_is_whom_him_means_and_an_alert_after_a_reminder(
        app, agent, phone) -> None:
    _alerted_lead(app, agent)
    _reminded(app, agent, "John Doe")
    assert phone.text("called him, went well").startswith("Log call with John Doe")
    phone.text("NO")
    _alerted_lead(app, agent, name="Sam Lee", phone="+13125550143")
    assert phone.text("called, no answer").startswith("Log call with Sam Lee")


def test_a_summary_of_several_new_leads_makes_no_lead_him(app, agent, phone) -> None:
    _reminded(app, agent, "John Doe")  # older: the summary is the latest text
    for name, number in (("Ana Diaz", "+17735550101"), ("Ben Ode", "+17735550102")):
        run_plan_now(get_db(app), agent.id,
                     [{"type": "create_lead", "name": name, "phone": number}], "api")
    assert len(dispatch_lead_alerts(get_db(app), datetime.now(UTC), RULES)) == 1
    assert phone.text("called, went well") == "Which lead is this for? Reply with their name."


def test_an_alert_left_unanswered_longer_than_the_context_lasts_is_no_longer_him(
        app, agent, phone) -> None:
    _alerted_lead(app, agent)
    long_ago = datetime.now(UTC) - timedelta(seconds=app.config["CONTEXT_TTL"] + 60)
    with get_db(app).session() as session:
        session.execute(update(LeadAlert).values(sent_at=long_ago))
        session.commit()
    assert phone.text("called, went well") == "Which lead is this for? Reply with their name."


def test_called_after_an_alert_by_voice_logs_a_call_with_the_new_lead(app, agent) -> None:
    _alerted_lead(app, agent)
    call = VoicePhone(app, agent.phone)
    call.call()
    heard = said(call.say("called her, she wants to see the condo on saturday"))
    assert "Nina Park" in heard and "confirm" in heard
    call.press("1")
    _run_confirmed(app)
    assert _interactions(app) == [
        ("Nina Park", "call", "she wants to see the condo on saturday", "voice")]


def test_remind_me_after_an_alert_by_voice(app, agent) -> None:
    lead_id = _alerted_lead(app, agent)
    call = VoicePhone(app, agent.phone)
    call.call()
    heard = said(call.say("remind me tomorrow at nine a m"))
    assert "Nina Park" in heard and "9 AM" in heard.replace(":00", ""), heard
    call.press("1")
    _run_confirmed(app)
    with get_db(app).session() as session:
        assert session.scalar(select(Appointment.lead_id)) == lead_id
