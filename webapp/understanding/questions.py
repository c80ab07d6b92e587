"""Read-only questions: a lead's status, the agenda for a day, the leads in a status.

This module only recognizes the shape of the question and where its slots are; the parser
resolves the lead (mentions, clarify, unknown_lead) and the day (when.py), so questions get the
same name and date handling as commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from webapp.understanding.statuses import find_status

QueryType = Literal["lead_status", "agenda", "leads_by_status"]


@dataclass(frozen=True)
class QueryShape:
    type: QueryType
    slot: tuple[int, int] | None = None  # lead_status: where the lead is named; agenda: the day
    status: str | None = None  # leads_by_status (None: all leads)


_WH = r"(?:what(?:'s| is|s| was)|whats|wats|wat's)"
_LEAD_STATUS = tuple(
    re.compile(p)
    for p in (
        rf"^(?:{_WH}|check|get|show(?: me)?|tell me|give me|look ?up|find)\s+(?:the\s+)?"
        r"(?:current\s+|latest\s+)?(?:status|stage)\s+(?:of|for|on)\s+(?P<who>.+?)[\s?.!]*$",
        rf"^(?:{_WH}|check|get|show(?: me)?|tell me|give me|look ?up|find)\s+(?P<who>.+?)\s+"
        r"(?:current\s+|latest\s+)?(?:status|stage)(?:\s+now)?[\s?.!]*$",
        r"^(?:status|stage)\s*(?:of|for|on|:)?\s*(?P<who>.+?)[\s?.!]*$",
        r"^(?P<who>[^,;]+?)\s+(?:status|stage)[\s?.!]*$",
        # told back as a statement: "(tell me) what Grace Lee's status is"
        r"^what\s+(?P<who>.+?)\s+(?:current\s+|latest\s+)?(?:status|stage)\s+is(?:\s+now)?"
        r"[\s?.!]*$",
        r"^(?:what|which)\s+(?:status|stage)\s+(?:is|'s)\s+(?P<who>.+?)(?:\s+(?:in|at|now))?"
        r"[\s?.!]*$",
        r"^(?:where(?:'s| is|s| are we with| do we stand with| are things with|"
        r" (?:things|we|it) (?:stand|stands) (?:with|on))|wheres|"
        r"how(?:'s| is|s| are things with)|hows)\s+(?P<who>.+?)(?:\s+(?:at|doing|going|now))?"
        r"[\s?.!]*$",
        # "where does Dana stand", "where do we stand on Dana", "where is Dana at"
        r"^where\s+(?:do|does|did|is|are)\s+(?:we|things)?\s*(?:stand\s+)?(?:with\s+|on\s+)?"
        r"(?P<who>.+?)(?:\s+(?:stand|standing|sit|sitting|at|now|right now))*[\s?.!]*$",
        r"^(?:tell me about|update on|updates on|news on|latest on|info on|details on|"
        r"fill me in on|catch me up on|remind me about)\s+(?P<who>.+?)[\s?.!]*$",
        # "is Kevin still negotiating?": a yes/no question about the lead's status
        r"^(?:is|are)\s+(?P<who>.+?)\s+(?:still|now|already|currently)\s+(?:in\s+|a\s+|an\s+)?"
        r"[a-z][\w -]*\?*$",
    )
)
# "what's going on with Dana", "what's the latest on Dana", "any news on Dana" (before the
# agenda, which would read "what's going on ..." as a day's plans)
_LEAD_NEWS = re.compile(
    rf"^(?:{_WH}|any|anything)\s+(?:the\s+)?(?:latest|news|update|updates|new|happening|"
    r"going on)\s+(?:on|with|from)\s+(?P<who>.+?)[\s?.!]*$"
)
_AGENDA_WORDS = (
    r"(?:agenda|schedule|calendar|itinerary|plate|docket|tasks|reminders|follow ups|to ?dos?|"
    r"appointments|day|week)"
)
_AGENDA = tuple(
    re.compile(p)
    for p in (
        rf"^(?:my\s+|the\s+|today'?s\s+|tomorrow'?s\s+)?{_AGENDA_WORDS}(?P<day>.*?)[\s?.!]*$",
        rf"^(?:{_WH}|show(?: me)?|list|get|check|give me|read(?: me)?|send(?: me)?|see|view)\s+"
        rf"(?:on\s+)?(?:my\s+|the\s+)?(?:{_AGENDA_WORDS}|up|due|on|happening|going on|planned|"
        r"next|coming up)\b(?P<day>.*?)[\s?.!]*$",
        r"^(?:what|who)\s+(?:(?:do|should|shall|must|will)\s+)?i\s+"
        r"(?:have|need to (?:follow up with|"
        r"call|contact|see|do)|got|follow up with|call|contact|see|do|need to)\b(?P<day>.*?)"
        r"[\s?.!]*$",
        # "who's on my list to follow up with today"
        r"^(?:who|what)(?:'s| is|s)?\s+(?:due|up|next|on (?:my|the|today'?s|tomorrow'?s) "
        r"(?:list|agenda|schedule|calendar|plate)(?:\s+(?:to|for)\s+(?:follow(?:ing)? up(?: with)?|"
        r"call(?:ing)?|contact(?:ing)?|see(?:ing)?|text(?:ing)?|email(?:ing)?|check(?:ing)? in"
        r"(?: with)?|do(?:ing)?))?)\b(?P<day>.*?)"
        r"[\s?.!]*$",
        r"^(?:what|who)\s*(?:have|'ve)\s+i\s+(?:got|got on|on|scheduled|lined up)\b(?P<day>.*?)"
        r"[\s?.!]*$",
        r"^(?:who|which leads?|which clients?)\s+(?:needs?|is due for|'s due for|are due for)\s+"
        r"(?:a\s+)?(?:follow up|call|call back|callback|check in)(?:\s+from me)?\b(?P<day>.*?)"
        r"[\s?.!]*$",
        # "who am I calling today", "what am I doing tomorrow"
        r"^(?:who|what)\s+(?:am|are)\s+(?:i|we)\s+(?:calling|seeing|meeting|showing|doing|"
        r"following up with|contacting|texting|emailing)\b(?P<day>.*?)[\s?.!]*$",
        r"^(?:anything|any follow ups|any reminders|any tasks)\s+(?:due|on|for|scheduled)?"
        r"(?P<day>.*?)[\s?.!]*$",
    )
)
_BY_STATUS = re.compile(
    r"^(?:who(?:'s| is| are|s|'re)?|whos|which\s+(?:leads|clients|ones|people|of my leads|deals)"
    r"(?:\s+(?:are|is))?|list|show(?: me)?|get|give me|pull up|how many(?: leads| clients)?"
    r"(?:\s+are)?|what leads are|all)\s+(?P<rest>.*?)[\s?.!]*$"
)
_BY_STATUS_FILLER = re.compile(
    r"\b(?:all|my|of|the|leads?|clients?|ones|people|deals?|are|is|in|at|still|currently|right|"
    r"everyone|everybody|anyone|anybody|folks|who|that|which|whose|"
    r"now|stage|status|marked|as|with|do i have|i have|have)\b"
)
_ALL_LEADS = re.compile(r"^(?:all\s+)?(?:of\s+)?(?:my\s+)?(?:leads|clients|contacts)$")


_GREETING = re.compile(r"^(?:what'?s|whats|wats|wat's|what is)\s+up(?:\s+(?:man|dude|bro|buddy))?"
                       r"[\s?.!]*$")


# a question asked as a request: "(can you) tell me what Grace Lee's status is"
_TELL_ME = re.compile(r"^(?:tell me|let me know|show me)\s+(?=(?:what|who|where|how|which)\b)")


def match_query(low: str) -> QueryShape | None:
    """The question this lowercased message asks, if it is one of the three we answer."""
    shape = _match_query(low)
    m = _TELL_ME.match(low)
    if shape is not None or m is None:
        return shape
    shape = _match_query(low[m.end():])
    if shape is None or shape.slot is None:
        return shape
    s, e = shape.slot
    return QueryShape(shape.type, slot=(s + m.end(), e + m.end()), status=shape.status)


def _match_query(low: str) -> QueryShape | None:
    text = low.strip()
    if _GREETING.match(text):
        return None  # "what's up" is a hello; "what's up today" asks for the agenda
    m = _LEAD_NEWS.match(text)
    if m:
        return QueryShape("lead_status", slot=(m.start("who"), m.end("who")))
    for pattern in _AGENDA:
        m = pattern.match(text)
        if m:
            return QueryShape("agenda", slot=(m.start("day"), m.end("day")))
    m = _BY_STATUS.match(text)
    if m:
        rest = m.group("rest")
        found = find_status(rest)
        if found is not None:
            leftover = rest[: found.start] + " " + rest[found.end :]
            if not _BY_STATUS_FILLER.sub(" ", leftover).strip():
                return QueryShape("leads_by_status", status=found.status)
        elif _ALL_LEADS.match(rest.strip()):
            return QueryShape("leads_by_status", status=None)
    for pattern in _LEAD_STATUS:
        m = pattern.match(text)
        if m:
            return QueryShape("lead_status", slot=(m.start("who"), m.end("who")))
    return None
