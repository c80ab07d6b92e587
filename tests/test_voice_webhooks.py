"""The voice channel's webhooks, call by call: TwiML checked as XML, signed requests only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from db.models import ExecutedPlan, Lead, Message
from tests.support.sms import SmsPhone
from tests.support.voice import VoicePhone, hangs_up, listens, said
from webapp.channels.voice.calls import MAX_HINT_CHARS, MAX_HINTS, MAX_HINTS_TOTAL_CHARS
from webapp.database import get_db


@pytest.fixture
def call(app: Flask, agent) -> VoicePhone:
    return VoicePhone(app, agent.phone)


def _rows(app: Flask, model):
    with get_db(app).session() as session:
        return list(session.scalars(select(model).order_by(model.id)))


# --- the greeting and its <Gather> -----------------------------------------------------------

def test_an_agent_is_greeted_by_first_name_inside_a_speech_and_keypad_gather(app, call) -> None:
    root = call.call()
    assert [child.tag for child in root] == ["Gather", "Redirect"]
    gather = root.find("Gather")
    assert gather.attrib["input"] == "dtmf speech"
    assert gather.attrib["action"] == "/voice/gather"
    assert gather.attrib["method"] == "POST"
    assert gather.attrib["speechTimeout"] == "auto"
    assert gather.attrib["speechModel"] == "phone_call"
    assert gather.attrib["enhanced"] == "true"
    assert gather.attrib["language"] == "en-US"
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["actionOnEmptyResult"] == "true"
    assert [child.tag for child in gather] == ["Say"]
    greeting = said(root)
    assert greeting.startswith("Hi Alex,") and "What would you like to do?" in greeting
    redirect = root.find("Redirect")
    assert (redirect.text, redirect.attrib["method"]) == ("/voice/gather", "POST")


def test_hints_hold_lead_names_statuses_and_command_words(app, call) -> None:
    hints = [h.strip() for h in call.call().find("Gather").attrib["hints"].split(",")]
    for name in ("John Doe", "Jane Doe", "Sarah Smith", "John Smith", "Dana Cole"):
        assert name in hints
    for word in ("qualified", "negotiating", "closed won", "closed lost", "follow up",
                 "yes", "no", "undo", "help", "agenda", "new lead", "remind me"):
        assert word in hints
    assert all(0 < len(h) <= MAX_HINT_CHARS for h in hints)
    assert len(hints) == len({h.casefold() for h in hints})


def test_hints_stay_within_twilios_limits_for_a_big_book(app, agent) -> None:
    now = datetime.now(UTC)
    with get_db(app).session() as session:
        for n in range(700):
            session.add(Lead(agent_id=agent.id, name=f"Lead Number{n:04d} Person",
                             updated_at=now - timedelta(days=n + 10)))
        session.add(Lead(agent_id=agent.id, name="Zed, " + "Very" * 40 + " Longname",
                         updated_at=now - timedelta(days=5000)))
        session.add(Lead(agent_id=agent.id, name="Recent Caller",
                         last_contacted=now, updated_at=now - timedelta(days=9000)))
        session.commit()
    root = VoicePhone(app, agent.phone).call()
    raw = root.find("Gather").attrib["hints"]
    hints = [h.strip() for h in raw.split(",")]
    assert len(hints) <= MAX_HINTS
    assert len(raw) <= MAX_HINTS_TOTAL_CHARS
    assert all(0 < len(h) <= MAX_HINT_CHARS for h in hints)
    names = [h for h in hints if h.startswith(("Lead Number", "Recent"))]
    # Most recently contacted first, then most recently updated; the oldest are left out.
    assert names[0] == "Recent Caller"
    assert names[1:4] == ["Lead Number0000 Person", "Lead Number0001 Person",
                          "Lead Number0002 Person"]
    assert "Lead Number0699 Person" not in hints


def test_an_unknown_caller_is_told_politely_and_hung_up_on(app, agent) -> None:
    root = VoicePhone(app, "+13125559999").call()
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "registered Fieldline agents" in said(root)
    rows = _rows(app, Message)
    assert [(m.direction, m.channel, m.agent_id) for m in rows] == [
        ("inbound", "voice", None), ("outbound", "voice", None)]


def test_a_withheld_caller_id_is_an_unknown_caller(app, agent) -> None:
    root = VoicePhone(app, "anonymous").call()
    assert hangs_up(root) and not listens(root)


@pytest.mark.parametrize("path", ["/voice", "/voice/gather", "/voice/status"])
def test_unsigned_or_badly_signed_requests_are_refused(app, call, path) -> None:
    assert call.post(path, signed=False).status_code == 403
    response = call.client.post(path, data={"CallSid": call.call_sid, "From": call.phone},
                                headers={"X-Twilio-Signature": "bad"})
    assert response.status_code == 403
    assert _rows(app, Message) == []


# --- a command, yes/no, keypad ---------------------------------------------------------------

def test_a_plan_is_read_back_for_the_ear_and_waits_for_yes(app, call) -> None:
    call.call()
    root = call.say("remind me to call dana cole tomorrow at two thirty p m")
    text = said(root)
    assert listens(root)
    assert "Dana Cole" in text and "tomorrow at 2:30 PM" in text
    assert text.endswith("Say yes to confirm or no to cancel, or press 1 for yes, 2 for no.")
    assert "Reply" not in text and "YES" not in text
    assert not any(ord(c) > 0x2000 for c in text)  # no emoji, no dashes or bullets


def test_no_cancels_and_asks_for_more(app, call) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    root = call.say("no")
    assert "nothing was changed" in said(root).lower()
    assert said(root).endswith("Anything else?")
    assert _rows(app, ExecutedPlan) == []


def test_keypad_two_cancels_a_pending_plan(app, call) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    root = call.press("2")
    assert "nothing was changed" in said(root).lower()
    assert _rows(app, ExecutedPlan) == []


@pytest.mark.parametrize("settings", [{"VOICE_RESULT_WAIT": 0}])  # no worker to wait for
def test_keypad_one_confirms_without_a_worker_and_says_it_will_text(app, call, settings) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    root = call.press("1")
    assert "text you the result" in said(root)
    assert [p.state for p in _rows(app, ExecutedPlan)] == ["confirmed"]
    assert _rows(app, ExecutedPlan)[0].channel == "voice"


def test_a_numbered_choice_by_keypad(app, call) -> None:
    call.call()
    question = said(call.say("update john to negotiating"))  # John Smith is qualified
    assert "1, John Doe" in question and "2, John Smith" in question
    assert "press it on your keypad" in question
    root = call.press("2")
    assert "John Smith" in said(root) and "John Doe" not in said(root)
    assert "Say yes to confirm" in said(root)


def test_a_numbered_choice_by_voice(app, call) -> None:
    call.call()
    call.say("update john to qualified")
    root = call.say("one")
    assert "John Doe" in said(root) and "Say yes to confirm" in said(root)


def test_an_unused_key_is_explained(app, call) -> None:
    call.call()
    root = call.press("7")
    assert "doesn't do anything" in said(root) and listens(root)


# --- low confidence --------------------------------------------------------------------------

def test_low_confidence_asks_is_that_right_then_yes_proceeds(app, call) -> None:
    call.call()
    root = call.say("mark sarah smith as qualified", confidence="0.31")
    assert said(root).startswith("I heard: mark sarah smith as qualified. Is that right?")
    assert app.extensions["redis"].get(f"fl:pending:{call.phone}") is None
    root = call.say("yes")
    assert "Sarah Smith" in said(root) and "qualified" in said(root)
    assert "Say yes to confirm" in said(root)


def test_low_confidence_then_no_asks_again(app, call) -> None:
    call.call()
    call.say("mark sarah smith as qualified", confidence="0.2")
    root = call.press("2")
    assert "say it again" in said(root).lower() and listens(root)
    root = call.say("mark sarah smith as negotiating")
    assert "negotiating" in said(root) and "Say yes to confirm" in said(root)


@pytest.mark.parametrize("settings", [{"VOICE_MIN_CONFIDENCE": 0.95}])
def test_the_confidence_threshold_is_a_setting(app, call, settings) -> None:
    call.call()
    assert said(call.say("agenda", confidence="0.9")).startswith("I heard: agenda.")


def test_no_confidence_at_all_is_not_low_confidence(app, call) -> None:
    call.call()
    root = call.twiml("/voice/gather", SpeechResult="what's dana cole's status")
    assert "Dana Cole is negotiating" in said(root)


# --- queries, help, anything else, silence, endings ------------------------------------------

def test_a_query_is_answered_then_anything_else(app, call) -> None:
    call.call()
    root = call.say("whats dana coles status")
    assert said(root) == "Dana Cole is negotiating. No contact logged yet. Anything else?"


def test_help_by_voice(app, call) -> None:
    call.call()
    text = said(call.say("what can you do"))
    assert "say yes to confirm" in text and "Text" not in text


def test_one_silence_asks_again_and_two_say_goodbye(app, call) -> None:
    call.call()
    root = call.silence()
    assert listens(root) and "didn't catch that" in said(root)
    root = call.silence()
    assert hangs_up(root) and not listens(root)
    assert "Goodbye" in said(root)


def test_silence_during_a_confirmation_says_nothing_was_changed(app, call) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    assert "Say yes to confirm" in said(call.silence())
    root = call.silence()
    assert hangs_up(root)
    assert "not confirmed, so nothing was changed" in said(root)
    # The plan the call said was dropped cannot be confirmed later by text either.
    assert SmsPhone(app, call.phone).text("YES") == "Nothing is waiting for confirmation."
    assert _rows(app, ExecutedPlan) == []


def test_thats_all_ends_the_call(app, call) -> None:
    call.call()
    call.say("agenda")
    root = call.say("no thats all")
    assert hangs_up(root) and said(root) == "Goodbye."


@pytest.mark.parametrize("settings", [{"VOICE_MAX_TURNS": 3}])
def test_a_call_never_loops_forever(app, call, settings) -> None:
    call.call()
    call.say("agenda")
    call.say("agenda")
    call.say("mark sarah smith as qualified")
    root = call.say("agenda")
    assert hangs_up(root)
    assert "not confirmed, so nothing was changed" in said(root)


def test_every_turn_is_stored_with_the_call_sid(app, call) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    call.press("2")
    call.silence()
    call.silence()
    rows = [m for m in _rows(app, Message) if m.channel == "voice"]
    assert [m.direction for m in rows] == [
        "inbound", "outbound",  # the call, the greeting
        "inbound", "outbound",  # the command, the plan read back
        "inbound", "outbound",  # 2, cancelled
        "inbound", "outbound",  # silence, ask again
        "inbound", "outbound",  # silence, goodbye
    ]
    assert all(m.call_sid == call.call_sid and m.provider_sid is None for m in rows)
    assert rows[2].body == "mark sarah smith as qualified"
    assert rows[4].body == "(pressed 2)"
    assert rows[3].plan_id is not None


def test_a_replayed_gather_is_answered_again_and_its_turn_stored_once(app, call) -> None:
    """The same signed /voice/gather delivered twice (Twilio's retry, or a replay): the second
    gets the first's answer, and nothing is stored or done twice."""
    call.call()
    fields = {"SpeechResult": "mark sarah smith as qualified", "Confidence": "0.93"}
    first = call.post("/voice/gather", token="idem-turn-1", **fields)
    stored = len(_rows(app, Message))

    again = call.post("/voice/gather", token="idem-turn-1", **fields)

    assert again.status_code == 200 and again.data == first.data
    assert len(_rows(app, Message)) == stored
    heard = [m for m in _rows(app, Message) if m.body == fields["SpeechResult"]]
    assert len(heard) == 1
    # A new delivery (a new token) of the same words is a new turn.
    call.post("/voice/gather", token="idem-turn-2", **fields)
    assert len([m for m in _rows(app, Message) if m.body == fields["SpeechResult"]]) == 2


def test_a_replayed_yes_confirms_once(app, call) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    first = call.post("/voice/gather", token="idem-yes", Digits="1")
    again = call.post("/voice/gather", token="idem-yes", Digits="1")

    assert again.data == first.data
    assert len(_rows(app, ExecutedPlan)) == 1


@pytest.mark.parametrize("path", ["/voice", "/voice/gather", "/voice/status"])
def test_a_call_sid_that_is_not_one_is_refused_and_nothing_stored(app, agent, path) -> None:
    """An over-long CallSid was cut to fit and collided with another turn (a unique violation
    whose traceback carried the phone and the words into the log)."""
    long_call = VoicePhone(app, agent.phone, call_sid="CA" + "f" * 100)
    odd_call = VoicePhone(app, agent.phone, call_sid="CA12:34")

    for phone in (long_call, odd_call):
        response = phone.post(path, SpeechResult="mark sarah smith as qualified",
                              CallStatus="completed")
        assert response.status_code == 400
    assert _rows(app, Message) == []


def test_the_agent_hanging_up_on_a_pending_plan_gets_it_by_text(app, call) -> None:
    call.call()
    call.say("mark sarah smith as qualified")
    assert call.hang_up().status_code == 204
    texts = [m for m in _rows(app, Message) if m.channel == "sms" and m.direction == "outbound"]
    assert len(texts) == 1
    assert texts[0].body.startswith("Your call ended before you confirmed.")
    assert "Reply YES to confirm" in texts[0].body
    # ...and YES by text still works for it, once.
    assert "Confirmed" in SmsPhone(app, call.phone).text("YES")
    assert call.hang_up().status_code == 204  # a repeated callback sends nothing more
    assert len([m for m in _rows(app, Message) if m.channel == "sms"
                and m.direction == "outbound" and m.body.startswith("Your call")]) == 1


@pytest.mark.parametrize("settings", [{"REDIS_URL": "redis://127.0.0.1:1/0"}])
def test_redis_down_ends_the_call_saying_nothing_changed(app, call, settings) -> None:
    import time

    started = time.monotonic()
    assert listens(call.call())  # the greeting needs no Redis
    root = call.say("mark sarah smith as qualified")
    assert time.monotonic() - started < 10
    assert hangs_up(root) and "nothing changed" in said(root)
    assert _rows(app, ExecutedPlan) == []


@pytest.mark.parametrize("settings", [{"VOICE_RESULT_WAIT": 0}])
def test_an_opted_out_agent_is_not_promised_a_text(app, agent, call, settings) -> None:
    from db.models import User

    with get_db(app).session() as session:
        session.get(User, agent.id).opted_out = True
        session.commit()
    call.call()
    call.say("mark sarah smith as qualified")
    result = said(call.say("yes"))
    assert result == "Confirmed. It's taking a little longer than usual. Anything else?"


def test_what_was_heard_is_repeated_without_doubled_punctuation(app, call) -> None:
    call.call()
    root = call.say("Called Dana Cole, no answer.", confidence="0.4")
    assert said(root).startswith("I heard: Called Dana Cole, no answer. Is that right?")
