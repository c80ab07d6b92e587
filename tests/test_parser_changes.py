"""Changing and reading what is there, rule by rule (spec: "Changing what is already there",
"Many leads at once", "Reading what is there", the noop kind), on a small book held in memory.

The corpora (test_parser_changes_corpus.py) measure breadth; these pin each rule, including
the ones a corpus row cannot show on its own: daylight saving, a clarify answered, the book not
read for messages that do not need it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from webapp.understanding.book import FollowUpRef, InteractionRef, LeadContact, MemoryBook
from webapp.understanding.lead_names import LeadDirectory
from webapp.understanding.parser import AgentContext, continue_clarify, parse_message
from webapp.understanding.plan import LeadRef

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 5, 15, 0, tzinfo=CHICAGO)  # Thursday; DST starts Sunday March 8


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CHICAGO)


LEADS = [
    LeadRef(1, "Dana Cole", "negotiating", "+17735550127"),
    LeadRef(2, "John Doe", "qualified", "+13125550123"),
    LeadRef(3, "John Smith", "contacted"),
    LeadRef(4, "Sarah Smith", "contacted"),
    LeadRef(5, "Émile Zola", "new"),
    LeadRef(6, "Aaron Ames", "new"),
    LeadRef(7, "zoe Young", "new"),
    LeadRef(8, "Carlos Mendoza", "qualified"),
]
FOLLOW_UPS = [
    FollowUpRef(10, 1, "send comps", at(9, 14)),
    FollowUpRef(11, 1, "call about the inspection", at(12, 10)),
    FollowUpRef(12, 2, "send the contract", at(6, 14)),
    FollowUpRef(13, 8, "viewing at 9 Birch Ln", at(6, 14)),
    FollowUpRef(14, 4, "send Sarah Smith the contract", at(7, 23, 30)),
    FollowUpRef(15, 3, "call John Smith back", at(5, 14)),  # today, already past: still open
]


def context(follow_ups=FOLLOW_UPS, recent: tuple[int, ...] = (), book=None) -> AgentContext:
    book = book or MemoryBook(
        follow_ups,
        [InteractionRef(1, "viewing", at(5, 11)), InteractionRef(5, "viewing", at(5, 9)),
         InteractionRef(2, "call", at(3, 16)), InteractionRef(4, "call", at(2, 10))],
        {1: at(5, 11), 2: at(3, 16), 3: at(1, 10, month=2), 4: at(2, 10), 5: at(5, 9),
         6: None, 7: None, 8: at(20, 10, month=2)},
        {1: LeadContact("+17735550127", "dana@example.com"),
         2: LeadContact("+13125550123", None)},
    )
    return AgentContext(LeadDirectory(LEADS), CHICAGO, "US", recent, book=book)


def parse(text: str, **kw) -> dict:
    now = kw.pop("now", NOW)
    return parse_message(text, context(**kw), now).to_dict()


def only(got: dict) -> dict:
    assert got["kind"] == "plan", got
    assert len(got["actions"]) == 1, got
    return got["actions"][0]


# ---- which follow-up ------------------------------------------------------------------------


def test_only_a_lead_named_picks_the_earliest_open_follow_up() -> None:
    action = only(parse("cancel the follow-up with Dana"))
    assert (action["type"], action["appointment_id"], action["title"]) == (
        "cancel_follow_up", 10, "send comps")


def test_my_2pm_with_a_lead_is_that_leads_follow_up_due_at_14() -> None:
    action = only(parse("Cancel my 2pm with John Doe"))
    assert action["appointment_id"] == 12


def test_a_time_two_follow_ups_share_asks_which_and_the_answer_continues() -> None:
    got = parse("cancel my 2pm tomorrow")
    assert got["kind"] == "clarify"
    assert "1) John Doe: send the contract" in got["reply"]
    assert "2) Carlos Mendoza: viewing at 9 Birch Ln" in got["reply"]
    answered = continue_clarify("2", got["clarify"], context(), NOW).to_dict()
    assert only(answered)["appointment_id"] == 13


def test_my_2pm_counts_from_today_on_including_one_already_past_today() -> None:
    action = only(parse("mark my 2pm done", follow_ups=[FOLLOW_UPS[-1], FOLLOW_UPS[2]]))
    assert action["appointment_id"] == 15  # today 14:00, before tomorrow's


def test_title_words_must_fit_or_nothing_changes() -> None:
    assert only(parse("delete the reminder to send Sarah the contract"))["appointment_id"] == 14
    got = parse("cancel the reminder about the moon landing for Sarah")
    assert got["kind"] == "noop" and got["actions"] == []
    assert got["reply"] == ('No open follow-up about "moon landing" with Sarah Smith, so '
                            "nothing to change.")


def test_title_words_several_follow_ups_share_ask_which() -> None:
    got = parse("cancel the contract reminder")
    assert got["kind"] == "clarify"
    assert "John Doe: send the contract" in got["reply"]
    assert "Sarah Smith: send Sarah Smith the contract" in got["reply"]


def test_done_and_cancelled_follow_ups_are_never_candidates() -> None:
    # the book holds only open follow-ups for the parser: none left for John Smith after this
    got = parse("cancel the follow up with John Smith", follow_ups=[])
    assert got["kind"] == "noop"


def test_a_first_name_two_leads_share_asks_which_lead_first() -> None:
    assert parse("push John's reminder to next week")["kind"] == "clarify"


def test_it_right_after_a_message_about_a_lead_is_that_leads_follow_up() -> None:
    action = only(parse("push it back an hour", recent=(1,)))
    assert (action["appointment_id"], action["due_at"]) == (10, "2026-03-09T15:00:00-05:00")


def test_it_right_after_a_reminder_is_the_follow_up_just_reminded() -> None:
    reminded = FollowUpRef(12, 2, "send the contract", at(6, 14), touched_at=NOW - timedelta(
        minutes=3))
    book = MemoryBook([reminded, *FOLLOW_UPS[3:]])
    action = only(parse_message("move it to 4", context(book=book), NOW).to_dict())
    assert (action["appointment_id"], action["due_at"]) == (12, "2026-03-06T16:00:00-06:00")


def test_it_with_nothing_in_context_asks_which_follow_up() -> None:
    assert parse("push it to tomorrow")["kind"] == "clarify"


# ---- the new time ---------------------------------------------------------------------------


def test_a_new_time_alone_keeps_the_follow_ups_day() -> None:
    action = only(parse("move my 2pm with John Doe to 4"))
    assert action["due_at"] == "2026-03-06T16:00:00-06:00"
    assert action["old_due_at"] == "2026-03-06T14:00:00-06:00"
    assert action["title"] == action["old_title"] == "send the contract"


def test_a_new_day_alone_keeps_the_time_of_day_across_daylight_saving() -> None:
    action = only(parse("move John Doe's follow-up to next week"))
    assert action["due_at"] == "2026-03-09T14:00:00-05:00"  # CST -> CDT, still 2 PM


def test_hours_later_are_elapsed_time_and_days_later_keep_the_wall_clock() -> None:
    hours = only(parse("push Sarah's reminder 4 hours later"))
    assert hours["due_at"] == "2026-03-08T04:30:00-05:00"  # 23:30 CST + 4 h = 03:30 CST
    days = only(parse("push Sarah's reminder back a day"))
    assert days["due_at"] == "2026-03-08T23:30:00-05:00"


def test_earlier_and_up_subtract() -> None:
    assert only(parse("move Dana's reminder an hour earlier"))["due_at"] == \
        "2026-03-09T13:00:00-05:00"
    assert only(parse("move it up 30 minutes", recent=(1,)))["due_at"] == \
        "2026-03-09T13:30:00-05:00"


def test_forward_is_ambiguous_and_asks() -> None:
    got = parse("push Dana's reminder forward a day")
    assert got["kind"] == "clarify" and "earlier or later" in got["reply"]


def test_a_result_already_past_asks_again() -> None:
    got = parse("reschedule Dana's follow up to yesterday")
    assert got["kind"] == "clarify"
    got = parse("push John Smith's reminder back 5 minutes")  # today 14:00 -> 14:05, past
    assert got["kind"] == "clarify"


def test_this_evening_names_today() -> None:
    assert only(parse("move Dana's reminder to this evening"))["due_at"] == \
        "2026-03-05T18:00:00-06:00"


def test_a_new_purpose_retitles_and_a_move_to_when_it_already_is_changes_nothing() -> None:
    retitled = only(parse("Reschedule my follow-up with Dana to Friday at 11 to go over the offer"))
    assert (retitled["title"], retitled["old_title"]) == ("go over the offer", "send comps")
    same = parse("move Dana's reminder to Monday at 2pm")
    assert same["kind"] == "noop"


def test_a_move_without_a_new_time_asks_when_and_the_answer_continues() -> None:
    got = parse("reschedule my follow up with Dana")
    assert got["kind"] == "clarify"
    answered = continue_clarify("tomorrow at 9", got["clarify"], context(), NOW).to_dict()
    assert only(answered)["due_at"] == "2026-03-06T09:00:00-06:00"


# ---- issue 20 item 7: a change command is never a new follow-up ------------------------------


@pytest.mark.parametrize("said", [
    "cancel my showing with Dana on saturday",
    "move my meeting with Sarah",
    "reschedule the call with Zoe Martin to friday",
    "delete the reminder for Sarah about the moon",
    "cancel my 9am with Dana",
])
def test_a_message_starting_with_cancel_move_reschedule_delete_is_never_a_new_follow_up(
        said: str) -> None:
    got = parse(said)
    assert not any(a["type"] == "schedule_follow_up" for a in got["actions"]), got
    assert got["kind"] in ("plan", "noop", "clarify", "unknown_lead"), got


# ---- update_lead ----------------------------------------------------------------------------


def test_update_lead_carries_only_the_fields_said_and_their_values_before() -> None:
    action = only(parse("update Dana's phone to (312) 555-0188 and her email to d@cole.com"))
    assert action["type"] == "update_lead"
    assert (action["phone"], action["email"]) == ("+13125550188", "d@cole.com")
    assert "name" not in action
    assert action["old"] == {"phone": "+17735550127", "email": "dana@example.com"}


def test_a_new_name_is_given_not_looked_up() -> None:
    action = only(parse("Sarah Smith is now Sarah Jones"))
    assert (action["lead"], action["name"]) == ("Sarah Smith", "Sarah Jones")
    assert only(parse("Sarah Smith is now negotiating"))["type"] == "update_status"


def test_an_invalid_phone_asks_again_and_the_answer_continues() -> None:
    got = parse("Dana's new number is 555-12")
    assert got["kind"] == "clarify" and "not a valid phone number" in got["reply"]
    answered = continue_clarify("773-555-0111", got["clarify"], context(), NOW).to_dict()
    assert only(answered)["phone"] == "+17735550111"


def test_an_invalid_email_asks_again_and_the_answer_continues() -> None:
    got = parse("change Dana's email to dana@cole")
    assert got["kind"] == "clarify" and "not a valid email" in got["reply"]
    answered = continue_clarify("dana@cole.com", got["clarify"], context(), NOW).to_dict()
    assert only(answered)["email"] == "dana@cole.com"


def test_details_already_as_said_are_a_noop() -> None:
    got = parse("change Dana's email to dana@example.com")
    assert got["kind"] == "noop" and "already" in got["reply"]


# ---- noop -----------------------------------------------------------------------------------


def test_a_status_the_lead_already_has_is_a_noop_with_the_spec_reply() -> None:
    got = parse("Mark Dana Cole as negotiating")
    assert (got["kind"], got["actions"], got["reply"]) == (
        "noop", [], "Dana Cole is already negotiating.")


def test_in_a_plan_a_noop_action_is_left_out_and_the_reply_says_why() -> None:
    got = parse("Mark John Doe and Sarah Smith as qualified")
    assert [a["lead"] for a in got["actions"]] == ["Sarah Smith"]
    assert "John Doe is already qualified." in got["reply"]
    assert got["reply"].endswith("Reply YES to confirm or NO to cancel.")


# ---- many leads at once ---------------------------------------------------------------------


def test_leads_picked_by_status_are_in_alphabetical_order_accents_and_case_ignored() -> None:
    got = parse("move all my new leads to follow up")
    assert [a["lead"] for a in got["actions"]] == ["Aaron Ames", "Émile Zola", "zoe Young"]
    assert got["reply"].startswith(
        "Update 3 leads to follow_up: Aaron Ames, Émile Zola, zoe Young.")


def test_leads_picked_by_an_interaction_in_a_period() -> None:
    got = parse("Mark everyone I showed today as contacted")
    assert [a["lead"] for a in got["actions"]] == ["Dana Cole", "Émile Zola"]
    got = parse("mark everyone I called this week as follow up")
    assert [a["lead"] for a in got["actions"]] == ["John Doe", "Sarah Smith"]


def test_leads_picked_by_time_since_last_contact_include_the_never_contacted() -> None:
    got = parse("mark everyone not contacted for 2 weeks as qualified")
    assert [a["lead"] for a in got["actions"]] == ["Aaron Ames", "John Smith", "zoe Young"]


def test_a_follow_up_for_each_picked_lead_names_that_lead() -> None:
    got = parse("Remind me to call all my new leads on Friday")
    assert [a["title"] for a in got["actions"]] == ["call Aaron Ames", "call Émile Zola",
                                                    "call zoe Young"]
    assert {a["due_at"] for a in got["actions"]} == {"2026-03-06T10:00:00-06:00"}


def test_picking_nobody_is_a_noop() -> None:
    got = parse("mark everyone I emailed yesterday as contacted")
    assert got["kind"] == "noop" and got["actions"] == []


def test_picking_more_than_25_asks_to_narrow_down() -> None:
    many = [LeadRef(100 + i, f"Lead Number{i:02d}", "new") for i in range(26)]
    ctx = AgentContext(LeadDirectory([*LEADS, *many]), CHICAGO, "US")
    got = parse_message("mark all my new leads as contacted", ctx, NOW)
    assert got.kind == "clarify" and "29 leads" in got.reply and "25" in got.reply


def test_several_leads_named_in_one_clause_each_get_the_action() -> None:
    got = parse("John Smith and Sarah Smith both qualified")
    assert [(a["lead"], a["status"]) for a in got["actions"]] == [
        ("John Smith", "qualified"), ("Sarah Smith", "qualified")]


# ---- questions ------------------------------------------------------------------------------


@pytest.mark.parametrize("said,query", [
    ("Brief me on Dana Cole", {"type": "lead_brief", "lead": "Dana Cole", "lead_id": 1}),
    ("Dana's number?", {"type": "lead_brief", "lead": "Dana Cole", "lead_id": 1}),
    ("what follow-ups do I have this week?",
     {"type": "follow_ups", "lead": None, "lead_id": None, "period": "this_week"}),
    ("when am I seeing Dana next?",
     {"type": "follow_ups", "lead": "Dana Cole", "lead_id": 1, "period": "upcoming"}),
    ("list my overdue follow-ups",
     {"type": "follow_ups", "lead": None, "lead_id": None, "period": "overdue"}),
    ("what do I have next week",
     {"type": "follow_ups", "lead": None, "lead_id": None, "period": "next_week"}),
    ("show my pipeline", {"type": "pipeline"}),
    ("how many leads do I have?", {"type": "pipeline"}),
    ("how many deals did I close this month?", {"type": "stats", "period": "this_month"}),
    ("stats for last month", {"type": "stats", "period": "last_month"}),
    ("who should I call today?", {"type": "suggestions"}),
    ("who is qualified?", {"type": "leads_by_status", "status": "qualified"}),
    ("what's on tomorrow?", {"type": "agenda", "day": "2026-03-06"}),
])
def test_each_question_carries_its_query_object(said: str, query: dict) -> None:
    got = parse(said)
    assert got["kind"] == "query" and got["actions"] == []
    assert got["query"] == query


def test_a_weekday_in_a_question_is_the_nearest_such_day_today_included() -> None:
    assert parse("agenda for Thursday")["query"]["day"] == "2026-03-05"
    assert parse("agenda for Friday")["query"]["day"] == "2026-03-06"


def test_a_question_about_someone_who_is_not_a_lead_is_unknown_lead() -> None:
    assert parse("brief me on Zoe Martin")["kind"] == "unknown_lead"


# ---- the book is read only when a message needs it -----------------------------------------


class CountingBook(MemoryBook):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0

    def open_follow_ups(self, **kw):
        self.calls += 1
        return super().open_follow_ups(**kw)

    def leads_with_interactions(self, *args):
        self.calls += 1
        return super().leads_with_interactions(*args)

    def leads_not_contacted_since(self, *args):
        self.calls += 1
        return super().leads_not_contacted_since(*args)

    def recent_follow_up(self, *args):
        self.calls += 1
        return super().recent_follow_up(*args)

    def lead_contact(self, *args):
        self.calls += 1
        return super().lead_contact(*args)


@pytest.mark.parametrize("said", [
    "Called Dana Cole, no answer", "Mark Sarah Smith as qualified", "agenda",
    "Remind me to call Dana tomorrow at 3", "what's Dana's status?", "YES", "brief me on Dana",
])
def test_messages_that_need_no_book_do_not_read_it(said: str) -> None:
    book = CountingBook(FOLLOW_UPS)
    parse_message(said, context(book=book), NOW)
    assert book.calls == 0


def test_naming_a_follow_up_reads_the_book_once() -> None:
    book = CountingBook(FOLLOW_UPS)
    parse_message("cancel my 2pm with John Doe", context(book=book), NOW)
    assert book.calls == 1


def test_a_noop_left_out_before_a_new_lead_keeps_the_reference_to_that_lead() -> None:
    got = parse("Mark Dana Cole as negotiating, new lead Marcus Bell 773-555-0199, met him at "
                "the open house")
    assert [(a["type"], a.get("lead_id")) for a in got["actions"]] == [
        ("create_lead", None), ("log_interaction", -1)]  # -1: the plan's first action's lead
    assert "Left out: Dana Cole is already negotiating." in got["reply"]
