"""Turn what arrived (SMS shorthand, emoji, speech-to-text) into plain text the rules can read.

Everything after this step works on the normalized text and its character offsets, so this
runs once, first. It never changes meaning: it only spells out shorthand ("tmrw", "w/", "f/u"),
drops emoji and joins spoken "p m" into "pm".
"""

from __future__ import annotations

import re
import unicodedata

from webapp.understanding.literal_screen import Needs, any_of, may_match, needs_of

# Texting shorthand, case-insensitive, whole words only. Order matters where patterns overlap.
# Each rule is (pattern, replacement, needs): `needs` lists, "|"-separated, lowercase literal
# pieces of which every match of the pattern contains at least one (read off the pattern by
# hand: the literal letters every alternative spells). A text containing none of them cannot
# match, so `normalize` skips that rule without running the regex; see `_may_match`.
_SHORTHAND: tuple[tuple[str, str, str], ...] = (
    (r"\b(?:tmrw|tmrow|tmr|tmw|tmorrow|tomoro|tomorow|tommorow|tommorrow|tomorrw|2moro|2morrow)\b",
     "tomorrow", "tm|tomor|tommo|2mo"),
    (r"\b(?:2day|tday)\b", "today", "2day|tday"),
    (r"\b(?:tonite|2nite)\b", "tonight", "tonite|2nite"),
    (r"\bw/o\b", "without", "w/o"),
    (r"\bw/(?=\s|\w|$)", "with ", "w/"),
    # a lone lowercase "w" before a word is "with" ("follow up w kevin"); "W 5th St" is not
    (r"(?-i:(?<![\w/.'-])w(?=\s+[^\W\d_]))", "with", "w"),
    # speech-to-text homophones of "to" before a verb ("remind me too call", "need two send")
    (r"\b(remind me|reminder|need|needs|have|has|got|want|wants|going|try|trying)\s+(?:too|two|2)"
     r"(?=\s+(?:call|text|email|e-mail|send|follow|check|see|meet|show|book|schedule|reach|"
     r"ping|touch|get|ask|review|sign|drop|bring|pick|confirm|let|tell|set)\b)", r"\1 to",
     "too|two|2"),
    (r"\bf/u\b|\bfollowup\b|\bfollow-up\b|\bf-up\b", "follow up", "f/u|followup|follow-up|f-up"),
    # "fu" as a command, before "with"/"w" or a word: "fu w dana", "fu lisa wong mon"
    (r"(?:^|(?<=[\n,;.!?]\s)|(?<=[\n,;.!?])|(?<=\band\s)|(?<=\bthen\s))fu\b(?=\s+\S)", "follow up",
     "fu"),
    (r"\blvm\b", "left a voicemail", "lvm"),
    (r"\basap\b", "", "asap"),
    (r"\bwh?at'?s\b", "what's", "wat|what"),
    (r"\bwh?at\b|\bwht\b", "what", "wat|what|wht"),
    (r"\bwht'?s\b", "what's", "wht"),
    (r"\b(email|text|phon|messag)d\b", r"\1ed", "emaild|textd|phond|messagd"),
    (r"\bcalld\b", "called", "calld"),
    # "tmrw eve" is the evening; "Eve Adams" is a person
    (r"(?-i:\b(?:eve|EVE)\b|\bEve\b(?![ \t]+[A-Z]))", "evening", "eve"),
    (r"\bchg\b", "change", "chg"),
    (r"\bmv\b", "move", "mv"),
    (r"\bcxl\b|\bcanx\b|\bcncl\b", "cancel", "cxl|canx|cncl"),
    (r"\bresched\b", "reschedule", "resched"),
    (r"\bsched\b", "schedule", "sched"),
    (r"\bre:", "about ", "re:"),
    (r"\bpl[sz]\b|\bplse\b", "please", "pls|plz"),
    (r"\bthx\b|\bthnx\b|\btnx\b|\bty\b", "thanks", "thx|thnx|tnx|ty"),
    (r"\bu\b", "you", "u"),
    (r"\bur\b", "your", "ur"),
    (r"\bappt\b|\bapt\b", "appointment", "appt|apt"),
    (r"\bmtg\b", "meeting", "mtg"),
    (r"\blmk\b", "let me know", "lmk"),
    (r"\bb/c\b", "because", "b/c"),
    (r"\bnxt\b", "next", "nxt"),
    (r"\bwk\b", "week", "wk"),
    (r"\bhrs\b", "hours", "hrs"),
    (r"\bhr\b", "hour", "hr"),
    (r"\bmins\b", "minutes", "mins"),
    (r"\btxt(?:ed|d)\b", "texted", "txt"),
    (r"\btxt\b", "text", "txt"),
    (r"\bmsg(?:ed|d)\b", "messaged", "msg"),
    (r"\bmsg\b", "message", "msg"),
    (r"\bvm\b|\bvmail\b", "voicemail", "vm"),
    (r"\bconvo\b", "conversation", "convo"),
    (r"\bb4\b", "before", "b4"),
    (r"\babt\b", "about", "abt"),
    (r"\bshes\b", "she's", "shes"),
    (r"\bhes\b", "he's", "hes"),
    (r"\btheyre\b", "they're", "theyre"),
    (r"\bwanna\b", "want to", "wanna"),
    (r"\bgonna\b", "going to", "gonna"),
    (r"(?<=\s)@(?=\s)", "at", "@"),
    (r"(?<=\s)&(?=\s)", "and", "&"),
    (r"(?<=\s)\+(?=\s)", "and", "+"),
)
_DAY_WORDS = (r"(?:tomorrow|today|this|mon|monday|tue|tues|tuesday|wed|weds|wednesday|thu|thur|"
              r"thurs|thursday|fri|friday|sat|saturday|sun|sunday)")
# "10 30" always has a digit 0-5 right after its one space
_SPACE_THEN_MINUTES = " 0| 1| 2| 3| 4| 5"
_SHORTHAND += (
    (rf"\b({_DAY_WORDS})\s+a\.?m\b\.?", r"\1 morning", "am|a.m"),
    (rf"\b({_DAY_WORDS})\s+p\.?m\b\.?", r"\1 afternoon", "pm|p.m"),
    # a dictated "10 30" clock time next to a day or after "at" ("call him 10 30 tomorrow")
    (rf"(?<![\d:/.-])\b(at\s+)?(1[0-2]|0?[1-9]) ([0-5]\d)\b(?![\d:/.-])"
     rf"(?=\s+(?:{_DAY_WORDS}|tonight|[ap]\.?m)\b)", r"\1\2:\3", _SPACE_THEN_MINUTES),
    (r"(?<![\d:/.-])\b(at\s+)(1[0-2]|0?[1-9]) ([0-5]\d)\b(?![\d:/.-])", r"\1\2:\3",
     _SPACE_THEN_MINUTES),
)
_SHORTHAND_RE = tuple(
    (re.compile(p, re.IGNORECASE), r, needs_of((needs,))) for p, r, needs in _SHORTHAND
)

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|thirty|forty|"
    "fourty|fifty|o'clock|oclock|oh|zero|twenty|forty five|"
    r"\d{1,4}"
)
# Speech-to-text spells "2:30 pm" as "two thirty p m" or "2 30 p. m.".
_SPOKEN_MERIDIEM = re.compile(
    rf"\b({_NUMBER_WORDS})\s+([ap])\s?\.?\s?m\b\.?", re.IGNORECASE
)
# The tail every _SPOKEN_MERIDIEM match contains: a much cheaper search that rules most texts out.
_SPOKEN_MERIDIEM_TAIL = re.compile(r"[ap]\s?\.?\s?m\b", re.IGNORECASE)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u2013": "-", "\u2014": " - ", "\u00a0": " ", "\u2032": "'",
                         "\u2192": " -> ", "\u21d2": " -> ", "\u27a1": " -> "})
_DROP_CATEGORIES = frozenset({"So", "Sk", "Cs", "Co", "Cn", "Cf", "Mn", "Me", "Cc"})
# strip_symbols for ASCII text in one str.translate: the same per-character rule, precomputed.
_ASCII_DROP = str.maketrans({
    chr(c): " " for c in range(128)
    if chr(c) != "\n" and unicodedata.category(chr(c)) in _DROP_CATEGORIES
})
_SPACES = re.compile(r"[ \t\r\f\v]+")
# _SPACES changes a line only if it holds one of these (a lone space is replaced by itself).
_SPACES_CHANGE = ("  ", "\t", "\r", "\f", "\v")
# Dictation hesitations carry no meaning anywhere ("call uh Dana", "went well um mark her won").
_HESITATION = re.compile(r"(?<![\w'-])(?:u+m+|u+h+m*|e+r+m+|h+m+)(?![\w'-])[,.]?", re.IGNORECASE)
_HESITATION_NEEDS = any_of("um", "uh", "rm", "hm")
# A dictated memo opens with discourse words before its first command ("okay so um called Dana").
_LEAD_IN = re.compile(
    r"^(?:(?:okay|ok|alright|all right|so|oh|and|also|well|anyway|anyways)\b[\s,.!-]*)+(?=\S)",
    re.IGNORECASE,
)
_LEAD_IN_NEEDS = any_of("ok", "alright", "all right", "so", "oh", "and", "well", "anyway")

# A careful writer wraps the command in courtesy ("Could you please mark...", "I'd like to log...",
# "I just wanted to let you know that I met with..."): dropped where a sentence or clause starts.
_POLITE = re.compile(
    r"(?:^|(?<=[.!?;,:]\s)|(?<=\band\s)|(?<=\bso\s)|(?<=\bthen\s)|(?<=\balso\s))"
    r"(?:(?:could|can|would|will)\s+you\s+(?:please\s+|kindly\s+)?(?:also\s+)?"
    r"|i(?:'d| would)\s+(?:also\s+|really\s+)?like\s+(?:you\s+)?to\s+"
    r"|i(?:'d| would)\s+like\s+(?:a|an)\s+(?=(?:reminder|follow up|note)\b)"
    r"|i\s+(?:also\s+)?need\s+you\s+to\s+"
    r"|(?:i\s+)?(?:just\s+)?want(?:ed)?\s+to\s+(?:let\s+you\s+know|tell\s+you|say|share|"
    r"report|mention|update\s+you)\s+(?:that\s+)?"
    r"|just\s+(?:so\s+you\s+know|letting\s+you\s+know|a\s+heads\s+up)(?:\s+that)?[\s,:]+"
    r"|(?:fyi|heads\s+up)\b[\s,:]+"
    r"|(?:i'm|i\s+am)\s+(?:pleased|happy|glad|sorry|sad|excited|thrilled)\s+to\s+"
    r"(?:report|say|share|tell\s+you|let\s+you\s+know|announce)\s+(?:that\s+)?"
    r"|(?:unfortunately|fortunately|happily|sadly|actually|good\s+news|bad\s+news)\b[\s,:!]+"
    r"|(?:please|kindly)\s+)+(?=\S)",
    re.IGNORECASE,
)
# One literal of each alternative above (the first repetition must match one of them).
_POLITE_NEEDS = any_of("you", "like", "want", "just", "fyi", "heads", "pleased", "happy", "glad",
                 "sorry", "sad", "excited", "thrilled", "fortunately", "happily", "actually",
                 "news", "please", "kindly")


# A greeting that opens the message and a thank-you sentence anywhere carry no command
# ("Hello! ...", "Hi there, ...", "... 10:30 am? Thanks so much.", "Thanks for your help! Can
# you..."); dropped only when something else is left, so "thanks" alone is read as it stands.
_GREETING = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|greetings)"
    r"(?:\s+there|\s+again)?\s*[!,.:-]+\s*)+(?=\S)",
    re.IGNORECASE,
)
_GREETING_NEEDS = any_of("hi", "hello", "hey", "good", "greetings")
_THANKS_SENTENCE = re.compile(
    r"(?:^|(?<=[.!?]\s))(?:(?:thanks|thank\s+you|many\s+thanks|much\s+appreciated|cheers)"
    r"(?:\s+(?:so|very)\s+much|\s+a\s+(?:lot|bunch|ton)|\s+again|\s+in\s+advance)*"
    r"(?:\s+for\s+(?:all\s+)?(?:your|the|this)\s+(?:help|assistance|time|support))?"
    r"|i\s+appreciate\s+(?:it|your\s+help))[.!]*(?=\s|$)\s*",
    re.IGNORECASE,
)
_THANKS_NEEDS = any_of("thank", "cheers", "appreciate")


def _drop_courtesy(line: str) -> str:
    out = _sub_if(_THANKS_SENTENCE, "", _sub_if(_GREETING, "", line, _GREETING_NEEDS),
                  _THANKS_NEEDS).strip()
    return out or line


# Command keywords typed with two letters swapped ("agneda", "stauts"): only a transposition,
# so no other word ("states") is ever rewritten.
_KEYWORDS = ("agenda", "status")
_KEYWORD_TYPO = re.compile(r"\b[a-z]{6}\b", re.IGNORECASE)
# Every word _keyword_typo rewrites, lowercased: a keyword with two adjacent letters swapped.
_KEYWORD_TYPO_NEEDS = any_of(*sorted(
    {kw[:i] + kw[i + 1] + kw[i] + kw[i + 2:] for kw in _KEYWORDS for i in range(len(kw) - 1)}
    - set(_KEYWORDS)
))


def _keyword_typo(m: re.Match) -> str:
    word = m.group()
    low = word.lower()
    for kw in _KEYWORDS:
        if low != kw and sorted(low) == sorted(kw):
            diff = [i for i in range(len(kw)) if low[i] != kw[i]]
            if len(diff) == 2 and diff[1] == diff[0] + 1:
                return kw
    return word


def _may_match(needs: Needs, low: str | None) -> bool:
    """`literal_screen.may_match`, where `low` is None for non-ASCII text: the rules run with
    IGNORECASE, which folds some non-ASCII letters in ways str.lower() does not mirror, so such
    text runs every rule (most rules match no message: this skips ~60 regex passes)."""
    return low is None or may_match(needs, low)


def _sub_if(pattern: re.Pattern, repl: str, text: str, needs: Needs) -> str:
    """pattern.sub(repl, text), without running the regex when `_may_match` rules it out."""
    if not _may_match(needs, text.lower() if text.isascii() else None):
        return text
    return pattern.sub(repl, text)


def strip_symbols(text: str) -> str:
    """Drop emoji and other symbols (they carry no command), keeping letters, digits and marks."""
    if text.isascii():
        return text.translate(_ASCII_DROP)
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) in _DROP_CATEGORIES:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def normalize(text: str) -> str:
    """The message as plain single-spaced text with shorthand spelled out; newlines kept."""
    text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    text = strip_symbols(text)
    # Every rule runs in order on the text the rules before it left, as if none were skipped;
    # `low` follows the text for `_may_match`. Replacements are ASCII, so ASCII text stays ASCII.
    low = text.lower() if text.isascii() else None
    for pattern, repl, needs in _SHORTHAND_RE:
        if low is not None and not may_match(needs, low):  # ~60 rules, most skipped here
            continue
        changed = pattern.sub(repl, text)
        if changed != text:
            text = changed
            low = text.lower() if low is not None else None
    if _may_match(_KEYWORD_TYPO_NEEDS, low):
        text = _KEYWORD_TYPO.sub(_keyword_typo, text)
    if _SPOKEN_MERIDIEM_TAIL.search(text):
        text = _SPOKEN_MERIDIEM.sub(lambda m: f"{m.group(1)} {m.group(2).lower()}m", text)
    text = _sub_if(_HESITATION, " ", text, _HESITATION_NEEDS)
    lines = [
        (_SPACES.sub(" ", line) if any(s in line for s in _SPACES_CHANGE) else line).strip()
        for line in text.split("\n")
    ]
    lines = [_sub_if(_POLITE, "", _sub_if(_LEAD_IN, "", _drop_courtesy(line), _LEAD_IN_NEEDS),
                     _POLITE_NEEDS)
             for line in lines]
    out: list[str] = []
    for line in lines:
        if out and _CONTINUES.match(line):
            out[-1] += " " + line  # "Mark John Doe\nas qualified": one command, wrapped
        elif line:
            out.append(line)
    return "\n".join(out)


# A line that starts with one of these goes on with the line before ("...\nas qualified").
_CONTINUES = re.compile(r"(?:as|to|into|is|was|are|status|'s)\b")


def safe_lower(text: str) -> str:
    """Lowercase without changing length, so offsets stay valid ('İ'.lower() has 2 chars)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def fold(text: str) -> str:
    """Lowercase, accents off: for comparing words, never for offsets."""
    if text.isascii():
        return text.lower()  # casefold() is lower() on ASCII, which has no accents to drop
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
