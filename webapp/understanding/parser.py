"""The deterministic rule parser: what an agent texts or says, turned into a Plan.

Reading order (each step is one method of `_Parse`):

1. whole-message intents (yes / no / help / undo / carrier keywords) - `intents.py`;
2. normalize (shorthand, emoji, spoken "p m") - `normalize.py`; find lead mentions once, and
   phrases that pick many leads ("all my new leads") - `selectors.py`;
3. read-only questions (status of a lead, agenda, leads in a status; the briefings, follow-ups,
   pipeline, stats and suggestions of `reading.py`) - `questions.py`;
4. cut into clauses - `clauses.py`; give each clause its command, if it has one; glue a clause
   without a command onto the one before it (so "Called Dana Cole, no answer" is one call);
5. build one action per command: resolve its lead (mention, pronoun, or the last lead named),
   its time (`when.py`), its note or title; the first thing that cannot be resolved becomes the
   answer instead (clarify / unknown_lead), since a plan runs all-or-nothing. Changing what is
   there (reschedule / cancel / complete a follow-up, update a lead) is `changes.py`, which
   also leaves out actions that would change nothing (kind noop when none is left).

A clarify answer is continued by re-parsing the original message with the answer pinned as an
"override" (a lead for a name span, a time for a time span, a status, a phone), so the second pass
goes through exactly the same rules as the first. Overrides live in `Plan.clarify`, which is
plain JSON, because the conversation stores it between messages.

Choices where the spec is silent:
- Carrier keywords (STOP, START, UNSUBSCRIBE, QUIT...) are intercepted by the SMS channel layer
  before the parser; if one reaches the parser it is kind "unknown" (never "cancel").
- An invalid phone in "New lead ..." is refused with kind "clarify" that asks for the number;
  the answer (a valid number, or "no phone") continues the same create_lead.
- A log's note is "" when nothing but the command was said ("Had a viewing with Dana Cole");
  "left a voicemail" is kept in the note, since the type (call) alone loses it.
- A follow-up's title keeps the imperative verb ("Call Dana tomorrow" -> "Call Dana Cole") and
  drops "remind me to", "schedule/book/set up" and a leading article ("viewing with Dana Cole").
- A command without a lead of its own uses the last lead of the message, else the previous
  message's (recent_lead_ids), else asks "Which lead is this for?" - but only when no name was
  said where its lead belongs: a name that matches no lead is unknown_lead, never another lead
  (`_said_name`, with `names_said.py`; `name_no_lead_has` gives the same answer to the model path).
- A month/day a few weeks behind us ("March 2" on March 5) is the past (clarify), not next year.
- A message that only names a lead ("Dana Cole?") is a lead_status query.
- Agenda and leads_by_status replies are placeholders that the conversation layer replaces with
  rows from the database; leads_by_status with status None means all leads ("list my leads").
- Input over MAX_CHARS is "unknown" without being read.
- Replies to a reminder text (`reminder_replies.py`) are whole messages: "done", "done 2",
  "snooze", "snooze 2 until 3pm", "remind me again in an hour", "later" - or an outright DONE /
  SNOOZE followed by more ("done, talked to him, all good"), which rides along as
  reminder["rest"] for the conversation to log on the reminder's lead. A snooze with no time is
  one hour from now (to the minute); a bare "remind me <time>" with no lead and no task is a
  snooze too.
- A lead created in the message ("New lead Marcus Bell ..., met him there") is the last lead
  named from then on, with the placeholder id `plan.new_lead_ref(i)`.
- What no action keeps (a first clause with no command, words after a status) is named in the
  plan's reply ("Not understood, so not saved: ..."), unless it is a greeting or a comment.
  "Mark the Smith deal as done" is not one: "done" is not a status, so it asks which status.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers

from db.vocabulary import STATUSES
from webapp.understanding import changes, drafts, reading, replies, selectors, templates
from webapp.understanding.book import EMPTY_BOOK, Book
from webapp.understanding.clauses import split_clauses
from webapp.understanding.intents import detect_intent
from webapp.understanding.interactions import LEAD_MASK, Cue, find_cue
from webapp.understanding.lead_names import (
    COMMON_WORDS,
    NAME_LIKE_WORDS,
    LeadDirectory,
    Mention,
)
from webapp.understanding.names_said import (
    LOWER_SURNAMES,
    PERSON_BEFORE,
    address_at,
    after_person_word,
    name_at,
    name_word,
    pronoun_at,
)
from webapp.understanding.normalize import fold, normalize, safe_lower
from webapp.understanding.plan import (
    Action,
    CreateLead,
    LeadRef,
    LogInteraction,
    Plan,
    ScheduleFollowUp,
    UpdateStatus,
    new_lead_ref,
)
from webapp.understanding.questions import QueryShape, match_query
from webapp.understanding.reminder_replies import (
    ReminderReply,
    match_reminder_reply,
    split_reminder_reply,
)
from webapp.understanding.settings import said_setting
from webapp.understanding.statuses import StatusMatch, canonical_status, find_status
from webapp.understanding.when import WhenMatch, default_due, find_when, resolve_when

MAX_CHARS = 1600  # ten SMS segments; longer input is not a command an agent typed or said
# Countries that write numeric dates month first ("4/7" is April 7).
MIN_FUZZY_SCORE = 70.0  # lead_names scores: exact first name 80, "Dnaa" 72, "Karen"~Green 67
MONTH_FIRST_COUNTRIES = frozenset({"US", "CA", "PH", "FM", "MH", "PW", "GU", "AS", "PR", "VI",
                                   "MP", "UM", "BZ"})


@dataclass
class AgentContext:
    """Everything about the sending agent the parser may use; nothing else is looked up."""

    leads: LeadDirectory
    timezone: ZoneInfo
    country: str  # ISO 3166 code: the default region of phone numbers and the date order
    recent_lead_ids: Sequence[int] = ()
    # Open follow-ups, interactions, last contacts: read only when a message needs them.
    book: Book = EMPTY_BOOK
    # Issue 19: the agent's note templates (name -> text) and newest email draft, each read
    # only when a message needs it (see templates.py, drafts.py).
    templates: Callable[[], Mapping[str, str]] = templates.no_templates
    latest_draft: Callable[[], drafts.DraftRef | None] = drafts.no_draft


# Any parser: the rule parser, the model-assisted one, or either timed (`counters.timed_parser`).
Parser = Callable[[str, AgentContext, datetime], Plan]


def parse_message(text: str, ctx: AgentContext, now: datetime) -> Plan:
    """Parse one message, as the first of a conversation unless ctx.recent_lead_ids says more."""
    return _Parse(text, ctx, _local(now, ctx), {}).run()


def name_no_lead_has(text: str, ctx: AgentContext, now: datetime) -> str:
    """A person's name said in `text` that is none of the agent's leads, or "".

    For a reading of the message made elsewhere (the model's): by the spec's rule, a lead the
    message does not name may stand for a pronoun, never for a name that matches no lead.
    """
    p = _Parse(text, ctx, _local(now, ctx), {})
    if len(text or "") > MAX_CHARS or not p._read():
        return ""
    for m in p.mentions:
        if not m.leads:
            return p._said((m.start, m.end))
    return p._said_name(_Clause(0, len(p.norm), None))


def continue_clarify(answer: str, clarify: dict, ctx: AgentContext, now: datetime) -> Plan:
    """Continue the request a clarify question was about, with the agent's answer.

    The answer may pick an option ("1", "John Doe"), give a new time ("tomorrow at 3"), a status
    or a phone number. If it is none of those but a command of its own, it is parsed as a new
    message; a plain "no" drops the request.
    """
    now = _local(now, ctx)
    intent = detect_intent(answer)
    if intent == "cancel":
        return Plan(kind="cancel", reply=replies.cancel())
    message = clarify.get("message", "")
    overrides = {k: dict(v) if isinstance(v, dict) else v
                 for k, v in (clarify.get("overrides") or {}).items()}
    key = clarify.get("key", "")
    ctx2 = dataclasses.replace(ctx, recent_lead_ids=tuple(clarify.get("recent",
                                                                     ctx.recent_lead_ids)))
    if intent == "confirm":  # a yes is never a name or a choice: the question stands
        return _ask_again(message, ctx2, now, overrides, clarify, "Please answer the question.")
    picked = _answer_value(answer, clarify, ctx, now)
    fresh: Plan | None = None
    if picked is not None and clarify.get("type") == "name":
        fresh = parse_message(answer, ctx, now)  # "What's on tomorrow?" is no lead's name
        if fresh.kind not in _NEW_REQUEST:
            fresh = None
    if picked is None or fresh is not None:
        fresh = fresh or parse_message(answer, ctx, now)
        # An attempt at an answer is asked again (once); anything else is a message of its
        # own, and the question is dropped: it never hangs on over unrelated texts.
        if fresh.kind in _NEW_REQUEST or clarify.get("attempts", 0) >= 1 or \
                not _attempted_answer(answer, clarify, ctx, now):
            return fresh  # a request of its own (or a question of its own: "Update Dana...")
        return _ask_again(message, ctx2, now, overrides, clarify, "Sorry, I didn't get that.")
    overrides.setdefault(clarify["type"], {})[key] = picked
    return _Parse(message, ctx2, now, overrides).run()


# What a message that is no answer can be instead of one; a clarify or unknown_lead of its own
# counts only when the message is not a try at the answer ("Jhon" to "Which John?").
_NEW_REQUEST = frozenset({"plan", "query", "help", "undo", "cancel", "done", "snooze", "login",
                          "settings"})


def _ask_again(message: str, ctx: AgentContext, now: datetime, overrides: dict, clarify: dict,
               lead_in: str) -> Plan:
    again = _Parse(message, ctx, now, overrides).run()
    again.reply = f"{lead_in} {again.reply}"
    if again.clarify is not None:
        again.clarify["attempts"] = clarify.get("attempts", 0) + 1
    return again


def _attempted_answer(answer: str, clarify: dict, ctx: AgentContext, now: datetime) -> bool:
    """Does `answer` look like a try at this question (a name, a status word, a time, a
    number) that did not resolve, rather than something else altogether?"""
    text = normalize(answer).strip()
    words = re.findall(r"[^\W\d_]+", text)
    timed = find_when(text, now, month_first=_month_first(ctx)) is not None
    kind = clarify.get("type")
    if kind == "due":
        return timed
    if kind == "phone":
        return len(re.findall(r"\d", text)) >= 3
    if kind in ("lead", "status"):
        return 0 < len(words) <= 3 and not timed
    return False


def _answer_value(answer: str, clarify: dict, ctx: AgentContext, now: datetime):
    """What the answer pins for this clarify, in JSON form, or None if it answers nothing."""
    kind = clarify.get("type")
    text = answer.strip()
    if kind in changes.CLARIFY_KINDS:  # issue 16: which follow-up, a new email
        return changes.answer_value(kind, text, clarify)
    number = re.fullmatch(r"#?\s*(\d{1,2})[.)]?", text)
    if kind == "lead":
        options = clarify.get("options") or []
        if number and options:
            i = int(number.group(1))
            return options[i - 1] if 1 <= i <= len(options) else None
        found = ctx.leads.resolve(normalize(text))
        if options:
            chosen = [lead.id for lead in found if lead.id in options]
            if len(chosen) != 1:
                by_name = [o for o, n in zip(options, clarify.get("names", []), strict=False)
                           if fold(n) == fold(text)]
                chosen = by_name
            return chosen[0] if len(chosen) == 1 else None
        return found[0].id if len(found) == 1 else None
    if kind == "due":
        tz = ctx.timezone
        match = resolve_when(normalize(text), now, month_first=_month_first(ctx))
        if match is None or match.in_past or match.due_at is None:
            return None
        return match.due_at.astimezone(tz).isoformat()
    if kind == "status":
        if number:
            i = int(number.group(1))
            return STATUSES[i - 1] if 1 <= i <= len(STATUSES) else None
        return canonical_status(text)
    if kind == "phone":
        if re.fullmatch(r"(?i)(?:no|none|no phone|skip|without( a)? (?:phone|number)|n/?a)\.?",
                        text):
            return ""
        phone = _phone_e164(text, ctx.country)
        return phone
    if kind == "name":
        name = _clean_name(normalize(text))
        return name or None
    return None


# --------------------------------------------------------------------------------------------
# Patterns for the commands (on the lowercased message with lead mentions masked)
# --------------------------------------------------------------------------------------------

_L = LEAD_MASK
_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers|they|them|their|theirs)\b")
_CREATE = re.compile(
    r"^(?:please\s+|can you\s+|pls\s+)?(?:(?:add|create|enter|save|make|new|log)\s+(?:a\s+|an\s+)?"
    r"(?:new\s+)?|new\s+)(?:lead|client|contact|prospect|buyer|seller|customer)s?\b"
    r"(?:\s+(?:for|named|called)\b)?[\s:,-]*"  # "create a lead for Omar Haddad ..."
)
_CREATE_AS = re.compile(
    r"^(?:please\s+)?(?:add|create|save)\s+(?P<name>.+?)\s+as\s+(?:a\s+)?(?:new\s+)?"
    r"(?:lead|client|contact|prospect|buyer|seller)\b"
)
_STATUS_VERB = re.compile(
    r"^(?:please\s+|can you\s+|could you\s+|pls\s+|go ahead and\s+)?(?:update|change|set|mark|"
    r"move|put|switch|flag|make|bump|label|tag|status|upgrade|downgrade|moved|changed|marked|"
    r"updated)\b(?!\s+up\b)"
)
_STATUS_UNKNOWN = re.compile(
    r"(?:\bstatus\b\s*(?:to|as|:|=|->|is)?|\b(?:to|as|into|->|=)\b|->|:)\s*['\"]?"
    r"(?P<x>[a-z][\w' -]{0,30}?)"
    r"['\"]?\s*$"
)
_LOG_EXPLICIT = re.compile(
    r"^(?:please\s+|can you\s+|pls\s+)?(?:log|record|add a note|add note|make a note|"
    r"jot down|note)\b(?:\s+(?:that|down|a|an|the|my|for|on|to|about))*\s*:?\s*"
)
_SCHEDULE = re.compile(
    r"^(?:please\s+|can you\s+|could you\s+|pls\s+|hey\s+|ok\s+|also\s+|let's\s+|lets\s+|"
    r"let us\s+|i want to\s+|i'd like to\s+|we need to\s+|go ahead and\s+)?"
    r"(?:(?:remind|ping|buzz|nudge) me(?:\s+(?:to|about|that|of|for|re))?|"
    r"(?:set|add|create|make|put in)\s+(?:a\s+|me\s+a\s+)?"
    r"(?:reminder|task|to-?do|follow up|follow-up)(?:\s+(?:to|for|about|with))?|"
    r"reminder(?:\s+(?:to|for|"
    r"about))?|schedule|book|set up|set(?=\s+(?:an?\s+|up\s+)?(?:appointment|meeting|showing|"
    r"viewing|call|tour|walkthrough|walk-through|open house)\b)|arrange|plan|pencil in|calendar|"
    r"(?:i\s+)?(?:need|have|got) to|gotta|todo:?|to-?do:?|task:?|don't forget(?: to)?|"
    r"dont forget(?: to)?|do not forget(?: to)?|make sure (?:to|i)|must|should)\b\s*:?\s*"
)
_REMIND_ANYWHERE = re.compile(r"\bremind me(?:\s+(?:to|about|that|of|for))?\b\s*")
_FOLLOW_UP = re.compile(r"^(?:please\s+)?(?:follow up|check in|touch base|circle back|ping)\b")
_PAST_START = re.compile(
    r"^(?:(?:i|we|just|i just|we just|finally|already|also|earlier|today|this morning|had|have|"
    r"she|he|they|" + _L + r"+(?:'s)?|" + _L + r"+:|[:\u2013\u2014-])\s+)*$"
)
_NOUN_START = re.compile(
    r"^(?:(?:had|have|did|just|quick|great|good|nice|long|short|a|an|the|my|our|first|second|"
    r"lovely|wonderful|brief|pleasant|productive|positive|excellent|fantastic|lengthy|friendly|"
    r"grabbed|got|went for|went to|went on|finished|finished with|wrapped up|done with|"
    r"completed|"
    r"another|initial|final|i|we|today's|todays|this|productive|awesome|bad|"
    # intensifiers and any -ful/-ive/-ous adjective ("a really productive meeting with")
    r"really|very|quite|super|so|pretty|extremely|incredibly|truly|solid|warm|promising|"
    r"[a-z]+(?:ful|ive|ous)|" + _L +
    r"+(?:'s)?)\s+)*$"
)
_DONE_START = re.compile(
    r"^(?:i\s+|we\s+|just\s+)*(?:had|did|grabbed|got|went|finished|wrapped up|held|attended|"
    r"done with|completed)\b"
)
_LEAD_COPULA = re.compile(
    r"(?:^|\s)(?:" + _L + r"+|he|she|they|him|her|them)(?:'s|s')?"
    r"(?:\s+(?:deal|sale|file|offer|listing|purchase|contract|house|home))?"
    r"\s*(?:(?:is|are|was|has been|have been|'s been|is now|went|became|got|now|just|has|have|had|"
    r"officially|finally|a|an|status|to|->|:|=|-+|both|all|each|should be|must be|marked|as|"
    r"set to|"
    r"back|now\s+a)\s*)*$"
)
_PRONOUN_COPULA = re.compile(
    r"(?<=\s)(?:she's|he's|they're|she is|he is|they are|she's now|he's now)\s+(?:now\s+)?"
)
# what the agent feels about a status ("Dana is closed won yay", "lost, sadly"): a comment, not
# something else to do
_COMMENT = (r"(?:ya+y|yey|wo+(?:ho+)?|woot|hoo+ray|hurray|yes+|finally|at last|sadly|"
            r"unfortunately|fortunately|luckily|thankfully|hopefully|ugh+|boo+|meh|oh well|"
            r"damn|dang|darn|shoot|bummer|great|awesome|nice|sweet|excellent|cool|amazing|"
            r"fantastic|wonderful|perfect|brilliant|lol|ha(?:ha)+|whew|phew|fingers crossed|"
            r"for now|so far|too bad|what a shame|good news|bad news|oh no|nooo+|"
            r"[a-z]{3,}ly)")
_TRAILING_STATUS_FILLER = re.compile(
    r"^\s*(?:now|lead|status|too|as well|officially|again|today|!+|\.)?"
    r"\s*(?:(?:from|on|with|of)\s+(?:the|this|that|his|her|their|our)\s+(?:deal|offer|house|home|"
    r"property|sale|listing|contract))?"
    r"(?:[\s,;:.!-]*\b" + _COMMENT + r"\b){0,3}"
    r"\s*(?:please|pls|thanks|thank you|thx)?[\s.!]*$"
)
_STATUS_THEN_LEAD = re.compile(
    r"^(?:(?:we|i|just|finally|officially|we're|were|we are|i'm|im|i am|now|currently|still)"
    r"\s+)*$"
)
# "closed the deal with David Kim today": the lead, then at most when it happened
_STATUS_OBJ = re.compile(r"^\s*(?:with|on|for|to)?\s*(?:the\s+)?"
                         r"(?:" + _L + r"+(?:'s)?|him|her|them)"
                         r"(?:\s+(?:deal|sale|house|home|property|file))?"
                         r"(?:\s+(?:today|this morning|this afternoon|tonight|just now|"
                         r"earlier(?: today)?|yesterday|last night|finally|officially))?"
                         r"[\s.!]*$")
# "we're in negotiations with Priya Patel": negotiating takes "with" the lead
_NEGOTIATING_OBJ = re.compile(r"^\s*with\s+(?:" + _L + r"+|him|her|them)[\s.!]*$")
# "<lead> status -> <word>" with no status verb, for a word that is not a status
_LEAD_STATUS_UNKNOWN = re.compile(
    r"^" + _L + r"+(?:'s)?\s+status\s*(?:->|:|=|-+|\bis\b|\bto\b|\bshould be\b)\s*['\"]?"
    r"(?P<x>[a-z][\w' -]{0,30}?)['\"]?[\s.!]*$"
)
# "Dana Cole signed!", "Dana just signed the contract": the deal is won
_LEAD_SIGNED = re.compile(
    r"^(?:" + _L + r"+|he|she|they)\s+(?:(?:just|finally|officially|has|have)\s+)*signed"
    r"(?:\s+(?:the\s+)?(?:contract|papers|paperwork|deal|offer|purchase agreement|p&s))?"
    r"(?=\s*(?:today|now)?[\s.!]*$)"
)
# "Disclosures sent to Dana Cole today", "the counter went out to Priya": done, so logged
_PASSIVE_TO_LEAD = re.compile(
    r"^(?!(?:i|we|he|she|they|you|please|pls|remind|can|could)\b)(?:[a-z0-9][\w'&/-]*\s+){1,5}?"
    r"(?:(?:was|were|got|has been|have been|just|already|finally|all|were all)\s+)*"
    r"(?P<verb>sent|went out|emailed|e-mailed|mailed|texted|delivered|dropped off|handed|"
    r"forwarded|given|shared|faxed|submitted|passed along)"
    r"(?:\s+(?:over|out|off|back|along))?\s+(?:to|for)\s+\x01")
_PASSIVE_TYPES = {"emailed": "email", "e-mailed": "email", "texted": "text"}
# "Dana Cole: loves the backyard", "Priya Patel - toured 3 condos": the lead, then what happened
_LEAD_COLON = re.compile(r"^\x01+(?:'s)?\s*(?::|[\u2013\u2014-]+)\s*")
# "thanks!", "thank you so much": nothing to do, but not "I didn't get that" either
_THANKS = re.compile(
    r"(?:(?:thanks?|thank (?:you|u)|tysm|cheers|much appreciated|appreciate (?:it|that)|"
    r"so much|a lot|a bunch|very much|again|you're the best|youre the best|"
    r"great|awesome|perfect|cool|nice|ok|okay)[\s!.,]*)+")
# a request for something ("delete Dana", "can you export my leads"), when none of ours matched
_ASK = re.compile(
    r"^(?:(?:please|pls|kindly|hey|hi|ok|okay|so|also|and)\s+)*"
    r"(?:(?:can|could|would|will) (?:you|u)|i (?:want|need) you to|i'?d like you to|"
    r"is there a way to|how (?:do|can) i|help me|go ahead and|"
    r"delete|remove|erase|merge|combine|export|import|download|upload|sync|connect|link|"
    r"integrate|share|forward|print|archive|assign|transfer|reassign|tag|rename|edit|change|"
    r"update|move|cancel|reschedule|send|email|text|call|find|search|look up|show|list|give|"
    r"get|pull|make|create|add|set|put|mark|book|schedule|track|post|publish|invite|generate|"
    r"draft|write|calculate|estimate|translate|summarize|back up|backup|restore|clear|reset)\b")
# what is said around commands without being one ("okay so", "hi!", "thanks", "yay")
_FILLER_WORDS = re.compile(
    r"\b(?:" + _COMMENT + r"|ok|okay|so|um+|uh+|hm+|hey|hi|hello|yo|quick|update|fyi|btw|"
    r"please|pls|thanks|thank you|thx|ty|and|also|then|well|alright|all right|right|anyway|oh|"
    r"yes|yeah|yep|sure|just|re|about|on|for|with|the|a|an|this|that|is|it|its|it's|here|later|"
    r"good (?:morning|afternoon|evening)|listen|note|ps|p\.s|one more thing|real quick|"
    r"when you (?:get a chance|can|have a (?:sec|second|minute|moment))|if you (?:could|can)|"
    r"i'?d appreciate it|(?:i )?(?:just )?wanted to let you know|heads up|quick note|"
    r"s|'s)\b|[^\w\s]")
# how an interaction went, said after it ("Showing with Dana today, she loved it")
_OUTCOME = re.compile(
    r"\b(?:went|was|were|loved|liked|hated|said|had|did|came|seemed|looked|felt|turned out|"
    r"no answer|no show|no-show|didn't|did not|wasn't|isn't|great|good|well|fine|positive|"
    r"interested|ready|keen|happy|pleased|[a-z]{3,}ed)\b")
# "Karen Lopez is closed won": a name nobody has, then a status (unknown_lead, not unknown)
_STRANGER_COPULA = re.compile(
    r"^(?P<name>[^\W\d_][\w'.-]*(?:\s+[^\W\d_][\w'.-]*){0,2})\s+"
    r"(?:is|are|was|has been|is now|'s)\s+(?:now\s+)?$"
)
# a to-do verb: with a lead and a time ahead, the clause is something to schedule
# ("send Mark Price the counter by EOD", "drop off the keys to April Jones sat")
_TODO_VERB = re.compile(
    r"^(?:please\s+|pls\s+|also\s+|then\s+)?(?:send|resend|drop off|drop|pick up|get back to|"
    r"prepare|prep|review|deliver|bring|print|mail|fax|finish|draft|write up|submit|sign|grab|"
    r"order|return|run|go over|walk|take|meet|see|visit|confirm|ask|tell|remind|invite|"
    r"reach out to|follow up|check in|touch base|circle back|ping)\b"
)
_NOTE_FILLER = re.compile(
    r"^(?:\s|[,;:.!?-]|\b(?:and|but|so|that|about|re|regarding|on the phone|over the phone|"
    r"by phone|on phone|for (?:coffee|lunch|dinner|breakfast|drinks|a coffee)|back|today|"
    r"just now|earlier|this morning|this afternoon|again|file|record|profile|notes?|said|"
    r"saying|up|for|from|me)\b)*",
)
# a dictated note trails off into the connective before the next command ("... an offer so")
# (and a sign-off: "... the disclosures thx" - shorthand already spelled out)
_NOTE_TAIL = re.compile(r"(?:[\s,;:.!-]|\b(?:so|and|then|also|but|plus)\b"
                        r"|(?<!no )\b(?:thanks|thank you|please)\b)+$")
_CONTACT_DETAIL = re.compile(
    r"(?:(?:and|with|her|his|their|the)\s+)*(?:phone|cell|mobile|number|tel|email|e-mail)"
    r"(?:\s+(?:number|address))?\b(?:\s+(?:is|at|of))?[\s:]*[\w+(]")
# a clause opened by a connective: what follows it decides the command
_CLAUSE_CONNECTIVE = re.compile(r"(?:(?:and|so|but|then|also|plus)\s+)+(?:(?:please|kindly)\s+)?")
_TITLE_LEAD_IN = re.compile(
    r"^(?:\s|[,;:.-]|\b(?:to|that|about|a|an|the|please|for|then|also|and)\b)*")
_TITLE_TAIL = re.compile(r"(?:[\s,;:.!?-]|(?<!no )\b(?:thanks|thank you|please)\b)+$")
_TITLE_EMPTY = re.compile(
    r"^(?:\s|[,;:.!?-]|\b(?:about|with|for|on|re|to|regarding|follow up|follow-up|followup|"
    r"a|an|the|reminder|task|up|me|"
    r"remind|tomorrow)\b|\x01)*$"
)
_VOICEMAIL = re.compile(r"\bleft\s+(?:\x01+\s+|him\s+|her\s+|them\s+)?(?:a\s+)?"
                        r"(voicemail|voice mail|voice message|message)\b")
_PLURAL = re.compile(r"\b(?:they|them|their|theirs|they're|both)\b")
# "log a call with Dana tomorrow": the type named outright, then only a lead and a time ahead
_LOG_A_TYPE = re.compile(r"^(?:please\s+|can you\s+|pls\s+)?(?:log|record)\s+(?:a|an)\s+$")
# "Dana wants to see it again saturday": what a lead asked for, on a day ahead, is to do
_LEAD_WANTS = re.compile(
    r"^\x01+(?:'s)?\s+(?:(?:really|also|still|now)\s+)?(?:wants|would like|'d like|wanna|needs|"
    r"asked|is asking|hopes|is hoping|plans|is planning)\s+to\b")
# "log that Kevin O'Neil is dead": a status said after "log that" is a status change
_LOG_THAT = re.compile(r"^(?:please\s+|can you\s+|pls\s+)?(?:log|record|note)\s+that\s+")
# "about the 3pm showing": a clock time owned by a noun names an event, not the due time
_ATTRIBUTIVE_TIME = re.compile(
    r"\b(?:the|her|his|their|my|our|your|its|this|that)\s+"
    r"(\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.|a|p)|\d{1,2}:\d\d)\s+"
    r"(?!(?:today|tomorrow|tmrw|tonight|on|at|this|next|in|by|mon|tue|wed|thu|fri|sat|sun|"
    r"morning|afternoon|evening)\w*\b)(?=[^\W\d_])", re.IGNORECASE)
_BOOKING_BEFORE = re.compile(r"\b(?:book|schedule|arrange|set up|plan|pencil in|confirm for|"
                             r"move|moved|reschedule)\s+$", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SPOKEN_EMAIL = re.compile(r"\b([\w.+-]+)\s+at\s+([\w-]+(?:\s+dot\s+[\w-]+)+)\b")
_PHONE = re.compile(r"(?<![\w@])\+?\(?\d[\d\s().-]*\d(?![\w@])")
_PHONE_LABEL = re.compile(r"(?i)\b(?:phone|cell|mobile|number|tel|ph|email|e-mail|mail|"
                          r"at|is|her|his|their|name|named|called)\b[:#]?")
_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3",
                "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_SPOKEN_DIGITS = re.compile(
    r"\b(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)[\s-]+){6,}"
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)\b"
)


def _local(now: datetime, ctx: AgentContext) -> datetime:
    if now.tzinfo is None:
        return now.replace(tzinfo=ctx.timezone)
    return now.astimezone(ctx.timezone)


def _month_first(ctx: AgentContext) -> bool:
    return ctx.country.upper() in MONTH_FIRST_COUNTRIES


def _phone_e164(text: str, country: str) -> str | None:
    """E.164 for a number as written, in the agent's country unless it has a +prefix."""
    try:
        number = phonenumbers.parse(text, country.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_NAME_STOP = frozenset(
    "he she they he's she's they're who who's she'll he'll they'll wants needs looking was "
    "has had".split()
)


def _clean_name(text: str) -> str:
    words = re.findall(r"[^\W\d_][\w'.-]*", text)
    words = [w for w in words if fold(w) not in {"lead", "client", "named", "name", "called",
                                                   "is", "new", "contact", "phone", "email",
                                                   "and", "a", "an", "the", "number", "cell",
                                                   "mobile", "with", "at", "his", "her"}]
    # the details after a dictated name are not part of it ("Jessica Alba she's looking for")
    for i, w in enumerate(words):
        if fold(w) in _NAME_STOP:
            words = words[:i]
            break
    name = " ".join(words[:4]).strip(" .,-")
    if name and name == name.lower():
        name = " ".join(w[:1].upper() + w[1:] for w in name.split())
        # "o'reilly" -> "O'Reilly", "d'angelo" -> "D'Angelo": the letter after the prefix too
        name = re.sub(r"\b([OD]')([^\W\d_])", lambda m: m.group(1) + m.group(2).upper(), name)
    return name


# --------------------------------------------------------------------------------------------
# One parse
# --------------------------------------------------------------------------------------------


@dataclass
class _Clause:
    start: int
    end: int  # the clause's own text
    family: str | None  # create / status / log / schedule / interaction (log or schedule)
    cmd_end: int = 0  # end of the command words ("remind me to", "log that"), absolute
    cue: Cue | None = None  # absolute offsets
    status: StatusMatch | None = None
    status_unknown: tuple[int, int] | None = None
    span_end: int = 0  # own text plus the command-less clauses glued after it
    stranger: bool = False  # the clause names someone who is not a lead ("Karen Lopez is won")
    note_before: tuple[int, int] | None = None  # "Jose wants a 3 bed, add a note": the note
    passive: bool = False  # "Disclosures sent to Dana": the whole clause is the note

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.span_end


class _Issue(Exception):
    """Something the agent must answer before the plan can be made; the plan is this answer."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan.kind)
        self.plan = plan


@dataclass
class _Parse:
    raw: str
    ctx: AgentContext
    now: datetime
    overrides: dict
    norm: str = ""
    low: str = ""
    masked: str = ""
    mentions: list[Mention] = field(default_factory=list)
    _whens: dict = field(default_factory=dict)
    _weak: list = field(default_factory=list)
    _group: list = field(default_factory=list)  # the leads a log is about ("Dana and Priya")
    _created: list = field(default_factory=list)  # new leads of this message, as LeadRefs
    _ext: dict = field(default_factory=dict)  # changes.py / selectors.py scratch space

    # ---- entry ---------------------------------------------------------------------------------

    def run(self) -> Plan:
        raw = self.raw or ""
        if len(raw) > MAX_CHARS:
            return Plan(kind="unknown", reply=replies.unknown(too_long=True))
        normalized = None  # normalize() is the costliest pure step: run it once per parse
        if not self.overrides:
            intent = detect_intent(raw)
            if intent is None:
                # shorthand spelled out first ("wat can u do", "undo pls"): help and undo only
                normalized = normalize(raw)
                spelled = detect_intent(normalized)
                intent = spelled if spelled in ("help", "undo") else None
            if intent is not None:
                return self._intent_plan(intent)
            # issue 19: "save template lv: ...", "templates", "log it" after a draft
            said = (templates.command(raw, self.ctx) or drafts.log_it(raw, self.ctx, self.now)
                    or said_setting(raw))  # "nudges off", "alerts at night on"
            if said is not None:
                return said
        prepared = templates.prepare(raw, self.ctx.templates)  # "Called Dana, LV"
        if prepared != raw:
            self.raw, raw, normalized = prepared, prepared, None
        if not self._read(normalized):
            return Plan(kind="unknown", reply=replies.unknown())
        answer = self._reminder_reply()
        if answer is not None:
            return answer
        try:
            drafted = drafts.request(self)  # issue 19: "Draft an email to Dana about ..."
            if drafted is not None:
                return drafted
            picked = selectors.find_selectors(self, self.mentions)  # "all my new leads"
            if picked is not self.mentions:
                self.mentions = picked
                self.masked = self._mask(self.low)
            query = self._query()
            if query is not None:
                return query
            return self._plan()
        except _Issue as issue:
            issue.plan.mentioned_lead_ids = self._mentioned_ids()
            return issue.plan
        except changes.ChangeAnswer as answer:  # issue 16: a question before a change
            return answer.plan

    def _read(self, normalized: str | None = None) -> bool:
        """Normalize, then find the lead mentions once; False when there is nothing to read."""
        if normalized is None:
            normalized = normalize(self.raw or "")
        self.norm = self._family_names(normalized)
        if not self.norm or not re.search(r"[^\W_]", self.norm):
            return False
        self.low = safe_lower(self.norm)
        # A weak fuzzy match of one word ("Karen" ~ Green) is more likely someone else.
        found = self.ctx.leads.find_mentions(self.norm)
        self.mentions = [m for m in found if m.exact or m.score >= MIN_FUZZY_SCORE]
        self._weak = [(m.start, m.end) for m in found if m not in self.mentions]
        self.mentions = self._join_strangers(self.mentions)
        self.masked = self._mask(self.low)
        return True

    def _family_names(self, text: str) -> str:
        """"the Smiths" (a family, or a couple) is a mention of the lead(s) named Smith."""
        def one(m: re.Match) -> str:
            word = m.group(1)
            if self.ctx.leads.is_name_word(fold(word)) or not self.ctx.leads.is_name_word(
                    fold(m.group(2))):
                return m.group(0)
            return m.group(2)
        return _FAMILY.sub(one, text)

    def _intent_plan(self, intent: str) -> Plan:
        if intent == "confirm":
            return Plan(kind="confirm", reply=replies.confirm())
        if intent == "cancel":
            return Plan(kind="cancel", reply=replies.cancel())
        if intent == "help":
            return Plan(kind="help", reply=replies.HELP)
        if intent == "undo":
            return Plan(kind="undo", reply=replies.undo())
        if intent == "login":  # the conversation makes the link; parsing alone makes none
            return Plan(kind="login", reply=replies.login())
        return Plan(kind="unknown", reply=replies.carrier_keyword())

    def _reminder_reply(self) -> Plan | None:
        """DONE / SNOOZE answering a reminder text; None when the message is something else."""
        said = match_reminder_reply(self.low)
        answer = self._reminder_answer(said, "") if said is not None else None
        if answer is None or (answer.kind == "clarify" and said.type == "snooze"):
            # "done, talked to him, all good": the reply, then what to log on its lead
            split = split_reminder_reply(self.low)
            if split is not None:
                return self._reminder_answer(split[0], self.norm[split[1]:].strip()) or answer
        return answer

    def _reminder_answer(self, said: ReminderReply, rest: str) -> Plan | None:
        extra = {"rest": rest} if rest else {}
        if said.type == "done":
            return Plan(kind="done", reply=replies.reminder_done(said.number),
                        reminder={"number": said.number, **extra})
        pinned = (self.overrides.get("due") or {}).get("snooze")
        if pinned:
            due = datetime.fromisoformat(pinned).astimezone(self.ctx.timezone)
        elif not said.time_text:
            due = (self.now + timedelta(hours=1)).replace(second=0, microsecond=0)
        else:
            when = find_when(said.time_text, self.now, month_first=_month_first(self.ctx))
            leftover = "" if when is None else said.time_text[:when.start] + said.time_text[
                when.end:]
            if when is None or re.search(r"[^\W_]", leftover):
                if not said.explicit:
                    return None  # "remind me tomorrow to call Dana" is a command
                return Plan(kind="clarify", reply=replies.snooze_when(),
                            clarify=self._clarify("due", "snooze"))
            if when.in_past or when.due_at is None or when.due_at <= self.now:
                return Plan(kind="clarify", reply=replies.past_time(when.text, when.due_at),
                            clarify=self._clarify("due", "snooze"))
            due = when.due_at.astimezone(self.ctx.timezone)
        return Plan(kind="snooze", reply=replies.reminder_snoozed(said.number, due),
                    reminder={"number": said.number, "due_at": due.isoformat(), **extra})

    def _join_strangers(self, mentions: list[Mention]) -> list[Mention]:
        """"Kevin Smith" is nobody when Kevin is Kevin O'Neil and Smith is Sarah Smith.

        Two adjacent one-word partial matches of different leads are one unknown name; it
        becomes a mention with no leads, which the parser answers with unknown_lead.
        """
        out: list[Mention] = []
        i = 0
        while i < len(mentions):
            m = mentions[i]
            n = mentions[i + 1] if i + 1 < len(mentions) else None
            if (n is not None and not m.exact and not n.exact
                    and self.norm[m.end:n.start] == " "
                    and len(self.norm[m.start:m.end].split()) == 1
                    and len(self.norm[n.start:n.end].split()) == 1
                    and not {x.id for x in m.leads} & {x.id for x in n.leads}):
                out.append(Mention(m.start, n.end, (), 0.0, False))
                i += 2
                continue
            stranger = self._stranger_next_to(m)
            if stranger is not None:
                out.append(Mention(*stranger, (), 0.0, False))
            else:
                out.append(m)
            i += 1
        return out

    def _stranger_next_to(self, m: Mention) -> tuple[int, int] | None:
        """A first or last name alone next to a name we do not know ("Karen Smith")."""
        if m.exact or len(self.norm[m.start:m.end].split()) != 1:
            return None
        before = re.search(r"([^\W\d_][\w'-]*) $", self.norm[:m.start])
        after = re.match(r" ([^\W\d_][\w'-]*)", self.norm[m.end:])
        for word, span in ((before, "before"), (after, "after")):
            if word is None:
                continue
            ws, we = (word.start(1), word.end(1)) if span == "before" else (
                m.end + word.start(1), m.end + word.end(1))
            text = self.norm[ws:we]
            if (ws, we) in self._weak:
                return (min(ws, m.start), max(we, m.end))
            capitalized = text[0].isupper() and not text.isupper()
            if span == "before":
                if self._first_name_said(m):
                    continue
                # "Zed Chen", "zed chen": a first name nobody has before a lead's surname
                # (in lowercase only where a person is named: "called zed cole", "zed cole is")
                prev = self.norm[:ws].split()[-1:] or [""]
                placed = not prev[0] or prev[0][-1] in ",;:.!?" or fold(prev[0]) in (
                    PERSON_BEFORE | {"and", "or", "&", "to"})
                if name_word(text, first=True) and fold(text) not in PERSON_BEFORE and (
                        capitalized or placed):
                    return (ws, m.end)
            # "Karen White", "karen white" when Karen is Karen Lopez: another person's surname
            # ("Dana Maple St" is Dana at an address; "sent dana comps" is Dana)
            elif not address_at(self.norm, ws):
                plain = fold(text).removesuffix("'s")
                # "mark karen zimmerman as lost": the status's lead, said in full
                owned = text.endswith("'s") or re.match(r"\s+(?:as|to)\s", self.low[we:])
                if (capitalized and name_word(text, first=False)) or plain in LOWER_SURNAMES or (
                        owned and (plain in NAME_LIKE_WORDS or name_word(text, first=True))):
                    return (m.start, we)
        return None

    def _first_name_said(self, m: Mention) -> bool:
        """Is the one word of mention `m` a first name of its leads ("John" of John Doe)?"""
        said = fold(re.sub(r"(?:'s|')$", "", self.norm[m.start:m.end]))
        return any(fold(lead.name.split()[0]) == said for lead in m.leads)

    def _mask(self, low: str) -> str:
        chars = list(low)
        for m in self.mentions:
            end = m.end
            # keep a possessive visible after the mask ("'s"), so patterns can see it
            if low[m.start:end].endswith("'s"):
                end -= 2
            elif low[m.start:end].endswith("'"):
                end -= 1
            for i in range(m.start, end):
                chars[i] = LEAD_MASK
        return "".join(chars)

    def _mentioned_ids(self) -> list[int]:
        ids: list[int] = []
        for m in self.mentions:
            lead = self._override_lead(m.start, m.end)
            leads = [lead] if lead else list(m.leads)
            if len(leads) == 1 and leads[0].id not in ids:
                ids.append(leads[0].id)
        return ids

    # ---- time ----------------------------------------------------------------------------------

    def _when(self, start: int, end: int) -> WhenMatch | None:
        """The time phrase in [start, end) with absolute offsets.

        Read on the text as said; only if the phrase found overlaps a lead's name ("April
        Jones", "Mark") is it read again with the names blanked out.
        """
        key = (start, end)
        if key not in self._whens:
            found = self._find_when(self.norm[start:end], start)
            if found is not None and any(m.start < found.end and found.start < m.end
                                         for m in self.mentions):
                text = "".join(" " if c == LEAD_MASK else o
                               for c, o in zip(self.masked[start:end], self.norm[start:end],
                                               strict=True))
                found = self._find_when(text, start)
            self._whens[key] = found
        return self._whens[key]

    def _find_when(self, text: str, offset: int) -> WhenMatch | None:
        text = _ATTRIBUTIVE_TIME.sub(
            lambda m: m.group(0) if _BOOKING_BEFORE.search(text, 0, m.start()) else
            m.group(0)[:m.start(1) - m.start()] + " " * len(m.group(1))
            + m.group(0)[m.end(1) - m.start():], text)
        found = find_when(text, self.now, month_first=_month_first(self.ctx))
        if found is None:
            return None
        if found.due_at is not None and _far_rollover(found, self.now):
            found = WhenMatch(found.start, found.end, found.text, None, True, found.has_time,
                              found.also)
        also = (found.also[0] + offset, found.also[1] + offset) if found.also else None
        return WhenMatch(found.start + offset, found.end + offset, found.text, found.due_at,
                         found.in_past, found.has_time, also)

    # ---- questions -----------------------------------------------------------------------------

    def _query(self) -> Plan | None:
        shape = match_query(self.low)
        if shape is None:
            return None
        if shape.type not in ("lead_status", "agenda", "leads_by_status"):
            return reading.query_plan(self, shape)  # issue 16's questions
        return self._query_for(shape)

    def _query_for(self, shape: QueryShape) -> Plan | None:
        if shape.type == "leads_by_status":
            query = {"type": "leads_by_status", "status": shape.status}
            return Plan(kind="query", reply=replies.leads_by_status_placeholder(shape.status),
                        query=query)
        if shape.type == "agenda":
            s, e = shape.slot or (len(self.low), len(self.low))
            day = self.now.date()
            if self.low[s:e].strip():
                when = self._when(s, e)
                rest = self.low[s:e]
                if when is not None:
                    rest = self.low[s:when.start] + " " + self.low[when.end:e]
                if re.sub(r"\b(?:for|on|of|today|my|the|this|please|pls|me|do i have|is|"
                          r"are|there|scheduled|planned|have|due|agenda|week|like|look|looks|"
                          r"looking|going on|got|back)\b|[\s?.!,]", "",
                          rest):
                    return None
                if when is not None and when.due_at is not None:
                    day = reading.question_day(when, when.due_at.date(), self.now.date())
                elif when is not None and when.in_past:
                    return None
            query = {"type": "agenda", "day": day.isoformat()}
            return Plan(kind="query", reply=replies.agenda_placeholder(f"{day:%a %b} {day.day}"),
                        query=query)
        s, e = shape.slot or (0, 0)
        inside = [m for m in self.mentions if m.start >= s and m.end <= e + 2]
        stranger = ""
        if inside:
            rest = self.masked[s:e].replace(LEAD_MASK, "").replace("'s", "")
            stranger = re.sub(r"\b(?:the|my|lead|client|deal|with|now|at|doing|current)\b"
                              r"|[\s?'.!]", "", rest)
        if inside and stranger and find_status(self.masked, inside[-1].end, e) is not None:
            return None  # "status for Bob White: Qualified" sets it
        if inside and not stranger:
            lead = self._lead_of(inside[0])
            query = {"type": "lead_status", "lead_id": lead.id, "lead": lead.name}
            return Plan(kind="query", reply=replies.lead_status(lead), query=query,
                        mentioned_lead_ids=[lead.id])
        said = re.sub(r"(?:'s|s')$", "", self.norm[s:e].strip())
        tokens = re.findall(r"[^\W\d_]+", said)
        words = [fold(w) for w in tokens]
        capitalized_name = len(tokens) >= 2 and all(t[0].isupper() for t in tokens)
        # "what's karen white's status": two or three plain words owning a status are a name,
        # even in lower case and even when one is an everyday word ("white")
        owned_name = (2 <= len(words) <= 3 and re.search(r"(?:'s|s')\s*$", self.norm[s:e])
                      and not any(w in _NOT_A_NAME for w in words))
        if words and len(words) <= 3 and (capitalized_name or owned_name or
                                          not any(w in COMMON_WORDS for w in words)):
            raise _Issue(self._unknown_lead(said))
        pron = _PRONOUN.fullmatch(said.lower()) if said else None
        if pron and self.ctx.recent_lead_ids:
            lead = self.ctx.leads.get(self.ctx.recent_lead_ids[-1])
            if lead is not None:
                query = {"type": "lead_status", "lead_id": lead.id, "lead": lead.name}
                return Plan(kind="query", reply=replies.lead_status(lead), query=query)
        return None

    # ---- commands ------------------------------------------------------------------------------

    def _plan(self) -> Plan:
        spans = split_clauses(self.low, [(m.start, m.end) for m in self.mentions]
                              + self._listed_names())
        spans = [part for s, e in spans for part in self._split_pronoun_status(s, e)]
        spans = [part for s, e in spans for part in self._split_after_details(s, e)]
        clauses: list[_Clause] = []
        lead_in: int | None = None  # a command-less first clause: "next tuesday, remind me ..."
        orphan: tuple[int, int] | None = None  # a command-less first clause of content
        for s, e in spans:
            s, e = self._trim(s, e)
            if s >= e:
                continue
            clause = self._classify(s, e, first=not clauses)
            if clauses and clauses[-1].family in ("create", "update_lead") and \
                    _CONTACT_DETAIL.match(self.low, s, e):
                clause = _Clause(s, e, None)  # "new lead Jane Roe, phone 312-..., email j@x.com"
            if clause.family is None and not clauses and orphan is not None:
                clause = self._lead_then_status(orphan, s, e) or clause
                if clause.family is not None:
                    orphan = None
            if clause.family is None:
                if clauses:
                    clauses[-1].span_end = e
                elif lead_in is None and self._leads_with_when(s, e):
                    lead_in = s
                else:
                    orphan = (orphan[0] if orphan else s, e)
                continue
            if lead_in is not None and not clauses:
                clause.start = lead_in
            elif orphan is not None and not clauses and self._bare_note(clause):
                clause.note_before = orphan
                clause.start = orphan[0]
                orphan = None
            clause.span_end = e
            clauses.append(clause)
        if not clauses:
            return self._no_command()
        # Nothing said disappears: what no action keeps is named in the reply.
        left_out = [orphan] if orphan is not None else []
        left_out += [(c.end, c.span_end) for c in clauses if c.family == "status"
                     and c.span_end > c.end]
        actions: list[Action] = []
        last_leads: list[LeadRef] = []
        for clause in clauses:
            for action in self._actions(clause, actions, last_leads):
                if not any(_same(action, a) for a in actions):
                    actions.append(action)
        actions = templates.expand_notes(actions, self.ctx)  # issue 19: "Called Dana, lv"
        if not actions:
            return self._no_command()
        mentioned = self._mentioned_ids()
        for a in actions:
            lead_id = getattr(a, "lead_id", None)
            if lead_id is not None and lead_id > 0 and lead_id not in mentioned:
                mentioned.append(lead_id)
        statuses = {a.status for a in actions if isinstance(a, UpdateStatus)}
        said = [self.norm[a:b].strip(" ,;:.!?-") for a, b in left_out
                if self._has_content(a, b) and not self._same_status(a, b, statuses)]
        # issue 16: actions that would change nothing are left out (said why), or kind noop
        return changes.finish(self, actions, mentioned, not_understood=said)

    def _same_status(self, s: int, e: int, statuses: set[str]) -> bool:
        """Does norm[s:e] say a status the plan sets anyway ("..., closed won")?"""
        found = find_status(self.masked, s, e)
        return found is not None and found.status in statuses

    def _has_content(self, s: int, e: int) -> bool:
        """Does norm[s:e] say something, beyond lead names, greetings and comments?"""
        rest = _FILLER_WORDS.sub(" ", self.masked[s:e].replace(LEAD_MASK, " "))
        return re.search(r"[^\W\d_]{2,}", rest) is not None

    def _listed_names(self) -> list[tuple[int, int]]:
        """Names that go on a list of leads ("Dana Cole and Zed Zimmerman"): kept in the list's
        clause like a lead's name, so the list is read whole (and is unknown_lead)."""
        out = []
        for m in self.mentions:
            gap = re.match(r"\s*(?:,\s*and|and|&)\s+", self.low[m.end:])
            named = name_at(self.norm, m.end + gap.end(), len(self.norm)) if gap else None
            if named is not None and not self._is_mentioned(*named):
                out.append(named)
        return out

    def _lead_then_status(self, lead: tuple[int, int], s: int, e: int) -> _Clause | None:
        """"John Smith, qualified": a clause that is only a lead, then one that is only a status."""
        if self.masked[lead[0]:lead[1]].replace(LEAD_MASK, "").replace("'s", "").strip(" -:"):
            return None
        found = find_status(self.masked, s, e)
        if found is None or self.masked[s:found.start].strip(" -:") \
                or not _TRAILING_STATUS_FILLER.match(self.masked[found.end:e]):
            return None
        return _Clause(lead[0], e, "status", cmd_end=found.start, status=found)

    def _bare_note(self, c: _Clause) -> bool:
        """An "add a note" with nothing after it: the note is what was said just before."""
        if c.family != "log" or c.cue is None or c.cue.type != "note":
            return False
        rest = self.masked[c.cmd_end:c.end]
        return not re.sub(r"[\s.!,:;-]|\b(?:please|thanks|to (?:his|her|their|the) "
                          r"(?:file|profile|record))\b", "", rest)

    def _split_pronoun_status(self, s: int, e: int) -> list[tuple[int, int]]:
        """Speech: "spoke with sarah she's negotiating now" is a call, then a status."""
        m = _PRONOUN_COPULA.search(self.masked, s, e)
        if m is None or m.start() <= s:
            return [(s, e)]
        found = find_status(self.masked, m.end(), e)
        if found is None or not _TRAILING_STATUS_FILLER.match(self.masked[found.end:e]):
            return [(s, e)]
        if self._classify(*self._trim(s, m.start()), first=True).family is None:
            return [(s, e)]
        return [(s, m.start()), (m.start(), e)]

    def _split_after_details(self, s: int, e: int) -> list[tuple[int, int]]:
        """Speech: "new lead nina park 312 555 0142 met her at the open house" is a new lead,
        then a meeting: a command after the new lead's phone or email is a clause of its own."""
        ts, te = self._trim(s, e)
        if ts >= te or not (_CREATE.match(self.masked, ts, te) or
                            _CREATE_AS.match(self.masked, ts, te)):
            return [(s, e)]
        ends = [m.end() for m in (*_PHONE.finditer(self.norm, ts, te),
                                  *_EMAIL.finditer(self.norm, ts, te))]
        if not ends:
            return [(s, e)]
        cut = max(ends)
        rest = self._trim(cut, e)
        if rest[0] >= rest[1] or self._classify(*rest, first=False).family is None:
            return [(s, e)]
        return [(s, cut), (cut, e)]

    def _trim(self, s: int, e: int) -> tuple[int, int]:
        while s < e and not self.low[s].isalnum() and self.low[s] not in "\x01+(":
            s += 1
        m = _CLAUSE_CONNECTIVE.match(self.low, s, e)
        if m and m.end() < e:  # ", and schedule ...", ", so please mark her lost"
            s = m.end()
        while e > s and self.low[e - 1] in " \t,;":
            e -= 1
        return s, e

    def _no_command(self) -> Plan:
        start = len(self.norm) - len(self.norm.lstrip())
        named = name_at(self.norm, start, len(self.norm)) if not self.mentions else None
        words = self.norm[named[0]:named[1]].split() if named is not None else []
        if len(words) > 1 and not self.norm[named[1]:].strip(" ?.!") and (
                self.norm[named[0]].isupper() or ("?" in self.norm[named[1]:] and not any(
                    fold(w) in COMMON_WORDS for w in words))):
            raise _Issue(self._unknown_lead(self._said(named)))  # "Zed Zimmerman?"
        if self.mentions and len(self.mentions) == 1:
            m = self.mentions[0]
            rest = self.masked.replace(LEAD_MASK, "").replace("'s", "")
            if not re.sub(r"[\s?.!]|\b(?:status)\b", "", rest):
                lead = self._lead_of(m)
                query = {"type": "lead_status", "lead_id": lead.id, "lead": lead.name}
                return Plan(kind="query", reply=replies.lead_status(lead), query=query,
                            mentioned_lead_ids=[lead.id])
        if _THANKS.fullmatch(self.low.strip()):
            return Plan(kind="unknown", reply=replies.welcome())
        if _ASK.match(self.low):  # a request, just not one we can carry out
            return Plan(kind="unknown", reply=replies.cannot_yet(),
                        mentioned_lead_ids=self._mentioned_ids())
        return Plan(kind="unknown", reply=replies.unknown(),
                    mentioned_lead_ids=self._mentioned_ids())

    def _leads_with_when(self, s: int, e: int) -> bool:
        """The clause is a time phrase said before its command ("Monday morning call Tom")."""
        when = self._when(s, e)
        return when is not None and when.start == s and (
            when.end == e or not self.masked[when.end:e].strip(" ,;:-"))

    def _classify(self, s: int, e: int, first: bool) -> _Clause:
        """Which command, if any, this clause gives (it may still lack a lead or a value)."""
        clause = self._classify_at(s, e, first)
        if clause.family is not None:
            return clause
        when = self._when(s, e)
        if when is None or when.start != s or when.end >= e:
            return clause
        inner_s, inner_e = self._trim(when.end, e)
        if inner_s >= inner_e:
            return clause
        inner = self._classify_at(inner_s, inner_e, first)
        if inner.family is None:
            return clause
        inner.start = s  # the time said first still dates the command that follows it
        return inner

    def _classify_at(self, s: int, e: int, first: bool) -> _Clause:
        text = self.masked[s:e]
        change = changes.classify(self, s, e)  # issue 16: reschedule/cancel/complete/update_lead
        if change is not None:
            return _Clause(s, e, change[0], cmd_end=change[1])
        m = _CREATE.match(text) or _CREATE_AS.match(text)
        if m:
            return _Clause(s, e, "create", cmd_end=s + m.end())
        m = _LOG_EXPLICIT.match(text)
        if m and not re.match(r"(?:log|note)\s+(?:in|into|on)\b(?!\s*\x01)", text):
            cue = self._cue(s, e, from_=s + m.end())
            if text.startswith(("add a note", "add note", "make a note", "note", "jot")):
                cue = Cue(s, s + m.end(), "note", "explicit")
            elif cue is None:
                cue = Cue(s, s + m.end(), "note", "explicit")
            if cue.type != "note" and _LOG_A_TYPE.match(self.masked[s:cue.start]):
                when = self._when(s, e)
                if when is not None and self._ahead(when):
                    rest = "".join(self.masked[a:b] for a, b in _gaps(cue.end, e,
                                                                       _when_spans(when)))
                    if not re.sub(r"[\x01\s,:'-]|\b(?:s|on|at|with|for|w)\b", "", rest):
                        return _Clause(s, e, "schedule", cmd_end=cue.start)
            that = _LOG_THAT.match(text)
            if that and text.startswith(LEAD_MASK, that.end()):
                said = self._status_clause(s + that.end(), e, text[that.end():])
                if said is not None:
                    return said
            return _Clause(s, e, "log", cmd_end=s + m.end(), cue=cue)
        m = _SCHEDULE.match(text) or _REMIND_ANYWHERE.search(text)
        if m and not (m.group().strip() in ("should", "must") and not first):
            cmd_end = s + m.end()
            return _Clause(s, e, "schedule", cmd_end=cmd_end, cue=self._cue(s, e, from_=cmd_end))
        m = _FOLLOW_UP.match(text)
        if m:
            return _Clause(s, e, "schedule", cmd_end=s, cue=None)
        status_clause = self._status_clause(s, e, text)
        if status_clause is not None:
            return status_clause
        passive = _PASSIVE_TO_LEAD.match(text)
        if passive:
            itype = _PASSIVE_TYPES.get(passive.group("verb"), "note")
            return _Clause(s, e, "log", cmd_end=s, cue=Cue(s, s, itype, "past"), passive=True)
        cue = self._cue(s, e)
        if cue is not None:
            prefix = self.masked[s:cue.start]
            if cue.form == "past" and _PAST_START.match(prefix):
                return _Clause(s, e, "log", cmd_end=cue.end, cue=cue)
            if cue.form == "past" and self._stranger_subject(s, cue.start):
                # "Zed Zimmerman called back": told about someone who is no lead
                return _Clause(s, e, "log", cmd_end=cue.end, cue=cue, stranger=True)
            if cue.form == "imperative" and not re.match(r"\s+(?:me|us)\b", self.masked[cue.end:e]):
                return _Clause(s, e, "interaction", cmd_end=s, cue=cue)
            if cue.form == "noun" and _NOUN_START.match(prefix):
                return _Clause(s, e, "interaction", cmd_end=s, cue=cue)
        if _TODO_VERB.match(text) and (LEAD_MASK in text or _PRONOUN.search(text)):
            when = self._when(s, e)
            if when is not None:
                return _Clause(s, e, "schedule", cmd_end=s)
        if first and _LEAD_WANTS.match(text):
            when = self._when(s, e)
            if when is not None and self._ahead(when) and when.due_at - self.now < timedelta(
                    days=15):
                return _Clause(s, e, "schedule", cmd_end=s)
        event = _EVENT_WITH_LEAD.match(text)
        if text.startswith(LEAD_MASK) or event:
            # "Dana Cole friday at 2", "closing with Robert Brown 3/14 at noon": a date ahead
            # next to a lead (and what is happening) is something to do
            when = self._when(s, e)
            if when is not None and not when.in_past:
                begin = s + event.end() if event else s
                rest = "".join(self.masked[a:b] for a, b in _gaps(begin, e, _when_spans(when)))
                if not re.sub(r"[\x01\s,:'-]|\b(?:s|on|at)\b", "", rest):
                    return _Clause(s, e, "schedule", cmd_end=s)
        colon = _LEAD_COLON.match(text) if first else None
        if colon is not None:
            # "Dana Cole: loves the backyard, ...": what happened (a command said there is that
            # command: "Dana Cole: call her tomorrow")
            rs, re_ = self._trim(s + colon.end(), e)
            if rs < re_:
                inner = self._classify_at(rs, re_, first=True)
                if inner.family is not None:
                    inner.start = s
                    return inner
                cue = self._cue(rs, re_) or Cue(rs, rs, "note", "explicit")
                return _Clause(s, e, "log", cmd_end=rs, cue=cue)
        return _Clause(s, e, None)

    def _stranger_subject(self, s: int, e: int) -> bool:
        """Is norm[s:e] a name nobody has, as the subject ("Zed Zimmerman", "Zed:")?"""
        named = name_at(self.norm, s, e)
        return named is not None and named[0] == s and not self._is_mentioned(*named) and \
            re.fullmatch(r"(?:'s)?[\s:,\u2013\u2014-]*(?:(?:just|also|finally)\s+)?",
                         self.norm[named[1]:e]) is not None

    def _ahead(self, when: WhenMatch) -> bool:
        return not when.in_past and when.due_at is not None and when.due_at > self.now

    def _cue(self, s: int, e: int, from_: int | None = None) -> Cue | None:
        start = s if from_ is None else from_
        cue = find_cue(self.masked[start:e])
        if cue is None:
            return None
        return Cue(cue.start + start, cue.end + start, cue.type, cue.form)

    def _status_clause(self, s: int, e: int, text: str) -> _Clause | None:
        verb = _STATUS_VERB.match(text)
        if verb:
            found = find_status(self.masked, s + verb.end(), e)
            if found is not None and not (found.status == "follow_up" and
                                          re.match(r"\s*with\b", self.masked[found.end:e])):
                return _Clause(s, e, "status", cmd_end=s + verb.end(), status=found)
            unknown = _STATUS_UNKNOWN.search(text, verb.end())
            has_lead = LEAD_MASK in text or _PRONOUN.search(text) or "status" in text
            if unknown and has_lead:
                x0, x1 = unknown.span("x")
                heard = canonical_status(unknown.group("x"))
                if heard is not None and LEAD_MASK not in unknown.group("x"):
                    return _Clause(s, e, "status", cmd_end=s + verb.end(),
                                   status=StatusMatch(s + x0, s + x1, heard))
                if LEAD_MASK not in unknown.group("x"):
                    return _Clause(s, e, "status", cmd_end=s + verb.end(),
                                   status_unknown=(s + x0, s + x1))
            if has_lead and (text.startswith(("update", "change", "set")) and "status" in text):
                return _Clause(s, e, "status", cmd_end=s + verb.end(), status_unknown=(e, e))
            return None
        found = find_status(self.masked, s, e)
        if found is None:
            signed = _LEAD_SIGNED.match(text)
            if signed:
                at = s + text.index("signed", 0, signed.end())
                return _Clause(s, e, "status", cmd_end=at,
                               status=StatusMatch(at, at + len("signed"), "closed_won"))
            said = _LEAD_STATUS_UNKNOWN.match(text)
            if said:  # "priya patel status -> pending": a status we do not have (clarify)
                return _Clause(s, e, "status", cmd_end=s + said.start("x"),
                               status_unknown=(s + said.start("x"), s + said.end("x")))
            return None
        before = self.masked[s:found.start]
        after = self.masked[found.end:e]
        if (_LEAD_COPULA.search(before) and _TRAILING_STATUS_FILLER.match(after)
                and (LEAD_MASK in before or _PRONOUN.search(before))):
            return _Clause(s, e, "status", cmd_end=found.start, status=found)
        if _STATUS_THEN_LEAD.match(before) and found.status in ("closed_won", "closed_lost",
                                                                 "contacted") \
                and _STATUS_OBJ.match(after):
            return _Clause(s, e, "status", cmd_end=found.start, status=found)
        if _STATUS_THEN_LEAD.match(before) and found.status == "negotiating" \
                and _NEGOTIATING_OBJ.match(after):
            return _Clause(s, e, "status", cmd_end=found.start, status=found)
        if re.search(r"\bstatus\b", before) and LEAD_MASK in before \
                and _TRAILING_STATUS_FILLER.match(after):
            return _Clause(s, e, "status", cmd_end=found.start, status=found)
        stranger = _STRANGER_COPULA.match(before)
        if (stranger and LEAD_MASK not in before and _TRAILING_STATUS_FILLER.match(after)
                and not any(fold(w) in COMMON_WORDS or _PRONOUN.fullmatch(w)
                            for w in stranger.group("name").split())):
            return _Clause(s, e, "status", cmd_end=s, status=found, stranger=True)
        return None

    # ---- actions -------------------------------------------------------------------------------

    def _actions(self, c: _Clause, done: list[Action], last: list[LeadRef]) -> list[Action]:
        if c.family == "create":
            created = self._create(c)
            # "New lead Marcus Bell ..., met him at the open house": he is the new lead
            last[:] = [LeadRef(new_lead_ref(len(done)), created.name, "new", created.phone)]
            self._created.append(last[0])
            return [created]
        if c.family in changes.FAMILIES:  # issue 16: changing what is there
            return changes.actions(self, c, last)
        picked = selectors.selection_in(self, c.start, c.end)  # "all my new leads"
        if picked is not None and picked.total > selectors.MAX_PICKED:
            raise _Issue(selectors.too_many(picked))
        if picked is not None and not picked.leads:
            return [changes.NoopAction(selectors.nobody(picked))]
        family = c.family
        if family == "interaction":
            family = self._log_or_schedule(c)
        if family == "log" and self._continues_log(c, done):
            prev = done[-1]
            assert isinstance(prev, LogInteraction)
            extra = self._note_text(c.start, c.span_end, keep_all=True)
            note = "; ".join(x for x in (prev.note, extra) if x)
            done[-1] = LogInteraction(prev.lead_id, prev.lead, prev.interaction_type, note)
            return []
        leads = self._leads_for(c, last)
        last[:] = leads
        if family == "status":
            return [self._status_action(c, lead) for lead in leads]
        if family == "log":
            self._group = leads
            return [self._log_action(c, lead) for lead in leads]
        # "f/u w/ Bob White and Will Turner tmrw": one follow-up per lead named in the list
        made = [self._schedule_action(c, lead, leads) for lead in leads]
        return selectors.retitle(self, picked, made) if picked is not None else made

    def _log_or_schedule(self, c: _Clause) -> str:
        s, e = c.span
        if c.cue is not None and _DONE_START.match(self.low[c.start:c.cue.start]):
            return "log"  # "Had a great meeting with Rachel today" is done, whatever the time
        # Only the clause's own words date it: a time in the glued-on note is what the lead
        # said ("Quick call w Bob, he wants to list in April" is a call logged today).
        when = self._when(c.start, c.end)
        if when is not None:
            if when.in_past and c.cue is not None and c.cue.form == "imperative":
                return "schedule"  # "call Dana this morning" at 3 pm: a to-do in the past
            if (not when.in_past and not when.has_time and when.due_at is not None
                    and when.due_at.date() == self.now.date() and c.cue is not None
                    and c.cue.form == "noun" and _OUTCOME.search(self.low, c.end, c.span_end)):
                return "log"  # "Showing with Dana today, she loved it": how it went
            return "log" if when.in_past else "schedule"
        if c.cue is not None and c.cue.form == "imperative":
            return "schedule"
        return "log"

    def _continues_log(self, c: _Clause, done: list[Action]) -> bool:
        """A second clause about the same call ("Called Dana, left her a voicemail") is its note."""
        if not done or not isinstance(done[-1], LogInteraction) or c.cue is None:
            return False
        if any(c.start <= m.start < c.end for m in self.mentions):
            return False
        explicit = self.masked[c.start:c.end].startswith(("log", "add a note", "note"))
        return done[-1].interaction_type == c.cue.type and not explicit

    # ---- leads ---------------------------------------------------------------------------------

    def _override_lead(self, s: int, e: int) -> LeadRef | None:
        lead_id = (self.overrides.get("lead") or {}).get(f"{s}:{e}")
        return self.ctx.leads.get(int(lead_id)) if lead_id is not None else None

    def _lead_of(self, m: Mention) -> LeadRef:
        pinned = self._override_lead(m.start, m.end)
        if pinned is not None:
            return pinned
        if len(m.leads) == 1:
            return m.leads[0]
        said = self.norm[m.start:m.end]
        said = re.sub(r"(?:'s|')$", "", said)
        if not m.leads:
            raise _Issue(self._unknown_lead(said))
        raise _Issue(Plan(
            kind="clarify",
            reply=replies.ambiguous_lead(said, m.leads),
            clarify=self._clarify("lead", f"{m.start}:{m.end}", options=[x.id for x in m.leads],
                                  names=[x.name for x in m.leads]),
        ))

    def _clarify(self, kind: str, key: str, **extra) -> dict:
        return {"type": kind, "key": key, "message": self.raw,
                "recent": list(self.ctx.recent_lead_ids), "overrides": self.overrides, **extra}

    def _leads_for(self, c: _Clause, last: list[LeadRef]) -> list[LeadRef]:
        """The leads a command is about: named in it, a pronoun, or the last one named."""
        picked = selectors.selection_in(self, c.start, c.end)  # issue 16: "everyone I called"
        if picked is not None:
            return list(picked.leads)
        own = [m for m in self.mentions if c.start <= m.start < c.end]
        if c.family == "status" and c.status is not None:
            own = [m for m in own if m.start < c.status.start] or own
        if own:
            group = [own[0]]
            for m in own[1:]:
                gap = self.low[group[-1].end:m.start]
                listed = re.fullmatch(r"\s*(?:,|and|&|,\s*and)\s*", gap)
                if listed and c.family in ("status", "log", "schedule", "interaction"):
                    group.append(m)
                else:
                    break
            self._stranger_in_list(group[-1].end, max(c.end, c.span_end))
            return [self._lead_of(m) for m in group]
        pinned = self._override_lead(-1, c.start)
        if pinned is not None:
            return [pinned]
        # A name said that is none of the leads is never swapped for a lead named earlier or
        # in the previous message: only a pronoun, or no name at all, means those.
        said = self._said_name(c)
        for lead in self._created if said else ():
            if set(fold(said).split()) <= set(fold(lead.name).split()):
                return [lead]  # the name just given to a new lead ("..., met Nina there")
        if said or c.stranger:
            raise _Issue(self._unknown_lead(said or self._name_slot(c)))
        before = [m for m in self.mentions if m.end <= c.start]
        if last:
            # "met Jane and John Doe, mark them negotiating": they / them / their is the couple
            if len(last) > 1 and _PLURAL.search(self.masked, c.start, c.end):
                return list(last)
            return [last[-1]]
        if before:
            return [self._lead_of(before[-1])]
        for lead_id in reversed(list(self.ctx.recent_lead_ids)):
            lead = self.ctx.leads.get(lead_id)
            if lead is not None:
                return [lead]
        said = self._name_slot(c)
        if said:
            raise _Issue(self._unknown_lead(said))
        raise _Issue(Plan(kind="clarify", reply=replies.which_lead(),
                          clarify=self._clarify("lead", f"-1:{c.start}", options=[])))

    def _stranger_in_list(self, after: int, end: int) -> None:
        """"called Dana and Karen White": a list of leads that goes on to someone unknown."""
        gap = re.match(r"\s*(?:,\s*and|,|and|&)\s+", self.low[after:end])
        if gap is None:
            return
        at = after + gap.end()
        weak = next(((ws, we) for ws, we in self._weak if ws == at), None)
        if weak is None:
            named = name_at(self.norm, at, end)
            # after a comma only a capitalized name goes on with the list ("called dana, busy")
            if named is not None and not self._is_mentioned(*named) and (
                    gap.group().strip() != "," or self.norm[named[0]].isupper()):
                raise _Issue(self._unknown_lead(self.norm[named[0]:named[1]]))
            return
        said = self.norm[weak[0]:weak[1]]
        more = re.match(r" ([^\W\d_][\w'-]*)", self.norm[weak[1]:end])
        if more and (more.group(1)[0].isupper() or fold(more.group(1)) not in COMMON_WORDS):
            said += more.group()
        raise _Issue(self._unknown_lead(said))

    def _said_name(self, c: _Clause) -> str:
        """A person's name said where this command's lead belongs, matching no lead ("" when
        the place holds a pronoun, or nothing that looks like a name): see `names_said`."""
        s, e = c.start, c.end
        if c.family == "status" and c.cmd_end > s:
            # "mark ___ as lost", "update ___'s status to lost": all of it names the lead
            stop = c.status.start if c.status is not None else (
                c.status_unknown[0] if c.status_unknown is not None else e)
            for m in re.finditer(r"[^\W\d_][\w'.-]*", self.norm[:stop]):
                if m.start() < c.cmd_end:
                    continue
                if pronoun_at(self.norm, m.start()):
                    return ""
                named = name_at(self.norm, m.start(), stop)
                if named is not None:
                    return self._said(named)
            return ""
        subject = name_at(self.norm, s, e)
        if subject is not None and subject[0] == s and (re.match(
                r"(?:'s)?\s*(?:[:\-\u2013\u2014]|\s[a-z]+(?:ed|s)\b)", self.norm[subject[1]:e])
                or (re.fullmatch(r"[A-Z]\S*(?: [A-Z]\S*)+", self.norm[subject[0]:subject[1]])
                    and re.match(r" [a-z]", self.norm[subject[1]:e]))):
            # "Zed Zimmerman: called", "Zed called back", "Zed Zimmerman gave us the nod"
            return self._said(subject)
        for at in after_person_word(self.norm, s, e):
            if pronoun_at(self.norm, at):
                return ""
            named = name_at(self.norm, at, e)
            if named is not None and not self._is_mentioned(*named):
                return self._said(named)
        return ""

    def _said(self, span: tuple[int, int]) -> str:
        return re.sub(r"(?:'s|s')$", "", self.norm[span[0]:span[1]])

    def _is_mentioned(self, s: int, e: int) -> bool:
        return any(m.start < e and s < m.end for m in self.mentions)

    def _name_slot(self, c: _Clause) -> str:
        """Words that look like a name nobody matched ("Karen White"), for unknown_lead."""
        start = c.cmd_end if c.cmd_end > c.start else c.start
        if c.cue is not None and c.cue.end > start:
            start = c.cue.end
        tokens = list(re.finditer(r"[^\W\d_][\w'.-]*", self.norm[c.start:c.end]))
        run: list[str] = []
        for i, t in enumerate(tokens):
            abs_start = c.start + t.start()
            word = fold(t.group()).rstrip(".")
            word = re.sub(r"'s$", "", word)
            common = word in COMMON_WORDS or _PRONOUN.fullmatch(word) is not None
            if common and run and t.group()[0].isupper() and word not in _COMMAND_WORDS:
                common = False  # "Karen White": a capitalized everyday word after a name
            if common:
                if run:
                    break
                continue
            near = abs_start >= start - 1 and len(self.low[start:abs_start].split()) <= 3
            cap = t.group()[0].isupper() and i > 0
            if near or cap:
                run.append(re.sub(r"'s$", "", t.group()))
                if len(run) == 3:
                    break
            elif run:
                break
        return " ".join(run)

    def _unknown_lead(self, said: str) -> Plan:
        closest = self.ctx.leads.suggest(said)
        return Plan(kind="unknown_lead", reply=replies.unknown_lead(said, closest))

    # ---- building each action -----------------------------------------------------------------

    def _status_action(self, c: _Clause, lead: LeadRef) -> UpdateStatus:
        status = c.status.status if c.status is not None else None
        if c.status_unknown is not None:
            key = f"{c.status_unknown[0]}:{c.status_unknown[1]}"
            status = (self.overrides.get("status") or {}).get(key)
            if status is None:
                said = self.norm[c.status_unknown[0]:c.status_unknown[1]]
                raise _Issue(Plan(kind="clarify", reply=replies.unknown_status(said),
                                  clarify=self._clarify("status", key, lead=lead.name)))
        return UpdateStatus(lead.id, lead.name, status, old_status=lead.status)

    def _log_action(self, c: _Clause, lead: LeadRef) -> LogInteraction:
        itype = c.cue.type if c.cue is not None else "note"
        if c.passive:  # "Disclosures sent to Dana Cole today": all but the lead and the time
            when = self._when(c.start, c.end)
            note = self._note_pieces(c.start, c.span_end, _when_spans(when) if when else None,
                                     lead)
            return LogInteraction(lead.id, lead.name, itype, self._clean_note(note))
        if c.note_before is not None:
            bs, be = c.note_before
            return LogInteraction(lead.id, lead.name, itype,
                                  self._clean_note(self._note_pieces(bs, be, None, lead)))
        note = self._note_text(c.start, c.span_end, cmd_end=c.cmd_end, cue=c.cue,
                               clause_end=c.end, lead=lead)
        return LogInteraction(lead.id, lead.name, itype, note)

    def _note_text(self, s: int, e: int, cmd_end: int | None = None, cue: Cue | None = None,
                   keep_all: bool = False, clause_end: int | None = None,
                   lead: LeadRef | None = None) -> str:
        """The content of a log: what was said after the command words and the lead's name."""
        if keep_all:
            return self._clean_note(self.norm[s:e])
        own_end = min(e, max(cmd_end or s, cue.end if cue else s))
        own_clause_end = clause_end if clause_end is not None else e
        start = own_end
        # the lead (and a possessive) right after the command words belongs to them
        for m in self.mentions:
            if m.end <= start or m.start < s:
                continue
            if m.start > e or not re.fullmatch(
                r"[\s,:-]*(?:(?:with|to|for|on|at|about|w|from|and|&)\s+)?", self.low[start:m.start]
            ):
                break
            start = m.end
        pron = re.match(r"\s*(?:with\s+|to\s+)?(?:him|her|them)\b", self.low[start:e])
        if pron:
            start += pron.end()
        elif lead is not None and lead.id < 0:  # the name just given: "..., met Nina there"
            words = [re.escape(w) for w in safe_lower(lead.name).split()]
            said = re.match(r"[\s,:-]*(?:(?:with|to|w)\s+)?(?:" + r"(?:\s+".join(words)
                            + ")?" * (len(words) - 1) + r"|" + words[-1] + r")\b",
                            self.low[start:e]) if words else None
            if said:
                start += said.end()
        cut = self._when_cut(s, own_clause_end, start)
        note = self._note_pieces(start, e, cut, lead)
        prefix = ""
        if cue is not None:
            vm = _VOICEMAIL.search(self.masked, cue.start, min(e, cue.end + 30))
            if vm:
                prefix = f"left a {vm.group(1)}"
                if vm.end() > start:
                    note = self._note_pieces(vm.end(), e, self._when_cut(s, own_clause_end,
                                                                          vm.end()), lead)
        note = self._clean_note(note)
        return ", ".join(x for x in (prefix, note) if x)

    def _note_pieces(self, start: int, e: int, cut: list[tuple[int, int]] | None,
                     lead: LeadRef | None) -> str:
        """norm[start:e] minus the time phrase and minus "with <the lead>" wherever it is."""
        drops = list(cut) if cut is not None else []
        for m in self.mentions:
            if start <= m.start and m.end <= e and lead is not None and (
                    lead in m.leads or any(g in m.leads for g in self._group)):
                pre = re.search(r"(?:\b(?:with|to|for|w|and)\s+|\s*[,&]\s*)?$",
                                self.low[start:m.start])
                drops.append((m.start - (len(pre.group()) if pre else 0), m.end))
        out, pos = [], start
        for ds, de in sorted(drops):
            if ds >= pos:
                out.append(self.norm[pos:ds])
                pos = de
        out.append(self.norm[pos:e])
        return re.sub(r"\s+([,;.!?])", r"\1", " ".join(p.strip() for p in out if p.strip()))

    def _when_cut(self, s: int, e: int, start: int) -> list[tuple[int, int]] | None:
        """The time phrase to leave out of a log's note: when the logged thing happened.

        A day still ahead after some of the note's words is what the lead said, not when the
        call was ("she wants to see it again saturday"), so it stays in the note; right after
        the command ("Called April on Monday, ...") it is when the call was.
        """
        when = self._when(s, e)
        if when is None or when.end <= start:
            return None
        if (self.norm[start:when.start].strip(" ,;:-") and when.due_at is not None
                and when.due_at > self.now):
            return None
        return [(max(cs, start), ce) for cs, ce in _when_spans(when) if ce > start]

    def _clean_note(self, note: str) -> str:
        low = note.lower()
        m = _NOTE_FILLER.match(low)
        note = note[m.end():] if m else note
        note = _NOTE_TAIL.sub("", note)
        return re.sub(r"\s+", " ", note).strip()

    def _schedule_action(self, c: _Clause, lead: LeadRef,
                         group: Sequence[LeadRef] = ()) -> ScheduleFollowUp:
        s, e = c.span
        when = self._when(s, e)
        due = None
        due_key = f"{when.start}:{when.end}" if when is not None else f"none:{c.start}"
        pinned = (self.overrides.get("due") or {}).get(due_key)
        if pinned:
            due = datetime.fromisoformat(pinned).astimezone(self.ctx.timezone)
        elif when is None:
            due = default_due(self.now)
        elif when.in_past or when.due_at is None or when.due_at <= self.now:
            raise _Issue(Plan(kind="clarify", reply=replies.past_time(when.text, when.due_at),
                              clarify=self._clarify("due", due_key, lead=lead.name)))
        else:
            due = when.due_at.astimezone(self.ctx.timezone)
        title = self._title(c, lead, when, group)
        return ScheduleFollowUp(lead.id, lead.name, due, title)

    def _title(self, c: _Clause, lead: LeadRef, when: WhenMatch | None,
               group: Sequence[LeadRef] = ()) -> str:
        """The purpose as said, minus command words and time, with names spelled out in full."""
        s, e = c.span
        start = max(s, c.cmd_end)
        cuts = _when_spans(when) if when is not None else []
        pieces: list[tuple[int, int]] = []
        pos = start
        for cs, ce in cuts:
            if ce > pos:
                pieces.append((pos, max(pos, cs)))
                pos = ce
        pieces.append((pos, max(pos, e)))
        out: list[str] = []
        for ps, pe in pieces:
            out.append(self._render(ps, pe, lead))
        title = " ".join(x.strip() for x in out if x.strip())
        title = re.sub(r"\s+", " ", title)
        if len(group) > 1:  # the list of names said once stands for this one lead
            names = "|".join(re.escape(g.name) for g in group)
            title = re.sub(rf"(?:{names})(?:(?:\s*,\s*|\s*,?\s+and\s+|\s*&\s*)(?:{names}))+",
                           lambda _m: lead.name, title)
        title = _TITLE_LEAD_IN.sub("", title, count=1) if not title.lower().startswith(
            ("a ", "an ", "the ")) or c.family != "schedule" else _TITLE_LEAD_IN.sub("", title)
        title = _TITLE_TAIL.sub("", title).strip(" ,;:.-!?")
        probe = title.lower().replace(fold(lead.name), "\x01").replace(lead.name.lower(), "\x01")
        if not title or _TITLE_EMPTY.match(probe):
            return f"Follow up with {lead.name}"
        return title

    def _render(self, s: int, e: int, lead: LeadRef) -> str:
        """norm[s:e] with lead mentions written as stored names and pronouns as the lead."""
        out: list[str] = []
        pos = s
        for m in self.mentions:
            if m.end <= s or m.start >= e:
                continue
            out.append(self.norm[pos:max(pos, m.start)])
            named = self._override_lead(m.start, m.end) or (m.leads[0] if len(m.leads) == 1
                                                            else None)
            name = named.name if named else self.norm[m.start:m.end]
            possessive = self.low[m.start:m.end].endswith(("'s", "'"))
            out.append(name + ("'s" if possessive else ""))
            pos = max(pos, m.end)
        out.append(self.norm[pos:e])
        text = "".join(out)
        return _PRONOUN.sub(lambda p: _pronoun_as(p, lead.name, text), text)

    # ---- create_lead ---------------------------------------------------------------------------

    def _create(self, c: _Clause) -> CreateLead:
        s, e = c.span
        body = self.norm[c.cmd_end:e] if c.cmd_end > s else self.norm[s:e]
        as_form = _CREATE_AS.match(self.masked[s:e])
        if as_form:
            body = self.norm[s + as_form.start("name"):s + as_form.end("name")] + " " + \
                self.norm[s + as_form.end():e]
        email = None
        m = _EMAIL.search(body) or None
        if m:
            email = m.group().lower().rstrip(".")
            body = body[:m.start()] + " " + body[m.end():]
        else:
            sm = _SPOKEN_EMAIL.search(body)
            if sm and re.search(r"\bdot\b", sm.group(2)):
                email = (sm.group(1) + "@" + re.sub(r"\s+dot\s+", ".", sm.group(2))).lower()
                body = body[:sm.start()] + " " + body[sm.end():]
        body = _SPOKEN_DIGITS.sub(lambda d: "".join(_DIGIT_WORDS.get(w, w)
                                                    for w in re.split(r"[\s-]+", d.group())),
                                  body)
        phone_said = None
        pm = _PHONE.search(body)
        if pm:
            phone_said = pm.group().strip()
            body = body[:pm.start()] + " " + body[pm.end():]
        name = _clean_name(_PHONE_LABEL.sub(" ", body))
        pinned_name = (self.overrides.get("name") or {}).get("create")
        if pinned_name:
            name = pinned_name
        if not name:
            raise _Issue(Plan(kind="clarify", reply=replies.missing_name(),
                              clarify=self._clarify("name", "create")))
        phone = None
        if phone_said is not None:
            pinned = (self.overrides.get("phone") or {}).get("create")
            if pinned is not None:
                phone = pinned or None
            else:
                phone = _phone_e164(phone_said, self.ctx.country)
                if phone is None:
                    raise _Issue(Plan(kind="clarify", reply=replies.invalid_phone(phone_said, name),
                                      clarify=self._clarify("phone", "create", name=name)))
        return CreateLead(name=name, phone=phone, email=email)


_YEARLESS_DATE = re.compile(
    r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\d{1,2}/\d{1,2}(?!/)"
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b|\byears?\b|'\d\d\b|\d/\d{1,2}/\d")


def _far_rollover(when: WhenMatch, now: datetime) -> bool:
    """A month/day just behind us ("March 2" said on March 5) means the past, not next year."""
    if when.due_at is None or when.due_at - now < timedelta(days=300):
        return False
    if not _YEARLESS_DATE.search(when.text) or _YEAR.search(when.text):
        return False
    try:
        this_year = when.due_at.replace(year=now.year)
    except ValueError:  # Feb 29
        return False
    # "Fri, Jul 18" may land in a later year to match its weekday: that is not the past
    return timedelta(0) < now - this_year <= timedelta(days=90)


_FAMILY = re.compile(r"\b(?i:the)\s+(([^\W\d_][\w-]*?)(?:e?s'?|s'))(?![\w'])")
_EVENT_WITH_LEAD = re.compile(
    r"^(?!(?:i|we|he|she|they|just|had|did|got)\b)(?:[a-z][\w'-]*\s+){1,3}?(?:with|w|for)\s+"
    + _L + r"+(?:'s)?"
)


def _gaps(s: int, e: int, cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[s, e) minus the cut spans."""
    out, pos = [], s
    for cs, ce in cuts:
        if cs > pos:
            out.append((pos, min(cs, e)))
        pos = max(pos, ce)
    if pos < e:
        out.append((pos, e))
    return out


def _when_spans(when: WhenMatch) -> list[tuple[int, int]]:
    """The text a time phrase occupies: one span, or two for a day and a time said apart."""
    return sorted([(when.start, when.end), *([when.also] if when.also else [])])


def _pronoun_as(m: re.Match, name: str, text: str) -> str:
    word = m.group(1)
    if word in ("his", "their", "theirs", "hers"):
        return f"{name}'s"
    if word == "her":
        nxt = text[m.end():].split()
        before = text[:m.start()].split()[-1:]
        if before and before[0].lower() in _GIVING_VERBS:
            return name  # "send her listings": she gets them
        if nxt and nxt[0].lower() not in _AFTER_OBJECT_HER:
            return f"{name}'s"
    return name


_NOT_A_NAME = frozenset(
    "the my our your his her their its this that these those a an it deal lead client house "
    "home listing offer file contract last next new current".split()
)
_COMMAND_WORDS = frozenset("to as status update mark set change move with and".split())
# "send her listings", "show her comps": after these "her" is who gets something
_GIVING_VERBS = frozenset(
    "send sent give gave show showed bring brought mail email text forward hand offer get "
    "buy find pay lend tell ask remind".split()
)
# "email her the disclosures" (object) vs "check her contract" (possessive)
_AFTER_OBJECT_HER = frozenset(
    "the a an this that these those some back about on at in for to with and or if when "
    "tomorrow today tonight monday tuesday wednesday thursday friday saturday sunday next "
    "again asap by before after re regarding up".split()
)


def _same(a: Action, b: Action) -> bool:
    """The same action said twice ("Dana is lost, mark her closed lost") is one action."""
    if type(a) is not type(b):
        return False
    if isinstance(a, UpdateStatus):
        return (a.lead_id, a.status) == (b.lead_id, b.status)
    if isinstance(a, LogInteraction):
        return (a.lead_id, a.interaction_type, a.note.casefold()) == (
            b.lead_id, b.interaction_type, b.note.casefold())
    if isinstance(a, ScheduleFollowUp):
        return (a.lead_id, a.due_at, a.title.casefold()) == (
            b.lead_id, b.due_at, b.title.casefold())
    return a == b

