"""when._scan skips a pattern whose `needs` the text lacks, and find_when skips scanning a text
the screen rules out; neither may ever change output.

Each pattern carries `needs` (see when._pattern): groups of literal pieces, written by hand from
its regex, such that every match spells a piece of every group. These tests check that claim on
the match itself, for examples of every alternative of every pattern and for many corpus and
generated texts; and that the cheap screen (`_may_hold_time`) says what `_SCREEN` says.
"""

from __future__ import annotations

import random
import re

import pytest

from tests.support import time_benchmark
from tests.support.corpus import CORPUS, load_rows
from webapp.understanding import when as w
from webapp.understanding.literal_screen import may_match

# Per pattern (by handler), phrases that match it: one or more for each alternative its regex
# has, so that a piece missing from a group of `needs` shows up here.
_EXAMPLES: dict[str, list[str]] = {
    "_in_offset": ["in 20 minutes", "within 2 hours", "after 3 days", "in about a week",
                   "in a couple of months", "in 2.5 hrs", "in half an hour", "after 10 mins"],
    "_offset_from_now": ["2 weeks from now", "3 days hence", "2 hours later", "5 days out",
                         "a week from today", "ten minutes from right now"],
    "_offset_ago": ["30 minutes ago", "two days ago"],
    "_in_bare_minutes": ["back in 15", "in 5, please", "in 10 to call"],
    "_in_a_sec": ["in a sec", "in a second", "in a jiffy", "in a moment", "in a bit"],
    "_upcoming": ["the upcoming two weeks", "coming 3 days", "next 2 wks", "2 upcoming days",
                  "three next weeks"],
    "_weekdays_from_now": ["3 fridays from now", "two mondays hence", "2 tuesdays from today",
                           "3 th from now"],
    "_day_after_tomorrow": ["day after tomorrow", "the day after tmrw", "day before yesterday"],
    "_named_day": ["tomorrow", "tomorrows", "tomorow", "tommorow", "tommorrow", "tomorrrow",
                   "tmr", "tmrw", "tmw", "tmrow", "2moro", "2morrow", "2mrw", "tomoz", "today",
                   "tday", "2day", "yesterday", "yday"],
    "_tom": ["by tom", "for tom", "till tom", "until tom", "before tom", "tom morning",
             "tom night"],
    "_later_today_piece": ["later today", "later on today", "later this afternoon",
                     "later this evening", "later on"],
    "_weekday_piece": [f"on {d}" for d in w._WEEKDAYS] + [
        "next week's friday", "friday after next", "this friday", "tuesday of next week",
        "mon.", "last sat"],
    "_month_day": [f"{m} 3" for m in w._MONTHS] + [
        "feb13", "february the 15th", "fri, jul 18", "april 14, 2015", "sept 1st",
        "may twenty-first", "march third 2015", "june first"],
    "_day_month": [f"3 {m}" for m in w._MONTHS] + [
        "15th february", "4th of july", "14april 2015", "third day of october",
        "fri 15 aug", "the 1st of may '27", "twelfth, december"],
    "_in_month": [f"{p} {m}" for p in ("in", "during", "early", "mid", "late", "by")
                  for m in ("january", "february", "march", "april", "may", "june", "july",
                            "august", "september", "october", "november", "december")],
    "_numeric_date": ["4/7", "2 / 15", "3/3/15", "2-15", "12/31/2026"],
    "_iso_date": ["2026-03-05", "1999-12-31"],
    "_dotted_date": ["3.3.15", "12.25.2026"],
    "_day_of_rel_month": ["20th of the next month", "20 of this month",
                          "the first day of the following month", "5th of current month",
                          "10 of the coming month"],
    "_the_ordinal": [f"on the {o}" for o in w._ORDINALS] + [
        "the 1st", "by the 15th", "the twenty-first", "the thirty first", "until the 2nd"],
    "_weekday_ordinal": ["tuesday the 19th", "thu 15th", "fri the third", "sat, 1st",
                         "wed twenty-second"],
    "_holiday_piece": [
        "christmas eve", "christmas", "xmas", "x-mas day", "new year's eve", "new years eve",
        "new year eve", "new year's day", "new years", "new year day", "valentine's day",
        "valentines", "halloween", "independence day", "thanksgiving", "thanksgiving day",
        "black friday", "memorial day", "labor day", "labour day", "mlk day",
        "martin luther king jr. day", "martin luther king's day", "civil rights day",
        "presidents day", "presidents' day", "president day", "mother's day", "fathers day",
        "easter monday", "easter", "easter sunday", "good friday", "st. patrick's day",
        "saint patricks", "veterans day", "columbus day", "boxing day", "cinco de mayo",
        "juneteenth", "next christmas 2027", "last easter"],
    "_units_from_anchor": ["three days after easter", "a year from christmas",
                           "2 weeks before march 3", "2 months after 4th of july",
                           "10 days before the 1st of may 2027"],
    "_nth_weekday_after": ["third tuesday after christmas 2014",
                           "the 2nd friday before july 4", "first mon after 3 sept"],
    "_closest_weekday": ["the second closest mon to october fifth",
                         "closest friday to christmas", "closest sat to 4 july"],
    "_week_of": ["the week of october 6th", "week of 6 october", "week of christmas",
                 "week of the 6th of october"],
    "_nth_of_period": ["first tuesday of october", "last day of october 2015",
                       "first week of october 2014", "third weekend in may",
                       "second week of 2018", "2nd friday in jan"],
    "_nth_last_week": ["third last week of 2018", "the 5th last day of may",
                       "second last week in june, 2027"],
    "_week_piece": ["next week", "following week", "upcoming weekend", "coming wknd",
                    "this week", "current month", "end of the week", "early next month",
                    "eow", "eom", "end of wk", "end of the month", "this wkend",
                    "middle of next week", "late this month", "mid next week-end"],
    "_pod_piece": ["morning", "this morning", "mornings", "morn", "afternoon", "aftn", "aft",
                   "arvo", "evening", "night", "nite", "morningish", "in the am",
                   "in the p.m.", "tonight", "tonite", "2nite", "noon", "midday", "mid day",
                   "midnight", "lunch", "lunchtime", "lunch time", "eod", "cob", "end of day",
                   "the end of the business day", "close of business", "first thing",
                   "tonight's evening", "early in the morning", "first thing in the morning"],
    "_colon_time": ["3:15pm", "15:30", "15:23:24", "07:00 p.m."],
    "_hour_ampm": ["3pm", "3 p.m.", "3ish pm", "3 oclock pm"] + [
        f"{h} am" for h, v in w._UNITS.items() if 1 <= v <= 12],
    "_oclock_or_h": ["3 o'clock", "three oclock", "15h00", "3h", "twelve o clock"],
    "_compact_time": ["1030", "330 pm", "at 730"],
    "_bare_time": ["at 3", "at 3 15", "nine fifty nine a m", "eight tonight"] + [
        h for h, v in w._UNITS.items() if 1 <= v <= 12],
    "_relative_clock": ["half past three", "a quarter to noon", "20 minutes to 2pm",
                        "twenty after 3pm", "half three", "ten till 5pm", "ten til 5pm",
                        "quarter of 4", "5 before 3pm", "15 minutes from 1pm",
                        "quarter to midnight", "half 4"],
    "_tz_piece": ["gmt", "utc", "bst", "cest", "cet", "eest", "eet", "ist", "jst", "aest",
                  "aedt", "akst", "hst", "est", "edt", "cst", "cdt", "mst", "mdt", "pst",
                  "pdt", "gmt+2", "utc - 05:30"],
}

# Words the generated texts are made of: the patterns' own vocabulary, plus a few others.
_WORDS = sorted(set(
    " ".join(p for examples in _EXAMPLES.values() for p in examples).split()
    + list(w._UNITS) + list(w._TENS) + list(w._ORDINALS) + list(w._MONTHS)
    + list(w._WEEKDAYS) + list(w._TZ_HOURS) + list(w._POD_TIME)
    + "a an the of in on at by to and then call remind me Dana Cole 0 1 2 3 9 10 12 15 30 45 "
      "59 99 2014 2026 730 1030 1st 2nd 3rd 15th ' . , : / - am pm a.m. p.m. ish".split()
))
_SEPARATORS = (" ", " ", " ", "", "\n", ", ", ". ", "-", "/", ":", "  ")


def _texts() -> list[str]:
    """The patterns' examples, corpus messages, benchmark phrases (when shared/ is beside the
    repository) and random runs of the patterns' words. The examples come first so that every
    pattern has texts it matches on a clone without shared/."""
    texts = [phrase for examples in _EXAMPLES.values() for phrase in examples]
    texts += [row["message"] for path in sorted(CORPUS.glob("*.jsonl"))
              for row in load_rows(path.name)]
    try:
        texts += [row["phrase"] for row in time_benchmark.load_rows()]
    except FileNotFoundError:  # the shared benchmark is optional
        pass
    rng = random.Random(7)
    for _ in range(20_000):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(1, 7))]
        words = [x.upper() if rng.random() < 0.2 else x for x in words]
        texts.append("".join(x + rng.choice(_SEPARATORS) for x in words))
    return texts


def _spells_needs(needs: w._Needs, matched: str) -> bool:
    return may_match(needs, matched, w._DIGIT.search(matched) is not None)


def test_every_pattern_has_examples() -> None:
    assert {handler.__name__ for _, handler, _ in w._PATTERNS} == set(_EXAMPLES)


@pytest.mark.parametrize("name", sorted(_EXAMPLES))
def test_every_alternative_spells_the_patterns_needs(name: str) -> None:
    [(regex, needs)] = [(r, n) for r, h, n in w._PATTERNS if h.__name__ == name]
    for phrase in _EXAMPLES[name]:
        found = [m for m in regex.finditer(w._lowercase(phrase)) if m.end() > m.start()]
        assert found, f"{name} does not match {phrase!r}"
        for m in found:
            assert _spells_needs(needs, m.group()), (name, phrase, m.group())


def test_every_match_in_many_texts_spells_its_needs() -> None:
    lows = [w._lowercase(t) for t in _texts()]
    for regex, handler, needs in w._PATTERNS:
        matched = 0
        for low in lows:
            for m in regex.finditer(low):
                if m.end() > m.start():
                    matched += 1
                    assert _spells_needs(needs, m.group()), (handler.__name__, low, m.group())
        assert matched, f"no test text matches {handler.__name__}"


def test_shared_needs_cover_every_word_of_their_vocabulary() -> None:
    def covered(group: str, word: str) -> bool:
        return any(piece in word for piece in group.split("|") if piece != r"\d")

    ordinals = list(w._ORDINALS) + [f"{t}{sep}{o}" for t in ("twenty", "thirty")
                                    for sep in ("", " ", "-") for o in ("first", "ninth")]
    for group, words in ((w._WD_NEEDS, w._WEEKDAYS), (w._MONTH_NEEDS, w._MONTHS),
                         (w._ORD_NEEDS, ordinals), (w._HOUR_NEEDS, ["one", "twelve"])):
        for word in words:
            assert covered(group, word), (group, word)
    for phrase in _EXAMPLES["_holiday_piece"]:
        assert covered(w._HOLIDAY_NEEDS, phrase), phrase


def test_needs_run_on_the_lowercased_text_as_the_regexes_do() -> None:
    # No pattern ignores case: _scan runs them on _Ctx.low, where `needs` are looked up too.
    assert all(not regex.flags & re.IGNORECASE for regex, _, _ in w._PATTERNS)


def test_cheap_screen_says_what_the_screen_regex_says() -> None:
    texts = _texts() + [chr(c) + chr(d) for c in range(32, 128) for d in range(32, 128)]
    texts += ["in a \u017fec", "\u212a", "Dana \u0130", "caf\u00e9 at 5", "\u0663 pm", "ſat"]
    for text in texts:
        assert w._may_hold_time(text) == bool(w._SCREEN.search(text)), text


def test_non_ascii_text_is_screened_with_the_regex() -> None:
    # IGNORECASE reads the long s "ſ" as "s": "ſec" is "sec" to the screen, not to str.lower().
    assert w._may_hold_time("call back in a \u017fec")
    assert not w._may_hold_time("call back in a \u017fe")


@pytest.mark.parametrize("word", w._SCREEN_WORDS + ["3", "4th", "5 pm", "a.m.", "at noon"])
def test_every_screen_word_passes_the_cheap_screen_in_any_case(word: str) -> None:
    for text in (word, word.upper(), word.title(), f"Dana, {word}!"):
        assert w._may_hold_time(text) and w._SCREEN.search(text), text
