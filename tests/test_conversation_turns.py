"""The conversation over several messages, through the signed SMS webhook (and by voice): which
lead a message is about, what a reply to a question or a reminder does, what a pending plan
becomes. Each test is a reproduction from a day of real use (issue 20) or the outside review
(issue 15); the database is checked, not only the replies.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from db.models import Appointment, ClientInteraction, ExecutedPlan, Lead
from tests.support.voice import VoicePhone, said
from tests.support.waiting import wait_for
from webapp.database import get_db


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
