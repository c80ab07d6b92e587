"""Words for the ear (webapp.channels.voice.speech) and the call's small rules (hints, keys,
spoken choices).

No database, Redis or Flask: these are pure functions.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from webapp.channels.voice import speech
from webapp.channels.voice.calls import (
    MAX_HINT_CHARS,
    MAX_HINTS,
    MAX_HINTS_TOTAL_CHARS,
    build_hints,
    clean_hint,
    digits_to_text,
    is_closing,
    spoken_choice,
)
from webapp.understanding.plan import CreateLead, LogInteraction, ScheduleFollowUp, UpdateStatus

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 5, 15, 0, tzinfo=CHICAGO)  # a Thursday


@pytest.mark.parametrize(("due", "spoken"), [
    (datetime(2026, 3, 6, 14, 0, tzinfo=CHICAGO), "tomorrow at 2 PM"),
    (datetime(2026, 3, 6, 14, 30, tzinfo=CHICAGO), "tomorrow at 2:30 PM"),
    (datetime(2026, 3, 5, 18, 0, tzinfo=CHICAGO), "today at 6 PM"),
    (datetime(2026, 3, 6, 12, 0, tzinfo=CHICAGO), "tomorrow at noon"),
    (datetime(2026, 3, 13, 10, 0, tzinfo=CHICAGO), "Friday March 13 at 10 AM"),
    (datetime(2027, 1, 4, 9, 5, tzinfo=CHICAGO), "Monday January 4 2027 at 9:05 AM"),
    # an instant stored in UTC is said in the agent's zone (CDT after March 8)
    (datetime.fromisoformat("2026-03-10T15:00:00+00:00"), "Tuesday March 10 at 10 AM"),
])
def test_times_are_said_as_people_say_them(due, spoken) -> None:
    assert speech.say_when(due, NOW) == spoken


def test_a_plan_is_read_back_without_iso_emoji_or_reply_yes() -> None:
    actions = [
        LogInteraction(1, "John Doe", "call", "went well"),
        UpdateStatus(1, "John Doe", "closed_won", old_status="negotiating"),
        ScheduleFollowUp(1, "John Doe", datetime(2026, 3, 6, 10, 0, tzinfo=CHICAGO),
                         "send the contract"),
        CreateLead("Jane Roe", "+13125550199", "jane@example.com"),
    ]
    text = speech.say_plan(actions, NOW)
    assert text == (
        "Here's what I'll do. Log a call with John Doe: went well. "
        "Change John Doe's status from negotiating to closed won. "
        "Remind you tomorrow at 10 AM to send the contract, for John Doe. "
        "Add a new lead, Jane Roe, phone 3 1 2, 5 5 5, 0 1 9 9, email jane at example dot com. "
        "Say yes to confirm or no to cancel, or press 1 for yes, 2 for no."
    )
    assert "2026" not in text and "Reply" not in text and "_" not in text


def test_a_single_action_plan_reads_as_one_sentence() -> None:
    text = speech.say_plan([UpdateStatus(3, "Sarah Smith", "qualified", "contacted")], NOW)
    assert text.startswith("I'll change Sarah Smith's status from contacted to qualified.")
    replaced = speech.say_plan([LogInteraction(3, "Sarah Smith", "note", "budget")], NOW, True)
    assert replaced.startswith("This replaces your earlier request. I'll add a note for Sarah")


def test_results_are_said_from_the_workers_effects() -> None:
    effects = [
        {"type": "update_status", "lead": "Dana Cole", "old_status": "new",
         "new_status": "follow_up", "history_id": 4},
        {"type": "log_interaction", "lead": "Dana Cole", "interaction_type": "viewing",
         "note": ""},
        {"type": "schedule_follow_up", "lead": "Dana Cole", "title": "call back",
         "due_at": "2026-03-06T19:00:00+00:00"},
        {"type": "create_lead", "lead": "Jane Roe"},
    ]
    assert speech.say_result(effects, CHICAGO, NOW) == (
        "Done. Dana Cole is now follow up. Logged the viewing with Dana Cole. "
        "I'll remind you tomorrow at 1 PM: call back. Added Jane Roe as a new lead."
    )
    undone = [{"type": "update_status", "lead": "Dana Cole", "old_status": "new",
               "reverted": "status"}]
    assert speech.say_result(undone, CHICAGO, NOW) == "Done. Undone: Dana Cole is back to new."


@pytest.mark.parametrize(("text", "spoken"), [
    ("Undo your last change: set John Doe back to 'contacted'. Reply YES to confirm or NO to "
     "cancel.", "Undo your last change: set John Doe back to contacted. Say yes to confirm or "
     "no to cancel, or press 1 for yes, 2 for no."),
    ('Which "john"? 1) John Doe 2) John Smith. Reply with the number.',
     "Which john? 1, John Doe. 2, John Smith. Say the number, or press it on your keypad."),
    ('"yesterday" (Wed Mar 4, 10:00 AM) is already past. When should it be? e.g. "tomorrow at 3"',
     "yesterday (Wednesday March 4 at 10 AM) is already past. When should it be? "
     "e.g. tomorrow at 3"),
    ("Agenda today:\n• 2:00 PM John Doe: send the contract\n• 4:30 PM Dana Cole: call",
     "Agenda today: 2 PM John Doe: send the contract. 4:30 PM Dana Cole: call"),
    ("3 lead(s) 'closed_won': A, B, C.", "3 leads closed won: A, B, C."),
    ("👍 Confirmed — working on it.", "Confirmed, working on it."),
    ("Dana Cole — negotiating · +1 773-555-0127 · dana@example.com · last contact Thu Mar 5.",
     "Dana Cole, negotiating, 7 7 3, 5 5 5, 0 1 2 7, dana at example dot com, last contact "
     "Thursday March 5."),
    ("Call Mar 3: asked about …", "Call March 3: asked about"),
    ('No lead named "Karen". Closest: Karen Green. Resend with the right name.',
     "No lead named Karen. Closest: Karen Green. Say it again with the right name."),
])
def test_other_replies_are_made_speakable(text, spoken) -> None:
    assert speech.speakable(text) == spoken


def test_iso_stamps_are_said_when_a_now_is_given() -> None:
    assert speech.speakable("due 2026-03-06T14:00:00-06:00", NOW) == "due tomorrow at 2 PM"


def test_accented_names_survive() -> None:
    assert speech.speakable("José García is 'new'.") == "José García is new."


def test_hints_are_bounded_cleaned_and_deduplicated() -> None:
    names = [f"Person {n}" for n in range(1000)] + ["Person 1", "person 2"]
    raw = build_hints(names)
    hints = raw.split(", ")
    assert len(hints) <= MAX_HINTS and len(raw) <= MAX_HINTS_TOTAL_CHARS
    assert len(hints) == len({h.casefold() for h in hints})
    assert hints[:3] == ["new", "contacted", "qualified"]  # command words first
    assert clean_hint("O'Neil, Jr.  (Bob)") == "O'Neil Jr. Bob"
    long = clean_hint("word " * 60)
    assert len(long) <= MAX_HINT_CHARS and long.endswith("word")
    assert clean_hint(",,,") == ""


def test_keys_become_words() -> None:
    assert digits_to_text("1", "confirm") == "yes"
    assert digits_to_text("2", "command") == "no"
    assert digits_to_text("3", "confirm") is None
    assert digits_to_text("3", "choice") == "3"
    assert digits_to_text("", "choice") is None


@pytest.mark.parametrize(("said", "choice"), [
    ("one", "1"), ("Number two.", "2"), ("the first one", "1"), ("3", "3"), ("option 4", "4"),
    ("John Doe", None), ("yes", None),
])
def test_spoken_choices(said, choice) -> None:
    assert spoken_choice(said) == choice


def test_closing_words() -> None:
    assert is_closing("No, that's all.") and is_closing("bye") and is_closing("Nope")
    assert not is_closing("no answer from dana") and not is_closing("yes")


def test_a_title_naming_the_lead_does_not_name_them_twice() -> None:
    action = ScheduleFollowUp(5, "Dana Cole", datetime(2026, 3, 6, 14, 30, tzinfo=CHICAGO),
                              "call dana cole")
    assert speech.say_action(action, NOW) == "Remind you tomorrow at 2:30 PM to call dana cole."
