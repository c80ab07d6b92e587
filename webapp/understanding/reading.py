"""Reading what is there: the `query` plans of the spec's read-only questions.

`questions.py` recognizes the shape of a question and where its lead or day is said; this module
turns the shapes "Reading what is there" added (lead_brief, follow_ups, pipeline, stats,
suggestions) into plans whose `query` object says what was asked, resolving the lead with the
parser's own lead rules (`_Parse._query_for`, as for lead_status: mentions, pronouns, clarify,
unknown_lead). The answer itself is the conversation's (`webapp.crm.answers.answer_query`): the
replies here are placeholders it replaces.

Also the spec's rule for days in questions: a weekday names the nearest such day from today on,
today included ("agenda for Friday" said on a Friday is today), unlike a command's weekday.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta
from typing import Any

from webapp.understanding import replies
from webapp.understanding.plan import Plan
from webapp.understanding.questions import QueryShape, match_query
from webapp.understanding.when import WhenMatch

_WEEKDAY = re.compile(
    r"^(?:(?:for|on|of|this coming|coming)\s+)?(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)"
    r"(?:day|nesday|sday|rsday|urday)?[\s?.!]*$")


def query_plan(p: Any, shape: QueryShape) -> Plan | None:
    """The plan for one of the newer question shapes (None: not a question after all)."""
    if shape.type in ("pipeline", "suggestions"):
        return Plan(kind="query", reply=replies.query_placeholder(shape.type),
                    query={"type": shape.type})
    if shape.type == "stats":
        return Plan(kind="query", reply=replies.query_placeholder("stats"),
                    query={"type": "stats", "period": shape.period or "this_month"})
    if shape.type == "follow_ups" and shape.slot is None:
        return Plan(kind="query", reply=replies.query_placeholder("follow_ups"),
                    query={"type": "follow_ups", "lead": None, "lead_id": None,
                           "period": shape.period or "upcoming"})
    if shape.strict and shape.slot is not None:
        s, e = shape.slot
        rest = re.sub(r"\x01|'s\b|s'|\b(?:my|all|the|any|upcoming|open|overdue)\b|\W", "",
                      p.masked[s:e])
        picked = p._ext.get("selections") or {}
        if rest or not any(m.start >= s and m.end <= e + 2 and m.leads
                           and (m.start, m.end) not in picked for m in p.mentions):
            older = match_query(p.low, reading=False)  # no lead named: not a question about one
            return p._query_for(older) if older is not None else None
    plan = p._query_for(dataclasses.replace(shape, type="lead_status"))
    if plan is None or plan.kind != "query" or not plan.query:
        return plan
    lead = plan.query.get("lead")
    query: dict = {"type": shape.type, "lead": lead, "lead_id": plan.query.get("lead_id")}
    if shape.type == "follow_ups":
        query["period"] = shape.period or "upcoming"
    plan.query = query
    plan.reply = replies.query_placeholder(shape.type, lead)
    return plan


def question_day(when: WhenMatch, day: date, today: date) -> date:
    """A weekday said alone in a question is the nearest such day from today on."""
    if day - today == timedelta(days=7) and _WEEKDAY.match(when.text.strip().lower()):
        return today
    return day
