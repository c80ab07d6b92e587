"""What a read-only question gets back: the text to send, and its parts for the ear."""

from __future__ import annotations

from dataclasses import dataclass

# Segments an answer may cost: two for most, three for a briefing (see `crm.sms_budget`).
SEGMENTS = 2
BRIEF_SEGMENTS = 3


@dataclass(frozen=True)
class Answer:
    """`text` is the whole reply as texted (already within its segment budget). Voice reads
    `head` and the first few of `items` and texts the rest (`channels.voice.speech`), so items
    come in the order they are worth hearing; an empty `head` means "say `text` as it is"."""

    text: str
    head: str = ""
    items: tuple[str, ...] = ()
    more: int = 0  # items that exist beyond `items` (not read from the database)

    @property
    def total(self) -> int:
        """How many items there are after the head, in all."""
        return len(self.items) + self.more
