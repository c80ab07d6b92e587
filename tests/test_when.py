"""Tests for webapp.understanding.when: the spec's follow-up time table, DST, spans, words that
are not times, speech-style phrases, robustness, speed, and the shared time benchmark."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import time_benchmark
from webapp.understanding.when import WhenMatch, default_due, find_when, resolve_when

CHI = ZoneInfo("America/Chicago")
NY = ZoneInfo("America/New_York")
LON = ZoneInfo("Europe/London")
# Thursday 2026-03-05 15:00 in Chicago (Chicago springs forward on Sunday 2026-03-08).
NOW = datetime(2026, 3, 5, 15, 0, tzinfo=CHI)


def due(text: str, now: datetime = NOW, **kw) -> datetime | None:
    found = find_when(text, now, **kw)
    assert found is not None, f"no time found in {text!r}"
    return found.due_at


def local(y: int, mo: int, d: int, h: int = 10, mi: int = 0, tz: ZoneInfo = CHI) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


# ---- the spec's table, row by row ---------------------------------------------------------


def test_no_date_no_time_is_not_ours_and_default_due_is_tomorrow_10():
    assert find_when("Remind me to call John Doe", NOW) is None
    assert default_due(NOW) == local(2026, 3, 6)
    # across the spring-forward night the default is still 10:00 local, with the new offset
    sat = datetime(2026, 3, 7, 12, 0, tzinfo=CHI)
    assert default_due(sat) == local(2026, 3, 8)
    assert default_due(sat).utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(
    "phrase, expected",
    [
        ("Monday", local(2026, 3, 9)),
        ("March 12", local(2026, 3, 12)),
        ("in 3 days", local(2026, 3, 8)),  # DST day: 10:00 CDT
        ("next week", local(2026, 3, 9)),
        ("in 2 weeks", local(2026, 3, 19)),
    ],
)
def test_date_without_time_is_that_day_at_10(phrase, expected):
    found = find_when(f"remind me to call Dana {phrase}", NOW)
    assert found.due_at == expected
    assert found.has_time is False


@pytest.mark.parametrize(
    "phrase, expected",
    [
        ("tomorrow morning", local(2026, 3, 6, 10)),
        ("tomorrow afternoon", local(2026, 3, 6, 14)),
        ("tomorrow evening", local(2026, 3, 6, 18)),
        ("tonight", local(2026, 3, 5, 19)),
        ("at noon", local(2026, 3, 6, 12)),  # noon today has passed
        ("tomorrow at noon", local(2026, 3, 6, 12)),
        ("EOD", local(2026, 3, 5, 17)),
        ("by end of day", local(2026, 3, 5, 17)),
        ("Friday morning", local(2026, 3, 6, 10)),
    ],
)
def test_parts_of_day(phrase, expected):
    found = find_when(f"send the contract {phrase}", NOW)
    assert found.due_at == expected
    assert found.has_time is True


@pytest.mark.parametrize(
    "phrase, expected",
    [
        ("at 2pm", local(2026, 3, 6, 14)),  # already past today -> tomorrow
        ("at 4pm", local(2026, 3, 5, 16)),  # still ahead -> today
        ("14:00", local(2026, 3, 6, 14)),
        ("16:30", local(2026, 3, 5, 16, 30)),
    ],
)
def test_time_without_date_is_today_if_ahead_else_tomorrow(phrase, expected):
    assert due(f"call Dana {phrase}") == expected


@pytest.mark.parametrize(
    "hour, expected",
    [
        (1, local(2026, 3, 6, 13)),
        (3, local(2026, 3, 6, 15)),  # 15:00 is now, not ahead -> tomorrow
        (5, local(2026, 3, 5, 17)),
        (6, local(2026, 3, 5, 18)),
        (7, local(2026, 3, 6, 7)),
        (11, local(2026, 3, 6, 11)),
        (12, local(2026, 3, 6, 12)),
    ],
)
def test_bare_hour_rule(hour, expected):
    assert due(f"call Dana at {hour}") == expected


@pytest.mark.parametrize(
    "phrase, expected",
    [
        ("Thursday", local(2026, 3, 12)),  # said on a Thursday: a week later
        ("on Friday", local(2026, 3, 6)),
        ("Wednesday", local(2026, 3, 11)),
        ("this Friday", local(2026, 3, 6)),
        ("this Thursday", local(2026, 3, 12)),  # today is not "still ahead" at 10:00
        ("this Wednesday", local(2026, 3, 11)),  # passed this week -> plain weekday
        ("next Friday", local(2026, 3, 13)),  # the following Mon-Sun week
        ("next Monday", local(2026, 3, 9)),
        ("next Thursday", local(2026, 3, 12)),
    ],
)
def test_weekdays(phrase, expected):
    assert due(f"meet Dana {phrase}") == expected


def test_in_minutes_and_hours_are_exact_to_the_minute():
    assert due("ping me in 20 minutes") == local(2026, 3, 5, 15, 20)
    assert due("ping me in 2 hours") == local(2026, 3, 5, 17, 0)
    with_seconds = NOW.replace(second=42, microsecond=5)
    assert due("in 10 mins", with_seconds) == local(2026, 3, 5, 15, 10)


@pytest.mark.parametrize("phrase", ["yesterday", "today at 9am", "last Monday", "2/1/2026"])
def test_moment_already_past_is_flagged(phrase):
    found = find_when(f"follow up with Dana {phrase}", NOW)
    assert found is not None
    assert found.in_past is True
    assert found.due_at is None


def test_numeric_dates_follow_the_country():
    assert due("viewing 4/7") == local(2026, 4, 7)
    assert due("viewing 4/7", month_first=False) == local(2026, 7, 4)
    assert due("viewing 1/15") == local(2027, 1, 15)  # past this year -> next year
    assert due("viewing 4/7/2027 at 3pm") == local(2027, 4, 7, 15)


# ---- daylight saving time -----------------------------------------------------------------


def test_tomorrow_at_10_across_spring_forward_new_york():
    sat = datetime(2026, 3, 7, 15, 0, tzinfo=NY)
    got = due("tomorrow at 10", sat)
    assert (got.hour, got.minute, got.utcoffset()) == (10, 0, timedelta(hours=-4))


def test_nonexistent_local_time_moves_forward():
    sat = datetime(2026, 3, 7, 15, 0, tzinfo=NY)
    got = due("tomorrow at 2:30am", sat)
    assert got.date().isoformat() == "2026-03-08"
    assert (got.hour, got.minute) == (3, 30)


def test_fall_back_new_york():
    sat = datetime(2026, 10, 31, 15, 0, tzinfo=NY)
    got = due("tomorrow at 10", sat)
    assert (got.hour, got.utcoffset()) == (10, timedelta(hours=-5))
    ambiguous = due("tomorrow at 1:30am", sat)  # happens twice: the first one
    assert (ambiguous.hour, ambiguous.minute, ambiguous.utcoffset()) == (
        1, 30, timedelta(hours=-4))


def test_in_hours_is_absolute_time_across_the_change():
    before = datetime(2026, 3, 8, 1, 30, tzinfo=NY)  # EST; 2:00 jumps to 3:00
    got = due("in 2 hours", before)
    utc = ZoneInfo("UTC")
    assert got.astimezone(utc) - before.astimezone(utc) == timedelta(hours=2)
    assert (got.hour, got.minute) == (4, 30)


def test_london_transitions():
    sat = datetime(2026, 3, 28, 12, 0, tzinfo=LON)  # BST starts Sunday 29 March
    got = due("tomorrow at 10", sat)
    assert (got.hour, got.utcoffset()) == (10, timedelta(hours=1))
    autumn = datetime(2026, 10, 24, 12, 0, tzinfo=LON)  # GMT from Sunday 25 October
    got = due("tomorrow morning", autumn)
    assert (got.hour, got.utcoffset()) == (10, timedelta(0))
    assert due("next week", autumn).utcoffset() == timedelta(0)


# ---- spans --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, span, rest",
    [
        ("remind me to send the contract tomorrow morning", "tomorrow morning",
         "remind me to send the contract"),
        ("Book a viewing with Dana Cole Tuesday afternoon", "Tuesday afternoon",
         "Book a viewing with Dana Cole"),
        ("call Dana on Friday about the offer", "on Friday", "call Dana about the offer"),
        ("call Dana at 3pm to confirm", "at 3pm", "call Dana to confirm"),
        ("email her the disclosures in 3 days", "in 3 days", "email her the disclosures"),
        ("follow up with John by friday", "by friday", "follow up with John"),
        ("Showing for June Park on Saturday for 9am", "on Saturday for 9am",
         "Showing for June Park"),
    ],
)
def test_span_removal_reads_right(text, span, rest):
    found = find_when(text, NOW)
    assert found.text == span
    assert text[found.start:found.end] == span
    assert " ".join((text[:found.start] + text[found.end:]).split()) == rest


# ---- words that are not times -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Update John Doe's status to qualified",
        "New lead Jane Roe 312-555-0123 jane@example.com",
        "Dana wants a 3 bed 2 bath under $450k",
        "Showed April Jones 9 Birch Ln, she loved it",
        "Called Dana at 3 Elm St",
        "Called Jan Novak, no answer",
        "June Park wants a 2 bedroom",
        "She may want to see it again",
        "Sat down with Mike, went well",
        "Good morning! Add a note that Sarah wants a second viewing",
        "Offer at 450 accepted",
        "Left Dana a voicemail at 312.555.0123",
        "the 3rd bedroom is small",
        "she loves the sun room",
        "Mar Vista listing for Dana",
        "Remind me to call Tom",
        "Mark Sarah Smith as closed won",
        "Add note: unit 4-12 is available",
        "Dana's budget went from 400 to 450",
    ],
)
def test_not_a_time(text):
    assert find_when(text, NOW) is None


def test_month_names_that_are_lead_names():
    found = find_when("Book a showing with April Jones April 3", NOW)
    assert found.text == "April 3" and found.due_at == local(2026, 4, 3)
    found = find_when("See June Park on June 5th", NOW)
    assert found.text == "on June 5th"
    assert find_when("call tom at 3", NOW).text == "at 3"


# ---- speech-to-text and texting shorthand --------------------------------------------------


@pytest.mark.parametrize(
    "phrase, expected",
    [
        ("at two thirty p.m.", local(2026, 3, 6, 14, 30)),
        ("at ten a m", local(2026, 3, 6, 10)),
        ("nine fifty nine a m", local(2026, 3, 6, 9, 59)),
        ("tomorrow at two", local(2026, 3, 6, 14)),
        ("noon", local(2026, 3, 6, 12)),
        ("tonight", local(2026, 3, 5, 19)),
        ("tmrw", local(2026, 3, 6)),
        ("tmr at 4", local(2026, 3, 6, 16)),
        ("2moro", local(2026, 3, 6)),
        ("by tom", local(2026, 3, 6)),
        ("next wk", local(2026, 3, 9)),
        ("in 5 mins", local(2026, 3, 5, 15, 5)),
        ("in 2 hrs", local(2026, 3, 5, 17)),
        ("thurs", local(2026, 3, 12)),
        ("weds", local(2026, 3, 11)),
        ("EOD", local(2026, 3, 5, 17)),
        ("end of day", local(2026, 3, 5, 17)),
        ("by friday", local(2026, 3, 6)),
        ("first thing tomorrow", local(2026, 3, 6, 10)),
        ("later today", local(2026, 3, 5, 17, 0)),
        ("this weekend", local(2026, 3, 7)),
        ("end of the week", local(2026, 3, 6, 17)),
        ("in a couple of hours", local(2026, 3, 5, 17)),
        ("in a few minutes", local(2026, 3, 5, 15, 3)),
        ("in half an hour", local(2026, 3, 5, 15, 30)),
        ("half past three tomorrow", local(2026, 3, 6, 15, 30)),
        ("quarter to 5", local(2026, 3, 5, 16, 45)),
        ("the day after tomorrow", local(2026, 3, 7)),
        ("christmas", local(2026, 12, 25)),
        ("the week of october 6th", local(2026, 10, 5)),
        ("first tuesday of october", local(2026, 10, 6)),
    ],
)
def test_speech_and_shorthand(phrase, expected):
    assert due(f"remind me to call Dana {phrase}") == expected


def test_later_today_in_the_afternoon_is_two_hours_on():
    at_1510 = NOW.replace(minute=10)
    assert due("later today", at_1510) == local(2026, 3, 5, 17, 30)


def test_explicit_zone_is_converted():
    # 8:00 GMT on Friday = 02:00 in Chicago (CST, UTC-6)
    assert due("call Friday 8:00 GMT") == local(2026, 3, 6, 2)


# ---- resolve_when -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phrase, expected",
    [
        ("tomorrow", local(2026, 3, 6)),
        ("1h", local(2026, 3, 5, 16)),
        ("30 min", local(2026, 3, 5, 15, 30)),
        ("in 2 hours", local(2026, 3, 5, 17)),
        ("monday 9am", local(2026, 3, 9, 9)),
    ],
)
def test_resolve_when(phrase, expected):
    found = resolve_when(phrase, NOW)
    assert isinstance(found, WhenMatch)
    assert found.due_at == expected
    assert found.text == phrase


def test_resolve_when_nothing():
    assert resolve_when("banana", NOW) is None
    assert resolve_when("", NOW) is None


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        find_when("tomorrow", datetime(2026, 3, 5, 15, 0))


# ---- robustness and speed -----------------------------------------------------------------

_PIECES = st.sampled_from([
    "tomorrow", "at 3", "next week", "3pm", "in 2 hours", "Friday", "4/7", "noon", "yesterday",
    "today at 9am", "the 15th", "sat", "may", "April", "🙂", "$450k", "312-555-0123", "at",
    "in", "half past", ":", "/", "-", " ", "12:99", "99/99", "tonight at 12", "3rd", "of",
])


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=40).map(" ".join),
    st.text(min_size=4000, max_size=5000),
), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
    st.sampled_from([CHI, NY, LON, ZoneInfo("Etc/GMT+2"), ZoneInfo("Asia/Kolkata")]))
def test_find_when_never_raises_and_is_future_unless_past(text, naive_now, zone):
    now = naive_now.replace(tzinfo=zone)
    found = find_when(text, now)
    if found is None:
        return
    assert text[found.start:found.end] == found.text
    if found.in_past:
        assert found.due_at is None
    else:
        assert found.due_at is not None
        assert found.due_at.tzinfo is not None
        assert found.due_at > now


def test_long_emoji_text_is_fast_and_safe():
    text = ("🏡 call Dana re 9 Birch Ln 3 bed $450k " * 150)[:5000]
    t0 = time.perf_counter()
    find_when(text, NOW)
    assert time.perf_counter() - t0 < 5  # a guard against runaway regex backtracking only


_SMS = [
    "Log that my call with John Doe went well and remind me to send the contract tomorrow",
    "Update Sarah Smith to negotiating, she wants a 3 bed under $450k near the school",
    "Book a viewing with Dana Cole Tuesday afternoon at 9 Birch Ln please thanks",
    "Called Jan Novak no answer left a voicemail will try again later this week ok",
    "New lead Jane Roe 312-555-0123 jane@example.com referred by April Jones yesterday",
    "remind me to email her the disclosures in 3 days and text June Park at 2pm",
    "Mark Sarah Smith as closed won and add a note that she loved the kitchen a lot",
]


# ---- the shared benchmark -----------------------------------------------------------------


def test_time_benchmark_dev_at_least_90_percent():
    try:
        rows = time_benchmark.load_rows()
    except FileNotFoundError:
        pytest.skip(
            f"benchmark file not found at {time_benchmark.benchmark_path()} "
            "(set FIELDLINE_SHARED_DIR to the shared directory)"
        )
    frac, misses = time_benchmark.score(time_benchmark.find_when_due, rows)
    print(f"time benchmark (dev): {frac:.1%} of {len(rows)} rows")
    for row, got in misses:
        print(f"  miss {row['phrase']!r}: expected {row['expected']} ({row['grain']}), got {got}")
    assert frac >= 0.90


# ---- a day and a time said apart, shorthand parts of day, bare "in N" -----------------------


@pytest.mark.parametrize("text,expected", [
    ("lunch tomorrow with Hannah Becker at noon", local(2026, 3, 6, 12)),
    ("coffee friday with Lisa Wong at 9", local(2026, 3, 6, 9)),
    ("call Dana tomorrow about the offer at 4", local(2026, 3, 6, 16)),
    ("send it tmrw aft", local(2026, 3, 6, 14)),
    ("remind me in 15 to call Bob White", local(2026, 3, 5, 15, 15)),
    ("call Dana tomorrow at lunch", local(2026, 3, 6, 12)),
])
def test_split_and_shorthand(text: str, expected: datetime) -> None:
    assert due(text.replace("tmrw", "tomorrow")) == expected


def test_split_moment_spans_both_parts() -> None:
    text = "lunch tomorrow with Hannah Becker at noon"
    found = find_when(text, NOW)
    assert found is not None and found.also is not None
    assert text[found.start:found.end].strip() == "tomorrow"
    assert text[found.also[0]:found.also[1]].strip() == "at noon"


def test_a_new_clause_does_not_lend_its_time() -> None:
    # "she" starts something else: 4 is not when the call is
    assert due("call Dana tomorrow she said 4 works") == local(2026, 3, 6)
    assert find_when("lunch with Hannah Becker", NOW) is None


# ---- "tonight" said once the evening has begun (issue 20, item 10) -------------------------


@pytest.mark.parametrize(("now", "expected"), [
    (local(2026, 3, 5, 20, 15), local(2026, 3, 5, 21)),
    (local(2026, 3, 5, 19, 0), local(2026, 3, 5, 20)),
    (local(2026, 3, 5, 22, 59), local(2026, 3, 5, 23)),
])
def test_tonight_after_seven_is_the_next_full_hour_tonight(now, expected) -> None:
    found = find_when("tonight", now)
    assert found is not None and not found.in_past
    assert found.due_at == expected


def test_tonight_after_eleven_is_asked_again() -> None:
    found = find_when("tonight", local(2026, 3, 5, 23, 10))
    assert found is not None and found.in_past


def test_tonight_before_seven_is_still_seven() -> None:
    assert find_when("tonight", local(2026, 3, 5, 18, 59)).due_at == local(2026, 3, 5, 19)
