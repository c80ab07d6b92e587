"""Names said that are nobody's lead: where in a clause a person is named, and what looks like one.

The spec: a person's name said in a message that matches none of the agent's leads is never
swapped for a recent lead ("Remind me to call Mike Johnson" right after a message about Dana Cole
is `unknown_lead`), and a first name shared with a lead does not make a different surname that
lead ("Karen White" is not Karen Lopez). The matcher (`lead_names`) only finds leads; this module
answers the other question, on words the matcher left alone: is this word a person's name?

Without a dictionary of names the answer comes from where the word stands and how it is written:
- where a command names its person: right after "with", "called", "texted", "remind me to call",
  "send", ... or between a status verb and the status ("mark ___ as lost"), or as the subject
  before a verb or a colon ("___ called back", "___: called, no answer");
- what stands there: a word that is not an everyday word (`COMMON_WORDS`), not a pronoun, not a
  role ("the lender", "her husband"), not a verb form ("texted dana and confirmed"), and not the
  start of an address ("Elm St"). A capitalized everyday word that is also a surname ("White")
  continues a name.
Lowercase single words after a lead's first name stay ordinary words ("sent dana comps"): only a
capitalized word, or an everyday word that is mostly a surname ("karen white"), is a surname there.
"""

from __future__ import annotations

import re

from webapp.understanding.lead_names import COMMON_WORDS, NAME_LIKE_WORDS
from webapp.understanding.normalize import fold

PRONOUNS = frozenset("he him his she her hers they them their theirs".split())
# Words after which the next word is the person the command is about.
PERSON_BEFORE = frozenset(
    "with w from for call called calling phone phoned ring rang dial dialed text texted txt "
    "txted email emailed e-mailed message messaged dm dmed meet met see saw seen visit visited "
    "show showed shown tour toured took take left ping pinged remind ask asked tell told contact "
    "contacted send sent give gave bring forward forwarded invite invited thank thanked "
    "introduce introduced cc mark update set move change put switch flag".split()
)
# "to" names a person after these ("talked to Zed"); elsewhere only before a capital ("sent the
# offer to Zed"), since "to" is mostly followed by a verb ("remind me to draft the offer").
TO_PERSON_AFTER = frozenset(
    "talked talk talking spoke speak speaking spoken wrote write writing replied reply "
    "responded respond reached out mentioned mention chatted chat explained explain "
    "introduced introduce handed hand went".split()
)
# People who are not leads: "called the lender", "met her husband", "texted my broker".
ROLE_WORDS = frozenset(
    "lender lenders banker broker brokers attorney attorneys lawyer lawyers inspector inspectors "
    "appraiser appraisers contractor contractors plumber electrician roofer stager photographer "
    "notary underwriter underwriting title escrow insurance insurer hoa builder developer "
    "husband wife spouse partner fiance fiancee son daughter kids kid mom dad mother father "
    "parents sister brother family boss assistant team office seller sellers buyer buyers agent "
    "agents realtor realtors landlord tenant tenants neighbor neighbors coworker colleague "
    "client clients lead leads prospect prospects customer customers contact contacts "
    "everyone everybody nobody someone somebody anyone anybody".split()
)
# "Karen white": everyday words that, lowercase after a first name, are still mostly surnames.
LOWER_SURNAMES = frozenset(
    "white brown green black gray grey young king bell cook wells banks frost bond".split()
)
_STREET_SUFFIX = frozenset(
    "st street ave avenue rd road ln lane dr drive blvd boulevard ct court pl place way pkwy "
    "parkway cir circle ter terrace hwy highway sq square".split()
)
_WORD = re.compile(r"[^\W\d_][\w'’.-]*")
_POSSESSIVE = re.compile(r"(?:['’]s|s['’])$")


def _plain(word: str) -> str:
    return _POSSESSIVE.sub("", fold(word).rstrip(".")).replace("'", "").replace("’", "")


def verb_form(word: str) -> bool:
    """A lowercase word that reads as a verb form, not a name ("confirmed", "showing")."""
    w = fold(word)
    return len(w) > 4 and w.endswith(("ed", "ing"))


def name_word(word: str, first: bool) -> bool:
    """Could `word` (as written) be a word of a person's name here?

    `first`: it would start the name (an everyday word never does, "White" only continues one).
    """
    plain = _plain(word)
    if not plain or plain in PRONOUNS or plain in ROLE_WORDS:
        return False
    capitalized = word[0].isupper() and not (len(word) > 1 and word.isupper())
    if plain in COMMON_WORDS:
        return (not first) and plain in NAME_LIKE_WORDS and (capitalized or plain in
                                                             LOWER_SURNAMES)
    if not capitalized and verb_form(word):
        return False
    return True


def name_at(text: str, pos: int, end: int) -> tuple[int, int] | None:
    """The span of a person's name starting at the first word at or after `pos` (only spaces
    before it), up to three words joined by spaces; None when the word there is no name."""
    out: tuple[int, int] | None = None
    at = pos
    for n, m in enumerate(_WORD.finditer(text, pos, end)):
        if text[at:m.start()].strip() or n == 3:
            break
        word = m.group()
        if not name_word(word, first=n == 0):
            break
        out = (out[0] if out else m.start(), m.end())
        at = m.end()
        if _POSSESSIVE.search(word):
            break
    if out is None or address_at(text, out[0], out[1]):
        return None
    return out


def address_at(text: str, start: int, end: int | None = None) -> bool:
    """Is the word (or words) at text[start:end] part of an address ("Elm St", "12 Elm")?"""
    if end is None:
        m = _WORD.match(text, start)
        end = m.end() if m else start
    after = _WORD.match(text, end + 1) if end < len(text) and text[end] == " " else None
    if after is not None and _plain(after.group()) in _STREET_SUFFIX:
        return True
    return start > 0 and re.search(r"\d\s*$", text[:start]) is not None


def after_person_word(text: str, start: int, end: int) -> list[int]:
    """Positions in text[start:end] right after a word that introduces a person, in order."""
    out = []
    previous = ""
    for m in _WORD.finditer(text, start, end):
        word = fold(m.group())
        if word == "to" and previous not in TO_PERSON_AFTER:
            nxt_word = _WORD.match(text, m.end() + 1) if m.end() < end else None
            if nxt_word is None or not nxt_word.group()[0].isupper():
                previous = word
                continue
        previous = word
        if (word in PERSON_BEFORE or word == "to") and m.end() < end:
            nxt = re.match(r"\s+(?:up\s+with|in\s+with|base\s+with|back\s+(?:to|with)|out\s+to"
                           r"|over\s+to)?\s*", text[m.end():end])
            out.append(m.end() + (nxt.end() if nxt else 0))
    return out


def pronoun_at(text: str, pos: int) -> bool:
    m = _WORD.match(text, pos)
    return m is not None and fold(m.group()) in PRONOUNS
