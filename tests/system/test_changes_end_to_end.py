"""Changing what is there, end to end with real parts, by SMS and by voice: a signed webhook →
the parser reading the agent's book (open follow-ups, interactions) from the database → the plan
in Redis → YES → a real Celery worker → rows and audit rows → the result text through the real
twilio client to the loopback stand-in; and no-ops, which offer nothing to confirm."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from db.models import Appointment, ChangeHistory, ClientInteraction, ExecutedPlan, Lead
from tests.support.databases import rows
from tests.support.voice import VoicePhone, listens, said
from tests.support.waiting import wait_for
from webapp.database import get_db

pytestmark = pytest.mark.integration
CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture
def settings(twilio_standin) -> dict:
    return {"TWILIO_API_BASE_URL": twilio_standin.base_url, "SMS_SENDER": "twilio",
            "VOICE_RESULT_WAIT": 10}


def _tomorrow_at(hour: int) -> datetime:
    day = datetime.now(CHICAGO).date() + timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=CHICAGO)


@pytest.fixture
def book(app, agent) -> dict[str, int]:
    """Dana's open follow-up tomorrow at 2 PM, and a call logged with John Doe just now (so
    "today" in the agent's zone at whatever time the test runs)."""
    with get_db(app).session() as session:
        leads = {lead.name: lead for lead in session.scalars(
            select(Lead).where(Lead.agent_id == agent.id))}
        dana = Appointment(lead_id=leads["Dana Cole"].id, agent_id=agent.id, title="send comps",
                           due_at=_tomorrow_at(14), channel="import")
        session.add(dana)
        session.add(ClientInteraction(lead_id=leads["John Doe"].id, agent_id=agent.id,
                                      type="call", note="went well", channel="sms",
                                      occurred_at=datetime.now(UTC) - timedelta(seconds=2)))
        session.commit()
        return {"dana_follow_up": dana.id, **{name: lead.id for name, lead in leads.items()}}


def _executed(app, count: int) -> bool:
    with get_db(app).session() as session:
        states = list(session.scalars(select(ExecutedPlan.state)))
    return len(states) == count and set(states) == {"executed"}


def _follow_up(app, appointment_id: int) -> Appointment:
    with get_db(app).session() as session:
        return session.get(Appointment, appointment_id)


def test_a_move_a_cancel_and_its_undo_by_sms(app, agent, phone, book, celery_worker,
                                             twilio_standin) -> None:
    offer = phone.text("Move my follow-up with Dana to 4pm")
    assert "Move 'send comps' with Dana Cole" in offer and "4:00 PM" in offer
    assert "Reply YES to confirm" in offer
    assert "Confirmed" in phone.text("YES")
    wait_for(lambda: _executed(app, 1))
    moved = _follow_up(app, book["dana_follow_up"])
    assert moved.due_at == _tomorrow_at(16) and moved.state == "scheduled"
    assert moved.sequence == 1
    [change] = rows(app, ChangeHistory)
    assert (change.kind, change.channel) == ("follow_up.rescheduled", "sms")
    wait_for(lambda: len(twilio_standin.messages) == 1)
    assert "Moved 'send comps' with Dana Cole" in twilio_standin.messages[0]["Body"]

    assert "Cancel 'send comps' with Dana Cole" in phone.text("cancel the follow-up with Dana")
    phone.text("yes")
    wait_for(lambda: _executed(app, 2))
    assert _follow_up(app, book["dana_follow_up"]).state == "cancelled"

    # Undo reverts the last plan (the cancel): the follow-up is open again at its moved time.
    assert "Undo your last change" in phone.text("UNDO")
    phone.text("YES")
    wait_for(lambda: _executed(app, 3))
    reopened = _follow_up(app, book["dana_follow_up"])
    assert (reopened.state, reopened.due_at) == ("scheduled", _tomorrow_at(16))


def test_a_new_number_and_many_leads_at_once_by_sms(app, agent, phone, book, celery_worker,
                                                    twilio_standin) -> None:
    offer = phone.text("Dana Cole's new number is 773-555-0111")
    assert "Update Dana Cole: phone +1 773-555-0127 -> +1 773-555-0111." in offer
    phone.text("YES")
    wait_for(lambda: _executed(app, 1))
    with get_db(app).session() as session:
        assert session.get(Lead, book["Dana Cole"]).phone == "+17735550111"

    offer = phone.text("mark all my contacted leads as follow_up")
    assert offer.startswith("Update 2 leads to follow_up: John Doe, Sarah Smith.")
    phone.text("YES")
    wait_for(lambda: _executed(app, 2))
    with get_db(app).session() as session:
        statuses = {lead.name: lead.status for lead in session.scalars(select(Lead))}
    assert statuses["John Doe"] == statuses["Sarah Smith"] == "follow_up"
    assert statuses["Dana Cole"] == "negotiating"

    # "everyone I called today" is read from the interactions in the database
    offer = phone.text("Remind me to email everyone I called today tomorrow at 9")
    assert "email John Doe" in offer and "Reply YES" in offer


def test_a_noop_offers_nothing_to_confirm(app, agent, phone, book) -> None:
    assert phone.text("Mark Dana Cole as negotiating") == "Dana Cole is already negotiating."
    assert phone.text("cancel my 9am with Dana") == (
        "No open follow-up with Dana Cole at 9:00 AM, so nothing to change.")
    assert phone.text("YES") == "Nothing is waiting for confirmation."
    assert rows(app, ExecutedPlan) == []


def test_it_right_after_a_reminder_is_that_follow_up(app, agent, phone, book) -> None:
    with get_db(app).session() as session:
        follow_up = session.get(Appointment, book["dana_follow_up"])
        follow_up.reminded_at = datetime.now(UTC) - timedelta(minutes=2)
        session.commit()
    offer = phone.text("push it back an hour")
    assert "Move 'send comps' with Dana Cole" in offer and "3:00 PM" in offer


def test_a_move_by_voice_is_read_back_confirmed_and_done(app, agent, book, celery_worker,
                                                         twilio_standin) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    offer = said(call.say("move my follow up with dana cole to four p m", confidence="0.9"))
    assert "move the follow-up to send comps, with Dana Cole, from tomorrow at 2 PM to " \
           "tomorrow at 4 PM" in offer
    assert offer.endswith("Say yes to confirm or no to cancel, or press 1 for yes, 2 for no.")
    root = call.say("yes")
    result = said(root)
    assert result.startswith("Done.") and "Moved send comps to tomorrow at 4 PM." in result
    assert listens(root)
    assert _follow_up(app, book["dana_follow_up"]).due_at == _tomorrow_at(16)
    [plan] = rows(app, ExecutedPlan)
    assert plan.channel == "voice"


def test_many_leads_by_voice_are_counted_and_named(app, agent, book) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    offer = said(call.say("mark all my contacted leads as follow up"))
    assert "Set 2 leads to follow up" not in offer  # two are said one by one
    assert "John Doe's status" in offer and "Sarah Smith's status" in offer


def test_two_follow_ups_at_one_time_ask_which_and_the_number_continues(app, agent, phone,
                                                                       book) -> None:
    with get_db(app).session() as session:
        john = session.scalar(select(Lead).where(Lead.agent_id == agent.id,
                                                 Lead.name == "John Doe"))
        session.add(Appointment(lead_id=john.id, agent_id=agent.id, title="send the contract",
                                due_at=_tomorrow_at(14), channel="sms"))
        session.commit()
    question = phone.text("cancel my 2pm tomorrow")
    assert question.startswith("Which follow-up? 1) ")
    assert "Dana Cole: send comps" in question and "John Doe: send the contract" in question
    number = "1" if question.index("John Doe") < question.index("Dana Cole") else "2"
    offer = phone.text(number)
    assert offer.startswith("Cancel 'send the contract' with John Doe")


def test_a_noop_by_voice_is_said_and_the_call_goes_on(app, agent, book) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    root = call.say("mark dana cole as negotiating")
    assert said(root).startswith("Dana Cole is already negotiating.") and listens(root)
