"""Status words: the seven stored statuses and the natural ways agents say them.

The spec lists examples ("in negotiations", "sold", "dead", "reached out"...); agents use many
more, and typos ("negociating", "qualifed"), so single words also match by edit distance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from db.vocabulary import STATUSES

# phrase (lowercase, words separated by single spaces) -> status
SYNONYMS: dict[str, str] = {
    "new": "new", "new lead": "new", "brand new": "new", "fresh lead": "new",
    "contacted": "contacted", "reached out": "contacted", "reached out to": "contacted",
    "in contact": "contacted", "made contact": "contacted", "touched base": "contacted",
    "contact made": "contacted", "reached": "contacted",
    "qualified": "qualified", "pre qualified": "qualified", "prequalified": "qualified",
    "pre approved": "qualified", "preapproved": "qualified", "qualified lead": "qualified",
    # financing in place is what makes a buyer qualified ("Sarah got financing")
    "got financing": "qualified", "got her financing": "qualified",
    "got his financing": "qualified", "got their financing": "qualified",
    "secured financing": "qualified", "financing approved": "qualified",
    "got approved": "qualified", "approved for a mortgage": "qualified",
    "negotiating": "negotiating", "negotiation": "negotiating", "negotiations": "negotiating",
    "in negotiation": "negotiating", "in negotiations": "negotiating", "negotiate": "negotiating",
    "under negotiation": "negotiating", "negotiating stage": "negotiating",
    "in talks": "negotiating", "negotiating an offer": "negotiating",
    "closed won": "closed_won", "won": "closed_won", "closed": "closed_won", "sold": "closed_won",
    "closed the deal": "closed_won", "closed deal": "closed_won", "deal closed": "closed_won",
    "won the deal": "closed_won", "closed win": "closed_won", "closing won": "closed_won",
    "closed and won": "closed_won", "signed": "closed_won", "bought": "closed_won",
    "closed one": "closed_won",  # speech-to-text for "closed won"
    "closed lost": "closed_lost", "lost": "closed_lost", "dead": "closed_lost",
    "dead lead": "closed_lost", "lost the deal": "closed_lost", "fell through": "closed_lost",
    "deal fell through": "closed_lost", "not interested": "closed_lost",
    "no longer interested": "closed_lost", "dead deal": "closed_lost",
    "closed and lost": "closed_lost",
    "closed loss": "closed_lost", "gone cold": "closed_lost", "walked away": "closed_lost",
    "went cold": "closed_lost", "backed out": "closed_lost", "pulled out": "closed_lost",
    "follow up": "follow_up", "needs follow up": "follow_up", "needs a follow up": "follow_up",
    "need follow up": "follow_up", "needs followup": "follow_up", "follow up needed": "follow_up",
    "to follow up": "follow_up", "pending follow up": "follow_up",
    "needs following up": "follow_up",
}
for _s in STATUSES:
    SYNONYMS[_s.replace("_", " ")] = _s

# Speech-to-text homophones, trusted only when the whole status slot is this phrase
# ("update John's status to one"): "one" anywhere else is a number.
_HOMOPHONES: dict[str, str] = {
    "one": "closed_won", "closed one": "closed_won", "close one": "closed_won",
    "closed won one": "closed_won", "closed want": "closed_won", "close won": "closed_won",
    "close lost": "closed_lost", "closed last": "closed_lost", "lost it": "closed_lost",
    "negotiation stage": "negotiating", "qualify": "qualified", "contact": "contacted",
    "follow": "follow_up", "followup": "follow_up", "followed up": "follow_up",
}

# Words too short or too common to match by edit distance.
_FUZZY_WORDS = {
    w: SYNONYMS[w]
    for w in ("contacted", "qualified", "negotiating", "negotiation", "negotiations",
              "prequalified", "preapproved")
}

_SEP = r"[\s_\-]+"


def _phrase_pattern(phrase: str) -> str:
    return _SEP.join(re.escape(w) for w in phrase.split())


_PHRASES = sorted(SYNONYMS, key=len, reverse=True)
_STATUS_RE = re.compile(
    r"(?<![\w'])[\"']?(" + "|".join(_phrase_pattern(p) for p in _PHRASES) + r")[\"']?(?![\w])",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"[a-z]+", re.IGNORECASE)


@dataclass(frozen=True)
class StatusMatch:
    start: int
    end: int
    status: str


def _key(text: str) -> str:
    return " ".join(re.sub(r"[\"'_\-]+", " ", text.lower()).split())


def canonical_status(phrase: str) -> str | None:
    """The status a whole phrase names ("In Negotiations", "closed-won", "qualifed"), or None."""
    key = _key(phrase)
    if key.startswith("status "):
        key = key[len("status "):]
    for lead_in in ("to ", "as ", "is ", "now "):
        if key.startswith(lead_in):
            key = key[len(lead_in):]
    key = key.removesuffix(" status").removesuffix(" now")
    if key in SYNONYMS:
        return SYNONYMS[key]
    if key in _HOMOPHONES:
        return _HOMOPHONES[key]
    if " " not in key and len(key) >= 5:
        best = min(_FUZZY_WORDS, key=lambda p: Levenshtein.distance(key, p))
        if Levenshtein.distance(key, best) <= (1 if len(key) < 8 else 2):
            return _FUZZY_WORDS[best]
    return None


def find_status(text: str, start: int = 0, end: int | None = None) -> StatusMatch | None:
    """The first status phrase in text[start:end] (longest wording wins), typos included."""
    end = len(text) if end is None else end
    m = _STATUS_RE.search(text, start, end)
    if m:
        return StatusMatch(m.start(1), m.end(1), SYNONYMS[_key(m.group(1))])
    for w in _WORD_RE.finditer(text, start, end):
        word = w.group().lower()
        if len(word) >= 6:
            best = min(_FUZZY_WORDS, key=lambda p, word=word: Levenshtein.distance(word, p))
            if Levenshtein.distance(word, best) <= (1 if len(word) < 8 else 2):
                return StatusMatch(w.start(), w.end(), _FUZZY_WORDS[best])
    return None
