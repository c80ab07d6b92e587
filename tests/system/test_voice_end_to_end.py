"""A whole call with real parts: signed Twilio Voice webhooks → the shared conversation →
YES → a real Celery worker on the real broker → database → the outcome said on the call and
the summary texted through the real twilio client to the loopback stand-in."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from db.models import (
    Appointment,
    ClientInteraction,
    ExecutedPlan,
    Lead,
    LeadHistory,
    Message,
)
from tests.support.databases import rows
from tests.support.sms import SmsPhone
from tests.support.voice import VoicePhone, hangs_up, listens, said
from tests.support.waiting import wait_for
from webapp.database import get_db

pytestmark = pytest.mark.integration

SEED_SPOKEN = (
    "log that my call with john doe went well update his status to negotiating "
    "and remind me to send the contract tomorrow morning"
)


@pytest.fixture
def settings(twilio_standin) -> dict:
    return {"TWILIO_API_BASE_URL": twilio_standin.base_url, "SMS_SENDER": "twilio",
            "VOICE_RESULT_WAIT": 10}


@pytest.fixture
def call(app, agent) -> VoicePhone:
    return VoicePhone(app, agent.phone)


def test_a_whole_call_greeting_command_yes_rows_spoken_and_texted_result(
    app, agent, call, celery_worker, twilio_standin
) -> None:
    assert "Hi Alex" in said(call.call())

    offer = said(call.say(SEED_SPOKEN, confidence="0.87"))
    assert "Log a call with John Doe: went well." in offer
    assert "from contacted to negotiating" in offer
    assert "tomorrow at 10 AM" in offer and "send the contract" in offer
    assert offer.endswith("Say yes to confirm or no to cancel, or press 1 for yes, 2 for no.")
    assert "T10:00" not in offer and "Reply" not in offer

    root = call.say("yes")
    result = said(root)
    assert result.startswith("Done.")
    assert "John Doe is now negotiating" in result
    assert "I'll remind you tomorrow at 10 AM: send the contract." in result
    assert "texting you the summary" in result
    assert result.endswith("Anything else?") and listens(root)

    [plan] = rows(app, ExecutedPlan)
    assert (plan.state, plan.channel) == ("executed", "voice")
    [interaction] = rows(app, ClientInteraction)
    assert (interaction.type, interaction.note, interaction.channel) == ("call", "went well",
                                                                          "voice")
    [history] = rows(app, LeadHistory)
    assert (history.old_status, history.new_status, history.channel) == (
        "contacted", "negotiating", "voice")
    [appointment] = rows(app, Appointment)
    local_due = appointment.due_at.astimezone(ZoneInfo("America/Chicago"))
    assert local_due.date() == datetime.now(ZoneInfo("America/Chicago")).date() + timedelta(1)
    assert (local_due.hour, local_due.minute) == (10, 0)
    john = next(lead for lead in rows(app, Lead) if lead.name == "John Doe")
    assert john.status == "negotiating"

    # The SMS summary is sent too, by the worker, exactly once.
    sent = wait_for(lambda: twilio_standin.messages)
    assert len(sent) == 1 and sent[0]["To"] == agent.phone
    assert sent[0]["Body"].startswith("✅ Done!")

    root = call.say("no that's all")
    assert hangs_up(root) and said(root) == "Goodbye."
    voice = [m for m in rows(app, Message) if m.channel == "voice"]
    assert {m.direction for m in voice} == {"inbound", "outbound"}
    assert all(m.call_sid == call.call_sid for m in voice)
    assert any(m.plan_id == plan.plan_id and m.direction == "outbound" for m in voice)


def test_keypad_one_confirms_and_the_outcome_is_said(app, agent, call, celery_worker,
                                                     twilio_standin) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    result = said(call.press("1"))
    assert "Sarah Smith is now qualified." in result
    wait_for(lambda: twilio_standin.messages)
    assert twilio_standin.messages[0]["Body"] == (
        "✅ Done! The status for Sarah Smith has been updated from 'contacted' to 'qualified'."
    )


def test_a_plan_confirmed_by_voice_cannot_be_confirmed_again_by_text(
    app, agent, call, celery_worker, twilio_standin
) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    assert "Done." in said(call.say("yes"))
    assert SmsPhone(app, agent.phone).text("YES") == "Nothing is waiting for confirmation."
    assert "Nothing is waiting" in said(call.say("yes"))
    assert len(rows(app, ExecutedPlan)) == 1
    assert len(rows(app, LeadHistory)) == 1
    import time

    time.sleep(0.5)
    assert len(twilio_standin.messages) == 1


def test_undo_by_voice(app, agent, call, celery_worker, twilio_standin) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    call.say("yes")
    offer = said(call.say("undo that"))
    assert "set Sarah Smith back to contacted" in offer and "Say yes to confirm" in offer
    result = said(call.say("yes"))
    assert "Undone: Sarah Smith is back to contacted." in result
    sarah = next(lead for lead in rows(app, Lead) if lead.name == "Sarah Smith")
    assert sarah.status == "contacted"
    wait_for(lambda: len(twilio_standin.messages) == 2)


def test_a_failed_plan_is_said_plainly(app, agent, call, celery_worker, twilio_standin) -> None:
    call.call()
    call.say("update sarah smith's status to qualified and called dana cole no answer")
    with get_db(app).session() as session:
        session.delete(session.scalar(select(Lead).where(Lead.name == "Dana Cole")))
        session.commit()
    result = said(call.say("yes"))
    assert "Sorry, I couldn't do that: that lead no longer exists. Nothing was changed." in result
    assert rows(app, LeadHistory) == []


@pytest.mark.parametrize("settings", [{"VOICE_RESULT_WAIT": 0}])
def test_an_outcome_not_ready_in_time_is_promised_by_text(app, agent, call, settings) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    result = said(call.say("yes"))
    assert "I'll text you the result" in result and result.endswith("Anything else?")
    assert [p.state for p in rows(app, ExecutedPlan)] == ["confirmed"]


# The spec's examples as Twilio's speech-to-text writes them: lowercase, no punctuation,
# numbers spelled out, "p m".
SPOKEN_EXAMPLES = [
    ("update john doe's status to qualified", ["John Doe", "qualified"]),
    ("update john does status to qualified", ["John Doe", "qualified"]),
    ("mark sarah smith as negotiating", ["Sarah Smith", "negotiating"]),
    ("dana is lost", ["Dana Cole", "closed lost"]),
    ("mark sarah as closed won", ["Sarah Smith", "closed won"]),
    ("called dana cole no answer", ["log a call with Dana Cole: no answer."]),
    ("met john doe for coffee he loved the place", ["meeting with John Doe"]),
    ("add a note that sarah smith mentioned budget concerns",
     ["note for Sarah Smith: mentioned budget concerns"]),
    ("remind me to send john doe the contract tomorrow morning",
     ["John Doe", "tomorrow at 10 AM"]),
    ("remind me to call dana cole tomorrow at two thirty p m", ["tomorrow at 2:30 PM"]),
    ("follow up with dana next tuesday at two", ["Dana Cole", "at 2 PM"]),
    ("new lead jane roe three one two five five five zero one nine nine",
     ["Jane Roe", "3 1 2, 5 5 5, 0 1 9 9"]),
    ("new lead jane roe 312 555 0199 jane at example dot com",
     ["Jane Roe", "jane at example dot com"]),
    (SEED_SPOKEN, ["went well", "negotiating", "send the contract"]),
]


@pytest.mark.parametrize(("spoken", "expected"), SPOKEN_EXAMPLES)
def test_the_specs_examples_work_by_voice(app, agent, call, spoken, expected) -> None:
    call.call()
    offer = said(call.say(spoken))
    for fragment in expected:
        assert fragment in offer, offer
    assert offer.endswith("Say yes to confirm or no to cancel, or press 1 for yes, 2 for no.")


@pytest.mark.parametrize(("spoken", "expected"), [
    ("whats john doe's status", "John Doe is contacted. No contact logged yet."),
    ("what's on my agenda", "Nothing on your agenda today."),
    ("who's negotiating", "1 lead is negotiating: Dana Cole."),
])
def test_the_specs_queries_work_by_voice(app, agent, call, spoken, expected) -> None:
    call.call()
    assert said(call.say(spoken)) == f"{expected} Anything else?"
