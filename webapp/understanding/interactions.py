"""Which kind of interaction a clause talks about, from the verb (or noun) the agent used.

The spec's rule is "the verb for what the agent did decides": "Texted Dana the open-house times"
is a text, so the earliest cue in the clause wins. Each cue also says its grammatical form,
because the form tells done from to-do: "called" (past) is logged, "call Dana" (imperative) and
"a call with Dana tomorrow" (noun + time ahead) are scheduled.

Patterns run on the lowercased clause in which every lead mention is masked with LEAD_MASK
characters, so "took <lead> to see" can be written without knowing names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

LEAD_MASK = "\x01"
# a lead mention (masked), with possessive, or a pronoun standing for one
LEAD = r"(?:\x01+(?:'s?)?|him|her|them|he|she|they)"
_ANY = r"(?:[^,;.\n]{0,40}?)"

Form = Literal["past", "noun", "imperative", "explicit"]


@dataclass(frozen=True)
class Cue:
    start: int
    end: int
    type: str
    form: Form


_CUES: tuple[tuple[str, str, Form], ...] = (
    # explicit: the agent names the type
    (r"\b(?:add|log|make|put|leave|save|record|write|jot)\s+(?:down\s+)?(?:a|an|the)?\s*notes?\b",
     "note", "explicit"),
    (r"^(?:please\s+)?notes?\b(?:\s+(?:that|for|on|to|about)\b|\s*:)?", "note", "explicit"),
    (r"\b(?:log|record)\s+(?:a|an|the|my)?\s*"
     r"(call|phone call|meeting|viewing|showing|email|text)\b",
     "_group", "explicit"),
    # calls
    (r"\bleft\s+(?:" + LEAD + r"\s+|(?:[a-z][\w'-]*\s+){1,2}?)?(?:a\s+)?"
     r"(?:voicemail|voice mail|voice message|message)\b", "call", "past"),
    (r"\bgot off the phone\b|\bon the phone\b|\bover the phone\b|\bby phone\b", "call", "past"),
    (r"\b(?:called|phoned|rang|dialed|dialled|buzzed|ringed)\b", "call", "past"),
    (r"\b(?:tried|attempted)\s+(?:calling|to call|to reach|reaching)\b", "call", "past"),
    (r"\b(?:returned|missed)\s+(?:" + LEAD + r"\s+)?calls?\b", "call", "past"),
    (r"\b(?:got|had|received)\s+(?:a\s+)?(?:call|phone call)\b", "call", "past"),
    # "talked to Dana" is a call; "talked financing" is what was said (a note), not a call
    (r"\b(?:spoke|spoken|talked|chatted|chatting|talking|speaking)\b"
     r"(?=\s+(?:to|with|w)\b|\s*$|\s+" + LEAD + r"|\s+(?:this|today|yesterday|earlier|last|"
     r"just now|again|briefly|on the phone|over the phone|by phone)\b)"
     r"|" + LEAD + r"\s+and\s+i\s+(?:spoke|talked|chatted)\b",
     "call", "past"),
    (r"\b(?:phone call|call|phone)\b(?=\s+(?:with|from|to)\b)", "call", "noun"),
    # something received: "text from Will", "email from Dana" (logged, never scheduled)
    (r"^(?:got\s+|had\s+|received\s+)?(?:an?\s+)?(?:text|message|sms)\s+from\b", "text", "past"),
    (r"^(?:got\s+|had\s+|received\s+)?(?:an?\s+)?(?:email|e-mail)\s+from\b", "email", "past"),
    (r"^(?:got\s+|had\s+|received\s+)?(?:an?\s+)?(?:call|voicemail)\s+from\b", "call", "past"),
    (r"\b(?:give|gave)\s+(?:" + LEAD + r"\s+)?a\s+(?:call|ring|buzz)\b", "call", "imperative"),
    (r"^(?:please\s+)?(?:call|phone|ring|dial|try)\b(?!\s+from\b)", "call", "imperative"),
    (r"\bcall\b", "call", "noun"),
    # viewings (before meetings: "took Dana to see" and "showed" beat a later "met")
    (r"\btook\s+" + LEAD + r"\s+(?:to\s+(?:see|view|tour|look at|check out)|on a (?:tour|showing)"
     r"|through|around|to the)\b", "viewing", "past"),
    (r"\b(?:showed|shown|toured|viewed|visited|walked\s+(?:" + LEAD + r"\s+)?through)\b",
     "viewing", "past"),
    (r"\b(?:viewing|viewings|showing|showings|open house|open-house|walkthrough|walk-through"
     r"|walk through|house tour|home tour|tour|property tour)\b", "viewing", "noun"),
    (r"^(?:please\s+)?(?:show|tour|view)\b", "viewing", "imperative"),
    # meetings
    (r"\b(?:met|met up|sat down|caught up)\b", "meeting", "past"),
    (r"\b(?:meeting|meetings)\b", "meeting", "noun"),
    (r"\b(?:coffee|lunch|dinner|breakfast|drinks|brunch|in person|appointment|appointments"
     r"|consultation|consult|listing presentation)\b", "meeting", "noun"),
    (r"^(?:please\s+)?(?:meet|(?:grab|have|get)\s+(?:coffee|lunch|dinner|drinks))\b",
     "meeting", "imperative"),
    # email
    (r"\b(?:emailed|e-mailed|mailed|wrote to)\b", "email", "past"),
    (r"\bsent\s+(?:" + LEAD + r"\s+)?(?:an?\s+)?(?:email|e-mail)\b", "email", "past"),
    (r"^(?:please\s+)?(?:email|e-mail)\b(?!\s+from\b)", "email", "imperative"),
    (r"\b(?:email|e-mail|emails)\b", "email", "noun"),
    # text
    (r"\b(?:texted|messaged|dmed|dm'd|whatsapped|smsed)\b", "text", "past"),
    (r"\bsent\s+(?:" + LEAD + r"\s+)?(?:an?\s+)?(?:text message|text|sms|message|dm)\b",
     "text", "past"),
    (r"^(?:please\s+)?(?:text|message|dm|sms)\b(?!\s+from\b)", "text", "imperative"),
    (r"\b(?:text|texts|sms|text message)\b", "text", "noun"),
)
_COMPILED = tuple((re.compile(p), t, f) for p, t, f in _CUES)
_GROUP_TYPES = {"phone call": "call", "showing": "viewing"}


def find_cue(text: str) -> Cue | None:
    """The earliest interaction cue in a lowercased, lead-masked clause (ties: listed first)."""
    best: Cue | None = None
    for pattern, itype, form in _COMPILED:
        m = pattern.search(text)
        if m is None or (best is not None and m.start() >= best.start):
            continue
        if itype == "_group":
            word = m.group(1)
            itype = _GROUP_TYPES.get(word, word)
        best = Cue(m.start(), m.end(), itype, form)
    return best
