"""What the parser may look up in the agent's book beyond the names: open follow-ups, who had
which interaction when, who has not been contacted, a lead's contact details.

The parser stays pure (no database, Flask or Redis): the conversation and `assistant parse` hand
it a `Book`, a read-only lookup, inside `AgentContext`. The SQL one is `webapp.crm.book_lookup`
(indexed queries, run only when a message needs them: naming a follow-up, picking leads "I
called this week", changing an email); `MemoryBook` here is the same contract over lists, for
unit tests and the parse benchmark. Every instant is timezone-aware; follow-ups come back
earliest first (due time, then id), and only open ones (not done, not cancelled) ever.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["EMPTY_BOOK", "Book", "FollowUpRef", "InteractionRef", "LeadContact", "MemoryBook",
           "title_has_words"]

MAX_FOLLOW_UPS = 50  # more candidates than any reply could list: the caller asks to narrow down
_KEY = 3  # MemoryBook indexes title words by their first letters


@dataclass(frozen=True)
class FollowUpRef:
    """An open follow-up as the parser sees it: enough to pick it and to say which it is."""

    id: int
    lead_id: int
    title: str
    due_at: datetime  # timezone-aware
    touched_at: datetime | None = None  # last reminded, created or changed (for "it")


@dataclass(frozen=True)
class InteractionRef:
    lead_id: int
    type: str
    at: datetime


@dataclass(frozen=True)
class LeadContact:
    phone: str | None
    email: str | None


class Book(Protocol):
    """The read-only lookups the parser may make (see the module doc)."""

    def open_follow_ups(self, *, lead_ids: Collection[int] | None = None,
                        ids: Collection[int] | None = None,
                        due_at: Collection[datetime] | None = None,
                        due_from: datetime | None = None, due_before: datetime | None = None,
                        title_words: Sequence[str] = (),
                        limit: int = MAX_FOLLOW_UPS) -> list[FollowUpRef]:
        """Open follow-ups meeting every filter given, earliest first. `due_at`: due exactly
        at one of these instants; `title_words`: each is the start of a word of the title (any
        case: "contra" finds "send the contract")."""
        ...

    def recent_follow_up(self, since: datetime, until: datetime) -> FollowUpRef | None:
        """The open follow-up reminded, made or changed by the agent most recently, if that
        was in [since, until] (an import is not the agent talking about it)."""
        ...

    def leads_with_interactions(self, types: Collection[str], start: datetime,
                                end: datetime) -> set[int]:
        """Leads with an interaction of one of `types` at or after `start`, before `end`."""
        ...

    def leads_not_contacted_since(self, cutoff: datetime) -> set[int]:
        """Leads whose last contact is before `cutoff`, or who were never contacted."""
        ...

    def lead_contact(self, lead_id: int) -> LeadContact | None:
        """The lead's phone and email as stored (None: no such lead of this agent)."""
        ...


def title_words_of(title: str) -> list[str]:
    return title.casefold().split()


def title_has_words(title: str, words: Sequence[str]) -> bool:
    """Every one of `words` starts a word of `title`, ignoring case (the SQL book's
    `ILIKE 'w%' OR ILIKE '% w%'`, in Python)."""
    said = title_words_of(title)
    return all(any(t.startswith(w.casefold()) for t in said) for w in words)


class MemoryBook:
    """A `Book` over in-memory rows, indexed so that a 20,000-follow-up, 50,000-interaction
    book answers as fast as the parser needs (the parse benchmark uses it)."""

    def __init__(self, follow_ups: Iterable[FollowUpRef] = (),
                 interactions: Iterable[InteractionRef] = (),
                 last_contacted: dict[int, datetime | None] | None = None,
                 contacts: dict[int, LeadContact] | None = None) -> None:
        self._follow_ups = sorted(follow_ups, key=lambda f: (f.due_at, f.id))
        self._due_keys = [f.due_at for f in self._follow_ups]
        self._by_lead: dict[int, list[FollowUpRef]] = defaultdict(list)
        self._by_id: dict[int, FollowUpRef] = {}
        self._by_word: dict[str, list[FollowUpRef]] = defaultdict(list)  # first 3 letters
        for f in self._follow_ups:
            self._by_lead[f.lead_id].append(f)
            self._by_id[f.id] = f
            for key in {w[:_KEY] for w in title_words_of(f.title)}:
                self._by_word[key].append(f)
        self._interactions = sorted(interactions, key=lambda i: i.at)
        self._interaction_keys = [i.at for i in self._interactions]
        self._last_contacted = dict(last_contacted or {})
        self._contacts = dict(contacts or {})

    def open_follow_ups(self, *, lead_ids: Collection[int] | None = None,
                        ids: Collection[int] | None = None,
                        due_at: Collection[datetime] | None = None,
                        due_from: datetime | None = None, due_before: datetime | None = None,
                        title_words: Sequence[str] = (),
                        limit: int = MAX_FOLLOW_UPS) -> list[FollowUpRef]:
        if ids is not None:
            pool: Iterable[FollowUpRef] = sorted(
                (f for i in ids if (f := self._by_id.get(i)) is not None),
                key=lambda f: (f.due_at, f.id))
        elif lead_ids is not None:
            pool = sorted((f for lead in lead_ids for f in self._by_lead.get(lead, ())),
                          key=lambda f: (f.due_at, f.id))
        elif due_at is not None:
            pool = sorted((f for moment in set(due_at) for f in self._at(moment)),
                          key=lambda f: (f.due_at, f.id))
        elif title_words and len(title_words[0]) >= _KEY:
            pool = self._by_word.get(title_words[0].casefold()[:_KEY], [])
        else:
            lo = bisect.bisect_left(self._due_keys, due_from) if due_from else 0
            hi = bisect.bisect_left(self._due_keys, due_before) if due_before else len(
                self._due_keys)
            pool = self._follow_ups[lo:hi]
        out: list[FollowUpRef] = []
        instants = set(due_at) if due_at is not None else None
        for f in pool:
            if lead_ids is not None and f.lead_id not in lead_ids:
                continue
            if instants is not None and f.due_at not in instants:
                continue
            if (due_from and f.due_at < due_from) or (due_before and f.due_at >= due_before):
                continue
            if title_words and not title_has_words(f.title, title_words):
                continue
            out.append(f)
            if len(out) >= limit:
                break
        return out

    def _at(self, moment: datetime) -> list[FollowUpRef]:
        lo = bisect.bisect_left(self._due_keys, moment)
        hi = bisect.bisect_right(self._due_keys, moment)
        return self._follow_ups[lo:hi]

    def recent_follow_up(self, since: datetime, until: datetime) -> FollowUpRef | None:
        touched = [f for f in self._follow_ups if f.touched_at is not None
                   and since <= f.touched_at <= until]
        return max(touched, key=lambda f: (f.touched_at, f.id), default=None)

    def leads_with_interactions(self, types: Collection[str], start: datetime,
                                end: datetime) -> set[int]:
        lo = bisect.bisect_left(self._interaction_keys, start)
        hi = bisect.bisect_left(self._interaction_keys, end)
        return {i.lead_id for i in self._interactions[lo:hi] if i.type in types}

    def leads_not_contacted_since(self, cutoff: datetime) -> set[int]:
        return {lead for lead, at in self._last_contacted.items() if at is None or at < cutoff}

    def lead_contact(self, lead_id: int) -> LeadContact | None:
        return self._contacts.get(lead_id)


EMPTY_BOOK = MemoryBook()
