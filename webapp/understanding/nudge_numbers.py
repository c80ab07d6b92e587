"""A nudge's number standing for its lead: "2 is lost", "remind me about 2 tomorrow".

The morning agenda numbers its suggestions (`crm.nudges`); later that day the agent may answer
with the number where a name would go. Such a number is written out as the lead's name before
the message is parsed, so every command works on it as if the name had been typed, and the
reply names the lead (the agent sees who "2" was before saying YES).

A number counts only in a lead's place: at the start before "is"/"was"/"'s" or a colon, or after
a verb or preposition that takes a person ("call 2", "about 2", "mark 2 as lost"), and only when
what follows cannot be a count or a time ("call 2 clients", "about 2pm", "at 2" stay as said).
DONE 2 and SNOOZE 2 answer reminders and are read before this (they are not lead places).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NUMBER = r"(?:#\s?|number\s+|no\.\s?)?(?P<n>[1-9]|one|two|three)"
_WORDS = {"one": 1, "two": 2, "three": 3}
_PERSON_BEFORE = (r"about|with|for|mark|marked|move|set|update|call|called|ring|text|texted|"
                  r"email|emailed|met|meet|log|put|make|ping|pinged|contact|contacted|reach out to|"
                  r"reached out to|follow up with|followed up with|brief me on|draft an email to|"
                  r"draft|write|tell me about|what about|how about|what's|whats|what is|how's|hows|"
                  r"how is")
_LEAD_AFTER = (r"(?=\s*(?:$|[,.;:!?]|'s\b|(?:is|was|as|to|tomorrow|today|tonight|at|on|in|"
               r"next|this|and|back|about|for|a|an|again|now|asap|later|went|said|wants|"
               r"needs|no|not|left|isn't|wasn't)\b))")
_AT_START = re.compile(rf"^\s*{_NUMBER}(?=\s*(?:'s\b|:|\s(?:is|was|isn't|wasn't)\b))",
                       re.IGNORECASE)
_IN_PLACE = re.compile(rf"\b(?:{_PERSON_BEFORE})\s+{_NUMBER}(?![\w:]){_LEAD_AFTER}",
                       re.IGNORECASE)
_ANY_NUMBER = re.compile(r"\b(?:[1-9]|one|two|three)\b", re.IGNORECASE)


def may_name_a_nudge(text: str) -> bool:
    """Cheap first look: whether `text` has a number in a lead's place at all (before any
    database read for the agent's nudges)."""
    return bool(_ANY_NUMBER.search(text)) and bool(
        _AT_START.search(text) or _IN_PLACE.search(text))


def with_names(text: str, names: Mapping[int, str]) -> str:
    """`text` with each nudge number in a lead's place replaced by that lead's name; numbers
    that are not among `names` are left as said."""
    spans: list[tuple[int, int, str]] = []
    for pattern in (_AT_START, _IN_PLACE):
        for found in pattern.finditer(text):
            said = found.group("n").lower()
            number = _WORDS.get(said) or int(said)
            if number in names:
                start = found.start("n")
                prefix = re.search(r"(?:#\s?|number\s+|no\.\s?)$", text[found.start():start],
                                   re.IGNORECASE)
                if prefix is not None:
                    start = found.start() + prefix.start()
                spans.append((start, found.end("n"), names[number]))
    for start, end, name in sorted(set(spans), reverse=True):
        text = text[:start] + name + text[end:]
    return text
