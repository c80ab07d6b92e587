"""Which of the agent's own leads a message names.

The parser hands us one SMS (or a voice transcript) and the agent's leads; we answer with the
spans that name leads. Agents type fast and speech-to-text mangles names, so a name is found
through four lenses, strongest first:

* exact: the normalized name word (NFKD, combining marks stripped, casefolded, apostrophes
  dropped), so "jose garcia" is José García and "OBrien" is O'Brien;
* phonetic: the same metaphone key ("Dough"/"Doe", "Kathryn"/"Catherine", "Smyth"/"Smith"),
  scored by spelling similarity so "Jon" prefers John over Jane (all three share "JN");
* fuzzy: a small edit distance (OSA, so a transposition "Sarha" counts as one edit), only for
  words of four letters or more;
* partial: first name or last name alone, with or without a possessive ("Doe's", "James'").

The hard part is that messages are sentences made of ordinary words, some of which are also
names ("Mark", "Will", "May", "Grace", "Price"). The rules below keep "mark dana as lost" about
Dana while "update mark's status" is still about Mark Price:

1. A word on the COMMON list (function words, command words, statuses, dates, numbers, real-estate
   vocabulary, and everyday words that are also names) is never matched fuzzily or phonetically,
   only exactly.
2. A run of two or more words that spells a lead's name ("Mark Price", "Will Turner", "Rose
   Hill") is always a name, even if every word is common: two name words in a row are strong
   evidence.
3. A single common word that equals a lead's first or last name is a name only with evidence:
   - it is possessive ("mark's", "April's");
   - it is capitalized mid-sentence ("met with Grace") - not for months, which English capitalizes
     anyway, nor when the whole message is in capitals or Title Case;
   - it follows a word that introduces a person ("with", "w/", "called", "call", "text", "met",
     "mark", "update", "remind"..., "from"/"for", or "to" after talk/spoke/wrote/sent...);
   - it is followed by a verb that needs a subject ("Grace wants", "Will called", "Mark is");
   - it follows "and"/"&"/"or" right after another lead ("called Dana and Will").
   and it is not in a verb position: followed by an object ("mark her as", "bill them"), a modal
   followed by a bare verb ("will call"), or a month used as a date ("May 5", "in June").
   Sentence-initial imperatives ("Mark dana as lost", "Will call back") therefore stay verbs.
4. A single word matched only fuzzily/phonetically needs the same evidence (rule 3), so that
   "coffee" in "met jose for coffee" is not the lead Coffey, but "called Dnaa" is Dana.

Scoring: a longer match (more name words said) wins; at equal length the higher score wins;
equal best scores are all returned (the parser asks a numbered clarify). Exact beats fuzzy, a
full name beats a first or last name alone, and a fuzzy alternative is never returned next to
an exact one because its score is lower.

Everything is indexed in `__init__` (exact word -> forms, metaphone key -> words, name words
bucketed by length for rapidfuzz); per-word candidate lists are memoized, since an agent's
messages reuse the same words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import jellyfish
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from webapp.understanding.plan import LeadRef

__all__ = ["COMMON_WORDS", "NAME_LIKE_WORDS", "LeadDirectory", "Mention", "fold_name"]


@dataclass(frozen=True)
class Mention:
    """A span of the message that names one (or, when ambiguous, several) of the agent's leads."""

    start: int
    end: int
    leads: tuple[LeadRef, ...]
    score: float
    exact: bool


# --------------------------------------------------------------------------------------------
# Normalization and tokenization
# --------------------------------------------------------------------------------------------

# Letters NFKD cannot take apart (ø is not o + a mark); casefold already handles ß -> ss.
_FOLD = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i", "ħ": "h"}
)
_APOSTROPHES = "'’ʼ‘`´"
_DROP_ASCII_APOSTROPHES = str.maketrans("", "", "".join(c for c in _APOSTROPHES if c.isascii()))
_HYPHENS = "-‐‑‒–"
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_LETTER = rf"(?:[^\W\d_]|[{_COMBINING}])"
# A word: letters, possibly joined by apostrophes or hyphens (O'Brien, Mary-Kate, Doe's).
_JOINERS = re.escape(_APOSTROPHES + _HYPHENS)
_TOKEN_RE = re.compile(rf"{_LETTER}+(?:[{_JOINERS}]{_LETTER}+)*")
_HYPHEN_SPLIT_RE = re.compile(f"[{re.escape(_HYPHENS)}]")
_APOSTROPHE_SPLIT_RE = re.compile(f"[{re.escape(_APOSTROPHES)}]")
_SENTENCE_BREAK_RE = re.compile(r"[.!?;:\n\r()\"“”\[\]]")
_NUMBER_NEXT_RE = re.compile(r"[ \t]*\d")
_CONTRACTION_TAILS = frozenset({"ll", "re", "ve", "d", "m", "t"})


def fold_name(text: str) -> str:
    """Fold a name or word to the form we compare: no accents, no apostrophes, casefolded.

    NFKD splits "é" into "e" + a combining mark which we drop, so "José" and "Jose" meet;
    apostrophes vanish so "O'Brien", "O’Brien" and "OBrien" meet.
    """
    if text.isascii():
        # The common case, in a fraction of the time: NFKD, the combining marks and _FOLD leave
        # ASCII as it is, and casefold() is lower().
        return text.lower().translate(_DROP_ASCII_APOSTROPHES)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = stripped.casefold().translate(_FOLD)
    return "".join(ch for ch in folded if ch not in _APOSTROPHES)


def _name_words(name: str) -> list[tuple[str, ...]]:
    """A stored name as words, each word a tuple of atoms ("Mary-Kate" -> ("mary", "kate"))."""
    return [atoms for raw in name.split() if (atoms := _word_atoms(raw))]


@functools.lru_cache(maxsize=65_536)
def _word_atoms(raw: str) -> tuple[str, ...]:
    """Memoized: an agent's 5,000 leads share a few hundred first and last names."""
    return tuple(a for part in _HYPHEN_SPLIT_RE.split(raw) if (a := _letters_only(fold_name(part))))


def _letters_only(text: str) -> str:
    return "".join(ch for ch in text if ch.isalpha())


@dataclass
class _Token:
    """One word of the message (hyphenated words are one token of several atoms)."""

    start: int
    end: int  # end of the span to report (includes a possessive 's or trailing ')
    word: str  # normalized whole word without the possessive, for context rules
    atoms: list[tuple[str, int, int]]  # (normalized atom, start, end)
    possessive: bool
    capitalized: bool
    contraction: bool
    sentence_start: bool  # nothing but punctuation that ends a sentence before it
    joined_to_next: bool  # only spaces between this word and the next (a name may continue)
    joined_to_prev: bool
    number_follows: bool  # a digit comes next ("May 5"), for the month rule


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    prev_end = 0
    for match in _TOKEN_RE.finditer(text):
        raw, start, end = match.group(), match.start(), match.end()
        gap = text[prev_end:start]
        core_end = end
        possessive = False
        contraction = False
        tail = _APOSTROPHE_SPLIT_RE.split(raw)
        if len(tail) > 1:
            last = fold_name(tail[-1])
            if last == "s":
                possessive = True
                core_end = end - 2
            elif last in _CONTRACTION_TAILS or (last == "t" and raw[-3:-2] in "nN"):
                contraction = True
        span_end = end
        if (
            not possessive
            and raw[-1:] in "sS"
            and end < len(text)
            and text[end] in _APOSTROPHES
            and (end + 1 == len(text) or not text[end + 1].isalnum())
        ):
            possessive = True  # James' / Jones'
            span_end = end + 1
        core = text[start:core_end]
        atoms: list[tuple[str, int, int]] = []
        pos = start
        for part in _HYPHEN_SPLIT_RE.split(core):
            norm = fold_name(part)
            if norm:
                atoms.append((norm, pos, pos + len(part)))
            pos += len(part) + 1
        if not atoms:
            prev_end = end
            continue
        joined = bool(tokens) and gap != "" and gap.strip(" \t") == ""
        if tokens:
            tokens[-1].joined_to_next = joined
        tokens.append(
            _Token(
                start=start,
                end=span_end,
                word="".join(a for a, _, _ in atoms),
                atoms=atoms,
                possessive=possessive,
                capitalized=raw[0].isupper() and not (len(raw) > 1 and raw.isupper()),
                contraction=contraction,
                sentence_start=not tokens or bool(_SENTENCE_BREAK_RE.search(gap)),
                joined_to_next=False,
                joined_to_prev=joined,
                number_follows=bool(_NUMBER_NEXT_RE.match(text, span_end)),
            )
        )
        prev_end = span_end
    return tokens


# --------------------------------------------------------------------------------------------
# Word lists for the common-word rules (see the module docstring)
# --------------------------------------------------------------------------------------------

_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_WEEKDAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday "
    "mon tue tues wed thu thur thurs fri sat sun weekend weekday".split()
)
_STATUS_WORDS = frozenset(
    "new contacted qualified negotiating negotiation negotiations closed won lost closed_won "
    "closed_lost follow_up followup dead sold deal status statuses pending active inactive".split()
)
_COMMAND_WORDS = frozenset(
    "mark update set change move log add note notes call called calling calls phone phoned "
    "text texted texting texts email emailed emailing emails message messaged msg sms meet met "
    "meeting meetings view viewed viewing viewings show showed showing showings shown tour "
    "toured touring open walkthrough remind reminder reminders schedule scheduled book booked "
    "follow follows followed up lead leads contact contacts qualify negotiate close closing win "
    "lose help undo yes no cancel confirm stop start unsubscribe agenda voicemail answer "
    "answered reply replied respond responded reach reached left leave send sent sending "
    "spoke speak talk talked told tell ask asked said says say".split()
)
_TIME_WORDS = frozenset(
    "today tonight tomorrow yesterday morning afternoon evening night noon midnight eod week "
    "weeks month months day days year years hour hours minute minutes min mins hr hrs am pm "
    "now later soon early late next last this ago asap spring summer autumn fall winter "
    "time times date dates".split()
)
_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million half first second third fourth fifth once twice "
    "st nd rd th".split()
)
_FUNCTION_WORDS = frozenset(
    "a an the and or but if then so to of in on at by for from with without within about into "
    "onto over under up down out off as is are was were be been being am do does did done "
    "doing have has had having i me my mine myself we us our ours you your yours he him his she "
    "her hers they them their theirs it its this that these those there here what which who "
    "whom whose when where why how all any some none not yes yeah yep yup nope ok okay k pls "
    "please thanks thank thx ty can could will would shall should may might must just also "
    "too very really still again back than more most less least much many few lot lots "
    "each every other another same such only own both either neither s w re via per let lets "
    "get got gets getting give gave given go going gone went come came coming make made take "
    "took taken see saw seen look looked looking want wants wanted need needs needed like "
    "likes liked love loves loved hate hated think thought know knew keep kept try tried "
    "put run ran well good great fine bad nice sure maybe probably definitely already "
    "soon never always sometimes again anyway hey hi hello dear mr mrs ms dr sir madam "
    "someone somebody anyone nobody everyone thing things stuff way ways".split()
)
_REAL_ESTATE_WORDS = frozenset(
    "house houses home homes property properties listing listings price prices priced offer "
    "offers offered contract contracts budget buyer buyers seller sellers client clients agent "
    "agents condo apartment unit units lot room rooms bed beds bedroom bedrooms bath baths "
    "bathroom kitchen garage yard pool floor floors roof deposit escrow mortgage loan bank "
    "inspection appraisal closing disclosure disclosures paperwork docs document documents "
    "sign signed signing keys key market rent lease tenant landlord street st avenue ave road "
    "rd lane ln drive dr court ct place pl boulevard blvd way park hill wood woods stone field "
    "fields hall coffee lunch dinner breakfast drinks office site visit visited interested "
    "interest happy concerns concern questions question details info information financing "
    "approved preapproved cash case page bill bills fee fees check".split()
)
# How agents name a lead's details and their own lists ("Priya's cell", "show my pipeline").
_DETAIL_WORDS = frozenset(
    "cell cellphone mobile number numbers digits email emails address pipeline stats "
    "statistics rundown briefing summary callback callbacks comps".split()
)
# Everyday English words that are also first or last names: still findable (rules 2 and 3).
_NAME_LIKE_WORDS = frozenset(
    "mark will may june april august grace hope joy faith rose drew sue chase miles summer "
    "dawn pat bill penny sandy frank rich guy ray art jack brown white green black gray grey "
    "young king long short little strong best good price hill park lane wood woods stone hall "
    "north south east west bell cook major bond banks cross day love wells frost storm "
    "winter spring fields".split()
)
COMMON_WORDS: frozenset[str] = (
    _MONTHS
    | _WEEKDAYS
    | _STATUS_WORDS
    | _COMMAND_WORDS
    | _TIME_WORDS
    | _NUMBER_WORDS
    | _FUNCTION_WORDS
    | _REAL_ESTATE_WORDS
    | _DETAIL_WORDS
    | _NAME_LIKE_WORDS
)
NAME_LIKE_WORDS = _NAME_LIKE_WORDS  # for `names_said`: which everyday words may end a name

# Words after which the next word is probably a person.
_INTRODUCERS = frozenset(
    "with w call called calling phone phoned ring rang text texted txt email emailed message "
    "messaged meet met see saw seen mark update updated move set remind ask asked tell told "
    "contact contacted ping pinged visit visited show showed tour toured cc thank thanked "
    "from for introduce introduced".split()
)
# "to" introduces a person only after these ("talked to Will", not "going to mark ...").
_TO_INTRODUCERS = frozenset(
    "talked talk talking spoke speak speaking spoken wrote write writing sent send sending "
    "replied reply responded respond reached out mentioned mention introduced introduce "
    "showed show gave give chatted chat listened explained explain forwarded forward "
    "handed hand returned".split()
)
# Verbs that want a subject: "Grace wants ...", "Will called back".
_AGENTIVE_VERBS = frozenset(
    "wants wanted said says called calls texted texts emailed emails replied replies asked "
    "asks loved loves liked likes hated hates needs needed agreed agrees signed signs accepted "
    "accepts rejected rejects declined declines decided decides thinks thought offered offers "
    "countered counters canceled cancelled cancels confirmed confirms came left mentioned "
    "mentions prefers preferred responded responds reached showed shows visited toured saw "
    "didnt doesnt cant wont hasnt isnt wasnt".split()
)
_COPULA = frozenset("is was has had".split())
# Next words that put a common word in verb position: "mark her as", "bill them", "mark as lost".
_OBJECT_WORDS = frozenset(
    "me him her them it us you a an the as this that these those his their my our".split()
)
# A word after these is a noun, not a person: "the price is right".
_DETERMINERS = frozenset(
    "the a an this that these those my your his her their our its no any some every each "
    "what which whose".split()
)
_MODALS = frozenset("will may can might shall must".split())
_BARE_VERBS = frozenset(
    "be call text email meet see send need want have get go come do not never probably also "
    "still just follow make take look buy sell sign close reach let try ask tell give show "
    "tour visit check bring put stop start keep pick drop move update mark book schedule "
    "remind hear know think like love definitely likely".split()
)
_TEMPORAL_PREPS = frozenset(
    "in on by until till til before after since early late mid next this last of during "
    "for through from to end".split()
)
_AND_WORDS = frozenset("and or n".split())

# Scores of the forms a name can be said in, before atom quality.
_W_FULL = 100.0
_W_FIRST_LAST = 96.0
_W_RUN = 92.0
_W_WORD = 80.0
_W_MINOR = 70.0  # a middle name, or one half of a hyphenated first/last name

_MIN_FUZZY_LEN = 4
_SINGLE_MIN_QUALITY = 80.0
_MULTI_ALL_FUZZY_MIN_QUALITY = 85.0
_PHONETIC_MIN_RATIO = 50.0
_TIE = 1e-6
_CACHE_LIMIT = 20_000
_SUGGEST_SCAN = 400  # above this many leads, `suggest` scores a short list with WRatio


@dataclass(frozen=True)
class _Form:
    """One way to say one lead's name, as a sequence of normalized atoms."""

    lead: LeadRef
    atoms: tuple[str, ...]
    weight: float
    full: bool


@dataclass
class _Candidate:
    form: _Form
    n_atoms: int
    n_tokens: int
    score: float
    all_exact: bool


@dataclass
class _Match:
    mention: Mention
    n_tokens: int
    key: tuple[bool, int, float]  # how good: exact full name, name words said, score


def _max_distance(length: int) -> int:
    return 2 if length >= 8 else 1


def _metaphone(atom: str) -> str:
    if not atom.isascii():
        return ""
    try:
        return jellyfish.metaphone(atom)
    except Exception:  # jellyfish is C code fed arbitrary text; a failure just means no key
        return ""


class LeadDirectory:
    """The agent's leads, indexed for finding their names in messages.

    Build once per agent (or per message for a few leads); lookups are read-only apart from a
    bounded memo of per-word candidates, so one instance can serve one agent's conversation.
    """

    def __init__(self, leads: Iterable[LeadRef]) -> None:
        self._leads: dict[int, LeadRef] = {}
        self._names: list[tuple[str, LeadRef]] = []
        forms_by_first: dict[str, list[_Form]] = defaultdict(list)
        atoms: set[str] = set()
        for lead in leads:
            self._leads[lead.id] = lead
            words = _name_words(lead.name)
            if not words:
                continue
            self._names.append((" ".join("".join(w) for w in words), lead))
            for form in _forms_for(lead, words) + _spoken_prefix_forms(lead):
                forms_by_first[form.atoms[0]].append(form)
                atoms.update(form.atoms)
        self._forms_by_first = dict(forms_by_first)
        # The same forms, one-atom ones apart and longer ones by their second atom (each with
        # its position in its _forms_by_first list): most forms of a common first name
        # ("sarah ...") cannot match the next said word, and _best_at skips them without
        # changing what matches or in which order.
        self._single_forms: dict[str, list[_Form]] = {}
        self._forms_by_second: dict[str, dict[str, list[tuple[int, _Form]]]] = {}
        for first, forms in self._forms_by_first.items():
            for pos, form in enumerate(forms):
                if len(form.atoms) == 1:
                    self._single_forms.setdefault(first, []).append(form)
                else:
                    self._forms_by_second.setdefault(first, {}).setdefault(
                        form.atoms[1], []).append((pos, form))
        self._atoms = frozenset(atoms)
        phonetic: dict[str, list[str]] = defaultdict(list)
        by_length: dict[int, list[str]] = defaultdict(list)
        for atom in sorted(atoms):
            key = _metaphone(atom)
            if key:
                phonetic[key].append(atom)
            if len(atom) >= _MIN_FUZZY_LEN:
                by_length[len(atom)].append(atom)
        self._phonetic = dict(phonetic)
        self._by_length = dict(by_length)
        self._cache: dict[str, dict[str, float]] = {}
        self._suggest_choices = [name for name, _ in self._names]
        self._names_by_atom: dict[str, list[int]] = defaultdict(list)
        for index, (name, _) in enumerate(self._names):
            for atom in set(name.split()):
                self._names_by_atom[atom].append(index)

    def __len__(self) -> int:
        return len(self._leads)

    def get(self, lead_id: int) -> LeadRef | None:
        return self._leads.get(lead_id)

    def __iter__(self) -> Iterator[LeadRef]:
        """Every lead (for picking leads by status: "all my negotiating leads")."""
        return iter(self._leads.values())

    def is_name_word(self, word: str) -> bool:
        """Whether a normalized word is exactly a word of some lead's name."""
        return word in self._atoms

    # ---------------------------------------------------------------------------------------
    # Public lookups
    # ---------------------------------------------------------------------------------------

    def find_mentions(self, text: str) -> list[Mention]:
        """Spans of `text` that name leads, non-overlapping, left to right.

        Greedy left to right: at each word the longest acceptable match wins, so "Sarah Smith"
        is one mention (not "Sarah" then "Smith").
        """
        tokens = _tokenize(text)
        title_case = _mostly_capitalized(tokens)
        mentions: list[Mention] = []
        last_mention_token = -2
        i = 0
        while i < len(tokens):
            best = self._best_at(tokens, i, title_case, last_mention_token, assume_name=False)
            if best is None:
                i += 1
                continue
            later = self._better_overlap(tokens, i, best, title_case, last_mention_token)
            if later is not None:
                i = later
                continue
            mentions.append(best.mention)
            last_mention_token = i + best.n_tokens - 1
            i += best.n_tokens
        return mentions

    def _better_overlap(
        self,
        tokens: list[_Token],
        i: int,
        best: _Match,
        title_case: bool,
        last_mention_token: int,
    ) -> int | None:
        """Where a better match starts inside the match at i, if one does.

        Greedy matching alone reads "mark Adam Rose as won" as Mark Adams (fuzzy) + "Rose"; an
        overlapping exact full name starting at the next word is the better reading. On a tie
        the later match wins when the first word is a common word ("mark Scott West").
        """
        for j in range(i + 1, i + best.n_tokens):
            other = self._best_at(tokens, j, title_case, last_mention_token, assume_name=False)
            if other is None:
                continue
            if other.key > best.key or (other.key == best.key and tokens[i].word in COMMON_WORDS):
                return j
        return None

    def _bare_possessive(self, word: str) -> bool:
        """"sarahs", "danas": a name word and an "s", neither of them an everyday word
        ("marks", "hopes" are verbs) and not itself a name."""
        return (len(word) > 3 and word.endswith("s") and word[:-1] in self._atoms
                and word not in self._atoms and word not in COMMON_WORDS
                and word[:-1] not in COMMON_WORDS)

    def resolve(self, name: str) -> list[LeadRef]:
        """The best equally good leads for `name`, which the caller knows is only a name.

        Used for a clarify answer ("John Doe") or a name the parser already cut out. Every word
        said must be part of the match: "Karen White" does not resolve to Bob White (the
        parser then replies unknown_lead with `suggest`).
        """
        tokens = _tokenize(name)
        if not tokens:
            return []
        best = self._best_at(tokens, 0, False, -2, assume_name=True)
        if best is None or best.n_tokens != len(tokens):
            return []
        return list(best.mention.leads)

    def suggest(self, name: str, limit: int = 3) -> list[LeadRef]:
        """Closest lead names to `name`, however poor, for "did you mean ...?" replies."""
        query = " ".join(t.word for t in _tokenize(name))
        if not query or limit <= 0 or not self._suggest_choices:
            return []
        choices: Any = self._suggest_choices
        if len(choices) > _SUGGEST_SCAN:
            # WRatio over 5,000 names costs ~8 ms, the slowest step of any parse: score with it
            # only the names sharing a word (or a close one) with the query, and the names
            # closest by the cheap QRatio
            pool = {i for _, _, i in process.extract(query, choices, scorer=fuzz.QRatio,
                                                       limit=_SUGGEST_SCAN // 4)}
            for word in query.split():
                for atom in self._candidates(word):
                    pool.update(self._names_by_atom.get(atom, ()))
            choices = {i: self._suggest_choices[i] for i in pool}
        results = process.extract(
            query,
            choices,
            scorer=fuzz.WRatio,  # C scorer: spelling, word order and partial names
            limit=limit * 4,
        )
        out: list[LeadRef] = []
        seen: set[int] = set()
        for _, _, index in sorted(results, key=lambda r: (-r[1], r[0], r[2])):
            lead = self._names[index][1]
            if lead.id not in seen:
                seen.add(lead.id)
                out.append(lead)
            if len(out) == limit:
                break
        return out

    # ---------------------------------------------------------------------------------------
    # Matching
    # ---------------------------------------------------------------------------------------

    def _candidates(self, atom: str) -> dict[str, float]:
        """Name atoms a said atom may stand for, with a 0..100 quality (100 = exact)."""
        cached = self._cache.get(atom)
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if atom in self._atoms:
            found[atom] = 100.0
        elif self._bare_possessive(atom):
            found[atom[:-1]] = 99.0  # "sarahs status": a possessive typed without its "'"
        if atom not in COMMON_WORDS and atom.isalpha():
            key = _metaphone(atom)
            for other in self._phonetic.get(key, ()) if key else ():
                ratio = fuzz.ratio(atom, other)
                if other != atom and ratio >= _PHONETIC_MIN_RATIO:
                    found[other] = max(found.get(other, 0.0), min(99.0, 60.0 + 0.4 * ratio))
            if len(atom) >= _MIN_FUZZY_LEN:
                max_d = _max_distance(len(atom))
                for length in range(len(atom) - max_d, len(atom) + max_d + 1):
                    bucket = self._by_length.get(length)
                    if not bucket:
                        continue
                    for other, dist, _ in process.extract(
                        atom, bucket, scorer=OSA.distance, score_cutoff=max_d, limit=None
                    ):
                        if other != atom and dist <= _max_distance(len(other)):
                            quality = min(98.0, 50.0 + 0.4 * fuzz.ratio(atom, other))
                            found[other] = max(found.get(other, 0.0), quality)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[atom] = found
        return found

    def _best_at(
        self,
        tokens: list[_Token],
        i: int,
        title_case: bool,
        last_mention_token: int,
        assume_name: bool,
    ) -> _Match | None:
        """The best match starting at token i, as (mention, number of tokens it covers)."""
        first = tokens[i]
        if first.contraction:
            return None
        # Every form starts with a candidate of the first atom: most words have none, and then
        # nothing below can match (this is the answer for most words of a message).
        first_candidates = self._candidates(first.atoms[0][0])
        if not first_candidates:
            return None
        # Flatten atoms from token i onwards while the words stay joined by spaces.
        atoms: list[tuple[str, int]] = []  # (atom, token index)
        j = i
        while j < len(tokens):
            atoms.extend((a, j) for a, _, _ in tokens[j].atoms)
            if not tokens[j].joined_to_next or tokens[j].possessive or len(atoms) >= 8:
                break
            j += 1
        candidates: list[_Candidate] = []
        evidence: bool | None = None  # computed lazily: only single-word matches need it
        common = (atoms[0][0] if len(first.atoms) == 1 else None) in COMMON_WORDS
        # Forms of two or more atoms first: when one of them matches, no one-atom form can be
        # the best (more atoms win) nor tie with it, so those are not even tried. Each pass
        # keeps the forms' order, so the result is the one a single pass over all gives.
        for name_atom, q0 in first_candidates.items():
            for form in self._longer_forms_to_try(name_atom, atoms):
                cand = self._match_form(form, atoms, q0)
                if cand is None:
                    continue
                if cand.n_tokens == 1 and not assume_name and (not cand.all_exact or common):
                    if cand.score < _SINGLE_MIN_QUALITY * form.weight / 100.0:
                        continue
                    if evidence is None:
                        evidence = _name_evidence(tokens, i, title_case, last_mention_token, self)
                    if not evidence:
                        continue
                candidates.append(cand)
        # One-atom forms: each is the _Candidate `_match_form` would return for it (score
        # weight * q0 / 100, exact when q0 is), built here without its general loop since a
        # common surname has dozens of them; none can stop inside a hyphenated word.
        if not candidates and not (len(atoms) > 1 and atoms[1][1] == i):
            for name_atom, q0 in first_candidates.items():
                forms = self._single_forms.get(name_atom)
                if not forms:
                    continue
                all_exact = q0 == 100.0
                needs_evidence = not assume_name and (not all_exact or common)
                for form in forms:
                    score = form.weight * q0 / 100.0
                    if needs_evidence:
                        if score < _SINGLE_MIN_QUALITY * form.weight / 100.0:
                            continue
                        if evidence is None:
                            evidence = _name_evidence(
                                tokens, i, title_case, last_mention_token, self
                            )
                        if not evidence:
                            continue
                    candidates.append(_Candidate(form, 1, 1, score, all_exact))
        if not candidates:
            return None
        top = max(candidates, key=lambda c: (c.n_atoms, c.score))
        best = [
            c for c in candidates if c.n_atoms == top.n_atoms and abs(c.score - top.score) <= _TIE
        ]
        leads: dict[int, LeadRef] = {}
        for c in sorted(best, key=lambda c: (c.form.lead.name, c.form.lead.id)):
            leads.setdefault(c.form.lead.id, c.form.lead)
        last = tokens[i + top.n_tokens - 1]
        mention = Mention(
            start=first.start,
            end=last.end,
            leads=tuple(leads.values()),
            score=round(top.score, 2),
            exact=top.form.full and top.all_exact,
        )
        return _Match(mention, top.n_tokens, (mention.exact, top.n_atoms, top.score))

    def _longer_forms_to_try(self, first: str, atoms: list[tuple[str, int]]) -> list[_Form]:
        """The forms of two or more atoms in `_forms_by_first[first]`, in order, less those
        `_match_form` would refuse at their second atom: one that is no candidate for the second
        said atom (nor that atom without a final "s", the possessive `_match_form` accepts)."""
        by_second = self._forms_by_second.get(first)
        if not by_second or len(atoms) < 2:
            return []
        said = atoms[1][0]
        accepted = self._candidates(said)
        stripped = said[:-1] if said.endswith("s") else None
        found: list[tuple[int, _Form]] = []
        if len(by_second) <= len(accepted) + 1:
            for second, forms in by_second.items():
                if second in accepted or second == stripped:
                    found.extend(forms)
        else:
            for second in accepted:
                found.extend(by_second.get(second, ()))
            if stripped is not None and stripped not in accepted:
                found.extend(by_second.get(stripped, ()))
        if len(found) > 1:
            found.sort(key=lambda item: item[0])
        return [form for _, form in found]

    def _match_form(
        self, form: _Form, atoms: list[tuple[str, int]], q0: float
    ) -> _Candidate | None:
        """Match `form` against the said atoms; it must end at the end of a said word."""
        n = len(form.atoms)
        if n > len(atoms):
            return None
        if n < len(atoms) and atoms[n][1] == atoms[n - 1][1]:
            return None  # would stop inside a hyphenated word ("Mary" of "Mary-Kate")
        qualities = [q0]
        for k in range(1, n):
            quality = self._candidates(atoms[k][0]).get(form.atoms[k])
            if quality is None and k == n - 1 and atoms[k][0].endswith("s"):
                # a possessive said without its apostrophe, after a first name ("john does",
                # "sarah smiths"): speech-to-text and hurried texts drop the "'"
                quality = 99.0 if atoms[k][0][:-1] == form.atoms[k] else None
            if quality is None:
                return None
            qualities.append(quality)
        mean = sum(qualities) / n
        all_exact = all(q == 100.0 for q in qualities)
        if n > 1 and not any(q == 100.0 for q in qualities):
            if mean < _MULTI_ALL_FUZZY_MIN_QUALITY:
                return None
        n_tokens = atoms[n - 1][1] - atoms[0][1] + 1
        return _Candidate(
            form=form,
            n_atoms=n,
            n_tokens=n_tokens,
            score=form.weight * mean / 100.0,
            all_exact=all_exact,
        )


def _forms_for(lead: LeadRef, words: list[tuple[str, ...]]) -> list[_Form]:
    """Every way we accept a lead's name being said, best weight per distinct atom sequence."""
    variants = [words]
    if any(len(w) > 1 for w in words):
        variants.append([("".join(w),) for w in words])  # "Marykate", "Smithjones"
    best: dict[tuple[str, ...], tuple[float, bool]] = {}

    def add(atoms: tuple[str, ...], weight: float, full: bool) -> None:
        if atoms and (atoms not in best or best[atoms][0] < weight):
            best[atoms] = (weight, full)

    for ws in variants:
        n = len(ws)
        add(tuple(a for w in ws for a in w), _W_FULL, True)
        if n >= 3:
            add(ws[0] + ws[-1], _W_FIRST_LAST, False)
            for length in range(2, n):
                for s in range(0, n - length + 1):
                    add(tuple(a for w in ws[s : s + length] for a in w), _W_RUN, False)
        if n >= 2:
            for index, word in enumerate(ws):
                edge = index in (0, n - 1)
                add(word, _W_WORD if edge else _W_MINOR, False)
        for index, word in enumerate(ws):
            if len(word) > 1 and index in (0, n - 1):
                for part in word:
                    add((part,), _W_MINOR, False)
    return [_Form(lead, atoms, w, full) for atoms, (w, full) in best.items()]


_PREFIXED_WORD_RE = re.compile(rf"^({_LETTER}{{1,2}})[{_APOSTROPHES}]({_LETTER}{{2,}})$")


def _spoken_prefix_forms(lead: LeadRef) -> list[_Form]:
    """"O'Brien" as speech-to-text writes it: two words, "o brien" (also "d angelo").

    Only whole-name forms and the surname alone: a lone "o" must never name anybody.
    """
    raw = lead.name.split()
    if not any(_PREFIXED_WORD_RE.match(w) for w in raw):
        return []
    words: list[tuple[str, ...]] = []
    surname: tuple[str, ...] = ()
    for w in raw:
        m = _PREFIXED_WORD_RE.match(w)
        if m:
            split = (_letters_only(fold_name(m.group(1))), _letters_only(fold_name(m.group(2))))
            words.extend([(split[0],), (split[1],)])
            surname = split
        elif atoms := _word_atoms(w):
            words.append(atoms)
    forms = [_Form(lead, tuple(a for w in words for a in w), _W_FULL, True)]
    if len(raw) >= 2 and surname:
        forms.append(_Form(lead, surname, _W_WORD, False))
    return forms


def _mostly_capitalized(tokens: list[_Token]) -> bool:
    """Title Case or ALL CAPS messages make capitalization meaningless as name evidence."""
    if len(tokens) < 3:
        return False
    caps = sum(1 for t in tokens if t.capitalized)
    return caps / len(tokens) >= 0.6


def _name_evidence(
    tokens: list[_Token],
    i: int,
    title_case: bool,
    last_mention_token: int,
    directory: LeadDirectory,
) -> bool:
    """Rule 3 of the module docstring: is the single word at i used as a person's name?"""
    tok = tokens[i]
    word = tok.word
    if tok.possessive or directory._bare_possessive(word):
        return True
    prev = tokens[i - 1].word if i > 0 and tok.joined_to_prev else None
    nxt = tokens[i + 1] if i + 1 < len(tokens) and tok.joined_to_next else None
    nxt_word = nxt.word if nxt is not None else None
    is_month = word in _MONTHS
    # Positions where the word is a date, a noun or a verb, whatever else is true.
    if is_month and (prev in _TEMPORAL_PREPS or tok.number_follows):
        return False  # "in May", "May 5th"
    if prev in _DETERMINERS:
        return False  # "the price is right"
    if word in _MODALS and nxt_word in _BARE_VERBS:
        return False  # "will call back"
    # A word that introduces a person outweighs what follows: "texted Mark the times".
    if prev in _INTRODUCERS:
        return True
    if prev == "to" and i >= 2 and tokens[i - 1].joined_to_prev:
        if tokens[i - 2].word in _TO_INTRODUCERS:
            return True  # "talked to Will"
    if prev in _AND_WORDS and last_mention_token == i - 2:
        return True  # "called Dana and Will"
    if nxt_word in _OBJECT_WORDS:
        return False  # "mark her as lost", "bill them"
    if nxt_word is not None and nxt_word not in COMMON_WORDS and directory.is_name_word(nxt_word):
        return False  # "Mark dana as lost": a command word followed by a name
    if tok.capitalized and not tok.sentence_start and not title_case and not is_month:
        return True  # "met Grace at the house"
    if nxt_word in _AGENTIVE_VERBS:
        return True  # "Grace wants a viewing"
    return nxt_word in _COPULA and not is_month  # "Mark is interested"
