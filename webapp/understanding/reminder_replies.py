"""Replies to a reminder text: DONE (it is finished) and SNOOZE (ask me again later).

A reminder reads "... Reply DONE, or SNOOZE 1h / SNOOZE tomorrow.", so the answer is a short
whole message: a completion word or a snooze word, an optional reminder number ("done 2",
"DONE #2", "snooze 2 until 3pm") and, for a snooze, an optional time. Like yes/no, these are
decided on the message as a whole: "done" inside "mark the Smith deal as done" is part of a
command, never a reply to a reminder.

This module only recognizes the shape and cuts out the number and the time words; the parser
resolves the time with the spec's rules (when.py), so "tomorrow" means tomorrow 10:00.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ReplyType = Literal["done", "snooze"]

_NUMBER = r"(?:#\s*|no\.?\s*|number\s+)?(?P<n>\d{1,2})"
_DONE = re.compile(
    r"^(?:(?:ok|okay|yes|yep|all|it's|its|it is|that's|thats|i'm|im|i am)\s+)*"
    r"(?:done|finished|complete|completed|did it|done it|handled|taken care of|sorted|"
    r"mark(?:ed)?\s+(?:it\s+)?(?:as\s+)?done|check(?:ed)?\s+(?:it\s+)?off)"
    rf"(?:\s+(?:with\s+)?{_NUMBER})?"
    r"(?:\s+(?:thanks|thank you|thx|now|already|too))*$"
)
# The snooze word, then an optional number, then the time (if any) as the rest of the message.
_SNOOZE = re.compile(
    r"^(?:(?:please|pls|ok|okay)\s+)*"
    r"(?:snooze|snoozed|remind me(?:\s+again|\s+later)?|ask me(?:\s+again|\s+later)|"
    r"ping me(?:\s+again|\s+later)?|try (?:me )?again|later)"
    rf"(?:\s+{_NUMBER}(?![\d:]|\s*(?:h|hr|hrs|hours?|m|mins?|minutes?|d|days?|w|wks?|weeks?|"
    r"am|pm|a\.m|p\.m)\b))?"
    r"(?P<rest>(?:\s+.*)?)$"
)
# After the snooze words, only time words may follow (else it is a command: "remind me to ...").
_NOT_A_TIME = re.compile(r"^\s*(?:to|that|about|of)\b")
_COMPACT_UNITS = (
    (re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:h|hr|hrs)\b"), r"\1 hours"),
    (re.compile(r"\b(\d+)\s*(?:m|min|mins)\b"), r"\1 minutes"),
    (re.compile(r"\b(\d+)\s*d\b"), r"\1 days"),
    (re.compile(r"\b(\d+)\s*(?:w|wk|wks)\b"), r"\1 weeks"),
)
_BARE_DURATION = re.compile(
    r"^(?:for\s+)?(?P<d>(?:\d+(?:\.\d+)?|an?|one|two|three|four|five|six|ten|fifteen|twenty|"
    r"thirty|forty five|ninety|half an?|a couple(?: of)?|a few)\s+(?:minutes?|hours?|days?|"
    r"weeks?))$"
)
_UNTIL = re.compile(r"^(?:until|till|til|to|for)\s+")
_FILLER_TAIL = re.compile(r"\s*(?:please|pls|thanks|thank you|thx|again|later)?[\s.!]*$")


@dataclass(frozen=True)
class ReminderReply:
    type: ReplyType
    number: int | None
    time_text: str  # the time as said, rewritten for when.py ("in 1 hours", "3pm"); "" = none
    explicit: bool = True  # said SNOOZE/DONE outright (vs "remind me ...", which may be a command)


def match_reminder_reply(low: str) -> ReminderReply | None:
    """DONE or SNOOZE, if this normalized, lowercased message is a reply to a reminder."""
    text = re.sub(r"\s+", " ", re.sub(r"[,;:]", " ", low)).strip(" .!")
    m = _DONE.match(text)
    if m:
        return ReminderReply("done", _int(m.group("n")), "")
    m = _SNOOZE.match(text)
    if m is None:
        return None
    rest = m.group("rest").strip()
    if _NOT_A_TIME.match(rest):
        return None
    explicit = text.startswith(("snooze", "please snooze", "pls snooze", "ok snooze"))
    return ReminderReply("snooze", _int(m.group("n")), _time_words(rest), explicit)


# Where a reply to a reminder may stop and the agent go on: "done, talked to him, all good".
_GOES_ON = re.compile(r"\s*(?:[,;:.!\n]+|\s[-\u2013\u2014]+)\s*|\s+(?:and|then|but)\s+")


def split_reminder_reply(low: str) -> tuple[ReminderReply, int] | None:
    """A reply to a reminder followed by more ("done, talked to him, all good", "snooze 1h -
    left her a voicemail"): the reply, and the offset in `low` where the rest starts. Only an
    outright DONE or SNOOZE leads ("later, remind me to call Dana" is a command)."""
    for m in _GOES_ON.finditer(low):
        if m.start() == 0:
            continue
        said = match_reminder_reply(low[:m.start()])
        if said is None or (said.type == "snooze" and not said.explicit):
            continue
        if not re.search(r"[^\W\d_]", low[m.end():]):
            return None
        return said, m.end()
    return None


def _time_words(rest: str) -> str:
    """'1h' -> 'in 1 hours', 'for 30 min' -> 'in 30 minutes', 'until 3pm' -> '3pm'."""
    rest = _FILLER_TAIL.sub("", rest).strip()
    for pattern, repl in _COMPACT_UNITS:
        rest = pattern.sub(repl, rest)
    m = _BARE_DURATION.match(rest)
    if m:
        return "in " + m.group("d")
    return _UNTIL.sub("", rest)


def _int(text: str | None) -> int | None:
    return int(text) if text else None
