"""Voice reads answers back briefly: a short one whole, a briefing or a long list as its gist
and first few items, then "I've texted you the rest" — and the whole answer is texted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from db.models import Appointment, Lead, Message, User
from db.session import Database
from tests.support.answer_book import CHICAGO, NOW, load_book
from tests.support.voice import VoicePhone, said
from webapp.channels.voice import speech
from webapp.crm.answers import answer
from webapp.database import get_db


def _answer(db: Database, book: dict[str, int], query: dict):
    with db.session() as session:
        return answer(session, book["agent"], query, CHICAGO, NOW)


def test_a_briefing_is_said_briefly_with_the_next_follow_up_and_the_rest_texted(db) -> None:
    book = load_book(db)
    found = _answer(db, book, {"type": "lead_brief", "lead_id": book["Dana Cole"]})
    spoken, left_out = speech.say_answer(found, NOW)
    assert left_out
    assert spoken == (
        "Dana Cole, negotiating, 7 7 3, 5 5 5, 0 1 2 7, dana at example dot com, last contact "
        "Thursday March 5. Viewing March 5: loved the kitchen. Next: send comps Monday March 9 "
        "at 2 PM. Call March 3: asked about the HOA fees and wants comps for the three houses "
        "on Elm Street. I've texted you the rest.")
    spoken, _ = speech.say_answer(found, NOW, texted=False)
    assert spoken.endswith("on Elm Street. And 1 more.")


def test_short_answers_are_said_whole_and_nothing_is_texted(db) -> None:
    book = load_book(db)
    for query in ({"type": "pipeline"}, {"type": "stats", "period": "this_week"},
                  {"type": "agenda", "day": "2026-03-05"},
                  {"type": "leads_by_status", "status": "qualified"},
                  {"type": "lead_brief", "lead_id": book["Jane Doe"]}):
        found = _answer(db, book, query)
        spoken, left_out = speech.say_answer(found, NOW)
        assert not left_out and spoken.rstrip(".") == speech.speakable(found.text, NOW).rstrip(
            ".")
    spoken, _ = speech.say_answer(_answer(db, book, {"type": "agenda", "day": "2026-03-05"}),
                                  NOW)
    assert spoken == ("Agenda today: 2 follow-ups, 1 overdue. 9 AM John Smith. 5 PM John Doe: "
                      "send the contract. March 2 (overdue) John Doe: call back.")


def test_a_long_list_is_said_as_its_first_three_items(db) -> None:
    book = load_book(db)
    spoken, left_out = speech.say_answer(_answer(db, book, {"type": "suggestions"}), NOW)
    assert left_out
    assert spoken == (
        "5 leads to act on. John Doe: overdue since Monday March 2 (call back), snoozed 3 "
        "times. John Smith: overdue since 9 AM. Jane Doe: new since Wednesday March 4, never "
        "contacted. I've texted you the rest.")


# --- through the call ------------------------------------------------------------------------

def _overdue_follow_ups(app: Flask, agent_id: int, count: int) -> None:
    """Follow-ups overdue since days ago: in today's agenda whatever the hour of the test."""
    start = datetime.now(UTC) - timedelta(days=3)
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.agent_id == agent_id,
                                                 Lead.name == "Dana Cole"))
        for n in range(count):
            session.add(Appointment(lead_id=lead.id, agent_id=agent_id, title=f"task {n}",
                                    due_at=start + timedelta(minutes=n)))
        session.commit()


def _texts(app: Flask) -> list[Message]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Message).where(
            Message.direction == "outbound", Message.channel == "sms").order_by(Message.id)))


def test_a_long_agenda_by_voice_reads_three_and_texts_the_whole_answer(app, agent) -> None:
    _overdue_follow_ups(app, agent.id, 6)
    call = VoicePhone(app, agent.phone)
    call.call()
    spoken = said(call.say("what's on my agenda"))
    assert spoken.startswith("Agenda today: 6 overdue. ")
    assert spoken.count("(overdue) Dana Cole: task") == 3
    assert "task 3" not in spoken
    assert spoken.endswith("I've texted you the rest. Anything else?")
    [text] = _texts(app)
    assert text.body.startswith("Agenda today: 6 overdue.\n")
    assert text.body.count("(overdue) Dana Cole: task") == 6
    assert (text.phone, text.status) == (agent.phone, "queued")


def test_a_short_agenda_by_voice_is_said_whole_and_not_texted(app, agent) -> None:
    _overdue_follow_ups(app, agent.id, 2)
    call = VoicePhone(app, agent.phone)
    call.call()
    spoken = said(call.say("what's on my agenda"))
    assert spoken.startswith("Agenda today: 2 overdue. ")
    assert spoken.endswith("task 1. Anything else?")
    assert _texts(app) == []


@pytest.mark.parametrize("opted_out", [True])
def test_an_agent_who_opted_out_of_texts_hears_how_many_more(app, agent, opted_out) -> None:
    with get_db(app).session() as session:
        session.get(User, agent.id).opted_out = opted_out
        session.commit()
    _overdue_follow_ups(app, agent.id, 5)
    call = VoicePhone(app, agent.phone)
    call.call()
    spoken = said(call.say("what's on my agenda"))
    assert spoken.endswith("task 2. And 2 more. Anything else?")
    assert _texts(app) == []
