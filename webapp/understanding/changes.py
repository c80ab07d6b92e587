"""Changing what is already there: reschedule, cancel or complete an open follow-up, edit a lead.

The spec's "Changing what is already there". Four clause families join the parser's own
(create / status / log / schedule):

- `reschedule`: "Move my follow-up with Dana to Friday at 3", "push it back an hour", "move my
  2pm with John Doe to 4" (a new time alone keeps the day; a new day alone keeps the time of day;
  "N hours later" / "back N" / "N earlier" / "up N" shift it; "forward" is ambiguous);
- `cancel`: "Cancel my 2pm with John Doe", "I don't need to call Mike Johnson anymore";
- `complete`: "Mark the follow-up with Dana done", "done with Dana's reminder";
- `update_lead`: "Dana Cole's new number is 773-555-0199", "Sarah Smith is now Sarah Jones".

Which follow-up: the words that name it are read apart from the rest of the clause (for a move,
what comes before the new time): its lead (resolved first, among all leads, as in "Naming
leads"), its time ("my 2pm": due at 14:00, the earliest such from today on; "Saturday": due that
day), its title words ("the contract reminder"), or "it" (the follow-up this message already
named, else the earliest of a lead named earlier in it, else the one just reminded, made or
changed in the last 30 minutes, else the previous message's lead's earliest). Only open
follow-ups are candidates (overdue ones included) and every word said must fit; a word for an
event ("call", "showing", "meeting") narrows the choice when some title has it and is ignored
when none has. One fits: that one. Several, named only by the lead: the earliest. Several named
by a time (due at the same instant) or by title words: a numbered `clarify`. None: a no-op.

No-ops: an action that would change nothing (the status is already that, the details are already
those, no such open follow-up, a selector picks nobody) is a `NoopAction`; `finish` leaves them
out of the plan and says why, or answers kind `noop` when nothing is left.

Choices where the spec is silent:
- A title word fits when it starts a word of the title or shares its stem ("contract" fits
  "contracts", "docs" fits "HOA docs"); "all of Dana's reminders" means each one that fits (at
  most 25).
- "delete Dana Cole" (a lead alone after delete/remove/drop) is not a cancel: deleting leads is
  not a command. "cancel Dana" is her earliest follow-up.
- A move with no new time asks "to when?"; the answer continues the same move.
- A follow-up only imported (the data import) is not "just changed": "it" never means it.

The parser calls in through small hooks (`classify`, `actions`, `finish`, `answer_value`) and
hands over its `_Parse` as `p`; this module reads its text, mentions, overrides, context and book
and never changes the parser's own state beyond the `_ext` scratch dict.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from webapp.understanding import replies
from webapp.understanding.book import FollowUpRef
from webapp.understanding.contact_details import find_email, find_phone
from webapp.understanding.lead_names import COMMON_WORDS
from webapp.understanding.normalize import fold
from webapp.understanding.plan import (
    Action,
    CancelFollowUp,
    CompleteFollowUp,
    LeadRef,
    Plan,
    RescheduleFollowUp,
    UpdateLead,
    UpdateStatus,
    created_by,
    new_lead_ref,
)
from webapp.understanding.statuses import canonical_status, find_status
from webapp.understanding.when import WhenMatch, find_when, resolve_when

FAMILIES = ("reschedule", "cancel", "complete", "update_lead")
CLARIFY_KINDS = ("follow_up", "email")
RECENT_FOLLOW_UP = timedelta(minutes=30)  # "it" right after a reminder or a change
MAX_LISTED = 5
MAX_EVERY = 25  # "all of Dana's reminders": as many as a selector may pick
_CLOCK_DAYS = (62, 400)  # "my 2pm": look this many days ahead, then this many

_L = "\x01"


class ChangeAnswer(Exception):
    """The agent must answer something first (clarify / unknown_lead): this plan is the answer."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan.kind)
        self.plan = plan


@dataclass(frozen=True)
class NoopAction:
    """An action that would change nothing, and why (left out of the plan, said in the reply)."""

    reason: str
    lead_id: int | None = None


# --------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------

_PRE = (r"^(?:(?:please|pls|plz|kindly|can you|could you|would you|will you|would you mind|"
        r"i'd like to|i would like to|i want to|i wanna|we need to|let's|lets|go ahead and|"
        r"can we|could we|we should|we can|i need you to|i'll need to|"
        r"i'?d appreciate it if you could|i would appreciate it if you could|"
        r"would you be able to|are you able to|could you please|would it be possible to|"
        r"is it possible to|if you could|if you can|can you please|be able to|"
        r"um+|uh+|er|okay|ok|so|also|and|hey|hi|just|actually|oh|yeah|then|now|hmm+|mind)"
        r"[\s,]+)*")
_GENERIC = (r"(?:fol+ow[- ]?ups?|fol+owups?|f/u|rem[ie]nders?|tasks?|to-?dos?|appointments?|"
            r"appoint?ments?|appts?)")
_EVENT = (r"(?:calls?|call ?backs?|callbacks?|meetings?|showings?|viewings?|tours?|"
          r"walk-?throughs?|open houses?|closings?|inspections?|appraisals?|lunch|coffee|dinner|"
          r"breakfast)")
_NUM_WORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
             r"(?:[\s-]+(?:thirty|fifteen|forty[\s-]five|o'?clock|oh five|forty|twenty|ten))?")
_CLOCK = (r"(?:(?:[01]?\d|2[0-3]):[0-5]\d(?!\d)\s*(?:am|pm|a\.m\.?|p\.m\.?)?|"
          r"(?:1[0-2]|0?[1-9])(?!\d)\s*(?:am|pm|a\.m\.?|p\.m\.?)?|noon|midnight|" + _NUM_WORD
          + r"(?:\s*(?:am|pm|a\.m\.?|p\.m\.?|o'?clock))?)")
_DAYWORD = (r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?'?s?|"
            r"tomorrow'?s?|today'?s?|tonight'?s?")
# "my 2pm", "the 3pm", "tomorrow's 10am", "my Monday 11am", "my tomorrow 9am"
_TIME_NAMED = re.compile(
    r"\b(?P<det>my|the|your|" + _DAYWORD + r")\s+(?:(?:" + _DAYWORD + r")\s+)?(?P<t>" + _CLOCK
    + r")(?=\s|$|[,.!?])(?<!\bthe one)(?<!\bthat one)(?<!\bthis one)")
_IT = re.compile(r"\b(?:it|that one|this one|that|this)\b")
_NOUN = re.compile(r"\b(?:" + _GENERIC + "|" + _EVENT + r")\b")
_GENERIC_RE = re.compile(r"\b" + _GENERIC + r"\b")

_RESCHEDULE = re.compile(
    _PRE + r"(?P<v>re-?s[c]?hed(?:ule|ual|uel|ulle)|re-?s[c]?hed(?:uling|ualing)|resched|"
    r"postpon(?:e|ing)|postpne|delay|put off|push(?:ing)?|mov(?:e|ing)|moove|mvoe|bump(?:ing)?|"
    r"shift(?:ing)?|slide|bring|pull|change)\b")
_ALWAYS_RESCHEDULE = ("resched", "postpone", "postponing", "postpne", "delay", "put off")
# Verbs that move a lead's follow-up when said of the lead alone ("push Dana to Friday"); not
# "bring the contract to Dana on Friday".
_LEAD_THEN_TIME = ("move", "moving", "moove", "mvoe", "push", "pushing", "bump", "bumping",
                   "shift", "shifting", "slide", "push back", "pushing back")
_CANCEL = re.compile(
    _PRE + r"(?P<v>cancel(?:l?ed|ling)?|cancle|cansel|cancell|cancal|cxl|canx|call(?:ing)? off|"
    r"delete|delet|remove|drop|scratch|"
    r"scrap|kill|clear|nix|axe|get rid of|forget(?: about)?|ditch|skip|never ?mind|"
    r"take off|strike)\b(?!\s+(?:off|by|in)\b)")
# "take the Ben Carter reminder off (my list)"
_TAKE_OFF = re.compile(_PRE + r"take\s+(?P<obj>.+?)\s+off(?:\s+(?:my|the)\s+(?:list|calendar|"
                       r"schedule|agenda))?[\s.!]*$")
_CANCEL_LEAD_OK = ("cancel", "canceled", "cancelled", "cancelling", "canceling", "cxl", "canx",
                   "call off", "calling off", "cancle", "cansel", "cancell", "cancal")
_NO_NEED = re.compile(
    _PRE + r"(?:i\s+|we\s+)?(?:(?:really\s+)?(?:don'?t|do not|dont|no longer|won'?t|will not|"
    r"didn'?t)\s+(?:really\s+)?(?:need|have|got)\s+to|no need to|(?:there's|there is) no need "
    r"to)\b")
_NO_NEED_THE = re.compile(
    _PRE + r"(?:i\s+|we\s+)?(?:don'?t|do not|dont|no longer)\s+(?:really\s+)?need\s+"
    r"(?=(?:the|my|that|this|his|her|their)\s)")
_DONE_WORDS = r"(?:done|complete|completed|finished|closed out|taken care of|handled|sorted)"
_POLITE_END = r"(?:[\s.!,]|\b(?:please|pls|thanks|thank you|thx|now)\b)*$"
_MARK_DONE = re.compile(
    _PRE + r"(?:mark|set|flag|tick|put)\s+(?P<obj>.+?)\s+(?:as\s+)?(?:" + _DONE_WORDS
    + r")" + _POLITE_END)
_CHECK_OFF = re.compile(_PRE + r"(?:check|tick|cross)\s+off\s+(?P<obj>.+)$")
_DONE_WITH = re.compile(
    _PRE + r"(?:i\s+|we\s+)?(?:(?:just|have|'ve|already|finally)\s+)*(?:done with|"
    r"finished(?: with| up)?|completed|wrapped up|took care of|handled)\s+(?P<obj>.+)$")
_IS_DONE = re.compile(
    _PRE + r"(?P<obj>.+?)\s+(?:is|are|'s|was|has been)\s+(?:all\s+|now\s+)?(?:" + _DONE_WORDS
    + r")" + _POLITE_END)
_COMPLETE = re.compile(_PRE + r"(?:complete|close out)\s+(?P<obj>.+)$")

_FIELD = (r"(?:(?:cell ?phone|phone|cell|mobile|telephone|tel)(?:\s+(?:number|no\.?|#))?|"
          r"(?:contact\s+)?number|#|e-?mail(?:\s+address)?|(?:last|first|family|sur|maiden)\s*"
          r"name|surname|name)")
_SUBJ = r"(?:\x01+|his|her|their|he|she|they)"
_UPDATE_VERB = r"(?:change|update|set|fix|correct|edit|replace|switch|add)"
_SET_FIELD = re.compile(
    _PRE + _UPDATE_VERB + r"\s+(?:the\s+)?(?P<subj>" + _SUBJ + r")(?:'s|s'|s)?\s*[:,-]?\s*"
    r"(?:new\s+|current\s+)?(?P<field>" + _FIELD + r")\b")
_SET_FIELD_OF = re.compile(
    _PRE + _UPDATE_VERB + r"\s+(?:the\s+)?(?:new\s+)?(?P<field>" + _FIELD + r")\s+"
    r"(?:(?:we have\s+)?(?:on file|on record)\s+)?(?:for|of|on)\s+(?P<subj>" + _SUBJ + r")")
_HAS_FIELD = re.compile(
    _PRE + r"(?P<subj>" + _SUBJ + r")(?:'s|s'|s)?\s+(?:new\s+|correct\s+|updated\s+|right\s+|"
    r"actual\s+|current\s+|real\s+)?(?P<field>" + _FIELD + r")\s*(?P<verb>is now|is|was|=|:|->|"
    r"changed(?:\s+to)?|has changed(?:\s+to)?|now|should be|is wrong|is incorrect|will be)?")
_NEW_FIELD_FOR = re.compile(
    _PRE + r"(?:new|updated|correct|different)\s+(?P<field>" + _FIELD + r")\s+(?:for|of)\s+"
    r"(?P<subj>" + _SUBJ + r"|[a-z][\w'-]*(?:\s+[a-z][\w'-]*)?(?=\s*[:,-]|\s+(?:is|=)\b))")
_NEW_NAME = re.compile(
    _PRE + r"(?P<subj>" + _SUBJ + r"|(?=is\s+now\b))(?:'s|\s*is|\s+has)?\s+(?:(?:now\s+"
    r"(?:called|named|going by)|"
    r"now|changed (?:her|his|their) (?:last\s+)?name to|goes by|going by)\s+)(?P<name>.+)$")


# --------------------------------------------------------------------------------------------
# Classify: which clauses are change commands
# --------------------------------------------------------------------------------------------


def classify(p: Any, s: int, e: int) -> tuple[str, int] | None:
    """(family, end of the command words) if masked[s:e] is a change command, else None."""
    text = p.masked[s:e]
    if not text or not re.search(r"[a-z\x01]", text):
        return None
    found = _classify_update(p, text, p.low[s:e], p.low[:s])
    if found is None:
        found = _classify_complete(text)
    if found is None:
        found = _classify_cancel(text)
    if found is None:
        found = _classify_reschedule(p, text, s, e)
    if found is None:
        return None
    family, cmd_end = found
    return family, s + cmd_end


def _designates(rest: str, lead_ok: bool) -> bool:
    """The words after a change verb name a follow-up (a noun, a time, "it", or a lead)."""
    if _NOUN.search(rest) or _TIME_NAMED.search(rest):
        return True
    if _IT.match(rest.strip()) or re.match(r"\s*(?:my|the)\s+(?:" + _DAYWORD + r")\b", rest):
        return True
    return lead_ok and (_L in rest or re.match(r"\s*(?:him|her|them)\b", rest) is not None)


def _status_target(text: str) -> bool:
    """"move Dana to qualified", "push all my new leads to follow up": a status, not a time."""
    m = re.search(r"\b(?:to|as|into|in|on)\s+(?:the\s+)?['\"]?(?P<st>[a-z_][a-z_ -]*?)['\"]?"
                  r"(?:\s+(?:stage|status|column|list|pile))?[\s.!?]*$", text)
    return m is not None and canonical_status(m.group("st")) is not None


def _classify_reschedule(p: Any, text: str, s: int, e: int) -> tuple[str, int] | None:
    m = _RESCHEDULE.match(text)
    if m is None:
        return None
    verb = re.sub(r"\s+", " ", m.group("v"))
    rest = text[m.end():]
    if _status_target(text):
        return None
    if verb in _ALWAYS_RESCHEDULE or re.match(r"re-?s", verb):
        return "reschedule", m.end()
    if verb == "change" and not (_NOUN.search(rest) or _TIME_NAMED.search(rest)):
        return None
    if _NOUN.search(rest) or _TIME_NAMED.search(rest) or _IT.match(rest.strip()):
        return "reschedule", m.end()
    if verb in _LEAD_THEN_TIME and (_L in rest or re.match(r"\s*(?:him|her|them)\b", rest)) and (
            _SHIFT.search(p.low, s + m.end(), e) or _target_time_after(p, s + m.end(), e)):
        return "reschedule", m.end()  # "push Dana to Friday", "move Marcus back an hour"
    return None


def _classify_cancel(text: str) -> tuple[str, int] | None:
    m = _CANCEL.match(text)
    if m:
        verb = re.sub(r"\s+", " ", m.group("v"))
        if _designates(text[m.end():], lead_ok=verb in _CANCEL_LEAD_OK):
            return "cancel", m.end()
        return None
    m = _TAKE_OFF.match(text)
    if m and _designates(m.group("obj"), lead_ok=False):
        return "cancel", m.start("obj")
    m = _NO_NEED_THE.match(text)
    if m and _NOUN.search(text[m.end():]):
        return "cancel", m.end()
    m = _NO_NEED.match(text)
    if m and (_L in text[m.end():] or _NOUN.search(text[m.end():])
              or re.search(r"\b(?:anymore|any more|no more)\b", text)):
        return "cancel", m.end()
    return None


def _classify_complete(text: str) -> tuple[str, int] | None:
    for pattern, generic_only in ((_MARK_DONE, False), (_CHECK_OFF, False), (_COMPLETE, False),
                                  (_DONE_WITH, True), (_IS_DONE, False)):
        m = pattern.match(text)
        if m is None:
            continue
        obj = m.group("obj")
        if generic_only:
            ok = _GENERIC_RE.search(obj) is not None
        else:
            ok = _NOUN.search(obj) is not None or _TIME_NAMED.search(" " + obj) is not None or \
                _IT.fullmatch(obj.strip()) is not None or re.fullmatch(
                    r"(?:that|this|the|my)\s+(?:one|" + _GENERIC + ")", obj.strip()) is not None
        if ok:
            return "complete", m.start("obj")
    return None


def _classify_update(p: Any, text: str, low: str, before: str) -> tuple[str, int] | None:
    """`text` is the clause masked (leads as \x01), `low` as said (for an email that holds a
    lead's name, "april@jones.com"); `before`, the message before the clause."""
    if _ADDING.match(before) and re.match(_PRE + r"(?:his|her|their|he|she|they)\b", text):
        return None  # "Add my cousin's friend Jane Roe, her cell is ...": a new person's details
    for pattern in (_SET_FIELD, _SET_FIELD_OF, _NEW_FIELD_FOR):
        m = pattern.match(text)
        if m and (re.match(_SUBJ, m.group("subj")) or p.ctx.leads.resolve(m.group("subj"))):
            return "update_lead", m.end()
    m = _HAS_FIELD.match(text)
    if m and (m.group("verb") or find_email(low) or re.search(r"\d{3}", low[m.end():])):
        if m.group("field") == "name" and not m.group("verb"):
            return None
        return "update_lead", m.end()
    m = _NEW_NAME.match(text)
    if m and _name_like(p, text, m.start("name")):
        return "update_lead", m.start("name")
    return None


_ADDING = re.compile(r"^\W*(?:(?:please|pls|can you|could you)\s+)*(?:add|create|save|enter|"
                     r"new|put in)\b")


def _name_like(p: Any, text: str, at: int) -> bool:
    """The words from `at` on are a person's new name, not a status or a description."""
    said = text[at:].strip(" .!,")
    if not said or find_status(said, 0, len(said)) is not None:
        return False
    if _L in said:
        return True  # words that are lead names: a name for sure ("Grace Kim")
    words = re.findall(r"[^\W\d_][\w'-]*", said)
    if not 1 <= len(words) <= 4 or len(words) != len(said.split()):
        return False
    return all(fold(w) not in COMMON_WORDS for w in words) and (len(words) >= 2 or _capitalized(
        p, said))


def _capitalized(p: Any, said: str) -> bool:
    at = p.low.find(said)
    return at >= 0 and p.norm[at:at + 1].isupper()


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------


def actions(p: Any, c: Any, last: list[LeadRef]) -> list[Action | NoopAction]:
    """The actions of one change clause (`c` is the parser's clause)."""
    if c.family == "update_lead":
        return [_update_lead(p, c, last)]
    s, e = c.cmd_end, c.span_end
    if c.family == "complete":
        e = _strip_done_tail(p, s, e)
    elif c.family == "cancel":
        tail = re.search(r"\s+off(?:\s+(?:my|the)\s+(?:list|calendar|schedule|agenda))?"
                         r"[\s.!]*$", p.low[s:e])
        if tail is not None and re.match(_PRE + r"take\b", p.low[c.start:s]):
            e = s + tail.start()
    target: _Target | None = None
    if c.family == "reschedule":
        target = _find_target(p, s, e)
        if target is not None:
            e = target.designation_end
    out: list[Action | NoopAction] = []
    picks: list[FollowUpRef | NoopAction] = []
    for ds, de in _designations(p, s, e):
        found = _pick(p, c, ds, de, last)
        picks.extend(found if isinstance(found, list) else [found])
    for picked in picks:
        if isinstance(picked, NoopAction):
            out.append(picked)
            continue
        p._ext["last_follow_up"] = picked
        lead = p.ctx.leads.get(picked.lead_id)
        name = lead.name if lead is not None else ""
        due = picked.due_at.astimezone(p.ctx.timezone)
        if c.family == "cancel":
            out.append(CancelFollowUp(picked.lead_id, name, picked.id, picked.title, due))
        elif c.family == "complete":
            out.append(CompleteFollowUp(picked.lead_id, name, picked.id, picked.title, due))
        else:
            out.append(_reschedule(p, c, picked, name, target))
    return out


def _strip_done_tail(p: Any, s: int, e: int) -> int:
    m = re.search(r"\s+(?:(?:is|are|'s|was|has been)\s+(?:all\s+|now\s+)?|(?:as\s+))?"
                  + _DONE_WORDS + r"(?:[\s.!,]|\b(?:please|thanks|thank you|now)\b)*$",
                  p.low[s:e])
    return s + m.start() if m else e


def _designations(p: Any, s: int, e: int) -> list[tuple[int, int]]:
    """"dana's inspection call and the 2pm with john doe": one span per follow-up named."""
    spans, pos = [], s
    for m in re.finditer(r"\s*(?:,\s*(?:and\s+)?|\band\b|&)\s*(?=(?:the|my|his|her|their)\s)",
                         p.low[s:e]):
        spans.append((pos, s + m.start()))
        pos = s + m.end()
    spans.append((pos, e))
    return [(a, b) for a, b in spans if p.low[a:b].strip()] or [(s, s)]  # none: "it"


# ---- picking the follow-up --------------------------------------------------------------------


@dataclass
class _Named:
    """What the words naming a follow-up say about it."""

    leads: list[LeadRef]
    clock: tuple[int, int] | None = None  # "my 2pm": due at 14:00 on some day from today on
    instant: datetime | None = None  # "tomorrow's 10am"
    day: date | None = None  # "on Saturday"
    hard: list[str] = dataclasses.field(default_factory=list)  # title words that must fit
    soft: list[str] = dataclasses.field(default_factory=list)  # event words that may narrow
    it: bool = False
    time_said: str = ""
    every: bool = False  # "all of Dana's reminders": each one that fits


_STOP = frozenset(
    "the my a an that this these those his her their its our your with w for about re regarding "
    "on at to of from in by up and or follow followup followups ups reminder reminders task tasks "
    "todo todos to-do appointment appointments appt appts thing things stuff one ones it please "
    "pls also just um uh so okay ok all i i'm me we need don't dont do not no longer anymore any "
    "more have had has been is are was were be set scheduled schedule booked planned "
    "upcoming next mine back again today tomorrow tonight f/u f u really kindly can could would "
    "you there's there need needs".split())
_ALL = frozenset("all every everything each both".split())
_SOFT = {"call": ("call",), "calls": ("call",), "callback": ("call",), "callbacks": ("call",),
         "meeting": ("meet",), "meetings": ("meet",), "showing": ("showing", "show"),
         "showings": ("showing", "show"), "viewing": ("viewing", "view", "showing"),
         "viewings": ("viewing", "view"), "tour": ("tour",), "tours": ("tour",),
         "walkthrough": ("walkthrough", "walk"), "walk-through": ("walkthrough", "walk"),
         "lunch": ("lunch", "meet"), "coffee": ("coffee", "meet"), "dinner": ("dinner", "meet"),
         "breakfast": ("breakfast", "meet")}


def _named(p: Any, c: Any, s: int, e: int, last: list[LeadRef]) -> _Named:
    own = [m for m in p.mentions if s <= m.start < e]
    leads: list[LeadRef] = []
    for m in own:
        lead = p._lead_of(m)
        if lead not in leads:
            leads.append(lead)
    masked = p.masked[s:e]
    if not leads and re.search(r"\b(?:him|her|his|hers|them|their|he|she|they)\b", masked):
        leads = list(p._leads_for(dataclasses.replace(c, start=s, end=e, span_end=e), last))
    if not leads:
        _no_stranger(p, s, e)
    named = _Named(leads=leads)
    blanked = "".join(" " if ch == _L else ch for ch in masked)
    blanked = re.sub(r"(?<=day|row|ght)'s\b", "  ", blanked)  # "tomorrow's 10am", "Monday's"
    cut: list[tuple[int, int]] = []
    when = _designation_time(p, blanked)
    if when is not None:
        named.time_said = p.norm[s + when[0]:s + when[1]].strip()
        named.clock, named.instant, named.day = when[2], when[3], when[4]
        cut.append((when[0], when[1]))
    for m in own:
        cut.append((m.start - s, m.end - s))
    words = []
    for t in re.finditer(r"[a-z][a-z'-]*", blanked):
        if any(a <= t.start() < b for a, b in cut):
            continue
        words.append(re.sub(r"'s$", "", t.group()))
    for w in words:
        if w in _SOFT:
            named.soft.append(w)
        elif w in ("it", "that", "this"):
            named.it = True
        elif w in _ALL:
            named.every = True
        elif w not in _STOP and not re.fullmatch(r"(?:him|her|hers|them|he|she|they|am|pm|"
                                                 r"a\.m|p\.m|o'clock|fol+ow(?:ups?)?|"
                                                 r"rem[ie]nders?|appoint?ments?)", w):
            named.hard.append(w)
    if not (leads or named.hard or named.soft or when) and not named.it:
        named.it = True  # "cancel my follow-up": the one in context
    return named


_NAME_AFTER = re.compile(r"\b(?:with|for|w)\s+(?P<name>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,2})")


def _no_stranger(p: Any, s: int, e: int) -> None:
    """"cancel my follow-up with Zoe Martin": a name that is none of the agent's leads is
    unknown_lead, never read as title words."""
    m = _NAME_AFTER.search(p.norm, s, e)
    if m is None:
        return
    words: list[str] = []
    for word in m.group("name").split():
        if fold(word) in COMMON_WORDS or fold(word) in _STOP:
            break
        words.append(word)
    if not words:
        return
    capitalized = any(w[:1].isupper() for w in words) and not p.norm.isupper()
    if capitalized or len(words) >= 2:
        raise ChangeAnswer(p._unknown_lead(" ".join(words)))


def _no_stranger_words(p: Any, named: _Named) -> None:
    """"reschedule zoe martin": two or three words that fit no title, side by side and none of
    them an everyday word, are a name that is none of the agent's leads."""
    words = [w for w in named.hard if fold(w) not in COMMON_WORDS]
    said = " ".join(words)
    if 2 <= len(words) <= 3 and len(words) == len(named.hard) and re.search(
            r"\b" + r"\W+".join(map(re.escape, words)) + r"\b", p.low):
        raise ChangeAnswer(p._unknown_lead(said))


def _designation_time(p: Any, text: str) -> tuple[int, int, tuple[int, int] | None,
                                                  datetime | None, date | None] | None:
    """(start, end, clock, instant, day) of the time that names a follow-up, if one is said."""
    when = find_when(text, p.now, month_first=_month_first(p))
    if when is None:
        m = _TIME_NAMED.search(text)
        if m is None:
            return None
        found = resolve_when("at " + m.group("t"), p.now, month_first=_month_first(p))
        if found is None or found.due_at is None or not found.has_time:
            return None
        return m.start("t"), m.end("t"), (found.due_at.hour, found.due_at.minute), None, None
    if when.due_at is None:
        if re.search(r"\byesterday\b", when.text):
            return when.start, when.end, None, None, p.now.date() - timedelta(days=1)
        return None
    local = when.due_at.astimezone(p.ctx.timezone)
    if when.has_time and _time_only(when.text):
        return when.start, when.end, (local.hour, local.minute), None, None
    if when.has_time:
        return when.start, when.end, None, local, None
    return when.start, when.end, None, None, local.date()


_TIME_ONLY = re.compile(
    r"^(?:at\s+|by\s+|around\s+|for\s+)?(?:" + _CLOCK + r"|(?:the\s+)?(?:morning|afternoon|"
    r"evening|lunch(?:time)?|end of (?:the )?day|eod|first thing))(?:\s+o'?clock)?$")


def _time_only(said: str) -> bool:
    return _TIME_ONLY.match(said.strip().lower()) is not None


def _month_first(p: Any) -> bool:
    from_ctx = getattr(p.ctx, "country", "US").upper()
    return from_ctx in ("US", "CA", "PH", "FM", "MH", "PW", "GU", "AS", "PR", "VI", "MP", "UM",
                        "BZ")


def _pick(p: Any, c: Any, s: int, e: int,
          last: list[LeadRef]) -> FollowUpRef | NoopAction | list[FollowUpRef]:
    key = f"{c.start}:{s}"
    pinned = (p.overrides.get("follow_up") or {}).get(key)
    book = p.ctx.book
    if pinned is not None:
        found = book.open_follow_ups(ids=[int(pinned)])
        if found:
            return found[0]
        return NoopAction("That follow-up is no longer open.")
    named = _named(p, c, s, e, last)
    if named.it and not named.leads:
        it = _it(p, c.start)
        if it is not None:
            return it
        raise ChangeAnswer(Plan(kind="clarify", reply=replies.which_follow_up_said(),
                                mentioned_lead_ids=p._mentioned_ids()))
    candidates = _candidates(p, named)
    fitting = [f for f in candidates if _fits(p, f, named)]
    if named.soft:
        narrowed = [f for f in fitting if _soft_fits(f.title, named.soft)]
        if narrowed:
            fitting = narrowed
        elif named.leads:  # an event word no title has says nothing more than the lead
            named = dataclasses.replace(named, soft=[])
    if not fitting:
        if not named.leads:
            _no_stranger_words(p, named)
        return NoopAction(_no_such(p, named),
                          named.leads[0].id if named.leads else None)
    if len(fitting) == 1:
        return fitting[0]
    if named.every and len(fitting) <= MAX_EVERY:
        return fitting  # "cancel all of Dana's reminders"
    if named.clock is not None and not named.hard:
        first = [f for f in fitting if f.due_at == fitting[0].due_at]
        if len(first) == 1:
            return first[0]
        fitting = first
    elif not (named.hard or named.soft or named.instant or named.day) and named.leads:
        return fitting[0]  # only a lead was named: the earliest
    elif named.instant is not None or named.day is not None:
        if not (named.hard or named.soft) and named.day is None:
            first = [f for f in fitting if f.due_at == fitting[0].due_at]
            if len(first) == 1:
                return first[0]
    raise ChangeAnswer(_which(p, c, key, fitting))


def _it(p: Any, before: int) -> FollowUpRef | None:
    """"it": the follow-up named earlier in this message, else the earliest of the lead named
    earlier in it, else the one just reminded or changed, else the previous message's lead's
    earliest."""
    earlier = p._ext.get("last_follow_up")
    if earlier is not None:
        return earlier
    named = [m for m in p.mentions if m.end <= before and len(m.leads) == 1]
    if named:
        found = p.ctx.book.open_follow_ups(lead_ids=[named[-1].leads[0].id], limit=1)
        if found:
            return found[0]
    recent = p.ctx.book.recent_follow_up(p.now - RECENT_FOLLOW_UP, p.now)
    if recent is not None:
        return recent
    for lead_id in reversed(list(p.ctx.recent_lead_ids)):
        found = p.ctx.book.open_follow_ups(lead_ids=[lead_id], limit=1)
        if found:
            return found[0]
    return None


def _candidates(p: Any, named: _Named) -> list[FollowUpRef]:
    book = p.ctx.book
    zone = p.ctx.timezone
    if named.leads:
        return book.open_follow_ups(lead_ids=[lead.id for lead in named.leads], limit=500)
    if named.instant is not None:
        return book.open_follow_ups(due_at=[named.instant])
    if named.day is not None:
        start = datetime.combine(named.day, time(0), tzinfo=zone)
        return book.open_follow_ups(due_from=start, due_before=start + timedelta(days=1))
    if named.clock is not None:
        today = p.now.date()
        hour, minute = named.clock
        first, more = _CLOCK_DAYS
        for lo, hi in ((0, first), (first, more)):
            instants = [datetime.combine(today + timedelta(days=i), time(hour, minute),
                                         tzinfo=zone) for i in range(lo, hi)]
            found = book.open_follow_ups(due_at=instants)
            if found:
                return found
        return []
    words = named.hard or [_SOFT[w][0] for w in named.soft]
    if not words:
        return []
    longest = max(words, key=len)
    stem = longest[:max(4, len(longest) - 2)] if len(longest) > 5 else longest
    return book.open_follow_ups(title_words=[stem])


def _fits(p: Any, f: FollowUpRef, named: _Named) -> bool:
    if named.leads and f.lead_id not in {lead.id for lead in named.leads}:
        return False
    local = f.due_at.astimezone(p.ctx.timezone)
    if named.clock is not None and ((local.hour, local.minute) != named.clock
                                    or local.date() < p.now.date()):
        return False
    if named.instant is not None and f.due_at != named.instant:
        return False
    if named.day is not None and local.date() != named.day:
        return False
    title_words = _title_words(f.title)
    return all(_word_fits(w, title_words) for w in named.hard)


def _title_words(title: str) -> list[str]:
    return [fold(w) for w in re.findall(r"[^\W_][\w'-]*", title)]


def _word_fits(word: str, title_words: Sequence[str]) -> bool:
    w = fold(word)
    for t in title_words:
        if w == t or (len(w) >= 4 and len(t) >= 4 and (t.startswith(w[:max(4, len(w) - 2)])
                                                       or w.startswith(t[:max(4, len(t) - 2)]))):
            return True
    return False


def _soft_fits(title: str, soft: Sequence[str]) -> bool:
    low = fold(title)
    return any(stem in low for w in soft for stem in _SOFT[w])


def _no_such(p: Any, named: _Named) -> str:
    """'No open follow-up with John Doe at 2:00 PM, so nothing to change.': what was looked
    for, said back."""
    lead = " or ".join(lead.name for lead in named.leads) or None
    words = " ".join(named.hard or named.soft) or None
    if named.clock is not None:
        due = datetime.combine(p.now.date(), time(*named.clock), tzinfo=p.ctx.timezone)
        return replies.no_open_follow_up(lead, due, time_only=True, words=words)
    if named.instant is not None:
        return replies.no_open_follow_up(lead, named.instant, words=words)
    said = replies.no_open_follow_up(lead, words=words)
    if named.day is not None:  # a day without a time: "... on Sat Mar 7, so nothing ..."
        head, _, tail = said.partition(", so ")
        said = f"{head} on {named.day:%a %b} {named.day.day}, so {tail}"
    return said


def _which(p: Any, c: Any, key: str, fitting: Sequence[FollowUpRef]) -> Plan:
    shown = list(fitting)[:MAX_LISTED]
    names = []
    for f in shown:
        lead = p.ctx.leads.get(f.lead_id)
        names.append(f"{lead.name if lead else '?'}: {f.title}, "
                     f"{replies.format_due(f.due_at.astimezone(p.ctx.timezone))}")
    return Plan(kind="clarify", reply=replies.which_follow_up(names, len(fitting)),
                clarify=p._clarify("follow_up", key, options=[f.id for f in shown], names=names),
                mentioned_lead_ids=p._mentioned_ids())


# ---- the new time ------------------------------------------------------------------------------

_QTY = (r"\d+(?:\.\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|"
        r"thirty|forty[\s-]five|forty|ninety|half an?|a couple(?: of)?|a few|couple")
_UNIT = r"(?:minutes?|mins?|m|hours?|hrs?|h|days?|weeks?|wks?)"
_SHIFT = re.compile(
    r"\b(?:(?:back|out|later)\s+(?:by\s+)?(?P<n1>" + _QTY + r")\s*(?P<u1>" + _UNIT + r")|"
    r"(?P<n2>" + _QTY + r")\s*(?P<u2>" + _UNIT + r")\s+(?P<d2>later|earlier|back|forward|ahead|"
    r"sooner|out|before|after)|"
    r"(?P<d3>later|earlier|forward|ahead|(?<!follow )up|sooner)\s+(?:by\s+)?(?P<n3>" + _QTY
    + r")\s*(?P<u3>" + _UNIT + r")|by\s+(?P<n4>" + _QTY + r")\s*(?P<u4>" + _UNIT + r")\b|"
    r"(?P<fwd>forward|ahead)\b(?!\s+(?:to|until|till|with|on)\b))")
_AMOUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
            "seven": 7, "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20,
            "thirty": 30, "forty": 40, "forty five": 45, "forty-five": 45, "ninety": 90,
            "half a": 0.5, "half an": 0.5, "a couple": 2, "a couple of": 2, "couple": 2,
            "a few": 3}
_BARE_TIME = re.compile(r"(?P<t>" + _CLOCK + r")(?=\s|$|[,.!?])")


@dataclass
class _Target:
    designation_end: int
    delta: timedelta | None = None  # hours and minutes: elapsed time
    days: int = 0  # days and weeks: the same wall-clock time that many days on
    when: WhenMatch | None = None
    time_only: bool = False
    ambiguous: bool = False  # "forward"
    title: str | None = None  # a new purpose said
    said: str = ""


def _find_target(p: Any, s: int, e: int) -> _Target | None:
    low = p.low
    m = _SHIFT.search(low, s, e)
    if m is not None:
        start = m.start()
        said = m.group().strip()
        if m.group("fwd"):
            return _Target(start, ambiguous=True, said=said)
        n = m.group("n1") or m.group("n2") or m.group("n3") or m.group("n4")
        unit = m.group("u1") or m.group("u2") or m.group("u3") or m.group("u4")
        direction = m.group("d2") or m.group("d3") or "later"
        if direction in ("forward", "ahead"):
            return _Target(start, ambiguous=True, said=said)
        return _shift_target(start, n, unit, direction, said)
    found = _target_time_after(p, s, e) or _trailing_time(p, s, e)
    if found is None:
        trailing = re.search(r"\b(?P<n>" + _QTY + r")\s*(?P<u>" + _UNIT + r")[\s.!]*$", low[s:e])
        if trailing and re.search(r"\b(?:back|out)\b|^\W*(?:postpone|delay|put off)", low[s:e]):
            return _shift_target(s + trailing.start(), trailing.group("n"), trailing.group("u"),
                                 "later", trailing.group().strip())  # "push back ... a week"
        return None
    prep, when, time_only, end = found
    title = None
    purpose = re.match(r"\s*,?\s*(?:to|so (?:i|we) can|in order to)\s+(?P<t>.+?)[\s.!?]*$",
                       low[end:e])
    if purpose:
        title = p.norm[end + purpose.start("t"):end + purpose.end("t")].strip()
    return _Target(prep, when=when, time_only=time_only, title=title, said=when.text)


def _trailing_time(p: Any, s: int, e: int) -> tuple[int, WhenMatch, bool, int] | None:
    """"Move the showing with Dana Friday": a time ending the clause, not owned by "my" or
    "the" ("my 2pm" names the follow-up), after what names the follow-up, is the new time."""
    blanked = "".join(" " if ch == _L else ch for ch in p.masked[s:e])
    when = find_when(blanked, p.now, month_first=_month_first(p))
    if when is None or blanked[when.end:].strip(" .!?") or not blanked[:when.start].strip():
        return None
    if re.search(r"\b(?:my|the|your|from)\s*$|'s\s*$", blanked[:when.start]) or \
            _TIME_NAMED.search(blanked, max(0, when.start - 12), when.end):
        return None
    return s + when.start, _shifted(when, s), _time_only(when.text), s + when.end


def _shift_target(start: int, n: str, unit: str, direction: str, said: str) -> _Target:
    amount = float(n) if re.fullmatch(r"\d+(?:\.\d+)?", n) else _AMOUNTS.get(
        re.sub(r"\s+", " ", n), 1)
    sign = -1 if direction in ("earlier", "up", "sooner", "before") else 1
    if unit.startswith(("d", "w")):
        days = int(amount * (7 if unit.startswith("w") else 1))
        return _Target(start, days=sign * days, said=said)
    minutes = amount * (60 if unit.startswith("h") else 1)
    return _Target(start, delta=timedelta(minutes=sign * minutes), said=said)


def _target_time_after(p: Any, s: int, e: int) -> tuple[int, WhenMatch, bool, int] | None:
    """(where "to" starts, the new time, whether it is only a clock time, where it ends)."""
    low = p.low
    for m in re.finditer(r"\b(?:to|until|till|til|for|on)\s+(?:the\s+)?", low[s:e]):
        at = s + m.end()
        rest = "".join(" " if ch == _L else ch for ch in p.masked[at:e])
        bare = _BARE_TIME.match(rest)
        if bare:
            when = resolve_when("at " + bare.group("t"), p.now, month_first=_month_first(p))
            after = rest[bare.end():]
            more = find_when(rest, p.now, month_first=_month_first(p))
            if more is not None and more.start == 0 and more.end > bare.end():
                return s + m.start(), _shifted(more, at), _time_only(more.text), at + more.end
            if when is not None and when.due_at is not None and when.has_time and not re.match(
                    r"\s*(?:bed|bath|br|ba|sq|units?|days?|weeks?|hours?|minutes?)\b", after):
                return s + m.start(), when, True, at + bare.end()
        when = find_when(rest, p.now, month_first=_month_first(p))
        if when is not None and not rest[:when.start].strip():
            clock = None if when.has_time else _BARE_TIME.match(rest[when.end:].lstrip())
            if clock is not None and when.due_at is not None:  # "friday three thirty"
                said = rest[:when.end] + " at " + clock.group("t")
                both = resolve_when(said, p.now, month_first=_month_first(p))
                if both is not None and both.has_time and both.due_at is not None:
                    gap = len(rest[when.end:]) - len(rest[when.end:].lstrip())
                    end = at + when.end + gap + clock.end()
                    return s + m.start(), _shifted(dataclasses.replace(
                        both, start=0, end=end - at, text=rest[:end - at]), at), False, end
            return s + m.start(), _shifted(when, at), _time_only(when.text), at + when.end
    return None


def _shifted(when: WhenMatch, offset: int) -> WhenMatch:
    return dataclasses.replace(when, start=when.start + offset, end=when.end + offset)


def _reschedule(p: Any, c: Any, picked: FollowUpRef, name: str,
                target: _Target | None) -> RescheduleFollowUp | NoopAction:
    zone = p.ctx.timezone
    old = picked.due_at.astimezone(zone)
    key = f"move:{c.start}"
    pinned = (p.overrides.get("due") or {}).get(key)
    title = target.title if target is not None and target.title else picked.title
    if pinned:
        due = datetime.fromisoformat(pinned).astimezone(zone)
    elif target is None:
        raise ChangeAnswer(Plan(kind="clarify", reply=replies.move_when(name, picked.title),
                                clarify=p._clarify("due", key, lead=name),
                                mentioned_lead_ids=p._mentioned_ids()))
    elif target.ambiguous:
        raise ChangeAnswer(Plan(kind="clarify", reply=replies.move_forward(target.said),
                                clarify=p._clarify("due", key, lead=name),
                                mentioned_lead_ids=p._mentioned_ids()))
    elif target.delta is not None:  # elapsed time: aware arithmetic in one zone is wall time
        due = (picked.due_at.astimezone(UTC) + target.delta).astimezone(zone)
    elif target.days:
        day = old.date() + timedelta(days=target.days)
        due = datetime.combine(day, old.time().replace(tzinfo=None), tzinfo=zone)
    else:
        when = target.when
        assert when is not None
        if when.due_at is None or when.in_past:
            raise ChangeAnswer(_past(p, key, name, when.text, None))
        new = when.due_at.astimezone(zone)
        if target.time_only:
            due = datetime.combine(old.date(), time(new.hour, new.minute), tzinfo=zone)
        elif when.has_time:
            due = new
        else:
            due = datetime.combine(new.date(), time(old.hour, old.minute), tzinfo=zone)
    if due <= p.now:
        raise ChangeAnswer(_past(p, key, name, target.said if target else "", due))
    if due == picked.due_at and title == picked.title:
        return NoopAction(replies.already_due(name, picked.title, old), picked.lead_id)
    return RescheduleFollowUp(picked.lead_id, name, picked.id, due, title, old, picked.title)


def _past(p: Any, key: str, name: str, said: str, due: datetime | None) -> Plan:
    return Plan(kind="clarify", reply=replies.past_time(said or "That", due),
                clarify=p._clarify("due", key, lead=name), mentioned_lead_ids=p._mentioned_ids())


# ---- update_lead ---------------------------------------------------------------------------------


def _update_lead(p: Any, c: Any, last: list[LeadRef]) -> UpdateLead | NoopAction:
    text = p.masked[c.start:c.end]
    subject_end = c.cmd_end
    name_said: str | None = None
    fields: set[str] = set()
    for pattern in (_SET_FIELD, _SET_FIELD_OF, _NEW_FIELD_FOR, _HAS_FIELD):
        m = pattern.match(text)
        if m:
            subject_end = c.start + m.end("subj")
            fields.add(_field_of(m.group("field")))
            break
    else:
        m = _NEW_NAME.match(text)
        if m:
            subject_end = c.start + m.end("subj")
            name_said = p.norm[c.start + m.start("name"):c.end]
    lead = _subject(p, c, subject_end, last)
    span = p.norm[subject_end:c.span_end]
    for word in re.findall(r"\b(?:e-?mail|phone|cell|mobile|number|name)\b",
                           p.low[subject_end:c.span_end]):
        fields.add(_field_of(word))
    changes: dict[str, str] = {}
    email = find_email(span)
    rest = span
    if email is not None:
        rest = span[:email.start] + " " * (email.end - email.start) + span[email.end:]
    phone = find_phone(rest, p.ctx.country)
    if "name" in fields and name_said is None:
        m = re.search(r"(?:\b(?:to|is now|is|should be)|:|=|->)\s+(?:now\s+)?(?P<n>.+)$",
                      span)
        name_said = m.group("n") if m else None
    if name_said is not None:
        new_name = _clean_new_name(name_said)
        part = re.search(r"\b(?P<part>last|first|family|sur|maiden)\s*name\b|\bsurname\b",
                         p.low[c.start:c.span_end])
        if new_name and part is not None:  # "change Sarah Smith's last name to Jones"
            words = lead.name.split()
            if part.group("part") == "first":
                new_name = " ".join([new_name, *words[1:]])
            else:
                new_name = " ".join([*(words[:-1] or words), new_name])
        if new_name:
            changes["name"] = new_name
    if email is not None or "email" in fields:
        pinned = (p.overrides.get("email") or {}).get(f"lead:{lead.id}")
        value = pinned or (email.value if email is not None else None)
        if value is None:
            said = email.said if email is not None else ""
            raise ChangeAnswer(Plan(kind="clarify", reply=replies.invalid_email(said, lead.name),
                                    clarify=p._clarify("email", f"lead:{lead.id}",
                                                       lead=lead.name),
                                    mentioned_lead_ids=[lead.id]))
        changes["email"] = value
    if phone is not None or ("phone" in fields and "email" not in changes):
        pinned = (p.overrides.get("phone") or {}).get(f"lead:{lead.id}")
        value = pinned or (phone.value if phone is not None else None)
        if value is None:
            said = phone.said if phone is not None else ""
            raise ChangeAnswer(Plan(kind="clarify", reply=replies.invalid_new_phone(said,
                                                                                    lead.name),
                                    clarify=p._clarify("phone", f"lead:{lead.id}",
                                                       name=lead.name),
                                    mentioned_lead_ids=[lead.id]))
        changes["phone"] = value
    if not changes:
        raise ChangeAnswer(Plan(kind="clarify", reply=replies.what_detail(lead.name),
                                mentioned_lead_ids=[lead.id]))
    return _lead_changes(p, lead, changes)


def _field_of(word: str) -> str:
    word = word.strip()
    if "mail" in word:
        return "email"
    if "name" in word:
        return "name"
    return "phone"


def _subject(p: Any, c: Any, subject_end: int, last: list[LeadRef]) -> LeadRef:
    own = [m for m in p.mentions if c.start <= m.start < subject_end]
    if own:
        return p._lead_of(own[0])
    said = re.search(r"(?:for|of)\s+([a-z][\w'-]*(?:\s+[a-z][\w'-]*)?)$",
                     p.low[c.start:subject_end])
    found = p.ctx.leads.resolve(p.norm[c.start + said.start(1):subject_end]) if said else []
    if len(found) == 1:
        return found[0]
    leads = p._leads_for(dataclasses.replace(c, end=subject_end, span_end=subject_end), last)
    return leads[0]


def _clean_new_name(said: str) -> str:
    said = re.split(r"\s*(?:[,;.!?]|\band\b|\bnow\b)\s*", said.strip(), maxsplit=1)[0]
    words = re.findall(r"[^\W\d_][\w'.-]*", said)[:4]
    name = " ".join(words).strip(" .,-")
    if name and name == name.lower():
        name = " ".join(w[:1].upper() + w[1:] for w in name.split())
    return name


def _lead_changes(p: Any, lead: LeadRef, changes: dict[str, str]) -> UpdateLead | NoopAction:
    contact = p.ctx.book.lead_contact(lead.id)
    current = {"name": lead.name,
               "phone": contact.phone if contact is not None else lead.phone,
               "email": contact.email if contact is not None else None}
    new = {f: v for f, v in changes.items()
           if fold(v) != fold(current.get(f) or "")}
    if not new:
        field, value = next(iter(changes.items()))
        return NoopAction(replies.already_detail(lead.name, field, value), lead.id)
    old = tuple((f, current.get(f)) for f in ("name", "phone", "email") if f in new)
    return UpdateLead(lead.id, lead.name, name=new.get("name"), phone=new.get("phone"),
                      email=new.get("email"), old=old)


# --------------------------------------------------------------------------------------------
# The plan: no-ops out, one update_lead per lead, replies
# --------------------------------------------------------------------------------------------


def finish(p: Any, actions: Sequence[Action | NoopAction], mentioned: list[int],
           not_understood: Sequence[str] = ()) -> Plan:
    """The plan for `actions`: no-op actions left out (and said why), or kind noop;
    `not_understood`, what was said but made no action (named in the reply)."""
    return plan_of(actions, mentioned, (p._ext.get("selections") or {}).values(),
                   not_understood)


def plan_of(actions: Sequence[Action | NoopAction], mentioned: list[int],
            selections: Any = (), not_understood: Sequence[str] = ()) -> Plan:
    """`finish` for any parser (the model path too): `selections` are the selectors whose
    leads' actions the reply counts and names in one line.

    Leaving actions out, or merging one lead's detail changes, moves the actions after them:
    an action about a lead the plan itself creates names it by its create_lead's place
    (`plan.new_lead_ref`), so those references are renumbered to the places that remain."""
    kept: list[tuple[int, Action]] = []
    reasons: list[str] = []
    for index, action in enumerate(actions):
        if isinstance(action, NoopAction):
            reason = action.reason
        elif isinstance(action, UpdateStatus) and action.old_status == action.status:
            reason = replies.already_in_status(action.lead, action.status)
        else:
            kept.append((index, action))
            continue
        if reason not in reasons:
            reasons.append(reason)
    merged = _merge_lead_updates(kept)
    final = _renumber_new_leads(merged)
    bulk = _picked_runs(final, selections)
    if not final:
        return Plan(kind="noop", reply=" ".join(reasons), mentioned_lead_ids=mentioned)
    reply = replies.with_left_out(replies.plan_reply_with(final, bulk, not_understood), reasons)
    return Plan(kind="plan", reply=reply, actions=final, mentioned_lead_ids=mentioned)


def _renumber_new_leads(kept: list[tuple[int, Action]]) -> list[Action]:
    place = {old: new for new, (old, _) in enumerate(kept)}
    out: list[Action] = []
    for _, action in kept:
        made_by = created_by(getattr(action, "lead_id", None))
        if made_by is not None and made_by in place and place[made_by] != made_by:
            action = dataclasses.replace(action, lead_id=new_lead_ref(place[made_by]))
        out.append(action)
    return out


def _picked_runs(actions: Sequence[Action], selections: Any) -> dict[int, str]:
    """Which actions were made for the leads of one selector (by identity -> the phrase), so
    the reply can count and name them in one line."""
    out: dict[int, str] = {}
    for selection in selections:
        ids = [lead.id for lead in selection.leads]
        i = 0
        while i < len(actions):
            j, pos = i, 0
            while j < len(actions) and type(actions[j]) is type(actions[i]):
                lead_id = getattr(actions[j], "lead_id", None)
                while pos < len(ids) and ids[pos] != lead_id:
                    pos += 1
                if pos == len(ids):
                    break
                pos += 1
                j += 1
            if j - i >= 2:
                for action in actions[i:j]:
                    out[id(action)] = selection.said
                i = j
            else:
                i += 1
    return out


def _merge_lead_updates(kept: list[tuple[int, Action]]) -> list[tuple[int, Action]]:
    """All changes to one lead's details in one message are one update_lead action."""
    out: list[tuple[int, Action]] = []
    for index, action in kept:
        if isinstance(action, UpdateLead):
            same = next((i for i, (_, a) in enumerate(out)
                         if isinstance(a, UpdateLead) and a.lead_id == action.lead_id), None)
            if same is not None:
                first, prev = out[same]
                assert isinstance(prev, UpdateLead)
                old = dict(prev.old)
                old.update(dict(action.old))
                out[same] = (first, UpdateLead(
                    prev.lead_id, prev.lead, name=action.name or prev.name,
                    phone=action.phone or prev.phone, email=action.email or prev.email,
                    old=tuple((f, old[f]) for f in ("name", "phone", "email") if f in old)))
                continue
        out.append((index, action))
    return out


# --------------------------------------------------------------------------------------------
# Clarify answers
# --------------------------------------------------------------------------------------------


def answer_value(kind: str, text: str, clarify: dict) -> Any:
    """What an answer pins for a follow-up choice or an email, or None if it answers nothing."""
    if kind == "follow_up":
        options = clarify.get("options") or []
        number = re.fullmatch(r"#?\s*(\d{1,2})[.)]?", text.strip())
        if number:
            i = int(number.group(1))
            return options[i - 1] if 1 <= i <= len(options) else None
        said = fold(text)
        chosen = [o for o, n in zip(options, clarify.get("names", []), strict=False)
                  if said and said in fold(n)]
        return chosen[0] if len(chosen) == 1 else None
    if kind == "email":
        found = find_email(text)
        return found.value if found is not None else None
    return None
