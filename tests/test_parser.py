"""Focused behaviours of the rule parser, each test named for the promise it pins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from db.vocabulary import STATUSES
from tests.support.parser_book import CHICAGO, DIRECTORY, NOW
from webapp.understanding.parser import AgentContext, continue_clarify, parse_message
from webapp.understanding.plan import CreateLead, LogInteraction, ScheduleFollowUp, new_lead_ref
from webapp.understanding.replies import sms_segments
from webapp.understanding.statuses import canonical_status


def ctx(recent: tuple[int, ...] = (), country: str = "US") -> AgentContext:
    return AgentContext(DIRECTORY, CHICAGO, country=country, recent_lead_ids=recent)


def parse(text: str, recent: tuple[int, ...] = ()) -> dict:
    return parse_message(text, ctx(recent), NOW).to_dict()


# ---- clarify continuation ----------------------------------------------------------------


def test_ambiguous_lead_asks_a_numbered_question_and_1_continues_it() -> None:
    plan = parse_message("Update John to negotiating", ctx(), NOW)
    assert plan.kind == "clarify"
    assert "1) John Doe" in plan.reply and "2) John Smith" in plan.reply
    done = continue_clarify("1", plan.clarify, ctx(), NOW).to_dict()
    assert done["kind"] == "plan"
    assert done["actions"][0]["lead"] == "John Doe"
    assert done["actions"][0]["status"] == "negotiating"


def test_clarify_answer_2_picks_the_second_option() -> None:
    plan = parse_message("Called John, no answer", ctx(), NOW)
    done = continue_clarify("2", plan.clarify, ctx(), NOW)
    assert done.kind == "plan"
    action = done.actions[0]
    assert isinstance(action, LogInteraction)
    said = (action.lead, action.interaction_type, action.note)
    assert said == ("John Smith", "call", "no answer")


def test_clarify_answer_by_full_name_continues_it() -> None:
    plan = parse_message("remind me to call John tomorrow at 4pm", ctx(), NOW)
    done = continue_clarify("John Smith", plan.clarify, ctx(), NOW)
    assert done.kind == "plan"
    assert done.actions[0].lead == "John Smith"
    assert done.actions[0].due_at == datetime(2026, 3, 6, 16, 0, tzinfo=CHICAGO)


def test_past_time_clarify_takes_a_new_time() -> None:
    plan = parse_message("Remind me to call Dana at 9am today", ctx(), NOW)
    assert plan.kind == "clarify"
    done = continue_clarify("tomorrow at 3", plan.clarify, ctx(), NOW)
    assert done.kind == "plan"
    assert done.actions[0].due_at == datetime(2026, 3, 6, 15, 0, tzinfo=CHICAGO)
    assert done.actions[0].title == "call Dana Cole"


def test_unknown_status_clarify_takes_a_number_or_a_word() -> None:
    plan = parse_message("Update Dana to hot", ctx(), NOW)
    assert plan.kind == "clarify"
    for status in STATUSES:
        assert status in plan.reply
    assert continue_clarify("3", plan.clarify, ctx(), NOW).actions[0].status == "qualified"
    assert continue_clarify("in negotiations", plan.clarify, ctx(), NOW).actions[0].status == (
        "negotiating")


def test_clarify_answered_with_a_new_command_parses_the_command() -> None:
    plan = parse_message("Update John to negotiating", ctx(), NOW)
    fresh = continue_clarify("Called Dana Cole, went well", plan.clarify, ctx(), NOW)
    assert fresh.kind == "plan"
    assert fresh.actions[0].lead == "Dana Cole"


def test_clarify_answered_no_cancels() -> None:
    plan = parse_message("Update John to negotiating", ctx(), NOW)
    assert continue_clarify("no", plan.clarify, ctx(), NOW).kind == "cancel"


def test_invalid_phone_is_refused_and_a_valid_one_continues() -> None:
    plan = parse_message("New lead Jane Roe 555-01", ctx(), NOW)
    assert plan.kind == "clarify"
    assert "not a valid phone number" in plan.reply
    done = continue_clarify("312-555-0123", plan.clarify, ctx(), NOW).to_dict()
    assert done["actions"] == [{"type": "create_lead", "name": "Jane Roe",
                                "phone": "+13125550123", "email": None}]
    without = continue_clarify("no phone", plan.clarify, ctx(), NOW)
    assert without.actions[0].phone is None


# ---- pronouns ----------------------------------------------------------------------------


def test_pronoun_uses_recent_lead_ids_from_the_previous_message() -> None:
    got = parse("Mark her as qualified", recent=(4,))
    assert got["actions"][0]["lead"] == "Sarah Smith"


def test_pronoun_prefers_the_last_lead_named_in_the_same_message() -> None:
    got = parse("Called Jane Doe, emailed Dana, remind me to text her Monday", recent=(4,))
    follow = got["actions"][-1]
    assert follow["lead"] == "Dana Cole"
    assert follow["title"] == "text Dana Cole"


def test_pronoun_without_any_lead_asks_which_lead() -> None:
    plan = parse_message("Mark her as qualified", ctx(), NOW)
    assert plan.kind == "clarify"
    done = continue_clarify("Dana Cole", plan.clarify, ctx(), NOW)
    assert done.actions[0].lead == "Dana Cole"


def test_title_replaces_pronouns_with_the_leads_name() -> None:
    got = parse("remind me to email her the disclosures", recent=(5,))
    assert got["actions"][0]["title"] == "email Dana Cole the disclosures"


@pytest.mark.parametrize(("text", "kind", "detail"), [
    ("New lead: Marcus Bell, 773-555-0199, met him at the open house", "meeting",
     "at the open house"),
    ("New lead Nina Park 312-555-0142, call her tomorrow at 10", "follow_up", "call Nina Park"),
    ("new lead Nina Park 312-555-0142 met Nina at the open house", "meeting",
     "at the open house"),
])
def test_a_lead_created_in_the_message_is_who_a_later_clause_means(text, kind, detail) -> None:
    got = parse_message(text, ctx(recent=(4,)), NOW)
    assert got.kind == "plan", got.to_dict()
    created, action = got.actions
    assert isinstance(created, CreateLead)
    assert action.lead == created.name and action.lead_id == new_lead_ref(0)
    assert (action.note if kind == "meeting" else action.title) == detail
    assert 4 not in got.mentioned_lead_ids and all(i > 0 for i in got.mentioned_lead_ids)


def test_plan_reports_mentioned_leads_for_the_next_message() -> None:
    assert parse_message("Called Dana Cole", ctx(), NOW).mentioned_lead_ids == [5]


# ---- statuses ----------------------------------------------------------------------------

SYNONYMS = {
    "negotiation": "negotiating", "in negotiations": "negotiating", "won": "closed_won",
    "closed won": "closed_won", "sold": "closed_won", "closed the deal": "closed_won",
    "lost": "closed_lost", "dead": "closed_lost", "closed lost": "closed_lost",
    "follow up": "follow_up", "needs follow-up": "follow_up", "reached out": "contacted",
    "Closed_Won": "closed_won", "'negotiating'": "negotiating", "closed-lost": "closed_lost",
    "FOLLOW_UP": "follow_up", "new": "new", "qualified": "qualified", "contacted": "contacted",
}


@pytest.mark.parametrize("said,status", SYNONYMS.items())
def test_each_status_synonym_maps_to_its_status(said: str, status: str) -> None:
    assert canonical_status(said) == status
    lead = "Jane Doe" if status == "contacted" else "Sarah Smith"  # Sarah already is: a no-op
    got = parse(f"Update {lead} to {said}")
    assert got["kind"] == "plan"
    assert got["actions"][0]["status"] == status


def test_same_action_said_twice_is_one_action() -> None:
    got = parse("Dana is lost, mark her closed lost")
    assert got["actions"] == [{"type": "update_status", "lead": "Dana Cole",
                               "status": "closed_lost", "lead_id": 5, "old_status": "contacted"}]


# ---- kinds -------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["STOP", "stop", "START", "UNSUBSCRIBE", "STOPALL", "QUIT"])
def test_carrier_keywords_are_never_cancel(word: str) -> None:
    got = parse(word)
    assert got["kind"] == "unknown"
    assert got["actions"] == []


@pytest.mark.parametrize("word", ["yes", "Yeah!", "yes please", "k", "👍", "ok thanks", "sure"])
def test_any_plain_yes_confirms(word: str) -> None:
    assert parse(word)["kind"] == "confirm"


@pytest.mark.parametrize("word", ["no", "no thanks", "nope 👎", "never mind", "cancel", "nah"])
def test_any_plain_no_cancels(word: str) -> None:
    assert parse(word)["kind"] == "cancel"


def test_no_inside_a_note_is_not_cancel() -> None:
    assert parse("Called Dana Cole, no answer")["actions"][0]["note"] == "no answer"


def test_lead_status_query_is_answered_at_once() -> None:
    got = parse("What's John Doe's status?")
    assert got["kind"] == "query"
    assert got["query"] == {"type": "lead_status", "lead_id": 1, "lead": "John Doe"}
    assert got["reply"] == "John Doe is qualified."


def test_agenda_and_leads_by_status_queries_carry_their_question() -> None:
    assert parse("who do I follow up with today?")["query"] == {"type": "agenda",
                                                                 "day": "2026-03-05"}
    assert parse("what's on tomorrow")["query"] == {"type": "agenda", "day": "2026-03-06"}
    assert parse("who's negotiating")["query"] == {"type": "leads_by_status",
                                                  "status": "negotiating"}


def test_unknown_lead_names_the_closest_leads() -> None:
    got = parse("Update Karen Smith to qualified")
    assert got["kind"] == "unknown_lead"
    assert "Smith" in got["reply"]


def test_help_lists_every_command() -> None:
    reply = parse("HELP")["reply"]
    for word in ("Called", "Mark", "Remind", "New lead", "status", "agenda", "YES", "UNDO",
                 "template", "Draft", "nudges off", "alerts at night"):
        assert word in reply


def test_help_fits_three_sms_segments() -> None:
    assert sms_segments(parse("HELP")["reply"]) <= 3


# ---- time --------------------------------------------------------------------------------


def test_follow_up_without_a_time_is_due_tomorrow_at_ten() -> None:
    got = parse("Follow up with Dana")
    assert got["actions"][0]["due_at"] == "2026-03-06T10:00:00-06:00"
    assert got["actions"][0]["title"] == "Follow up with Dana Cole"


def test_due_dates_after_the_dst_change_carry_the_summer_offset() -> None:
    monday = parse("Remind me to call Dana Monday at 9am")["actions"][0]["due_at"]
    assert monday == "2026-03-09T09:00:00-05:00"
    early_sunday = parse("Remind me to call Dana Sunday at 1am")["actions"][0]["due_at"]
    assert early_sunday == "2026-03-08T01:00:00-06:00"


def test_in_n_hours_across_the_dst_gap_is_exact_elapsed_time() -> None:
    saturday_night = datetime(2026, 3, 7, 23, 0, tzinfo=CHICAGO)
    plan = parse_message("Remind me to call Dana in 4 hours", ctx(), saturday_night)
    due = plan.actions[0].due_at
    # aware datetimes sharing a tzinfo subtract as wall clocks, so compare in UTC
    assert due.astimezone(UTC) - saturday_night.astimezone(UTC) == timedelta(hours=4)
    assert due.utcoffset() == timedelta(hours=-5)


def test_numeric_dates_follow_the_agents_country() -> None:
    us = parse_message("Remind me to call Dana 4/7", ctx(country="US"), NOW)
    gb = parse_message("Remind me to call Dana 4/7", ctx(country="GB"), NOW)
    assert (us.actions[0].due_at.month, us.actions[0].due_at.day) == (4, 7)
    assert (gb.actions[0].due_at.month, gb.actions[0].due_at.day) == (7, 4)


def test_a_time_in_the_past_is_not_scheduled() -> None:
    plan = parse_message("Remind me to call Dana yesterday", ctx(), NOW)
    assert plan.kind == "clarify" and plan.actions == []


# ---- replies -----------------------------------------------------------------------------

TYPICAL = [
    "Mark Sarah Smith as negotiating",
    "Called Dana Cole, no answer",
    "New lead Jane Roe 312-555-0123 jane@example.com",
    "Log that my call with John Doe went well, update his status to 'Negotiating', and remind me "
    "to send the contract tomorrow morning",
    "Update John to qualified",
    "Update Karen White to qualified",
    "Remind me to call Dana yesterday",
    "asdf qwerty",
    "export my leads to a spreadsheet",
    "thanks!",
]


@pytest.mark.parametrize("text", TYPICAL)
def test_typical_replies_fit_in_two_sms_segments(text: str) -> None:
    assert sms_segments(parse(text)["reply"]) <= 2


def test_plan_reply_lists_concrete_values_and_asks_for_yes() -> None:
    reply = parse("Mark Sarah Smith as negotiating")["reply"]
    assert reply == ("Update Sarah Smith: contacted -> negotiating.\n"
                     "Reply YES to confirm or NO to cancel.")
    follow = parse("Remind me to send John Doe the contract Saturday")["reply"]
    assert follow.startswith("Follow up with John Doe: send John Doe the contract - Sat Mar 7, "
                             "10:00 AM.")


def test_replies_use_gsm_characters_only_for_ascii_names() -> None:
    reply = parse("Remind me to call Dana tomorrow")["reply"]
    assert sms_segments(reply) == 1


def test_every_kind_has_a_reply() -> None:
    for text in ["yes", "no", "help", "undo", "agenda", "Update John to x", "Call Karen Zed",
                 "blah", "Called Dana", "STOP"]:
        assert parse(text)["reply"].strip()


def test_actions_are_empty_for_every_kind_but_plan() -> None:
    for text in ["Update John to qualified", "Update Karen White to qualified", "agenda", "?"]:
        assert parse(text)["actions"] == []


def test_scheduled_follow_up_is_aware_and_ahead() -> None:
    plan = parse_message("Book a viewing with Dana Cole Tuesday afternoon", ctx(), NOW)
    action = plan.actions[0]
    assert isinstance(action, ScheduleFollowUp)
    assert action.due_at.tzinfo is not None and action.due_at > NOW
    assert action.title == "viewing with Dana Cole"


# ---- names and line breaks as typed (issue 15, minor) --------------------------------------


def test_a_new_leads_name_that_is_also_shorthand_is_kept_as_written() -> None:
    got = parse("New lead Eve Adams 312-555-0140")
    assert got["actions"][0]["name"] == "Eve Adams"
    assert parse("remind me to call Dana tomorrow eve")["actions"][0]["due_at"].startswith(
        "2026-03-06T18:00")


@pytest.mark.parametrize("text", ["Mark John Doe\r\nas negotiating",
                                  "Update John Doe's status\nto negotiating",
                                  "Mark John Doe\n\nas negotiating please"])
def test_a_line_break_inside_a_command_does_not_split_it(text: str) -> None:
    got = parse(text)  # (John Doe is qualified: "as qualified" would be a no-op)
    assert got["kind"] == "plan", got
    assert [(a["lead"], a["status"]) for a in got["actions"]] == [("John Doe", "negotiating")]


# ---- smaller misses from a day of use (issue 20, item 10) ----------------------------------


def test_her_after_a_verb_that_gives_is_the_lead_not_her_possessions() -> None:
    got = parse("remind me to send her listings", recent=(4,))
    assert got["actions"][0]["title"] == "send Sarah Smith listings"
    got = parse("remind me to check her listings", recent=(4,))
    assert got["actions"][0]["title"] == "check Sarah Smith's listings"


def test_ping_me_is_command_words_not_the_title() -> None:
    got = parse("ping me mon 9a about dana")
    assert [(a["lead"], a["title"], a["due_at"]) for a in got["actions"]] == [
        ("Dana Cole", "Follow up with Dana Cole", "2026-03-09T09:00:00-05:00")]


def test_a_possessive_without_apostrophe_finds_the_lead() -> None:
    assert parse("whats sarahs status")["query"] == {"type": "lead_status", "lead_id": 4,
                                                      "lead": "Sarah Smith"}


@pytest.mark.parametrize("text", ["thanks!", "thank you so much", "thx", "thanks a lot!!"])
def test_thanks_gets_a_short_welcome_not_the_generic_reply(text: str) -> None:
    got = parse(text)
    assert got["kind"] == "unknown" and got["actions"] == []
    assert got["reply"].startswith("You're welcome")


@pytest.mark.parametrize("text", ["oops wrong person. undo", "wrong lead, undo that",
                                  "my bad - undo please", "undo, wrong person"])
def test_undo_after_a_reason_is_undo(text: str) -> None:
    assert parse(text)["kind"] == "undo"


@pytest.mark.parametrize("text", ["delete Dana Cole", "export my leads to a spreadsheet",
                                  "can you merge John Doe and John Smith",
                                  "please sync with my google contacts"])
def test_an_ask_we_cannot_do_says_so_and_what_is_possible(text: str) -> None:
    got = parse(text)
    assert got["kind"] == "unknown" and got["actions"] == []
    assert got["reply"].startswith("I can't do that yet.")
    assert "Sorry, I didn't get that" not in got["reply"]
    assert "HELP" in got["reply"]


def test_gibberish_still_gets_the_examples() -> None:
    assert parse("asdf qwer zxcv")["reply"].startswith("Sorry, I didn't get that.")
