"""Many leads at once: a clause that picks its leads by what is known about them.

The spec's "Many leads at once": "all my contacted leads", "everyone in negotiating", "every new
lead" (by status); "everyone I showed today", "all the leads I called this week", "everyone I
met yesterday" (by an interaction of a type in a period: today, yesterday, this week = Monday to
now, last week); "leads I haven't contacted in 30 days", "everyone not contacted for 2 weeks"
(last contact before now minus that span, or never). Said together ("all my negotiating leads I
haven't contacted in 2 weeks") they narrow each other down.

How it plugs into the parser: `find_selectors` runs once per message, right after the lead
names are found, and turns each selector phrase into a *mention* of the leads it picks, so the
rest of the parser reads "Mark everyone I showed today as contacted" exactly like "Mark Dana Cole
and April Jones as contacted": the phrase is masked like a name (its status word is not the new
status, its "today" is not a due date), the clause's action is made once per lead, and a title
names each lead where the selector was ("call all my negotiating leads" -> "call Grace Lee").

The picked leads are in alphabetical order of the full name as stored, case and accents ignored.
Picking nobody is a no-op (`nobody`); more than MAX_PICKED asks to narrow down (`too_many`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from webapp.understanding import replies
from webapp.understanding.lead_names import Mention
from webapp.understanding.normalize import fold
from webapp.understanding.plan import Action, LeadRef, Plan, ScheduleFollowUp
from webapp.understanding.statuses import canonical_status

MAX_PICKED = 25
_CONTACT_TYPES = ("call", "meeting", "viewing", "email", "text")

_STATUS_WORDS = (r"(?:new|contacted|qualified|negotiating|negotiation|in negotiations?|"
                 r"closed[ _-]?won|closed[ _-]?lost|won|lost|dead|follow[ _-]?ups?|"
                 r"needs? follow[ _-]?up)")
_PEOPLE = r"(?:leads?|clients?|people|folks|contacts|ones|buyers|sellers|prospects)"
_EVERYONE = r"(?:every(?:one|body|1)|any(?:one|body))"
# "all my negotiating leads", "every new lead", "all of the closed won clients"
_BY_STATUS_ALL = re.compile(
    r"\b(?:all|every|each)(?:\s+(?:of\s+)?(?:my|the|our))?\s+(?P<st>" + _STATUS_WORDS + r")\s+"
    + _PEOPLE + r"\b")
# "my negotiating leads" (plural only: "my new lead Dana" names one)
_BY_STATUS_MY = re.compile(
    r"\b(?:my|the)\s+(?P<st>" + _STATUS_WORDS + r")\s+(?:leads|clients|people|contacts|buyers|"
    r"sellers|prospects)\b")
# "everyone in negotiating", "all leads marked qualified", "everybody who's new"
_BY_STATUS_IN = re.compile(
    r"\b(?:" + _EVERYONE + r"|all(?:\s+(?:of\s+)?(?:my|the))?\s+" + _PEOPLE + r")\s+"
    r"(?:(?:currently|still)\s+)?(?:in|at|marked(?:\s+as)?|with (?:status|stage)|"
    r"(?:who|that)(?:'s| is| are|'re)|whose status is)\s+(?:the\s+)?(?P<st>" + _STATUS_WORDS
    + r")(?:\s+(?:stage|status))?\b")
_WHO = (r"(?:" + _EVERYONE + r"|all(?:\s+(?:of\s+)?(?:the|my|those))?\s+" + _PEOPLE
        + r"|(?:the\s+|my\s+|those\s+)?" + _PEOPLE + r")")
_VERBS = {
    "viewing": r"showed|shown|show|toured|viewed|walked through|did (?:a )?(?:showings?|viewings?)"
               r" (?:with|for)",
    "call": r"called|phoned|rang|rung|had (?:a )?calls? with|spoke to on the phone",
    "meeting": r"met(?: with)?|had (?:a )?meetings? with|had coffee with|had lunch with|"
               r"sat down with",
    "email": r"emailed|e-mailed|mailed|sent (?:an )?emails? to",
    "text": r"texted|messaged|sms'?d|sent (?:a )?texts? to",
    "contact": r"spoke (?:to|with)|spoken (?:to|with)|talked (?:to|with)|contacted|reached out to|"
               r"heard from|touched base with|got in touch with",
}
_VERB_TYPES = tuple((kind, re.compile(alts)) for kind, alts in _VERBS.items())
_PERIOD = (r"today|this morning|this afternoon|yesterday|this week|last week|earlier this week|"
           r"over the weekend|this weekend")
# "everyone I showed today", "all the leads I called this week"
_BY_INTERACTION = re.compile(
    r"\b(?P<who>" + _WHO + r")\s+(?:(?:that|who|whom)\s+)?(?:i|we)\s+(?:have\s+|'ve\s+|just\s+|"
    r"already\s+)*(?P<verb>" + "|".join(f"(?:{alts})" for alts in _VERBS.values()) + r")"
    r"(?:\s+(?:a\s+)?(?:house|home|place|property|listing|condo|something))?"
    r"(?:\s+(?P<period>" + _PERIOD + r"))?\b")
_QTY = (r"\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
        r"twenty|thirty|forty|forty five|fifty|sixty|ninety|a couple(?: of)?|a few")
# "leads I haven't contacted in 30 days", "everyone not contacted for 2 weeks"
_NOT_CONTACTED = re.compile(
    r"\b(?:(?P<who>" + _WHO + r")\s+)?(?:(?:that|who|whom)\s+)?(?:i\s+|we\s+)?"
    r"(?:haven'?t|have not|havent|hadn'?t|didn'?t|did not|not|never|hasn'?t|have(?:n't| not) "
    r"been|not been)\s+(?:been\s+|yet\s+)?"
    r"(?:contacted|talked to|spoken to|spoke to|spoken with|talked with|reached out to|reached|"
    r"heard from|called|touched base with|been in touch with|in touch with|followed up with|"
    r"contact(?:ed)?)"
    r"\s+(?:in|for|since|over|within)\s+(?:the\s+)?(?:last\s+|past\s+|over\s+)?"
    r"(?P<n>" + _QTY + r")\s*(?P<unit>days?|weeks?|wks?|months?)\b")
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
                 "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "forty five": 45,
                 "fifty": 50, "sixty": 60, "ninety": 90, "a couple": 2, "a couple of": 2,
                 "a few": 3}
# A cheap screen: a message without one of these words names no selector.
_SCREEN = re.compile(r"\b(?:all|every|everyone|everybody|each|anyone|anybody|leads|clients|"
                     r"people|folks|contacts)\b")


@dataclass(frozen=True)
class Selection:
    """The leads one selector phrase picks, and how to say what it asked for."""

    start: int
    end: int
    leads: tuple[LeadRef, ...]  # alphabetical; only the first few when there are too many
    said: str  # the phrase as written, for replies ("everyone I showed today")
    count: int = -1  # how many it picks (-1: len(leads))

    @property
    def total(self) -> int:
        return len(self.leads) if self.count < 0 else self.count


def find_selectors(p: Any, mentions: list[Mention]) -> list[Mention]:
    """The message's mentions with each selector phrase added as a mention of its leads.

    `p` is the parser's `_Parse` (its `low`, `norm`, `now`, `ctx` and `_ext` scratch space).
    Name mentions inside a selector phrase give way to it.
    """
    low = p.low
    if not _SCREEN.search(low):
        return mentions
    found: list[tuple[int, int, set[int] | None, str]] = []  # span, lead ids (None = all), kind
    for pattern in (_BY_STATUS_ALL, _BY_STATUS_IN, _BY_STATUS_MY):
        for m in pattern.finditer(low):
            status = canonical_status(m.group("st"))
            if status is None:
                continue
            ids = {lead.id for lead in p.ctx.leads if lead.status == status}
            found.append((m.start(), m.end(), ids, "status"))
    for m in _BY_INTERACTION.finditer(low):
        verb = re.sub(r"\s+", " ", m.group("verb"))
        kind = next((k for k, pattern in _VERB_TYPES if pattern.fullmatch(verb)), "contact")
        types = _CONTACT_TYPES if kind == "contact" else (kind,)
        start, end = _period(m.group("period") or "today", p.now)
        ids = p.ctx.book.leads_with_interactions(types, start, end)
        found.append((m.start(), m.end(), set(ids), "interaction"))
    for m in _NOT_CONTACTED.finditer(low):
        cutoff = _cutoff(m.group("n"), m.group("unit"), p.now)
        if cutoff is None:
            continue
        ids = p.ctx.book.leads_not_contacted_since(cutoff)
        start = m.start() if m.group("who") else m.start()
        found.append((start, m.end(), set(ids), "contact"))
    if not found:
        return mentions
    merged = _merge(found, low)
    selections: dict[tuple[int, int], Selection] = {}
    for start, end, ids in merged:
        if len(ids) > MAX_PICKED:  # only the count matters: asked to narrow down
            some = tuple(p.ctx.leads.get(i) for i in list(ids)[:MAX_PICKED + 1])
            selections[(start, end)] = Selection(start, end, tuple(x for x in some if x),
                                                 p.norm[start:end], count=len(ids))
            continue
        leads = sorted((lead for i in ids if (lead := p.ctx.leads.get(i)) is not None),
                       key=lambda lead: (fold(lead.name), lead.id))
        selections[(start, end)] = Selection(start, end, tuple(leads), p.norm[start:end])
    p._ext["selections"] = selections
    kept = [m for m in mentions
            if not any(s < m.end and m.start < e for s, e in selections)]
    added = [Mention(s, e, sel.leads, 100.0, True) for (s, e), sel in selections.items()]
    return sorted(kept + added, key=lambda m: m.start)


PERIODS = ("today", "yesterday", "this_week", "last_week")


def pick_leads(ctx: Any, now: datetime, *, status: str | None = None,
               interaction_type: str | None = None, period: str | None = None,
               not_contacted_days: int | None = None) -> list[LeadRef] | None:
    """The leads a selector given as fields picks (the model path's selector), alphabetical;
    None when no criterion is given (never "all leads")."""
    ids: set[int] | None = None
    if status is not None:
        ids = {lead.id for lead in ctx.leads if lead.status == status}
    if interaction_type is not None or period is not None:
        types = (interaction_type,) if interaction_type else _CONTACT_TYPES
        start, end = _period((period or "today").replace("_", " "), now)
        found = ctx.book.leads_with_interactions(types, start, end)
        ids = found if ids is None else ids & found
    if not_contacted_days is not None and not_contacted_days > 0:
        found = ctx.book.leads_not_contacted_since(now - timedelta(days=not_contacted_days))
        ids = found if ids is None else ids & found
    if ids is None:
        return None
    return sorted((lead for lead in ctx.leads if lead.id in ids),
                  key=lambda lead: (fold(lead.name), lead.id))


def _merge(found: list[tuple[int, int, set[int] | None, str]],
           low: str) -> list[tuple[int, int, set[int]]]:
    """Overlapping or adjacent selector phrases are one selector: the leads all of them pick."""
    found.sort(key=lambda f: (f[0], -f[1]))
    out: list[tuple[int, int, set[int]]] = []
    for start, end, ids, _ in found:
        if out:
            ps, pe, pids = out[-1]
            gap = low[pe:start] if start >= pe else ""
            if start < pe or re.fullmatch(r"\s*(?:that|who|whom|which)?\s*", gap):
                out[-1] = (ps, max(pe, end), pids & (ids or set()))
                continue
        out.append((start, end, set(ids or set())))
    return out


def _period(said: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a period said about past interactions, in the agent's zone."""
    zone = now.tzinfo
    today = datetime.combine(now.date(), time(0), tzinfo=zone)
    soon = now + timedelta(seconds=1)
    said = said.strip()
    if said == "yesterday":
        return _day_start(now.date() - timedelta(days=1), zone), today
    if said in ("this week", "earlier this week"):
        return _day_start(now.date() - timedelta(days=now.weekday()), zone), soon
    if said == "last week":
        monday = now.date() - timedelta(days=now.weekday())
        return _day_start(monday - timedelta(days=7), zone), _day_start(monday, zone)
    if said in ("over the weekend", "this weekend"):
        saturday = now.date() - timedelta(days=(now.weekday() - 5) % 7)
        return _day_start(saturday, zone), _day_start(saturday + timedelta(days=2), zone)
    return today, soon  # today, this morning, this afternoon


def _day_start(day, zone) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _cutoff(n: str, unit: str, now: datetime) -> datetime | None:
    count = int(n) if n.isdigit() else _NUMBER_WORDS.get(re.sub(r"\s+", " ", n))
    if not count:
        return None
    if unit.startswith("month"):
        return now - relativedelta(months=count)
    if unit.startswith(("week", "wk")):
        return now - timedelta(weeks=count)
    return now - timedelta(days=count)


# --------------------------------------------------------------------------------------------
# Hooks the parser calls for one clause
# --------------------------------------------------------------------------------------------


def selection_in(p: Any, start: int, end: int) -> Selection | None:
    """The selector said in [start, end) of the message, if any."""
    for (s, _e), selection in (p._ext.get("selections") or {}).items():
        if start <= s < end:
            return selection
    return None


def too_many(selection: Selection) -> Plan:
    return Plan(kind="clarify", reply=(
        f'"{selection.said}" picks {selection.total} leads; I change at most {MAX_PICKED} at '
        'once. Narrow it down, e.g. by status ("my negotiating leads") or by time ("everyone I '
        'called this week").'))


def nobody(selection: Selection) -> str:
    return replies.nobody_picked(selection.said)


def retitle(p: Any, selection: Selection, actions: Sequence[Action]) -> list[Action]:
    """A follow-up made for each picked lead names that lead where the selector was said."""
    out: list[Action] = []
    phrase = re.compile(re.escape(selection.said), re.IGNORECASE)
    for action in actions:
        if isinstance(action, ScheduleFollowUp) and phrase.search(action.title):
            title = phrase.sub(lambda _m, name=action.lead: name, action.title, count=1)
            title = re.sub(r"^(?:the|a|an)\s+", "", title).strip()
            action = ScheduleFollowUp(action.lead_id, action.lead, action.due_at, title)
        out.append(action)
    return out
