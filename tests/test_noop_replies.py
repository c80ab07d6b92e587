"""The words of kind `noop` (the spec: "Dana Cole is already negotiating."; no such open
follow-up; nobody picked) and of a plan that leaves a no-op action out."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from webapp.understanding import replies
from webapp.understanding.plan import UpdateStatus

CHICAGO = ZoneInfo("America/Chicago")


def test_already_in_that_status_in_the_specs_words() -> None:
    assert replies.already_in_status("Dana Cole", "negotiating") == (
        "Dana Cole is already negotiating.")
    assert replies.already_in_status("Emily Chen", "closed_won") == (
        "Emily Chen is already closed won.")


def test_no_such_open_follow_up_says_what_was_looked_for() -> None:
    two_pm = datetime(2026, 3, 6, 14, 0, tzinfo=CHICAGO)
    assert replies.no_open_follow_up("John Doe", two_pm, time_only=True) == (
        "No open follow-up with John Doe at 2:00 PM, so nothing to change.")
    assert replies.no_open_follow_up("Dana Cole") == (
        "No open follow-up with Dana Cole, so nothing to change.")
    assert replies.no_open_follow_up("Sarah Smith", two_pm, words="contract") == (
        'No open follow-up about "contract" with Sarah Smith on Fri Mar 6, 2:00 PM, so '
        "nothing to change.")
    assert replies.no_open_follow_up() == "No open follow-up, so nothing to change."


def test_nobody_picked() -> None:
    assert replies.nobody_picked("all my contacted leads ") == (
        'No leads match "all my contacted leads", so nothing to change.')


def test_a_plan_says_which_actions_it_left_out_before_the_prompt() -> None:
    reply = replies.plan_reply([UpdateStatus(lead_id=1, lead="John Doe", status="qualified",
                                             old_status="contacted")])
    assert replies.with_left_out(reply, ["Dana Cole is already qualified."]) == (
        "Update John Doe: contacted -> qualified.\n"
        "Left out: Dana Cole is already qualified.\n"
        "Reply YES to confirm or NO to cancel.")
    assert replies.with_left_out(reply, []) == reply
