"""Skipping a regex that cannot match: the literal pieces every match of a pattern spells.

Most of the parser's patterns match no given message, and each costs microseconds to run. So
each pattern carries its *needs*, read off the pattern by hand (tests pin each one on texts that
match): groups of lowercase literal pieces, every match holding at least one piece of every
group ("\\d" in a group meaning that any digit will do). A text lacking every piece of some
group cannot match, and the regex need not run. `normalize.py` (shorthand rules, one group
each) and `when.py` (time phrases, several groups) screen their patterns with this.
"""

from __future__ import annotations

# Per group: whether any digit will do, and the literal pieces of which one will.
Needs = tuple[tuple[bool, tuple[str, ...]], ...]


def needs_of(groups: tuple[str, ...] | list[str]) -> Needs:
    """Needs from "|"-separated groups ("tm|tomor|2mo", "\\d|noon")."""
    out = []
    for group in groups:
        pieces = group.split("|")
        out.append((r"\d" in pieces, fewest_pieces(p for p in pieces if p != r"\d")))
    return tuple(out)


def any_of(*pieces: str) -> Needs:
    """Needs of one group: a match holds at least one of `pieces`."""
    return ((False, tuple(pieces)),)


def fewest_pieces(pieces) -> tuple[str, ...]:
    """The pieces, less those that contain another one: a text holding "today" holds "day"."""
    pieces = list(dict.fromkeys(pieces))
    return tuple(p for p in pieces if not any(o != p and o in p for o in pieces))


def may_match(needs: Needs, low: str, has_digit: bool = False) -> bool:
    """False when the lowercased text `low` lacks every piece of some group of `needs`.

    `low` must be the text as the pattern sees it: for a pattern run with IGNORECASE on
    non-ASCII text, do not screen at all (IGNORECASE matches "ſ" to "s", the Kelvin sign to
    "k", in ways str.lower() does not mirror); for ASCII text it is exact.
    """
    for any_digit, pieces in needs:
        if any_digit and has_digit:
            continue
        for piece in pieces:
            if piece in low:
                break
        else:
            return False
    return True
