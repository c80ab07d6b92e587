"""Phone numbers and email addresses as an agent writes or says them ("(312) 555-0188",
"three one two five five five ...", "ana at ruizhomes dot com"), found in a message and checked.

For `update_lead`: the value is validated as for `create_lead` (a phone in E.164 with the agent's
country as the default region; an email that looks like one), and one that fails is reported as
said, so the parser can ask for it again instead of storing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webapp.phones import InvalidPhone, normalize_phone

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL_LIKE = re.compile(r"[\w.+-]+@[\w.-]*")
_SPOKEN_EMAIL = re.compile(r"\b([\w.+-]+)\s+at\s+([\w-]+(?:\s+dot\s+[\w-]+)+)\b")
_PHONE = re.compile(r"(?<![\w@])\+?\(?\d[\d\s().-]*\d(?![\w@])")
_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3",
                "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_SPOKEN_DIGITS = re.compile(
    r"\b(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)[\s-]+){6,}"
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    """One value in the message: where it was said, as said, and as stored (None: invalid)."""

    start: int
    end: int
    said: str
    value: str | None


def find_email(text: str) -> Found | None:
    """The email address in `text` (written, or spoken with "at" and "dot")."""
    m = EMAIL.search(text)
    if m:
        said = m.group().rstrip(".")
        return Found(m.start(), m.start() + len(said), said, said.lower())
    m = _SPOKEN_EMAIL.search(text)
    if m:
        value = (m.group(1) + "@" + re.sub(r"\s+dot\s+", ".", m.group(2))).lower()
        return Found(m.start(), m.end(), m.group(), value if EMAIL.fullmatch(value) else None)
    m = _EMAIL_LIKE.search(text)  # "lisa@wong": meant as an email, but not one
    if m:
        return Found(m.start(), m.end(), m.group(), None)
    return None


def find_phone(text: str, country: str) -> Found | None:
    """The phone number in `text` (digits, or spoken digit by digit), checked for `country`."""
    spoken = _SPOKEN_DIGITS.search(text)
    if spoken:
        digits = "".join(_DIGIT_WORDS.get(w.lower(), w)
                         for w in re.split(r"[\s-]+", spoken.group()))
        return Found(spoken.start(), spoken.end(), spoken.group(), _e164(digits, country))
    for m in _PHONE.finditer(text):
        said = m.group().strip()
        digits = re.sub(r"\D", "", said)
        if len(digits) < 4 and not said.startswith("+"):
            continue  # "2", "30": a count or a time, not a phone number
        return Found(m.start(), m.end(), said, _e164(said, country))
    return None


def _e164(said: str, country: str) -> str | None:
    try:
        return normalize_phone(said, country)
    except InvalidPhone:
        return None
