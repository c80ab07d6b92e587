"""Cut a message into clauses: the units that may each carry one command.

The spec's separators are commas, "and", "then", ";", sentence ends and new lines. Speech-to-text
has none of the punctuation, so a clause also starts before a command word ("... went well update
his status ..."). Cutting too much is safe: the parser glues a clause without a command of its
own back onto the one before it, by offsets, so the original wording of a note survives intact.
Cutting too little is not, so the rules err on the side of cutting, except inside a list of lead
names ("Dana and Sarah Smith") and inside abbreviations ("p.m.", "9 Birch Ln. today").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SEPARATOR = re.compile(
    r"\s*(?:[,;\n]|\s-+\s|[.!?]+(?=\s|$)|:\s*(?=\n|$))\s*"
    r"|\s+(?:and then|and also|and|then|also|plus|but|&)\s+"
)
_ABBREVIATIONS = frozenset(
    "mon tue tues wed thu thur thurs fri sat sun jan feb mar apr jun jul aug sep sept oct nov "
    "dec ln st dr ave rd blvd ct pl hwy apt mr mrs ms jr sr approx vs etc no inc co dept est "
    "min mins hr hrs sq ft".split()
)
_WORD_BEFORE = re.compile(r"([A-Za-z]+)$")
# Where speech-to-text runs two commands together, the second one starts with one of these.
_COMMAND_START = re.compile(
    r"\b(?:update|change|mark|move|set|remind me|schedule|book|log|add a note|note that|"
    r"new lead|create|put)\b"
    # a new sentence about the lead: "Tom is dead he went with another agent"
    r"|\b(?:he|she|they)(?:'s|'re|'ll|'d)?\s+(?=[a-z])"
)
_NO_CUT_AFTER = frozenset(
    "to me i you we please will should can could would and then the a an his her their my your "
    "also just going want wants need needs lets let's must gotta may might not don't dont "
    "i'll we'll ll".split()
)
_LEAD_JOINER = re.compile(r"^\s*(?:,|and|&|or|,\s*and)\s*$")


def _is_abbreviation(text: str, dot: int) -> bool:
    m = _WORD_BEFORE.search(text, 0, dot)
    if m is None:
        return False
    word = m.group(1).lower()
    return len(word) == 1 or word in _ABBREVIATIONS


def split_clauses(low: str, mentions: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of the lowercased message, in order, that may each be one command (never empty)."""
    cuts: list[tuple[int, int]] = []  # (start, end) of separator text
    for m in _SEPARATOR.finditer(low):
        sep = m.group().strip()
        if sep and sep[0] in ".!?" and _is_abbreviation(low, m.start() + m.group().index(sep[0])):
            continue
        if _between_leads(m.start(), m.end(), low, mentions):
            continue
        clause_start = cuts[-1][1] if cuts else 0
        if sep.startswith("-") and _only_a_lead(low, clause_start, m.start(), mentions):
            continue  # "Sarah Smith - negotiating": the dash says what the lead is
        cuts.append((m.start(), m.end()))
    spans: list[tuple[int, int]] = []
    pos = 0
    for start, end in cuts:
        if start > pos:
            spans.append((pos, start))
        pos = max(pos, end)
    if pos < len(low):
        spans.append((pos, len(low)))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        out.extend(_cut_before_commands(low, s, e, mentions))
    return [(s, e) for s, e in out if low[s:e].strip()]


def _only_a_lead(low: str, start: int, end: int, mentions: Sequence[tuple[int, int]]) -> bool:
    """Is low[start:end] nothing but one lead's name (possessive allowed)?"""
    return any(low[start:ms].strip() == "" and low[me:end].strip(" '") in ("", "s")
               for ms, me in mentions if start <= ms and me <= end)


def _between_leads(start: int, end: int, low: str, mentions: Sequence[tuple[int, int]]) -> bool:
    before = any(me <= start and low[me:start].strip() == "" for _, me in mentions)
    after = any(ms >= end and low[end:ms].strip() == "" for ms, _ in mentions)
    return before and after and bool(_LEAD_JOINER.match(low[start:end]))


def _cut_before_commands(
    low: str, s: int, e: int, mentions: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Speech-to-text: split an unpunctuated run before each later command word."""
    points = []
    for m in _COMMAND_START.finditer(low, s, e):
        if m.start() == s or any(ms <= m.start() < me for ms, me in mentions):
            continue
        words = low[s : m.start()].split()
        if not words or words[-1] in _NO_CUT_AFTER:
            continue
        if len(words) < 2:
            continue
        points.append(m.start())
    if not points:
        return [(s, e)]
    bounds = [s, *points, e]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
