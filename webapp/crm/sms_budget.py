"""Fitting an answer into the SMS segments it may cost, cutting at word boundaries.

An answer is read on a phone and paid per segment (see `replies.sms_segments`: 153 GSM-7 or 67
UCS-2 characters each once a text is split). A list keeps whole items and says how many more
there are; prose is cut where a word ends and marked with "…", never split mid-word.
"""

from __future__ import annotations

from collections.abc import Sequence

from webapp.understanding.replies import sms_segments

CUT = "…"


def fits(text: str, segments: int) -> bool:
    return sms_segments(text) <= segments


def cut(text: str, segments: int) -> str:
    """`text` if it fits, else its longest word-boundary prefix that fits, followed by "…"."""
    if fits(text, segments):
        return text
    words = text.split(" ")
    low, high = 0, len(words)  # the longest prefix of `low` words fits; `high` does not
    while high - low > 1:
        middle = (low + high) // 2
        if fits(_cut_after(words, middle), segments):
            low = middle
        else:
            high = middle
    return _cut_after(words, low)


def cut_words(text: str, words: int) -> str:
    """The first `words` words of `text`, followed by "…" when something was left out."""
    parts = text.split()
    if len(parts) <= words:
        return text
    return _cut_after(parts, words)


def _cut_after(words: Sequence[str], count: int) -> str:
    kept = " ".join(words[:count]).rstrip(" ,;:-")
    return f"{kept} {CUT}" if kept else CUT


def listed(prefix: str, items: Sequence[str], segments: int, *, total: int | None = None,
           separator: str = "\n", end: str = "", tail: str = "") -> str:
    """`prefix` (with its own trailing space or newline), then as many of `items` as fit, in
    order, then "+N more" for the rest, then `tail` (kept whole: it must fit on its own).

    `total` is how many items there are in all when `items` holds only the first ones; `end`
    closes a list from which nothing was left out (e.g. ".").
    """
    total = len(items) if total is None else total
    # No text of `segments` segments holds more than 160 characters a segment: items beyond
    # that are never tried, so a list of thousands costs as little as a list of ten.
    budget, length, most = 160 * segments, len(prefix) + len(tail), 0
    for item in items:
        length += len(item) + len(separator)
        if length > budget:
            break
        most += 1
    for count in range(most, -1, -1):
        left = total - count
        shown = list(items[:count])
        if left:
            shown.append(f"+{left} more")
        text = prefix + separator.join(shown) + ("" if left else end) + tail
        if fits(text, segments):
            return text
    return cut(prefix.rstrip() + tail, segments)
