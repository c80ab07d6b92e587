"""The read-only answers, every query type, on a fixed book (SQLite and PostgreSQL): exact
texts for a few, the agent's own data only, counts and days in the agent's zone, and every
reply within its SMS segments (two, a briefing three), cut at word boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from db.models import Appointment, ClientInteraction, Lead, LeadHistory, User
from db.session import Database
from tests.support.answer_book import CHICAGO, NOW, at, load_book
from webapp.crm.answers import WHAT_I_ANSWER, answer, answer_query
from webapp.crm.sms_budget import cut, listed
from webapp.crm.suggestions import suggest, why
from webapp.understanding.replies import sms_segments


@pytest.fixture
def book(db: Database) -> dict[str, int]:
    return load_book(db)


def ask(db: Database, book: dict[str, int], query: dict, now: datetime = NOW,
        zone: ZoneInfo = CHICAGO, agent: str = "agent"):
    with db.session() as session:
        return answer(session, book[agent], query, zone, now)


def text(db: Database, book: dict[str, int], query: dict, **kw) -> str:
    return ask(db, book, query, **kw).text


def brief(book: dict[str, int], name: str) -> dict:
    return {"type": "lead_brief", "lead": name, "lead_id": book[name]}


EVERY_QUERY = [
    {"type": "lead_status", "lead": "Dana Cole"},
    {"type": "lead_brief", "lead": "Dana Cole"},
    {"type": "agenda", "day": "2026-03-05"},
    {"type": "agenda", "day": "2026-03-06"},
    *({"type": "follow_ups", "lead": None, "lead_id": None, "period": p}
      for p in ("this_week", "next_week", "overdue", "upcoming")),
    {"type": "follow_ups", "lead": "Dana Cole", "period": "upcoming"},
    {"type": "leads_by_status", "status": "qualified"},
    {"type": "leads_by_status", "status": None},
    {"type": "pipeline"},
    *({"type": "stats", "period": p}
      for p in ("this_week", "last_week", "this_month", "last_month", "this_year")),
    {"type": "suggestions"},
]


def _with_ids(query: dict, book: dict[str, int]) -> dict:
    if query.get("lead"):
        return {**query, "lead_id": book[query["lead"]]}
    return query


# --- exact texts -------------------------------------------------------------------------------

def test_a_briefing_gives_status_contacts_last_three_interactions_and_next_within_three_segments(
        db, book) -> None:
    reply = text(db, book, brief(book, "Dana Cole"))
    assert reply == (
        "Dana Cole — negotiating · +1 773-555-0127 · dana@example.com · last contact Thu Mar 5. "
        "Viewing Mar 5: loved the kitchen. Call Mar 3: asked about … Email Feb 27: … "
        "Next: send comps Mon Mar 9, 2:00 PM.")
    assert sms_segments(reply) == 3


def test_a_short_briefing_is_not_cut_and_says_what_is_missing(db, book) -> None:
    assert text(db, book, brief(book, "Jane Doe")) == (
        "Jane Doe — new · +1 312-555-0124 · never contacted. No interactions logged. "
        "Nothing scheduled.")
    assert text(db, book, brief(book, "John Doe")) == (
        "John Doe — contacted · +1 312-555-0123 · last contact Fri Feb 20. "
        "Call Feb 20: no answer. Next: call back, overdue since Mon Mar 2, 10:00 AM.")


def test_todays_agenda_lists_todays_follow_ups_then_the_overdue_ones(db, book) -> None:
    assert text(db, book, {"type": "agenda", "day": "2026-03-05"}) == (
        "Agenda today: 2 follow-ups, 1 overdue.\n"
        "9:00 AM John Smith\n"
        "5:00 PM John Doe: send the contract\n"
        "Mar 2 (overdue) John Doe: call back")


def test_another_days_agenda_has_only_that_days_follow_ups(db, book) -> None:
    assert text(db, book, {"type": "agenda", "day": "2026-03-06"}) == (
        "Agenda Fri Mar 6: 1 follow-up.\n10:00 AM Sarah Smith: send listing")
    assert text(db, book, {"type": "agenda", "day": "2026-03-07"}) == (
        "Nothing on your agenda Sat Mar 7.")


def test_follow_ups_by_period_earliest_first(db, book) -> None:
    def follow_ups(period: str, lead: str | None = None) -> str:
        return text(db, book, {"type": "follow_ups", "lead": lead,
                               "lead_id": book[lead] if lead else None, "period": period})

    assert follow_ups("this_week") == (  # today to Sunday, earlier today included
        "3 follow-ups this week:\n"
        "Thu Mar 5, 9:00 AM John Smith\n"
        "Thu Mar 5, 5:00 PM John Doe: send the contract\n"
        "Fri Mar 6, 10:00 AM Sarah Smith: send listing")
    assert follow_ups("next_week") == (
        "2 follow-ups next week:\n"
        "Mon Mar 9, 2:00 PM Dana Cole: send comps\n"
        "Thu Mar 12, 10:00 AM Emily Chen: send a closing gift")
    assert follow_ups("overdue") == (
        "2 follow-ups overdue:\n"
        "Mon Mar 2, 10:00 AM John Doe: call back\n"
        "Thu Mar 5, 9:00 AM John Smith")
    assert follow_ups("upcoming", "Dana Cole") == (
        "1 follow-up coming up with Dana Cole:\nMon Mar 9, 2:00 PM: send comps")
    assert follow_ups("overdue", "Dana Cole") == "No overdue follow-ups with Dana Cole."
    assert follow_ups("upcoming").startswith("4 follow-ups coming up:\nThu Mar 5, 5:00 PM")


def test_leads_by_status_names_them_alphabetically_and_counts_them(db, book) -> None:
    assert text(db, book, {"type": "leads_by_status", "status": "qualified"}) == (
        "2 leads are qualified: John Smith, Sarah Smith.")
    assert text(db, book, {"type": "leads_by_status", "status": "closed_won"}) == (
        "1 lead is closed won: Emily Chen.")
    with db.session() as session:
        session.add(Lead(agent_id=book["agent"], name="ada Zane", status="qualified"))
        session.commit()
    assert text(db, book, {"type": "leads_by_status", "status": "qualified"}) == (
        "3 leads are qualified: ada Zane, John Smith, Sarah Smith.")


def test_pipeline_counts_every_status_in_the_lists_order(db, book) -> None:
    assert text(db, book, {"type": "pipeline"}) == (
        "Pipeline, 8 leads: new 1, contacted 1, qualified 2, negotiating 1, closed won 1, "
        "closed lost 1, follow up 1.")


def test_stats_count_what_happened_in_the_period(db, book) -> None:
    assert text(db, book, {"type": "stats", "period": "this_week"}) == (
        "This week: 1 lead added, 1 won, 0 lost. 5 interactions: 2 calls, 1 meeting, "
        "2 viewings. Follow-ups: 1 done, 2 missed.")
    assert text(db, book, {"type": "stats", "period": "last_month"}) == (
        "Last month (February): 3 leads added, 0 won, 1 lost. 5 interactions: 3 calls, "
        "1 email, 1 note. Follow-ups: 0 done, 0 missed.")
    assert text(db, book, {"type": "stats", "period": "last_week"}).startswith(
        "Last week (Feb 23-Mar 1): 0 leads added, 0 won, 1 lost. 3 interactions: 2 calls, "
        "1 email.")
    assert text(db, book, {"type": "stats"}) == text(db, book, {"type": "stats",
                                                                "period": "this_month"})


def test_suggestions_most_urgent_first_each_with_why(db, book) -> None:
    assert text(db, book, {"type": "suggestions"}) == (
        "5 leads to act on:\n"
        "1. John Doe: overdue since Mon Mar 2 (call back), snoozed 3 times\n"
        "2. John Smith: overdue since 9:00 AM\n"
        "3. Jane Doe: new since Wed Mar 4, never contacted\n"
        "4. Sarah Smith: qualified, no contact for 23 days\n"
        "5. Robert Brown: marked follow up, nothing scheduled")


def test_lead_status_says_status_and_last_contact(db, book) -> None:
    assert text(db, book, {"type": "lead_status", "lead_id": book["Dana Cole"]}) == (
        "Dana Cole is 'negotiating'. Last contacted Thu Mar 5.")
    assert text(db, book, {"type": "lead_status", "lead_id": book["Jane Doe"]}) == (
        "Jane Doe is 'new'. No contact logged yet.")


# --- only the agent's own data; limits ----------------------------------------------------------

@pytest.mark.parametrize("query", EVERY_QUERY, ids=lambda q: f"{q['type']}-{q.get('period')}")
def test_every_answer_fits_its_segments_and_shows_only_the_agents_own_data(db, book,
                                                                         query) -> None:
    found = ask(db, book, _with_ids(query, book))
    limit = 3 if query["type"] == "lead_brief" else 2
    assert 1 <= sms_segments(found.text) <= limit
    for theirs in ("Zed", "their secret", "theirs"):
        assert theirs not in found.text and all(theirs not in i for i in found.items)


def test_the_other_agent_sees_only_their_own_book(db, book) -> None:
    assert text(db, book, {"type": "pipeline"}, agent="other") == (
        "Pipeline, 1 lead: new 0, contacted 0, qualified 0, negotiating 0, closed won 1, "
        "closed lost 0, follow up 0.")
    assert text(db, book, {"type": "stats", "period": "this_week"}, agent="other") == (
        "This week: 0 leads added, 1 won, 0 lost. 1 interaction: 1 call. "
        "Follow-ups: 0 done, 1 missed.")
    assert text(db, book, {"type": "agenda", "day": "2026-03-05"}, agent="other") == (
        "Agenda today: 1 follow-up.\n9:00 AM Zed Zimmerman: their secret")


@pytest.mark.parametrize("kind", ["lead_status", "lead_brief"])
def test_another_agents_lead_does_not_exist(db, book, kind) -> None:
    for lead_id in (book["Zed Zimmerman"], 999_999, None, "1"):
        assert text(db, book, {"type": kind, "lead_id": lead_id}) == "I couldn't find that lead."
    reply = text(db, book, {"type": "follow_ups", "lead_id": book["Zed Zimmerman"],
                            "period": "upcoming"})
    assert reply == "I couldn't find that lead."


def test_an_unknown_question_lists_what_can_be_asked(db, book) -> None:
    assert text(db, book, {"type": "horoscope"}) == WHAT_I_ANSWER
    assert answer_query  # the text-only form is what SMS and `assistant parse` use
    with db.session() as session:
        assert answer_query(session, book["agent"], {"type": "pipeline"}, CHICAGO,
                            NOW).startswith("Pipeline, 8 leads")


def test_bad_fields_get_a_clear_answer(db, book) -> None:
    assert text(db, book, {"type": "agenda", "day": "someday"}).startswith("Which day?")
    assert text(db, book, {"type": "follow_ups", "period": "fortnight"}).startswith(
        "I can list follow-ups")
    assert text(db, book, {"type": "stats", "period": "decade"}).startswith("I can count")
    assert text(db, book, {"type": "leads_by_status", "status": "hot"}) == (
        "'hot' is not a status.")


# --- big books: lists cut to whole items, the rest counted --------------------------------------

def test_a_long_agenda_keeps_whole_lines_and_counts_the_rest(db, book) -> None:
    with db.session() as session:
        for n in range(40):
            session.add(Appointment(lead_id=book["Dana Cole"], agent_id=book["agent"],
                                    title=f"task number {n:02d} with a longer title",
                                    due_at=at(2026, 3, 5, 18) + timedelta(minutes=n)))
        session.commit()
    found = ask(db, book, {"type": "agenda", "day": "2026-03-05"})
    assert sms_segments(found.text) <= 2
    lines = found.text.splitlines()
    assert lines[0] == "Agenda today: 42 follow-ups, 1 overdue."
    shown = lines[1:-1]
    assert lines[-1] == f"+{43 - len(shown)} more"
    assert all(line in found.items for line in shown)
    assert found.total == 43 and found.more == 43 - len(found.items)


def test_many_leads_in_a_status_are_counted_and_cut_between_names(db, book) -> None:
    with db.session() as session:
        for n in range(200):
            session.add(Lead(agent_id=book["agent"], name=f"Person {n:03d} Example",
                             status="contacted"))
        session.commit()
    reply = text(db, book, {"type": "leads_by_status", "status": "contacted"})
    assert reply.startswith("201 leads are contacted: John Doe, Person 000 Example, ")
    assert sms_segments(reply) <= 2
    names = reply.split(": ", 1)[1].split(", ")
    assert names[-1] == f"+{201 - (len(names) - 1)} more"


def test_a_briefing_cuts_notes_at_word_boundaries_and_never_splits_a_word(db, book) -> None:
    words = " ".join(f"word{n}" for n in range(200))
    with db.session() as session:
        for day_ in (3, 4):
            session.add(ClientInteraction(lead_id=book["Jane Doe"], agent_id=book["agent"],
                                          type="call", note=words, occurred_at=at(2026, 3, day_,
                                                                                  12),
                                          channel="sms"))
        session.commit()
    reply = text(db, book, brief(book, "Jane Doe"))
    assert sms_segments(reply) <= 3
    assert reply.startswith("Jane Doe — new · +1 312-555-0124 · never contacted. Call Mar 4: "
                            "word0 word1")
    assert reply.endswith("… Call Mar 3: … Nothing scheduled.")
    kept = reply.split("Call Mar 4: ")[1].split(" …")[0].split(" ")
    assert kept == [f"word{n}" for n in range(len(kept))]


# --- days, periods and zones -------------------------------------------------------------------

def test_answers_use_the_agents_zone(db, book) -> None:
    """The same instants, read by an agent in London: 9:00 AM in Chicago is 3:00 PM there."""
    london = ZoneInfo("Europe/London")
    reply = text(db, book, {"type": "agenda", "day": "2026-03-05"}, zone=london)
    assert reply.splitlines()[1] == "3:00 PM John Smith"
    reply = text(db, book, {"type": "follow_ups", "period": "next_week"}, zone=london)
    assert "Mon Mar 9, 7:00 PM Dana Cole: send comps" in reply  # 2 PM CDT after the US change


def test_the_agenda_follows_the_agents_day_across_daylight_saving(db, book) -> None:
    # Sunday Mar 8 is 23 hours long in Chicago; a follow-up at 23:30 is still that day.
    with db.session() as session:
        session.add(Appointment(lead_id=book["Jane Doe"], agent_id=book["agent"],
                                title="late call", due_at=at(2026, 3, 8, 23, 30)))
        session.add(Appointment(lead_id=book["Jane Doe"], agent_id=book["agent"],
                                title="early call", due_at=at(2026, 3, 9, 0, 0)))
        session.commit()
    assert text(db, book, {"type": "agenda", "day": "2026-03-08"}) == (
        "Agenda Sun Mar 8: 1 follow-up.\n11:30 PM Jane Doe: late call")


def test_this_week_ends_on_sunday_and_next_week_is_monday_to_sunday(db, book) -> None:
    sunday_night = at(2026, 3, 8, 20)
    reply = text(db, book, {"type": "follow_ups", "period": "this_week"}, now=sunday_night)
    assert reply == "No follow-ups this week."
    reply = text(db, book, {"type": "follow_ups", "period": "next_week"}, now=sunday_night)
    assert reply.startswith("2 follow-ups next week:\nMon Mar 9, 2:00 PM Dana Cole")


def test_a_win_that_was_undone_is_not_counted(db, book) -> None:
    with db.session() as session:
        session.add(LeadHistory(lead_id=book["John Smith"], agent_id=book["agent"],
                                old_status="qualified", new_status="closed_won",
                                changed_at=at(2026, 3, 4, 9), channel="sms"))
        session.add(LeadHistory(lead_id=book["John Smith"], agent_id=book["agent"],
                                old_status="closed_won", new_status="qualified",
                                changed_at=at(2026, 3, 4, 9, 1), channel="sms"))
        session.commit()
    assert "1 won" in text(db, book, {"type": "stats", "period": "this_week"})


# --- suggestions as data --------------------------------------------------------------------------

def test_suggestions_are_structured_for_reuse_and_each_lead_comes_once(db, book) -> None:
    with db.session() as session:
        found = suggest(session, book["agent"], CHICAGO, NOW)
    assert [(s.lead, s.reason) for s in found] == [
        ("John Doe", "overdue"), ("John Smith", "overdue"), ("Jane Doe", "never_contacted"),
        ("Sarah Smith", "stale"), ("Robert Brown", "unscheduled")]
    assert found[0].snoozes == 3 and found[0].follow_up_title == "call back"
    assert found[0].phone == "+13125550123"
    with db.session() as session:
        assert len(suggest(session, book["agent"], CHICAGO, NOW, limit=2)) == 2


def test_a_negotiating_lead_gone_quiet_and_a_follow_up_due_today_are_suggested(db,
                                                                             book) -> None:
    """A week later, with the others done or contacted: Dana's follow-up is overdue; moved to
    later that day, her 8 days without contact show (negotiating); contacted, the follow-up
    due today shows."""
    with db.session() as session:
        for appointment in session.scalars(select(Appointment).where(
                Appointment.agent_id == book["agent"], Appointment.state == "scheduled")):
            if appointment.lead_id != book["Dana Cole"]:
                appointment.state = "done"
        session.get(Lead, book["Jane Doe"]).last_contacted = at(2026, 3, 5, 9)
        session.get(Lead, book["Robert Brown"]).status = "contacted"
        session.get(Lead, book["Sarah Smith"]).last_contacted = at(2026, 3, 12, 9)
        session.get(Lead, book["John Smith"]).last_contacted = at(2026, 3, 12, 9)
        session.commit()
    found = text(db, book, {"type": "suggestions"}, now=at(2026, 3, 13, 12))
    assert found == ("1 lead to act on:\n1. Dana Cole: overdue since Mon Mar 9 (send comps)")
    with db.session() as session:
        session.scalar(select(Appointment).where(
            Appointment.title == "send comps")).due_at = at(2026, 3, 13, 16)
        session.commit()
    found = text(db, book, {"type": "suggestions"}, now=at(2026, 3, 13, 12))
    assert found == ("1 lead to act on:\n"
                     "1. Dana Cole: negotiating, no contact for 8 days")
    with db.session() as session:
        session.get(Lead, book["Dana Cole"]).last_contacted = at(2026, 3, 12, 9)
        session.commit()
    found = text(db, book, {"type": "suggestions"}, now=at(2026, 3, 13, 12))
    assert found == "1 lead to act on:\n1. Dana Cole: due 4:00 PM today (send comps)"


def test_nothing_to_suggest_says_so(db) -> None:
    with db.session() as session:
        agent = User(name="New Agent", phone="+13125550177", timezone="America/Chicago")
        session.add(agent)
        session.commit()
        found = answer(session, agent.id, {"type": "suggestions"}, CHICAGO,
                       datetime.now(UTC))
    assert found.text.startswith("Nothing urgent")


def test_a_follow_up_snoozed_three_times_is_suggested_before_the_unscheduled(db, book) -> None:
    with db.session() as session:
        session.scalar(select(Appointment).where(
            Appointment.title == "send a closing gift")).snooze_count = 4
        session.commit()
        found = suggest(session, book["agent"], CHICAGO, NOW, limit=10)
    assert [(s.lead, s.reason) for s in found][-2:] == [("Emily Chen", "snoozed"),
                                                        ("Robert Brown", "unscheduled")]
    assert why(found[-2], CHICAGO, NOW) == (
        "snoozed 4 times (send a closing gift), due Thu Mar 12, 10:00 AM")


# --- the segment budget on its own --------------------------------------------------------------

def test_cut_keeps_whole_words_and_marks_the_cut() -> None:
    long = "alpha beta gamma " * 40
    short = cut(long, 1)
    assert short.endswith(" …") and sms_segments(short) == 1
    assert long.startswith(short[:-2]) and long[len(short) - 2] == " "
    assert cut("fits as it is", 1) == "fits as it is"
    assert listed("Names: ", ["Ann", "Bo"], 1, separator=", ", end=".") == "Names: Ann, Bo."
    many = listed("Names: ", [f"Name{n:03d}" for n in range(100)], 1, separator=", ")
    assert many.endswith(" more") and sms_segments(many) == 1
    shown = many.removeprefix("Names: ").split(", ")
    assert shown[-1] == f"+{100 - (len(shown) - 1)} more"


def test_a_follow_up_done_before_completion_times_were_kept_counts_by_its_last_change(
        db, book) -> None:
    with db.session() as session:
        session.add(Appointment(lead_id=book["Jane Doe"], agent_id=book["agent"],
                                title="old-style done", due_at=at(2026, 3, 3, 9),
                                state="done", completed_at=None,
                                updated_at=at(2026, 3, 3, 12)))
        session.commit()
    assert text(db, book, {"type": "stats", "period": "this_week"}).endswith(
        "Follow-ups: 2 done, 2 missed.")
