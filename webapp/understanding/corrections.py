"""A correction to the plan waiting for YES: "no I meant Friday at 11", "make it 4pm instead".

Said right after a plan is shown, such a message changes that plan (which is shown again) rather
than starting a new one. This module only reads the correction: a new time, or a new status.
What it changes is the conversation's business (it holds the plan).

The time keeps what is not said, as a reschedule does: a time alone keeps the plan's day ("make
it 4pm" for tomorrow 10:00 is tomorrow 16:00), a day alone keeps its time of day ("no, Friday"
for tomorrow 10:00 is Friday 10:00); a day and a time are exactly that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from webapp.understanding.normalize import normalize, safe_lower
from webapp.understanding.statuses import canonical_status
from webapp.understanding.when import WhenMatch, find_when

# "no I meant X", "sorry, make it X", "actually X instead", "change that to X", "X instead"
_CORRECTION = re.compile(
    r"^(?:(?:no+|nope|nah|sorry|oops|wait|actually|correction|my bad|err|um|oh)\b[\s,.!:-]*)*"
    r"(?:(?:i\s+)?meant(?:\s+to\s+say)?|i\s+mean|make\s+(?:it|that|this)|"
    r"change\s+(?:it|that|this)(?:\s+to)?|(?:it|that)\s+should\s+be|should\s+be|"
    r"(?:move|set|put)\s+(?:it|that)\s+(?:to|for|at)|(?:it'?s|that'?s)\s+)"
    r"\s*(?P<value>.+?)(?:\s+instead)?[\s.!]*$"
    r"|^(?:(?:no+|sorry|oops|actually)\b[\s,.!:-]*)*(?P<instead>.+?)\s+instead[\s.!]*$")
_MAY_CORRECT = re.compile(r"meant|\bmean\b|\bmake\b|instead|\bchange\b|should be|"
                          r"\b(?:set|move|put)\s|\b(?:it|that)['\u2019]?s\b", re.IGNORECASE)
_DAY_WORDS = re.compile(
    r"\b(?:today|tonight|tomorrow|mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|"
    r"sep|oct|nov|dec|next|this|week|weekend|days?|weeks?|months?)|\d{1,2}/\d{1,2}|\d+(?:st|nd|rd|th)\b")


@dataclass(frozen=True)
class Correction:
    """What the agent says the waiting plan should have had instead."""

    when: WhenMatch | None = None
    said_day: bool = False  # the new time names a day (else it keeps the plan's day)
    said_time: bool = False  # ... names a time of day (else it keeps the plan's)
    status: str | None = None

    def due_for(self, old: datetime, now: datetime) -> datetime:
        """The new due time for a follow-up that was due at `old`."""
        assert self.when is not None and self.when.due_at is not None
        new = self.when.due_at.astimezone(old.tzinfo)
        if self.said_day and self.said_time:
            return new
        if self.said_time:  # keep the day
            return old.replace(hour=new.hour, minute=new.minute, second=0, microsecond=0)
        return new.replace(hour=old.hour, minute=old.minute, second=0, microsecond=0)


def match_correction(text: str, now: datetime, month_first: bool = True) -> Correction | None:
    """The correction `text` says, or None when it is not one (then it is a message of its own)."""
    if not _MAY_CORRECT.search(text or ""):
        return None  # most messages: no normalize() run for this
    low = safe_lower(normalize(text or "")).strip()
    m = _CORRECTION.match(low)
    if m is None:
        return None
    value = (m.group("value") or m.group("instead") or "").strip(" ,.!")
    if not value:
        return None
    status = canonical_status(value)
    if status is not None:
        return Correction(status=status)
    when = find_when(value, now, month_first=month_first)
    if when is None or value[:when.start].strip(" ,") or value[when.end:].strip(" ,.!"):
        return None  # more than a time: "make it a showing with Dana" is not a correction
    said_day = _DAY_WORDS.search(when.text) is not None
    return Correction(when=when, said_day=said_day, said_time=when.has_time or not said_day)
