"""Words for the ear for the plans that change what is there (issue 16): a move, a cancel, a
completion, a lead's new details, the same change on many leads, and their results and undos."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from webapp.channels.voice import speech
from webapp.understanding.plan import (
    CancelFollowUp,
    CompleteFollowUp,
    RescheduleFollowUp,
    ScheduleFollowUp,
    UpdateLead,
    UpdateStatus,
)

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 5, 15, 0, tzinfo=CHICAGO)  # a Thursday


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=CHICAGO)


def test_a_move_says_which_follow_up_from_when_to_when() -> None:
    moved = RescheduleFollowUp(5, "Dana Cole", 10, at(6, 15), "send comps", at(9, 14),
                               "send comps")
    assert speech.say_plan([moved], NOW).startswith(
        "I'll move the follow-up to send comps, with Dana Cole, from Monday March 9 at 2 PM "
        "to tomorrow at 3 PM.")


def test_cancel_complete_and_new_details_are_one_sentence_each() -> None:
    said = speech.say_plan([
        CancelFollowUp(1, "John Doe", 12, "send the contract", at(6, 14)),
        CompleteFollowUp(4, "Sarah Smith", 14, "call Sarah Smith back", at(6, 10)),
        UpdateLead(5, "Dana Cole", phone="+17735550199", email="d@cole.com"),
    ], NOW)
    assert said == (
        "Here's what I'll do. Cancel the follow-up to send the contract, with John Doe, "
        "tomorrow at 2 PM. Mark the follow-up to call Sarah Smith back as done. Change Dana "
        "Cole's phone to 7 7 3, 5 5 5, 0 1 9 9, and email to d at cole dot com. "
        + speech.CONFIRM_PROMPT)


def test_the_same_change_on_many_leads_is_counted_with_the_first_few_names() -> None:
    names = ["Aaron Ames", "Beth Nolan", "Cody Walsh", "Dana Cole", "Emily Chen", "Fiona Hale",
             "Gavin Ortiz"]
    said = speech.say_plan([UpdateStatus(i, n, "follow_up", "new") for i, n in enumerate(names)],
                           NOW)
    assert said.startswith("Here's what I'll do. Set 7 leads to follow up: Aaron Ames, Beth "
                           "Nolan, Cody Walsh, Dana Cole, Emily Chen, and 2 more.")
    calls = [ScheduleFollowUp(i, n, at(6, 10), f"call {n}") for i, n in enumerate(names[:3])]
    assert "Remind you tomorrow at 10 AM, for 3 leads: call Aaron Ames, call Beth Nolan, " \
           "call Cody Walsh." in speech.say_plan(calls, NOW)


def test_results_and_undos_of_the_new_actions_are_said() -> None:
    effects = [
        {"type": "reschedule_follow_up", "lead": "Dana Cole", "title": "send comps",
         "due_at": "2026-03-06T21:00:00+00:00"},
        {"type": "cancel_follow_up", "lead": "John Doe", "title": "send the contract"},
        {"type": "complete_follow_up", "lead": "Sarah Smith", "title": "call back"},
        {"type": "update_lead", "lead": "Dana Cole", "changes": {"phone": ["a", "b"]},
         "fields": "phone"},
    ]
    assert speech.say_result(effects, CHICAGO, NOW) == (
        "Done. Moved send comps to tomorrow at 3 PM. Cancelled send the contract, with John "
        "Doe. Marked call back as done. Updated Dana Cole's phone.")
    undone = [{"type": "reschedule_follow_up", "old_title": "send comps",
               "old_due_at": "2026-03-09T19:00:00+00:00", "reverted": "moved"},
              {"type": "cancel_follow_up", "title": "send the contract", "reverted": "x"}]
    assert speech.say_result(undone, CHICAGO, NOW) == (
        "Done. Undone: send comps is back to Monday March 9 at 2 PM. Undone: reopened the "
        "follow-up, send the contract.")
