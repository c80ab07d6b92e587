"""Read-only questions: a lead's status or briefing, the agenda for a day, follow-ups over a
period, the leads in a status, the pipeline, stats for a period, suggestions of whom to act on.

This module only recognizes the shape of the question and where its slots are; the parser
resolves the lead (mentions, clarify, unknown_lead) and the day (when.py), so questions get the
same name and date handling as commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from webapp.understanding.statuses import find_status

QueryType = Literal["lead_status", "lead_brief", "agenda", "follow_ups", "leads_by_status",
                    "pipeline", "stats", "suggestions"]
FOLLOW_UP_PERIODS = ("this_week", "next_week", "overdue", "upcoming")
STATS_PERIODS = ("this_week", "last_week", "this_month", "last_month", "this_year")


@dataclass(frozen=True)
class QueryShape:
    type: QueryType
    # lead_status, lead_brief, follow_ups: where the lead is named (None: no lead); agenda: the day
    slot: tuple[int, int] | None = None
    status: str | None = None  # leads_by_status (None: all leads)
    period: str | None = None  # follow_ups, stats
    strict: bool = False  # only a question if the slot names a lead ("Dana's follow-ups")


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
        r"^(?:what|who)\s*(?:have|'ve)\s+i\s+(?:got going on|got on|got|on|scheduled|lined up)"
        r"\b(?P<day>.*?)"
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


def match_query(low: str, reading: bool = True) -> QueryShape | None:
    """The question this lowercased message asks, if it is one we answer (`reading=False`:
    only the older shapes: lead_status, agenda, leads_by_status)."""
    shape = _match_query(low, reading)
    m = _TELL_ME.match(low)
    if shape is not None or m is None:
        return shape
    shape = _match_query(low[m.end():], reading)
    if shape is None or shape.slot is None:
        return shape
    s, e = shape.slot
    return QueryShape(shape.type, slot=(s + m.end(), e + m.end()), status=shape.status,
                      period=shape.period, strict=shape.strict)


def _match_query(low: str, reading: bool = True) -> QueryShape | None:
    text = low.strip()
    if _GREETING.match(text):
        return None  # "what's up" is a hello; "what's up today" asks for the agenda
    shape = _match_reading(text) if reading else None
    if shape is not None:
        return shape
    m = _LEAD_NEWS.match(text)
    if m:
        return QueryShape("lead_brief", slot=(m.start("who"), m.end("who")))
    for pattern in _AGENDA:
        m = pattern.match(text)
        if m:
            week = _WEEK_ASKED.match(m.group("day")) if reading else None
            if week:  # "what's on my plate this week": a week's follow-ups, not one day
                return QueryShape("follow_ups", period=_PERIOD_OF[week.group("period")])
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


# --------------------------------------------------------------------------------------------
# The questions of "Reading what is there" (lead_brief, follow_ups, pipeline, stats,
# suggestions), tried before the older ones so that "what's on this week" is a week's
# follow-ups, not one day's agenda, and "who should I call today" asks for advice.
# --------------------------------------------------------------------------------------------

# What a spoken or polite question starts with before the question itself.
_LEAD_IN = re.compile(
    r"^(?:(?:um+|uh+|er+|hmm+|okay|ok|so|hey|hi|oh|well|and|also|quick question|"
    r"please|pls|can you|could you|would you|will you|can u|could u|i'd like to|i want to|"
    r"i need to|i was wondering|do you know|"
    r"(?:tell me|let me know|show me|remind me)(?=\s+(?:what|who|how|when|which|where|if)\b))"
    r"[\s,]+)+")
_END = r"[\s?.!]*$"
_PERIOD_WORDS = {
    "this week": "this_week", "this wk": "this_week", "the rest of the week": "this_week",
    "later this week": "this_week", "so far this week": "this_week", "weekly": "this_week",
    "this week's": "this_week",
    "last week": "last_week", "last week's": "last_week", "past week": "last_week",
    "this month": "this_month", "so far this month": "this_month", "monthly": "this_month",
    "this month's": "this_month", "month to date": "this_month", "mtd": "this_month",
    "last month": "last_month", "last month's": "last_month", "past month": "last_month",
    "this year": "this_year", "so far this year": "this_year", "yearly": "this_year",
    "annual": "this_year", "ytd": "this_year", "year to date": "this_year",
    "this year's": "this_year", "the week": "this_week", "the month": "this_month",
    "the year": "this_year",
}
_STATS_PERIOD = (r"(?:so far\s+)?(?:this week'?s?|last week'?s?|past week|this month'?s?|"
                 r"last month'?s?|past month|this year'?s?|ytd|year to date|month to date|mtd|"
                 r"weekly|monthly|yearly|annual|the (?:week|month|year))")
_STATS_NOUNS = (r"(?:new\s+)?(?:leads?|clients?|deals?|sales|closings?|calls?|showings?|"
                r"viewings?|meetings?|emails?|texts?|follow[- ]?ups?|followups?|reminders?|"
                r"tasks?|interactions?|touches|touchpoints|houses|homes|listings?|contracts?|"
                r"people)")
_STATS = tuple(
    re.compile(p)
    for p in (
        r"^(?:(?:what are|what're|whats|what's|how are|how're|show me|give me|get|send me|"
        r"pull up|see|check|how do|how does)\s+)?(?:(?:my|the)\s+)?(?:stats|statistics|"
        r"numbers|metrics|kpis?|"
        r"scorecard|performance|activity report|report card)(?:\s+(?:looking\s+)?(?:for|from|"
        r"of|over)?\s*(?:the\s+)?(?P<p>" + _STATS_PERIOD + r"))?(?:\s+(?:please|pls))?"
        + _END,
        r"^(?:(?:give me|show me|send me|get|what are|what were|pull up|see)\s+)?"
        r"(?:(?:my|the)\s+)?(?P<p>" + _STATS_PERIOD + r")\s+(?:stats|statistics|numbers|"
        r"metrics|report|summary|recap|activity|results)" + _END,
        r"^(?:what(?:'s| is|s| was)|how(?:'s| is|s| was))\s+(?:my|the)\s+(?:conversion(?: rate)?|"
        r"close rate|closing rate|win rate|production|volume|activity|performance)"
        r"(?:\s+(?:for\s+|so far\s+)?(?P<p>" + _STATS_PERIOD + r"))?" + _END,
        r"^how(?:'s| is|s| was| are| were)\s+(?:business|sales|work|things|my numbers)"
        r"(?:\s+(?:looking|going|doing))?\s+(?P<p>" + _STATS_PERIOD + r")" + _END,
        r"^how many\s+" + _STATS_NOUNS + r"\s+(?:(?:did|have|had|do|has)\s+(?:i|we)\s+)?"
        r"(?:(?:\w+)\s+){0,3}?(?P<p>" + _STATS_PERIOD + r")" + _END,
        r"^how many\s+" + _STATS_NOUNS + r"\s+(?:did|have)\s+(?:i|we)\s+(?:\w+\s*){1,3}?"
        + _END,
        r"^how many\s+" + _STATS_NOUNS + r"\s+(?:i|we)\s+(?:closed|lost|won|made|did|added|"
        r"got|signed|sold|missed|completed|finished|logged|had)(?:\s+(?P<p>" + _STATS_PERIOD
        + r"))?" + _END,
        r"^how (?:did|have|am|are) (?:i|we) (?:do(?:ing)?|done|perform(?:ed|ing)?|been doing)"
        r"(?:\s+(?P<p>" + _STATS_PERIOD + r"))?" + _END,
    )
)
_PIPELINE = tuple(
    re.compile(p)
    for p in (
        r"^(?:(?:show|give|send|get|pull up|read|see|view|check)(?: me)?\s+)?(?:my\s+|the\s+)?"
        r"(?:sales\s+)?pipeline(?:\s+(?:summary|overview|breakdown|report|status|update|"
        r"counts?|please|pls|now))*" + _END,
        r"^(?:how(?:'s| is|s)|what(?:'s| is|s)|what does|how does)\s+(?:my|the)\s+pipeline"
        r"(?:\s+(?:look(?:ing)?|look like|doing|stand|like|now|today))*" + _END,
        r"^how many (?:leads|clients|contacts|people|prospects)\s+(?:do i have|have i got|"
        r"i have|are there|in total|total|in my pipeline|am i working(?: with)?|do we have)"
        r"(?:\s+(?:in total|total|altogether|in each (?:stage|status)|per (?:stage|status)|"
        r"by (?:stage|status)|right now|now|overall|in my pipeline))*" + _END,
        r"^(?:break ?down|breakdown|split|count)\s+(?:of\s+)?(?:my\s+|all\s+)?(?:leads|clients|"
        r"pipeline)(?:\s+(?:by|per)\s+(?:status|stage))?" + _END,
        r"^(?:(?:my|all)\s+)?(?:leads|lead counts?|clients)\s+(?:by|per)\s+(?:status|stage)"
        + _END,
        r"^(?:count|tally) (?:of |up )?(?:my )?leads" + _END,
        r"^how many (?:leads|clients|people|prospects)\s+(?:are there\s+|are\s+|do i have\s+)?"
        r"(?:in|per|by|at)\s+(?:each|every)?\s*(?:stage|status)" + _END,
        r"^(?:what(?:'s| is|s)\s+)?(?:my|the)\s+(?:total\s+)?(?:lead|client)\s+(?:count|total|"
        r"numbers)" + _END,
    )
)
_SUGGESTIONS = tuple(
    re.compile(p)
    for p in (
        r"^(?:who|which leads?|which clients?|which ones?)\s+(?:should|shall|do you think|"
        r"would you (?:say|suggest)|do you suggest)\s+(?:i|we)\s+(?:should\s+)?(?:call|contact|"
        r"follow up with|reach out to|text|email|focus on|prioritize|work on|ping|chase|"
        r"get back to|check in with|talk to|touch base with|hit up|go after|call back)"
        r"(?:\s+(?:first|next|now|today|tomorrow|this week|right now|soon|again))*" + _END,
        r"^what\s+(?:should|shall)\s+(?:i|we)\s+(?:do|work on|focus on|tackle|prioritize|"
        r"be doing)(?:\s+(?:first|next|now|today|tomorrow|this week|right now))*" + _END,
        r"^(?:are there\s+|any\s+)+(?:leads?|clients?|one|body|people)\s+(?:that\s+|who\s+)?"
        r"(?:i'?m|i am|i've been|i have been|we're|i'?ve)\s+(?:neglecting|ignoring|forgetting|"
        r"missing|dropping the ball on|letting slip)" + _END,
        r"^(?:who|which leads?|which clients?)(?:'s|'re|\s+(?:am i|have i been|are|is|"
        r"have we been))\s+"
        r"(?:neglecting|ignoring|forgetting(?: about)?|getting neglected|being neglected|"
        r"falling through the cracks|slipping)" + _END,
        r"^who\s+(?:haven'?t|have not|havent)\s+i\s+(?:talked to|contacted|called|reached out to|"
        r"spoken (?:to|with)|heard from|touched base with|followed up with)(?:\s+(?:in a while|"
        r"lately|recently|in ages|for a while|in a bit))?" + _END,
        r"^who\s+(?:needs|need|could use|deserves)\s+(?:my\s+|some\s+)?(?:attention|love|"
        r"a nudge|a touch)(?:\s+(?:today|now|this week))?" + _END,
        r"^(?:who(?:'s| is|s)|which leads? (?:are|is)|who are)\s+(?:hot|warm|the hottest|"
        r"hottest|most urgent|urgent|ready to buy|ready to move|heating up)"
        r"(?:\s+(?:right now|now|today|this week|at the moment))?" + _END,
        r"^(?:which leads?|which clients?)\s+(?:needs?|could use|deserves?)\s+(?:my\s+|some\s+)?"
        r"(?:attention|love|a nudge|a touch|follow up|a follow up|a call)"
        r"(?:\s+(?:today|now|this week))?" + _END,
        r"^who\s+(?:haven'?t i|have i not|did i not|didn'?t i)\s+(?:talked to|contacted|called|"
        r"reached out to|spoken (?:to|with)|heard from|touched base with|followed up with|"
        r"followed up on)(?:\s+(?:in a while|lately|recently|in ages|for a while|yet))?" + _END,
        r"^(?:any\s+)?(?:suggestions?|recommendations?|ideas|tips|advice|next steps?)"
        r"(?:\s+(?:for me|for today|today))?" + _END,
        r"^(?:what(?:'s| is| are)\s+my\s+)(?:priorities|next best (?:action|move)s?)"
        r"(?:\s+(?:today|now))?" + _END,
    )
)
_FU_NOUN = (r"(?:follow[- ]?ups?|followups?|reminders?|tasks?|to-?dos?|appointments?|appts?|"
            r"meetings?|showings?|things?|items?|calls?)")
_FU_HEAD = (r"(?:(?:what|which|what are|what're|whats|what's|list|show(?: me)?|get|give me|"
            r"check|read(?: me)?|send(?: me)?|see|view|pull up|any|anything|are there any)\s+)?"
            r"(?:all\s+)?(?:of\s+)?(?:my\s+|the\s+|any\s+|all\s+)?")
_FU_PERIOD = (r"(?P<period>this week|next week|the rest of the week|later this week|"
              r"the week|overdue|past due|late|coming up|upcoming)")
_FOLLOW_UPS = tuple(
    re.compile(p)
    for p in (
        # "list my overdue follow-ups", "what follow-ups do I have this week", "upcoming
        # reminders", "any follow ups with sarah", "show me my reminders for next week"
        r"^(?=(?:what|which|whats|list|show|get|give|check|read|send|see|view|pull|any|"
        r"anything|are there|overdue|upcoming|late|past due|open|pending|outstanding|next|"
        r"[a-z -]*(?:follow[- ]?ups|followups|reminders|tasks|to-?dos|appointments|appts)\b))"
        + _FU_HEAD + r"(?P<adj>overdue|upcoming|late|past due|open|pending|outstanding|"
        r"next)?\s*" + _FU_NOUN + r"(?:\s+(?:do|did)\s+i\s+(?:have|got))?"
        r"(?:\s+(?:do i have|i have|have i got|i've got|are there|that are|are|is|i got|"
        r"left|scheduled|planned|due|open|pending|still open|coming up|upcoming|set))*"
        r"(?:\s+(?:for|in)?\s*" + _FU_PERIOD + r"|\s+(?:for|with|w)\s+(?P<who>.+?)"
        r"(?:\s+(?:for|in)?\s*(?P<period2>this week|next week|overdue|coming up|upcoming))?)?"
        + _END,
        # "john smith follow ups", "Dana's reminders", "Dana's overdue follow-ups"
        r"^(?!(?:who|what|which|when|how|where|any|all|my|the|list|show|set|add|make|create|"
        r"schedule|book)\b)(?P<strict>(?P<who>[^?]+?))(?:'s|s')?\s+(?P<adj>overdue\s+|upcoming\s+|open\s+)?"
        r"(?:follow[- ]?ups?|followups?|reminders?|appointments?)(?:\s+(?:for\s+)?"
        + _FU_PERIOD + r")?" + _END,
        # "when am I seeing Dana next?", "when do I call John again"
        r"^when(?:'s| is| are|s)?\s+(?:am|do|will|should|shall)\s+(?:i|we)\s+(?:next\s+)?"
        r"(?:seeing|meeting(?: with)?|calling|visiting|following up with|talking to|showing|"
        r"see|meet(?: with)?|call|visit|follow up with|talk to|show)\s+(?P<who>.+?)"
        r"(?:\s+(?:next|again|next time))?" + _END,
        # "when's my next follow up with john doe"
        r"^when(?:'s| is|s)\s+(?:my|the)\s+next\s+(?:follow[- ]?up|reminder|appointment|appt|"
        r"meeting|call|showing|viewing|task)\s+(?:with|for)\s+(?P<who>.+?)" + _END,
        # "what's coming up with Dana?", "what's scheduled with carlos this week"
        r"^(?:what(?:'s| is|s)?|anything|is there anything)\s+(?:coming up|upcoming|scheduled|"
        r"planned|next|on the calendar|on the books|happening|lined up|booked|on deck)\s+"
        r"(?:with|for)\s+(?P<who>.+?)(?:\s+" + _FU_PERIOD + r")?" + _END,
        # "do I have anything with Robert coming up?", "is there anything planned with Dana"
        r"^(?:do (?:i|we) have|have (?:i|we) got|is there|are there)\s+(?:anything|something|"
        r"any follow[- ]?ups?|any reminders?|any appointments?|any meetings?|any showings?)\s+"
        r"(?:coming up\s+|scheduled\s+|planned\s+|booked\s+|set up\s+|lined up\s+)?"
        r"(?:with|for)\s+(?P<who>.+?)(?:\s+(?:coming up|scheduled|planned|soon|booked|next|"
        r"lined up))?" + _END,
        # "what's overdue", "anything overdue?", "list everything that is overdue", "show me
        # the overdue stuff", "what's overdue for Hana"
        r"^(?:what(?:'s| is|s)?|anything|list|show(?: me)?|list everything|show me everything|"
        r"everything|is anything|is there anything|give me|get)\s+(?:that(?:'s| is)\s+|"
        r"that are\s+)?(?:(?:all\s+)?(?:the|my)\s+)?(?P<period>overdue|past due|late|behind)"
        r"(?:\s+(?:stuff|things|items|ones|tasks|follow[- ]?ups|reminders|calls))?"
        r"(?:\s+(?:for|with)\s+(?P<who>.+?))?" + _END,
        # "what's on this week", "what do I have next week", "who do I need to follow up with
        # this week"
        r"^(?:what(?:'s| is|s)?|what do i have|what have i got|what've i got|what am i doing|"
        r"anything|who do i (?:need to |have to )?(?:follow up with|call|see|contact)|"
        r"what do i need to do|what's left)\s+(?:on\s+|up\s+|coming up\s+|scheduled\s+|"
        r"planned\s+|due\s+|going on\s+|happening\s+)?(?:for\s+)?"
        r"(?P<period>this week|next week|the rest of the week|later this week)" + _END,
        # "when's Carlos's next appointment?"
        r"^when(?:'s| is|s)\s+(?P<who>.+?)(?:'s|s')\s+next\s+(?:follow[- ]?up|reminder|"
        r"appointment|appt|meeting|call|showing|viewing|task)" + _END,
        # "do I have anything overdue?"
        r"^(?:do (?:i|we) have|have (?:i|we) got|is there|are there)\s+(?:anything|any "
        r"(?:follow[- ]?ups?|reminders?|tasks?|items?))\s+(?:that(?:'s| is| are)\s+)?"
        r"(?P<period>overdue|past due|late)" + _END,
        # "show me everything due next week", "what's on deck for next week"
        r"^(?:show me|list|give me|get|what(?:'s| is|s)?|anything)\s+(?:everything|all|"
        r"anything|all my stuff|my stuff)?\s*(?:that(?:'s| is)\s+)?(?:due|scheduled|planned|"
        r"coming up|on deck|on tap|on the books|on the calendar|on my calendar|on my plate|"
        r"lined up|happening)\s+(?:for\s+|in\s+)?(?P<period>this week|next week|the rest of "
        r"the week|later this week)" + _END,
        # "what's coming up", "upcoming"
        r"^(?:what(?:'s| is|s)\s+)?(?P<period>coming up|upcoming)" + _END,
    )
)
_WEEK_ASKED = re.compile(r"^\s*(?:(?:like|look like|looking|going on|look|for|on)\s+)*"
                         r"(?P<period>this week|next week|the rest of the week|later this week)"
                         r"[\s?.!]*$")
_PERIOD_OF = {"this week": "this_week", "the rest of the week": "this_week",
              "later this week": "this_week", "the week": "this_week", "next week": "next_week",
              "overdue": "overdue", "past due": "overdue", "late": "overdue", "behind": "overdue",
              "coming up": "upcoming", "upcoming": "upcoming", "next": "upcoming",
              "open": "upcoming", "pending": "upcoming", "outstanding": "upcoming"}
_DAY_WORDS = re.compile(
    r"\b(?:today|tonight|tomorrow|tmrw|(?:mon|tues|wednes|thurs|fri|satur|sun)day|"
    r"jan|feb|march|april|june|july|aug|sept?|oct|nov|dec|\d{1,2}/\d{1,2})\b")
_BRIEF_NOUN = (r"(?:brief(?:ing)?|rundown|run down|summary|recap|overview|profile|lowdown|"
               r"low down|background|history|file|info|details|notes|story|the scoop|scoop)")
_DETAIL = (r"(?:phone|cell|mobile|number|phone number|cell number|cell phone|mobile number|"
           r"email|e-mail|email address|contact info|contact details|contact|digits)")
_BRIEF = tuple(
    re.compile(p)
    for p in (
        r"^(?:brief|briefing|brief me|debrief me)\s+(?:on|about|for|re|regarding)\s+"
        r"(?P<who>.+?)" + _END,
        r"^(?:give me |get me |send me |pull up |read me |i need |need )?(?:a |the |my )?"
        r"(?:quick |short |full |latest |complete )?" + _BRIEF_NOUN + r"\s+(?:on|of|for|about|"
        r"with|re)\s+(?P<who>.+?)" + _END,
        r"^(?:tell me about|tell me more about|what do (?:i|we) know about|"
        r"what (?:have|do) (?:i|we) (?:got|have) on file (?:for|on)|info on|details on|"
        r"catch me up on|fill me in on|"
        r"update me on|updates? on|news on|latest on|the latest on|refresh me on|"
        r"remind me who)\s+(?P<who>.+?)" + _END,
        rf"^(?:{_WH}|any|anything|what)\s+(?:the\s+)?(?:latest|news|new|happening|going on|"
        r"the story|the deal|the history|the situation|up)\s+(?:on|with|from)\s+(?P<who>.+?)"
        + _END,
        r"^what did (?:i|we) (?:talk|speak|chat|discuss)(?: about)? (?:with|to) (?P<who>.+?)"
        r"(?:\s+(?:last time|the last time|about|most recently|recently|last))?" + _END,
        rf"^(?:{_WH}|what|any)\s+(?P<who>.+?)(?:'s|s')\s+(?:latest|news|update|story|"
        r"situation|deal|history)" + _END,
        r"^what (?:did|has|have) (?P<who>.+?) (?:say|said|tell me|told me|want|wanted|mention|"
        r"mentioned|think|thought)(?:\s+(?:last time|about .*|most recently|recently|the last "
        r"time|on the phone|lately|last))?" + _END,
        r"^when (?:did|was the last time) (?:i|we) (?:last )?(?:talk to|talked to|speak (?:to|"
        r"with)|spoke (?:to|with)|talk with|contact|contacted|call|called|see|saw|meet(?: with)?|"
        r"met(?: with)?|hear from|heard from|email|emailed|text|texted|reach|reached) "
        r"(?P<who>.+?)(?:\s+(?:last|the last time))?" + _END,
        rf"^(?:{_WH}\s+|what\s+|get me\s+|give me\s+|send me\s+|need\s+|i need\s+)?(?:the\s+)?"
        r"(?!(?:change|update|set|fix|new|add|edit|correct|cancel|delete|remove|mark|move|"
        r"push|text|call|email)\b)(?P<who>[^?]+?)(?:'s|s'|s)\s+(?:" + _DETAIL + r")" + _END,
        rf"^(?:{_WH}|what|get me|give me|send me|need|i need|text me|email me)\s+(?:the\s+)?"
        r"(?:" + _DETAIL + r")\s+(?:for|of)\s+(?P<who>.+?)" + _END,
        r"^(?:text|send|email|give)\s+me\s+(?:the\s+)?(?!(?:a|an|the)\b)(?P<who>[^?]+?)"
        r"(?:'s|s')\s+(?:" + _DETAIL + r"|info|details|file)" + _END,
        r"^how (?:do|can|should|would) (?:i|we) (?:reach|contact|get (?:a )?hold of|"
        r"get in touch with|call|get to)\s+(?P<who>.+?)" + _END,
        # "pull up Robert Brown": only a lead's name after it (checked by the parser)
        r"^(?:pull up|look up|bring up|open|find|get me|show me|lookup)\s+(?P<strict>"
        r"(?P<who>[^?]+?))(?:'s\s+(?:file|profile|info|record|card|details|contact))?" + _END,
    )
)


# "what follow-ups do I have tomorrow?": follow-ups on one day are that day's agenda
_FOLLOW_UPS_ON_DAY = re.compile(
    r"^(?:what|which|any|list|show me|are there any)\s+(?:follow[- ]?ups?|reminders?|tasks?|"
    r"appointments?|meetings?|showings?|calls?)\s+(?:do i have|have i got|are there|are|is|"
    r"i have|have i|due|scheduled)?\s*(?P<day>.+?)" + _END)


def _match_reading(text: str) -> QueryShape | None:
    """lead_brief / follow_ups / pipeline / stats / suggestions, if `text` asks one of them."""
    lead_in = _LEAD_IN.match(text)
    off = lead_in.end() if lead_in else 0
    body = text[off:]
    m = _FOLLOW_UPS_ON_DAY.match(body)
    if m and _DAY_WORDS.search(m.group("day")):
        return QueryShape("agenda", slot=(off + m.start("day"), off + m.end("day")))
    for pattern in _SUGGESTIONS:
        if pattern.match(body):
            return QueryShape("suggestions")
    for pattern in _STATS:
        m = pattern.match(body)
        if m:
            said = (m.groupdict().get("p") or "").strip()
            return QueryShape("stats", period=_stats_period(said))
    for pattern in _PIPELINE:
        if pattern.match(body):
            return QueryShape("pipeline")
    for pattern in _FOLLOW_UPS:
        m = pattern.match(body)
        if m is None:
            continue
        groups = m.groupdict()
        period = (groups.get("period") or groups.get("period2") or (groups.get("adj") or "")
                  .strip() or "")
        who = groups.get("who")
        if who and who.strip(" ?.!") in _PERIOD_OF and not period:
            period, who = who.strip(" ?.!"), None  # "what's on deck for next week"
        if who and _DAY_WORDS.search(who) and not period:
            continue  # "any follow ups for tomorrow": one day's agenda
        slot = (off + m.start("who"), off + m.end("who")) if who else None
        return QueryShape("follow_ups", slot=slot,
                          period=_PERIOD_OF.get(period.strip(), "upcoming"),
                          strict=bool(groups.get("strict")))
    for pattern in _BRIEF:
        m = pattern.match(body)
        if m:
            return QueryShape("lead_brief", slot=(off + m.start("who"), off + m.end("who")),
                              strict=bool(m.groupdict().get("strict")))
    return None


def _stats_period(said: str) -> str:
    said = re.sub(r"^so far\s+", "", said)
    return _PERIOD_WORDS.get(said, "this_month")
