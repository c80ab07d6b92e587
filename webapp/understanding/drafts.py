"""Email drafts, as said (issue 19): asking for one, and "log it" once it was sent.

    "Draft an email to John Doe about the inspection"
    "write Dana a thank-you note for today's showing"
        -> kind `draft`, draft {"lead_id", "lead", "about", "thank_you"}
    "log it" / "sent it" / "log the email" (after a draft)
        -> a plan: log_interaction(lead, email, the draft's subject), confirmed by YES

The parser only reads the request: which lead (a name, or "her" for the recent lead, resolved
exactly as for any command: two Johns ask which, a name that is nobody's is unknown_lead) and
what the email is about, as said. The conversation writes the draft from the lead's own data
(`draft_writing.py`) and stores it; nothing is ever e-mailed by Fieldline.

Choices where the spec is silent:
- A draft request is a whole message that starts with the request ("please draft ...", "can you
  write ..."); "remind me to draft an email to Dana tomorrow" stays a follow-up, "draft the offer
  for Dana tomorrow" a to-do: only an email, message, letter or a note *to* someone is drafted
  ("write a note for Dana: ..." is a note on her file, as before).
- One email, to one lead, per message: "to Dana and John" asks to send each on its own; a
  command said after the request ("..., and remind me to call her tomorrow") is not carried
  out, and the reply names it (`left_out`) so it can be sent on its own.
- "log it" logs the agent's newest draft of the last DRAFT_LOG_DAYS days that is not logged yet;
  with none such, the message is read as before. A draft already logged is kind `noop`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from webapp.understanding.interactions import LEAD_MASK
from webapp.understanding.names_said import PRONOUNS, name_at
from webapp.understanding.plan import LeadRef, LogInteraction, Plan
from webapp.understanding.replies import plan_reply

DRAFT_LOG_DAYS = 7
MAX_ABOUT = 300


@dataclass(frozen=True)
class DraftRef:
    """The agent's newest draft, as "log it" needs it."""

    id: int
    lead_id: int
    lead: str
    subject: str
    created_at: datetime
    logged: bool  # an email with its subject was logged on the lead since it was drafted


def no_draft() -> DraftRef | None:
    return None


class _Context(Protocol):
    """What "log it" reads of `parser.AgentContext`."""

    latest_draft: Callable[[], DraftRef | None]


_OPEN = (r"^(?:(?:please|pls|kindly|can you|could you|would you|will you|help me|hey|hi|ok|"
         r"okay|so|i need you to|i'd like you to|i want you to|go ahead and|let's|lets)\s+)*")
_VERB = r"(?:draft|write up|write|compose|prepare|prep|put together|draw up|type up)"
_ADJ = (r"(?:(?:a|an|the|my|quick|short|brief|nice|friendly|polite|warm|personal|professional|"
        r"little|formal|follow[- ]?up|thank[- ]?you|thanks|thank you|check[- ]?in|intro|"
        r"introduction|update|welcome|reminder|new)\s+)*")
_NOUN = r"(?P<noun>e-?mails?|email draft|draft email|draft|letter|message|note)"
_WHO = r"(?P<who>\x01+(?:'s)?|him|her|them|[^\W\d_][\w'.-]*)"  # a lead, or a name's first word
# "draft an email to Dana ...", "write a thank-you note for Dana ..."
_TO_FORM = re.compile(_OPEN + _VERB + r"\s+" + _ADJ + _NOUN + r"\s+(?P<prep>to|for)\s+" + _WHO
                      + r"(?=\s|[,.;:!?]|$)")
# "write Dana a thank-you note ...", "draft her an email ..."
_GIVE_FORM = re.compile(_OPEN + _VERB + r"\s+(?P<who>\x01+|him|her|them)\s+" + _ADJ + _NOUN
                        + r"(?=\s|[,.;:!?]|$)")
# "email draft for Dana ..."
_BARE_FORM = re.compile(_OPEN + r"(?:an?\s+)?(?P<noun>email draft|draft email|e-?mail)\s+"
                        r"(?P<prep>to|for)\s+" + _WHO + r"(?=\s|[,.;:!?]|$)")
# what the email is about, after the lead
_CONNECTIVE = re.compile(
    r"^\s*[,:-]?\s*(?:(?:about|re|regarding|concerning|on|for|that|saying|to say|with|"
    r"thanking (?:\x01+|him|her|them) for|to thank (?:\x01+|him|her|them) for|"
    r"to say thanks for|to say thank you for)\b\s*)?")
_THANKS = re.compile(r"\bthank|\bthanks\b|\bgrateful\b|\bappreciat")
_TAIL = re.compile(r"(?:[\s,;:.!?-]|\b(?:please|pls|thanks|thank you|thx)\b)+$")
# a command of its own after what the email is about ("... and remind me to call her tomorrow")
_ANOTHER_COMMAND = re.compile(
    r"(?:\s*[,;.]\s*(?:(?:and|then|also|plus)\s+)*|\s+(?:(?:and|then|also|plus)\s+)+)"
    r"(?:please\s+)?"
    r"(?=(?:remind me|set a reminder|schedule|book|mark|update|change|move|log|add a note|"
    r"cancel|follow up|new lead)\b)")
# a second lead right after the first: one email at a time
_ANOTHER_LEAD = re.compile(r"^\s*(?:,|and|&|or)\s*(?:\x01|him|her|them)")
# what is said about the lead right after the name: not an email to them
_NOT_A_RECIPIENT = re.compile(r"^(?:'s)?\s+(?:file|record|profile|notes?|account)\b")
_LOG_IT = re.compile(
    r"^(?:(?:ok|okay|great|cool|thanks|thank you|all right|alright|perfect|nice|yes|yep)"
    r"[,!.\s]+)?"
    r"(?:(?:(?:i\s+)?(?:just\s+|have\s+)?sent\s+(?:it|that|the\s+(?:email|e-mail))(?:\s+off)?"
    r"(?:\s+(?:to\s+(?:her|him|them)))?(?:[,.!\s]+(?:(?:please|pls|you can|can you)\s+)?"
    r"log\s+(?:it|that))?)"
    r"|(?:(?:please|pls|you can|can you)\s+)?log\s+(?:it|that|the\s+(?:email|e-mail|draft))"
    r"(?:\s+(?:as\s+sent|please|pls|now))*"
    r"|(?:the\s+)?(?:email|e-mail)(?:\s+(?:is|was|has\s+been))?\s+sent"
    r"(?:[,.!\s]+(?:please\s+)?log\s+(?:it|that))?)"
    r"(?:[,.!\s]+(?:please|pls|thanks|thank you|thx))?\s*[.!]*$",
    re.IGNORECASE,
)


def log_it(raw: str, ctx: _Context, now: datetime) -> Plan | None:
    """"log it" after a draft: the plan that logs the email, or None (not "log it", or no
    draft of the last days to log, and the message is read as any other)."""
    if not _LOG_IT.match((raw or "").strip()):
        return None
    draft = ctx.latest_draft()
    if draft is None or now - draft.created_at > timedelta(days=DRAFT_LOG_DAYS):
        return None
    if draft.logged:
        return Plan(kind="noop", reply=f'Your email to {draft.lead} ("{draft.subject}") is '
                                       "already logged.", mentioned_lead_ids=[draft.lead_id])
    action = LogInteraction(draft.lead_id, draft.lead, "email", draft.subject)
    return Plan(kind="plan", reply=plan_reply([action]), actions=[action],
                mentioned_lead_ids=[draft.lead_id])


def request(p: Any) -> Plan | None:
    """The draft a message asks for, read by the parse `p` (a `parser._Parse` after `_read`),
    or None when the message asks for something else. An ambiguous lead raises the parse's own
    clarify (so "1" continues it like any other); a name that is nobody's is unknown_lead."""
    masked = p.masked
    found = _TO_FORM.match(masked) or _GIVE_FORM.match(masked) or _BARE_FORM.match(masked)
    if found is None:
        return None
    noun = found.group("noun")
    if noun == "note" and found.groupdict().get("prep") == "for" and not _THANKS.search(
            masked[:found.start("noun")]):
        return None  # "write a note for Dana: ..." is a note on her file
    if _NOT_A_RECIPIENT.match(masked[found.end("who"):]):
        return None
    if _ANOTHER_LEAD.match(masked[found.end("who"):]):
        return Plan(kind="clarify", reply="I draft one email at a time: send the request for each "
                                          'lead on its own, e.g. "Draft an email to Dana Cole '
                                          'about the inspection".')
    lead = _recipient(p, found)
    if lead is None or isinstance(lead, Plan):
        return lead
    start = found.end()
    connective = _CONNECTIVE.match(masked[start:])
    about_start = start + (connective.end() if connective else 0)
    about_end = len(p.norm)
    more = _ANOTHER_COMMAND.search(masked, about_start)
    if more is not None:
        about_end = more.start()
    left_out = _TAIL.sub("", p.norm[more.end():]).strip() if more is not None else ""
    about = _TAIL.sub("", p.norm[about_start:about_end]).strip()[:MAX_ABOUT]
    said = masked[:about_start]
    thank_you = bool(_THANKS.search(said)) or (
        not about and bool(_THANKS.search(masked[about_start:])))
    draft = {"lead_id": lead.id, "lead": lead.name, "about": about, "thank_you": thank_you}
    if left_out:  # said, but no part of the draft: the reply says so (nothing disappears)
        draft["left_out"] = left_out
    what = "a thank-you email" if thank_you else "an email"
    topic = f" about {about}" if about and not thank_you else (f" for {about}" if about else "")
    return Plan(kind="draft", reply=f"Drafting {what} to {lead.name}{topic}.", draft=draft,
                mentioned_lead_ids=[lead.id])


def _recipient(p: Any, found: re.Match[str]) -> LeadRef | Plan | None:
    """The lead the email is for: named (mention), a pronoun (the recent lead); else the
    answer instead (unknown_lead, or which lead), or None when the words there are no person
    (the caller then reads the message as before)."""
    s, e = found.span("who")
    said = found.group("who")
    if LEAD_MASK in said:
        mention = next(m for m in p.mentions if m.start <= s < m.end)
        return p._lead_of(mention)
    if said in PRONOUNS:
        for lead_id in reversed(list(p.ctx.recent_lead_ids)):
            lead = p.ctx.leads.get(lead_id)
            if lead is not None:
                return lead
        return Plan(kind="clarify", reply='Which lead is the email for? e.g. "Draft an email '
                                          'to Dana Cole about the inspection".')
    named = name_at(p.norm, s, len(p.norm))
    if named is None:
        return None
    return p._unknown_lead(p._said(named))
