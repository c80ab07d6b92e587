"""Find and resolve the time expression in an agent's message ("tomorrow morning", "at 3").

Why our own grammar: `dateparser.search_dates` is slow (tens of ms) and grabs non-time words
("may", "sun", lead names like "April Jones", "3 bed", phone numbers), and it does not know the
spec's conventions (10:00 default hour, bare "at 3" = 15:00, "next Monday" = next week's Monday).
So the message is scanned with small, commented regexes for *pieces* (a date, a clock time, a
part of day, a time zone, a relative offset), adjacent pieces are merged into one expression,
and the expression is resolved by hand in the agent's zone. `dateparser.parse` is only a last
resort in `resolve_when`, where the whole text is known to be a time phrase.

Conventions where the spec is silent (tests/test_when.py pins each):
- "later today": 17:00 if it is before 14:00, else now + 2 h rounded up to the half hour.
- "today" (or today's date) with no time after 10:00 has passed: treated like "later today".
- "first thing" = morning (10:00); "early morning" = 08:00; "lunch" = 12:00; "night" = 19:00.
- "this weekend" = Saturday 10:00 (Sunday if Saturday 10:00 is past); "next weekend" = next
  week's Saturday; "end of the week" / EOW = Friday 17:00; "end of the month" = last day 17:00.
- "next month" = the 1st of next month; "in N months/years" = same day N months/years on.
- "in <month>" ("in June") = the 1st of that month (not matched in the current month).
- "the week of <date>" = the Monday of that week (a Sunday starts a US week: the next Monday).
- "<weekday> after next" = one week after the plain weekday.
- A bare clock time without am/pm ("3:30", "at 3") follows the bare-hour rule (1-6 pm,
  7-11 am, 12 noon); a part of day decides instead ("at 11 tonight" = 23:00).
- Explicit zones (GMT, PST, IST = India...) are converted into the agent's zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone

from dateutil.easter import easter

from webapp.understanding.literal_screen import Needs, fewest_pieces, may_match, needs_of

__all__ = ["WhenMatch", "find_when", "resolve_when", "default_due"]

DEFAULT_HOUR = 10
_UTC = UTC


@dataclass(frozen=True)
class WhenMatch:
    start: int  # char span in `text` the time expression occupies, including its lead-in
    end: int  # preposition ("on", "at", "in" of "in 3 days"): text[:start]+text[end:] = the rest
    text: str  # text[start:end]
    due_at: datetime | None  # timezone-aware, in now.tzinfo's zone; None when in_past
    in_past: bool  # the moment said is already past -> the parser will ask to clarify
    has_time: bool  # a time of day was said (vs the default hour applied)
    # a second, separate part of the same moment ("lunch tomorrow with Hannah at noon"):
    # its span, also to be cut from a title; None when the expression is one piece of text
    also: tuple[int, int] | None = None


def default_due(now: datetime) -> datetime:
    """Tomorrow 10:00 local: the spec's due time when a follow-up names no date and no time."""
    return _wall(now.date() + timedelta(days=1), DEFAULT_HOUR, 0, 0, now.tzinfo)


# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
         "seventy": 70, "eighty": 80, "ninety": 90}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}
_WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tues": 1, "tue": 1, "tu": 1, "wednesday": 2,
    "weds": 2, "wed": 2, "thursday": 3, "thurs": 3, "thur": 3, "thu": 3, "thr": 3, "th": 3,
    "friday": 4, "fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}
# Abbreviations that are also ordinary English words: a weekday only in a date-like context.
_AMBIGUOUS_WEEKDAYS = {"sun", "sat", "wed", "mon", "th", "tu"}

# Default hour/minute of each part of day (spec table; the rest is our convention).
_POD_TIME = {
    "morning": (10, 0), "early morning": (8, 0), "afternoon": (14, 0), "evening": (18, 0),
    "tonight": (19, 0), "night": (19, 0), "noon": (12, 0), "lunch": (12, 0),
    "eod": (17, 0), "midnight": (0, 0),
}
_POD_PM = {"afternoon", "evening", "tonight", "night"}

# Fixed offsets of the zone abbreviations people type (Duckling uses the same fixed values).
_TZ_HOURS = {
    "gmt": 0, "utc": 0, "z": 0, "bst": 1, "cet": 1, "cest": 2, "eet": 2, "eest": 3,
    "ist": 5.5, "jst": 9, "aest": 10, "aedt": 11, "est": -5, "edt": -4, "cst": -6,
    "cdt": -5, "mst": -7, "mdt": -6, "pst": -8, "pdt": -7, "akst": -9, "hst": -10,
}


def _alt(words) -> str:
    """Regex alternation, longest first so "september" wins over "sep"."""
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_NUM_WORD = (  # one .. ninety-nine, spelled out (clock minutes check their own range)
    rf"(?:(?:{_alt(_TENS)})(?:[ -](?:{_alt(k for k, v in _UNITS.items() if 0 < v < 10)}))?"
    rf"|{_alt(k for k in _UNITS if k != 'zero')})"
)
_ORD_WORD = (
    rf"(?:(?:twenty|thirty)[ -]?(?:{_alt(k for k, v in _ORDINALS.items() if v < 10)})"
    rf"|{_alt(_ORDINALS)})"
)
_ORD = rf"(?:\d{{1,2}}(?:st|nd|rd|th)|{_ORD_WORD})"
_DAYNUM = rf"(?:{_ORD}|\d{{1,2}}(?!\d))"
_MONTH = rf"(?:{_alt(_MONTHS)})\.?"
_WD = rf"(?:{_alt(_WEEKDAYS)})(?:\.|(?=s\b)|\b)"
_HOUR_WORD = _alt(k for k, v in _UNITS.items() if 1 <= v <= 12)
_AMPM = r"(?:[ap]\.?\s?m\b\.?|[ap]\.(?!\w)|(?<=\d)[ap]\b)"
_QTY = (  # how many of a unit: 3, 2.5, "two", "a", "a couple of", "a few", "half an"...
    r"(?:\d+(?:\.\d+)?(?:\s+and\s+an?\s+half)?"
    rf"|{_NUM_WORD}(?:\s+and\s+an?\s+half)?"
    r"|(?:a\s+)?couple(?:\s+of)?|a\s+pair\s+of|(?:a\s+)?few|several"
    r"|half\s+an?|an?\s+half|(?:an?\s+)?quarter\s+of\s+an?|three[- ]quarters\s+of\s+an?"
    r"|[13]/[24]|an?)"
)
_TIME_UNIT = (
    r"(?:seconds?|secs?|minutes?|mins?|m\b|'|\"|hours?|hrs?|h\b"
    r"|days?|weeks?|wks?|fortnights?|months?|mos?\b|years?|yrs?)"
)
_TOMORROW = r"(?:tomorrows?|tomorow|tommorr?ow|tomorrrow|tmrw?|tmw|tmrow|2moro|2morrow|2mrw|tomoz)"
_HOLIDAY = (
    r"(?:christmas\s+eve|(?:christmas|xmas|x-mas)(?:\s+day)?|new\s+year'?s?\s+eve"
    r"|new\s+year'?s(?:\s+day)?|new\s+year\s+day|valentine'?s?(?:\s+day)?|halloween"
    r"|independence\s+day|thanksgiving(?:\s+day)?|black\s+friday|memorial\s+day"
    r"|labou?r\s+day|(?:mlk|martin\s+luther\s+king(?:'?s)?)(?:,?\s+jr\.?)?\s+day|civil\s+rights\s+day"
    r"|presidents?'?\s+day|mother'?s'?\s+day|father'?s'?\s+day|easter\s+monday"
    r"|easter(?:\s+sunday)?|good\s+friday|(?:st\.?|saint)\s+patrick'?s(?:\s+day)?"
    r"|veterans'?\s+day|columbus\s+day|boxing\s+day|cinco\s+de\s+mayo|juneteenth)"
)

# Words after a number that make it a quantity, not a time: "at 3 bed", "2 bedroom".
_QTY_NOUN = re.compile(
    r"\s*(?:beds?|bedrooms?|br|bd|baths?|bathrooms?|ba|cars?|car\s+garage|stor(?:y|ies)|units?"
    r"|sq|sqft|square|acres?|k\b|%|percent|people|persons?|kids|dollars?|bucks|homes?|houses?"
    r"|propert(?:y|ies)|offers?|listings?|leads?|times?|x\b|of\s+(?:them|those|these|us)"
    r"|showings?|viewings?|calls?|days?|weeks?|months?|years?|hours?|minutes?|mins?|grand)\b"
)
_STREET = re.compile(
    r"\s+(?:[A-Z][a-z]+\s+)*(?:st|street|ave|avenue|rd|road|ln|lane|dr|drive|blvd|ct|court"
    r"|way|pl|place|pkwy|parkway|cir|circle|ter|terrace|hwy|highway|trl|trail|sq)\b\.?",
    re.I,
)
_TIMEISH_WORDS = re.compile(
    r"(?:am|pm|a\.m|p\.m|tomorrow|today|tonight|this|next|on|in|at|and|or|for|the|to|o'?clock"
    r"|ish|sharp|please|pst|est|cst|mst|gmt|utc|bst|ist|cet|edt|pdt|cdt|mdt)\b",
    re.I,
)


def _num(word: str) -> float | None:
    """'3' -> 3, 'twenty-three' -> 23, '2.5' -> 2.5, 'a couple of' -> 2, 'half an' -> 0.5."""
    w = re.sub(r"\s+", " ", word.strip().lower())
    if not w:
        return None
    half = 0.0
    m = re.match(r"(.*?)\s+and\s+an?\s+half$", w)
    if m:
        w, half = m.group(1), 0.5
    if re.fullmatch(r"\d+(?:\.\d+)?", w):
        return float(w) + half
    fractions = {"1/4": 0.25, "1/2": 0.5, "3/4": 0.75}
    if w in fractions:
        return fractions[w]
    if w in ("a", "an"):
        return 1.0 + half
    if "couple" in w or "pair" in w:
        return 2.0
    if "few" in w:
        return 3.0
    if w == "several":
        return 3.0
    if w.startswith("half") or w.endswith("half"):
        return 0.5
    if w.startswith("three") and "quarter" in w:
        return 0.75
    if "quarter" in w:
        return 0.25
    parts = re.split(r"[ -]", w)
    total = 0
    for p in parts:
        if p in _TENS:
            total += _TENS[p]
        elif p in _UNITS:
            total += _UNITS[p]
        else:
            return None
    return float(total) + half


def _ordinal(word: str) -> int | None:
    """'3rd' -> 3, 'twenty-first' -> 21, '19' -> 19."""
    w = word.strip().lower()
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", w)
    if m:
        return int(m.group(1))
    parts = re.split(r"[ -]", w)
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _ORDINALS:
        return _TENS[parts[0]] + _ORDINALS[parts[1]]
    if len(parts) == 1 and w.startswith(("twenty", "thirty")) and w not in _ORDINALS:
        for t in ("twenty", "thirty"):
            if w.startswith(t) and w[len(t):] in _ORDINALS:
                return _TENS[t] + _ORDINALS[w[len(t):]]
    return _ORDINALS.get(w)


def _month(word: str) -> int:
    return _MONTHS[word.strip().lower().rstrip(".")]


def _weekday(word: str) -> int:
    w = word.strip().lower().rstrip(".")
    if w not in _WEEKDAYS and w.endswith("s"):
        w = w[:-1]
    return _WEEKDAYS[w]


# ---------------------------------------------------------------------------------------------
# Calendar helpers
# ---------------------------------------------------------------------------------------------


def _wall(day: date, hour: int, minute: int, second: int, tz) -> datetime:
    """A local wall-clock time in `tz`, DST-safe: a time that does not exist (spring forward)
    moves forward by the gap; an ambiguous one (fall back) takes the first occurrence."""
    naive = datetime(day.year, day.month, day.day, hour, minute, second)
    return naive.replace(tzinfo=tz).astimezone(_UTC).astimezone(tz)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, _days_in_month(year, month)))


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date | None:
    """n-th (1-based; -1 = last) `weekday` of a month."""
    if n > 0:
        first = date(year, month, 1)
        d = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    else:
        last = date(year, month, _days_in_month(year, month))
        d = last - timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-n - 1))
    return d if d.month == month else None


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _holiday(name: str, year: int) -> date | None:
    n = re.sub(r"[\s'.,-]+", " ", name.lower()).strip()
    fixed = {
        "christmas eve": (12, 24), "valentine": (2, 14), "halloween": (10, 31),
        "independence day": (7, 4), "st patrick": (3, 17), "saint patrick": (3, 17),
        "veterans": (11, 11), "boxing day": (12, 26), "cinco de mayo": (5, 5),
        "juneteenth": (6, 19), "new year s eve": (12, 31), "new years eve": (12, 31),
        "new year eve": (12, 31),
    }
    for key, (m, d) in fixed.items():
        if n.startswith(key):
            return date(year, m, d)
    if n.startswith(("christmas", "xmas", "x mas")):
        return date(year, 12, 25)
    if n.startswith("new year"):
        return date(year, 1, 1)
    if n.startswith("easter monday"):
        return easter(year) + timedelta(days=1)
    if n.startswith("easter"):
        return easter(year)
    if n.startswith("good friday"):
        return easter(year) - timedelta(days=2)
    floating = {  # (month, weekday, n)
        "thanksgiving": (11, 3, 4), "memorial": (5, 0, -1), "labor": (9, 0, 1),
        "labour": (9, 0, 1), "mlk": (1, 0, 3), "martin": (1, 0, 3), "president": (2, 0, 3),
        "mother": (5, 6, 2), "father": (6, 6, 3), "columbus": (10, 0, 2), "civil": (1, 0, 3),
    }
    if n.startswith("black friday"):
        return _nth_weekday(year, 11, 3, 4) + timedelta(days=1)
    for key, (m, wd, k) in floating.items():
        if n.startswith(key):
            return _nth_weekday(year, m, wd, k)
    return None


# ---------------------------------------------------------------------------------------------
# Pieces: what each pattern found
# ---------------------------------------------------------------------------------------------

STRONG, WEAK, NEEDS_POD = 0, 1, 2  # how much context a piece needs to count as a time


@dataclass
class _Piece:
    start: int
    end: int
    date: date | None = None  # a calendar day in the agent's zone
    date_is_today: bool = False  # "today" / today's date (for the past/later-today rules)
    time: tuple[int, int, int] | None = None  # hour, minute, second as said
    ampm_known: bool = True  # False: "at 3" (bare hour rule / part of day decide)
    pod: str | None = None  # part of day: morning, tonight, eod...
    pod_today: bool = False  # "this morning" / "tonight": today, not the next one
    tz: timedelta | None = None  # explicit zone of the clock time
    instant: datetime | None = None  # "in 20 minutes": an exact moment
    special: str | None = None  # "later today"
    strength: int = STRONG

    def slots(self) -> set[str]:
        out = set()
        if self.date is not None:
            out.add("date")
        if self.time is not None:
            out.add("time")
        if self.pod is not None:
            out.add("pod")
        if self.tz is not None:
            out.add("tz")
        if self.instant is not None or self.special:
            out.update(("instant", "date", "time"))
        return out


@dataclass
class _Ctx:
    text: str  # original text
    low: str  # lowercased, same length
    now: datetime
    today: date
    month_first: bool


_Handler = Callable[[re.Match, _Ctx], "_Piece | None"]
_PATTERNS: list[tuple[re.Pattern, _Handler, Needs]] = []  # with what their matches spell
_DIGIT = re.compile(r"\d")  # the patterns' \d: any Unicode decimal digit


def _pattern(regex: str, needs: tuple[str, ...]):
    """Register a piece pattern; the decorated handler turns a match into a _Piece (or None).

    `needs` says what every match of `regex` spells, so that `_scan` can skip the regex when
    the text spells none of it (most patterns match no message; each costs a few us to run).
    It is a tuple of groups; each group, "|"-separated, lists lowercase literal pieces of
    which every match contains at least one, "\\d" meaning any digit (as the regex's \\d).
    A piece is read off the regex by hand (tests/test_when_needs.py checks each group on
    texts that match). The patterns run on `_Ctx.low` without IGNORECASE, so a piece found
    in it or not says exactly what the regex can see, whatever the alphabet.
    """
    screen = needs_of(needs)

    def deco(fn: _Handler) -> _Handler:
        _PATTERNS.append((re.compile(regex, re.X), fn, screen))
        return fn

    return deco


# Groups of `needs` shared by several patterns, built from the words their regexes are built
# from: every alternative of _WD, _MONTH, _ORD/_DAYNUM, _HOUR_WORD contains one of these.
_WD_NEEDS = "|".join(_WEEKDAYS)
_MONTH_NEEDS = "|".join(_MONTHS)
# every _ORDINALS word holds one of these ("fifth", "twelfth": "fth"; "seventh", "ninth" and
# the -teenths: "nth"); "twenty-first" holds "first"
_ORD_NEEDS = r"\d|first|second|third|rth|fth|xth|nth|hth|ieth"
_HOUR_NEEDS = r"\d|" + "|".join(k for k, v in _UNITS.items() if 1 <= v <= 12)
# one piece of each _HOLIDAY alternative ("x-mas": "mas"; "new year's eve": "year"; "labour
# day": "labo")
_HOLIDAY_NEEDS = (
    "mas|year|valentine|halloween|independence|thanksgiving|black|memorial"
    "|labo|mlk|martin|civil|president|mother|father|easter|good|patrick|veterans|columbus"
    "|boxing|cinco|juneteenth"
)
_ANCHOR_NEEDS = f"{_HOLIDAY_NEEDS}|{_MONTH_NEEDS}"  # a holiday or a month and day


def _first_future(ctx: _Ctx, make: Callable[[int], date | None], year: str | None) -> date | None:
    """A date with an implied year: the first of this year's, next year's... not yet past.
    With an explicit year, just that one."""
    if year:
        y = int(year)
        if y < 100:
            y += 2000
        return make(y)
    for y in range(ctx.today.year - 1, ctx.today.year + 3):
        d = make(y)
        if d is not None and d >= ctx.today:
            return d
    return None


def _prev_word(ctx: _Ctx, start: int) -> str:
    m = re.search(r"([a-z@']+)\W*$", ctx.low[max(0, start - 20):start])
    return m.group(1) if m else ""


def _lead_in_strong(ctx: _Ctx, start: int) -> bool:
    """'at 3', '@ 3', 'around 3', 'by 5': the preposition makes a bare number a time."""
    return bool(
        re.search(r"(?:\bat|@|\baround|\babout|\bapprox(?:imately|\.)?|\bby|\buntil|\btill"
                  r"|\bbefore|\bafter)\s*$", ctx.low[max(0, start - 16):start])
    )


def _looks_like_quantity(ctx: _Ctx, end: int) -> bool:
    """'3 bed', '2 bedroom', '9 Birch Ln', '312-555-...': a number that is not a time."""
    rest = ctx.text[end:end + 40]
    if _QTY_NOUN.match(rest.lower()) or re.match(r"[-./]\d|,\d{3}", rest):
        return True
    if _STREET.match(rest):
        return True
    # "at 3 Elm St" / "at 3 Dana's place": a capitalised word that is not a time word.
    m = re.match(r"\s+([A-Z][A-Za-z]+)", rest)
    return bool(m and not _TIMEISH_WORDS.fullmatch(m.group(1)) and
                m.group(1).lower() not in _WEEKDAYS and m.group(1).lower() not in _MONTHS)


def _number_ok(ctx: _Ctx, start: int) -> bool:
    """No price, decimal or id before a number: '$450', '1.5', '#3', 'x-3'."""
    return start == 0 or ctx.low[start - 1] not in "$€£#.,:/-\\"


# ---- relative offsets: "in 20 minutes", "in 3 days", "2 weeks from now" -----------------------


def _offset_piece(ctx: _Ctx, m: re.Match, qty: str, unit: str) -> _Piece | None:
    n = _num(qty)
    if n is None or n <= 0 or n > 10000:
        return None
    u = unit.lower()
    seconds = {"s": 1, "'": 60, '"': 1, "m": 60, "h": 3600}
    if u.startswith("sec") or u == '"':
        delta = timedelta(seconds=n)
    elif u.startswith("min") or u in ("m", "'"):
        delta = timedelta(minutes=n)
    elif u.startswith(("hour", "hr")) or u == "h":
        delta = timedelta(hours=n)
    else:
        delta = None
    if delta is not None:
        del seconds
        instant = (ctx.now.astimezone(_UTC) + delta).astimezone(ctx.now.tzinfo)
        if delta >= timedelta(minutes=1):
            instant = instant.replace(second=0, microsecond=0)  # "to the minute"
        else:
            instant = instant.replace(microsecond=0)
        return _Piece(m.start(), m.end(), instant=instant)
    whole = int(round(n))
    if u.startswith("day"):
        d = ctx.today + timedelta(days=n if n == whole else whole)
    elif u.startswith(("week", "wk")):
        d = ctx.today + timedelta(days=round(7 * n))
    elif u.startswith("fortnight"):
        d = ctx.today + timedelta(days=round(14 * n))
    elif u.startswith(("month", "mo")):
        d = _add_months(ctx.today, whole)
    else:
        d = _add_months(ctx.today, 12 * whole)
    return _Piece(m.start(), m.end(), date=d)


@_pattern(
    rf"""\b(?:in|within|after)\s+
    (?:about\s+|around\s+|approximately\s+|approx\.?\s+|roughly\s+|another\s+|just\s+|only\s+)?
    (?P<q>{_QTY})\s*(?:more\s+)?(?P<u>{_TIME_UNIT})""",
    needs=("in|after",),
)
def _in_offset(m: re.Match, ctx: _Ctx) -> _Piece | None:
    return _offset_piece(ctx, m, m.group("q"), m.group("u"))


@_pattern(
    rf"""\b(?P<q>{_QTY})\s*(?:more\s+)?(?P<u>{_TIME_UNIT})\s+
    (?:from\s+(?:right\s+)?now|from\s+today|hence|later|out)\b""",
    needs=("from|hence|later|out",),
)
def _offset_from_now(m: re.Match, ctx: _Ctx) -> _Piece | None:
    if not _number_ok(ctx, m.start()):
        return None
    return _offset_piece(ctx, m, m.group("q"), m.group("u"))


@_pattern(rf"""\b(?P<q>{_QTY})\s*(?P<u>{_TIME_UNIT})\s+ago\b""",
          needs=("ago",))
def _offset_ago(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'30 minutes ago', '2 days ago': a moment already past (the parser asks to clarify)."""
    n = _num(m.group("q"))
    if n is None or n <= 0 or n > 10000:
        return None
    u = m.group("u").lower()
    if u.startswith(("min", "hour", "hr", "sec")) or u in ("m", "h", "'", '"'):
        piece = _offset_piece(ctx, m, m.group("q"), m.group("u"))
        if piece is None or piece.instant is None:
            return None
        piece.instant = ctx.now - (piece.instant - ctx.now)
        return piece
    piece = _offset_piece(ctx, m, m.group("q"), m.group("u"))
    if piece is None or piece.date is None:
        return None
    piece.date = ctx.today - (piece.date - ctx.today)
    return piece


@_pattern(r"\bin\s+(?P<n>\d{1,2})(?=\s*[.!?]?\s*$|\s+(?:to|and|then|please|pls|mins?)\b|\s*[,;])",
          needs=("in", r"\d"))
def _in_bare_minutes(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'back in 15', 'remind me in 15 to call Bob': minutes (texting drops the unit)."""
    if int(m.group("n")) > 60:
        return None
    return _offset_piece(ctx, m, m.group("n"), "minutes")


@_pattern(r"\bin\s+a\s+(?:sec|second|jiffy|moment|bit)\b",
          needs=("in", "sec|jiffy|moment|bit"))
def _in_a_sec(m: re.Match, ctx: _Ctx) -> _Piece | None:
    unit = "minute" if m.group(0).endswith(("moment", "bit", "jiffy")) else "sec"
    return _offset_piece(ctx, m, "1", unit)


@_pattern(
    rf"""\b(?:(?:the\s+)?(?:upcoming|coming|next)\s+(?P<q1>{_QTY})|(?P<q2>{_QTY})\s+
    (?:upcoming|coming|next))\s+(?P<u>days?|weeks?|wks?)\b""",
    needs=("coming|next", "day|week|wk"),
)
def _upcoming(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'upcoming two weeks' -> Monday two weeks on; 'upcoming 2 days' -> in 2 days."""
    n = _num(m.group("q1") or m.group("q2"))
    if n is None or n != int(n) or n < 1:
        return None
    if m.group("u").startswith("d"):
        return _Piece(m.start(), m.end(), date=ctx.today + timedelta(days=int(n)))
    return _Piece(m.start(), m.end(), date=_monday(ctx.today) + timedelta(weeks=int(n)))


@_pattern(rf"\b(?P<q>{_QTY})\s+(?P<wd>{_WD})s?\s+(?:from\s+(?:now|today)|hence)\b",
          needs=("from|hence", _WD_NEEDS))
def _weekdays_from_now(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'3 fridays from now': the third Friday after today."""
    n = _num(m.group("q"))
    if n is None or n != int(n) or n < 1:
        return None
    d = ctx.today + timedelta(days=(_weekday(m.group("wd")) - ctx.today.weekday() - 1) % 7 + 1)
    return _Piece(m.start(), m.end(), date=d + timedelta(weeks=int(n) - 1))


# ---- named days ---------------------------------------------------------------------------


@_pattern(rf"\b(?:the\s+)?day\s+after\s+{_TOMORROW}|\b(?:the\s+)?day\s+before\s+yesterday\b",
          needs=("day", "after|before"))
def _day_after_tomorrow(m: re.Match, ctx: _Ctx) -> _Piece | None:
    days = -2 if "yesterday" in m.group(0) else 2
    return _Piece(m.start(), m.end(), date=ctx.today + timedelta(days=days))


@_pattern(rf"\b{_TOMORROW}\b|\b(?:today|tday|2day|yesterday|yday)\b",
          needs=("tom|tmr|tmw|2mo|2mr|today|tday|2day|yesterday|yday",))
def _named_day(m: re.Match, ctx: _Ctx) -> _Piece | None:
    w = m.group(0)
    if w in ("today", "tday", "2day"):
        return _Piece(m.start(), m.end(), date=ctx.today, date_is_today=True)
    if w in ("yesterday", "yday"):
        return _Piece(m.start(), m.end(), date=ctx.today - timedelta(days=1))
    return _Piece(m.start(), m.end(), date=ctx.today + timedelta(days=1))


@_pattern(
    r"""\b(?:(?<=by\s)|(?<=for\s)|(?<=till\s)|(?<=until\s)|(?<=before\s))tom\b
    |\btom(?=\s+(?:morning|afternoon|evening|night)\b)""",
    needs=("tom",),
)
def _tom(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """Texting 'tom' = tomorrow, but Tom is also a name: only lower-case, after 'by/for/until'
    or before a part of day / time."""
    if ctx.text[m.start():m.end()] != "tom":
        return None
    return _Piece(m.start(), m.end(), date=ctx.today + timedelta(days=1))


@_pattern(r"\blater\s+(?:today|on\s+today|this\s+(?:afternoon|evening))\b|\blater\s+on\b",
          needs=("later",))
def _later_today_piece(m: re.Match, ctx: _Ctx) -> _Piece | None:
    return _Piece(m.start(), m.end(), special="later today")


# ---- weekdays -------------------------------------------------------------------------------


@_pattern(
    rf"""\b(?:(?P<mod>this|next|coming|upcoming|last|past|following)\s+)?
    (?:(?P<nw>next\s+week'?s?)\s+)?
    (?P<wd>{_WD})
    (?:\s+(?P<post>(?:of\s+)?(?:this|next|the\s+following)\s+week\b|after\s+next\b))?""",
    needs=(_WD_NEEDS,),
)
def _weekday_piece(m: re.Match, ctx: _Ctx) -> _Piece | None:
    word = m.group("wd").rstrip(".").lower()
    wd = _weekday(word)
    mod = (m.group("mod") or "").lower()
    post = (m.group("post") or "").lower()
    strength = STRONG
    if word in _AMBIGUOUS_WEEKDAYS and not mod and not post:
        strength = _ambiguous_abbrev_strength(ctx, m.start(), m.end())
        if strength is None:
            return None
    if word != "th" and word.endswith("s") and word.rstrip("s") in _WEEKDAYS and word not in (
        "tues", "thurs", "weds"
    ):
        return None  # "fridays" (plural, a habit) unless "3 fridays from now"
    today = ctx.today
    plain = today + timedelta(days=(wd - today.weekday() - 1) % 7 + 1)
    this_week = _monday(today) + timedelta(days=wd)
    if "next" in post or "following" in post or m.group("nw") or mod in ("next", "following"):
        d = _monday(today) + timedelta(weeks=1, days=wd)
    elif "this" in post:
        d = this_week
    elif "after next" in post:
        d = plain + timedelta(weeks=1)
    elif mod == "this":
        d = this_week if this_week > today else plain
    elif mod in ("last", "past"):
        d = today - timedelta(days=(today.weekday() - wd - 1) % 7 + 1)
    else:
        d = plain
    return _Piece(m.start(), m.end(), date=d, date_is_today=(d == today), strength=strength)


def _ambiguous_abbrev_strength(ctx: _Ctx, start: int, end: int) -> int | None:
    """'sun', 'sat', 'wed' are English words: a weekday after on/by/until, at the very end of
    the message (not after 'the'/'I'/'he'...), or next to another date/time piece."""
    prev = _prev_word(ctx, start)
    if ctx.text[start:end].isupper() and len(ctx.text[start:end]) > 2:
        return STRONG  # "SAT" could be the test... but in an SMS it is mostly Saturday
    if prev in ("on", "by", "until", "till", "before", "after", "from", "every", "this", "next"):
        return STRONG
    if prev == "me" and re.search(r"\bremind\s+me\s*$", ctx.low[:start]):
        return STRONG  # "remind me sat to ...": the day the reminder is for
    if prev in ("the", "a", "i", "he", "she", "they", "we", "you", "who", "just", "was", "in"):
        return None
    if re.fullmatch(r"\.?\s*[.!?]?\s*", ctx.low[end:]):
        return STRONG
    if re.match(r"\.?\s+(?:morning|afternoon|evening|night|at\s+\d|@\s*\d|\d{1,2}(?::\d\d)?\s*"
                r"[ap]\.?m)\b", ctx.low[end:]):
        return STRONG  # "Sat morning", "sun at 3": a part of day or a clock makes it a day
    return WEAK


# ---- calendar dates -------------------------------------------------------------------------


def _weekday_consistent(ctx: _Ctx, make: Callable[[int], date | None], wd_word: str | None,
                        year: str | None) -> date | None:
    """'Fri, Jul 18': the first year (from now on) in which that date is that weekday."""
    if not wd_word:
        return _first_future(ctx, make, year)
    wd = _weekday(wd_word)
    if year:
        return _first_future(ctx, make, year)
    for y in range(ctx.today.year, ctx.today.year + 12):
        d = make(y)
        if d is not None and d >= ctx.today and d.weekday() == wd:
            return d
    return _first_future(ctx, make, year)


def _date_piece(ctx: _Ctx, m: re.Match, d: date | None) -> _Piece | None:
    if d is None:
        return None
    return _Piece(m.start(), m.end(), date=d, date_is_today=(d == ctx.today))


@_pattern(
    rf"""\b(?:(?P<wd1>{_WD}),?\s+)?(?:the\s+)?
    (?P<mon>{_MONTH})\s*(?:the\s+)?(?P<day>{_DAYNUM})(?!\s*(?:{_AMPM}|:|h\d|o'?clock))
    (?:(?:,\s*|\s+)(?P<year>(?:19|20)\d\d)\b)?
    (?:,?\s+(?P<wd2>{_WD}))?""",
    needs=(_MONTH_NEEDS, _ORD_NEEDS),
)
def _month_day(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'march 3', 'Feb13', 'february the 15th', 'Fri, Jul 18', 'April 14, 2015'."""
    day = _ordinal(m.group("day"))
    if not day or day > 31 or not _number_ok(ctx, m.start("day")):
        return None
    if not re.match(r"\d", m.group("day")) or m.group("day")[-1].isdigit():
        if _looks_like_quantity(ctx, m.end("day")) and not m.group("year"):
            return None
    month = _month(m.group("mon"))
    d = _weekday_consistent(ctx, lambda y: _safe_date(y, month, day),
                            m.group("wd1") or m.group("wd2"), m.group("year"))
    return _date_piece(ctx, m, d)


@_pattern(
    rf"""\b(?:(?P<wd1>{_WD}),?\s+)?(?:the\s+)?(?P<day>{_DAYNUM})\s*(?:day\s+)?(?:of\s+|,\s*)?
    (?P<mon>{_MONTH})(?![a-z])
    (?:(?:,\s*|\s+)(?P<year>(?:19|20)\d\d\b|'?\d\d\b(?!\s*(?:{_AMPM}|:|h\b|o'?clock))))?""",
    needs=(_MONTH_NEEDS, _ORD_NEEDS),
)
def _day_month(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'15th february', '4th of July', '14april 2015', '14th April 15', 'third day of october'."""
    day = _ordinal(m.group("day"))
    if not day or day > 31 or not _number_ok(ctx, m.start("day")):
        return None
    month = _month(m.group("mon"))
    year = (m.group("year") or "").lstrip("'") or None
    d = _weekday_consistent(ctx, lambda y: _safe_date(y, month, day), m.group("wd1"), year)
    return _date_piece(ctx, m, d)


@_pattern(r"\b(?:in|during|early|mid|late|by)\s+(?P<mon>january|february|march|april|may|june"
          r"|july|august|september|october|november|december)\b(?!\s*\d)",
          needs=("in|early|mid|late|by", _MONTH_NEEDS))
def _in_month(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'in June' -> June 1st (never the current month: that is ambiguous)."""
    month = _month(m.group("mon"))
    if month == ctx.today.month:
        return None
    word = m.group(0).split()[0]
    day = {"mid": 15, "late": 20}.get(word, 1)
    return _date_piece(ctx, m, _first_future(ctx, lambda y: date(y, month, day), None))


@_pattern(
    r"""(?<![\d/.\-$])(?P<a>\d{1,2})\s?(?P<sep>[/-])\s?(?P<b>\d{1,2})
    (?:(?P=sep)(?P<year>\d{4}|\d{2}))?(?![\d/]|-\d|\s*(?:%|[ap]\.?m\b|:|h\b|o'?clock))""",
    needs=(r"\d", "/|-"),
)
def _numeric_date(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'4/7' (month first in the US), '2 / 15', '3/3/15', '2-15'."""
    a, b = int(m.group("a")), int(m.group("b"))
    at_end = bool(re.fullmatch(r"\s*[.!?]?\s*", ctx.low[m.end():]))
    if m.group("sep") == "-" and not m.group("year") and " " in m.group(0) and not at_end:
        return None  # "3 - 4" is a range, not a date (unless it closes the message)
    month, day = (a, b) if ctx.month_first else (b, a)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if _looks_like_quantity(ctx, m.end()):
        return None
    d = _first_future(ctx, lambda y: _safe_date(y, month, day), m.group("year"))
    piece = _date_piece(ctx, m, d)
    if piece and m.group("sep") == "-" and not m.group("year") and not at_end:
        piece.strength = WEAK  # "2-15" alone could be a score or a range
    return piece


@_pattern(r"(?<![\d/.\-])(?P<y>(?:19|20)\d\d)-(?P<a>\d{1,2})-(?P<b>\d{1,2})(?![\d-])",
          needs=("19|20", "-"))
def _iso_date(m: re.Match, ctx: _Ctx) -> _Piece | None:
    return _date_piece(ctx, m, _safe_date(int(m.group("y")), int(m.group("a")),
                                          int(m.group("b"))))


@_pattern(r"(?<![\d.])(?P<a>\d{1,2})\.(?P<b>\d{1,2})\.(?P<y>(?:19|20)?\d\d)(?![\d.])",
          needs=(r"\d", "."))
def _dotted_date(m: re.Match, ctx: _Ctx) -> _Piece | None:
    a, b = int(m.group("a")), int(m.group("b"))
    month, day = (a, b) if ctx.month_first else (b, a)
    y = int(m.group("y"))
    return _date_piece(ctx, m, _safe_date(y + 2000 if y < 100 else y, month, day))


@_pattern(
    rf"""\b(?:the\s+)?(?P<day>{_DAYNUM})\s+(?:day\s+)?of\s+(?:the\s+)?
    (?P<rel>next|this|current|following|coming)\s+month\b""",
    needs=("month", "of", _ORD_NEEDS),
)
def _day_of_rel_month(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'20th of the next month', '20 of this month'."""
    day = _ordinal(m.group("day"))
    if not day:
        return None
    base = ctx.today if m.group("rel") in ("this", "current") else _add_months(ctx.today, 1)
    return _date_piece(ctx, m, _safe_date(base.year, base.month, day))


@_pattern(rf"\b(?:on\s+|by\s+|for\s+|until\s+|before\s+)?the\s+(?P<day>{_ORD})(?![\w-])",
          needs=("the", _ORD_NEEDS))
def _the_ordinal(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'on the 15th', 'the 1st': the next such day of a month (not 'the 3rd bedroom')."""
    day = _ordinal(m.group("day"))
    if not day or day > 31:
        return None
    nxt = re.match(r"\s+([a-z]+)", ctx.low[m.end():])
    if nxt and nxt.group(1) not in ("at", "in", "and", "then", "please", "by", "for", "to",
                                    "morning", "afternoon", "evening", "night", "around"):
        if not re.match(r"\s+(?:of|day)\b", ctx.low[m.end():]):
            return None
    if re.match(r"\s+(?:of|day)\b", ctx.low[m.end():]):
        return None  # "the 15th of february" is a different pattern
    d = ctx.today
    for _ in range(24):
        cand = _safe_date(d.year, d.month, day)
        if cand and cand >= ctx.today:
            return _date_piece(ctx, m, cand)
        d = _add_months(date(d.year, d.month, 1), 1)
    return None


@_pattern(rf"\b(?P<wd>{_WD}),?\s+(?:the\s+)?(?P<day>{_ORD})(?![\w-])(?!\s+(?:of|day)\b)",
          needs=(_WD_NEEDS, _ORD_NEEDS))
def _weekday_ordinal(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'Tuesday the 19th', 'Thu 15th': the next day-of-month that is that weekday."""
    day, wd = _ordinal(m.group("day")), _weekday(m.group("wd"))
    if not day or day > 31:
        return None
    d = date(ctx.today.year, ctx.today.month, 1)
    for _ in range(60):
        cand = _safe_date(d.year, d.month, day)
        if cand and cand >= ctx.today and cand.weekday() == wd:
            return _date_piece(ctx, m, cand)
        d = _add_months(d, 1)
    return None


@_pattern(
    rf"""\b(?:(?P<mod>next|this|last)\s+)?(?P<h>{_HOLIDAY})(?:\s+(?P<year>(?:19|20)\d\d)\b)?""",
    needs=(_HOLIDAY_NEEDS,),
)
def _holiday_piece(m: re.Match, ctx: _Ctx) -> _Piece | None:
    name = m.group("h")
    d = _first_future(ctx, lambda y: _holiday(name, y), m.group("year"))
    if m.group("mod") == "last" and d is not None:
        d = _holiday(name, d.year - 1)
    return _date_piece(ctx, m, d)


# ---- anchors: "<something> after christmas", "... of october 2014" ---------------------------

_ANCHOR = (
    rf"""(?:(?P<ah>{_HOLIDAY})
    |(?P<amon>{_MONTH})\s*(?:the\s+)?(?P<aday>{_DAYNUM})
    |(?:the\s+)?(?P<aday2>{_DAYNUM})\s*(?:of\s+)?(?P<amon2>{_MONTH}))
    (?:,?\s+(?P<ay>(?:19|20)\d\d)\b)?"""
)


def _anchor_maker(m: re.Match) -> Callable[[int], date | None]:
    if m.group("ah"):
        name = m.group("ah")
        return lambda y: _holiday(name, y)
    month = _month(m.group("amon") or m.group("amon2"))
    day = _ordinal(m.group("aday") or m.group("aday2")) or 0
    return lambda y: _safe_date(y, month, day)


def _anchored(ctx: _Ctx, m: re.Match, transform: Callable[[date], date | None]) -> _Piece | None:
    """Apply `transform` to the anchor; without a year, the first result not yet past."""
    make = _anchor_maker(m)

    def made(y: int) -> date | None:
        a = make(y)
        return transform(a) if a else None

    return _date_piece(ctx, m, _first_future(ctx, made, m.group("ay")))


@_pattern(rf"\b(?P<q>{_QTY})\s+(?P<u>days?|weeks?|months?|years?)\s+(?P<dir>after|before|from)"
          rf"\s+{_ANCHOR}",
          needs=("after|before|from", "day|week|month|year", _ANCHOR_NEEDS))
def _units_from_anchor(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'three days after Easter', 'a year from Christmas'."""
    n = _num(m.group("q"))
    if n is None or n != int(n):
        return None
    k = int(n) * (-1 if m.group("dir") == "before" else 1)
    u = m.group("u")
    if u.startswith("day"):
        return _anchored(ctx, m, lambda a: a + timedelta(days=k))
    if u.startswith("week"):
        return _anchored(ctx, m, lambda a: a + timedelta(weeks=k))
    months = k if u.startswith("month") else 12 * k
    return _anchored(ctx, m, lambda a: _add_months(a, months))


@_pattern(rf"\b(?:the\s+)?(?P<ord>{_ORD})\s+(?P<wd>{_WD})\s+(?P<dir>after|before)\s+{_ANCHOR}",
          needs=("after|before", _WD_NEEDS, _ANCHOR_NEEDS))
def _nth_weekday_after(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'third tuesday after christmas 2014'."""
    n, wd = _ordinal(m.group("ord")), _weekday(m.group("wd"))
    if not n:
        return None
    if m.group("dir") == "after":
        return _anchored(ctx, m, lambda a: a + timedelta(
            days=(wd - a.weekday() - 1) % 7 + 1 + 7 * (n - 1)))
    return _anchored(ctx, m, lambda a: a - timedelta(
        days=(a.weekday() - wd - 1) % 7 + 1 + 7 * (n - 1)))


@_pattern(rf"\b(?:the\s+)?(?:(?P<ord>{_ORD})\s+)?closest\s+(?P<wd>{_WD})\s+to\s+{_ANCHOR}",
          needs=("closest", _WD_NEEDS, _ANCHOR_NEEDS))
def _closest_weekday(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'the second closest Mon to October fifth'."""
    n = _ordinal(m.group("ord")) if m.group("ord") else 1
    wd = _weekday(m.group("wd"))
    if not n:
        return None

    def nth_closest(a: date) -> date:
        cands = [a + timedelta(days=k) for k in range(-7 * n - 7, 7 * n + 8)
                 if (a + timedelta(days=k)).weekday() == wd]
        cands.sort(key=lambda d: (abs((d - a).days), d))
        return cands[n - 1]

    return _anchored(ctx, m, nth_closest)


@_pattern(rf"\b(?:the\s+)?week\s+of\s+(?:the\s+)?{_ANCHOR}",
          needs=("week", "of", _ANCHOR_NEEDS))
def _week_of(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'the week of october 6th': that week's Monday (a Sunday starts the next week)."""
    return _anchored(ctx, m, lambda a: a + timedelta(days=1) if a.weekday() == 6 else _monday(a))


@_pattern(
    rf"""\b(?:the\s+)?(?P<ord>{_ORD}|last)\s+(?P<what>{_WD}|day|week(?:end)?)\s+(?:of|in)\s+
    (?:(?P<mon>{_MONTH})(?:,?\s+(?P<y>(?:19|20)\d\d)\b)?|(?P<yy>(?:19|20)\d\d)\b)""",
    needs=("of|in", f"{_MONTH_NEEDS}|19|20"),
)
def _nth_of_period(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'first tuesday of october', 'last day of october 2015', 'first week of october 2014'."""
    if m.group("ord") == "last":
        n = -1
    else:
        n = _ordinal(m.group("ord")) or 0
    if not n or (m.group("yy") and m.group("what") != "week"):
        return None
    # "third last week of 2018": the ordinal counts from the end
    if re.search(r"\blast\s+week", m.group(0)) and m.group("ord") != "last":
        n = -n
    what = m.group("what").lower()
    if m.group("yy"):
        year = int(m.group("yy"))
        return _date_piece(ctx, m, _nth_week(date(year, 1, 1), date(year, 12, 31), n))
    month = _month(m.group("mon"))

    def make(y: int) -> date | None:
        first, last = date(y, month, 1), date(y, month, _days_in_month(y, month))
        if what == "day":
            return last if n == -1 else _safe_date(y, month, n)
        if what.startswith("week"):
            monday = _nth_week(first, last, n)
            if monday and what == "weekend":
                return monday + timedelta(days=5)
            return monday
        return _nth_weekday(y, month, _weekday(what), n)

    return _date_piece(ctx, m, _first_future(ctx, make, m.group("y")))


# "second last week of ..." needs the ordinal before "last": rewrite as its own pattern.
@_pattern(
    rf"""\b(?:the\s+)?(?P<ord>{_ORD})\s+last\s+(?P<what>week|day)\s+(?:of|in)\s+
    (?:(?P<mon>{_MONTH})(?:,?\s+(?P<y>(?:19|20)\d\d)\b)?|(?P<yy>(?:19|20)\d\d)\b)""",
    needs=("last", "of|in", f"{_MONTH_NEEDS}|19|20"),
)
def _nth_last_week(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'third last week of 2018', 'the 5th last day of May'."""
    n = _ordinal(m.group("ord"))
    if not n:
        return None
    if m.group("what") == "day":
        if m.group("yy"):
            return None
        mon = _month(m.group("mon"))
        return _date_piece(ctx, m, _first_future(ctx, lambda y: date(
            y, mon, _days_in_month(y, mon)) - timedelta(days=n - 1), m.group("y")))
    if m.group("yy"):
        y = int(m.group("yy"))
        return _date_piece(ctx, m, _nth_week(date(y, 1, 1), date(y, 12, 31), -n))
    month = _month(m.group("mon"))

    def make(y: int) -> date | None:
        return _nth_week(date(y, month, 1), date(y, month, _days_in_month(y, month)), -n)

    return _date_piece(ctx, m, _first_future(ctx, make, m.group("y")))


def _nth_week(first: date, last: date, n: int) -> date | None:
    """Monday of the n-th (or n-th last) Monday-to-Sunday week lying wholly in [first, last]."""
    start = first + timedelta(days=(7 - first.weekday()) % 7)
    mondays = []
    d = start
    while d + timedelta(days=6) <= last:
        mondays.append(d)
        d += timedelta(weeks=1)
    idx = n - 1 if n > 0 else n
    return mondays[idx] if -len(mondays) <= idx < len(mondays) else None


# ---- weeks, weekends, months ------------------------------------------------------------------


@_pattern(
    r"""\b(?:(?P<edge>early|end\s+of|eo|late|later|mid|middle\s+of)\s+)?(?:the\s+)?
    (?P<which>next|following|upcoming|coming|this|current)\s+
    (?P<what>week(?:[\s-]?end)?|wk(?:nd|end)?|month)\b
    |\b(?P<eo>eow|eom|end\s+of\s+(?:the\s+)?(?:week|wk|month))\b""",
    needs=("next|following|coming|this|current|eow|eom|end", "week|wk|month|eow|eom"),
)
def _week_piece(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'next week' (Monday 10:00), 'this weekend' (Saturday), 'end of the week' (Fri 17:00),
    'next month' (the 1st), 'end of the month' (its last day, 17:00)."""
    today = ctx.today
    g = m.group(0)
    if m.group("eo"):
        which, what, edge = "this", ("month" if "m" in g.split()[-1][-1:] or "month" in g
                                     else "week"), "end of"
    else:
        which, what = m.group("which"), m.group("what").replace(" ", "").replace("-", "")
        edge = re.sub(r"\s+", " ", m.group("edge") or "")
    nxt = which in ("next", "following", "upcoming", "coming")
    if what.startswith("month"):
        first = _add_months(date(today.year, today.month, 1), 1 if nxt else 0)
        if edge in ("end of", "eo", "late"):
            last = date(first.year, first.month, _days_in_month(first.year, first.month))
            return _Piece(m.start(), m.end(), date=last, pod="eod")
        if not nxt:
            return None  # "this month": not a moment
        return _date_piece(ctx, m, first)
    monday = _monday(today) + timedelta(weeks=1 if nxt else 0)
    if what.startswith(("weekend", "wknd", "wkend")):
        sat = monday + timedelta(days=5)
        if not nxt and sat < today:
            sat = today  # Sunday: "this weekend" is today
        return _date_piece(ctx, m, sat)
    if edge in ("end of", "eo", "late", "later"):
        friday = monday + timedelta(days=4)
        if not nxt and today > friday:
            friday += timedelta(weeks=1)
        return _Piece(m.start(), m.end(), date=friday, pod="eod")
    if edge in ("mid", "middle of"):
        return _date_piece(ctx, m, monday + timedelta(days=2))
    if not nxt:
        return None  # "this week": not a moment
    return _date_piece(ctx, m, monday)


# ---- parts of day -------------------------------------------------------------------------


@_pattern(
    r"""\b(?P<mod>this|tonight'?s|in\s+the|early|early\s+in\s+the|late|first\s+thing(?:\s+in\s+the)?)?
    \s*(?P<pod>mornings?|morn|afternoon|aftn|aft|arvo|evening|night|nite)(?:ish)?\b
    |\bin\s+the\s+(?P<ap>[ap])\.?\s?m\b\.?
    |\b(?P<solo>tonight|tonite|2nite|noon|midday|mid\s+day|midnight|lunch(?:\s*time)?|eod|cob
      |(?:the\s+)?end\s+of\s+(?:the\s+)?(?:business\s+)?day|close\s+of\s+business|first\s+thing)\b""",
    needs=("morn|aft|arvo|evening|night|nite|the|noon|mid|lunch|eod|cob|end|close|first",),
)
def _pod_piece(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """morning / afternoon / evening / tonight / noon / EOD (+ 'this', 'in the', 'early')."""
    if m.group("ap"):  # "3 in the AM"
        return _Piece(m.start(), m.end(), pod="morning" if m.group("ap") == "a" else "afternoon")
    if m.group("solo"):
        w = re.sub(r"\s+", " ", m.group("solo"))
        if w in ("tonight", "tonite", "2nite"):
            return _Piece(m.start(), m.end(), pod="tonight", pod_today=True)
        if w in ("noon", "midday", "mid day"):
            return _Piece(m.start(), m.end(), time=(12, 0, 0))
        if w == "midnight":
            return _Piece(m.start(), m.end(), time=(0, 0, 0))
        if w.startswith("lunch"):
            # "at lunch" is a time; "lunch with Hannah" is the meeting itself
            if _prev_word(ctx, m.start()) not in ("at", "by", "around", "after", "before",
                                                  "until", "till", "over", "during", "@"):
                return None
            return _Piece(m.start(), m.end(), pod="lunch", strength=WEAK)
        if w == "first thing":
            return _Piece(m.start(), m.end(), pod="morning", strength=WEAK)
        return _Piece(m.start(), m.end(), pod="eod")
    mod = re.sub(r"\s+", " ", (m.group("mod") or "").strip())
    pod = {"nite": "night", "mornings": "morning", "morn": "morning", "aft": "afternoon",
           "aftn": "afternoon", "arvo": "afternoon"}.get(m.group("pod"), m.group("pod"))
    if pod == "mornings" or m.group("pod") == "mornings":
        return None
    if pod == "morning" and mod.startswith("early"):
        pod = "early morning"
    this = mod == "this" or mod.startswith("tonight")
    if not mod or mod == "late":
        # "morning" alone ("good morning") counts only next to a date or time.
        return _Piece(m.start(), m.end(), pod=pod, strength=WEAK)
    return _Piece(m.start(), m.end(), pod=pod, pod_today=this)


# ---- clock times --------------------------------------------------------------------------


def _hour_value(word: str) -> int | None:
    n = _num(word)
    return int(n) if n is not None and n == int(n) else None


def _clock(h: int, mi: int, s: int, ap: str | None) -> tuple[tuple[int, int, int], bool] | None:
    """Apply am/pm; None when out of range. Returns ((h, m, s), ampm_known)."""
    if mi > 59 or s > 59:
        return None
    if ap:
        if not 1 <= h <= 12:
            return None
        pm = ap.lstrip()[0] == "p"
        h = (h % 12) + (12 if pm else 0)
        return (h, mi, s), True
    if h > 23:
        return None
    return (h, mi, s), False


def _time_piece(m: re.Match, ctx: _Ctx, h: int | None, mi: int, s: int = 0,
                ap: str | None = None, strength: int = STRONG,
                twenty_four: bool = False) -> _Piece | None:
    if h is None:
        return None
    res = _clock(h, mi, s, ap)
    if res is None:
        return None
    hms, known = res
    if twenty_four or hms[0] == 0 or hms[0] > 12:
        known = True
    return _Piece(m.start(), m.end(), time=hms, ampm_known=known, strength=strength)


@_pattern(rf"(?<![\d:.$])(?P<h>\d{{1,2}}):(?P<m>\d\d)(?::(?P<s>\d\d))?(?![\d:])\s*(?P<ap>{_AMPM})?",
          needs=(r"\d", ":"))
def _colon_time(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'3:15pm', '15:30', '15:23:24', '07:00 PM', '3:15p'."""
    h = int(m.group("h"))
    piece = _time_piece(m, ctx, h, int(m.group("m")), int(m.group("s") or 0), m.group("ap"),
                        twenty_four=m.group("h").startswith("0") and not m.group("ap"))
    return piece


@_pattern(
    rf"""(?<![\d.$,:/])(?P<h>\d{{1,2}}|{_HOUR_WORD})(?:[\s-]?ish)?
    (?:\s*o'?\s?clock)?\s*(?:ish\s*)?(?P<ap>{_AMPM})""",
    needs=(_HOUR_NEEDS,),
)
def _hour_ampm(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'3pm', '3 p.m.', '3ish pm', '3 oclock pm', 'ten a m'."""
    return _time_piece(m, ctx, _hour_value(m.group("h")), 0, 0, m.group("ap"))


@_pattern(
    rf"""(?<![\d.$,:/])(?P<h>\d{{1,2}}|{_HOUR_WORD})\s*o'?\s?clock\b
    |(?<![\d.$,:/-])(?P<h2>\d{{1,2}})h(?P<m2>\d\d)?(?![\w])""",
    needs=(r"\d|clock",),
)
def _oclock_or_h(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'3 o'clock' (bare-hour rule), '15h00', '3h18', '15h' (24-hour clock)."""
    if m.group("h"):
        return _time_piece(m, ctx, _hour_value(m.group("h")), 0)
    strong = m.group("m2") or int(m.group("h2")) > 12 or _lead_in_strong(ctx, m.start())
    strength = STRONG if strong else WEAK
    return _time_piece(m, ctx, int(m.group("h2")), int(m.group("m2") or 0), strength=strength,
                       twenty_four=True)


@_pattern(rf"(?<![\d.$,:/-])(?P<hm>\d{{3,4}})(?![\d.,/:-])\s*(?P<ap>{_AMPM})?",
          needs=(r"\d",))
def _compact_time(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'1030', '730 in the evening', '330 p.m.': only with am/pm or after 'at/around'."""
    if not m.group("ap") and not _lead_in_strong(ctx, m.start()):
        return None
    hm = m.group("hm")
    if not m.group("ap"):
        if _looks_like_quantity(ctx, m.end()):
            return None
        # "at 450" is more likely a price than 4:50: without am/pm, only round-ish times
        # ("at 730", "around 1030") or ones followed by a part of day / "ish".
        followed = re.match(r"\s*(?:ish|in\s+the|tonight|this|tomorrow)\b", ctx.low[m.end():])
        if len(hm) == 3 and hm[-2:] not in ("00", "15", "30", "45") and not followed:
            return None
    return _time_piece(m, ctx, int(hm[:-2]), int(hm[-2:]), 0, m.group("ap"))


@_pattern(
    rf"""(?<![\d.$,:/])(?P<h>\d{{1,2}}|{_HOUR_WORD})
    (?:[\s-]+(?P<m>[0-5]\d|oh[\s-]?\w+|{_NUM_WORD}))?(?![\d/:.-]\d)
    (?:[\s-]?ish)?(?:\s*(?P<ap>{_AMPM}))?""",
    needs=(_HOUR_NEEDS,),
)
def _bare_time(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'at 3', 'at 3 15', 'nine fifty nine a m', 'eight tonight': a number that is a time only
    with am/pm, after 'at/around/by', or next to a part of day ('8 tonight')."""
    h = _hour_value(m.group("h"))
    mi = 0
    if m.group("m"):
        mw = m.group("m")
        if mw.startswith("oh"):
            v = _num(re.sub(r"^oh[\s-]?", "", mw))
        else:
            v = _num(mw)
        if v is None or v != int(v) or v > 59 or (not mw.startswith("oh") and not mw[0].isdigit()
                                                   and v < 10):
            return None
        mi = int(v)
    if h is None or h > 24:
        return None
    if m.group("ap"):
        return _time_piece(m, ctx, h, mi, 0, m.group("ap"))
    if _looks_like_quantity(ctx, m.end()):
        return None
    strength = STRONG if _lead_in_strong(ctx, m.start()) else NEEDS_POD
    if m.group("m") and strength != STRONG:
        return None  # "3 30" without "at": a range or a score
    return _time_piece(m, ctx, h, mi, strength=strength)


@_pattern(
    rf"""\b(?:(?P<mm>half|(?:a\s+)?quarter|\d{{1,2}}|{_NUM_WORD})(?:\s+min(?:ute)?s?)?\s+
    (?P<dir>past|after|to|till|til|before|of|from)\s+
    |half\s+(?=\d|{_HOUR_WORD}))
    (?P<h>\d{{1,2}}|{_HOUR_WORD}|noon|midnight)(?:\s*(?P<ap>{_AMPM}))?""",
    needs=("past|after|to|til|before|of|from|half", f"{_HOUR_NEEDS}|noon|midnight"),
)
def _relative_clock(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'half past three', 'a quarter to noon', '20 minutes to 2pm', 'twenty after 3pm', and the
    British 'half three' (3:30)."""
    hw = m.group("h")
    ap = m.group("ap")
    if hw in ("noon", "midnight"):
        h, ap = (12, "pm") if hw == "noon" else (12, "am")
    else:
        h = _hour_value(hw)
    if h is None or not 0 <= h <= 23:
        return None
    mmw = m.group("mm")
    if mmw is None:  # "half three"
        base, delta = h, 30
        sign = 1
    else:
        v = _num(mmw) if "quarter" not in mmw else 0.25
        if v is None:
            return None
        delta = 30 if mmw == "half" else 15 if "quarter" in mmw else int(v)
        if delta >= 60:
            return None
        sign = 1 if m.group("dir") in ("past", "after") else -1
        base = h
        is_word_or_minutes = not mmw[0].isdigit() or "min" in m.group(0)
        if not ap and hw not in ("noon", "midnight") and not is_word_or_minutes:
            return None  # "15 to 20": a range, not "quarter to"
        if m.group("dir") == "of" and "quarter" not in mmw:
            return None
        if m.group("dir") == "from" and not (ap or hw in ("noon", "midnight")):
            return None  # "5 minutes from 3" is too loose; "15 minutes from 1pm" is fine
        if m.group("dir") == "from":
            sign = 1
    res = _clock(base, 0, 0, ap)
    if res is None:
        return None
    (bh, _, _), known = res
    total = (bh * 60 + sign * delta) % (24 * 60)
    hh, mi = divmod(total, 60)
    known = known or hw in ("noon", "midnight")
    if not known and bh <= 12 and sign < 0 and bh > 0:
        # "quarter to 3": the bare-hour rule applies to the hour said (2:45 pm), not to 2:45.
        hh, mi = divmod((bh * 60 - delta), 60)
        piece = _Piece(m.start(), m.end(), time=(hh, mi, 0), ampm_known=False)
        piece.pm_hint = bh
        return piece
    return _Piece(m.start(), m.end(), time=(hh, mi, 0), ampm_known=known or hh == 0 or hh > 12)


@_pattern(
    r"""\b(?P<tz>gmt|utc|bst|cest|cet|eest|eet|ist|jst|aest|aedt|akst|hst
    |est|edt|cst|cdt|mst|mdt|pst|pdt)\b(?:\s*(?P<sign>[+-])\s*(?P<off>\d{1,2})(?::?(?P<om>\d\d))?)?""",
    needs=("gmt|utc|bst|cest|cet|eest|eet|ist|jst|aest|aedt|akst|hst|est|edt|cst|cdt|mst|mdt|pst|pdt",),
)
def _tz_piece(m: re.Match, ctx: _Ctx) -> _Piece | None:
    """'8:00 GMT', '9 am BST', '8 PST': converted from that zone into the agent's."""
    hours = _TZ_HOURS[m.group("tz")]
    off = timedelta(hours=hours)
    if m.group("sign"):
        extra = timedelta(hours=int(m.group("off")), minutes=int(m.group("om") or 0))
        off += extra if m.group("sign") == "+" else -extra
    return _Piece(m.start(), m.end(), tz=off, strength=NEEDS_POD)


# ---------------------------------------------------------------------------------------------
# Scanning and merging
# ---------------------------------------------------------------------------------------------

# Cheap pre-screen: a message with none of these cannot hold a time expression. The screen
# is these words (any case) or a match of _SCREEN_REST; see `_may_hold_time`.
_SCREEN_WORDS = (
    "tom|tmr|tmw|2mo|2nite|today|tday|tonight|tonite|yesterday|yday|mon|tue|wed|thu"
    "|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|morning|afternoon|evening"
    "|night|noon|midday|mid day|lunch|eod|cob|end of|week|wk|month|year|hour|minute|sec|day"
    "|christmas|xmas|easter|halloween|thanksgiving|valentine|juneteenth|patrick|mayo|memorial"
    "|labor|labour|mlk|luther|mother|father|independence|boxing|veteran|columbus|fortnight"
    "|first|second|third|fifth|ninth|twelfth|twentieth|thirtieth"
    "|half|quarter|oclock|o'clock|later|first thing"
).split("|")
_SCREEN_REST = r"\d|[a-z]th\b|[ap]\.?\s?m\b|\b(?:at|by|around|about)\s+\w"
_SCREEN = re.compile("|".join(map(re.escape, _SCREEN_WORDS)) + "|" + _SCREEN_REST, re.I)
_SCREEN_PIECES = fewest_pieces(_SCREEN_WORDS)
_SCREEN_REST_LOW = re.compile(_SCREEN_REST)
# What may separate two pieces of one expression: "Saturday morning at 9", "on Fri, Sep 20".
_JOINER = re.compile(r"(?:\s|,|\bat\b|@|\bon\b|\bfor\b|\bof\b|\bthe\b|\bin\b|\bby\b|-)*")
# A lead-in preposition that belongs to the expression's span.
_LEAD_IN = re.compile(
    r"(?:\b(?:on|at|by|for|around|about|approx(?:imately|\.)?|before|until|till|from|due"
    r"|sometime|some\s+time|no\s+later\s+than|starting|this\s+coming)\s+|@\s*)+$"
)
_TRAIL = re.compile(r"\s*(?:approximately|approx\.?|or\s+so|ish|sharp|-?ish)\b")


def _scan(ctx: _Ctx) -> list[_Piece]:
    """All non-overlapping pieces, the longest at each position winning."""
    found: list[_Piece] = []
    low = ctx.low
    has_digit = _DIGIT.search(low) is not None
    for regex, handler, needs in _PATTERNS:
        if not may_match(needs, low, has_digit):
            continue  # the regex cannot match (see `_pattern`)
        for m in regex.finditer(low):
            if m.end() == m.start():
                continue
            try:
                piece = handler(m, ctx)
            except (ValueError, OverflowError):  # "in 9999 years", "12/31/9999"...
                piece = None
            if piece is not None:
                while piece.end > piece.start and ctx.low[piece.end - 1].isspace():
                    piece.end -= 1  # optional trailing groups may have eaten a space
                found.append(piece)
    chosen: list[_Piece] = []
    # Prefer longer pieces: pick greedily by length, then keep them in text order (pieces of
    # one length and start stay in pattern order: the sort is stable).
    for p in sorted(found, key=lambda p: (-(p.end - p.start), p.start)):
        if all(p.end <= q.start or p.start >= q.end for q in chosen):
            chosen.append(p)
    chosen.sort(key=lambda p: p.start)
    return chosen


def _clusters(ctx: _Ctx, pieces: list[_Piece]) -> list[list[_Piece]]:
    """Group pieces that touch (only joiner words between them) and fill different slots."""
    groups: list[list[_Piece]] = []
    for p in pieces:
        if groups:
            last = groups[-1]
            gap = ctx.low[last[-1].end:p.start]
            used = set().union(*(q.slots() for q in last))
            if (len(gap) <= 12 and _JOINER.fullmatch(gap) and not (used & p.slots())):
                last.append(p)
                continue
        groups.append([p])
    return groups


def _valid(group: list[_Piece]) -> list[_Piece]:
    """Drop pieces too weak to count in their group ('morning' alone, a bare '8')."""
    has_strong = any(p.strength == STRONG for p in group)
    has_pod = any(p.pod is not None or p.tz is not None for p in group)
    out = []
    for i, p in enumerate(group):
        if p.strength == WEAK and not has_strong:
            continue
        if p.strength == NEEDS_POD:
            # a bare number needs a part of day or zone right after it ("8 tonight", "8h GMT"),
            # or a date right before it for an 'Nh' time
            nxt = group[i + 1] if i + 1 < len(group) else None
            if p.tz is not None and any(q.time is not None for q in group):
                out.append(p)
                continue
            if nxt is None or not (nxt.pod is not None or nxt.tz is not None or (
                    nxt.date is not None and has_pod)):
                continue
        out.append(p)
    # a group must stay contiguous: trim leading/trailing drops only
    if len(out) != len(group):
        keep = {id(p) for p in out}
        while group and id(group[0]) not in keep:
            group = group[1:]
        while group and id(group[-1]) not in keep:
            group = group[:-1]
        if any(id(p) not in keep for p in group):
            return [p for p in group if id(p) in keep][:1] if out else []
    return group if out else []


@dataclass
class _Resolved:
    due: datetime
    in_past: bool
    has_time: bool
    pieces: list[_Piece] = field(default_factory=list)


def _resolve(group: list[_Piece], ctx: _Ctx) -> _Resolved | None:
    now, tz = ctx.now, ctx.now.tzinfo
    merged = _Piece(group[0].start, group[-1].end)
    for p in group:
        for name in ("date", "time", "pod", "tz", "instant", "special"):
            if getattr(p, name) is not None and getattr(merged, name) is None:
                setattr(merged, name, getattr(p, name))
        merged.date_is_today |= p.date_is_today
        merged.pod_today |= p.pod_today
        if p.time is not None:
            merged.ampm_known = p.ampm_known
            if hasattr(p, "pm_hint"):
                merged.pm_hint = p.pm_hint
    if merged.special == "later today":
        return _Resolved(_later_today(now), False, True, group)
    if merged.instant is not None:
        return _Resolved(merged.instant, merged.instant <= now, True, group)

    day = merged.date
    has_time = merged.time is not None or merged.pod is not None
    extra_days = 0
    if merged.time is not None:
        h, mi, s = merged.time
        if not merged.ampm_known:
            h, extra_days = _disambiguate(h, merged.pod, getattr(merged, "pm_hint", None))
    elif merged.pod is not None:
        (h, mi), s = _POD_TIME[merged.pod], 0
    else:
        h, mi, s = DEFAULT_HOUR, 0, 0

    zone = timezone(merged.tz) if merged.tz is not None else tz

    def build(d: date) -> datetime:
        return _wall(d + timedelta(days=extra_days), h, mi, s, zone).astimezone(tz)

    if day is None:
        if merged.pod_today and merged.time is None:
            due = build(ctx.today)
            if due <= now and merged.pod == "tonight":
                due = _later_tonight(now) or due  # "tonight" at 20:15: 21:00, not the past
        else:
            due = build(ctx.today)
            if due <= now and not (merged.pod_today and extra_days == 0):
                due = build(ctx.today + timedelta(days=1))
        return _Resolved(due, due <= now, has_time, group)
    due = build(day)
    if day == ctx.today and not has_time and due <= now:
        due = _later_today(now)  # "today" after 10:00: later today, not the past
    return _Resolved(due, due <= now, has_time, group)


def _disambiguate(h: int, pod: str | None, pm_hint: int | None) -> tuple[int, int]:
    """An hour said without am/pm -> (24-hour hour, days to add). A part of day decides;
    otherwise the spec's bare-hour rule: 1-6 pm, 7-11 am, 12 noon."""
    hour_said = pm_hint if pm_hint is not None else h
    if pod in ("morning", "early morning"):
        return (0, 1) if h == 12 else (h, 0)
    if pod in ("evening", "night", "tonight") and h == 12:
        return 0, 1
    if pod in _POD_PM:
        return (h + 12 if h < 12 else h), 0
    if 1 <= hour_said <= 6:
        return h + 12, 0
    return h, 0


def _later_today(now: datetime) -> datetime:
    """'later today': 17:00 before 14:00, else two hours on, rounded up to the half hour."""
    if now.hour < 14:
        return _wall(now.date(), 17, 0, 0, now.tzinfo)
    t = now.astimezone(_UTC) + timedelta(hours=2)
    t = t.replace(second=0, microsecond=0)
    t += timedelta(minutes=(-t.minute) % 30)
    return t.astimezone(now.tzinfo)


def _later_tonight(now: datetime) -> datetime | None:
    """"tonight" once 19:00 has passed: the next full hour, if it is still before midnight."""
    t = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)  # wall clock
    return t if t.date() == now.date() else None


def _may_hold_time(text: str) -> bool:
    """`_SCREEN.search(text)`, as a bool, in a few us rather than ~15-40 (an IGNORECASE search
    for ~90 words tries each of them at every character).

    For ASCII text, IGNORECASE is plain ASCII case folding, so a word of the screen is in the
    text exactly when it is in text.lower(), and the rest of the screen matches text.lower()
    without IGNORECASE exactly when it matches the text with it. Other text runs the regex:
    IGNORECASE also folds a few non-ASCII letters into ASCII ones ("ſ" into "s").
    """
    if not text.isascii():
        return _SCREEN.search(text) is not None
    low = text.lower()
    for piece in _SCREEN_PIECES:
        if piece in low:
            return True
    return _SCREEN_REST_LOW.search(low) is not None


def _lowercase(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _span(ctx: _Ctx, group: list[_Piece]) -> tuple[int, int]:
    start, end = group[0].start, group[-1].end
    lead = _LEAD_IN.search(ctx.low[max(0, start - 40):start])
    if lead:
        start -= len(lead.group(0))
    trail = _TRAIL.match(ctx.low, end)
    if trail:
        end = trail.end()
    return start, end


# Words between a day and a time that still belong to one request ("lunch tomorrow with
# Hannah Becker at noon"); a subject, a clause joiner or punctuation starts something else.
_SPLIT_GAP = re.compile(r"[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,4}")
_SPLIT_STOP = frozenset("and then but or also i we he she they it you so because if when".split())


def _split_moment(ctx: _Ctx, a: list[_Piece], b: list[_Piece]) -> bool:
    """Are two groups a day and a time of one moment, said apart ("friday with Lisa at 9")?"""
    gap = ctx.low[a[-1].end:b[0].start].strip()
    if not _SPLIT_GAP.fullmatch(gap) or _SPLIT_STOP & set(gap.split()):
        return False

    def has(group: list[_Piece], *names: str) -> bool:
        return any(getattr(p, n) is not None for p in group for n in names)

    if has(a, "instant", "special") or has(b, "instant", "special"):
        return False
    day_a, day_b = has(a, "date"), has(b, "date")
    time_a, time_b = has(a, "time", "pod"), has(b, "time", "pod")
    return (day_a and not time_a and time_b and not day_b) or (
        day_b and not time_b and time_a and not day_a)


def find_when(text: str, now: datetime, *, month_first: bool = True) -> WhenMatch | None:
    """Locate the (single, longest sensible) time expression in a free-text message such as
    'remind me to send the contract tomorrow morning' or 'Book a viewing with Dana Cole Tuesday
    afternoon' and resolve it. None when there is no time expression. `now` is aware (ZoneInfo).

    When several expressions are found ("called her yesterday, remind me Friday"), one still
    ahead wins over one in the past, then the one with more parts, then the longest."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not text or not _may_hold_time(text):
        return None
    ctx = _Ctx(text, _lowercase(text), now, now.date(), month_first)
    best: tuple | None = None
    groups = [g for g in (_valid(g) for g in _clusters(ctx, _scan(ctx))) if g]
    candidates: list[tuple[list[_Piece], list[_Piece] | None]] = [(g, None) for g in groups]
    for a, b in zip(groups, groups[1:], strict=False):
        if _split_moment(ctx, a, b):
            candidates.append((a + b, b))
    for group, second in candidates:
        try:
            res = _resolve(group, ctx)
        except (ValueError, OverflowError):  # beyond the calendar's range
            continue
        if res is None:
            continue
        first = group[:len(group) - len(second)] if second else group
        start, end = _span(ctx, first)
        also = _span(ctx, second) if second else None
        key = (not res.in_past, len(group), end - start + (also[1] - also[0] if also else 0))
        if best is None or key > best[0]:
            best = (key, start, end, res, also)
    if best is None:
        return None
    _, start, end, res, also = best
    return WhenMatch(
        start=start,
        end=end,
        text=text[start:end],
        due_at=None if res.in_past else res.due,
        also=also,
        in_past=res.in_past,
        has_time=res.has_time,
    )


_BARE_DURATION = re.compile(rf"\s*(?:{_QTY})\s*(?:more\s+)?{_TIME_UNIT}\s*", re.I)


def resolve_when(phrase: str, now: datetime, *, month_first: bool = True) -> WhenMatch | None:
    """The same for a text that is only a time phrase (e.g. a SNOOZE argument 'tomorrow', '1h',
    'in 2 hours'). A bare duration ('1h', '30 min') means from now. As a last resort, and only
    here where the whole text is known to be a time, dateparser gets a try."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if _BARE_DURATION.fullmatch(phrase):
        found = find_when("in " + phrase.strip(), now, month_first=month_first)
        if found is not None:
            lead = len(phrase) - len(phrase.lstrip())
            return replace(found, start=lead, end=lead + len(phrase.strip()),
                           text=phrase.strip())
    found = find_when(phrase, now, month_first=month_first)
    if found is not None or not phrase.strip():
        return found
    return _dateparser_fallback(phrase, now, month_first)


def _dateparser_fallback(phrase: str, now: datetime, month_first: bool) -> WhenMatch | None:
    try:
        import dateparser
    except ImportError:  # pragma: no cover - dateparser is a dependency
        return None
    settings = {
        "RELATIVE_BASE": now.replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "DATE_ORDER": "MDY" if month_first else "DMY",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PARSERS": ["relative-time", "absolute-time", "custom-formats"],
    }
    try:
        parsed = dateparser.parse(phrase, languages=["en"], settings=settings)
    except Exception:  # dateparser raises a variety of errors on odd input
        return None
    if parsed is None:
        return None
    has_time = parsed.time() != time(0, 0) and parsed.time() != now.time().replace(tzinfo=None)
    hour, minute = (parsed.hour, parsed.minute) if has_time else (DEFAULT_HOUR, 0)
    due = _wall(parsed.date(), hour, minute, 0, now.tzinfo)
    past = due <= now
    stripped = phrase.strip()
    lead = len(phrase) - len(phrase.lstrip())
    return WhenMatch(lead, lead + len(stripped), stripped, None if past else due, past, has_time)
