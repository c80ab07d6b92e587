"""Note templates and email drafts end to end with real parts (issue 19): a signed webhook → the
parser with the agent's templates and newest draft read from the database → the plan in Redis →
YES → a real Celery worker → rows → the result text through the real twilio client to the
loopback stand-in; by SMS and by voice. Every text goes to the agent; none ever to a lead."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import ClientInteraction, EmailDraft, ExecutedPlan, Lead, NoteTemplate
from tests.support.databases import rows
from tests.support.voice import VoicePhone, said
from tests.support.waiting import wait_for
from webapp.database import get_db

pytestmark = pytest.mark.integration
LV = "left a voicemail, will try again tomorrow"


@pytest.fixture
def settings(twilio_standin) -> dict:
    return {"TWILIO_API_BASE_URL": twilio_standin.base_url, "SMS_SENDER": "twilio",
            "VOICE_RESULT_WAIT": 10}


@pytest.fixture
def dana(app, agent) -> int:
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.name == "Dana Cole"))
        lead.email = "dana@example.com"
        session.commit()
        return lead.id


def _executed(app, count: int) -> bool:
    with get_db(app).session() as session:
        states = list(session.scalars(select(ExecutedPlan.state)))
    return len(states) == count and set(states) == {"executed"}


def test_by_sms_a_template_and_a_draft_from_text_to_rows_and_texts(
        app, agent, dana, phone, celery_worker, twilio_standin) -> None:
    phone.text("save template lv: left a voicemail, will try again tomorrow")
    phone.text("YES")
    wait_for(lambda: _executed(app, 1))
    phone.text("Called Dana, LV")
    phone.text("YES")
    wait_for(lambda: _executed(app, 2))
    [call] = rows(app, ClientInteraction)
    assert (call.type, call.note) == ("call", LV)

    reply = phone.text("Draft an email to Dana Cole about the inspection")
    [draft] = rows(app, EmailDraft)
    assert f"https://fieldline.test/app/drafts/{draft.id}" in reply
    assert "Following up on my call today. I'm writing about the inspection." in reply
    phone.text("log it")
    phone.text("YES")
    wait_for(lambda: _executed(app, 3))
    sent = wait_for(lambda: len(twilio_standin.messages) >= 3 and twilio_standin.messages)
    bodies = [m["Body"] for m in sent]
    assert any(f'Saved template "lv": {LV}' in body for body in bodies)
    assert any(f"Logged call with Dana Cole: {LV}." in body for body in bodies)
    assert any("Logged email with Dana Cole: The inspection." in body for body in bodies)
    assert {m["To"] for m in sent} == {agent.phone}  # never Dana's number


def test_by_voice_a_draft_is_texted_and_logged_after_yes(
        app, agent, dana, celery_worker, twilio_standin) -> None:
    with get_db(app).session() as session:
        session.add(NoteTemplate(agent_id=agent.id, name="nr", text="no reply to texts"))
        session.commit()
    call = VoicePhone(app, agent.phone)
    call.call()
    heard = said(call.say("draft a thank you email to dana cole for today's showing"))
    assert heard.startswith("I've drafted an email to Dana Cole, subject: Thank you for "
                            "today's showing.")
    texted = wait_for(lambda: twilio_standin.messages)
    [draft] = rows(app, EmailDraft)
    assert f"/app/drafts/{draft.id}" in texted[0]["Body"]
    heard = said(call.say("log it"))
    assert "log an email with Dana Cole: Thank you for today's showing." in heard
    done = said(call.press("1"))
    assert "Logged the email with Dana Cole." in done
    heard = said(call.say("texted dana cole, N R"))
    assert "no reply to texts" in heard
    said(call.press("1"))
    wait_for(lambda: _executed(app, 2))
    notes = [(i.type, i.note) for i in rows(app, ClientInteraction)]
    assert notes == [("email", "Thank you for today's showing"), ("text", "no reply to texts")]
    assert {m["To"] for m in twilio_standin.messages} == {agent.phone}
