"""Read-only questions answered at once from the agent's own data (kind `query`).

`answer` takes the parser's `query` object (the spec's "Reading what is there") and returns an
`Answer`: the text to send, within two SMS segments (a briefing three), and its parts for voice
to read back briefly. `answer_query` is the text alone. Counts and dates are in the agent's zone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from webapp.crm.answers.follow_up_lists import agenda, agenda_text, follow_ups
from webapp.crm.answers.leads import (
    lead_brief,
    lead_counts_text,
    lead_status,
    leads_by_status,
    pipeline,
)
from webapp.crm.answers.shape import SEGMENTS, Answer
from webapp.crm.answers.stats import stats
from webapp.crm.answers.templates import templates_answer
from webapp.crm.sms_budget import listed
from webapp.crm.suggestions import suggest, why

__all__ = ["Answer", "agenda_text", "answer", "answer_query", "lead_counts_text"]

WHAT_I_ANSWER = (
    "I can answer: a lead's status or briefing, your agenda, follow-ups, who is in a status, "
    "your pipeline, stats, and who to call next."
)
NOTHING_URGENT = ("Nothing urgent: no overdue follow-ups, and your new, qualified and "
                  "negotiating leads have all been contacted lately.")


def answer(session: Session, agent_id: int, query: dict, zone: ZoneInfo,
           now: datetime) -> Answer:
    """The answer to `query` (one of the spec's query objects) for `agent_id` at `now`."""
    kind = query.get("type")
    if kind == "lead_status":
        return lead_status(session, agent_id, query.get("lead_id"), zone, now)
    if kind == "lead_brief":
        return lead_brief(session, agent_id, query.get("lead_id"), zone, now)
    if kind == "agenda":
        return agenda(session, agent_id, zone, now, query.get("day"))
    if kind == "follow_ups":
        return follow_ups(session, agent_id, zone, now, query.get("lead_id"),
                          query.get("period"))
    if kind == "leads_by_status":
        return leads_by_status(session, agent_id, query.get("status"))
    if kind == "pipeline":
        return pipeline(session, agent_id)
    if kind == "stats":
        return stats(session, agent_id, zone, now, query.get("period"))
    if kind == "suggestions":
        return suggestions(session, agent_id, zone, now)
    if kind == "templates":  # issue 19: the agent's note templates
        return templates_answer(session, agent_id)
    return Answer(WHAT_I_ANSWER)


def answer_query(session: Session, agent_id: int, query: dict, zone: ZoneInfo,
                 now: datetime) -> str:
    """The text of `answer` (what SMS and `assistant parse` reply)."""
    return answer(session, agent_id, query, zone, now).text


def suggestions(session: Session, agent_id: int, zone: ZoneInfo, now: datetime) -> Answer:
    """'3 leads to act on:' and one numbered line per lead, most urgent first, with why."""
    found = suggest(session, agent_id, zone, now)
    if not found:
        return Answer(NOTHING_URGENT)
    items = tuple(f"{s.lead}: {why(s, zone, now)}" for s in found)
    noun = "1 lead to act on:" if len(found) == 1 else f"{len(found)} leads to act on:"
    numbered = [f"{i}. {item}" for i, item in enumerate(items, 1)]
    text = listed(noun + "\n", numbered, SEGMENTS)
    return Answer(text, head=noun.rstrip(":") + ".", items=items)
