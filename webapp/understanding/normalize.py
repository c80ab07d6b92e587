"""Turn what arrived (SMS shorthand, emoji, speech-to-text) into plain text the rules can read.

Everything after this step works on the normalized text and its character offsets, so this
runs once, first. It never changes meaning: it only spells out shorthand ("tmrw", "w/", "f/u"),
drops emoji and joins spoken "p m" into "pm".
"""

from __future__ import annotations

import re
import unicodedata

# Texting shorthand, case-insensitive, whole words only. Order matters where patterns overlap.
_SHORTHAND: tuple[tuple[str, str], ...] = (
    (r"\b(?:tmrw|tmrow|tmr|tmw|tmorrow|tomoro|tomorow|tommorow|tommorrow|tomorrw|2moro|2morrow)\b",
     "tomorrow"),
    (r"\b(?:2day|tday)\b", "today"),
    (r"\b(?:tonite|2nite)\b", "tonight"),
    (r"\bw/o\b", "without"),
    (r"\bw/(?=\s|\w|$)", "with "),
    # a lone lowercase "w" before a word is "with" ("follow up w kevin"); "W 5th St" is not
    (r"(?-i:(?<![\w/.'-])w(?=\s+[^\W\d_]))", "with"),
    # speech-to-text homophones of "to" before a verb ("remind me too call", "need two send")
    (r"\b(remind me|reminder|need|needs|have|has|got|want|wants|going|try|trying)\s+(?:too|two|2)"
     r"(?=\s+(?:call|text|email|e-mail|send|follow|check|see|meet|show|book|schedule|reach|"
     r"ping|touch|get|ask|review|sign|drop|bring|pick|confirm|let|tell|set)\b)", r"\1 to"),
    (r"\bf/u\b|\bfollowup\b|\bfollow-up\b|\bf-up\b", "follow up"),
    # "fu" as a command, before "with"/"w" or a word: "fu w dana", "fu lisa wong mon"
    (r"(?:^|(?<=[\n,;.!?]\s)|(?<=[\n,;.!?])|(?<=\band\s)|(?<=\bthen\s))fu\b(?=\s+\S)", "follow up"),
    (r"\blvm\b", "left a voicemail"),
    (r"\basap\b", ""),
    (r"\bwh?at'?s\b", "what's"),
    (r"\bwh?at\b|\bwht\b", "what"),
    (r"\bwht'?s\b", "what's"),
    (r"\b(email|text|phon|messag)d\b", r"\1ed"),
    (r"\bcalld\b", "called"),
    (r"\beve\b", "evening"),
    (r"\bchg\b", "change"),
    (r"\bmv\b", "move"),
    (r"\bre:", "about "),
    (r"\bpl[sz]\b|\bplse\b", "please"),
    (r"\bthx\b|\bthnx\b|\btnx\b|\bty\b", "thanks"),
    (r"\bu\b", "you"),
    (r"\bur\b", "your"),
    (r"\bappt\b|\bapt\b", "appointment"),
    (r"\bmtg\b", "meeting"),
    (r"\blmk\b", "let me know"),
    (r"\bb/c\b", "because"),
    (r"\bnxt\b", "next"),
    (r"\bwk\b", "week"),
    (r"\bhrs\b", "hours"),
    (r"\bhr\b", "hour"),
    (r"\bmins\b", "minutes"),
    (r"\btxt(?:ed|d)\b", "texted"),
    (r"\btxt\b", "text"),
    (r"\bmsg(?:ed|d)\b", "messaged"),
    (r"\bmsg\b", "message"),
    (r"\bvm\b|\bvmail\b", "voicemail"),
    (r"\bconvo\b", "conversation"),
    (r"\bb4\b", "before"),
    (r"\babt\b", "about"),
    (r"\bshes\b", "she's"),
    (r"\bhes\b", "he's"),
    (r"\btheyre\b", "they're"),
    (r"\bwanna\b", "want to"),
    (r"\bgonna\b", "going to"),
    (r"(?<=\s)@(?=\s)", "at"),
    (r"(?<=\s)&(?=\s)", "and"),
    (r"(?<=\s)\+(?=\s)", "and"),
)
_DAY_WORDS = (r"(?:tomorrow|today|this|mon|monday|tue|tues|tuesday|wed|weds|wednesday|thu|thur|"
              r"thurs|thursday|fri|friday|sat|saturday|sun|sunday)")
_SHORTHAND += (
    (rf"\b({_DAY_WORDS})\s+a\.?m\b\.?", r"\1 morning"),
    (rf"\b({_DAY_WORDS})\s+p\.?m\b\.?", r"\1 afternoon"),
    # a dictated "10 30" clock time next to a day or after "at" ("call him 10 30 tomorrow")
    (rf"(?<![\d:/.-])\b(at\s+)?(1[0-2]|0?[1-9]) ([0-5]\d)\b(?![\d:/.-])"
     rf"(?=\s+(?:{_DAY_WORDS}|tonight|[ap]\.?m)\b)", r"\1\2:\3"),
    (r"(?<![\d:/.-])\b(at\s+)(1[0-2]|0?[1-9]) ([0-5]\d)\b(?![\d:/.-])", r"\1\2:\3"),
)
_SHORTHAND_RE = tuple((re.compile(p, re.IGNORECASE), r) for p, r in _SHORTHAND)

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|thirty|forty|"
    "fourty|fifty|o'clock|oclock|oh|zero|twenty|forty five|"
    r"\d{1,4}"
)
# Speech-to-text spells "2:30 pm" as "two thirty p m" or "2 30 p. m.".
_SPOKEN_MERIDIEM = re.compile(
    rf"\b({_NUMBER_WORDS})\s+([ap])\s?\.?\s?m\b\.?", re.IGNORECASE
)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u2013": "-", "\u2014": " - ", "\u00a0": " ", "\u2032": "'",
                         "\u2192": " -> ", "\u21d2": " -> ", "\u27a1": " -> "})
_DROP_CATEGORIES = frozenset({"So", "Sk", "Cs", "Co", "Cn", "Cf", "Mn", "Me", "Cc"})
_SPACES = re.compile(r"[ \t\r\f\v]+")
# Dictation hesitations carry no meaning anywhere ("call uh Dana", "went well um mark her won").
_HESITATION = re.compile(r"(?<![\w'-])(?:u+m+|u+h+m*|e+r+m+|h+m+)(?![\w'-])[,.]?", re.IGNORECASE)
# A dictated memo opens with discourse words before its first command ("okay so um called Dana").
_LEAD_IN = re.compile(
    r"^(?:(?:okay|ok|alright|all right|so|oh|and|also|well|anyway|anyways)\b[\s,.!-]*)+(?=\S)",
    re.IGNORECASE,
)

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


# A greeting that opens the message and a thank-you sentence anywhere carry no command
# ("Hello! ...", "Hi there, ...", "... 10:30 am? Thanks so much.", "Thanks for your help! Can
# you..."); dropped only when something else is left, so "thanks" alone is read as it stands.
_GREETING = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|greetings)"
    r"(?:\s+there|\s+again)?\s*[!,.:-]+\s*)+(?=\S)",
    re.IGNORECASE,
)
_THANKS_SENTENCE = re.compile(
    r"(?:^|(?<=[.!?]\s))(?:(?:thanks|thank\s+you|many\s+thanks|much\s+appreciated|cheers)"
    r"(?:\s+(?:so|very)\s+much|\s+a\s+(?:lot|bunch|ton)|\s+again|\s+in\s+advance)*"
    r"(?:\s+for\s+(?:all\s+)?(?:your|the|this)\s+(?:help|assistance|time|support))?"
    r"|i\s+appreciate\s+(?:it|your\s+help))[.!]*(?=\s|$)\s*",
    re.IGNORECASE,
)


def _drop_courtesy(line: str) -> str:
    out = _THANKS_SENTENCE.sub("", _GREETING.sub("", line)).strip()
    return out or line


# Command keywords typed with two letters swapped ("agneda", "stauts"): only a transposition,
# so no other word ("states") is ever rewritten.
_KEYWORDS = ("agenda", "status")
_KEYWORD_TYPO = re.compile(r"\b[a-z]{6}\b", re.IGNORECASE)


def _keyword_typo(m: re.Match) -> str:
    word = m.group()
    low = word.lower()
    for kw in _KEYWORDS:
        if low != kw and sorted(low) == sorted(kw):
            diff = [i for i in range(len(kw)) if low[i] != kw[i]]
            if len(diff) == 2 and diff[1] == diff[0] + 1:
                return kw
    return word


def strip_symbols(text: str) -> str:
    """Drop emoji and other symbols (they carry no command), keeping letters, digits and marks."""
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
    for pattern, repl in _SHORTHAND_RE:
        text = pattern.sub(repl, text)
    text = _KEYWORD_TYPO.sub(_keyword_typo, text)
    text = _SPOKEN_MERIDIEM.sub(lambda m: f"{m.group(1)} {m.group(2).lower()}m", text)
    text = _HESITATION.sub(" ", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    lines = [_POLITE.sub("", _LEAD_IN.sub("", _drop_courtesy(line))) for line in lines]
    return "\n".join(line for line in lines if line)


def safe_lower(text: str) -> str:
    """Lowercase without changing length, so offsets stay valid ('İ'.lower() has 2 chars)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def fold(text: str) -> str:
    """Lowercase, accents off: for comparing words, never for offsets."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
