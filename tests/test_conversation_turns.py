"""The conversation over several messages, through the signed SMS webhook (and by voice): which
lead a message is about, what a reply to a question or a reminder does, what a pending plan
becomes. Each test is a reproduction from a day of real use (issue 20) or the outside review
(issue 15); the database is checked, not only the replies.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from db.models import Appointment, ClientInteraction, ExecutedPlan, Lead
from tests.support.voice import VoicePhone, said
from tests.support.waiting import wait_for
from webapp.database import get_db
from webapp.execution.reminder_dispatch import ReminderRules, dispatch_due_reminders


def _count(app: Flask, model, *where) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# ---- a name that is no lead is never the previous message's lead (issue 15, defect 1) -------


@pytest.mark.parametrize("text", [
    "Mark Zed Zimmerman as lost",
    "Update Zed Zimmerman's status to lost",
    "Called Zed Zimmerman, no answer",
    "Remind me to call Mike Johnson in 1 minute",
])
def test_by_text_an_unknown_name_after_a_lead_is_unknown_lead_and_nothing_waits(
        app, phone, text) -> None:
    assert "Sarah Smith" in phone.text("What's Sarah Smith's status?")
    reply = phone.text(text)
    assert reply.startswith("No lead named"), reply
    assert "Sarah Smith" not in reply.split(".")[0]
    assert phone.text("YES") == "Nothing is waiting for confirmation."
    assert _count(app, ExecutedPlan) == 0


def test_by_voice_an_unknown_name_after_a_lead_is_unknown_lead_and_nothing_waits(
        app, agent) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    assert "Sarah Smith" in said(call.say("what's sarah smith's status"))
    heard = said(call.say("Mark Zed Zimmerman as lost"))
    assert "Zed Zimmerman" in heard and "confirm" not in heard
    call.press("1")
    assert _count(app, ExecutedPlan) == 0
    with get_db(app).session() as session:
        assert session.scalar(select(Lead.status).where(Lead.name == "Sarah Smith")) == \
            "contacted"


# ---- a lead created in a message is who "he/her" means, there and next (issue 20, item 1) ---


def test_a_clause_after_new_lead_lands_on_the_new_lead(app, phone, celery_worker) -> None:
    phone.text("What's Sarah Smith's status?")
    reply = phone.text("New lead: Marcus Bell, 773-555-0199, met him at the open house")
    assert "Log meeting with Marcus Bell" in reply and "Sarah" not in reply
    phone.text("YES")
    wait_for(lambda: _count(app, ExecutedPlan, ExecutedPlan.state == "executed"))
    with get_db(app).session() as session:
        marcus = session.scalar(select(Lead).where(Lead.name == "Marcus Bell"))
        assert session.scalar(select(ClientInteraction.lead_id)) == marcus.id


def test_the_message_after_a_new_lead_is_about_the_new_lead(app, phone, celery_worker) -> None:
    phone.text("What's Sarah Smith's status?")
    phone.text("New lead Nina Park 312-555-0142")
    phone.text("YES")
    wait_for(lambda: _count(app, ExecutedPlan, ExecutedPlan.state == "executed"))
    reply = phone.text("call her tomorrow at 10")
    assert "Follow up with Nina Park: call Nina Park" in reply, reply


def test_her_right_after_a_new_lead_not_yet_saved_is_asked_not_guessed(app, phone) -> None:
    phone.text("What's Sarah Smith's status?")
    phone.text("New lead Nina Park 312-555-0142")
    reply = phone.text("call her tomorrow at 10")
    assert "Sarah" not in reply and "Which lead" in reply


# ---- smaller misses from a day of use (issue 20, item 10) ----------------------------------


def test_whats_on_tomorrow_in_the_evening_lists_only_tomorrow(app, agent) -> None:
    zone = ZoneInfo("America/Chicago")
    with get_db(app).session() as session:
        dana = session.scalar(select(Lead).where(Lead.name == "Dana Cole"))
        session.add_all([
            Appointment(lead_id=dana.id, agent_id=agent.id, title="call about tonight",
                        due_at=datetime(2026, 3, 5, 21, 0, tzinfo=zone)),
            Appointment(lead_id=dana.id, agent_id=agent.id, title="send the contract",
                        due_at=datetime(2026, 3, 6, 10, 0, tzinfo=zone)),
        ])
        session.commit()
    evening = datetime(2026, 3, 5, 19, 30, tzinfo=zone)
    reply = app.extensions["conversation"].handle(agent, "what's on tomorrow?", "sms",
                                                  now=evening).reply
    assert "send the contract" in reply and "tonight" not in reply, reply
    today = app.extensions["conversation"].handle(agent, "agenda", "sms", now=evening).reply
    assert "call about tonight" in today


# ---- replies to a reminder with more words (issue 20, item 4) ------------------------------


def _lead(app: Flask, agent, name: str) -> int:
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.agent_id == agent.id, Lead.name == name))
        if lead is None:
            lead = Lead(agent_id=agent.id, name=name, status="contacted")
            session.add(lead)
            session.commit()
        return lead.id


def _remind(app: Flask, agent, lead_name: str, title: str) -> int:
    """A follow-up for `lead_name` that fell due a minute ago, and its reminder text sent."""
    lead_id = _lead(app, agent, lead_name)
    with get_db(app).session() as session:
        appointment = Appointment(lead_id=lead_id, agent_id=agent.id, title=title,
                                  due_at=datetime.now(UTC) - timedelta(minutes=1))
        session.add(appointment)
        session.commit()
        appointment_id = appointment.id
    dispatch_due_reminders(get_db(app), datetime.now(UTC), ReminderRules())
    return appointment_id


def _state(app: Flask, appointment_id: int) -> str:
    with get_db(app).session() as session:
        return session.get(Appointment, appointment_id).state


def _interactions(app: Flask) -> list[tuple[str, str, str]]:
    with get_db(app).session() as session:
        return [(name, kind, note) for name, kind, note in session.execute(
            select(Lead.name, ClientInteraction.type, ClientInteraction.note)
            .join(Lead, Lead.id == ClientInteraction.lead_id).order_by(ClientInteraction.id))]


def test_done_with_more_words_closes_the_reminder_and_logs_the_rest_on_its_lead(
        app, agent, phone) -> None:
    _lead(app, agent, "Lisa Chen")
    phone.text("What's Lisa Chen's status?")
    reminder = _remind(app, agent, "Michael Chen", "check in about the offer")
    reply = phone.text("done, talked to him, all good")
    assert _state(app, reminder) == "done"
    assert _interactions(app) == [("Michael Chen", "call", "all good")]
    assert "Marked done" in reply and "Michael Chen" in reply and "Lisa" not in reply
    assert phone.text("YES") == "Nothing is waiting for confirmation."


def test_snooze_with_more_words_moves_the_reminder_and_logs_the_rest(app, agent, phone) -> None:
    reminder = _remind(app, agent, "Dana Cole", "send the comps")
    reply = phone.text("snooze 1h, left her a voicemail")
    assert reply.startswith("😴 Snoozed: send the comps")
    with get_db(app).session() as session:
        moved = session.get(Appointment, reminder)
        assert moved.state == "scheduled" and moved.reminded_at is None
    assert _interactions(app) == [("Dana Cole", "call", "left a voicemail")]


def test_a_reminders_lead_is_who_the_next_message_means(app, agent, phone) -> None:
    _lead(app, agent, "Lisa Chen")
    phone.text("What's Lisa Chen's status?")
    _remind(app, agent, "Michael Chen", "check in about the offer")
    reply = phone.text("call him tomorrow at 10")
    assert "Follow up with Michael Chen" in reply, reply


def test_a_pending_plan_is_named_when_a_reminder_is_answered(app, agent, phone) -> None:
    phone.text("Mark Dana Cole as qualified")
    _remind(app, agent, "John Doe", "send the contract")
    reply = phone.text("DONE")
    assert "Marked done: send the contract" in reply
    assert "Update Dana Cole" in reply and "YES" in reply
    assert "Confirmed" in phone.text("YES")


def test_plain_done_with_two_reminders_waiting_asks_which(app, agent, phone) -> None:
    first = _remind(app, agent, "John Doe", "send the contract")
    second = _remind(app, agent, "Dana Cole", "book the inspection")
    reply = phone.text("done")
    assert "Which one" in reply and "#1" in reply and "#2" in reply, reply
    assert (_state(app, first), _state(app, second)) == ("scheduled", "scheduled")
    assert phone.text("done 2").startswith("✅ Marked done: book the inspection")
    assert _state(app, first) == "scheduled"


def test_done_for_a_reminder_already_done_says_so(app, agent, phone) -> None:
    _remind(app, agent, "John Doe", "send the contract")
    _remind(app, agent, "Dana Cole", "book the inspection")
    phone.text("done 2")
    reply = phone.text("done 2")
    assert "#2" in reply and "already done" in reply, reply


# ---- answers to a clarify question (issue 20, item 5) --------------------------------------


def test_yes_to_which_john_asks_again_and_the_question_stays(app, phone) -> None:
    phone.text("Update John to qualified")
    again = phone.text("yes")
    assert "John Doe" in again and "John Smith" in again and "Nothing is waiting" not in again
    assert "Reply YES" in phone.text("1")


def test_yes_to_the_new_leads_name_is_not_a_name(app, phone) -> None:
    assert "name" in phone.text("New lead 312-555-0142")
    again = phone.text("yes")
    assert "name" in again and "Yes" not in again.split("?")[0]
    reply = phone.text("Nina Park")
    assert "New lead Nina Park" in reply


def test_an_unrelated_text_does_not_keep_a_status_question_attached(app, phone) -> None:
    assert "not a status" in phone.text("Update Dana Cole to pending")
    reply = phone.text("friday at 11")
    assert "not a status" not in reply
    assert "Reply YES" not in (phone.text("3") or "")  # the question is gone


def test_a_new_command_replaces_the_question(app, phone) -> None:
    phone.text("Update John to qualified")
    reply = phone.text("Update Dana Cole to hot")
    assert '"hot" is not a status' in reply
    assert "Update Dana Cole" in phone.text("3")  # qualified (4, negotiating, she already is)


# ---- corrections to a pending plan (issue 20, item 6) --------------------------------------


@pytest.mark.parametrize(("correction", "shown"), [
    ("no I meant Friday at 11", "11:00 AM"),
    ("make it 4pm instead", "4:00 PM"),
])
def test_a_correction_edits_the_pending_plan_and_shows_it_again(app, phone, correction,
                                                                 shown) -> None:
    first = phone.text("Remind me to call Dana Cole tomorrow at 10")
    assert "Reply YES" in first
    reply = phone.text(correction)
    assert shown in reply and "Dana Cole" in reply and reply.endswith(
        "Reply YES to confirm or NO to cancel."), reply
    assert "10:00 AM" not in reply and ("Fri " in reply or "Friday" not in correction)
    assert "Confirmed" in phone.text("YES")
    with get_db(app).session() as session:
        plan = session.scalar(select(ExecutedPlan))
        assert len(plan.plan["actions"]) == 1


def test_by_voice_a_correction_is_read_back_and_yes_confirms_it(app, agent) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    assert "10 AM" in said(call.say("remind me to call dana cole tomorrow at ten a m"))
    heard = said(call.say("make it four p m instead"))
    assert "4 PM" in heard and "Dana Cole" in heard and "10 AM" not in heard, heard
    call.press("1")
    with get_db(app).session() as session:
        plan = session.scalar(select(ExecutedPlan))
        assert plan is not None and len(plan.plan["actions"]) == 1
        assert "T16:00:00" in plan.plan["actions"][0]["due_at"]


def test_a_correction_of_the_status_edits_the_pending_plan(app, phone) -> None:
    phone.text("Mark Dana Cole as qualified")
    reply = phone.text("sorry, make it negotiating")
    assert "Update Dana Cole" in reply and "negotiating" in reply and "qualified" not in \
        reply.split("->")[-1]


# ---- an expired plan, a snooze with nothing waiting (issue 20, item 8) ---------------------


@pytest.mark.parametrize("settings", [{"PENDING_PLAN_TTL": 1}])
def test_yes_after_the_plan_expired_says_what_expired(app, phone, settings) -> None:
    phone.text("Mark Dana Cole as qualified")
    time.sleep(1.3)
    reply = phone.text("YES")
    assert reply.startswith("Your change for Dana Cole expired"), reply
    assert "nothing was saved" in reply
    assert phone.text("YES") == "Nothing is waiting for confirmation."
    assert _count(app, ExecutedPlan) == 0


def test_remind_me_later_with_no_reminder_waiting_uses_the_last_lead(app, phone) -> None:
    phone.text("What's Dana Cole's status?")
    reply = phone.text("remind me in 2 hours")
    assert "Follow up with Dana Cole" in reply and "Reply YES" in reply, reply


def test_ping_me_with_a_time_and_no_reminder_is_a_follow_up_not_a_title(app, phone) -> None:
    phone.text("What's Dana Cole's status?")
    reply = phone.text("Ping me Mon 9a")
    assert reply.startswith("Follow up with Dana Cole - Mon"), reply
    assert "9:00 AM" in reply and "Ping" not in reply


def test_remind_me_later_with_no_reminder_and_no_lead_asks_what_about(app, phone) -> None:
    reply = phone.text("remind me in 2 hours")
    assert "What should I remind you about" in reply, reply


# ---- a new lead that may already be there (issue 20, item 9) -------------------------------


def test_a_new_lead_with_an_existing_phone_is_not_offered_twice(app, phone) -> None:
    reply = phone.text("new lead Dana Cole 773-555-0127")
    assert "already" in reply and "Dana Cole" in reply, reply
    assert "Reply YES" not in reply
    assert phone.text("YES") == "Nothing is waiting for confirmation."


def test_a_new_lead_with_an_existing_name_is_offered_with_a_warning(app, phone) -> None:
    reply = phone.text("new lead Dana Cole 773-555-0188")
    assert "already have a lead named Dana Cole" in reply and "Reply YES" in reply, reply


def test_a_new_lead_with_an_existing_email_is_offered_with_a_warning(app, agent, phone) -> None:
    with get_db(app).session() as session:
        session.get(Lead, _lead(app, agent, "Sarah Smith")).email = "sarah@example.com"
        session.commit()
    reply = phone.text("new lead Sally Smythe sarah@example.com")
    assert "sarah@example.com" in reply and "Sarah Smith" in reply and "Reply YES" in reply
